//! Markdown catalogues: one `## Name` section per entity. Facts come from
//! `- **Champ** : valeur` bullets (nested bullets make a list), tables
//! (two columns: field | value, the header row too unless it reads like
//! "Champ | Valeur"; three or more: one field per column, named by the header), `### Champ`
//! sub-headings followed by text or bullets, and the section's plain text
//! (its description). A `# Title` before the first section names the catalogue.

use super::source::{numbered_lines, MAX_LINE_BYTES};
use super::RawRecord;
use crate::data::text::{collapse_spaces, fold};
use crate::{Error, Result};
use std::path::Path;

/// Header cells that mark a two-column table's first row as a header, not a fact.
const TABLE_HEADER_WORDS: &[&str] = &[
    "champ",
    "champs",
    "field",
    "fields",
    "attribut",
    "attribute",
    "propriete",
    "property",
    "cle",
    "key",
    "information",
    "info",
    "caracteristique",
    "rubrique",
    "element",
    "parametre",
    "critere",
    "nom",
    "name",
    "item",
];

struct Section {
    heading: String,
    line: usize,
    fields: Vec<(String, String, Option<Vec<String>>)>,
    /// The field that nested bullets and continuation lines add to.
    open_field: Option<usize>,
    /// The `### Sub-heading` that plain text and bullets belong to.
    sub: Option<usize>,
    text: Vec<String>,
    table: Vec<(usize, Vec<String>)>,
}

impl Section {
    fn new(heading: String, line: usize) -> Self {
        Section { heading, line, fields: Vec::new(), open_field: None, sub: None, text: Vec::new(), table: Vec::new() }
    }

    fn push_field(&mut self, key: String, value: String) -> usize {
        self.fields.push((key, value, None));
        self.fields.len() - 1
    }

    fn add_item(&mut self, idx: usize, item: String) {
        let f = &mut self.fields[idx];
        let items = f.2.get_or_insert_with(|| if f.1.trim().is_empty() { Vec::new() } else { vec![f.1.clone()] });
        items.push(item);
        f.1 = items.join(", ");
    }

    fn append_text(&mut self, idx: usize, text: &str) {
        let f = &mut self.fields[idx];
        if f.2.is_some() {
            if let Some(last) = f.2.as_mut().and_then(|items| items.last_mut()) {
                last.push(' ');
                last.push_str(text);
            }
            f.1 = f.2.as_ref().map(|i| i.join(", ")).unwrap_or_default();
        } else {
            f.1 = collapse_spaces(&format!("{} {}", f.1, text));
        }
    }

    /// Plain text paragraphs: the sub-heading's value, or the section's description.
    fn flush_text(&mut self) {
        if self.text.is_empty() {
            return;
        }
        let para = collapse_spaces(&self.text.join(" "));
        self.text.clear();
        match self.sub {
            Some(i) => self.append_text(i, &para),
            None => {
                let has_desc = self.fields.iter().any(|(k, _, _)| super::fields::classify(k) == super::FieldKind::Description);
                let key = if has_desc { "texte" } else { "description" };
                match self.fields.iter().position(|(k, _, _)| k == key) {
                    Some(i) => self.append_text(i, &para),
                    None => {
                        self.push_field(key.to_string(), para);
                    }
                }
            }
        }
    }

    fn flush_table(&mut self) {
        let rows = std::mem::take(&mut self.table);
        if rows.is_empty() {
            return;
        }
        let is_sep = |cells: &[String]| cells.iter().all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':' | ' ')));
        let has_header = rows.len() >= 2 && is_sep(&rows[1].1);
        let data: Vec<&Vec<String>> =
            rows.iter().enumerate().filter(|(i, (_, c))| !(is_sep(c) || has_header && *i == 1)).map(|(_, (_, c))| c).collect();
        let Some(header) = data.first() else { return };
        if header.len() == 2 {
            let skip_header = has_header && TABLE_HEADER_WORDS.contains(&fold(&header[0]).trim());
            for row in data.iter().skip(usize::from(skip_header)) {
                if row.len() >= 2 && !row[0].is_empty() {
                    self.push_field(row[0].clone(), row[1].clone());
                }
            }
        } else if has_header {
            for (c, name) in header.iter().enumerate() {
                let values: Vec<String> = data[1..].iter().filter_map(|r| r.get(c)).filter(|v| !v.is_empty()).cloned().collect();
                if !name.is_empty() && !values.is_empty() {
                    let joined = values.join("; ");
                    let idx = self.push_field(name.clone(), joined);
                    if values.len() > 1 {
                        self.fields[idx].2 = Some(values);
                    }
                }
            }
        }
    }

    fn finish(mut self) -> RawRecord {
        self.flush_table();
        self.flush_text();
        RawRecord { fields: self.fields, heading: Some(self.heading), line: self.line }
    }
}

pub fn read_markdown(path: &Path, text: &str) -> Result<(Vec<RawRecord>, Option<String>)> {
    let mut title = None;
    let mut records = Vec::new();
    let mut cur: Option<Section> = None;
    let mut fence: Option<&str> = None;
    let mut in_comment = false;
    for (line_no, line) in numbered_lines(path, text, MAX_LINE_BYTES)? {
        let trimmed = line.trim();
        if let Some(f) = fence {
            if trimmed.starts_with(f) {
                fence = None;
            }
            continue;
        }
        if in_comment {
            in_comment = !trimmed.contains("-->");
            continue;
        }
        if trimmed.starts_with("<!--") {
            in_comment = !trimmed.contains("-->");
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = Some(&trimmed[..3]);
            continue;
        }
        let level = heading_level(trimmed);
        if level == 1 {
            if title.is_none() && cur.is_none() {
                title = Some(catalogue_name_from_title(&clean_inline(&trimmed[1..])));
            }
            continue;
        }
        if level == 2 {
            if let Some(s) = cur.take() {
                records.push(s.finish());
            }
            let heading = clean_inline(trimmed.trim_start_matches('#').trim_end_matches('#'));
            let (name, full) = split_heading(&heading);
            if name.is_empty() {
                return Err(Error::data(path, line_no, "section heading '##' has no name"));
            }
            let mut s = Section::new(name, line_no);
            if let Some(full) = full {
                s.push_field("intitulé".to_string(), full);
            }
            cur = Some(s);
            continue;
        }
        let Some(s) = cur.as_mut() else { continue };
        let is_table = trimmed.starts_with('|');
        if !is_table {
            s.flush_table();
        }
        if level >= 3 {
            s.flush_text();
            let label = clean_inline(trimmed.trim_start_matches('#').trim_end_matches('#'));
            let label = label.trim_end_matches(':').trim().to_string();
            let idx = s.push_field(label, String::new());
            s.sub = Some(idx);
            s.open_field = Some(idx);
            continue;
        }
        if trimmed.is_empty() {
            s.flush_text();
            continue;
        }
        if is_table {
            s.flush_text();
            let cells: Vec<String> = trimmed.trim_matches('|').split('|').map(|c| clean_inline(c.trim())).collect();
            s.table.push((line_no, cells));
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        if let Some(item) = bullet_body(trimmed) {
            s.flush_text();
            let item = clean_inline(item);
            match (indent >= 2, label_value(&item)) {
                // A nested bullet adds an item to the open field ("Technologies :" then "  - Java").
                (true, _) if s.open_field.is_some() => {
                    if let Some(i) = s.open_field {
                        s.add_item(i, item);
                    }
                }
                (_, Some((label, value))) => {
                    let idx = s.push_field(label, value);
                    s.open_field = Some(idx);
                }
                (_, None) => match s.sub {
                    Some(i) => s.add_item(i, item),
                    None => s.text.push(item),
                },
            }
            continue;
        }
        // An indented line continues the last field; other text is a paragraph.
        match (indent >= 2, s.open_field) {
            (true, Some(i)) if s.text.is_empty() && s.sub != Some(i) => s.append_text(i, &clean_inline(trimmed)),
            _ => s.text.push(clean_inline(trimmed)),
        }
    }
    if let Some(s) = cur.take() {
        records.push(s.finish());
    }
    if records.is_empty() {
        return Err(Error::data(path, 1, "no '## ' section found: each entity must start with a '## Name' heading"));
    }
    Ok((records, title))
}

fn heading_level(t: &str) -> usize {
    let n = t.chars().take_while(|&c| c == '#').count();
    if n > 0 && (t[n..].starts_with(' ') || t[n..].is_empty()) {
        n
    } else {
        0
    }
}

/// "- text", "* text", "+ text", "1. text" → "text".
fn bullet_body(t: &str) -> Option<&str> {
    for m in ["- ", "* ", "+ "] {
        if let Some(r) = t.strip_prefix(m) {
            return Some(r.trim());
        }
    }
    let digits = t.chars().take_while(|c| c.is_ascii_digit()).count();
    if digits > 0 && digits < 4 {
        let rest = &t[digits..];
        if let Some(r) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return Some(r.trim());
        }
    }
    None
}

/// "**Champ** : valeur", "**Champ :** valeur", "Champ: valeur" → (Champ, valeur).
/// The label must be short: a sentence with a colon in it is not a field.
fn label_value(item: &str) -> Option<(String, String)> {
    // clean_inline has already removed the bold markers.
    let (label, value) = item.split_once(':')?;
    let label = label.trim();
    // "https://..." is a value, not a label.
    if value.starts_with("//") || label.is_empty() || label.chars().count() > 50 || label.split_whitespace().count() > 6 {
        return None;
    }
    if label.ends_with(|c: char| c.is_ascii_digit()) && value.starts_with(|c: char| c.is_ascii_digit()) {
        return None; // a time "10:30"
    }
    Some((label.to_string(), value.trim().to_string()))
}

/// "GIDAF — Gestion intégrée..." → ("GIDAF", Some("Gestion intégrée...")).
/// Leading numbering ("1. ", "3) ") is dropped.
fn split_heading(h: &str) -> (String, Option<String>) {
    let h = h.trim();
    let h = match bullet_body(h) {
        Some(rest) if h.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => h,
    };
    for sep in [" — ", " – ", " - ", " : ", ": "] {
        if let Some((a, b)) = h.split_once(sep) {
            if !a.trim().is_empty() && !b.trim().is_empty() {
                return (a.trim().to_string(), Some(b.trim().to_string()));
            }
        }
    }
    (h.to_string(), None)
}

/// "Catalogue des applications du GIPSE" → "GIPSE"; "Applications NOVATERRE" →
/// "NOVATERRE": the words that say "this is a catalogue" are dropped.
fn catalogue_name_from_title(title: &str) -> String {
    const LEAD: &[&str] = &[
        "catalogue",
        "liste",
        "inventaire",
        "referentiel",
        "cartographie",
        "applications",
        "application",
        "des",
        "de",
        "du",
        "d",
        "l",
        "la",
        "le",
        "les",
        "catalog",
        "list",
        "inventory",
        "of",
        "the",
        "apps",
    ];
    let mut rest = title.trim();
    loop {
        let word_end = rest.find([' ', '\'', '’']).unwrap_or(rest.len());
        let word = &rest[..word_end];
        if word.is_empty() || !LEAD.contains(&fold(word).as_str()) || word_end == rest.len() {
            break;
        }
        rest = rest[word_end..].trim_start_matches(['\'', '’']).trim_start();
    }
    if rest.is_empty() {
        title.trim().to_string()
    } else {
        rest.to_string()
    }
}

/// Removes inline Markdown: bold/italic markers, code ticks, `[text](url)`
/// links (kept as "text (url)", or the URL alone when the text is the URL)
/// and `<url>` autolinks.
pub fn clean_inline(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let parsed = after.find("](").and_then(|close| {
            let tail = &after[close + 2..];
            tail.find(')').map(|end| (&after[..close], &tail[..end], &tail[end + 1..]))
        });
        match parsed {
            Some((text, url, tail)) => {
                out.push_str(&rest[..open]);
                let text = text.trim();
                if text.is_empty() || text == url || text.replace("**", "") == url {
                    out.push_str(url);
                } else {
                    out.push_str(&format!("{text} ({url})"));
                }
                rest = tail;
            }
            None => {
                out.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    let out = out.replace("**", "").replace("__", "").replace('`', "");
    let out: String = out.chars().filter(|&c| c != '*').collect();
    let out = if out.contains('<') { strip_autolinks(&out) } else { out };
    collapse_spaces(out.trim_end_matches("  "))
}

fn strip_autolinks(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        match tail.find('>') {
            Some(j) if tail[..j].contains("://") || tail[..j].contains('@') => {
                out.push_str(&tail[..j]);
                rest = &tail[j + 1..];
            }
            _ => {
                out.push('<');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(r: &RawRecord) -> Vec<(&str, &str)> {
        r.fields.iter().map(|(k, v, _)| (k.as_str(), v.as_str())).collect()
    }

    #[test]
    fn bullets_tables_text() {
        let md = "# Catalogue des applications du GIPSE\n\nIntro.\n\n## 1. GIDAF — Gestion des dossiers\n\
GIDAF gère les dossiers\nadministratifs.\n\n- **Hébergement** : DSI, Rennes\n- **Technologies :**\n  - Java\n  - PostgreSQL\n\
- Statut: en production\n  depuis longtemps\n\n## SIRCOM\n\n| Champ | Valeur |\n|---|---|\n| Responsable | Mme **Durand** |\n\
| URL | [site](https://sircom.example) |\n\n### Dépendances\n- GIDAF\n- LDAP\n\n### Notes\nTexte libre.\n```\n- **Faux** : non\n```\n";
        let (recs, title) = read_markdown(Path::new("c.md"), md).unwrap();
        assert_eq!(title.as_deref(), Some("GIPSE"));
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].heading.as_deref(), Some("GIDAF"));
        assert_eq!(recs[0].line, 5);
        assert_eq!(
            fields(&recs[0]),
            [
                ("intitulé", "Gestion des dossiers"),
                ("description", "GIDAF gère les dossiers administratifs."),
                ("Hébergement", "DSI, Rennes"),
                ("Technologies", "Java, PostgreSQL"),
                ("Statut", "en production depuis longtemps"),
            ]
        );
        assert_eq!(recs[0].fields[3].2, Some(vec!["Java".to_string(), "PostgreSQL".to_string()]));
        assert_eq!(
            fields(&recs[1]),
            [
                ("Responsable", "Mme Durand"),
                ("URL", "site (https://sircom.example)"),
                ("Dépendances", "GIDAF, LDAP"),
                ("Notes", "Texte libre.")
            ]
        );
    }

    #[test]
    fn wide_table_and_no_sections() {
        let md = "## A\n| Langage | Base | Serveur |\n|--|--|--|\n| Rust | SQLite | nginx |\n## B\n| Hébergement | Cloud |\n|---|---|\n| Statut | actif |\n";
        let (recs, _) = read_markdown(Path::new("c.md"), md).unwrap();
        assert_eq!(fields(&recs[0]), [("Langage", "Rust"), ("Base", "SQLite"), ("Serveur", "nginx")]);
        assert_eq!(fields(&recs[1]), [("Hébergement", "Cloud"), ("Statut", "actif")]);
        let e = read_markdown(Path::new("c.md"), "# Titre\n\nDu texte sans section.\n").err().unwrap().to_string();
        assert!(e.starts_with("c.md:1: no '## ' section found"), "{e}");
    }

    #[test]
    fn inline_cleanup() {
        assert_eq!(clean_inline("**Gras** et `code` [https://x.y](https://x.y) <https://a.b>"), "Gras et code https://x.y https://a.b");
        assert_eq!(catalogue_name_from_title("Applications NOVATERRE"), "NOVATERRE");
        assert_eq!(catalogue_name_from_title("Catalogue"), "Catalogue");
    }
}
