//! The Jinja environment chat templates run in, made to behave like the one
//! transformers' `apply_chat_template` builds (`utils/chat_template_utils.py`):
//! `trim_blocks` and `lstrip_blocks` on, `raise_exception` and `strftime_now`
//! globals, a `tojson` that writes what Python's `json.dumps` writes, Python string
//! and dict methods (`.strip()`, `.startswith()`, `.items()`) through
//! minijinja-contrib's pycompat, and `{% generation %}` blocks (transformers'
//! assistant-mask extension) rendered as plain content.

use super::{py_json, strftime};
use minijinja::{Environment, Error, ErrorKind, Value};
use std::borrow::Cow;
use std::fmt::Write as _;

pub(crate) fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_trim_blocks(true);
    env.set_lstrip_blocks(true);
    env.set_keep_trailing_newline(false);
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.add_function("raise_exception", raise_exception);
    env.add_function("strftime_now", strftime::strftime_now);
    env.add_filter("tojson", py_json::tojson);
    env
}

fn raise_exception(message: String) -> Result<Value, Error> {
    Err(Error::new(ErrorKind::InvalidOperation, message))
}

/// `{% generation %}…{% endgeneration %}` → `{% if true %}…{% endif %}`, keeping the
/// whitespace-control markers so the output is the same as transformers'.
pub(crate) fn rewrite_generation_tags(source: &str) -> Cow<'_, str> {
    if !source.contains("generation") {
        return Cow::Borrowed(source);
    }
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(open) = rest.find("{%") {
        let (before, tag) = rest.split_at(open);
        out.push_str(before);
        // Searched after the `{%`: in `{%}` the `%}` overlapping it is no close.
        let Some(close) = tag[2..].find("%}").map(|i| i + 2) else {
            rest = tag; // `before` is written already
            break;
        };
        let inner = &tag[2..close];
        let body = inner.trim_start_matches(['-', '+']).trim_end_matches(['-', '+']);
        let replacement = match body.trim() {
            "generation" => Some("if true"),
            "endgeneration" => Some("endif"),
            _ => None,
        };
        match replacement {
            Some(word) => {
                let lead = &inner[..inner.len() - inner.trim_start_matches(['-', '+']).len()];
                let trail = &inner[inner.trim_end_matches(['-', '+']).len()..];
                let _ = write!(out, "{{%{lead} {word} {trail}%}}");
            }
            None => out.push_str(&tag[..close + 2]),
        }
        rest = &tag[close + 2..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {

    /// Found by fuzzing (fuzz/findings/chat_template/F02-*): in `{%}` the
    /// `%}` overlaps the `{%`, and slicing between them panicked; an unclosed
    /// tag also wrote the text before it twice.
    #[test]
    fn a_tag_closed_by_its_own_opening_is_left_alone() {
        assert_eq!(rewrite_generation_tags("\0{%}generation"), "\0{%}generation");
    }
    use super::*;

    fn render(src: &str, ctx: Value) -> String {
        let env = environment();
        env.render_str(src, ctx).unwrap()
    }

    #[test]
    fn tojson_matches_python_json_dumps() {
        let v = Value::from_serialize(serde_json::json!({
            "name": "get_weather", "n": 3, "x": 1.5, "big": 1e20, "small": 0.00001, "whole": 2.0,
            "ok": true, "none": null, "list": [1, "é\"\n<b>"], "empty": {}
        }));
        // json.dumps(..., ensure_ascii=False, sort_keys=True) in Python 3.11.
        let expected = r#"{"big": 1e+20, "empty": {}, "list": [1, "é\"\n<b>"], "n": 3, "name": "get_weather", "none": null, "ok": true, "small": 1e-05, "whole": 2.0, "x": 1.5}"#;
        assert_eq!(render("{{ v | tojson(sort_keys=true) }}", minijinja::context! { v => v.clone() }), expected);
        // json.dumps([1, {"a": []}], indent=2)
        let v = Value::from_serialize(serde_json::json!([1, {"a": []}]));
        assert_eq!(render("{{ v | tojson(indent=2) }}", minijinja::context! { v }), "[\n  1,\n  {\n    \"a\": []\n  }\n]");
        let v = Value::from("日本");
        assert_eq!(render("{{ v | tojson(ensure_ascii=true) }}", minijinja::context! { v }), r#""\u65e5\u672c""#);
    }

    #[test]
    fn generation_tags_become_plain_blocks() {
        let src = "a{%- generation %}b{% endgeneration -%} c";
        assert_eq!(rewrite_generation_tags(src), "a{%- if true %}b{% endif -%} c");
        assert_eq!(render(&rewrite_generation_tags(src), Value::UNDEFINED), "abc");
        assert!(matches!(rewrite_generation_tags("{{ x }}"), Cow::Borrowed(_)));
    }

    #[test]
    fn python_string_methods_and_raise_exception() {
        let out = render("{{ s.strip() }}|{{ s.startswith(' a') }}", minijinja::context! { s => " ab " });
        assert_eq!(out, "ab|True"); // Jinja2 prints Python booleans
        let env = environment();
        let err = env.render_str("{{ raise_exception('roles must alternate') }}", ()).unwrap_err();
        assert!(err.to_string().contains("roles must alternate"), "{err}");
    }
}
