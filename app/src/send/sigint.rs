//! Ctrl-C: the first one ends the sending phase (the run still closes its connections and
//! prints the report); another one during the close gives up on the graceful close.
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

static INTERRUPTS: AtomicU32 = AtomicU32::new(0);
static HANDLER_SET: AtomicBool = AtomicBool::new(false);

/// Ctrl-Cs so far.
pub fn interrupts() -> u32 {
    INTERRUPTS.load(Ordering::Relaxed)
}

pub fn interrupted() -> bool {
    interrupts() > 0
}

pub fn install() {
    if HANDLER_SET.swap(true, Ordering::SeqCst) {
        return;
    }
    let _ = ctrlc::set_handler(|| {
        INTERRUPTS.fetch_add(1, Ordering::SeqCst);
    });
}
