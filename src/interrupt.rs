//! Ctrl-C (SIGINT) and SIGTERM handling for long-running writers: the first signal asks
//! the work loop to stop after the current batch; the loop polls `requested()`.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;

static STOP: AtomicBool = AtomicBool::new(false);
static INSTALL: Once = Once::new();

/// Installs the handler (idempotent). A second Ctrl-C while stopping exits at once with 130;
/// the open transaction is then rolled back by the server, so nothing is half-done.
pub fn install() {
    INSTALL.call_once(|| {
        let _ = ctrlc::set_handler(|| {
            if STOP.swap(true, Ordering::SeqCst) {
                eprintln!("seqfix: interrupted again; exiting now (the current batch is rolled back by the server)");
                std::process::exit(130);
            }
            eprintln!("seqfix: interrupt received; finishing the current batch, then stopping");
        });
    });
}

/// True once an interrupt has been received.
pub fn requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Sleeps for `pause` (`--sleep` between batches), returning early on an interrupt.
pub fn pause(pause: std::time::Duration) {
    let until = std::time::Instant::now() + pause;
    while !requested() {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(std::time::Duration::from_millis(50)));
    }
}
