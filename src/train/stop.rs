//! A request to stop training at the end of the current iteration (SIGINT, SIGTERM): the
//! trainer finishes the iteration, writes `last.safetensors` and its metrics line, and
//! returns [`Ending::Stopped`](super::session::Ending), from which `resume` continues
//! exactly. The library only reads the flag; the command line decides which signals set it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Shared flag: set by a signal handler (or a test), read once per iteration.
#[derive(Clone, Debug, Default)]
pub struct StopRequest(Arc<AtomicBool>);

impl StopRequest {
    /// A flag nobody sets (library users, tests).
    pub fn never() -> StopRequest {
        StopRequest::default()
    }

    /// The atomic a signal handler sets (e.g. `signal_hook::flag::register`).
    pub fn flag(&self) -> Arc<AtomicBool> {
        self.0.clone()
    }

    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
