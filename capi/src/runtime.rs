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
