//! Catalogue inputs: one record per entity (an application, a service...) with
//! a name and named facts. Read from JSONL, a JSON array, Markdown, or a folder
//! of such files; every error names the file and line.

pub mod fields;
mod json;
mod markdown;
pub mod source;

pub use fields::FieldKind;

use crate::data::text::{collapse_spaces, fold};
use crate::{Error, Result};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// One fact of a record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// The field name as written in the input ("date_mise_en_service", "Hébergement").
    pub key: String,
    /// A readable form of the key ("date mise en service").
    pub label: String,
    pub kind: FieldKind,
    /// The value as one line of text (lists joined with ", ").
    pub value: String,
    /// The value's items for list kinds (technologies, users, dependencies); one item otherwise.
    pub items: Vec<String>,
}

impl Field {
    pub fn new(key: &str, value: &str, items: Option<Vec<String>>) -> Self {
        let kind = fields::classify(key);
        let value = collapse_spaces(value);
        let items = match items {
            Some(items) => items.into_iter().map(|i| collapse_spaces(&i)).filter(|i| !i.is_empty()).collect(),
            None if kind.is_list() => fields::split_items(&value),
            None => vec![value.clone()],
        };
        Field { key: key.trim().to_string(), label: fields::label_of(key.trim()), kind, value, items }
    }
}

/// One entity of the catalogue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub name: String,
    pub fields: Vec<Field>,
    /// Where the record starts (for messages).
    pub source: PathBuf,
    pub line: usize,
}

impl Record {
    /// The record's whole text (name, field names and values), for grounding checks.
    pub fn text(&self) -> String {
        let mut s = self.name.clone();
        for f in &self.fields {
            s.push('\n');
            s.push_str(&f.label);
            s.push_str(" : ");
            s.push_str(&f.value);
        }
        s
    }
}

/// All records read from the input, with the catalogue's name where one is known.
#[derive(Clone, Debug, Default)]
pub struct Catalogue {
    pub records: Vec<Record>,
    /// The organisation or catalogue name (Markdown `# Title`, or an
    /// organisation field shared by every record).
    pub name: Option<String>,
    pub files: Vec<PathBuf>,
    /// Human-readable notes on what was skipped and why.
    pub dropped: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct ReadOptions {
    /// The field that holds each record's name; auto-detected when `None`.
    pub name_field: Option<String>,
}

/// A record as a reader produces it, before its name is resolved.
pub(crate) struct RawRecord {
    pub fields: Vec<(String, String, Option<Vec<String>>)>,
    /// The Markdown section heading, when there is one.
    pub heading: Option<String>,
    pub line: usize,
}

/// Reads a catalogue file or a folder of catalogue files (.jsonl, .json, .md,
/// .markdown; sub-folders included, in name order).
pub fn read_catalogue(path: &Path, opts: &ReadOptions) -> Result<Catalogue> {
    let files = if path.is_dir() {
        let mut files = Vec::new();
        collect_files(path, &mut Vec::new(), &mut HashSet::new(), &mut files)?;
        if files.is_empty() {
            return Err(Error::format(path, "folder holds no catalogue file (.jsonl, .json, .md or .markdown)"));
        }
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut cat = Catalogue { files: files.clone(), ..Default::default() };
    let mut first_seen: HashMap<String, (PathBuf, usize)> = HashMap::new();
    let mut titles = Vec::new();
    let mut total_bytes = 0u64;
    for file in &files {
        let (raws, title, bytes) = read_file(file)?;
        total_bytes += bytes;
        if total_bytes > source::MAX_FILE_BYTES {
            return Err(Error::format(
                path,
                format!(
                    "the catalogue files in this folder hold more than {} MiB in all (limit reached at {}): real catalogues are a few MB of text",
                    source::MAX_FILE_BYTES >> 20,
                    file.display()
                ),
            ));
        }
        if let Some(t) = title {
            titles.push(t);
        }
        for raw in raws {
            let rec = resolve_name(file, raw, opts)?;
            let key = fold(&rec.name);
            if let Some((p, l)) = first_seen.get(&key) {
                cat.dropped.push(format!(
                    "{}:{}: record '{}' dropped: same name as the record at {}:{}",
                    file.display(),
                    rec.line,
                    rec.name,
                    p.display(),
                    l
                ));
                continue;
            }
            first_seen.insert(key, (file.clone(), rec.line));
            cat.records.push(rec);
        }
    }
    if cat.records.is_empty() {
        return Err(Error::format(path, "no record found in the catalogue"));
    }
    cat.name = titles.into_iter().next().or_else(|| shared_organisation(&cat.records));
    Ok(cat)
}

/// The catalogue files under `dir`, in name order. Each folder is read once,
/// however many links lead to it (links to the same folder would otherwise
/// multiply the work at every level), and a link back to a folder that holds
/// it is refused (it would never end). `open` holds the folders being read,
/// `seen` every folder read, both as canonical paths.
fn collect_files(dir: &Path, open: &mut Vec<PathBuf>, seen: &mut HashSet<PathBuf>, out: &mut Vec<PathBuf>) -> Result<()> {
    let real = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
    if open.contains(&real) {
        return Err(Error::format(
            dir,
            format!("folder link loop: this is {} again, a folder that holds it; remove the link", real.display()),
        ));
    }
    if !seen.insert(real.clone()) {
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .map(|e| e.map(|e| e.path()).map_err(|err| Error::io(dir, err)))
        .collect::<Result<_>>()?;
    entries.sort();
    open.push(real);
    for p in entries {
        let hidden = p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            collect_files(&p, open, seen, out)?;
        } else if matches!(extension(&p).as_str(), "jsonl" | "json" | "md" | "markdown") {
            out.push(p);
        }
    }
    open.pop();
    Ok(())
}

fn extension(p: &Path) -> String {
    p.extension().map(|e| e.to_string_lossy().to_lowercase()).unwrap_or_default()
}

/// Reads one file by its extension; returns its raw records, its title and
/// its size in bytes.
fn read_file(path: &Path) -> Result<(Vec<RawRecord>, Option<String>, u64)> {
    let text = source::read_text(path)?;
    if text.trim().is_empty() {
        return Err(Error::data(path, 1, "file is empty: no record to read"));
    }
    let (raws, title) = match extension(path).as_str() {
        "jsonl" | "ndjson" => (json::read_jsonl(path, &text)?, None),
        "json" => (json::read_json(path, &text)?, None),
        "md" | "markdown" | "txt" => markdown::read_markdown(path, &text)?,
        _ => {
            // Guess from the content: JSON starts with '{' or '['.
            match text.trim_start().chars().next() {
                Some('[') => (json::read_json(path, &text)?, None),
                Some('{') => (json::read_jsonl(path, &text)?, None),
                _ => markdown::read_markdown(path, &text)?,
            }
        }
    };
    Ok((raws, title, text.len() as u64))
}

/// Picks the record's name (heading, `--name-field`, or the first usual name
/// field) and turns the other fields into facts.
fn resolve_name(path: &Path, raw: RawRecord, opts: &ReadOptions) -> Result<Record> {
    let name_idx = match &opts.name_field {
        Some(nf) => {
            let want = fields::normalise_key(nf);
            let idx = raw.fields.iter().position(|(k, _, _)| fields::normalise_key(k) == want);
            if idx.is_none() && raw.heading.is_none() {
                let have: Vec<&str> = raw.fields.iter().map(|(k, _, _)| k.as_str()).collect();
                return Err(Error::data(
                    path,
                    raw.line,
                    format!("record has no field '{nf}' (given by --name-field); its fields are: {}", have.join(", ")),
                ));
            }
            idx
        }
        None if raw.heading.is_some() => None,
        None => fields::NAME_FIELDS
            .iter()
            .find_map(|cand| raw.fields.iter().position(|(k, v, _)| fields::normalise_key(k) == *cand && !v.trim().is_empty())),
    };
    let name = match (name_idx, &raw.heading) {
        (Some(i), _) => raw.fields[i].1.clone(),
        (None, Some(h)) => h.clone(),
        (None, None) => {
            return Err(Error::data(
                path,
                raw.line,
                format!(
                    "record has no name: none of its fields is a name field ({}); give one with --name-field",
                    fields::NAME_FIELDS[..6].join(", ")
                ),
            ))
        }
    };
    let name = collapse_spaces(&name);
    if name.is_empty() {
        return Err(Error::data(path, raw.line, "record has an empty name"));
    }
    let folded_name = fold(&name);
    let mut out = Vec::new();
    for (i, (k, v, items)) in raw.fields.into_iter().enumerate() {
        if Some(i) == name_idx || v.trim().is_empty() || k.trim().is_empty() {
            continue;
        }
        // A "Nom : X" bullet repeating the section heading is not a fact.
        if fields::is_name_key(&k) && fold(v.trim()) == folded_name {
            continue;
        }
        out.push(Field::new(&k, &v, items));
    }
    Ok(Record { name, fields: out, source: path.to_path_buf(), line: raw.line })
}

/// An organisation field with the same value in every record names the catalogue.
fn shared_organisation(records: &[Record]) -> Option<String> {
    let first = records.first()?;
    let org = first.fields.iter().find(|f| f.kind == FieldKind::Organisation)?;
    let same = records.iter().all(|r| r.fields.iter().any(|f| f.kind == FieldKind::Organisation && f.value == org.value));
    same.then(|| org.value.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, body: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    #[test]
    fn jsonl_names_and_fields() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "c.jsonl", "{\"nom\":\"GIDAF\",\"hebergement\":\"DSI\",\"couleur\":\"bleu\",\"vide\":\"\"}\n".as_bytes());
        let c = read_catalogue(&p, &ReadOptions::default()).unwrap();
        assert_eq!(c.records.len(), 1);
        let r = &c.records[0];
        assert_eq!(r.name, "GIDAF");
        assert_eq!(
            r.fields.iter().map(|f| (f.key.as_str(), f.kind)).collect::<Vec<_>>(),
            [("hebergement", FieldKind::Hosting), ("couleur", FieldKind::Other)]
        );
    }

    #[test]
    fn name_field_option_and_missing_name() {
        let d = tempfile::tempdir().unwrap();
        let p = write(d.path(), "c.jsonl", b"{\"code\":\"X1\",\"nom\":\"A\"}\n{\"desc\":\"sans nom\"}\n");
        let e = read_catalogue(&p, &ReadOptions::default()).unwrap_err().to_string();
        assert!(e.contains("c.jsonl:2: record has no name"), "{e}");
        let p = write(d.path(), "d.jsonl", b"{\"ident\":\"X1\",\"nom\":\"A\"}\n");
        let c = read_catalogue(&p, &ReadOptions { name_field: Some("ident".into()) }).unwrap();
        assert_eq!(c.records[0].name, "X1");
        assert_eq!(c.records[0].fields[0].key, "nom");
        let e = read_catalogue(&p, &ReadOptions { name_field: Some("id".into()) }).unwrap_err().to_string();
        assert!(e.contains("d.jsonl:1: record has no field 'id'"), "{e}");
    }

    #[test]
    fn folder_duplicates_and_organisation() {
        let d = tempfile::tempdir().unwrap();
        write(d.path(), "a.jsonl", b"{\"nom\":\"A\",\"organisation\":\"ORG\"}\n");
        write(d.path(), "b.json", b"[{\"nom\":\"a\",\"organisation\":\"ORG\"},{\"nom\":\"B\",\"organisation\":\"ORG\"}]");
        write(d.path(), "notes.txt", b"ignored");
        let c = read_catalogue(d.path(), &ReadOptions::default()).unwrap();
        assert_eq!(c.records.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["A", "B"]);
        assert_eq!(c.name.as_deref(), Some("ORG"));
        assert_eq!(c.dropped.len(), 1);
        assert!(c.dropped[0].contains("b.json:1: record 'a' dropped"), "{}", c.dropped[0]);
    }

    #[cfg(unix)]
    #[test]
    fn folder_links_are_followed_once_and_loops_refused() {
        use std::os::unix::fs::symlink;
        let d = tempfile::tempdir().unwrap();
        let sub = d.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        write(&sub, "a.jsonl", b"{\"nom\":\"A\"}\n");
        // Two links to one folder: read once (each level of such links used
        // to double the work).
        symlink(&sub, d.path().join("l1")).unwrap();
        symlink(&sub, d.path().join("l2")).unwrap();
        let c = read_catalogue(d.path(), &ReadOptions::default()).unwrap();
        assert_eq!(c.files, [d.path().join("l1/a.jsonl")]);
        // Links back to a folder that holds them: never-ending before
        // (2^40 paths with two such links), refused now.
        symlink("..", sub.join("up")).unwrap();
        symlink("..", sub.join("up2")).unwrap();
        let e = read_catalogue(d.path(), &ReadOptions::default()).unwrap_err().to_string();
        assert!(e.contains("l1/up: folder link loop"), "{e}");
    }
}
