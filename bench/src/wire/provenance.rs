//! Where a run came from: its date (UTC) and the commit of the repository
//! it ran in, found without running other programs.

use std::fs;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// `t` in UTC as ISO 8601 to the second, e.g. `2026-12-02T03:38:21Z`.
/// Times before 1970 are written as the epoch.
pub fn utc_iso8601(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, in_day) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        in_day / 3600,
        in_day / 60 % 60,
        in_day % 60
    )
}

/// The current time, as [`utc_iso8601`] writes it.
pub fn now() -> String {
    utc_iso8601(SystemTime::now())
}

/// The Gregorian date (year, month 1-12, day 1-31) `days` days after
/// 1970-01-01. Years are counted from March, so that the leap day is the
/// last day of its year; eras of 400 years repeat exactly (146,097 days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Days since 0000-03-01.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    // Months from March (0) to February (11), 153 days per five months.
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

/// The commit checked out in the current directory's repository, as
/// [`commit_in`] finds it, or `"unknown"`.
pub fn commit() -> String {
    std::env::current_dir()
        .ok()
        .and_then(|dir| commit_in(&dir))
        .unwrap_or_else(|| "unknown".into())
}

/// The commit checked out in the git repository holding `dir` (its
/// `.git` is searched from `dir` upwards), abbreviated to 7 hex digits:
/// HEAD itself when detached, else the branch it names, from a loose
/// ref file or from `packed-refs`. A `.git` file (a linked worktree) is
/// followed to its git directory, whose branches live in the main
/// repository (`commondir`). `None` if there is no repository or HEAD
/// does not resolve to a commit.
pub fn commit_in(dir: &Path) -> Option<String> {
    let dot_git = dir
        .ancestors()
        .map(|d| d.join(".git"))
        .find(|g| g.exists())?;
    let git_dir = if dot_git.is_file() {
        let text = fs::read_to_string(&dot_git).ok()?;
        let target = text.trim().strip_prefix("gitdir:")?.trim();
        // A relative path is relative to the directory holding `.git`.
        dot_git.parent()?.join(target)
    } else {
        dot_git
    };
    let common_dir = match fs::read_to_string(git_dir.join("commondir")) {
        Ok(rel) => git_dir.join(rel.trim()),
        Err(_) => git_dir.clone(),
    };
    let head = fs::read_to_string(git_dir.join("HEAD")).ok()?;
    let hash = resolve(head.trim(), &git_dir, &common_dir, 0)?;
    let is_hash = hash.len() >= 40 && hash.bytes().all(|b| b.is_ascii_hexdigit());
    is_hash.then(|| hash[..7].to_ascii_lowercase())
}

/// What `content` (of HEAD or of a ref file) points at: a hash as it is,
/// or `ref: NAME` looked up (a few levels deep at most).
fn resolve(content: &str, git_dir: &Path, common_dir: &Path, depth: u32) -> Option<String> {
    let Some(name) = content.strip_prefix("ref:") else {
        return Some(content.to_string());
    };
    if depth > 4 {
        return None;
    }
    let name = name.trim();
    for dir in [git_dir, common_dir] {
        if let Ok(text) = fs::read_to_string(dir.join(name)) {
            return resolve(text.trim(), git_dir, common_dir, depth + 1);
        }
    }
    // Lines "HASH NAME"; comments start with '#', peeled tags with '^'.
    let packed = fs::read_to_string(common_dir.join("packed-refs")).ok()?;
    packed.lines().find_map(|line| {
        let (hash, ref_name) = line.split_once(' ')?;
        (ref_name.trim() == name).then(|| hash.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::time::Duration;

    fn at(secs: u64) -> String {
        utc_iso8601(UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn dates_of_known_epoch_seconds() {
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        assert_eq!(at(86_399), "1970-01-01T23:59:59Z");
        assert_eq!(at(68_169_600), "1972-02-29T00:00:00Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_234_567_890), "2009-02-13T23:31:30Z");
        assert_eq!(at(1_709_251_199), "2024-02-29T23:59:59Z");
        assert_eq!(at(1_709_251_200), "2024-03-01T00:00:00Z");
        assert_eq!(at(4_102_444_799), "2099-12-31T23:59:59Z");
        assert_eq!(at(4_107_542_400), "2100-03-01T00:00:00Z");
        assert_eq!(at(253_402_300_799), "9999-12-31T23:59:59Z");
        // Before the epoch: the epoch.
        assert_eq!(
            utc_iso8601(UNIX_EPOCH - Duration::from_secs(1)),
            "1970-01-01T00:00:00Z"
        );
    }

    #[test]
    fn every_day_follows_the_previous_one() {
        // 1970 to 2400: the day after each date is the next in the calendar.
        let leap = |y: u64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
        let mut prev = civil_from_days(0);
        assert_eq!(prev, (1970, 1, 1));
        for days in 1..(430 * 366) {
            let (y, m, d) = civil_from_days(days);
            let (py, pm, pd) = prev;
            let month_len = match pm {
                2 if leap(py) => 29,
                2 => 28,
                4 | 6 | 9 | 11 => 30,
                _ => 31,
            };
            let expected = if pd < month_len {
                (py, pm, pd + 1)
            } else if pm < 12 {
                (py, pm + 1, 1)
            } else {
                (py + 1, 1, 1)
            };
            assert_eq!((y, m, d), expected, "day {days}");
            prev = (y, m, d);
        }
    }

    /// A scratch directory, removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("wire-provenance-{name}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }

        fn write(&self, path: &str, text: &str) {
            let path = self.0.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    const MAIN: &str = "0123456789abcdef0123456789abcdef01234567";
    const FEATURE: &str = "fedcba9876543210fedcba9876543210fedcba98";

    #[test]
    fn commit_from_head_and_refs() {
        let s = Scratch::new("refs");
        s.write("repo/.git/HEAD", "ref: refs/heads/main\n");
        s.write("repo/.git/refs/heads/main", &format!("{MAIN}\n"));
        fs::create_dir_all(s.0.join("repo/src/deep")).unwrap();
        // From the top and from a subdirectory.
        assert_eq!(commit_in(&s.0.join("repo")).as_deref(), Some("0123456"));
        assert_eq!(
            commit_in(&s.0.join("repo/src/deep")).as_deref(),
            Some("0123456")
        );

        // The branch only in packed-refs.
        fs::remove_file(s.0.join("repo/.git/refs/heads/main")).unwrap();
        s.write(
            "repo/.git/packed-refs",
            &format!(
                "# pack-refs with: peeled fully-peeled sorted \n\
                 {FEATURE} refs/heads/feature\n\
                 {MAIN} refs/heads/main\n\
                 {FEATURE} refs/tags/v1\n\
                 ^{MAIN}\n"
            ),
        );
        assert_eq!(commit_in(&s.0.join("repo")).as_deref(), Some("0123456"));

        // Detached HEAD.
        s.write("repo/.git/HEAD", &format!("{FEATURE}\n"));
        assert_eq!(commit_in(&s.0.join("repo")).as_deref(), Some("fedcba9"));

        // A branch that does not exist, and a HEAD that is not a hash.
        s.write("repo/.git/HEAD", "ref: refs/heads/gone\n");
        assert_eq!(commit_in(&s.0.join("repo")), None);
        s.write("repo/.git/HEAD", "garbage\n");
        assert_eq!(commit_in(&s.0.join("repo")), None);
    }

    #[test]
    fn commit_in_a_linked_worktree() {
        let s = Scratch::new("worktree");
        s.write("repo/.git/HEAD", "ref: refs/heads/main\n");
        s.write("repo/.git/refs/heads/main", &format!("{MAIN}\n"));
        s.write("repo/.git/refs/heads/feature", &format!("{FEATURE}\n"));
        s.write("repo/.git/worktrees/wt/HEAD", "ref: refs/heads/feature\n");
        s.write("repo/.git/worktrees/wt/commondir", "../..\n");
        // Git writes an absolute path; a relative one works too.
        s.write("wt/.git", "gitdir: ../repo/.git/worktrees/wt\n");
        assert_eq!(commit_in(&s.0.join("wt")).as_deref(), Some("fedcba9"));
        let absolute = s.0.join("repo/.git/worktrees/wt");
        s.write("wt/.git", &format!("gitdir: {}\n", absolute.display()));
        fs::create_dir_all(s.0.join("wt/sub")).unwrap();
        assert_eq!(commit_in(&s.0.join("wt/sub")).as_deref(), Some("fedcba9"));
        // The main checkout is unaffected.
        assert_eq!(commit_in(&s.0.join("repo")).as_deref(), Some("0123456"));
    }
}
