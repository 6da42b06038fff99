//! Options shared by several commands: the thread count. (The device and the
//! GPU weight storage are the library's `device::DeviceChoice` and
//! `quant::Quantization`, parsed by clap directly.)

use crate::{Error, Result};

/// Sizes rayon's global pool (default: all cores).
pub fn apply_threads(threads: Option<usize>) -> Result<()> {
    if let Some(n) = threads {
        crate::util::check_threads(n).map_err(|e| Error::invalid(format!("--threads: {}", e.reason())))?;
        rayon::ThreadPoolBuilder::new().num_threads(n).build_global().map_err(|e| Error::msg(format!("cannot start {n} threads: {e}")))?;
    }
    Ok(())
}
