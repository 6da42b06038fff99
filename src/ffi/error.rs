//! Status codes, the per-thread last error message, and the guard every
//! entry point runs its body in, so that no panic crosses the boundary and
//! every failure leaves a message for `dyag_last_error()`.

use crate::Error;
use std::cell::RefCell;
use std::ffi::{c_char, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// What every dyag call returns. `DYAG_STATUS_OK` is 0; on any other value
/// `dyag_last_error()` holds a message for the calling thread.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DyagStatus {
    /// Success.
    Ok = 0,
    /// A required pointer argument is NULL.
    NullPointer = 1,
    /// A handle is null (zero), was already freed, or was never returned by dyag.
    InvalidHandle = 2,
    /// A string argument is not valid UTF-8.
    InvalidUtf8 = 3,
    /// An argument or parameter is out of range or inconsistent.
    InvalidArgument = 4,
    /// Reading or writing a file failed.
    Io = 5,
    /// A model, adapter or configuration file is malformed or unsupported.
    Format = 6,
    /// A line of a data file (dataset, questions) is invalid; the message names the file and line.
    Data = 7,
    /// A model name or path cannot be resolved to model files.
    ModelNotFound = 8,
    /// The requested device cannot be used.
    Device = 9,
    /// The caller's callback asked to stop (training, evaluation).
    Cancelled = 10,
    /// An output buffer is too small; the needed size was reported.
    BufferTooSmall = 11,
    /// A bug inside dyag (a caught panic); the message says where.
    Internal = 12,
    /// Any other failure; the message says what happened.
    Other = 13,
}

/// A failure on its way to the caller: a status and its message.
#[derive(Debug)]
pub(crate) struct FfiError {
    pub status: DyagStatus,
    pub message: String,
}

impl FfiError {
    pub fn new(status: DyagStatus, message: impl Into<String>) -> Self {
        FfiError { status, message: message.into() }
    }
    pub fn null(what: &str) -> Self {
        Self::new(DyagStatus::NullPointer, format!("{what} is NULL"))
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(DyagStatus::InvalidArgument, message)
    }
}

impl From<Error> for FfiError {
    fn from(e: Error) -> Self {
        let status = match &e {
            Error::Io { .. } => DyagStatus::Io,
            Error::Format { .. } | Error::Tensor { .. } | Error::Config { .. } => DyagStatus::Format,
            Error::Data { .. } => DyagStatus::Data,
            Error::ModelNotFound { .. } => DyagStatus::ModelNotFound,
            Error::InvalidArgument(_) => DyagStatus::InvalidArgument,
            Error::Device(_) => DyagStatus::Device,
            Error::Cancelled => DyagStatus::Cancelled,
            Error::Msg(_) => DyagStatus::Other,
        };
        FfiError { status, message: e.to_string() }
    }
}

pub(crate) type FfiResult<T = ()> = std::result::Result<T, FfiError>;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(message: &str) {
    // A message never contains NUL in practice; if it does, cut it there rather than lose it.
    let bytes: Vec<u8> = message.bytes().take_while(|&b| b != 0).collect();
    let c = CString::new(bytes).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

fn clear_last_error() {
    LAST_ERROR.with(|e| {
        let mut e = e.borrow_mut();
        if !e.as_bytes().is_empty() {
            *e = CString::default();
        }
    });
}

/// Runs an entry point's body: catches panics, records the message of a
/// failure for this thread (and clears it on success), returns the status.
/// The message is recorded here, on the caller's thread, even when the work
/// itself ran on a worker thread.
pub(crate) fn guard(body: impl FnOnce() -> FfiResult) -> DyagStatus {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            clear_last_error();
            DyagStatus::Ok
        }
        Ok(Err(e)) => {
            set_last_error(&e.message);
            e.status
        }
        Err(payload) => {
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(&format!("internal error (a bug in dyag, please report it): {what}"));
            DyagStatus::Internal
        }
    }
}

/// The message of the last failed dyag call on the calling thread, as a
/// NUL-terminated UTF-8 string; "" when the last call succeeded.
///
/// The pointer stays valid until the next dyag call on the same thread: copy
/// the text if you need it longer. Never NULL; do not free it.
///
/// Thread safety: safe from any thread; each thread sees its own message.
#[no_mangle]
pub extern "C" fn dyag_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

/// The name of a status code ("DYAG_STATUS_OK", "DYAG_STATUS_NULL_POINTER"...),
/// a static NUL-terminated string; "DYAG_STATUS_UNKNOWN" for a value that is
/// not a status.
///
/// Thread safety: safe from any thread.
#[no_mangle]
pub extern "C" fn dyag_status_name(status: i32) -> *const c_char {
    let name: &'static [u8] = match status {
        0 => b"DYAG_STATUS_OK\0",
        1 => b"DYAG_STATUS_NULL_POINTER\0",
        2 => b"DYAG_STATUS_INVALID_HANDLE\0",
        3 => b"DYAG_STATUS_INVALID_UTF8\0",
        4 => b"DYAG_STATUS_INVALID_ARGUMENT\0",
        5 => b"DYAG_STATUS_IO\0",
        6 => b"DYAG_STATUS_FORMAT\0",
        7 => b"DYAG_STATUS_DATA\0",
        8 => b"DYAG_STATUS_MODEL_NOT_FOUND\0",
        9 => b"DYAG_STATUS_DEVICE\0",
        10 => b"DYAG_STATUS_CANCELLED\0",
        11 => b"DYAG_STATUS_BUFFER_TOO_SMALL\0",
        12 => b"DYAG_STATUS_INTERNAL\0",
        13 => b"DYAG_STATUS_OTHER\0",
        _ => b"DYAG_STATUS_UNKNOWN\0",
    };
    name.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CStr;

    fn last() -> String {
        // SAFETY: dyag_last_error returns this thread's live NUL-terminated
        // message, valid until the next dyag call here; it is copied at once.
        unsafe { CStr::from_ptr(dyag_last_error()) }.to_str().unwrap().to_string()
    }

    #[test]
    fn a_panic_becomes_an_internal_status_with_its_message() {
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let s = guard(|| panic!("index 7 out of range"));
        std::panic::set_hook(prev);
        assert_eq!(s, DyagStatus::Internal);
        assert!(last().contains("index 7 out of range") && last().contains("bug in dyag"), "{}", last());
    }

    #[test]
    fn errors_map_to_statuses_and_success_clears_the_message() {
        assert_eq!(guard(|| Err(Error::data("/d/train.jsonl", 3, "bad role").into())), DyagStatus::Data);
        assert_eq!(last(), "/d/train.jsonl:3: bad role");
        assert_eq!(guard(|| Err(Error::Cancelled.into())), DyagStatus::Cancelled);
        assert_eq!(guard(|| Ok(())), DyagStatus::Ok);
        assert_eq!(last(), "");
    }

    #[test]
    fn messages_are_per_thread() {
        assert_eq!(guard(|| Err(FfiError::invalid("on the main thread"))), DyagStatus::InvalidArgument);
        std::thread::spawn(|| assert_eq!(last(), "")).join().unwrap();
        assert_eq!(last(), "on the main thread");
    }

    #[test]
    fn every_status_has_its_name() {
        for (s, name) in [
            (DyagStatus::Ok, "DYAG_STATUS_OK"),
            (DyagStatus::Other, "DYAG_STATUS_OTHER"),
            (DyagStatus::BufferTooSmall, "DYAG_STATUS_BUFFER_TOO_SMALL"),
        ] {
            // SAFETY: dyag_status_name returns a 'static NUL-terminated string.
            assert_eq!(unsafe { CStr::from_ptr(dyag_status_name(s as i32)) }.to_str().unwrap(), name);
        }
        // SAFETY: as above, for the unknown-status name.
        assert_eq!(unsafe { CStr::from_ptr(dyag_status_name(99)) }.to_str().unwrap(), "DYAG_STATUS_UNKNOWN");
    }
}
