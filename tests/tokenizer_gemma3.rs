//! The real Gemma 3 270M tokenizer (262144 SentencePiece pieces), read from the model
//! file, against reference token ids:
//! - the three prompts of tests/data/refs/gemma3_270m_reference.json (an acceptance
//!   criterion: the ids the reference logits were computed from);
//! - tests/data/tokenizer/gemma3_cases.json, ids computed by Google's SentencePiece
//!   library from the same vocabulary (see make_gemma3_cases.py there).
//!
//! Needs models/gemma-3-270m-q4_k_m.gguf (or $DYAG_MODELS_DIR): scripts/fetch-model.sh.

use dyag::formats::chat::ChatMessage;
use dyag::tokenizer::{GgufVocab, TokenKind, Tokenizer};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::OnceLock;

const MODEL_FILE: &str = "gemma-3-270m-q4_k_m.gguf";

fn model_path() -> PathBuf {
    let dir = std::env::var_os("DYAG_MODELS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/models")));
    let path = dir.join(MODEL_FILE);
    assert!(
        path.is_file(),
        "{} not found: run scripts/fetch-model.sh (or set DYAG_MODELS_DIR) to download the Gemma 3 270M model",
        path.display()
    );
    path
}

fn gguf_vocab() -> &'static GgufVocab {
    static VOCAB: OnceLock<GgufVocab> = OnceLock::new();
    VOCAB.get_or_init(|| {
        let path = model_path();
        let meta = gguf_meta::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        gguf_meta::vocab(&meta)
    })
}

fn tokenizer() -> &'static Tokenizer {
    static TOK: OnceLock<Tokenizer> = OnceLock::new();
    TOK.get_or_init(|| {
        let start = std::time::Instant::now();
        let tok = Tokenizer::from_gguf_vocab(gguf_vocab().clone()).expect("building the Gemma 3 tokenizer");
        eprintln!("tokenizer built in {:?}", start.elapsed());
        tok
    })
}

fn reference() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/refs/gemma3_270m_reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect(path)).expect("reference JSON")
}

fn cases() -> Vec<(String, bool, Vec<u32>)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tokenizer/gemma3_cases.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).expect(path)).expect("cases JSON");
    v["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|c| {
            let ids = c["ids"].as_array().unwrap().iter().map(|i| i.as_u64().unwrap() as u32).collect();
            (c["text"].as_str().unwrap().to_string(), c["parse_special"].as_bool().unwrap(), ids)
        })
        .collect()
}

fn as_ids(v: &Value) -> Vec<u32> {
    v.as_array().unwrap().iter().map(|i| i.as_u64().unwrap() as u32).collect()
}

#[test]
fn reference_prompts_token_ids() {
    let tok = tokenizer();
    let reference = reference();
    let prompts = reference["prompts"].as_object().unwrap();
    assert_eq!(prompts.len(), 3);
    for (name, p) in prompts {
        let text = p["text"].as_str().unwrap();
        let expected = as_ids(&p["token_ids"]);
        assert_eq!(tok.encode_prompt(text).unwrap(), expected, "{name}: {text:?}");
        // The pieces, as the reference shows them (decoded, '▁' as a space).
        let pieces: Vec<String> = expected.iter().map(|&id| tok.decode(&[id], false)).collect();
        let want: Vec<&str> = p["token_pieces"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
        assert_eq!(pieces, want, "{name}");
        assert_eq!(tok.decode(&expected, true), text, "{name} round trip");
    }
}

#[test]
fn no_space_prefix_for_gemma_whatever_the_file_says() {
    // This file says add_space_prefix = false (convert_hf_to_gguf writes false for Gemma).
    assert_eq!(gguf_vocab().add_space_prefix, Some(false));
    // A Gemma file claiming true must still tokenize as the model was trained: no '▁'
    // before "The" (HF's Gemma tokenizer never adds one; the reference ids agree).
    let mut v = gguf_vocab().clone();
    v.add_space_prefix = Some(true);
    let tok = Tokenizer::from_gguf_vocab(v).unwrap();
    assert_eq!(tok.encode_prompt("The capital of France is").unwrap(), vec![2, 818, 5279, 529, 7001, 563]);
    // The same vocabulary under another architecture follows the flag: "▁The".
    let mut v = gguf_vocab().clone();
    v.add_space_prefix = Some(true);
    v.architecture = "llama".into();
    let tok = Tokenizer::from_gguf_vocab(v).unwrap();
    let ids = tok.encode("The capital", false).unwrap();
    assert_eq!(tok.token_to_piece(ids[0]), Some("▁The"));
    assert_eq!(tok.decode(&ids, true), "The capital");
}

#[test]
fn sentencepiece_reference_cases_and_round_trip() {
    let tok = tokenizer();
    let cases = cases();
    assert!(cases.len() >= 10);
    for (text, parse_special, expected) in &cases {
        let ids = tok.encode(text, *parse_special).unwrap();
        assert_eq!(&ids, expected, "text {text:?} (parse_special {parse_special})");
        assert_eq!(&tok.decode(&ids, false), text, "round trip of {text:?}");
    }
}

#[test]
fn rare_characters_fall_back_to_bytes() {
    let tok = tokenizer();
    let text = "𝔘 𓀀";
    let ids = tok.encode(text, false).unwrap();
    let bytes: Vec<u32> = ids.iter().copied().filter(|&id| tok.token_kind(id) == Some(TokenKind::Byte)).collect();
    // 𓀀 (U+13000) is 4 UTF-8 bytes, none of them a piece of their own.
    assert!(bytes.len() >= 4, "{ids:?}");
    assert_eq!(tok.token_to_piece(bytes[0]).map(|p| p.starts_with("<0x")), Some(true));
    assert_eq!(tok.decode(&ids, true), text);
}

#[test]
fn special_tokens_and_stops() {
    let tok = tokenizer();
    let s = tok.special();
    assert_eq!((s.bos, s.eos, s.unk, s.pad), (Some(2), Some(1), Some(3), Some(0)));
    assert!(s.add_bos);
    assert_eq!(tok.token_id("<end_of_turn>"), Some(106));
    assert!(s.stop.contains(&1) && s.stop.contains(&106), "{:?}", s.stop);
    // Gemma's "</s>" is a user-defined HTML tag, not an end of sequence.
    let html_s = tok.token_id("</s>").unwrap();
    assert_eq!(tok.token_kind(html_s), Some(TokenKind::UserDefined));
    assert!(!s.stop.contains(&html_s));
    assert_eq!(tok.vocab_size(), 262144);
}

#[test]
fn control_tokens_are_text_without_parse_special() {
    let tok = tokenizer();
    let with = tok.encode("<start_of_turn>user\n", true).unwrap();
    assert_eq!(with, vec![105, 2364, 107]);
    let without = tok.encode("<start_of_turn>user\n", false).unwrap();
    assert!(!without.contains(&105) && without.len() > 3, "{without:?}");
    assert_eq!(tok.decode(&without, true), "<start_of_turn>user\n");
    // Skipping specials drops control tokens only.
    assert_eq!(tok.decode(&with, true), "user\n");
}

#[test]
fn chat_prompt_has_exactly_one_bos() {
    let tok = tokenizer();
    // The base model carries no template: the built-in Gemma one is used.
    assert!(tok.chat_template().is_none());
    let template = tok.chat_template_or_builtin("gemma3", "gemma-3-270m").unwrap();
    let messages = [ChatMessage::system("Réponds en français."), ChatMessage::user("Qui gère GIDAF ?")];
    let prompt = template.render(&messages, true).unwrap();
    assert_eq!(prompt, "<bos><start_of_turn>user\nRéponds en français.\n\nQui gère GIDAF ?<end_of_turn>\n<start_of_turn>model\n");
    let ids = tok.encode_prompt(&prompt).unwrap();
    assert_eq!(&ids[..3], &[2, 105, 2364]);
    assert_eq!(ids.iter().filter(|&&id| id == 2).count(), 1);
    assert_eq!(ids.last(), Some(&107));
}

#[test]
fn stream_decoder_matches_whole_decode() {
    let tok = tokenizer();
    for (text, parse_special, _) in cases() {
        // <bos> … <end_of_turn>: special tokens around, which produce no text.
        let mut ids = vec![2];
        ids.extend(tok.encode(&text, parse_special).unwrap());
        ids.push(106);
        let mut stream = tok.stream_decoder();
        let mut out = String::new();
        for &id in &ids {
            if let Some(chunk) = stream.push(id) {
                assert!(!chunk.contains('\u{FFFD}'), "half a character released for {text:?}: {chunk:?}");
                out.push_str(&chunk);
            }
        }
        if let Some(rest) = stream.finish() {
            out.push_str(&rest);
        }
        assert_eq!(out, tok.decode(&ids, true), "{text:?}");
    }
}

#[test]
fn long_text_encodes_quickly() {
    let tok = tokenizer();
    let (text, _, expected) = cases().into_iter().find(|c| c.0.len() >= 2000).expect("the 2 KB case");
    let start = std::time::Instant::now();
    let runs = 20;
    for _ in 0..runs {
        assert_eq!(tok.encode(&text, false).unwrap(), expected);
    }
    let per_call = start.elapsed() / runs;
    eprintln!("encoding {} bytes: {per_call:?} per call", text.len());
}

/// Just enough of GGUF to read the tokenizer metadata (the header and the key/value
/// section; tensors are not touched). Replaced by dyag's reader when it lands.
mod gguf_meta {
    use super::GgufVocab;
    use std::collections::HashMap;
    use std::io::{BufReader, Read};
    use std::path::Path;

    #[derive(Debug)]
    pub enum V {
        Int(i64),
        F32(f32),
        F64(#[allow(dead_code)] f64),
        Bool(bool),
        Str(String),
        Arr(Vec<V>),
    }

    pub type Meta = HashMap<String, V>;

    pub fn read(path: &Path) -> Result<Meta, String> {
        let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
        let mut r = BufReader::with_capacity(1 << 20, file);
        let mut magic = [0u8; 4];
        r.read_exact(&mut magic).map_err(|e| e.to_string())?;
        if &magic != b"GGUF" {
            return Err("not a GGUF file".into());
        }
        let version = u32le(&mut r)?;
        if !(2..=3).contains(&version) {
            return Err(format!("GGUF version {version} not handled"));
        }
        let _tensors = u64le(&mut r)?;
        let kv = u64le(&mut r)?;
        let mut meta = HashMap::new();
        for _ in 0..kv {
            let key = string(&mut r)?;
            let ty = u32le(&mut r)?;
            meta.insert(key, value(&mut r, ty)?);
        }
        Ok(meta)
    }

    fn bytes<const N: usize>(r: &mut impl Read) -> Result<[u8; N], String> {
        let mut b = [0u8; N];
        r.read_exact(&mut b).map_err(|e| e.to_string())?;
        Ok(b)
    }
    fn u32le(r: &mut impl Read) -> Result<u32, String> {
        Ok(u32::from_le_bytes(bytes(r)?))
    }
    fn u64le(r: &mut impl Read) -> Result<u64, String> {
        Ok(u64::from_le_bytes(bytes(r)?))
    }
    fn string(r: &mut impl Read) -> Result<String, String> {
        let len = u64le(r)?;
        if len > 1 << 24 {
            return Err(format!("string of {len} bytes"));
        }
        let mut b = vec![0u8; len as usize];
        r.read_exact(&mut b).map_err(|e| e.to_string())?;
        String::from_utf8(b).map_err(|e| e.to_string())
    }
    fn value(r: &mut impl Read, ty: u32) -> Result<V, String> {
        Ok(match ty {
            0 => V::Int(bytes::<1>(r)?[0] as i64),
            1 => V::Int(bytes::<1>(r)?[0] as i8 as i64),
            2 => V::Int(u16::from_le_bytes(bytes(r)?) as i64),
            3 => V::Int(i16::from_le_bytes(bytes(r)?) as i64),
            4 => V::Int(u32le(r)? as i64),
            5 => V::Int(i32::from_le_bytes(bytes(r)?) as i64),
            6 => V::F32(f32::from_le_bytes(bytes(r)?)),
            7 => V::Bool(bytes::<1>(r)?[0] != 0),
            8 => V::Str(string(r)?),
            9 => {
                let inner = u32le(r)?;
                let n = u64le(r)?;
                if n > 1 << 24 {
                    return Err(format!("array of {n} items"));
                }
                (0..n).map(|_| value(r, inner)).collect::<Result<Vec<_>, _>>().map(V::Arr)?
            }
            10 => V::Int(u64le(r)? as i64),
            11 => V::Int(i64::from_le_bytes(bytes(r)?)),
            12 => V::F64(f64::from_le_bytes(bytes(r)?)),
            _ => return Err(format!("unknown value type {ty}")),
        })
    }

    pub fn vocab(m: &Meta) -> GgufVocab {
        let s = |k: &str| match m.get(k) {
            Some(V::Str(s)) => Some(s.clone()),
            _ => None,
        };
        let id = |k: &str| match m.get(k) {
            Some(V::Int(i)) => Some(*i as u32),
            _ => None,
        };
        let flag = |k: &str| match m.get(k) {
            Some(V::Bool(b)) => Some(*b),
            _ => None,
        };
        let arr = |k: &str| match m.get(k) {
            Some(V::Arr(a)) => Some(a.as_slice()),
            _ => None,
        };
        let strings = |k: &str| arr(k).map(|a| a.iter().map(|v| if let V::Str(s) = v { s.clone() } else { panic!("{k}") }).collect());
        GgufVocab {
            model: s("tokenizer.ggml.model").expect("tokenizer.ggml.model"),
            pre: s("tokenizer.ggml.pre"),
            tokens: strings("tokenizer.ggml.tokens").expect("tokenizer.ggml.tokens"),
            scores: arr("tokenizer.ggml.scores").map(|a| a.iter().map(|v| if let V::F32(f) = v { *f } else { panic!("scores") }).collect()),
            token_types: arr("tokenizer.ggml.token_type")
                .map(|a| a.iter().map(|v| if let V::Int(i) = v { *i as i32 } else { panic!("token_type") }).collect()),
            merges: strings("tokenizer.ggml.merges"),
            bos: id("tokenizer.ggml.bos_token_id"),
            eos: id("tokenizer.ggml.eos_token_id"),
            unk: id("tokenizer.ggml.unknown_token_id"),
            pad: id("tokenizer.ggml.padding_token_id"),
            eot: id("tokenizer.ggml.eot_token_id"),
            add_bos: flag("tokenizer.ggml.add_bos_token"),
            add_space_prefix: flag("tokenizer.ggml.add_space_prefix"),
            chat_template: s("tokenizer.chat_template"),
            architecture: s("general.architecture").unwrap_or_default(),
        }
    }
}
