//! Layers only look down. The order below is the architecture, written once
//! (and quoted in the README): a module may use the modules of the layers
//! before its own, never one of its own layer (sideways) or of a later one
//! (up). Within a top-level module, files do not form import cycles.
//!
//! The test reads every `src/**/*.rs`, skips comments and string literals,
//! and resolves each `crate::…` path (including `use crate::{a, b}` groups and
//! `super::` chains) to the top-level module and the file it names.

mod common;

use common::rust_source::{code_only, rust_files};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layer order, bottom first. `main` is the binary (src/main.rs).
const LAYERS: &[&[&str]] = &[
    &["error"],
    &["util"],
    &["quant"],
    &["formats"],
    &["cpu", "cuda"],
    &["tokenizer"],
    &["ops"],
    &["model"],
    &["train", "infer"],
    &["device"],
    &["data"],
    &["rag"],
    &["eval"],
    &["cli", "ffi"],
    &["main"],
];

/// Items at the crate root that are not modules: re-exports and exported
/// macros, with the module that defines them.
const ROOT_ITEMS: &[(&str, &str)] = &[("Error", "error"), ("Result", "error"), ("bail", "error"), ("simd_dispatch", "cpu")];

fn layer_of(module: &str) -> usize {
    LAYERS.iter().position(|l| l.contains(&module)).unwrap_or_else(|| panic!("module `{module}` is in no layer of tests/architecture.rs"))
}

/// The module path of a source file: src/model/forward.rs → [model, forward];
/// src/model/mod.rs → [model]; src/main.rs → [main].
fn module_path(file: &Path, src: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().to_string()).collect();
    if parts.last().map(String::as_str) == Some("mod") {
        parts.pop();
    }
    parts
}

fn ident_at(chars: &[char], mut i: usize) -> (String, usize) {
    while i < chars.len() && chars[i].is_whitespace() {
        i += 1;
    }
    let start = i;
    while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
        i += 1;
    }
    (chars[start..i].iter().collect(), i)
}

/// Every path after `crate::`, as segments (a `{…}` group yields one path per
/// member; only the first two segments matter here).
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let needle: Vec<char> = "crate::".chars().collect();
    let mut i = 0;
    while i + needle.len() <= chars.len() {
        if chars[i..i + needle.len()] != needle[..]
            || (i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_' || chars[i - 1] == '$'))
        {
            i += 1;
            continue;
        }
        i += needle.len();
        out.extend(paths_from(&chars, &mut i));
    }
    out
}

/// Parses `a::b::{c, d::e}` (or `{a, b::c}`) at `*i`.
fn paths_from(chars: &[char], i: &mut usize) -> Vec<Vec<String>> {
    let mut prefix = Vec::new();
    loop {
        while *i < chars.len() && chars[*i].is_whitespace() {
            *i += 1;
        }
        if chars.get(*i) == Some(&'{') {
            *i += 1;
            let mut out = Vec::new();
            loop {
                for mut p in paths_from(chars, i) {
                    let mut full = prefix.clone();
                    full.append(&mut p);
                    out.push(full);
                }
                while *i < chars.len() && chars[*i].is_whitespace() {
                    *i += 1;
                }
                match chars.get(*i) {
                    Some(',') => *i += 1,
                    Some('}') => {
                        *i += 1;
                        return out;
                    }
                    _ => return out,
                }
                while *i < chars.len() && chars[*i].is_whitespace() {
                    *i += 1;
                }
                if chars.get(*i) == Some(&'}') {
                    *i += 1;
                    return out;
                }
            }
        }
        let (id, j) = ident_at(chars, *i);
        *i = j;
        if id.is_empty() {
            return if prefix.is_empty() { Vec::new() } else { vec![prefix] };
        }
        prefix.push(id);
        if chars.get(*i) == Some(&':') && chars.get(*i + 1) == Some(&':') {
            *i += 2;
        } else {
            return vec![prefix];
        }
    }
}

/// `super::…` paths resolved to absolute module paths (from the crate root).
fn super_paths(code: &str, module: &[String], modules: &BTreeSet<Vec<String>>) -> Vec<Vec<String>> {
    let chars: Vec<char> = code.chars().collect();
    let needle: Vec<char> = "super::".chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i + needle.len() <= chars.len() {
        if chars[i..i + needle.len()] != needle[..]
            || (i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_' || chars[i - 1] == ':'))
        {
            i += 1;
            continue;
        }
        // `super` is the parent module; inside an inline `mod tests` it is
        // the file itself, hence one `super` fewer when the parent reading
        // names no module.
        let mut ups = 0;
        while chars[i..].starts_with(&needle) {
            ups += 1;
            i += needle.len();
        }
        for p in paths_from(&chars, &mut i) {
            let resolved = [ups, ups - 1].into_iter().filter(|&u| u <= module.len()).map(|u| {
                let mut full = module[..module.len() - u].to_vec();
                full.extend(p.iter().cloned());
                full
            });
            let resolved: Vec<Vec<String>> = resolved.collect();
            let names_module =
                |f: &Vec<String>| modules.contains(&f[..1]) || top_of(f).is_some_and(|t| ROOT_ITEMS.iter().any(|(_, m)| *m == t));
            if let Some(full) = resolved.iter().find(|f| names_module(f)).or(resolved.first()) {
                out.push(full.clone());
            }
        }
    }
    out
}

struct Import {
    from_file: String,
    from: Vec<String>,
    to: Vec<String>,
}

fn imports(src: &Path) -> (Vec<Import>, BTreeSet<Vec<String>>) {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_path(f, src)).collect();
    let mut out = Vec::new();
    for f in &files {
        if f.ends_with("lib.rs") {
            continue; // declares the modules
        }
        let module = module_path(f, src);
        let code = code_only(&std::fs::read_to_string(f).unwrap());
        let from_file = f.strip_prefix(src.parent().unwrap()).unwrap().display().to_string();
        for p in crate_paths(&code) {
            out.push(Import { from_file: from_file.clone(), from: module.clone(), to: p });
        }
        for p in super_paths(&code, &module, &modules) {
            out.push(Import { from_file: from_file.clone(), from: module.clone(), to: p });
        }
    }
    (out, modules)
}

/// The top-level module a path names (a root item counts as its defining module).
fn top_of(path: &[String]) -> Option<String> {
    let first = path.first()?;
    Some(ROOT_ITEMS.iter().find(|(item, _)| item == first).map(|(_, m)| m.to_string()).unwrap_or_else(|| first.clone()))
}

fn layer_violations(src: &Path) -> Vec<String> {
    let (imports, _) = imports(src);
    let mut bad = BTreeSet::new();
    for imp in &imports {
        let from = imp.from[0].clone();
        let Some(to) = top_of(&imp.to) else { continue };
        if to == from {
            continue;
        }
        let (lf, lt) = (layer_of(&from), layer_of(&to));
        if lt >= lf {
            let how = if lt == lf { "sideways" } else { "up" };
            bad.insert(format!("{}: `{from}` imports `{}` ({how})", imp.from_file, imp.to.join("::")));
        }
    }
    bad.into_iter().collect()
}

/// Cycles between files of one top-level module. A parent module's own
/// declarations and re-exports of its children are not counted (a parent
/// looks down at its children by nature); everything else is.
fn file_cycles(src: &Path) -> Vec<String> {
    let (imports, modules) = imports(src);
    let resolve = |p: &[String]| -> Option<Vec<String>> {
        // The longest prefix of the path that is a file module.
        (1..=p.len()).rev().map(|n| p[..n].to_vec()).find(|m| modules.contains(m))
    };
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for imp in &imports {
        let Some(to) = resolve(&imp.to) else { continue };
        let parent_to_child = to.len() > imp.from.len() && to.starts_with(&imp.from);
        if to == imp.from || to[0] != imp.from[0] || parent_to_child {
            continue;
        }
        graph.entry(imp.from.clone()).or_default().insert(to);
    }
    let mut cycles = Vec::new();
    for (a, outs) in &graph {
        for b in outs {
            if a < b && graph.get(b).is_some_and(|o| o.contains(a)) {
                cycles.push(format!("{} <-> {}", a.join("::"), b.join("::")));
            }
        }
    }
    cycles
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn every_module_is_in_a_layer() {
    let (_, modules) = imports(&src_dir());
    for m in modules.iter().filter(|m| m.len() == 1 && m[0] != "lib") {
        layer_of(&m[0]);
    }
}

#[test]
fn layers_only_look_down() {
    let bad = layer_violations(&src_dir());
    assert!(bad.is_empty(), "imports against the layer order of tests/architecture.rs:\n{}", bad.join("\n"));
}

#[test]
fn files_of_a_module_do_not_import_each_other() {
    let cycles = file_cycles(&src_dir());
    assert!(cycles.is_empty(), "files that import each other:\n{}", cycles.join("\n"));
}

/// The checks can fail: upward and sideways imports, one hidden in a
/// `use crate::{…}` group, and a cycle, in a small tree written for the test.
#[test]
fn the_checks_catch_what_they_are_for() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    std::fs::create_dir_all(src.join("ops")).unwrap();
    let write = |p: &str, s: &str| std::fs::write(src.join(p), s).unwrap();
    write("lib.rs", "pub mod ops; pub mod model; pub mod util; pub mod train; pub mod infer;");
    write("util.rs", "// crate::eval in a comment is not an import\nfn f() { let _ = \"crate::model\"; let _ = r#\"crate::ops\"#; }");
    write("model.rs", "use crate::{util::x, ops::lora::{A, B}, Error};");
    write("ops/mod.rs", "pub mod lora; pub mod norm; pub use lora::A;");
    write("ops/lora.rs", "use super::norm::rms;");
    write("ops/norm.rs", "fn f() { super::lora::A::new(); }");
    write("train.rs", "use crate::model::Model;");
    write("infer.rs", "use crate::model::Model;");
    assert!(layer_violations(&src).is_empty(), "{:?}", layer_violations(&src));
    assert_eq!(file_cycles(&src), ["ops::lora <-> ops::norm"]);
    write("ops/lora.rs", "use crate::{util::x, model::{Proj, Model}};");
    write("infer.rs", "fn f() { crate::train::step(); }");
    assert_eq!(
        layer_violations(&src),
        [
            "src/infer.rs: `infer` imports `train::step` (sideways)",
            "src/ops/lora.rs: `ops` imports `model::Model` (up)",
            "src/ops/lora.rs: `ops` imports `model::Proj` (up)",
        ]
    );
    assert!(file_cycles(&src).is_empty());
}

/// One error convention: the library returns `dyag::Error` (which carries the
/// file, line, tensor or field), never a bare `String` error; only the CLI,
/// which presents errors, may (clap's value parsers want one).
#[test]
fn the_library_returns_dyag_errors() {
    let mut files = Vec::new();
    rust_files(&src_dir(), &mut files);
    let mut bad = Vec::new();
    for f in files.iter().filter(|f| !f.starts_with(src_dir().join("cli"))) {
        let code = code_only(&std::fs::read_to_string(f).unwrap());
        for (i, line) in code.lines().enumerate() {
            let squeezed: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            if squeezed.contains("Result<") && squeezed.contains(",String>") {
                bad.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(bad.is_empty(), "String errors in the library (return dyag::Error):\n{}", bad.join("\n"));
}
