//! Opening the CUDA libraries at run time. cudarc loads libcuda and libnvrtc
//! lazily by their usual names (libcuda.so.1, libnvrtc.so.12...) and panics
//! when they are missing, so dyag checks first and explains instead.
//!
//! libnvrtc is looked for, in order, at `$DYAG_NVRTC_LIB` (the library file),
//! in `.cuda-nvrtc/lib/` beside the executable's repository or the current
//! folder (where scripts/setup-nvrtc.sh puts the PyPI wheel's copy), in this
//! source tree's `.cuda-nvrtc/lib/` (development builds and tests), then on
//! the system search path (LD_LIBRARY_PATH, ldconfig). A copy found by path is
//! opened first; the loader then resolves cudarc's `libnvrtc.so.12` to it by
//! its soname, so cudarc uses that very copy.

use crate::{Error, Result};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const NVRTC_FILE: &str = "libnvrtc.so.12";

/// Candidate files for libnvrtc, most specific first.
fn nvrtc_candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(p) = std::env::var_os("DYAG_NVRTC_LIB") {
        out.push(PathBuf::from(p));
    }
    let rel = Path::new(".cuda-nvrtc").join("lib").join(NVRTC_FILE);
    if let Ok(exe) = std::env::current_exe() {
        // target/{debug,release}/dyag → the repository root is two or three levels up.
        for up in exe.ancestors().skip(1).take(4) {
            out.push(up.join(&rel));
        }
    }
    if let Ok(cwd) = std::env::current_dir() {
        out.push(cwd.join(&rel));
    }
    out.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(&rel));
    out
}

/// The outcome of a one-time lookup, kept for the life of the process: the
/// value found, or why it is unavailable (asked again, the same answer).
pub enum Once<T> {
    Found(T),
    Unavailable(String),
}

impl<T: Clone> Once<T> {
    pub fn from_result(r: Result<T>) -> Self {
        r.map_or_else(|e| Once::Unavailable(e.reason()), Once::Found)
    }
    pub fn get(&self) -> Result<T> {
        match self {
            Once::Found(v) => Ok(v.clone()),
            Once::Unavailable(why) => Err(Error::Device(why.clone())),
        }
    }
}

/// Opens libnvrtc once; Ok with the file or name used, Err with the places tried.
pub fn ensure_nvrtc() -> Result<String> {
    static DONE: OnceLock<Once<String>> = OnceLock::new();
    DONE.get_or_init(|| Once::from_result(find_nvrtc())).get()
}

fn find_nvrtc() -> Result<String> {
    let explicit = std::env::var_os("DYAG_NVRTC_LIB").map(PathBuf::from);
    let mut tried = Vec::new();
    for path in nvrtc_candidates() {
        if !path.is_file() {
            if explicit.as_ref() == Some(&path) {
                return Err(Error::Device(format!("DYAG_NVRTC_LIB={} is not a file", path.display())));
            }
            continue;
        }
        // SAFETY: loading NVIDIA's NVRTC runs its initialisers, which have no preconditions.
        match unsafe { libloading::Library::new(&path) } {
            Ok(lib) => {
                // Kept open for the life of the process; cudarc's own dlopen by soname now finds it.
                std::mem::forget(lib);
                // SAFETY: only dlopen()s candidate names.
                return if unsafe { cudarc::nvrtc::sys::is_culib_present() } {
                    Ok(path.display().to_string())
                } else {
                    Err(Error::Device(format!(
                        "{} was opened but does not provide {NVRTC_FILE} (wrong CUDA major version?)",
                        path.display()
                    )))
                };
            }
            Err(e) => tried.push(format!("{}: {e}", path.display())),
        }
    }
    // SAFETY: only dlopen()s candidate names.
    if unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        return Ok(format!("{NVRTC_FILE} (system search path)"));
    }
    let mut why = String::from("the CUDA run-time compiler (libnvrtc.so.12) was not found; run scripts/setup-nvrtc.sh, or set DYAG_NVRTC_LIB to libnvrtc.so.12, or add its folder to LD_LIBRARY_PATH");
    if !tried.is_empty() {
        why.push_str(&format!(" (could not open: {})", tried.join("; ")));
    }
    Err(Error::Device(why))
}

/// Ok if the CUDA driver library (libcuda) can be opened.
pub fn ensure_driver() -> Result<()> {
    static DONE: OnceLock<Once<()>> = OnceLock::new();
    DONE.get_or_init(|| {
        // SAFETY: only dlopen()s candidate names.
        match unsafe { cudarc::driver::sys::is_culib_present() } {
            true => Once::Found(()),
            false => Once::Unavailable("no NVIDIA driver found (libcuda.so.1 cannot be opened)".into()),
        }
    })
    .get()
}
