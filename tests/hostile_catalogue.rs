//! Hostile catalogues given to `dyag generate-training` (the command that
//! reads catalogues), under the limits of tests/common/hostile.rs: findings
//! 5 (quadratic Markdown reader), 11 (duplicate JSON keys) and 13 (CR-only
//! line ends, a BOM in the middle, unclosed Markdown blocks) of the hardening
//! review, and the bound on what a catalogue reader reads.

mod common;

use common::hostile;
use std::path::{Path, PathBuf};

fn dyag() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_dyag"))
}

/// Runs `dyag generate-training INPUT -o DIR/out.jsonl` under the hostile limits.
fn generate(input: &Path, out_dir: &Path) -> hostile::Outcome {
    let out = out_dir.join("out.jsonl");
    hostile::run(dyag(), &["generate-training", input.to_str().unwrap(), "-o", out.to_str().unwrap()], None)
}

fn crafted(name: &str) -> PathBuf {
    hostile::dir().join(name)
}

/// Refuses the crafted input `name` with a message naming `name:LINE:` and `words`.
#[track_caller]
fn refuses(name: &str, line: usize, words: &[&str]) {
    let d = tempfile::tempdir().unwrap();
    let located = format!("{name}:{line}: ");
    let mut needles = vec![located.as_str()];
    needles.extend_from_slice(words);
    generate(&crafted(name), d.path()).refused(&needles);
}

/// A section whose table row ends with one more cell than the header has:
/// `cell` is read and cleaned like every cell, then dropped, so the record
/// stays small and the run measures the reader (a 1 MB fact would make
/// examples of 1 MB each).
fn one_big_cell(dir: &Path, name: &str, cell: &str) -> PathBuf {
    let p = dir.join(name);
    let md = format!("## GIDAF\n\n| Hébergement | Statut | Version |\n|---|---|---|\n| DSI Rennes | actif | 2 | {cell} |\n");
    std::fs::write(&p, md).unwrap();
    p
}

// ---------------------------------------------------------------- finding 5

#[test]
fn markdown_one_megabyte_of_brackets_is_read_in_time() {
    // Took minutes (a search to the end of the line from every `[`).
    let d = tempfile::tempdir().unwrap();
    let p = one_big_cell(d.path(), "brackets.md", &"[".repeat(1_000_000));
    generate(&p, d.path()).succeeded();
}

#[test]
fn markdown_one_megabyte_of_angle_brackets_and_link_openings_is_read_in_time() {
    // `<` took 38 s; `[a](` (a link never closed) and `![` were as slow as `[`.
    let d = tempfile::tempdir().unwrap();
    for (name, text) in [("lt.md", "<".repeat(1_000_000)), ("links.md", "[a](".repeat(250_000)), ("images.md", "![".repeat(500_000))] {
        let p = one_big_cell(d.path(), name, &text);
        generate(&p, d.path()).succeeded();
    }
}

// --------------------------------------------------------------- finding 11

#[test]
fn jsonl_duplicate_key_is_refused() {
    refuses("11-duplicate-key.jsonl", 2, &["duplicate key \"nom\" (column 43)", "a key may appear only once"]);
}

#[test]
fn json_nested_duplicate_key_is_refused() {
    refuses("11-duplicate-key-nested.json", 3, &["duplicate key \"email\" in [1].contact (column"]);
}

// --------------------------------------------------------------- finding 13

#[test]
fn cr_only_line_ends_are_refused() {
    refuses("13-cr-only.md", 1, &["carriage return (CR) without a line feed", "LF or CRLF"]);
    refuses("13-cr-only.jsonl", 1, &["carriage return (CR) without a line feed", "column 46"]);
}

#[test]
fn bom_in_the_middle_is_refused() {
    // The BOM at the start of 13-mid-bom.md is fine; the one on line 4 is not.
    refuses("13-mid-bom.md", 4, &["byte order mark (U+FEFF)", "column 1"]);
    refuses("13-mid-bom.jsonl", 2, &["byte order mark (U+FEFF)"]);
}

#[test]
fn unclosed_markdown_blocks_are_refused_at_their_opening_line() {
    refuses("13-unclosed-fence.md", 4, &["code block opened here with ``` is never closed"]);
    refuses("13-unclosed-comment.md", 4, &["HTML comment opened here with <!-- is never closed"]);
}

// ------------------------------------------------------------- input size

#[test]
fn endless_device_is_refused_at_the_size_limit() {
    // Read whole before: memory grew until the address-space limit.
    let d = tempfile::tempdir().unwrap();
    generate(Path::new("/dev/zero"), d.path()).refused(&["/dev/zero: the file is larger than 256 MiB", "a device or a pipe"]);
}

#[test]
fn file_over_the_size_limit_is_refused_before_reading() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("big.md");
    // Sparse: 300 MiB on paper, nothing on disk.
    std::fs::File::create(&p).unwrap().set_len(300 << 20).unwrap();
    generate(&p, d.path()).refused(&["big.md: the file is larger than 256 MiB (314572800 bytes)"]);
}

#[cfg(unix)]
#[test]
fn endless_fifo_is_refused_at_the_size_limit() {
    use std::io::Write;
    let d = tempfile::tempdir().unwrap();
    let fifo = d.path().join("catalogue.md");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("mkfifo unavailable: skipped");
        return;
    }
    let writer_path = fifo.clone();
    // Writes until the reader goes away (then the write fails: EPIPE).
    std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new().write(true).open(writer_path).unwrap();
        let chunk = "- **Hébergement** : DSI Rennes\n".repeat(32 << 10);
        let _ = f.write_all(b"## GIDAF\n");
        while f.write_all(chunk.as_bytes()).is_ok() {}
    });
    generate(&fifo, d.path()).refused(&["catalogue.md: the file is larger than 256 MiB", "a device or a pipe"]);
}
