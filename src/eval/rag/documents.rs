//! Catalogue files → retrievable documents. A small reader of its own so that
//! the RAG baseline did not depend on the training-data readers while both
//! were written; the shared catalogue reader (`crate::data::catalogue`) can
//! replace [`load_catalogue`] by mapping each record to a [`Document`]
//! (id and title: the record's name; text: its fields, one per line).
//!
//! Supported: JSONL (one record per line), a JSON array of records, Markdown
//! (one `##` section per entity), and a folder of such files.

use crate::{Error, Result};
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::collections::HashMap;
use std::path::Path;

/// One retrievable unit: a catalogue record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    /// Stable identifier recorded as the answer's source.
    pub id: String,
    /// The entity's name.
    pub title: String,
    /// Everything known about it, as readable text (also what the model reads).
    pub text: String,
}

/// Field names taken as the entity's name, in order of preference
/// (compared case- and accent-insensitively).
const NAME_FIELDS: &[&str] = &["nom", "name", "titre", "title", "application", "app", "libelle", "label", "intitule"];
const ID_FIELDS: &[&str] = &["id", "identifiant", "identifier"];

/// A JSON object with its fields in file order (serde_json's map sorts them).
struct OrderedRecord(Vec<(String, serde_json::Value)>);

impl<'de> Deserialize<'de> for OrderedRecord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedRecord;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object (one catalogue record)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<OrderedRecord, A::Error> {
                let mut fields = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                    fields.push((k, v));
                }
                Ok(OrderedRecord(fields))
            }
        }
        d.deserialize_map(V)
    }
}

/// Reads a catalogue file or folder.
pub fn load_catalogue(path: &Path) -> Result<Vec<Document>> {
    let mut docs = Vec::new();
    if path.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && kind_of(p).is_some())
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(Error::format(path, "no catalogue file (.jsonl, .json, .md) in this folder"));
        }
        for f in files {
            docs.extend(load_file(&f)?);
        }
    } else {
        docs = load_file(path)?;
    }
    if docs.is_empty() {
        return Err(Error::format(path, "the catalogue has no records"));
    }
    make_ids_unique(&mut docs);
    Ok(docs)
}

enum Kind {
    Jsonl,
    Json,
    Markdown,
}

fn kind_of(path: &Path) -> Option<Kind> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "jsonl" | "ndjson" => Some(Kind::Jsonl),
        "json" => Some(Kind::Json),
        "md" | "markdown" => Some(Kind::Markdown),
        _ => None,
    }
}

fn load_file(path: &Path) -> Result<Vec<Document>> {
    let kind = kind_of(path).ok_or_else(|| Error::format(path, "unknown catalogue format: use .jsonl, .json or .md"))?;
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    match kind {
        Kind::Jsonl => parse_jsonl(path, bytes),
        Kind::Json => {
            let text = std::str::from_utf8(bytes).map_err(|e| Error::format(path, format!("not UTF-8 text (invalid byte at offset {})", e.valid_up_to())))?;
            let records: Vec<OrderedRecord> = serde_json::from_str(text).map_err(|e| {
                Error::data(path, e.line(), format!("expected a JSON array of records: {e}"))
            })?;
            Ok(records.into_iter().enumerate().map(|(i, r)| record_to_document(r.0, i + 1)).collect())
        }
        Kind::Markdown => {
            let text = std::str::from_utf8(bytes).map_err(|e| Error::format(path, format!("not UTF-8 text (invalid byte at offset {})", e.valid_up_to())))?;
            parse_markdown(path, text)
        }
    }
}

/// JSONL records; a bad line is an error naming it.
pub fn parse_jsonl(path: &Path, bytes: &[u8]) -> Result<Vec<Document>> {
    let mut docs = Vec::new();
    for (i, raw) in bytes.split(|&b| b == b'\n').enumerate() {
        let line_no = i + 1;
        let line = std::str::from_utf8(raw).map_err(|e| Error::data(path, line_no, format!("not UTF-8 text (invalid byte at column {})", e.valid_up_to() + 1)))?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let record: OrderedRecord = serde_json::from_str(line)
            .map_err(|e| Error::data(path, line_no, format!("invalid record: {}", crate::eval::questions::json_msg_in_line(&e))))?;
        docs.push(record_to_document(record.0, line_no));
    }
    Ok(docs)
}

fn fold_key(k: &str) -> String {
    crate::eval::metrics::normalize(k).replace(' ', "_")
}

fn find_field<'a>(fields: &'a [(String, serde_json::Value)], names: &[&str]) -> Option<&'a (String, serde_json::Value)> {
    names.iter().find_map(|n| fields.iter().find(|(k, v)| fold_key(k) == *n && !value_text(v).is_empty()))
}

/// A JSON value as readable text: lists joined with commas, objects as
/// "key: value" pairs, null as nothing.
fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.trim().to_string(),
        serde_json::Value::Bool(b) => b.to_string(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::Array(items) => items.iter().map(value_text).filter(|s| !s.is_empty()).collect::<Vec<_>>().join(", "),
        serde_json::Value::Object(map) => map
            .iter()
            .map(|(k, v)| (k, value_text(v)))
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("; "),
    }
}

/// One record (fields in file order) → a document. `position` (line or
/// index) names records that have neither an id nor a name.
pub fn record_to_document(fields: Vec<(String, serde_json::Value)>, position: usize) -> Document {
    let title = find_field(&fields, NAME_FIELDS).map(|(_, v)| value_text(v)).unwrap_or_else(|| format!("record {position}"));
    let id_field = find_field(&fields, ID_FIELDS);
    let id = id_field.map(|(_, v)| value_text(v)).unwrap_or_else(|| title.clone());
    let id_key = id_field.map(|(k, _)| k.clone());
    let text = fields
        .iter()
        .filter(|(k, _)| Some(k) != id_key.as_ref())
        .map(|(k, v)| (k, value_text(v)))
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k} : {v}"))
        .collect::<Vec<_>>()
        .join("\n");
    Document { id, title, text }
}

/// Markdown: every `## Heading` starts a document whose text is the section
/// body; a `# Title` line ends the current section.
pub fn parse_markdown(path: &Path, text: &str) -> Result<Vec<Document>> {
    let mut docs = Vec::new();
    let mut current: Option<(String, Vec<&str>)> = None;
    let mut in_code = false;
    let flush = |cur: &mut Option<(String, Vec<&str>)>, docs: &mut Vec<Document>| {
        if let Some((title, body)) = cur.take() {
            let text = body.join("\n").trim().to_string();
            docs.push(Document { id: title.clone(), title, text });
        }
    };
    for line in text.lines() {
        let trimmed = line.trim_end();
        if trimmed.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        if !in_code {
            if let Some(h) = trimmed.strip_prefix("## ") {
                flush(&mut current, &mut docs);
                let title = h.trim().trim_end_matches('#').trim().to_string();
                current = Some((title, Vec::new()));
                continue;
            }
            if trimmed.starts_with("# ") {
                flush(&mut current, &mut docs);
                continue;
            }
        }
        if let Some((_, body)) = current.as_mut() {
            body.push(trimmed);
        }
    }
    flush(&mut current, &mut docs);
    if docs.is_empty() {
        return Err(Error::format(path, "no `## ` section: a Markdown catalogue needs one `## Name` section per entity"));
    }
    if let Some(d) = docs.iter().find(|d| d.title.is_empty()) {
        return Err(Error::format(path, format!("a `## ` heading has no text (section {:?})", d.text.lines().next().unwrap_or(""))));
    }
    Ok(docs)
}

/// Sources must be told apart: repeated ids get "#2", "#3"...
fn make_ids_unique(docs: &mut [Document]) {
    let mut seen: HashMap<String, usize> = HashMap::new();
    for d in docs.iter_mut() {
        let n = seen.entry(d.id.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            d.id = format!("{}#{}", d.id, n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_records_keep_field_order_and_find_name_and_id() {
        let text = "{\"Nom\": \"GIDAF\", \"id\": 12, \"description\": \"Gestion des dossiers\", \"technologies\": [\"Java\", \"PostgreSQL\"], \"vide\": null}\n\n{\"description\": \"sans nom\"}\n";
        let docs = parse_jsonl(Path::new("c.jsonl"), text.as_bytes()).unwrap();
        assert_eq!(docs[0].id, "12");
        assert_eq!(docs[0].title, "GIDAF");
        assert_eq!(docs[0].text, "Nom : GIDAF\ndescription : Gestion des dossiers\ntechnologies : Java, PostgreSQL");
        assert_eq!(docs[1].title, "record 3");
        let err = parse_jsonl(Path::new("c.jsonl"), b"{\"nom\": \"a\"}\n{oops}\n").unwrap_err().to_string();
        assert!(err.starts_with("c.jsonl:2: invalid record"), "{err}");
    }

    #[test]
    fn markdown_sections_become_documents() {
        let md = "# Catalogue\n\nIntro.\n\n## GIDAF\n- **Description** : Gestion\n- **Hébergement** : DSI\n\n## SIRH ##\nPaie et congés.\n```\n## not a heading\n```\n";
        let docs = parse_markdown(Path::new("c.md"), md).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].title, "GIDAF");
        assert_eq!(docs[0].text, "- **Description** : Gestion\n- **Hébergement** : DSI");
        assert_eq!(docs[1].id, "SIRH");
        assert!(docs[1].text.contains("## not a heading"));
        let err = parse_markdown(Path::new("c.md"), "# Titre\ntexte\n").unwrap_err().to_string();
        assert!(err.starts_with("c.md: no `## ` section"), "{err}");
    }

    #[test]
    fn duplicate_ids_are_suffixed() {
        let mut docs = vec![
            Document { id: "a".into(), title: "a".into(), text: String::new() },
            Document { id: "a".into(), title: "a".into(), text: String::new() },
        ];
        make_ids_unique(&mut docs);
        assert_eq!(docs[1].id, "a#2");
    }
}
