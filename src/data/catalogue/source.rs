//! Reading a catalogue file as text: size limits, UTF-8 check with the line
//! of the first bad byte, BOM removal, line-end and stray-BOM checks (the
//! size limit and the checks are [`crate::formats::bounded`]'s, shared with
//! the other data readers), and lines without their CR (CRLF files).

use crate::formats::bounded;
use crate::{Error, Result};
use std::path::Path;

/// A catalogue file (or a folder's files together) larger than this is
/// refused. Real catalogues are a few MB of text at most; the readers hold
/// the whole text and the records built from it (a few times its size), so
/// this keeps a run under about 1 GiB and turns a wrong path (a disk image, a
/// dump, `/dev/zero`) into a clear error instead of a long swap.
pub const MAX_FILE_BYTES: u64 = 256 << 20;
/// One JSONL record or one Markdown line longer than this is refused: such a
/// line is almost always a mistake (a binary file, a missing newline...).
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Reads `path` as UTF-8 text, without a leading BOM, through
/// [`bounded::read_to_end`]: a file larger than [`MAX_FILE_BYTES`] is refused
/// before it is read when its size is known, and a device or a pipe is never
/// read past that. Then [`bounded::text_problem`] refuses a carriage return
/// without a line feed (old Mac line ends: the whole file would read as one
/// line) and a byte order mark starting a line after the first (two files
/// joined, one of them with a BOM), naming the line and column.
pub fn read_text(path: &Path) -> Result<String> {
    let bytes = bounded::read_to_end(path, MAX_FILE_BYTES)?;
    let text = decode_utf8(path, bytes)?;
    if let Some((line, msg)) = bounded::text_problem(text.as_bytes()) {
        return Err(Error::data(path, line, msg));
    }
    Ok(text)
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

    #[test]
    fn cr_only_line_ends_and_stray_bom_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let read = |text: &[u8]| {
            let p = d.path().join("x.md");
            std::fs::write(&p, text).unwrap();
            read_text(&p).map_err(|e| e.to_string().replace(&format!("{}", p.display()), "x.md"))
        };
        // CRLF and a BOM at the start are fine.
        assert_eq!(read(b"\xEF\xBB\xBF## A\r\n- k: v\r\n").unwrap(), "## A\r\n- k: v\r\n");
        // Old Mac files: the CR alone, the whole file on "line 1".
        let e = read(b"## A\r- k: v\r").unwrap_err();
        assert!(e.starts_with("x.md:1: carriage return (CR) without a line feed") && e.contains("(column 5)"), "{e}");
        let e = read("a\r\nb\r\ncé\rd\n".as_bytes()).unwrap_err();
        assert!(e.starts_with("x.md:3: carriage return") && e.contains("(column 3)"), "{e}");
        let e = read(b"x\r").unwrap_err();
        assert!(e.starts_with("x.md:1: carriage return"), "{e}");
        // A BOM starting a later line: two files joined.
        let e = read("## A\n- k: v\n\u{FEFF}## B\n".as_bytes()).unwrap_err();
        assert!(e.starts_with("x.md:3: byte order mark (U+FEFF)") && e.contains("(column 1)"), "{e}");
        let e = read(b"\xEF\xBB\xBF\xEF\xBB\xBFa\n").unwrap_err();
        assert!(e.starts_with("x.md:1: byte order mark"), "{e}");
        // Other characters starting with 0xEF are fine (U+F000..U+FFFF).
        read("\u{FFFD} \u{F8FF} \u{FEFE}\n".as_bytes()).unwrap();
    }

    #[test]
    fn read_text_refuses_a_big_file_before_reading_it() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("big.md");
        // Sparse: no disk space used, nothing read.
        std::fs::File::create(&p).unwrap().set_len(MAX_FILE_BYTES + 1).unwrap();
        let e = read_text(&p).unwrap_err().to_string();
        assert!(e.contains(&format!("the file is larger than 256 MiB ({} bytes)", MAX_FILE_BYTES + 1)), "{e}");
        let ok = d.path().join("ok.md");
        std::fs::write(&ok, "\u{FEFF}## A\r\n").unwrap();
        assert_eq!(read_text(&ok).unwrap(), "## A\r\n");
    }
}
