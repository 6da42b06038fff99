//! Small helpers shared by every module: atomic file writes, text folding,
//! progress bars, a reproducible random number generator, RFC 3339 timestamps.

pub mod atomic;
pub mod fold;
pub mod progress;
pub mod rng;
pub mod time;

pub use atomic::{write_atomic, write_json_atomic};
