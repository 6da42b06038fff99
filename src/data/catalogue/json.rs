//! JSONL (one object per line) and JSON (an array of objects, or an object
//! holding one such array) catalogues. Field order is kept as written.

use super::source::{line_of_offset, numbered_lines, MAX_LINE_BYTES};
use super::RawRecord;
use crate::{Error, Result};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value;
use std::path::Path;

/// A JSON object's entries in file order (serde_json's Map sorts its keys).
struct OrderedObject(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for OrderedObject {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = OrderedObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object {...}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> std::result::Result<OrderedObject, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, Value>()? {
                    out.push((k, v));
                }
                Ok(OrderedObject(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// "expected value at line 1 column 7" → "expected value at column 7".
fn json_error(e: &serde_json::Error, with_line: bool) -> String {
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
        format!("invalid JSON: {msg} (column {})", e.column())
    } else {
        format!("invalid JSON: {msg} at column {}", e.column())
    }
}

pub fn read_jsonl(path: &Path, text: &str) -> Result<Vec<RawRecord>> {
    let mut out = Vec::new();
    for (line_no, line) in numbered_lines(path, text, MAX_LINE_BYTES)? {
        if line.trim().is_empty() {
            continue;
        }
        let obj: OrderedObject = serde_json::from_str(line).map_err(|e| {
            let msg = if line.trim_start().starts_with('{') {
                json_error(&e, false)
            } else {
                format!("expected a JSON object {{...}} on each line, found: {}", preview(line))
            };
            Error::data(path, line_no, msg)
        })?;
        out.push(to_raw(obj, line_no));
    }
    Ok(out)
}

pub fn read_json(path: &Path, text: &str) -> Result<Vec<RawRecord>> {
    let top: &RawValue = serde_json::from_str(text).map_err(|e| Error::data(path, e.line(), json_error(&e, true)))?;
    let body = top.get().trim_start();
    let items: Vec<&RawValue> = if body.starts_with('[') {
        serde_json::from_str(top.get()).map_err(|e| Error::data(path, e.line(), json_error(&e, true)))?
    } else if body.starts_with('{') {
        // {"applications": [...]}: one field holding the list; otherwise the
        // object is itself the only record.
        let entries: Vec<(String, &RawValue)> = {
            let m: std::collections::BTreeMap<String, &RawValue> =
                serde_json::from_str(top.get()).map_err(|e| Error::data(path, e.line(), json_error(&e, true)))?;
            m.into_iter().collect()
        };
        match entries.as_slice() {
            [(_, v)] if v.get().trim_start().starts_with('[') => serde_json::from_str(v.get())
                .map_err(|e| Error::data(path, line_of_offset(text, offset_in(text, v)), json_error(&e, true)))?,
            _ => vec![top],
        }
    } else {
        return Err(Error::data(path, 1, "expected a JSON array of records [{...}, ...] or an object"));
    };
    let mut out = Vec::new();
    for item in items {
        let line = line_of_offset(text, offset_in(text, item));
        let obj: OrderedObject = serde_json::from_str(item.get()).map_err(|_| {
            Error::data(path, line, format!("expected a JSON object {{...}} for each record, found: {}", preview(item.get())))
        })?;
        out.push(to_raw(obj, line));
    }
    Ok(out)
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

fn to_raw(obj: OrderedObject, line: usize) -> RawRecord {
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
}
