//! Every `unsafe` in src/ carries a justification that a reviewer can check.
//!
//! The test reads every `src/**/*.rs`, blanks out comments and the contents of
//! string and char literals (so `unsafe` in a comment, a doc comment or a
//! message is not code), and looks at each remaining `unsafe` keyword:
//!
//! - An `unsafe { … }` block, an `unsafe impl`, and any other use that is not
//!   one of the two cases below needs a `// SAFETY:` comment on its own line
//!   or above it, with at most two lines of code in between (room for the
//!   `let x =` of a block that opens mid-statement, or for adjacent one-line
//!   blocks that share one reason). Comment and blank lines in between do not
//!   count, so a SAFETY comment may run over several lines.
//! - An `unsafe fn` (also `unsafe extern "C" fn`) definition states what its
//!   caller must guarantee: its doc comments, comments and attributes directly
//!   above it hold a `# Safety` section (the convention) or a `// SAFETY:`
//!   comment. Exempt are methods declared in a `trait` or defined in an
//!   `impl Trait for Type` block: their contract is the trait's, and a trait
//!   declaring an `unsafe fn` (like an `unsafe trait`) must itself carry a
//!   `# Safety` section, which is checked.
//! - Function-pointer types (`unsafe fn(…)`, `unsafe extern "C" fn(…)`) are
//!   types, not code to justify, and are skipped.
//!
//! Unsafe operations in the body of an `unsafe fn` need no `unsafe` block in
//! Rust 2021; they are justified by the function's `# Safety` contract and are
//! not checked here. The test checks that a justification is there, not that
//! it is right: that is the reviewer's part.

mod common;

use common::rust_source::{code_only, rust_files};
use std::path::Path;

/// What kind of block a `{` opens, as far as the rule cares.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Block {
    /// `trait X { … }`, with the line its declaration starts on.
    Trait(usize),
    /// `impl X for Y { … }`.
    TraitImpl,
    Other,
}

/// Classifies the item header before a `{` (code only, attributes included).
fn classify(header: &str, header_line: usize) -> Block {
    // Attributes out: `#[…]` with nested brackets.
    let mut text = String::new();
    let mut chars = header.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '#' && matches!(chars.peek(), Some('[') | Some('!')) {
            let mut depth = 0;
            for c in chars.by_ref() {
                match c {
                    '[' => depth += 1,
                    ']' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
            }
            text.push(' ');
        } else {
            text.push(c);
        }
    }
    let words: Vec<&str> = text.split(|c: char| !(c.is_alphanumeric() || c == '_')).filter(|w| !w.is_empty()).collect();
    let first = words.iter().copied().find(|w| !matches!(*w, "pub" | "crate" | "super" | "self" | "in" | "unsafe" | "default" | "auto"));
    match first {
        Some("trait") => Block::Trait(header_line),
        Some("impl") => {
            // `impl … for Type`, not a `for<'a>` bound, and before any `where`.
            let before_where = text.split(" where ").next().unwrap_or("");
            let is_for = |w: &(usize, &str)| {
                let (at, _) = *w;
                let prev_ok = at == 0 || !before_where[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
                let rest = &before_where[at + 3..];
                prev_ok && rest.starts_with(char::is_whitespace) && !rest.trim_start().starts_with('<')
            };
            if before_where.match_indices("for").any(|w| is_for(&w)) {
                Block::TraitImpl
            } else {
                Block::Other
            }
        }
        _ => Block::Other,
    }
}

/// Whether the doc comments, comments and attributes directly above line
/// `line` (0-based) contain one of `markers`.
fn leading_block_has(lines: &[&str], line: usize, markers: &[&str]) -> bool {
    let mut k = line;
    while k > 0 {
        k -= 1;
        let t = lines[k].trim();
        if !(t.starts_with("//") || t.starts_with("#[") || t.starts_with("#!")) {
            return false;
        }
        if markers.iter().any(|m| t.contains(m)) {
            return true;
        }
    }
    false
}

/// The `unsafe` sites of one file that break the rule, as `path:line: why`,
/// and the number of `unsafe` sites seen.
fn check_source(path: &str, src: &str) -> (Vec<String>, usize) {
    let code = code_only(src);
    let lines: Vec<&str> = src.split('\n').collect();
    let code_lines: Vec<&str> = code.split('\n').collect();
    assert_eq!(lines.len(), code_lines.len(), "{path}: blanking changed the line count");
    // The comment part of a line: where the code is blank but the source is not.
    let comment_has = |k: usize, marker: &str| {
        let (l, c) = (lines[k], code_lines[k]);
        l.match_indices(marker).any(|(at, _)| c.as_bytes()[at..at + marker.len()].iter().all(|&b| b == b' '))
    };
    let is_code = |k: usize| !code_lines[k].trim().is_empty();
    let block_ok = |line: usize| {
        if comment_has(line, "SAFETY:") {
            return true;
        }
        let mut code_between = 0;
        let mut k = line;
        while k > 0 {
            k -= 1;
            if comment_has(k, "SAFETY:") {
                return true;
            }
            if is_code(k) {
                code_between += 1;
                if code_between > 2 {
                    return false;
                }
            }
        }
        false
    };

    let (mut problems, mut sites) = (Vec::new(), 0);
    let mut reported_traits = Vec::new();
    let b = code.as_bytes();
    let mut stack: Vec<Block> = Vec::new();
    let (mut header, mut header_line) = (String::new(), None::<usize>);
    let (mut i, mut line) = (0, 0);
    let skip_ws = |mut j: usize| {
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        j
    };
    let word_at = |j: usize| {
        let end = b[j..].iter().position(|c| !(c.is_ascii_alphanumeric() || *c == b'_')).map_or(b.len(), |p| j + p);
        &code[j..end]
    };
    while i < b.len() {
        let c = b[i];
        match c {
            b'\n' => {
                line += 1;
                header.push(' ');
            }
            b'{' | b'}' | b';' => {
                if c == b'{' {
                    stack.push(classify(&header, header_line.unwrap_or(line)));
                } else if c == b'}' {
                    stack.pop();
                }
                header.clear();
                header_line = None;
            }
            _ if (c.is_ascii_alphabetic() || c == b'_') && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) => {
                let word = word_at(i);
                if header_line.is_none() {
                    header_line = Some(line);
                }
                header.push_str(word);
                if word == "unsafe" {
                    sites += 1;
                    let mut j = skip_ws(i + word.len());
                    let mut next = word_at(j);
                    if next == "extern" {
                        j = skip_ws(j + next.len());
                        if b.get(j) == Some(&b'"') {
                            j += 1 + b[j + 1..].iter().position(|&c| c == b'"').unwrap_or(0) + 1;
                            j = skip_ws(j);
                        }
                        next = word_at(j);
                    }
                    let here = format!("{path}:{}", line + 1);
                    if next == "fn" {
                        let after = skip_ws(j + 2);
                        if b.get(after) == Some(&b'(') {
                            sites -= 1; // a function-pointer type
                        } else {
                            match stack.last().copied() {
                                Some(Block::TraitImpl) => {}
                                Some(Block::Trait(trait_line)) => {
                                    if !leading_block_has(&lines, trait_line, &["# Safety"]) && !reported_traits.contains(&trait_line) {
                                        reported_traits.push(trait_line);
                                        problems.push(format!(
                                            "{path}:{}: trait with an `unsafe fn` (line {}) has no `# Safety` section",
                                            trait_line + 1,
                                            line + 1
                                        ));
                                    }
                                }
                                _ => {
                                    if !leading_block_has(&lines, line, &["# Safety", "SAFETY:"]) {
                                        problems.push(format!(
                                            "{here}: `unsafe fn` without a `# Safety` section (or `// SAFETY:` comment) above it"
                                        ));
                                    }
                                }
                            }
                        }
                    } else if next == "trait" {
                        if !leading_block_has(&lines, line, &["# Safety"]) {
                            problems.push(format!("{here}: `unsafe trait` without a `# Safety` section above it"));
                        }
                    } else if !block_ok(line) {
                        let what = if next == "impl" { "`unsafe impl`" } else { "`unsafe` block" };
                        problems.push(format!("{here}: {what} without a `// SAFETY:` comment above it (at most 2 lines of code between)"));
                    }
                }
                i += word.len();
                continue;
            }
            _ => {
                if !c.is_ascii_whitespace() && header_line.is_none() {
                    header_line = Some(line);
                }
                header.push(c as char);
            }
        }
        i += 1;
    }
    (problems, sites)
}

#[test]
fn every_unsafe_in_src_is_justified() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    files.sort();
    let (mut problems, mut sites) = (Vec::new(), 0);
    for f in &files {
        let src = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let rel = f.strip_prefix(root).unwrap_or(f).display().to_string();
        let (p, n) = check_source(&rel, &src);
        problems.extend(p);
        sites += n;
    }
    // The crate has ~200 `unsafe` sites (SIMD kernels, the C ABI, CUDA): a
    // count near zero would mean the scan, not the code, is broken.
    assert!(sites > 100, "only {sites} `unsafe` sites found in {} files under src/", files.len());
    assert!(problems.is_empty(), "{} `unsafe` without a justification:\n{}", problems.len(), problems.join("\n"));
}

#[cfg(test)]
mod self_check {
    use super::check_source;

    fn problems(src: &str) -> Vec<String> {
        check_source("x.rs", src).0
    }

    #[test]
    fn an_uncommented_block_is_flagged_and_a_commented_one_is_not() {
        let bad = "fn f(p: *const u8) -> u8 {\n    unsafe { *p }\n}\n";
        assert_eq!(problems(bad).len(), 1, "{:?}", problems(bad));
        assert!(problems(bad)[0].starts_with("x.rs:2: `unsafe` block"), "{:?}", problems(bad));
        let good = "fn f(p: *const u8) -> u8 {\n    // SAFETY: the caller passes a valid pointer.\n    unsafe { *p }\n}\n";
        assert_eq!(problems(good), Vec::<String>::new());
        let same_line = "fn f(p: *const u8) -> u8 {\n    unsafe { *p } // SAFETY: valid pointer.\n}\n";
        assert_eq!(problems(same_line), Vec::<String>::new());
    }

    #[test]
    fn long_comments_and_statement_starts_are_allowed_but_distance_is_limited() {
        let long = "fn f(p: *const u8) -> u8 {\n    // SAFETY: a long reason\n    // on several\n    // lines,\n    // and more.\n    let x =\n        unsafe { *p };\n    x\n}\n";
        assert_eq!(problems(long), Vec::<String>::new());
        let far = "fn f(p: *const u8) -> u8 {\n    // SAFETY: about something else.\n    let a = 1;\n    let b = 2;\n    let c = 3;\n    unsafe { *p }\n}\n";
        assert_eq!(problems(far).len(), 1, "{:?}", problems(far));
    }

    #[test]
    fn comments_strings_and_chars_are_not_code() {
        let src = "fn f() -> &'static str {\n    // unsafe { in a comment }\n    /* unsafe impl */\n    let _c = '{';\n    let _r = r#\"unsafe { \"raw\" }\"#;\n    \"unsafe { x }\"\n}\n/// Calls `unsafe fn` g.\nfn h() {}\n";
        assert_eq!(check_source("x.rs", src), (Vec::new(), 0));
    }

    #[test]
    fn unsafe_impl_needs_a_comment() {
        assert_eq!(problems("struct P(*mut u8);\nunsafe impl Send for P {}\n").len(), 1);
        assert_eq!(problems("struct P(*mut u8);\n// SAFETY: never dereferenced.\nunsafe impl Send for P {}\n"), Vec::<String>::new());
    }

    #[test]
    fn unsafe_fn_needs_a_safety_section() {
        let bad = "/// Reads.\n#[inline]\nunsafe fn read(p: *const u8) -> u8 {\n    *p\n}\n";
        assert_eq!(problems(bad).len(), 1, "{:?}", problems(bad));
        let good = "/// Reads.\n///\n/// # Safety\n/// `p` is valid for a read.\n#[inline]\npub unsafe extern \"C\" fn read(p: *const u8) -> u8 {\n    *p\n}\n";
        assert_eq!(problems(good), Vec::<String>::new());
        // A function-pointer type is not a definition.
        assert_eq!(
            check_source("x.rs", "type K = Option<unsafe extern \"C\" fn(u8) -> u8>;\ntype D = unsafe fn(&[u8]);\n"),
            (Vec::new(), 0)
        );
    }

    #[test]
    fn trait_methods_take_the_traits_contract() {
        let with = "/// # Safety\n/// Callers check the CPU.\npub trait S {\n    unsafe fn f() -> u8;\n}\nimpl S for u8 {\n    #[inline]\n    unsafe fn f() -> u8 {\n        1\n    }\n}\n";
        assert_eq!(problems(with), Vec::<String>::new());
        let without = "pub trait S {\n    unsafe fn f() -> u8;\n    unsafe fn g() -> u8;\n}\n";
        assert_eq!(problems(without).len(), 1, "{:?}", problems(without));
        // An inherent impl is not a trait impl.
        let inherent =
            "struct A;\nimpl A {\n    unsafe fn f() {}\n}\nimpl<F> B<F> where F: for<'a> Fn(&'a u8) {\n    unsafe fn g() {}\n}\n";
        assert_eq!(problems(inherent).len(), 2, "{:?}", problems(inherent));
    }
}
