//! Small helpers shared by every module: atomic file writes, progress bars,
//! a reproducible random number generator.

pub mod atomic;
pub mod progress;
pub mod rng;

pub use atomic::{write_atomic, write_json_atomic};
