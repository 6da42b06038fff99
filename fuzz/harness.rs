//! The bodies of dyag's fuzz targets, one function per target, calling the
//! public library API only. Each `fuzz/fuzz_targets/<name>.rs` is a one-line
//! libFuzzer wrapper around `harness::<name>`; `tests/fuzz_corpora.rs`
//! includes this same file to replay every committed corpus and findings file
//! with the normal test build.
//!
//! A target returns normally on any `Err` (rejecting bad input is the point);
//! it panics, hangs or runs out of memory only on a bug. Besides the readers'
//! own panics, targets check properties: every tensor a GGUF lists opens;
//! the chat JSONL reader and validator agree; a results file or an adapter
//! written by dyag reads back (the same); and, for the targets listed in
//! `REJECTS_DUPLICATE_KEYS`, no JSON object with a repeated key is accepted. Readers that take a
//! path get the input written to a scratch file of their own (under /dev/shm
//! when it exists, one folder per process and thread).
//!
//! Input layouts (the seeds in `fuzz/corpus/<target>/` follow them):
//! - `gguf`, `safetensors`, `chat_jsonl`, `questions`, `results`,
//!   `catalogue_md`, `catalogue_jsonl`: the file itself.
//! - `hf_config`: a `config.json`; bound to the weights of the test fixture of
//!   the family it names (tests/data/fixtures), then run for a few tokens.
//! - `peft`: byte 0 picks the fixture base model (llama, gemma3, qwen2, phi3),
//!   bytes 1..3 are the length of `adapter_config.json` (u16 LE), which
//!   follows; the rest is `adapter_model.safetensors`.
//! - `chat_template`: byte 0 is a mode. Even: the rest is a Jinja template,
//!   rendered for a fixed conversation. Odd: bits 1..=3 pick a built-in
//!   template and the rest is messages separated by 0x1E, each a role byte
//!   (system, user, assistant, tool) and the content. Bit 7: add the
//!   generation prompt.
#![allow(dead_code)]

use dyag::data::catalogue::{read_catalogue, ReadOptions};
use dyag::eval::questions::parse_questions;
use dyag::eval::summary::summary_table;
use dyag::eval::validate::{parse_results, read_results};
use dyag::formats::chat::ChatMessage;
use dyag::formats::chat_jsonl::{read_chat_dataset_with_lines, validate_chat_dataset};
use dyag::formats::gguf::{GgufArray, GgufFile, GgufValue};
use dyag::formats::safetensors::SafetensorsSet;
use dyag::infer::session::Session;
use dyag::model::load::{config_from_gguf, load_gguf, load_hf_weights};
use dyag::model::lora::LoraAdapter;
use dyag::model::peft::{adapter_safetensors_bytes, load_adapter_weights, read_adapter_config};
use dyag::model::Model;
use dyag::quant::tensor::QTensor;
use dyag::tokenizer::chat_template::{BuiltinTemplate, ChatTemplate};
use dyag::tokenizer::Tokenizer;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

/// A target's body: one input in, a panic on a bug.
pub type Target = fn(&[u8]);

/// Every target by name: the folder names under fuzz/corpus and fuzz/findings.
pub const TARGETS: &[(&str, Target)] = &[
    ("gguf", gguf),
    ("safetensors", safetensors),
    ("hf_config", hf_config),
    ("peft", peft),
    ("chat_jsonl", chat_jsonl),
    ("questions", questions),
    ("results", results),
    ("catalogue_md", catalogue_md),
    ("catalogue_jsonl", catalogue_jsonl),
    ("chat_template", chat_template),
];

// ------------------------------------------------------------------ scratch files

/// The root of every process's scratch folders.
fn scratch_root() -> PathBuf {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
    base.join("dyag-fuzz")
}

/// Removes the scratch folders of processes that have exited (libFuzzer's
/// fork mode starts many); names start with the owner's pid.
fn remove_stale(root: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(root) else { return };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.split('-').next().and_then(|p| p.parse::<u32>().ok()) else { continue };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

thread_local! {
    /// This thread's scratch folder.
    static SCRATCH: PathBuf = {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let root = scratch_root();
        std::fs::create_dir_all(&root).expect("scratch root");
        remove_stale(&root);
        let dir = root.join(format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir_all(&dir).expect("scratch folder");
        dir
    };
}

/// A sub-folder of this thread's scratch folder.
fn scratch_dir(sub: &str) -> PathBuf {
    let dir = SCRATCH.with(|d| d.join(sub));
    std::fs::create_dir_all(&dir).expect("scratch sub-folder");
    dir
}

/// Writes `data` to `name` in this thread's scratch folder.
fn scratch(name: &str, data: &[u8]) -> PathBuf {
    let path = SCRATCH.with(|d| d.join(name));
    std::fs::write(&path, data).expect("scratch file");
    path
}

// ------------------------------------------------------------------ fixtures

/// The tiny test models (tests/data/fixtures): config.json and weights.
const FIXTURES: [(&str, &[u8], &[u8]); 4] = [
    (
        "llama",
        include_bytes!("../tests/data/fixtures/llama/model/config.json"),
        include_bytes!("../tests/data/fixtures/llama/model/model.safetensors"),
    ),
    (
        "gemma3",
        include_bytes!("../tests/data/fixtures/gemma3/model/config.json"),
        include_bytes!("../tests/data/fixtures/gemma3/model/model.safetensors"),
    ),
    (
        "qwen2",
        include_bytes!("../tests/data/fixtures/qwen2/model/config.json"),
        include_bytes!("../tests/data/fixtures/qwen2/model/model.safetensors"),
    ),
    (
        "phi3",
        include_bytes!("../tests/data/fixtures/phi3/model/config.json"),
        include_bytes!("../tests/data/fixtures/phi3/model/model.safetensors"),
    ),
];

/// The fixture weights of family `i`, written once per process.
fn fixture_weights(i: usize) -> &'static Path {
    static PATHS: OnceLock<Vec<PathBuf>> = OnceLock::new();
    let paths = PATHS.get_or_init(|| {
        let root = scratch_root();
        std::fs::create_dir_all(&root).expect("scratch root");
        let dir = root.join(format!("{}-fixtures", std::process::id()));
        std::fs::create_dir_all(&dir).expect("fixture folder");
        FIXTURES
            .iter()
            .map(|(name, _, weights)| {
                let p = dir.join(format!("{name}.safetensors"));
                std::fs::write(&p, weights).expect("fixture weights");
                p
            })
            .collect()
    });
    &paths[i]
}

/// The fixture models, loaded once per process (PEFT adapters are read for them).
fn fixture_models() -> &'static [Model] {
    static MODELS: OnceLock<Vec<Model>> = OnceLock::new();
    MODELS.get_or_init(|| {
        (0..FIXTURES.len())
            .map(|i| {
                let dir = scratch_root().join(format!("{}-fixture-{}", std::process::id(), FIXTURES[i].0));
                std::fs::create_dir_all(&dir).expect("fixture folder");
                std::fs::write(dir.join("config.json"), FIXTURES[i].1).expect("fixture config");
                link_or_copy(fixture_weights(i), &dir.join("model.safetensors"));
                load_hf_weights(&dir).unwrap_or_else(|e| panic!("fixture {}: {e}", FIXTURES[i].0))
            })
            .collect()
    })
}

fn link_or_copy(from: &Path, to: &Path) {
    if to.exists() {
        return;
    }
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).expect("copy fixture");
    }
}

/// The fixture family a config.json names (llama when none).
fn family_of(json: &serde_json::Value) -> usize {
    let named = |s: &str| {
        let text = s.to_ascii_lowercase();
        FIXTURES.iter().position(|(name, _, _)| text.contains(name))
    };
    let model_type = json.get("model_type").and_then(|v| v.as_str()).and_then(named);
    let arch = json.get("architectures").and_then(|a| a.get(0)).and_then(|v| v.as_str()).and_then(named);
    model_type.or(arch).unwrap_or(0)
}

// ------------------------------------------------------------------ shared checks

/// A small conversation for templates: system, user, assistant, user.
fn conversation() -> Vec<ChatMessage> {
    vec![
        ChatMessage::system("You answer about the catalogue."),
        ChatMessage::user("Who hosts <app> \"Ünïcödé\" {{ x }}?"),
        ChatMessage::assistant("The data centre in Lyon."),
        ChatMessage::user("And since when?"),
    ]
}

fn tools() -> Vec<serde_json::Value> {
    vec![serde_json::json!({
        "type": "function",
        "function": {"name": "lookup", "description": "Finds a record", "parameters": {"type": "object", "properties": {"name": {"type": "string"}}}}
    })]
}

/// Runs a few tokens through a model (with an adapter), as generation does:
/// prefill then one decode step. Only for models small enough to be quick.
fn run_model(model: &Model, lora: Option<&LoraAdapter>) {
    let c = &model.config;
    if model.num_params() > 4_000_000 || c.n_layers > 64 {
        return;
    }
    let cap = 4.min(c.max_position.max(1));
    let Ok(mut s) = Session::new(model, lora, cap) else { return };
    let vocab = c.vocab as u32;
    let prompt: Vec<u32> = (0..cap.min(3) as u32).map(|i| (i * 7 + 1) % vocab).collect();
    if s.feed(&prompt).is_ok() && s.position() < s.capacity() {
        let _ = s.feed(&[vocab - 1]);
    }
}

/// Reads every element view of a tensor: whole (for small ones) and by row.
fn read_tensor(t: &QTensor) {
    let _ = format!("{t:?}");
    let (numel, rows, cols) = (t.numel(), t.rows(), t.cols());
    let _ = t.bytes().len();
    if numel <= 1 << 22 {
        let _ = t.to_f32();
    }
    if rows > 0 && cols > 0 && cols <= 1 << 22 {
        let mut row = vec![0f32; cols];
        t.dequantize_row(0, &mut row);
        t.dequantize_row(rows - 1, &mut row);
    }
}

fn read_value(v: &GgufValue) {
    let _ = (v.type_name(), v.as_u64(), v.as_i64(), v.as_f64(), v.as_f32(), v.as_bool(), v.as_str());
    if let Some(a) = v.as_array() {
        read_array(a);
    }
}

fn read_array(a: &GgufArray) {
    let (n, _, _) = (a.len(), a.is_empty(), a.element_type_name());
    for i in [0, n / 2, n.saturating_sub(1)] {
        if let Some(v) = a.get(i) {
            read_value(&v);
        }
    }
    assert!(a.get(n).is_none(), "GgufArray::get past the end");
    if let GgufArray::String(s) = a {
        assert_eq!(s.iter().len(), n);
        let _ = s.iter().take(4).map(str::len).sum::<usize>();
    }
}

/// Encodes and decodes a fixed text, and renders the model's chat template
/// (or the family's built-in one).
fn use_tokenizer(tok: &Tokenizer, arch: &str) {
    let text = "Hello <start_of_turn>user\nÜnïcödé   tabs\tand 1234 <|im_start|> émojis 🙂";
    if let Ok(ids) = tok.encode(text, true) {
        let _ = tok.decode(&ids, false);
        let _ = tok.decode(&ids, true);
        for &id in ids.iter().take(8) {
            let _ = (tok.token_to_piece(id), tok.token_kind(id), tok.is_special(id));
        }
    }
    let _ = tok.encode(text, false);
    let _ = tok.encode_prompt(text);
    let _ = (tok.vocab_size(), tok.special(), tok.chat_template_error());
    let _ = tok.decode(&[0, 1, 2, u32::MAX], false);
    if let Ok(t) = tok.chat_template_or_builtin(arch, "fuzz") {
        if let Ok(prompt) = t.render(&conversation(), true) {
            let _ = tok.encode_prompt(&prompt);
        }
    }
}

// ------------------------------------------------------------------ duplicate JSON keys

/// Targets whose readers reject a JSON object with a repeated key (at any
/// depth). Empty while the bug is open (every JSON reader keeps the last
/// value); add a target here once its reader rejects them, and the target
/// then panics on a duplicate key that is accepted (fuzz/findings/README.md).
const REJECTS_DUPLICATE_KEYS: &[&str] = &["questions", "results", "chat_jsonl", "catalogue_jsonl", "hf_config", "peft"];

const DUPLICATE: &str = "duplicate key ";

/// Deserialises any JSON value, failing on an object with a repeated key.
struct Unique;

impl<'de> serde::Deserialize<'de> for Unique {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Unique)
    }
}

impl<'de> serde::de::Visitor<'de> for Unique {
    type Value = Unique;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_str<E>(self, _: &str) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_unit<E>(self) -> Result<Unique, E> {
        Ok(Unique)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Unique, A::Error> {
        while seq.next_element::<Unique>()?.is_some() {}
        Ok(Unique)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Unique, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!("{DUPLICATE}{key:?}")));
            }
            map.next_value::<Unique>()?;
        }
        Ok(Unique)
    }
}

fn strip_bom(data: &[u8]) -> &[u8] {
    data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data)
}

/// The lines of a JSONL file (BOM and CR removed).
fn json_lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    strip_bom(data).split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l))
}

/// The repeated key of the first object that has one, if the text is JSON.
fn duplicate_key(json: &[u8]) -> Option<String> {
    let e = serde_json::from_slice::<Unique>(json).err()?.to_string();
    e.strip_prefix(DUPLICATE).map(|rest| rest.split(" at line").next().unwrap_or(rest).to_string())
}

/// For a target in [`REJECTS_DUPLICATE_KEYS`] whose reader accepted these
/// JSON texts: none may hold a repeated key.
fn check_duplicate_keys<'a>(target: &str, texts: impl IntoIterator<Item = &'a [u8]>) {
    if REJECTS_DUPLICATE_KEYS.contains(&target) {
        for text in texts {
            if let Some(key) = duplicate_key(text) {
                panic!("{target}: a JSON object with the key {key} twice was accepted");
            }
        }
    }
}

// ------------------------------------------------------------------ targets

/// GGUF: the header and every value and tensor it declares, the config and,
/// when it holds a whole model, the model (tokenizer, template, a few tokens).
pub fn gguf(data: &[u8]) {
    let path = scratch("model.gguf", data);
    let Ok(f) = GgufFile::open(&path) else { return };
    let _ = (format!("{f:?}"), f.file_size(), f.version, f.alignment, f.data_offset);
    for (key, v) in f.metadata() {
        read_value(v);
        assert!(f.get(key).is_some(), "metadata key {key:?} listed but not found");
        let _ = (f.get_u64(key), f.get_i64(key), f.get_f32(key), f.get_str(key), f.get_bool(key));
        let _ = (f.get_string_array(key), f.get_f32_array(key), f.get_i32_array(key));
    }
    for info in &f.tensors {
        let t = f.tensor(&info.name).unwrap_or_else(|e| panic!("listed tensor {:?} does not open: {e}", info.name));
        let declared = f.tensor_info(&info.name).expect("listed tensor has an info");
        assert_eq!(t.bytes().len(), declared.n_bytes, "tensor {:?}", info.name);
        read_tensor(&t);
    }
    let _ = f.tensor("no such tensor");
    let arch = f.get_str("general.architecture").ok().flatten().unwrap_or_default().to_string();
    let small = config_from_gguf(&f).is_ok();
    drop(f);
    if small {
        if let Ok((model, tok)) = load_gguf(&path) {
            use_tokenizer(&tok, &arch);
            run_model(&model, None);
        }
    }
}

/// A safetensors file: every tensor's info, metadata and values.
pub fn safetensors(data: &[u8]) {
    let path = scratch("model.safetensors", data);
    let Ok(set) = SafetensorsSet::open(&path) else { return };
    let _ = (format!("{set:?}"), set.len(), set.is_empty(), set.metadata(None), set.files().count());
    let names: Vec<String> = set.names().map(str::to_string).collect();
    assert_eq!(names.len(), set.len());
    for name in &names {
        assert!(set.contains(name));
        let _ = (set.info(name), set.metadata(Some(name)));
        if let Ok(t) = set.tensor(name) {
            read_tensor(&t);
        }
    }
    let _ = set.tensor("no such tensor");
}

/// A Hugging Face config.json with the fixture weights of its family: the
/// config reader, the weight binding and a few tokens through the model.
pub fn hf_config(data: &[u8]) {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let family = family_of(&json);
    let dir = scratch_dir(&format!("hf-{}", FIXTURES[family].0));
    link_or_copy(fixture_weights(family), &dir.join("model.safetensors"));
    std::fs::write(dir.join("config.json"), data).expect("config.json");
    if let Ok(model) = load_hf_weights(&dir) {
        check_duplicate_keys("hf_config", [data]);
        run_model(&model, None);
    }
}

/// A PEFT adapter folder for one of the fixture models: config, weights, a
/// few tokens with the adapter, and the adapter written back and read again.
pub fn peft(data: &[u8]) {
    let [family, l0, l1, rest @ ..] = data else { return };
    let models = fixture_models();
    let model = &models[*family as usize % models.len()];
    let (config, weights) = rest.split_at((u16::from_le_bytes([*l0, *l1]) as usize).min(rest.len()));
    let dir = scratch_dir("peft");
    std::fs::write(dir.join("adapter_config.json"), config).expect("adapter_config.json");
    std::fs::write(dir.join("adapter_model.safetensors"), weights).expect("adapter_model.safetensors");
    let Ok(cfg) = read_adapter_config(&dir) else { return };
    check_duplicate_keys("peft", [config]);
    let _ = (cfg.lora.scale(), cfg.lora.validate(model));
    let Ok(adapter) = load_adapter_weights(&dir, &cfg, model) else { return };
    let _ = adapter.num_params();
    run_model(model, Some(&adapter));
    // What dyag writes, dyag reads back.
    let bytes = adapter_safetensors_bytes(&adapter).expect("an adapter that loaded serialises");
    std::fs::write(dir.join("adapter_model.safetensors"), bytes).expect("adapter_model.safetensors");
    if let Err(e) = load_adapter_weights(&dir, &cfg, model) {
        panic!("an adapter written by adapter_safetensors_bytes does not read back: {e}");
    }
}

/// Chat JSONL: the reader and the validator agree, and every conversation
/// renders with a built-in template.
pub fn chat_jsonl(data: &[u8]) {
    let path = scratch("train.jsonl", data);
    let read = read_chat_dataset_with_lines(&path);
    let report = validate_chat_dataset(&path).expect("the file exists");
    let _ = report.render();
    match &read {
        Ok((convs, lines)) => {
            assert!(report.problems.is_empty(), "read_chat_dataset accepts what validate rejects: {}", report.render());
            assert_eq!(convs.len(), report.conversations);
            assert_eq!(convs.len(), lines.len());
            check_duplicate_keys("chat_jsonl", json_lines(data));
            let t = builtin(BuiltinTemplate::ChatMl);
            for c in convs.iter().take(4) {
                let _ = t.render(&c.messages, false);
            }
        }
        Err(e) => assert!(!report.problems.is_empty(), "validate accepts what read_chat_dataset rejects: {e}"),
    }
}

/// Questions JSONL.
pub fn questions(data: &[u8]) {
    if let Ok(qs) = parse_questions(Path::new("questions.jsonl"), data) {
        check_duplicate_keys("questions", json_lines(data));
        for q in &qs {
            let _ = q.is_negative();
        }
    }
}

/// A results file: read (bytes → UTF-8 → checks → aggregates), summarised,
/// written as dyag writes it and read back to the same value.
pub fn results(data: &[u8]) {
    let path = scratch("results.json", data);
    let Ok(file) = read_results(&path) else { return };
    check_duplicate_keys("results", [strip_bom(data)]);
    let _ = summary_table(&file);
    let out = scratch("results-rewritten.json", b"");
    file.write(&out).expect("a results file that reads writes");
    let text = std::fs::read_to_string(&out).expect("rewritten results");
    match parse_results(&out, &text) {
        Ok(again) => assert!(again == file, "a results file written by dyag reads back different"),
        Err(e) => panic!("a results file written by dyag does not read back: {e}"),
    }
}

/// Reads a catalogue file with the name field auto-detected, then named;
/// true when either read succeeds.
fn read_catalogue_file(path: &Path, options: &[ReadOptions]) -> bool {
    let mut ok = false;
    for opts in options {
        if let Ok(cat) = read_catalogue(path, opts) {
            ok = true;
            for r in &cat.records {
                let _ = r.text();
            }
        }
    }
    ok
}

/// A Markdown catalogue.
pub fn catalogue_md(data: &[u8]) {
    read_catalogue_file(&scratch("catalogue.md", data), &[ReadOptions::default()]);
}

/// A JSONL catalogue, and the same bytes as a JSON catalogue.
pub fn catalogue_jsonl(data: &[u8]) {
    let options = [ReadOptions::default(), ReadOptions { name_field: Some("name".into()) }];
    if read_catalogue_file(&scratch("catalogue.jsonl", data), &options) {
        check_duplicate_keys("catalogue_jsonl", json_lines(data));
    }
    if read_catalogue_file(&scratch("catalogue.json", data), &options) {
        check_duplicate_keys("catalogue_jsonl", [strip_bom(data)]);
    }
}

/// A built-in template, compiled once per thread.
fn builtin(kind: BuiltinTemplate) -> ChatTemplate {
    thread_local! {
        static COMPILED: Vec<ChatTemplate> = BuiltinTemplate::ALL.iter().map(|&k| ChatTemplate::builtin(k, "<bos>", "<eos>")).collect();
    }
    let i = BuiltinTemplate::ALL.iter().position(|&k| k == kind).expect("listed");
    COMPILED.with(|c| c[i].clone())
}

/// Chat templates: a fuzzed template with a fixed conversation, or a
/// built-in template with fuzzed messages.
pub fn chat_template(data: &[u8]) {
    let [mode, rest @ ..] = data else { return };
    let generation = mode & 0x80 != 0;
    if mode & 1 == 0 {
        let source = String::from_utf8_lossy(rest);
        if let Ok(t) = ChatTemplate::from_jinja(&source, "<bos>", "<eos>") {
            let _ = t.render(&conversation(), generation);
            let _ = t.render_with_tools(&conversation()[1..], Some(&tools()), !generation);
        }
    } else {
        let t = builtin(BuiltinTemplate::ALL[((mode >> 1) & 7) as usize % BuiltinTemplate::ALL.len()]);
        let messages: Vec<ChatMessage> = rest
            .split(|&b| b == 0x1e)
            .filter_map(|m| m.split_first())
            .map(|(role, content)| {
                let role = ["system", "user", "assistant", "tool"][*role as usize % 4];
                ChatMessage::new(role, String::from_utf8_lossy(content))
            })
            .collect();
        let _ = t.render(&messages, generation);
    }
}
