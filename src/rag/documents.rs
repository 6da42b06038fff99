//! Catalogue records → retrievable documents, through the same catalogue
//! reader as generate-training (`crate::data::catalogue`): JSONL, a JSON
//! array, Markdown (one `##` section per entity), or a folder of such files.

use crate::data::catalogue::{read_catalogue, ReadOptions, Record};
use crate::{Error, Result};
use std::collections::HashMap;
use std::path::Path;

/// One retrievable unit: a catalogue record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    /// Stable identifier recorded as the answer's source (the record's name).
    pub id: String,
    /// The entity's name.
    pub title: String,
    /// Everything known about it, as readable text (also what the model reads).
    pub text: String,
}

impl From<&Record> for Document {
    fn from(r: &Record) -> Self {
        Document { id: r.name.clone(), title: r.name.clone(), text: r.text() }
    }
}

/// Reads a catalogue file or folder.
pub fn load_catalogue(path: &Path) -> Result<Vec<Document>> {
    let catalogue = read_catalogue(path, &ReadOptions::default())?;
    let mut docs: Vec<Document> = catalogue.records.iter().map(Document::from).collect();
    if docs.is_empty() {
        return Err(Error::format(path, "the catalogue has no records"));
    }
    make_ids_unique(&mut docs);
    Ok(docs)
}

/// Ids recorded as sources must tell records apart: repeats get `#2`, `#3`...
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
    fn records_become_documents() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.jsonl");
        std::fs::write(
            &p,
            "{\"nom\": \"GIDAF\", \"description\": \"Gestion des dossiers\", \"technologies\": [\"Java\", \"PostgreSQL\"]}\n",
        )
        .unwrap();
        let docs = load_catalogue(&p).unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!((docs[0].id.as_str(), docs[0].title.as_str()), ("GIDAF", "GIDAF"));
        assert!(docs[0].text.contains("Gestion des dossiers") && docs[0].text.contains("PostgreSQL"), "{}", docs[0].text);
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
