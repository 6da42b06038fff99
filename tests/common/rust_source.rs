//! Reading Rust sources as code: the tests that check conventions over
//! `src/` (architecture, SAFETY comments) share these.

use std::path::{Path, PathBuf};

/// The source with comments and the contents of string and char literals
/// replaced by spaces, byte for byte (line breaks and quotes are kept), so
/// that byte offsets and line numbers match the original.
pub fn code_only(src: &str) -> String {
    let b = src.as_bytes();
    let mut out = b.to_vec();
    let blank = |out: &mut Vec<u8>, from: usize, to: usize| {
        for c in &mut out[from..to] {
            if *c != b'\n' {
                *c = b' ';
            }
        }
    };
    let ident = |c: u8| c.is_ascii_alphanumeric() || c == b'_';
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == b'/' && next == Some(b'/') {
            let end = b[i..].iter().position(|&c| c == b'\n').map_or(b.len(), |p| i + p);
            blank(&mut out, i, end);
            i = end;
        } else if c == b'/' && next == Some(b'*') {
            let (start, mut depth) = (i, 0);
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            blank(&mut out, start, i.min(b.len()));
        } else if c == b'r'
            && matches!(next, Some(b'"') | Some(b'#'))
            && (i == 0 || !ident(b[i - 1]) || (b[i - 1] == b'b' && (i < 2 || !ident(b[i - 2]))))
        {
            // Raw string r"…", r#"…"# (or br"…").
            let mut j = i + 1;
            while b.get(j) == Some(&b'#') {
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                i += 1;
                continue;
            }
            let hashes = j - i - 1;
            let mut close = vec![b'"'];
            close.extend(std::iter::repeat_n(b'#', hashes));
            let body = j + 1;
            let end = b[body..].windows(close.len()).position(|w| w == close.as_slice()).map_or(b.len(), |p| body + p);
            blank(&mut out, body, end);
            i = (end + close.len()).min(b.len());
        } else if c == b'"' {
            let body = i + 1;
            let mut j = body;
            while j < b.len() && b[j] != b'"' {
                j += if b[j] == b'\\' { 2 } else { 1 };
            }
            let end = j.min(b.len());
            blank(&mut out, body, end);
            i = end + 1;
        } else if c == b'\'' {
            // A char literal ('x', '\n', '\u{…}', 'é') or a lifetime ('a, 'static).
            if next == Some(b'\\') {
                // Skip the escaped character, then find the closing quote.
                let from = (i + 3).min(b.len());
                let end = b[from..].iter().position(|&c| c == b'\'').map_or(b.len(), |p| from + p);
                blank(&mut out, i + 1, end);
                i = end + 1;
            } else {
                // One (possibly multi-byte) character, then a quote: a char literal.
                let ch_len = src[i + 1..].chars().next().map_or(0, char::len_utf8);
                if ch_len > 0 && b.get(i + 1 + ch_len) == Some(&b'\'') {
                    blank(&mut out, i + 1, i + 1 + ch_len);
                    i += 2 + ch_len;
                } else {
                    i += 1;
                }
            }
        } else {
            i += 1;
        }
    }
    String::from_utf8(out).expect("only ASCII spaces replaced whole characters")
}

/// Every `.rs` file under `dir`.
pub fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}
