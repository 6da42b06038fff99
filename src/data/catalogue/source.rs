//! Reading a catalogue file as text: size limits, UTF-8 check with the line
//! of the first bad byte, BOM removal, and lines without their CR (CRLF files).

use crate::{Error, Result};
use std::path::Path;

/// A catalogue file larger than this is refused before it is read whole.
pub const MAX_FILE_BYTES: u64 = 512 << 20;
/// One JSONL record or one Markdown line longer than this is refused: such a
/// line is almost always a mistake (a binary file, a missing newline...).
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Reads `path` as UTF-8 text, without a leading BOM.
pub fn read_text(path: &Path) -> Result<String> {
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(Error::format(
            path,
            format!("file is {} bytes, more than the {} MiB limit for a catalogue", meta.len(), MAX_FILE_BYTES >> 20),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_utf8(path, bytes)
}

/// Decodes bytes as UTF-8, naming the line and column of the first invalid byte.
pub fn decode_utf8(path: &Path, mut bytes: Vec<u8>) -> Result<String> {
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        bytes.drain(..3);
    }
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
        let line_start = bytes[..at].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        Error::data(
            path,
            line,
            format!("invalid UTF-8 byte 0x{:02X} at byte {} of the line: the file must be UTF-8 text", bytes[at], at - line_start + 1),
        )
    })
}

/// The lines of `text`, numbered from 1, without their line ending; refuses
/// any line longer than `max_line` bytes.
pub fn numbered_lines<'a>(path: &Path, text: &'a str, max_line: usize) -> Result<Vec<(usize, &'a str)>> {
    let mut out = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.len() > max_line {
            return Err(Error::data(
                path,
                i + 1,
                format!("line is {} bytes long, more than the {} KiB limit for one record or line", line.len(), max_line >> 10),
            ));
        }
        out.push((i + 1, line));
    }
    // A final newline does not start a line.
    if text.ends_with('\n') {
        out.pop();
    }
    Ok(out)
}

/// The 1-based line of byte `offset` in `text`.
pub fn line_of_offset(text: &str, offset: usize) -> usize {
    1 + text.as_bytes()[..offset.min(text.len())].iter().filter(|&&b| b == b'\n').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_crlf_and_bad_utf8() {
        let p = Path::new("x.jsonl");
        let t = decode_utf8(p, b"\xEF\xBB\xBFa\r\nb\r\n".to_vec()).unwrap();
        assert_eq!(numbered_lines(p, &t, 100).unwrap(), vec![(1, "a"), (2, "b")]);
        let e = decode_utf8(p, b"ok\nab\xFFc\n".to_vec()).unwrap_err().to_string();
        assert!(e.starts_with("x.jsonl:2: invalid UTF-8 byte 0xFF at byte 3"), "{e}");
        let long = "x".repeat(50);
        let e = numbered_lines(p, &format!("a\n{long}\n"), 10).unwrap_err().to_string();
        assert!(e.starts_with("x.jsonl:2: line is 50 bytes long"), "{e}");
    }
}
