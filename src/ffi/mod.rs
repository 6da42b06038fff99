//! The C ABI (`include/dyag.h`, generated from these files by cbindgen).
//! It has no logic of its own: it checks arguments, calls the library and
//! maps results to C.
//!
//! Conventions, the same for every function:
//! - Every call returns a `DyagStatus` (0 is success), except
//!   `dyag_version`, `dyag_last_error` and `dyag_status_name`, which
//!   cannot fail. After a failure `dyag_last_error()` gives the message on
//!   the calling thread. No panic crosses the boundary: a bug inside dyag
//!   becomes `DYAG_STATUS_INTERNAL`.
//! - Models and adapters are opaque handles (a struct holding a 64-bit id):
//!   the zero handle, a freed handle or a forged one give
//!   `DYAG_STATUS_INVALID_HANDLE`, never a crash.
//! - Strings in are NUL-terminated UTF-8 (checked: `DYAG_STATUS_INVALID_UTF8`);
//!   arrays come with their length; text out goes to caller buffers with
//!   their length, or to dyag-owned results freed by a `*_free` function.
//!   `*_free` functions accept the null handle / NULL (nothing to do).
//! - Thread safety is stated for each function. Callbacks run on the thread
//!   doing the model's work, which is a dyag worker thread when the model
//!   was opened with `threads > 0`.

mod handles;
mod strings;

// In the order the header presents them (cbindgen follows these lines).
pub mod error;

pub mod model;

pub mod generate;

pub mod train;

pub mod adapter;

pub mod eval;

use std::ffi::c_char;

/// dyag's version ("0.1.0"), a static NUL-terminated string.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn dyag_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
