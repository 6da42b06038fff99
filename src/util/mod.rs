//! Small helpers shared by every module: atomic file writes, text folding,
//! progress bars, a reproducible random number generator, RFC 3339 timestamps.

pub mod atomic;
pub mod fold;
pub mod progress;
pub mod rng;
pub mod time;

pub use atomic::{write_atomic, write_json_atomic};

/// Checks a requested worker-thread count: at least 1, at most 4× the
/// machine's cores (more only adds contention and memory: each thread has
/// its own scratch buffers; a typo like 10000 would take seconds to start).
pub fn check_threads(n: usize) -> crate::Result<usize> {
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    let max = 4 * cores;
    if n == 0 || n > max {
        return Err(crate::Error::invalid(format!("{n} threads is out of range (1..={max}: 4 × the {cores} cores of this machine)")));
    }
    Ok(n)
}
