//! Arguments in and results out: NUL-terminated UTF-8 strings checked on
//! the way in, caller buffers with explicit lengths and dyag-owned arrays on
//! the way out.

use super::error::{DyagStatus, FfiError, FfiResult};
use std::ffi::{c_char, CStr};
use std::path::Path;

/// A required string argument: NULL and invalid UTF-8 are errors naming `what`.
///
/// # Safety
/// `p` is NULL or points to a NUL-terminated string that outlives the call.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(FfiError::null(what));
    }
    let bytes = CStr::from_ptr(p).to_bytes();
    std::str::from_utf8(bytes).map_err(|e| {
        FfiError::new(DyagStatus::InvalidUtf8, format!("{what} is not valid UTF-8 (invalid byte at offset {})", e.valid_up_to()))
    })
}

/// An optional string argument: NULL (and "") mean absent.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn opt_str_arg<'a>(p: *const c_char, what: &str) -> FfiResult<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    str_arg(p, what).map(|s| (!s.is_empty()).then_some(s))
}

/// A required path argument.
///
/// # Safety
/// As [`str_arg`].
pub(crate) unsafe fn path_arg<'a>(p: *const c_char, what: &str) -> FfiResult<&'a Path> {
    let s = str_arg(p, what)?;
    if s.is_empty() {
        return Err(FfiError::invalid(format!("{what} is empty")));
    }
    Ok(Path::new(s))
}

/// A required out-pointer.
///
/// # Safety
/// `p` is NULL or valid for writes of one `T`.
pub(crate) unsafe fn out_arg<'a, T>(p: *mut T, what: &str) -> FfiResult<&'a mut T> {
    p.as_mut().ok_or_else(|| FfiError::null(what))
}

/// An array argument of `len` items; NULL is allowed only when `len` is 0.
///
/// # Safety
/// `p` is NULL or valid for reads of `len` items.
pub(crate) unsafe fn slice_arg<'a, T>(p: *const T, len: usize, what: &str) -> FfiResult<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(FfiError::null(what));
    }
    Ok(std::slice::from_raw_parts(p, len))
}

/// Copies `text` into a caller buffer, as snprintf does: as much as fits on
/// a UTF-8 character boundary, always NUL-terminated when `buf_len > 0`.
/// `*needed` (if not NULL) receives the full length without the NUL; the
/// status is `BufferTooSmall` when the text was cut.
///
/// # Safety
/// `buf` is NULL (then `buf_len` must be 0) or valid for `buf_len` bytes;
/// `needed` is NULL or valid for a write.
pub(crate) unsafe fn write_str_out(text: &str, buf: *mut c_char, buf_len: usize, needed: *mut usize) -> FfiResult {
    if !needed.is_null() {
        *needed = text.len();
    }
    if buf_len > 0 && buf.is_null() {
        return Err(FfiError::null("buf (with buf_len > 0)"));
    }
    let mut n = text.len().min(buf_len.saturating_sub(1));
    while !text.is_char_boundary(n) {
        n -= 1;
    }
    if buf_len > 0 {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), n);
        *buf.add(n) = 0;
    }
    if n < text.len() {
        return Err(FfiError::new(
            DyagStatus::BufferTooSmall,
            format!("the buffer holds {buf_len} bytes; {} are needed (with the final NUL)", text.len() + 1),
        ));
    }
    Ok(())
}

/// Moves a vector to C as a pointer it gives back to [`free_array`] with the
/// same length. Empty vectors become NULL.
pub(crate) fn array_out<T>(v: Vec<T>) -> (*mut T, usize) {
    if v.is_empty() {
        return (std::ptr::null_mut(), 0);
    }
    let len = v.len();
    (Box::into_raw(v.into_boxed_slice()).cast::<T>(), len)
}

/// Frees what [`array_out`] returned.
///
/// # Safety
/// `(p, len)` came from `array_out` and was not freed yet.
pub(crate) unsafe fn free_array<T>(p: *mut T, len: usize) {
    if !p.is_null() {
        drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(p, len)));
    }
}

/// A dyag-owned copy of `text` with a final NUL (so C can print it), as
/// (pointer, length without the NUL); free with [`free_text`].
pub(crate) fn text_out(text: &str) -> (*mut c_char, usize) {
    let mut bytes = Vec::with_capacity(text.len() + 1);
    bytes.extend_from_slice(text.as_bytes());
    bytes.push(0);
    let (p, _) = array_out(bytes);
    (p.cast(), text.len())
}

/// Frees what [`text_out`] returned.
///
/// # Safety
/// `(p, len)` came from `text_out` and was not freed yet.
pub(crate) unsafe fn free_text(p: *mut c_char, len: usize) {
    free_array(p.cast::<u8>(), len + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_in_are_checked() {
        // SAFETY: every pointer is NULL or comes from a C-string literal
        // (NUL-terminated, 'static), as str_arg/opt_str_arg/path_arg require.
        unsafe {
            assert_eq!(str_arg(std::ptr::null(), "model").unwrap_err().status, DyagStatus::NullPointer);
            let bad = c"caf\xe9";
            let e = str_arg(bad.as_ptr(), "model").unwrap_err();
            assert_eq!((e.status, e.message.as_str()), (DyagStatus::InvalidUtf8, "model is not valid UTF-8 (invalid byte at offset 3)"));
            assert_eq!(str_arg(c"caf\xc3\xa9".as_ptr(), "model").unwrap(), "café");
            assert_eq!(opt_str_arg(c"".as_ptr(), "x").unwrap(), None);
            assert_eq!(path_arg(c"".as_ptr(), "dir").unwrap_err().status, DyagStatus::InvalidArgument);
        }
    }

    #[test]
    fn text_out_is_cut_on_a_character_boundary() {
        let mut buf = [0x7f as c_char; 5];
        let mut needed = 0;
        // SAFETY: `buf` is valid for its 5 bytes and passed with that length
        // (or NULL with 0); `needed` is a live usize; CStr::from_ptr reads `buf`
        // after write_str_out NUL-terminated it within its length.
        unsafe {
            let e = write_str_out("abcé!", buf.as_mut_ptr(), buf.len(), &mut needed).unwrap_err();
            assert_eq!(e.status, DyagStatus::BufferTooSmall);
            assert_eq!(needed, 6);
            // "abc" + NUL: "é" (2 bytes) does not fit in the 4th and 5th bytes with the NUL.
            assert_eq!(CStr::from_ptr(buf.as_ptr()).to_str().unwrap(), "abc");
            write_str_out("abcd", buf.as_mut_ptr(), buf.len(), &mut needed).unwrap();
            assert_eq!(CStr::from_ptr(buf.as_ptr()).to_str().unwrap(), "abcd");
            // Asking for the size only.
            assert_eq!(write_str_out("abcd", std::ptr::null_mut(), 0, &mut needed).unwrap_err().status, DyagStatus::BufferTooSmall);
            assert_eq!(needed, 4);
        }
    }

    #[test]
    fn arrays_round_trip() {
        let (p, n) = array_out(vec![1u32, 2, 3]);
        // SAFETY: (p, n) is the live boxed slice of 3 u32 array_out made; it
        // is freed once, by free_array, after the read.
        assert_eq!(unsafe { std::slice::from_raw_parts(p, n) }, &[1, 2, 3]);
        unsafe { free_array(p, n) };
        assert_eq!(array_out(Vec::<u32>::new()).0, std::ptr::null_mut());
        let (t, len) = text_out("héllo");
        // SAFETY: text_out returned a live NUL-terminated copy, freed once by
        // free_text with the length it returned, after the read.
        assert_eq!(unsafe { CStr::from_ptr(t) }.to_str().unwrap(), "héllo");
        unsafe { free_text(t, len) };
    }
}
