//! JSONL (one object per line) and JSON (an array of objects, or an object
//! holding one such array) catalogues. Field order is kept as written.

use super::source::{numbered_lines, MAX_LINE_BYTES};
use super::RawRecord;
use crate::formats::json;
use crate::{Error, Result};
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt;
use std::marker::PhantomData;
use std::path::Path;

/// A JSON object's entries in file order (serde_json's Map sorts its keys).
/// `V` is the values' type: `Value` for records, `&RawValue` for the object
/// that wraps a list of records. A key written twice is not refused here:
/// the readers refuse it first, through [`json::reject_duplicate_keys`],
/// like every other data reader.
struct OrderedObject<V>(Vec<(String, V)>);

impl<'de, V: serde::Deserialize<'de>> serde::Deserialize<'de> for OrderedObject<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Entries<V>(PhantomData<V>);
        impl<'de, V: serde::Deserialize<'de>> Visitor<'de> for Entries<V> {
            type Value = OrderedObject<V>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object {...}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<OrderedObject<V>, A::Error> {
                let mut out = Vec::new();
                while let Some(k) = m.next_key::<String>()? {
                    out.push((k, m.next_value()?));
                }
                Ok(OrderedObject(out))
            }
        }
        d.deserialize_map(Entries(PhantomData))
    }
}

/// A record's entries.
type Record = OrderedObject<Value>;

/// "expected value at line 1 column 7" → "expected value at column 7";
/// `column` is where the error is on its line of the file.
fn json_error(e: &serde_json::Error, with_line: bool, column: usize) -> String {
    let full = e.to_string();
    let msg = match full.rfind(" at line ") {
        Some(i) => &full[..i],
        None => full.as_str(),
    };
    let msg = match e.classify() {
        serde_json::error::Category::Eof => format!("{msg} (the JSON is cut short)"),
        _ => msg.to_string(),
    };
    if with_line {
        format!("invalid JSON: {msg} (column {column})")
    } else {
        format!("invalid JSON: {msg} at column {column}")
    }
}

pub fn read_jsonl(path: &Path, text: &str) -> Result<Vec<RawRecord>> {
    let mut out = Vec::new();
    for (line_no, line) in numbered_lines(path, text, MAX_LINE_BYTES)? {
        if line.trim().is_empty() {
            continue;
        }
        let obj: Record = serde_json::from_str(line).map_err(|e| {
            let msg = if line.trim_start().starts_with('{') {
                json_error(&e, false, e.column())
            } else {
                format!("expected a JSON object {{...}} on each line, found: {}", preview(line))
            };
            Error::data(path, line_no, msg)
        })?;
        json::reject_duplicate_keys(path, line_no, line)?;
        out.push(to_raw(obj, line_no));
    }
    Ok(out)
}

pub fn read_json(path: &Path, text: &str) -> Result<Vec<RawRecord>> {
    // Parsing `text` itself (not a part of it) keeps serde_json's lines the file's.
    let whole = |e: serde_json::Error| Error::data(path, e.line(), json_error(&e, true, e.column()));
    let top: &RawValue = serde_json::from_str(text).map_err(whole)?;
    // At any depth, in the whole document: the file's lines and columns.
    json::reject_duplicate_keys(path, 1, text)?;
    let body = top.get().trim_start();
    let mut lines = LineCounter::new(text);
    let items: Vec<&RawValue> = if body.starts_with('[') {
        serde_json::from_str(text).map_err(whole)?
    } else if body.starts_with('{') {
        // {"applications": [...]}: one field holding the list; otherwise the
        // object is itself the only record.
        let entries: OrderedObject<&RawValue> = serde_json::from_str(text).map_err(whole)?;
        match entries.0.as_slice() {
            [(_, v)] if v.get().trim_start().starts_with('[') => serde_json::from_str(v.get()).map_err(|e| {
                let (line, column) = lines.locate(offset_in(text, v), &e);
                Error::data(path, line, json_error(&e, true, column))
            })?,
            _ => vec![top],
        }
    } else {
        return Err(Error::data(path, 1, "expected a JSON array of records [{...}, ...] or an object"));
    };
    let mut out = Vec::new();
    for item in items {
        let offset = offset_in(text, item);
        let line = lines.line_at(offset);
        let obj: Record = serde_json::from_str(item.get()).map_err(|_| {
            Error::data(path, line, format!("expected a JSON object {{...}} for each record, found: {}", preview(item.get())))
        })?;
        out.push(to_raw(obj, line));
    }
    Ok(out)
}

/// Lines of byte offsets in a text, counted on from the last offset asked
/// for: asking for the records' offsets in order costs one pass over the
/// text (counting from the start each time made a big array quadratic).
struct LineCounter<'a> {
    text: &'a [u8],
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        LineCounter { text: text.as_bytes(), offset: 0, line: 1 }
    }

    /// The 1-based line of byte `offset`.
    fn line_at(&mut self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        if offset < self.offset {
            self.offset = 0;
            self.line = 1;
        }
        self.line += self.text[self.offset..offset].iter().filter(|&&b| b == b'\n').count();
        self.offset = offset;
        self.line
    }

    /// The file's line and column of error `e`, raised while parsing the
    /// part of the text that starts at byte `start`.
    fn locate(&mut self, start: usize, e: &serde_json::Error) -> (usize, usize) {
        let line = self.line_at(start);
        if e.line() <= 1 {
            let start = start.min(self.text.len());
            let line_start = self.text[..start].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
            (line, start - line_start + e.column())
        } else {
            (line + e.line() - 1, e.column())
        }
    }
}

/// Byte offset of a borrowed raw value inside the text it was parsed from.
fn offset_in(text: &str, v: &RawValue) -> usize {
    (v.get().as_ptr() as usize).saturating_sub(text.as_ptr() as usize)
}

fn preview(s: &str) -> String {
    let t: String = s.trim().chars().take(40).collect();
    if t.len() < s.trim().len() {
        format!("{t}...")
    } else {
        t
    }
}

fn to_raw(obj: Record, line: usize) -> RawRecord {
    let mut fields = Vec::new();
    for (k, v) in obj.0 {
        flatten(&k, &v, &mut fields);
    }
    RawRecord { fields, heading: None, line }
}

/// Scalars become text, arrays of scalars become item lists, objects become
/// one field per entry ("contact email").
fn flatten(key: &str, v: &Value, out: &mut Vec<(String, String, Option<Vec<String>>)>) {
    match v {
        Value::Null => {}
        Value::Object(m) => {
            for (k2, v2) in m {
                flatten(&format!("{key} {k2}"), v2, out);
            }
        }
        Value::Array(a) => {
            let items: Vec<String> = a.iter().filter_map(scalar).filter(|s| !s.trim().is_empty()).collect();
            if !items.is_empty() {
                out.push((key.to_string(), items.join(", "), Some(items)));
            }
        }
        _ => {
            if let Some(s) = scalar(v) {
                out.push((key.to_string(), s, None));
            }
        }
    }
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(if *b { "oui" } else { "non" }.to_string()),
        Value::Object(m) => {
            // An object inside a list ({"nom": "X"}): its values, joined.
            let parts: Vec<String> = m.values().filter_map(scalar).collect();
            (!parts.is_empty()).then(|| parts.join(" "))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_errors_name_the_line() {
        let p = Path::new("c.jsonl");
        let e = read_jsonl(p, "{\"nom\":\"A\"}\n\n{\"nom\": \"B\",}\n").err().unwrap().to_string();
        assert!(e.starts_with("c.jsonl:3: invalid JSON"), "{e}");
        let e = read_jsonl(p, "[1,2]\n").err().unwrap().to_string();
        assert!(e.starts_with("c.jsonl:1: expected a JSON object"), "{e}");
    }

    #[test]
    fn json_array_lines_and_order() {
        let p = Path::new("c.json");
        let recs = read_json(p, "[\n  {\"z\": 1, \"a\": [\"x\", \"y\"]},\n  {\"nom\": \"B\", \"o\": {\"k\": true}}\n]").unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].line, 2);
        assert_eq!(recs[1].line, 3);
        assert_eq!(recs[0].fields[0].0, "z");
        assert_eq!(recs[0].fields[1], ("a".to_string(), "x, y".to_string(), Some(vec!["x".to_string(), "y".to_string()])));
        assert_eq!(recs[1].fields[1].0, "o k");
        let wrapped = read_json(p, "{\"applications\": [{\"nom\": \"A\"}]}").unwrap();
        assert_eq!(wrapped.len(), 1);
        let e = read_json(p, "[\n{\"nom\": \"A\"},\n{\"nom\" \"B\"}\n]").err().unwrap().to_string();
        assert!(e.starts_with("c.json:3: invalid JSON"), "{e}");
        let e = read_json(p, "[\n{\"nom\": \"A\"},\n 5\n]").err().unwrap().to_string();
        assert!(e.starts_with("c.json:3: expected a JSON object"), "{e}");
    }

    #[test]
    fn duplicate_keys_are_refused_with_the_line_and_key() {
        // The message is formats::json's, as for every data reader.
        let p = Path::new("c.jsonl");
        let e = read_jsonl(p, "{\"nom\":\"A\"}\n{\"nom\":\"B\",\"statut\":\"x\",\"nom\":\"C\"}\n").err().unwrap().to_string();
        assert_eq!(
            e,
            "c.jsonl:2: duplicate key \"nom\" (column 25): a key may appear only once in an object (JSON readers differ on which one they keep)"
        );
        // Nested objects, and objects inside lists, too: where it is.
        let e = read_jsonl(p, "{\"nom\":\"A\",\"contact\":{\"mail\":\"a\",\"mail\":\"b\"}}\n").err().unwrap().to_string();
        assert!(e.starts_with("c.jsonl:1: duplicate key \"mail\" in contact (column 34)"), "{e}");
        let e = read_jsonl(p, "{\"nom\":\"A\",\"users\":[{\"n\":1,\"n\":2}]}\n").err().unwrap().to_string();
        assert!(e.starts_with("c.jsonl:1: duplicate key \"n\" in users[0]"), "{e}");
        // The same key in two records, or in two objects of one record, is fine.
        read_jsonl(p, "{\"nom\":\"A\",\"o\":{\"k\":1},\"p\":{\"k\":2}}\n{\"nom\":\"B\"}\n").unwrap();
        // JSON arrays: the file's line and column.
        let p = Path::new("c.json");
        let e = read_json(p, "[\n{\"nom\": \"A\"},\n  {\"nom\": \"B\", \"nom\": \"C\"}\n]").err().unwrap().to_string();
        assert!(e.starts_with("c.json:3: duplicate key \"nom\" in [1] (column 16): a key may appear only once"), "{e}");
        let e = read_json(p, "[\n{\"nom\": \"A\",\n \"x\": 1,\n \"x\": 2}\n]").err().unwrap().to_string();
        assert!(e.starts_with("c.json:4: duplicate key \"x\" in [0] (column 2)"), "{e}");
        let e = read_json(p, "{\"applications\": [], \"applications\": [{\"nom\": \"A\"}]}").err().unwrap().to_string();
        assert!(e.starts_with("c.json:1: duplicate key \"applications\" (column 22)"), "{e}");
        let e = read_json(p, "{\"applications\": [\n{\"nom\": \"A\", \"nom\": \"B\"}]}").err().unwrap().to_string();
        assert!(e.starts_with("c.json:2: duplicate key \"nom\" in applications[0]"), "{e}");
        // serde_json's depth limit still applies (no stack overflow).
        let deep = format!("{{\"nom\": {}{}}}", "[".repeat(100_000), "]".repeat(100_000));
        let e = read_jsonl(Path::new("c.jsonl"), &deep).err().unwrap().to_string();
        assert!(e.contains("recursion limit"), "{e}");
        let e = read_json(Path::new("c.json"), &format!("[{deep}]")).err().unwrap().to_string();
        assert!(e.contains("recursion limit"), "{e}");
    }

    #[test]
    fn big_json_array_is_read_in_linear_time() {
        // 250 000 records: counting each record's line from the start of the
        // file took seconds (quadratic).
        let text = format!("[\n{}{{\"nom\": \"Z\"}}]\n", "{\"nom\": \"A\"},\n".repeat(250_000));
        let t = std::time::Instant::now();
        let recs = read_json(Path::new("c.json"), &text).unwrap();
        let dt = t.elapsed();
        assert_eq!(recs.len(), 250_001);
        assert_eq!(recs[249_999].line, 250_001);
        assert_eq!(recs[250_000].line, 250_002);
        assert!(dt.as_secs_f64() < 2.0, "{dt:?}");
    }
}
