//! A request to stop training at the next step boundary (Ctrl-C, SIGTERM). The binary installs the
//! signal handler and calls [`request`]; the loop ([`crate::train`]) checks [`requested`] after
//! every step, writes a checkpoint there and returns a summary marked `interrupted`, so the run
//! resumes exactly where it stopped. The flag is process-wide, as signals are.

use std::sync::atomic::{AtomicU32, Ordering};

static REQUESTS: AtomicU32 = AtomicU32::new(0);

/// Records a stop request; returns how many have been made (the binary aborts at once on the
/// second).
pub fn request() -> u32 {
    REQUESTS.fetch_add(1, Ordering::SeqCst) + 1
}

/// Whether a stop was requested.
pub fn requested() -> bool {
    REQUESTS.load(Ordering::SeqCst) > 0
}
