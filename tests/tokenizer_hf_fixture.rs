//! The byte-level BPE fixture (tests/data/fixtures/tokenizer: 320 tokens, 58 merges,
//! trained with HF tokenizers; meta.json holds 4 reference encodings) through both
//! byte-level paths: an HF folder (`from_hf_dir`) and a GGUF "gpt2" vocabulary
//! rebuilt from the same tokens and merges (`from_gguf_vocab`), which must encode
//! exactly like the `tokenizers` crate reading the original tokenizer.json.

use dyag::formats::chat::ChatMessage;
use dyag::tokenizer::{GgufVocab, TokenKind, Tokenizer};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/fixtures/tokenizer");

fn fixture_dir() -> PathBuf {
    PathBuf::from(FIXTURE)
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Texts that exercise the pre-tokenizers: accents, apostrophes, digits, spaces,
/// newlines, tabs, emoji, CJK, code, special tokens.
const TEXTS: &[&str] = &[
    "Bonjour, qui gère l'application Annuaire ?",
    "The backups are encrypted. They're kept 30 days; we'll see.",
    "Élève naïf — 100 € ✓ 日本 🦀",
    "  deux espaces,\ttab\t\tet\n\nlignes\r\n   fin  ",
    "année 2024: 12345 + 0.5 = 12345.5",
    "fn main() {\n    println!(\"{}\", 42);\n}\n",
    "<start_of_turn>user\nQuelle est la version ?<end_of_turn>\n<start_of_turn>model\n",
    "<bos>texte<eos> et <pad>",
    "",
];

#[test]
fn hf_dir_reproduces_reference_encodings() {
    let tok = Tokenizer::from_hf_dir(&fixture_dir()).unwrap();
    let meta = read_json(&fixture_dir().join("meta.json"));
    let refs = meta["reference_encodings"].as_array().unwrap();
    assert_eq!(refs.len(), 4);
    for r in refs {
        let text = r["text"].as_str().unwrap();
        let ids: Vec<u32> = r["ids"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        assert_eq!(tok.encode(text, true).unwrap(), ids, "{text:?}");
        assert_eq!(tok.decode(&ids, false), r["decoded"].as_str().unwrap());
        let pieces: Vec<&str> = ids.iter().map(|&id| tok.token_to_piece(id).unwrap()).collect();
        let want: Vec<&str> = r["tokens"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
        assert_eq!(pieces, want);
    }
    assert_eq!(tok.vocab_size(), 320);
}

#[test]
fn hf_dir_without_configs_finds_conventional_special_tokens() {
    // The fixture folder has tokenizer.json only: names are the fallback.
    let tok = Tokenizer::from_hf_dir(&fixture_dir()).unwrap();
    let s = tok.special();
    assert_eq!((s.pad, s.bos, s.eos, s.unk), (Some(0), Some(1), Some(2), Some(3)));
    // No post-processor adds <bos>, and no config asks for it.
    assert!(!s.add_bos);
    assert_eq!(s.stop, vec![2, 5]);
    assert_eq!(tok.token_kind(4), Some(TokenKind::Control));
    assert!(tok.chat_template().is_none());
}

#[test]
fn parse_special_false_encodes_control_tokens_as_text() {
    let tok = Tokenizer::from_hf_dir(&fixture_dir()).unwrap();
    let text = "<start_of_turn>user\n";
    assert_eq!(tok.encode(text, true).unwrap()[0], 4);
    let plain = tok.encode(text, false).unwrap();
    assert!(!plain.contains(&4), "{plain:?}");
    assert_eq!(tok.decode(&plain, true), text);
    // Asking for special parsing again still works (the two modes are independent).
    assert_eq!(tok.encode(text, true).unwrap()[0], 4);
}

/// The fixture's vocabulary as a GGUF "gpt2" vocabulary, as convert_hf_to_gguf writes it.
/// `with_digit_merge` adds a token "12" (and its merge) so digit grouping shows.
fn fixture_as_gguf_with(pre: &str, with_digit_merge: bool) -> GgufVocab {
    let j = read_json(&fixture_dir().join("tokenizer.json"));
    let vocab = j["model"]["vocab"].as_object().unwrap();
    let mut tokens = vec![String::new(); vocab.len()];
    for (piece, id) in vocab {
        tokens[id.as_u64().unwrap() as usize] = piece.clone();
    }
    let mut types = vec![1; tokens.len()];
    for t in j["added_tokens"].as_array().unwrap() {
        let id = t["id"].as_u64().unwrap() as usize;
        tokens[id] = t["content"].as_str().unwrap().to_string();
        types[id] = if t["special"].as_bool().unwrap() { 3 } else { 4 };
    }
    let mut merges: Vec<String> = j["model"]["merges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| match m {
            Value::String(s) => s.clone(),
            Value::Array(p) => format!("{} {}", p[0].as_str().unwrap(), p[1].as_str().unwrap()),
            other => panic!("merge {other}"),
        })
        .collect();
    if with_digit_merge {
        tokens.push("12".into());
        types.push(1);
        merges.push("1 2".into());
    }
    GgufVocab {
        model: "gpt2".into(),
        pre: Some(pre.into()),
        tokens,
        scores: None,
        token_types: Some(types),
        merges: Some(merges),
        bos: Some(1),
        eos: Some(2),
        unk: Some(3),
        pad: Some(0),
        eot: Some(5),
        add_bos: Some(true),
        add_space_prefix: None,
        chat_template: None,
        architecture: "llama".into(),
    }
}

fn fixture_as_gguf(pre: &str) -> GgufVocab {
    fixture_as_gguf_with(pre, false)
}

/// The fixture's tokenizer.json with another pre-tokenizer, loaded by the `tokenizers` crate.
fn crate_tokenizer(pre_tokenizer: Option<Value>, ignore_merges: bool) -> tokenizers::Tokenizer {
    crate_tokenizer_with(pre_tokenizer, ignore_merges, false)
}

fn crate_tokenizer_with(pre_tokenizer: Option<Value>, ignore_merges: bool, with_digit_merge: bool) -> tokenizers::Tokenizer {
    let mut j = read_json(&fixture_dir().join("tokenizer.json"));
    if with_digit_merge {
        j["model"]["vocab"]["12"] = json!(320);
        j["model"]["merges"].as_array_mut().unwrap().push(json!(["1", "2"]));
    }
    if let Some(p) = pre_tokenizer {
        j["pre_tokenizer"] = p;
    }
    j["model"]["ignore_merges"] = json!(ignore_merges);
    j.to_string().parse().unwrap()
}

fn assert_same_encodings(ours: &Tokenizer, theirs: &tokenizers::Tokenizer) {
    for text in TEXTS {
        let want = theirs.encode(*text, false).unwrap().get_ids().to_vec();
        assert_eq!(ours.encode(text, true).unwrap(), want, "{text:?}");
        assert_eq!(ours.decode(&want, false), theirs.decode(&want, false).unwrap(), "{text:?}");
        assert_eq!(ours.decode(&want, true), theirs.decode(&want, true).unwrap(), "{text:?}");
    }
}

#[test]
fn gguf_gpt2_vocab_encodes_like_the_tokenizers_crate() {
    let ours = Tokenizer::from_gguf_vocab(fixture_as_gguf("gpt2")).unwrap();
    assert_same_encodings(&ours, &crate_tokenizer(None, false));
    let s = ours.special();
    assert_eq!((s.bos, s.eos, s.add_bos), (Some(1), Some(2), true));
    assert_eq!(s.stop, vec![2, 5]);
    let ids = ours.encode_prompt("<bos>Bonjour").unwrap();
    assert_eq!(ids.iter().filter(|&&id| id == 1).count(), 1);
    assert_eq!(ours.encode_prompt("Bonjour").unwrap()[0], 1);
}

/// Llama 3's and Qwen 2's tokenizer.json pre-tokenizers (copied from those files).
fn split_pre_tokenizer(regex: &str) -> Value {
    json!({"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": regex}, "behavior": "Isolated", "invert": false},
        {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false}
    ]})
}

#[test]
fn gguf_llama3_and_qwen2_pre_tokenizers() {
    let llama3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    let qwen2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    let ours_l3 = Tokenizer::from_gguf_vocab(fixture_as_gguf_with("llama-bpe", true)).unwrap();
    assert_same_encodings(&ours_l3, &crate_tokenizer_with(Some(split_pre_tokenizer(llama3)), true, true));
    let ours_q2 = Tokenizer::from_gguf_vocab(fixture_as_gguf_with("qwen2", true)).unwrap();
    assert_same_encodings(&ours_q2, &crate_tokenizer_with(Some(split_pre_tokenizer(qwen2)), false, true));
    // The difference between the two: Llama 3 groups up to 3 digits ("123" "45" →
    // "12" "3" "4" "5"), Qwen 2 never groups them.
    assert_eq!(ours_l3.encode("12345", false).unwrap(), vec![320, 24, 25, 26]);
    assert_eq!(ours_q2.encode("12345", false).unwrap(), vec![22, 23, 24, 25, 26]);
}

#[test]
fn gguf_vocab_errors_name_the_field() {
    let mut v = fixture_as_gguf("falcon");
    let e = Tokenizer::from_gguf_vocab(v.clone()).unwrap_err().to_string();
    assert!(e.contains("tokenizer.ggml.pre") && e.contains("falcon"), "{e}");
    v.pre = Some("gpt2".into());
    v.merges = None;
    let e = Tokenizer::from_gguf_vocab(v.clone()).unwrap_err().to_string();
    assert!(e.contains("tokenizer.ggml.merges"), "{e}");
    let mut v = fixture_as_gguf("gpt2");
    v.token_types.as_mut().unwrap().pop();
    let e = Tokenizer::from_gguf_vocab(v).unwrap_err().to_string();
    assert!(e.contains("tokenizer.ggml.token_type") && e.contains("319"), "{e}");
    let mut v = fixture_as_gguf("gpt2");
    v.eos = Some(9999);
    let e = Tokenizer::from_gguf_vocab(v).unwrap_err().to_string();
    assert!(e.contains("eos") && e.contains("9999"), "{e}");
    let mut v = fixture_as_gguf("gpt2");
    v.model = "t5".into();
    let e = Tokenizer::from_gguf_vocab(v).unwrap_err().to_string();
    assert!(e.contains("tokenizer.ggml.model") && e.contains("t5"), "{e}");
    let mut v = fixture_as_gguf("gpt2");
    v.model = "llama".into();
    let e = Tokenizer::from_gguf_vocab(v).unwrap_err().to_string();
    assert!(e.contains("tokenizer.ggml.scores"), "{e}");
}

/// A folder like a real HF chat model: the fixture tokenizer plus config files.
fn chat_model_dir(tokenizer_config: Value) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture_dir().join("tokenizer.json"), dir.path().join("tokenizer.json")).unwrap();
    std::fs::write(dir.path().join("tokenizer_config.json"), tokenizer_config.to_string()).unwrap();
    std::fs::write(dir.path().join("generation_config.json"), json!({"bos_token_id": 1, "eos_token_id": [2, 5]}).to_string()).unwrap();
    dir
}

#[test]
fn hf_dir_reads_configs_and_template_list() {
    let gemma_like = "{{ bos_token }}{% for m in messages %}<start_of_turn>{{ m.role }}\n{{ m.content }}<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}";
    let dir = chat_model_dir(json!({
        "add_bos_token": true,
        "bos_token": {"content": "<bos>", "lstrip": false},
        "eos_token": "<eos>",
        "pad_token": "<pad>",
        "chat_template": [{"name": "tool_use", "template": "TOOLS"}, {"name": "default", "template": gemma_like}],
    }));
    let tok = Tokenizer::from_hf_dir(dir.path()).unwrap();
    let s = tok.special();
    assert_eq!((s.bos, s.eos, s.pad, s.add_bos), (Some(1), Some(2), Some(0), true));
    assert_eq!(s.stop, vec![2, 5]);
    let template = tok.chat_template().expect("the default template");
    let prompt = template.render(&[ChatMessage::user("Salut")], true).unwrap();
    assert_eq!(prompt, "<bos><start_of_turn>user\nSalut<end_of_turn>\n<start_of_turn>model\n");
    let ids = tok.encode_prompt(&prompt).unwrap();
    assert_eq!(&ids[..2], &[1, 4]);
    assert_eq!(ids.iter().filter(|&&id| id == 1).count(), 1, "BOS doubled: {ids:?}");
    // Without BOS in the text, encode_prompt adds it.
    assert_eq!(tok.encode_prompt("Salut").unwrap()[0], 1);
}

#[test]
fn hf_dir_explicit_null_bos_means_none() {
    // Qwen style: "bos_token": null in tokenizer_config, though generation_config has an id.
    let dir = chat_model_dir(json!({"bos_token": null, "eos_token": "<end_of_turn>", "add_bos_token": true}));
    let tok = Tokenizer::from_hf_dir(dir.path()).unwrap();
    let s = tok.special();
    assert_eq!((s.bos, s.eos, s.add_bos), (None, Some(5), false));
    // generation_config's eos list still stops generation.
    assert_eq!(s.stop, vec![5, 2]);
    assert_eq!(tok.encode_prompt("Salut").unwrap(), tok.encode("Salut", true).unwrap());
}

#[test]
fn hf_dir_chat_template_jinja_file_wins() {
    let dir = chat_model_dir(json!({"chat_template": "FROM CONFIG", "eos_token": "<eos>"}));
    std::fs::write(dir.path().join("chat_template.jinja"), "{% for m in messages %}[{{ m.content }}]{% endfor %}\n").unwrap();
    let tok = Tokenizer::from_hf_dir(dir.path()).unwrap();
    let out = tok.chat_template().unwrap().render(&[ChatMessage::user("x")], false).unwrap();
    assert_eq!(out, "[x]");
}

#[test]
fn hf_dir_errors_name_file_and_field() {
    let dir = chat_model_dir(json!({"bos_token": 12}));
    let e = Tokenizer::from_hf_dir(dir.path()).unwrap_err().to_string();
    assert!(e.contains("tokenizer_config.json") && e.contains("bos_token"), "{e}");

    let dir = chat_model_dir(json!({}));
    std::fs::write(dir.path().join("generation_config.json"), r#"{"eos_token_id": "two"}"#).unwrap();
    let e = Tokenizer::from_hf_dir(dir.path()).unwrap_err().to_string();
    assert!(e.contains("generation_config.json") && e.contains("eos_token_id"), "{e}");

    let dir = chat_model_dir(json!({}));
    std::fs::write(dir.path().join("tokenizer_config.json"), "{ not json").unwrap();
    let e = Tokenizer::from_hf_dir(dir.path()).unwrap_err().to_string();
    assert!(e.contains("tokenizer_config.json") && e.contains("invalid JSON"), "{e}");

    let empty = tempfile::tempdir().unwrap();
    let e = Tokenizer::from_hf_dir(empty.path()).unwrap_err().to_string();
    assert!(e.contains("tokenizer.json"), "{e}");

    // A template that does not compile is reported, not silently replaced.
    let dir = chat_model_dir(json!({"chat_template": "{% for m in messages %}"}));
    let tok = Tokenizer::from_hf_dir(dir.path()).unwrap();
    assert!(tok.chat_template().is_none());
    assert!(tok.chat_template_error().unwrap().contains("tokenizer_config.json"));
    assert!(tok.chat_template_or_builtin("gemma3", "").is_err());
}

#[test]
fn stream_decoder_holds_partial_byte_level_characters() {
    let tok = Tokenizer::from_hf_dir(&fixture_dir()).unwrap();
    // "日本 €": every CJK character is three byte-level tokens in this tiny vocabulary.
    let ids = tok.encode("<bos>日本 € ok<eos>", true).unwrap();
    let mut stream = tok.stream_decoder();
    let chunks: Vec<String> = ids.iter().filter_map(|&id| stream.push(id)).collect();
    assert!(stream.finish().is_none());
    assert!(chunks.iter().all(|c| !c.contains('\u{FFFD}')), "{chunks:?}");
    assert!(chunks.contains(&"日".to_string()) && chunks.contains(&"本".to_string()), "{chunks:?}");
    assert_eq!(chunks.concat(), tok.decode(&ids, true));
    assert_eq!(chunks.concat(), "日本 € ok");
}
