//! Reading text data files with bounded memory: a reader never holds more
//! than its limits allow, whatever the file is (a 100 MB line, `/dev/zero`,
//! a FIFO that never ends), and refuses the file with its name, the line
//! and the limit instead.
//!
//! [`Lines`] reads a line-oriented file (JSONL) one line at a time: a line
//! longer than `max_line` bytes or a file longer than `max_total` bytes is
//! refused, and each line is checked for what a text editor or a `cat` of
//! two files leaves behind: a byte order mark (U+FEFF) anywhere but at the very
//! start of the file, and carriage returns used as line ends (classic Mac). A
//! BOM at the very start is skipped; CRLF line ends are accepted.
//! [`read_to_end`] reads a whole document (JSON) up to a size limit.

use crate::{Error, Result};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// "16 MiB", "512 KiB", "100 bytes".
pub fn size_text(bytes: u64) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

/// Reads the whole file, refusing it when it is larger than `max` bytes:
/// from its size before reading when it is a regular file, and while
/// reading otherwise (a device such as `/dev/zero`, a FIFO), so memory
/// never grows past `max` + 1 bytes.
pub fn read_to_end(path: &Path, max: u64) -> Result<Vec<u8>> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // `size`: the file's, when known before reading.
    let too_big = |size: Option<u64>| {
        let (size, hint) = match size {
            Some(n) => (format!(" ({n} bytes)"), ""),
            None => (String::new(), " (reading stopped at the limit: a device or a pipe that never ends?)"),
        };
        Error::format(
            path,
            format!(
                "the file is larger than {}{size}, the most this reader accepts for one document: is it the right file?{hint}",
                size_text(max)
            ),
        )
    };
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::format(path, "is a folder, not a file"));
    }
    if meta.is_file() && meta.len() > max {
        return Err(too_big(Some(meta.len())));
    }
    let mut bytes = Vec::with_capacity(if meta.is_file() { meta.len() as usize } else { 0 });
    file.take(max + 1).read_to_end(&mut bytes).map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > max {
        // A device, a pipe, or a file that grew while read.
        return Err(too_big(None));
    }
    Ok(bytes)
}

/// Limits of a line-oriented reader.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Longest line, in bytes, without its line end.
    pub max_line: usize,
    /// Largest file, in bytes.
    pub max_total: u64,
}

/// One line read by [`Lines`].
#[derive(Debug)]
pub struct Line<'a> {
    /// 1-based.
    pub number: usize,
    /// The line without its line end (LF or CRLF), and without the BOM that
    /// may start the file.
    pub bytes: &'a [u8],
    /// What is wrong with the line's text, when something is (a BOM not at
    /// the start of the file, a carriage return without a line feed). The
    /// next lines can still be read.
    pub problem: Option<String>,
}

/// A line-oriented file read one line at a time, within [`Limits`].
pub struct Lines<R> {
    path: PathBuf,
    reader: R,
    limits: Limits,
    line: usize,
    total: u64,
    buf: Vec<u8>,
    done: bool,
}

impl Lines<BufReader<std::fs::File>> {
    /// Opens `path` (errors name it).
    pub fn open(path: &Path, limits: Limits) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        if file.metadata().is_ok_and(|m| m.is_dir()) {
            return Err(Error::format(path, "is a folder, not a file"));
        }
        Ok(Self::new(path, BufReader::with_capacity(64 << 10, file), limits))
    }
}

impl<R: BufRead> Lines<R> {
    /// Reads from `reader`; `path` names it in errors.
    pub fn new(path: &Path, reader: R, limits: Limits) -> Self {
        Self { path: path.to_path_buf(), reader, limits, line: 0, total: 0, buf: Vec::new(), done: false }
    }

    /// The next line, `None` at the end of the file. `Err` (the file cannot be
    /// read further) on an I/O error, a line longer than `max_line` or a file
    /// longer than `max_total`; the error names the file and the line.
    pub fn next_line(&mut self) -> Result<Option<Line<'_>>> {
        if self.done {
            return Ok(None);
        }
        self.buf.clear();
        let mut ended = false;
        loop {
            let avail = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(&self.path, e)),
            };
            if avail.is_empty() {
                break;
            }
            let (content, used) = match avail.iter().position(|&b| b == b'\n') {
                Some(i) => (&avail[..i], i + 1),
                None => (avail, avail.len()),
            };
            ended = used > content.len();
            // One byte of slack for the CR of a CRLF.
            if self.buf.len() + content.len() > self.limits.max_line + 1 {
                let n = self.line + 1;
                let seen = self.buf.len() + content.len();
                let crs = self.buf.iter().chain(content).filter(|&&b| b == b'\r').count();
                let hint = if crs > 0 {
                    format!(" (it holds {crs} carriage returns without line feeds: the file seems to use CR-only line ends; save it with LF or CRLF line ends)")
                } else {
                    String::new()
                };
                return Err(Error::data(
                    &self.path,
                    n,
                    format!(
                        "line longer than {} (at least {seen} bytes): one line is one record, is it the right file?{hint}",
                        size_text(self.limits.max_line as u64)
                    ),
                ));
            }
            self.buf.extend_from_slice(content);
            self.reader.consume(used);
            self.total += used as u64;
            if self.total > self.limits.max_total {
                return Err(Error::data(
                    &self.path,
                    self.line + 1,
                    format!(
                        "the file is larger than {}, the most this reader accepts: is it the right file?",
                        size_text(self.limits.max_total)
                    ),
                ));
            }
            if ended {
                break;
            }
        }
        if !ended {
            self.done = true;
            if self.buf.is_empty() {
                return Ok(None);
            }
        }
        self.line += 1;
        let mut bytes = &self.buf[..];
        if ended && bytes.ends_with(b"\r") {
            bytes = &bytes[..bytes.len() - 1];
        }
        if self.line == 1 {
            bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
        }
        if bytes.len() > self.limits.max_line {
            return Err(Error::data(
                &self.path,
                self.line,
                format!(
                    "line longer than {} ({} bytes): one line is one record, is it the right file?",
                    size_text(self.limits.max_line as u64),
                    bytes.len()
                ),
            ));
        }
        let problem = line_problem(bytes);
        Ok(Some(Line { number: self.line, bytes, problem }))
    }
}

/// The first line of a whole text (a JSON document) holding a BOM at its
/// start (after blanks) or a carriage return without a line feed, with what
/// is wrong; a BOM at the very start of `text` must have been removed. Neither
/// can be inside a JSON string (a line starts outside any string, a raw CR
/// must be escaped in one), so such a file has CR-only line ends or files
/// concatenated with their BOMs.
pub fn text_problem(text: &[u8]) -> Option<(usize, String)> {
    text.split_inclusive(|&b| b == b'\n').enumerate().find_map(|(i, line)| {
        // Only a CR before a LF ends a line: a last line "x\r" is CR-only.
        let line = match line.strip_suffix(b"\n") {
            Some(l) => l.strip_suffix(b"\r").unwrap_or(l),
            None => line,
        };
        line_problem(line).map(|p| (i + 1, p))
    })
}

/// A BOM that starts the line (after blanks) or a carriage return left in it.
fn line_problem(bytes: &[u8]) -> Option<String> {
    let start = bytes.iter().position(|b| !matches!(b, b' ' | b'\t')).unwrap_or(bytes.len());
    if bytes[start..].starts_with(BOM) {
        return Some(format!(
            "byte order mark (U+FEFF) at {}: only the very start of the file may hold one (were files concatenated?); remove it",
            place(bytes, start)
        ));
    }
    if let Some(i) = bytes.iter().position(|&b| b == b'\r') {
        return Some(format!(
            "carriage return (CR) without a line feed at {}: CR-only line ends (classic Mac) are not supported; save the file with LF or CRLF line ends",
            place(bytes, i)
        ));
    }
    None
}

/// "byte 4 of the line (column 3)" for byte `i` of `line`: the column counts
/// characters (UTF-8 continuation bytes are not counted), as editors do.
fn place(line: &[u8], i: usize) -> String {
    let column = line[..i].iter().filter(|&&b| !(0x80..0xC0).contains(&b)).count() + 1;
    format!("byte {} of the line (column {column})", i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits { max_line: 16, max_total: 1 << 20 };

    fn all(bytes: &[u8], limits: Limits) -> Result<Vec<(usize, String, Option<String>)>> {
        let mut r = Lines::new(Path::new("f.jsonl"), bytes, limits);
        let mut out = Vec::new();
        while let Some(l) = r.next_line()? {
            out.push((l.number, String::from_utf8_lossy(l.bytes).into_owned(), l.problem));
        }
        Ok(out)
    }

    #[test]
    fn splits_lf_and_crlf_and_skips_a_leading_bom() {
        let got = all(b"\xEF\xBB\xBFa\r\nb\n\nc", L).unwrap();
        let want = [(1, "a"), (2, "b"), (3, ""), (4, "c")];
        assert_eq!(got.iter().map(|(n, s, _)| (*n, s.as_str())).collect::<Vec<_>>(), want);
        assert!(got.iter().all(|(_, _, p)| p.is_none()));
        assert_eq!(all(b"a\n", L).unwrap().len(), 1);
        assert!(all(b"", L).unwrap().is_empty());
    }

    #[test]
    fn cr_only_and_mid_file_bom_are_named() {
        let got = all(b"a\rb\rc\n", L).unwrap();
        assert!(got[0].2.as_deref().unwrap().contains("carriage return (CR) without a line feed at byte 2"), "{got:?}");
        let got = all(b"a\n\xEF\xBB\xBF{}\n", L).unwrap();
        assert_eq!(got[0].2, None);
        assert!(got[1].2.as_deref().unwrap().starts_with("byte order mark (U+FEFF) at byte 1"), "{got:?}");
        // Two BOMs at the start: the second is refused.
        let got = all(b"\xEF\xBB\xBF\xEF\xBB\xBF{}", L).unwrap();
        assert!(got[0].2.as_deref().unwrap().starts_with("byte order mark"));
    }

    #[test]
    fn long_lines_and_big_files_are_refused_without_reading_them_whole() {
        let e = all(b"ok\n0123456789abcdefXYZ\n", L).unwrap_err().to_string();
        assert!(e.starts_with("f.jsonl:2: line longer than 16 bytes"), "{e}");
        // 16 bytes and a CRLF fit.
        assert_eq!(all(b"0123456789abcdef\r\n", L).unwrap()[0].1.len(), 16);
        let e = all(b"0123456789abcdef\r", L).unwrap_err().to_string();
        assert!(e.contains("f.jsonl:1: line longer"), "{e}");
        let e = all(&b"a\r".repeat(20), L).unwrap_err().to_string();
        assert!(e.contains("CR-only line ends"), "{e}");
        // An endless source (io::repeat) stops at the line limit.
        let mut r = Lines::new(Path::new("zero"), BufReader::new(std::io::repeat(0)), L);
        assert!(r.next_line().unwrap_err().to_string().starts_with("zero:1: line longer than 16 bytes"));
        let mut r = Lines::new(Path::new("nl"), BufReader::new(std::io::repeat(b'\n')), Limits { max_line: 16, max_total: 1000 });
        let e = loop {
            match r.next_line() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("endless"),
                Err(e) => break e.to_string(),
            }
        };
        assert!(e.starts_with("nl:1001: the file is larger than 1000 bytes"), "{e}");
    }

    #[test]
    fn whole_texts_are_checked_line_by_line() {
        assert_eq!(text_problem(b"{\r\n\"a\": 1\r\n}\r\n"), None);
        let (line, p) = text_problem(b"{\n\"a\": 1,\r\"b\": 2}").unwrap();
        assert_eq!(line, 2);
        assert!(p.contains("carriage return"), "{p}");
        let (line, p) = text_problem("{\n  \u{feff}\"a\": 1}".as_bytes()).unwrap();
        assert_eq!(line, 2);
        assert!(p.starts_with("byte order mark (U+FEFF) at byte 3 of the line (column 3)"), "{p}");
        // The column counts characters, the byte count bytes.
        let (line, p) = text_problem("a\r\nb\r\ncé\rd\n".as_bytes()).unwrap();
        assert_eq!(line, 3);
        assert!(p.starts_with("carriage return (CR) without a line feed at byte 4 of the line (column 3)"), "{p}");
        // A CR that ends the text ends no line.
        assert!(text_problem(b"x\r").unwrap().1.contains("carriage return"));
        assert!(text_problem(b"{}\r\n{}\r").is_some_and(|(l, _)| l == 2));
        // Inside a string, U+FEFF is text.
        assert_eq!(text_problem("{\"a\": \"x\u{feff}\"}".as_bytes()), None);
    }

    #[test]
    fn whole_documents_are_bounded() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("r.json");
        std::fs::write(&p, b"0123456789").unwrap();
        assert_eq!(read_to_end(&p, 10).unwrap().len(), 10);
        let e = read_to_end(&p, 9).unwrap_err().to_string();
        assert!(e.contains("the file is larger than 9 bytes (10 bytes), the most"), "{e}");
        let e = read_to_end(Path::new("/dev/zero"), 1 << 20).unwrap_err().to_string();
        assert!(e.contains("larger than 1 MiB, the most") && e.contains("a device or a pipe"), "{e}");
        assert!(read_to_end(d.path(), 10).unwrap_err().to_string().contains("folder"));
    }
}
