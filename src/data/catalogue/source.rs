//! Reading a catalogue file as text: size limits, UTF-8 check with the line
//! of the first bad byte, BOM removal, line-end and stray-BOM checks, and
//! lines without their CR (CRLF files).

use crate::{Error, Result};
use std::io::Read;
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

/// Reads `path` as UTF-8 text, without a leading BOM. Refuses a file larger
/// than [`MAX_FILE_BYTES`] before reading it when its size is known, and
/// never reads more than that (a device or a pipe has no size: `/dev/zero`
/// would otherwise grow memory without end).
pub fn read_text(path: &Path) -> Result<String> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    let limit = MAX_FILE_BYTES >> 20;
    if meta.is_file() && meta.len() > MAX_FILE_BYTES {
        return Err(Error::format(
            path,
            format!(
                "file is {} bytes, more than the {limit} MiB limit for a catalogue (real ones are a few MB of text: is it the right file?)",
                meta.len()
            ),
        ));
    }
    let expected = if meta.is_file() { meta.len() } else { 0 };
    let mut bytes = Vec::with_capacity(expected.min(MAX_FILE_BYTES) as usize + 1);
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        // A device, a pipe, or a file that grew while read.
        return Err(Error::format(
            path,
            format!("reading stopped at the {limit} MiB limit for a catalogue and there is more (a device or a pipe that never ends?)"),
        ));
    }
    let text = decode_utf8(path, bytes)?;
    check_line_ends_and_bom(path, &text)?;
    Ok(text)
}

/// Refuses a carriage return without a line feed (old Mac line ends: the
/// whole file would read as one line) and a byte order mark after the start
/// of the file (two files joined, one of them with a BOM), naming the line
/// and column. CRLF line ends and a BOM at the very start (already removed
/// by [`decode_utf8`]) are fine.
pub fn check_line_ends_and_bom(path: &Path, text: &str) -> Result<()> {
    const BOM: char = '\u{FEFF}';
    let bytes = text.as_bytes();
    let mut line = 1;
    let mut line_start = 0;
    // Only '\n', '\r' and BOM's first byte 0xEF need a look; the rest is skipped.
    for (i, &b) in bytes.iter().enumerate() {
        let what = match b {
            b'\n' => {
                line += 1;
                line_start = i + 1;
                continue;
            }
            b'\r' if bytes.get(i + 1) != Some(&b'\n') => {
                "carriage return (CR) without a line feed: old Mac line ends (CR only) are not supported; \
                 save the file with LF or CRLF line ends"
            }
            0xEF if text[i..].starts_with(BOM) => "byte order mark (U+FEFF) after the start of the file (two files joined?): remove it",
            _ => continue,
        };
        let column = text[line_start..i].chars().count() + 1;
        return Err(Error::data(path, line, format!("{what} (column {column})")));
    }
    Ok(())
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
        let p = Path::new("x.md");
        // CRLF and a BOM at the start are fine.
        let t = decode_utf8(p, b"\xEF\xBB\xBF## A\r\n- k: v\r\n".to_vec()).unwrap();
        check_line_ends_and_bom(p, &t).unwrap();
        // Old Mac files: the CR alone, the whole file on "line 1".
        let e = check_line_ends_and_bom(p, "## A\r- k: v\r").unwrap_err().to_string();
        assert!(e.starts_with("x.md:1: carriage return (CR) without a line feed"), "{e}");
        assert!(e.contains("(column 5)"), "{e}");
        let e = check_line_ends_and_bom(p, "a\r\nb\r\ncé\rd\n").unwrap_err().to_string();
        assert!(e.starts_with("x.md:3: carriage return") && e.contains("(column 3)"), "{e}");
        let e = check_line_ends_and_bom(p, "x\r").unwrap_err().to_string();
        assert!(e.starts_with("x.md:1: carriage return"), "{e}");
        // A BOM after the start: two files joined.
        let e = check_line_ends_and_bom(p, "## A\n- k: v\n\u{FEFF}## B\n").unwrap_err().to_string();
        assert!(e.starts_with("x.md:3: byte order mark (U+FEFF)") && e.contains("(column 1)"), "{e}");
        let t = decode_utf8(p, b"\xEF\xBB\xBF\xEF\xBB\xBFa\n".to_vec()).unwrap();
        let e = check_line_ends_and_bom(p, &t).unwrap_err().to_string();
        assert!(e.starts_with("x.md:1: byte order mark"), "{e}");
        // Other characters starting with 0xEF are fine (U+F000..U+FFFF).
        check_line_ends_and_bom(p, "\u{FFFD} \u{F8FF} \u{FEFE}\n").unwrap();
    }

    #[test]
    fn read_text_refuses_a_big_file_before_reading_it() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("big.md");
        // Sparse: no disk space used, nothing read.
        std::fs::File::create(&p).unwrap().set_len(MAX_FILE_BYTES + 1).unwrap();
        let e = read_text(&p).unwrap_err().to_string();
        assert!(e.contains(&format!("file is {} bytes, more than the 256 MiB limit", MAX_FILE_BYTES + 1)), "{e}");
        let ok = d.path().join("ok.md");
        std::fs::write(&ok, "\u{FEFF}## A\r\n").unwrap();
        assert_eq!(read_text(&ok).unwrap(), "## A\r\n");
    }
}
