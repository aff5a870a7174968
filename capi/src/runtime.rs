//! The engine's thread: `stack_start` brings up DPDK and the port from a
//! runtime configuration and runs the engine with a sockets host as its
//! application until `stack_stop`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use dpdk_io::{App, Eal, MbufPool, RuntimeConfig, Worker};
use stack::{Engine, Instant};
use stack_sockets::{Host, Sockets};

struct Running {
    sockets: Sockets,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

static RUNNING: Mutex<Option<Running>> = Mutex::new(None);

/// The sockets of the running stack.
pub(crate) fn sockets() -> Option<Sockets> {
    RUNNING
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .map(|r| r.sockets.clone())
}

/// Serves the C ABI with sockets whose engine the caller drives (a
/// simulator, a test, or an engine loop of its own): the socket functions
/// use `sockets` from now on. Fails if a stack is running already.
pub fn install(sockets: Sockets) -> Result<(), Sockets> {
    let mut running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
    if running.is_some() {
        return Err(sockets);
    }
    *running = Some(Running {
        sockets,
        stop: Arc::new(AtomicBool::new(false)),
        thread: None,
    });
    Ok(())
}

/// The host as the DPDK loop's application.
struct HostApp(Host);

impl App for HostApp {
    fn poll(&mut self, engine: &mut Engine<MbufPool>, _now: Instant) {
        self.0.poll(engine);
    }
}

/// Starts DPDK, the port and the engine on a new thread.
pub(crate) fn start(path: &Path) -> Result<(), (i32, String)> {
    let mut running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
    if running.is_some() {
        return Err((libc::EALREADY, "the stack runs already".into()));
    }
    let cfg = RuntimeConfig::from_file(path).map_err(|e| (libc::EINVAL, e.to_string()))?;
    if std::env::var_os("RUST_LOG").is_some() {
        dpdk_io::init_logging();
    }
    let (sockets, host) = Sockets::new();
    let stop = Arc::new(AtomicBool::new(false));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
    let quit = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("stack-engine".into())
        .spawn(move || {
            // The EAL pins the thread that initialises it: this one.
            let eal = match Eal::init(&cfg.eal_args()) {
                Ok(e) => e,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("EAL: {e}")));
                    return;
                }
            };
            let mut worker = match Worker::from_config(&cfg) {
                Ok(w) => w,
                Err(e) => {
                    let _ = ready_tx.send(Err(format!("port {}: {e}", cfg.port.device)));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            let mut app = HostApp(host);
            if let Err(e) = worker.run(&mut app, &quit) {
                eprintln!("stack: the engine's loop stopped: {e}");
            }
            drop(worker);
            drop(eal);
        })
        .map_err(|e| (libc::EAGAIN, format!("thread: {e}")))?;
    match ready_rx.recv() {
        Ok(Ok(())) => {
            *running = Some(Running {
                sockets,
                stop,
                thread: Some(thread),
            });
            Ok(())
        }
        Ok(Err(why)) => {
            let _ = thread.join();
            Err((libc::EIO, why))
        }
        Err(_) => {
            let _ = thread.join();
            Err((libc::EIO, "the engine's thread ended during start".into()))
        }
    }
}

/// The host and a C callback as the loop's application, on the calling
/// thread (run-to-completion).
struct InlineApp {
    host: Host,
    callback: extern "C" fn(*mut std::ffi::c_void) -> i32,
    user: *mut std::ffi::c_void,
    done: bool,
}

impl App for InlineApp {
    fn poll(&mut self, engine: &mut Engine<MbufPool>, _now: Instant) {
        self.host.poll(engine);
        let (callback, user) = (self.callback, self.user);
        if self.host.run_inline(engine, || callback(user)) != 0 {
            self.done = true;
        }
        // What the callback queued goes to the engine in this iteration.
        self.host.poll(engine);
    }

    fn finished(&self) -> bool {
        self.done
    }
}

/// Runs the stack's loop on the calling thread, calling `callback(user)`
/// once per iteration, until it returns non-zero.
pub(crate) fn run_inline(
    path: &Path,
    callback: extern "C" fn(*mut std::ffi::c_void) -> i32,
    user: *mut std::ffi::c_void,
) -> Result<(), (i32, String)> {
    let cfg = RuntimeConfig::from_file(path).map_err(|e| (libc::EINVAL, e.to_string()))?;
    if std::env::var_os("RUST_LOG").is_some() {
        dpdk_io::init_logging();
    }
    let (sockets, host) = Sockets::new();
    install(sockets).map_err(|_| (libc::EALREADY, "the stack runs already".to_string()))?;
    let result = (|| {
        let eal = Eal::init(&cfg.eal_args()).map_err(|e| (libc::EIO, format!("EAL: {e}")))?;
        let mut worker = Worker::from_config(&cfg)
            .map_err(|e| (libc::EIO, format!("port {}: {e}", cfg.port.device)))?;
        let mut app = InlineApp {
            host,
            callback,
            user,
            done: false,
        };
        let never = AtomicBool::new(false);
        worker
            .run(&mut app, &never)
            .map_err(|e| (libc::EIO, e.to_string()))?;
        drop(worker);
        drop(eal);
        Ok(())
    })();
    crate::fds::clear();
    RUNNING
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    result
}

/// Stops the engine's thread; false if none ran.
pub(crate) fn stop() -> bool {
    let taken = RUNNING
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let Some(mut r) = taken else {
        return false;
    };
    crate::fds::clear();
    r.stop.store(true, Ordering::Relaxed);
    if let Some(t) = r.thread.take() {
        let _ = t.join();
    }
    true
}
