//! A bounded run of every fuzz target in the test suite (`FUZZ_EXECS`
//! inputs each, default below; `FUZZ_SEED` picks the mutations, printed
//! with the input on failure). Longer runs: `fuzz-run`.

fn execs(default: u64) -> u64 {
    std::env::var("FUZZ_EXECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn seed() -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20261202)
}

#[test]
fn wire_parsers_round_trip_what_they_parse() {
    let done = stack_fuzz::run("wire", seed(), execs(200_000), None);
    println!("wire: {done} executions, seed {}", seed());
}

#[test]
fn engine_survives_mutated_frames_and_leaves_nothing_behind() {
    let done = stack_fuzz::run("engine_frame", seed(), execs(3_000), None);
    println!("engine_frame: {done} executions, seed {}", seed());
}

#[test]
fn scripted_connections_read_prefixes_of_what_was_written() {
    let done = stack_fuzz::run("engine_ops", seed(), execs(3_000), None);
    println!("engine_ops: {done} executions, seed {}", seed());
}

#[test]
fn the_corpus_holds_real_frames() {
    let corpus = stack_fuzz::corpus("engine_frame");
    assert!(corpus.len() >= 10, "{} seeds", corpus.len());
    assert!(
        corpus.iter().any(|f| f.len() > 1000),
        "data segments among them"
    );
}

#[test]
fn the_client_sends_frames_of_several_segments_that_the_wire_cuts() {
    let pair = stack_fuzz::targets::Pair::new();
    let stats = pair.client_stats();
    assert!(stats.tx_multi_segment_frames > 0, "{stats:?}");
    // Every frame the server got from the client is one segment within
    // the MTU.
    assert!(pair.client_frames.iter().all(|f| f.len() <= 1514));
}
