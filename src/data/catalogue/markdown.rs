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

/// A field being read. Text and items added to it are kept apart and joined
/// once, when the section ends ([`MdField::finish`]): joining at every
/// addition made a field of n continuation lines or nested bullets cost n².
struct MdField {
    key: String,
    value: String,
    items: Option<Vec<String>>,
    /// Text appended to `value` while it has no items; `value` is then the
    /// spaces-collapsed "value more[0] more[1]...".
    more: Vec<String>,
    /// `value` is the items joined with ", " (set by any addition to the items).
    joined: bool,
}

impl MdField {
    fn new(key: String, value: String) -> Self {
        MdField { key, value, items: None, more: Vec::new(), joined: false }
    }

    /// Applies the appended text to `value` (while there are no items).
    fn settle_text(&mut self) {
        if !self.more.is_empty() {
            let mut joined = std::mem::take(&mut self.value);
            for m in self.more.drain(..) {
                joined.push(' ');
                joined.push_str(&m);
            }
            self.value = collapse_spaces(&joined);
        }
    }

    /// A new item; the value becomes the first item when there are none yet.
    fn add_item(&mut self, item: String) {
        if self.items.is_none() {
            self.settle_text();
        }
        let value = &self.value;
        let items = self.items.get_or_insert_with(|| if value.trim().is_empty() { Vec::new() } else { vec![value.clone()] });
        items.push(item);
        self.joined = true;
    }

    /// A continuation: added to the last item, or to the value.
    fn append_text(&mut self, text: &str) {
        match self.items.as_mut() {
            Some(items) => {
                if let Some(last) = items.last_mut() {
                    last.push(' ');
                    last.push_str(text);
                }
                self.joined = true;
            }
            None => self.more.push(text.to_string()),
        }
    }

    fn finish(mut self) -> (String, String, Option<Vec<String>>) {
        self.settle_text();
        if self.joined {
            self.value = self.items.as_ref().map(|i| i.join(", ")).unwrap_or_default();
        }
        (self.key, self.value, self.items)
    }
}

struct Section {
    heading: String,
    line: usize,
    fields: Vec<MdField>,
    /// Whether a field's name says it is a description (plain text then goes
    /// to a "texte" field rather than "description").
    has_description: bool,
    /// The first fields named exactly "description" and "texte".
    description_field: Option<usize>,
    texte_field: Option<usize>,
    /// The field that nested bullets and continuation lines add to.
    open_field: Option<usize>,
    /// The `### Sub-heading` that plain text and bullets belong to.
    sub: Option<usize>,
    text: Vec<String>,
    table: Vec<(usize, Vec<String>)>,
}

impl Section {
    fn new(heading: String, line: usize) -> Self {
        Section {
            heading,
            line,
            fields: Vec::new(),
            has_description: false,
            description_field: None,
            texte_field: None,
            open_field: None,
            sub: None,
            text: Vec::new(),
            table: Vec::new(),
        }
    }

    fn push_field(&mut self, key: String, value: String) -> usize {
        let idx = self.fields.len();
        if !self.has_description && super::fields::classify(&key) == super::FieldKind::Description {
            self.has_description = true;
        }
        if key == "description" && self.description_field.is_none() {
            self.description_field = Some(idx);
        }
        if key == "texte" && self.texte_field.is_none() {
            self.texte_field = Some(idx);
        }
        self.fields.push(MdField::new(key, value));
        idx
    }

    fn add_item(&mut self, idx: usize, item: String) {
        self.fields[idx].add_item(item);
    }

    fn append_text(&mut self, idx: usize, text: &str) {
        self.fields[idx].append_text(text);
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
                let (key, existing) =
                    if self.has_description { ("texte", self.texte_field) } else { ("description", self.description_field) };
                match existing {
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
            // One pass over the rows (not one per column: a wide header over
            // many short rows made that columns × rows).
            let mut columns: Vec<Vec<String>> = vec![Vec::new(); header.len()];
            for row in &data[1..] {
                for (column, v) in columns.iter_mut().zip(row.iter()) {
                    if !v.is_empty() {
                        column.push(v.clone());
                    }
                }
            }
            for (name, values) in header.iter().zip(columns) {
                if !name.is_empty() && !values.is_empty() {
                    let joined = values.join("; ");
                    let idx = self.push_field(name.clone(), joined);
                    if values.len() > 1 {
                        self.fields[idx].items = Some(values);
                    }
                }
            }
        }
    }

    fn finish(mut self) -> RawRecord {
        self.flush_table();
        self.flush_text();
        RawRecord { fields: self.fields.into_iter().map(MdField::finish).collect(), heading: Some(self.heading), line: self.line }
    }
}

pub fn read_markdown(path: &Path, text: &str) -> Result<(Vec<RawRecord>, Option<String>)> {
    let mut title = None;
    let mut records = Vec::new();
    let mut cur: Option<Section> = None;
    // The open code fence ("```" or "~~~") or HTML comment, with its line:
    // one never closed would hide the rest of the file, so it is refused.
    let mut fence: Option<(&str, usize)> = None;
    let mut comment: Option<usize> = None;
    for (line_no, line) in numbered_lines(path, text, MAX_LINE_BYTES)? {
        let trimmed = line.trim();
        if let Some((f, _)) = fence {
            if trimmed.starts_with(f) {
                fence = None;
            }
            continue;
        }
        if comment.is_some() {
            if trimmed.contains("-->") {
                comment = None;
            }
            continue;
        }
        if trimmed.starts_with("<!--") {
            if !trimmed.contains("-->") {
                comment = Some(line_no);
            }
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fence = Some((&trimmed[..3], line_no));
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
    if let Some((f, line_no)) = fence {
        return Err(Error::data(
            path,
            line_no,
            format!(
                "code block opened here with {f} is never closed: add a {f} line where it ends (the rest of the file would be ignored)"
            ),
        ));
    }
    if let Some(line_no) = comment {
        return Err(Error::data(
            path,
            line_no,
            "HTML comment opened here with <!-- is never closed: add --> where it ends (the rest of the file would be ignored)",
        ));
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
///
/// Linear in the length of `s`: every search starts where the last one
/// stopped, and a failed link or autolink search ends the pass (see
/// [`replace_links`] and [`strip_autolinks`]), so runs of `[`, `<` or `[a](`
/// cost no more than any other text.
pub fn clean_inline(s: &str) -> String {
    let out = replace_links(s);
    let out = out.replace("**", "").replace("__", "").replace('`', "");
    let out: String = out.chars().filter(|&c| c != '*').collect();
    let out = if out.contains('<') { strip_autolinks(&out) } else { out };
    collapse_spaces(out.trim_end_matches("  "))
}

/// `[text](url)` → "text (url)", or the URL alone when the text is empty or
/// is the URL. A link runs from a `[` to the first `](` after it, then to the
/// first `)` after that.
///
/// When the search from one `[` fails, the search from any later `[` fails
/// too: its first `](` is at or after the failed one's, and there is no `)`
/// after that (or no `](` at all). So the first failure ends the pass, with
/// the same result as trying every `[` in turn, and each byte is searched
/// once: linear time.
fn replace_links(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let parsed = after.find("](").and_then(|close| {
            let tail = &after[close + 2..];
            tail.find(')').map(|end| (&after[..close], &tail[..end], &tail[end + 1..]))
        });
        let Some((text, url, tail)) = parsed else { break };
        out.push_str(&rest[..open]);
        let text = text.trim();
        if text.is_empty() || text == url || text.replace("**", "") == url {
            out.push_str(url);
        } else {
            out.push_str(text);
            out.push_str(" (");
            out.push_str(url);
            out.push(')');
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// `<https://x.y>` and `<a@b.c>` → the address; other `<...>` text is kept.
///
/// Linear: from a `<` the search goes to the first `>` after it. When there
/// is none, no later `<` has one either, so the rest is kept as it is. When
/// the text between them is not an address, it is not one from any `<`
/// between them either (each sees a shorter part of the same text before the
/// same `>`), so the whole span up to the `>` is kept as it is and the search
/// goes on after it.
fn strip_autolinks(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        let Some(j) = tail.find('>') else {
            out.push('<');
            rest = tail;
            break;
        };
        if tail[..j].contains("://") || tail[..j].contains('@') {
            out.push_str(&tail[..j]);
        } else {
            out.push('<');
            out.push_str(&tail[..=j]);
        }
        rest = &tail[j + 1..];
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

    /// The link and autolink passes as they were before they were made
    /// linear (trying every `[` and `<` in turn): the reference the new ones
    /// must match on any input.
    fn clean_inline_reference(s: &str) -> String {
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
        let out = if out.contains('<') {
            let mut o = String::new();
            let mut rest = out.as_str();
            while let Some(i) = rest.find('<') {
                o.push_str(&rest[..i]);
                let tail = &rest[i + 1..];
                match tail.find('>') {
                    Some(j) if tail[..j].contains("://") || tail[..j].contains('@') => {
                        o.push_str(&tail[..j]);
                        rest = &tail[j + 1..];
                    }
                    _ => {
                        o.push('<');
                        rest = tail;
                    }
                }
            }
            o.push_str(rest);
            o
        } else {
            out
        };
        collapse_spaces(out.trim_end_matches("  "))
    }

    #[test]
    fn linear_inline_cleanup_matches_the_reference() {
        // Every string of up to 6 symbols from a small alphabet of the
        // characters that matter, then longer pseudo-random ones.
        let alphabet: Vec<char> = "[]()<>!*_`:/@ a".chars().collect();
        let mut checked = 0;
        let mut strings = vec![String::new()];
        for _ in 0..4 {
            let mut next = Vec::new();
            for s in &strings {
                for c in &alphabet {
                    let t = format!("{s}{c}");
                    assert_eq!(clean_inline(&t), clean_inline_reference(&t), "{t:?}");
                    checked += 1;
                    next.push(t);
                }
            }
            strings = next;
        }
        let pieces = ["[", "]", "](", ")", "<", ">", "://", "@", "**", "__", "`", "!", "x", " ", "é", "  "];
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        for _ in 0..20_000 {
            let mut t = String::new();
            for _ in 0..(state % 24) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                t.push_str(pieces[(state % pieces.len() as u64) as usize]);
            }
            state = state.wrapping_add(1);
            assert_eq!(clean_inline(&t), clean_inline_reference(&t), "{t:?}");
            checked += 1;
        }
        assert!(checked > 50_000);
    }

    #[test]
    fn fields_built_piece_by_piece() {
        // Continuations, nested bullets, paragraphs and table columns: the
        // same values as when each addition re-joined the whole field.
        let md = "## A\n- Statut: en\n  production\n  depuis 2020\n- Technologies: Java\n  - Rust\n  - Go\n    et C\n\
- Notes:\n  - un\n\nPremier paragraphe.\n\nSecond\nparagraphe.\n\nTroisième.\n\n\
| Langage | Description | Base |\n|--|--|--|\n| Rust | x | pg |\n| Go | y | |\n\nEncore.\n";
        let (recs, _) = read_markdown(Path::new("c.md"), md).unwrap();
        assert_eq!(
            fields(&recs[0]),
            [
                ("Statut", "en production depuis 2020"),
                ("Technologies", "Java, Rust, Go et C"),
                ("Notes", "un"),
                ("description", "Premier paragraphe."),
                ("texte", "Second paragraphe. Troisième. Encore."),
                ("Langage", "Rust; Go"),
                ("Description", "x; y"),
                ("Base", "pg"),
            ]
        );
        assert_eq!(recs[0].fields[1].2, Some(vec!["Java".to_string(), "Rust".to_string(), "Go et C".to_string()]));
        // A paragraph added to a table column's items: joined with ", " from then on.
        let md = "## A\n| Nom | Description | texte |\n|--|--|--|\n| a | x | t1 |\n| b | y | t2 |\n\nSuite.\n";
        let (recs, _) = read_markdown(Path::new("c.md"), md).unwrap();
        assert_eq!(fields(&recs[0]), [("Nom", "a; b"), ("Description", "x; y"), ("texte", "t1, t2 Suite.")]);
    }

    #[test]
    fn unclosed_blocks_are_refused_at_the_line_that_opened_them() {
        let p = Path::new("c.md");
        let e = read_markdown(p, "## A\n- k: v\n\n```text\n- **Faux** : non\n## B\n").err().unwrap().to_string();
        assert!(e.starts_with("c.md:4: code block opened here with ``` is never closed"), "{e}");
        let e = read_markdown(p, "## A\n~~~\nx\n```\n").err().unwrap().to_string();
        assert!(e.starts_with("c.md:2: code block opened here with ~~~ is never closed"), "{e}");
        let e = read_markdown(p, "## A\n<!-- fin -->\n- k: v\n<!-- début\n## B\n- k: v\n").err().unwrap().to_string();
        assert!(e.starts_with("c.md:4: HTML comment opened here with <!-- is never closed"), "{e}");
        let (recs, _) = read_markdown(p, "## A\n```\nx\n```\n<!--\n-->\n- k: v\n").unwrap();
        assert_eq!(fields(&recs[0]), [("k", "v")]);
    }

    #[test]
    fn pathological_inputs_take_linear_time() {
        // 1 MB each. Before, `[`, `<`, `![`, `[a](`, paragraphs, continuation
        // lines, nested bullets and wide tables each took from 20 s to many
        // minutes (quadratic); now each is a few milliseconds to ~0.2 s.
        const N: usize = 1_000_000;
        let cases: Vec<(&str, String)> = vec![
            ("[", format!("## A\n{}\n", "[".repeat(N))),
            ("heading [", format!("## {}\n", "[".repeat(N))),
            ("<", format!("## A\n{}\n", "<".repeat(N))),
            ("<...>", format!("## A\n{}>\n", "<".repeat(N))),
            ("![", format!("## A\n{}\n", "![".repeat(N / 2))),
            ("[a](", format!("## A\n{}\n", "[a](".repeat(N / 4))),
            ("[a](b)", format!("## A\n{}\n", "[a](b)".repeat(N / 6))),
            ("*", format!("## A\n{}\n", "*".repeat(N))),
            ("_", format!("## A\n{}\n", "_".repeat(N))),
            ("`", format!("## A\nx{}\n", "`".repeat(N))),
            ("|", format!("## A\n{}\n", "|".repeat(N))),
            ("wide table", format!("## A\n{}|\n{}|\n{}", "|a".repeat(N / 4), "|-".repeat(N / 4), "|x|\n".repeat(N / 8))),
            ("nested bullets", format!("## A\n- T:\n{}", "  - x\n".repeat(N / 6))),
            ("continuations", format!("## A\n- S: v\n{}", "  suite\n".repeat(N / 8))),
            ("paragraphs", format!("## A\n{}", "p\n\n".repeat(N / 3))),
            ("fields then paragraphs", format!("## A\n{}{}", "- k: v\n".repeat(N / 14), "p\n\n".repeat(N / 6))),
            ("fences", "```\n".repeat(N / 4)),
        ];
        for (name, md) in cases {
            let t = std::time::Instant::now();
            let r = read_markdown(Path::new("c.md"), &md);
            let dt = t.elapsed();
            assert!(dt.as_secs_f64() < 2.0, "{name}: {dt:?}");
            assert!(r.is_ok() || name == "fences", "{name}: {:?}", r.err());
        }
    }
}
