//! Reading a results file, with errors that name the file, the line and the
//! JSON path of the field at fault ("results.json:41: questions[3].scores.f1:
//! invalid type: string "x", expected f64").
//!
//! Checks happen in passes: the text first (CR-only line ends, a stray byte
//! order mark), then the schema version (so a file from a newer or older
//! schema gets a version error, not a confusing field error), then keys
//! repeated in one object, then the shape of every field, then value ranges
//! and consistency, and last the stored aggregates against the ones
//! recomputed from the questions.
//!
//! Nothing in the file is taken on trust: the aggregates a reader gets are
//! always recomputed from the per-question records
//! ([`crate::eval::aggregate::aggregate`], the code that writes them), and a
//! file whose stored aggregates disagree with its own questions beyond
//! rounding ([`AGGREGATE_TOLERANCE`]) is refused, naming the field.

use crate::eval::results::{Aggregates, Distribution, ResultsFile, READABLE_SCHEMA_VERSIONS, SCHEMA_VERSION};
use crate::{Error, Result};
use serde::Deserialize;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;

/// A results file larger than this is refused before it is read. A results
/// file is one JSON document, held whole in memory while it is parsed; dyag
/// writes a few KiB per question, so 256 MiB is some 50 000 questions with
/// long answers and sources: far beyond an evaluation run.
pub const MAX_FILE_BYTES: u64 = 256 << 20;

/// Largest difference accepted between a stored aggregate and the same figure
/// recomputed from the file's questions: absolute for values up to 1 (rates,
/// means of scores), relative above (milliseconds, tokens per second).
///
/// dyag writes floats that read back exactly and recomputes them with the same
/// code, so its own files agree to the last bit; the slack is for other tools,
/// which may sum in another order (differences around 1e-15) or round what they
/// store. 5e-4 accepts figures rounded to 3 decimals (rates as the reports show
/// them, 0.001 or 0.1 %) and refuses any change that shows in a report. It
/// cannot tilt a comparison either way: the recomputed figures are the ones
/// used, the stored ones are only checked.
pub const AGGREGATE_TOLERANCE: f64 = 5e-4;

/// Reads, checks and completes (aggregates) a results file. The file is refused
/// unread when larger than [`MAX_FILE_BYTES`], and read with a bound when its
/// size is unknown (a FIFO, a device), so memory stays bounded.
pub fn read_results(path: &Path) -> Result<ResultsFile> {
    let bytes = crate::formats::bounded::read_to_end(path, MAX_FILE_BYTES)?;
    let text = String::from_utf8(bytes)
        .map_err(|e| Error::format(path, format!("not UTF-8 text (invalid byte at offset {})", e.utf8_error().valid_up_to())))?;
    parse_results(path, text.strip_prefix('\u{feff}').unwrap_or(&text))
}

/// Parses and checks results JSON; `path` is only used in error messages.
/// The aggregates are recomputed from the questions; stored ones that
/// disagree are refused (see [`AGGREGATE_TOLERANCE`]).
pub fn parse_results(path: &Path, text: &str) -> Result<ResultsFile> {
    if let Some((line, msg)) = crate::formats::bounded::text_problem(text.as_bytes()) {
        return Err(Error::data(path, line, msg));
    }
    check_version(path, text)?;
    crate::formats::json::reject_duplicate_keys(path, 1, text)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let mut file: ResultsFile = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = e.path().to_string();
        json_error(path, &field, e.into_inner())
    })?;
    de.end().map_err(|e| json_error(path, "", e))?;
    check_values(path, &file)?;
    let computed = crate::eval::aggregate::aggregate(&file.questions);
    if let Some(stored) = &file.aggregates {
        check_stored_aggregates(path, stored, &computed)?;
    }
    file.aggregates = Some(computed);
    Ok(file)
}

/// Refuses stored aggregates that disagree with the ones computed from the
/// questions: every figure the file gives (not `null`) must be within
/// [`AGGREGATE_TOLERANCE`] of the computed one (counts must be equal), and a
/// figure the questions cannot give must not be there.
fn check_stored_aggregates(path: &Path, stored: &Aggregates, computed: &Aggregates) -> Result<()> {
    let to_value = |a: &Aggregates| serde_json::to_value(a).map_err(|e| Error::msg(format!("cannot serialise aggregates: {e}")));
    let mut computed = to_value(computed)?;
    // Kinds the file has and the questions do not are then named one by one.
    if let Some(map) = computed.as_object_mut() {
        map.entry("per_kind").or_insert_with(|| Value::Object(Default::default()));
    }
    compare_stored(path, "aggregates", &to_value(stored)?, &computed)
}

fn compare_stored(path: &Path, field: &str, stored: &Value, computed: &Value) -> Result<()> {
    let agree = match (stored, computed) {
        (Value::Null, _) => true,
        (Value::Object(s), Value::Object(c)) => {
            for (k, v) in s {
                compare_stored(path, &format!("{field}.{k}"), v, c.get(k).unwrap_or(&Value::Null))?;
            }
            true
        }
        (Value::Array(s), Value::Array(c)) if s.len() == c.len() => {
            for (i, (sv, cv)) in s.iter().zip(c).enumerate() {
                compare_stored(path, &format!("{field}[{i}]"), sv, cv)?;
            }
            true
        }
        (Value::Number(s), Value::Number(c)) => match (s.as_u64(), c.as_u64()) {
            (Some(a), Some(b)) => a == b,
            _ => {
                let (a, b) = (s.as_f64().unwrap_or(f64::NAN), c.as_f64().unwrap_or(f64::NAN));
                (a - b).abs() <= AGGREGATE_TOLERANCE * b.abs().max(1.0)
            }
        },
        _ => false,
    };
    if agree {
        return Ok(());
    }
    let show = |v: &Value| match v {
        Value::Null => "no value".to_string(),
        Value::Object(_) => "{…}".to_string(),
        other => other.to_string(),
    };
    Err(Error::format(
        path,
        format!(
            "{field}: the file says {}, but its questions give {}: the stored aggregates do not match the per-question records \
             (beyond rounding, {AGGREGATE_TOLERANCE}); remove \"aggregates\" to have them computed, or fix the file",
            show(stored),
            show(computed)
        ),
    ))
}

/// An error from serde_json as "file:line: field: message".
fn json_error(path: &Path, field: &str, e: serde_json::Error) -> Error {
    let full = e.to_string();
    // serde_json appends " at line L column C"; the line goes in the prefix.
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let msg = full.strip_suffix(&suffix).unwrap_or(&full);
    let msg = if field.is_empty() || field == "." { msg.to_string() } else { format!("{field}: {msg}") };
    let msg = if e.is_syntax() || e.is_eof() { format!("invalid JSON: {msg}") } else { msg };
    if e.line() > 0 {
        Error::data(path, e.line(), format!("{msg} (column {})", e.column()))
    } else {
        Error::format(path, msg)
    }
}

/// Only `schema_version` is looked at; the custom deserializer fails on the
/// spot so that serde_json's error carries the line of the field.
fn check_version(path: &Path, text: &str) -> Result<()> {
    struct Version;
    impl<'de> Deserialize<'de> for Version {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            let v = serde_json::Value::deserialize(d)?;
            match v.as_u64() {
                Some(n) if READABLE_SCHEMA_VERSIONS.contains(&n) => Ok(Version),
                Some(n) => Err(serde::de::Error::custom(format!(
                    "schema_version {n} is not supported: this dyag reads results schema versions {READABLE_SCHEMA_VERSIONS:?}"
                ))),
                None => Err(serde::de::Error::custom(format!("schema_version must be the integer {SCHEMA_VERSION}, found {v}"))),
            }
        }
    }
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default)]
        schema_version: Option<Version>,
    }
    let probe: Probe = serde_json::from_str(text).map_err(|e| json_error(path, "", e))?;
    if probe.schema_version.is_none() {
        return Err(Error::format(
            path,
            format!(
                "missing field `schema_version`: not a dyag results file (schema version {SCHEMA_VERSION}, see docs/results-schema.md)"
            ),
        ));
    }
    Ok(())
}

fn check_unit(path: &Path, field: &str, v: Option<f64>) -> Result<()> {
    check_unit_noted(path, field, v, "")
}

/// BLEU scores are fractions in results files, where other tools print percentages.
fn check_bleu(path: &Path, field: &str, v: Option<f64>) -> Result<()> {
    check_unit_noted(path, field, v, " (BLEU is stored divided by 100)")
}

fn check_unit_noted(path: &Path, field: &str, v: Option<f64>, note: &str) -> Result<()> {
    // A little slack for other tools' rounding (sacreBLEU can return 100.00000000000004).
    match v {
        Some(x) if !x.is_finite() || !(-1e-9..=1.0 + 1e-9).contains(&x) => {
            Err(Error::format(path, format!("{field}: {x} is outside [0, 1]{note}")))
        }
        _ => Ok(()),
    }
}

fn check_non_negative(path: &Path, field: &str, v: Option<f64>) -> Result<()> {
    match v {
        Some(x) if !x.is_finite() || x < 0.0 => Err(Error::format(path, format!("{field}: {x} is not a non-negative number"))),
        _ => Ok(()),
    }
}

fn check_distribution(path: &Path, field: &str, d: Option<&Distribution>) -> Result<()> {
    if let Some(d) = d {
        check_non_negative(path, &format!("{field}.mean"), Some(d.mean))?;
        check_non_negative(path, &format!("{field}.p50"), Some(d.p50))?;
        check_non_negative(path, &format!("{field}.p95"), Some(d.p95))?;
    }
    Ok(())
}

/// Ranges and consistency, with the JSON path of the first problem.
fn check_values(path: &Path, file: &ResultsFile) -> Result<()> {
    if file.metadata.system.trim().is_empty() {
        return Err(Error::format(path, "metadata.system: must name the system (\"finetuned\", \"rag\", \"hybrid\" or another name)"));
    }
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, q) in file.questions.iter().enumerate() {
        let at = format!("questions[{i}]");
        if q.id.trim().is_empty() {
            return Err(Error::format(path, format!("{at}.id: must not be empty")));
        }
        if let Some(first) = seen.insert(q.id.as_str(), i) {
            return Err(Error::format(path, format!("{at}.id: duplicate id \"{}\" (also questions[{first}])", q.id)));
        }
        if q.success && q.error.is_some() {
            return Err(Error::format(path, format!("{at}: success is true but error is set")));
        }
        let s = &q.scores;
        check_unit(path, &format!("{at}.scores.keyword_recall"), s.keyword_recall)?;
        check_unit(path, &format!("{at}.scores.f1"), s.f1)?;
        check_unit(path, &format!("{at}.scores.rouge_l"), s.rouge_l)?;
        check_bleu(path, &format!("{at}.scores.bleu"), s.bleu)?;
        if let Some(l) = &q.latency {
            check_non_negative(path, &format!("{at}.latency.time_to_first_token_ms"), l.time_to_first_token_ms)?;
            check_non_negative(path, &format!("{at}.latency.total_ms"), l.total_ms)?;
        }
        for (j, src) in q.sources.iter().flatten().enumerate() {
            if let Some(x) = src.score.filter(|x| !x.is_finite()) {
                return Err(Error::format(path, format!("{at}.sources[{j}].score: {x} is not a number")));
            }
        }
    }
    if let Some(a) = &file.aggregates {
        check_aggregates(path, a)?;
    }
    Ok(())
}

fn check_aggregates(path: &Path, a: &Aggregates) -> Result<()> {
    for (name, v) in [
        ("success_rate", a.success_rate),
        ("exact_match_rate", a.exact_match_rate),
        ("mean_keyword_recall", a.mean_keyword_recall),
        ("mean_f1", a.mean_f1),
        ("mean_rouge_l", a.mean_rouge_l),
        ("sourced_rate", a.sourced_rate),
        ("correct_rate", a.correct_rate),
        ("refusal_rate", a.refusal_rate),
        ("retrieval_hit_rate", a.retrieval_hit_rate),
    ] {
        check_unit(path, &format!("aggregates.{name}"), v)?;
    }
    for (name, v) in [("mean_bleu", a.mean_bleu), ("corpus_bleu", a.corpus_bleu)] {
        check_bleu(path, &format!("aggregates.{name}"), v)?;
    }
    check_distribution(path, "aggregates.latency_total_ms", a.latency_total_ms.as_ref())?;
    check_distribution(path, "aggregates.latency_first_token_ms", a.latency_first_token_ms.as_ref())?;
    check_non_negative(path, "aggregates.tokens_per_second", a.tokens_per_second)?;
    for (kind, k) in &a.per_kind {
        for (name, v) in [
            ("correct_rate", k.correct_rate),
            ("mean_keyword_recall", k.mean_keyword_recall),
            ("refusal_rate", k.refusal_rate),
            ("retrieval_hit_rate", k.retrieval_hit_rate),
        ] {
            check_unit(path, &format!("aggregates.per_kind.{kind}.{name}"), v)?;
        }
        if k.correct > k.judged || k.judged > k.questions {
            return Err(Error::format(
                path,
                format!(
                    "aggregates.per_kind.{kind}: correct ({}) ≤ judged ({}) ≤ questions ({}) does not hold",
                    k.correct, k.judged, k.questions
                ),
            ));
        }
    }
    Ok(())
}
