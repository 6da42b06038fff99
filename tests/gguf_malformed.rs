//! The GGUF reader on files built here, byte by byte: a valid file with every
//! value type reads back exactly, and each malformed variant (the cases of
//! ggml's tests/test-gguf.cpp and more) gives a clear error naming the file
//! and the key or tensor — never a panic or a huge allocation.

use dyag::formats::gguf::{GgufArray, GgufFile, GgufValue};
use dyag::quant::GgmlType;
use dyag::Error;

mod common;

use common::gguf_writer::*;

/// Writes `bytes` to a temporary file and opens it.
fn open(bytes: &[u8]) -> (tempfile::TempDir, std::path::PathBuf, dyag::Result<GgufFile>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.gguf");
    std::fs::write(&path, bytes).unwrap();
    let r = GgufFile::open(&path);
    (dir, path, r)
}

/// Opens `bytes`, expecting a format error that names the file and contains every `needles`.
#[track_caller]
fn expect_err(bytes: &[u8], needles: &[&str]) -> String {
    let (_dir, path, r) = open(bytes);
    let err = match r {
        Ok(_) => panic!("expected an error containing {needles:?}, the file opened"),
        Err(e) => e,
    };
    let msg = err.to_string();
    match &err {
        Error::Format { path: p, .. } => assert_eq!(p, &path, "{msg}"),
        other => panic!("expected Error::Format, got {other:?}"),
    }
    assert!(msg.starts_with(&path.display().to_string()), "error does not name the file: {msg}");
    for n in needles {
        assert!(msg.contains(n), "error {msg:?} does not contain {n:?}");
    }
    msg
}

/// A small valid file: a few metadata entries and three tensors.
fn valid() -> Builder {
    Builder::new()
        .kv("general.architecture", T_STRING, gguf_str(b"llama"))
        .kv("llama.block_count", T_U32, 2u32.to_le_bytes().to_vec())
        .tensor(Tensor::new("a.weight", &[4, 2], GgmlType::F32, f32_bytes(&[1., 2., 3., 4., 5., 6., 7., 8.])))
        .tensor(Tensor::new("b.weight", &[32], GgmlType::Q8_0, vec![7u8; 34]))
        .tensor(Tensor::new("c.bias", &[3], GgmlType::F16, vec![0, 0x3c, 0, 0x40, 0, 0xc0]))
}

// ------------------------------------------------------------------- tests

#[test]
fn every_value_type_reads_back() {
    let b = Builder::new()
        .kv("u8", T_U8, vec![200])
        .kv("i8", T_I8, vec![(-5i8) as u8])
        .kv("u16", T_U16, 60000u16.to_le_bytes().to_vec())
        .kv("i16", T_I16, (-30000i16).to_le_bytes().to_vec())
        .kv("u32", T_U32, 4_000_000_000u32.to_le_bytes().to_vec())
        .kv("i32", T_I32, (-7i32).to_le_bytes().to_vec())
        .kv("f32", T_F32, 1.5f32.to_le_bytes().to_vec())
        .kv("bool", T_BOOL, vec![1])
        .kv("string", T_STRING, gguf_str("héllo".as_bytes()))
        .kv("u64", T_U64, u64::MAX.to_le_bytes().to_vec())
        .kv("i64", T_I64, i64::MIN.to_le_bytes().to_vec())
        .kv("f64", T_F64, 0.25f64.to_le_bytes().to_vec())
        .kv("tokens", T_ARRAY, array_payload(T_STRING, &[gguf_str(b"<s>"), gguf_str(b""), gguf_str("▁a".as_bytes())]))
        .kv("scores", T_ARRAY, array_payload(T_F32, &[0.5f32.to_le_bytes().to_vec(), (-1f32).to_le_bytes().to_vec()]))
        .kv("types", T_ARRAY, array_payload(T_I32, &[1i32.to_le_bytes().to_vec(), 3i32.to_le_bytes().to_vec()]))
        .kv("small_ints", T_ARRAY, array_payload(T_U8, &[vec![1], vec![2]]))
        .kv("flags", T_ARRAY, array_payload(T_BOOL, &[vec![0], vec![1]]))
        .kv(
            "nested",
            T_ARRAY,
            array_payload(
                T_ARRAY,
                &[array_payload(T_U16, &[5u16.to_le_bytes().to_vec()]), array_payload(T_STRING, &[gguf_str(b"x"), gguf_str(b"yz")])],
            ),
        )
        .kv("empty", T_ARRAY, array_payload(T_F64, &[]));
    let (_d, _p, r) = open(&b.build());
    let g = r.unwrap();
    assert_eq!(g.version, 3);
    assert_eq!(g.metadata().len(), 19);
    assert_eq!(g.metadata()[0].0, "u8", "metadata keeps file order");
    assert_eq!(g.get("u8"), Some(&GgufValue::U8(200)));
    assert_eq!(g.get("i8"), Some(&GgufValue::I8(-5)));
    assert_eq!(g.get("u16"), Some(&GgufValue::U16(60000)));
    assert_eq!(g.get("i16"), Some(&GgufValue::I16(-30000)));
    assert_eq!(g.get_u64("u32").unwrap(), Some(4_000_000_000));
    assert_eq!(g.get_i64("i32").unwrap(), Some(-7));
    assert_eq!(g.get_f32("f32").unwrap(), Some(1.5));
    assert_eq!(g.get_f32("u16").unwrap(), Some(60000.0), "any number converts to f32");
    assert_eq!(g.get_bool("bool").unwrap(), Some(true));
    assert_eq!(g.get_str("string").unwrap(), Some("héllo"));
    assert_eq!(g.get_u64("u64").unwrap(), Some(u64::MAX));
    assert_eq!(g.get_i64("i64").unwrap(), Some(i64::MIN));
    assert_eq!(g.get("f64").and_then(GgufValue::as_f64), Some(0.25));
    let tokens = g.get_string_array("tokens").unwrap().unwrap();
    assert_eq!(tokens.iter().collect::<Vec<_>>(), ["<s>", "", "▁a"]);
    assert_eq!(tokens.get(2), Some("▁a"));
    assert_eq!(tokens.get(3), None);
    assert_eq!(&*g.get_f32_array("scores").unwrap().unwrap(), &[0.5, -1.0]);
    assert_eq!(&*g.get_i32_array("types").unwrap().unwrap(), &[1, 3]);
    assert_eq!(&*g.get_i32_array("small_ints").unwrap().unwrap(), &[1, 2], "integer arrays widen to i32");
    assert_eq!(g.get("flags").and_then(GgufValue::as_array), Some(&GgufArray::Bool(vec![false, true])));
    match g.get("nested").and_then(GgufValue::as_array) {
        Some(GgufArray::Array(inner)) => {
            assert_eq!(inner[0], GgufArray::U16(vec![5]));
            match &inner[1] {
                GgufArray::String(s) => assert_eq!(s.to_vec(), ["x", "yz"]),
                other => panic!("{other:?}"),
            }
        }
        other => panic!("nested array read as {other:?}"),
    }
    assert_eq!(g.get("empty").and_then(GgufValue::as_array).map(GgufArray::len), Some(0));
    // Negative integers are not u64; typed getters name the key.
    assert_eq!(g.get("i8").and_then(GgufValue::as_u64), None);
    let e = g.get_u64("string").unwrap_err().to_string();
    assert!(e.contains("'string'") && e.contains("expected a non-negative integer"), "{e}");
    let e = g.get_str("u8").unwrap_err().to_string();
    assert!(e.contains("'u8'") && e.contains("uint8 (200)"), "{e}");
    let e = g.get_string_array("scores").unwrap_err().to_string();
    assert!(e.contains("'scores'") && e.contains("array of 2 float32"), "{e}");
    assert_eq!(g.get_u64("missing").unwrap(), None);
    assert!(g.tensors.is_empty());
}

#[test]
fn tensors_read_back_with_row_major_shapes() {
    let (_d, path, r) = open(&valid().build());
    let g = r.unwrap();
    assert_eq!(g.tensors.len(), 3);
    assert_eq!(g.alignment, 32);
    assert_eq!(g.data_offset % 32, 0);
    let a = g.tensor("a.weight").unwrap();
    assert_eq!(a.shape, vec![2, 4], "ggml ne [4, 2] is 2 rows of 4");
    assert_eq!(a.ty, GgmlType::F32);
    assert_eq!(a.to_f32().unwrap(), vec![1., 2., 3., 4., 5., 6., 7., 8.]);
    let b = g.tensor("b.weight").unwrap();
    assert_eq!((b.ty, b.shape.clone(), b.bytes().len()), (GgmlType::Q8_0, vec![32], 34));
    assert_eq!(g.tensor("c.bias").unwrap().to_f32().unwrap(), vec![1.0, 2.0, -2.0]);
    let info = g.tensor_info("b.weight").unwrap();
    assert_eq!(info.offset % 32, 0);
    assert_eq!(info.n_bytes, 34);
    match g.tensor("nope") {
        Err(Error::Tensor { name, msg }) => {
            assert_eq!(name, "nope");
            assert!(msg.contains(&path.display().to_string()), "{msg}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn version_2_and_custom_alignment_are_accepted() {
    let mut b = valid().kv("general.alignment", T_U32, 64u32.to_le_bytes().to_vec());
    b.alignment = 64;
    b.version = 2;
    let (_d, _p, r) = open(&b.build());
    let g = r.unwrap();
    assert_eq!((g.version, g.alignment), (2, 64));
    assert_eq!(g.data_offset % 64, 0);
    assert_eq!(g.tensor("c.bias").unwrap().to_f32().unwrap(), vec![1.0, 2.0, -2.0]);
    // Alignment 1 is a power of two: data may then be unaligned in memory.
    let mut b = valid().kv("general.alignment", T_U32, 1u32.to_le_bytes().to_vec());
    b.alignment = 1;
    let (_d, _p, r) = open(&b.build());
    assert_eq!(r.unwrap().tensor("a.weight").unwrap().to_f32().unwrap()[7], 8.0);
}

#[test]
fn zero_sized_dimensions_are_valid() {
    let b = Builder::new().tensor(Tensor::new("empty", &[64, 0], GgmlType::Q8_0, vec![])).tensor(Tensor::new(
        "one",
        &[1],
        GgmlType::F32,
        f32_bytes(&[3.0]),
    ));
    let (_d, _p, r) = open(&b.build());
    let g = r.unwrap();
    let e = g.tensor("empty").unwrap();
    assert_eq!((e.shape.clone(), e.numel(), e.bytes().len()), (vec![0, 64], 0, 0));
    assert_eq!(g.tensor("one").unwrap().to_f32().unwrap(), vec![3.0]);
}

#[test]
fn every_truncation_is_an_error() {
    let full = valid().build();
    for len in 0..full.len() {
        let (_d, _p, r) = open(&full[..len]);
        assert!(r.is_err(), "file cut to {len} of {} bytes opened", full.len());
    }
    expect_err(&full[..10], &["too small"]);
    expect_err(&full[..40], &["metadata count", "cannot fit in the 16 bytes left"]);
    expect_err(&full[..60], &["metadata key 'general.architecture'", "truncated"]);
    expect_err(&full[..full.len() - 1], &["tensor 'c.bias'", "past the end of the file"]);
}

#[test]
fn bad_header() {
    let mut b = valid();
    b.magic = *b"FUGG";
    expect_err(&b.build(), &["not a GGUF file", "FUGG"]);
    for (v, needle) in [(1u32, "version 1 is not supported"), (0, "unsupported GGUF version 0"), (4, "unsupported GGUF version 4")] {
        let mut b = valid();
        b.version = v;
        expect_err(&b.build(), &[needle]);
    }
    let mut b = valid();
    b.version = 3u32.swap_bytes();
    expect_err(&b.build(), &["byte-swapped", "big-endian"]);
    let mut b = valid();
    b.n_tensors = Some(u64::MAX);
    expect_err(&b.build(), &["tensor count", "cannot fit"]);
    let mut b = valid();
    b.n_kv = Some(u64::MAX / 2);
    expect_err(&b.build(), &["metadata count", "cannot fit"]);
    // A count that fits the file size but not its contents.
    let mut b = valid();
    b.n_kv = Some(5);
    expect_err(&b.build(), &["metadata key"]);
}

#[test]
fn bad_metadata() {
    // Key length larger than the file.
    let mut f = valid().build();
    f[24..32].copy_from_slice(&u64::MAX.to_le_bytes());
    expect_err(&f, &["metadata key #0", "string length", "larger than"]);
    expect_err(&Builder::new().kv("", T_U8, vec![1]).build(), &["metadata key #0 is empty"]);
    expect_err(
        &Builder::new().kv("dup", T_U8, vec![1]).kv("x", T_U8, vec![1]).kv("dup", T_U8, vec![2]).build(),
        &["'dup' appears twice", "#0", "#2"],
    );
    expect_err(&Builder::new().kv("k", 13, vec![0; 8]).build(), &["'k'", "unknown value type 13"]);
    expect_err(&Builder::new().kv("s", T_STRING, (1u64 << 40).to_le_bytes().to_vec()).build(), &["'s'", "string length 1099511627776"]);
    expect_err(&Builder::new().kv("b", T_BOOL, vec![2]).build(), &["'b'", "bool value is 2"]);
    expect_err(&Builder::new().kv("u", T_STRING, gguf_str(&[0x66, 0xff, 0x66])).build(), &["'u'", "not valid UTF-8"]);
    let mut f = Builder::new().kv("bad\u{1}key", T_U8, vec![1]).build();
    let at = f.windows(7).position(|w| w == b"bad\x01key").unwrap();
    f[at + 3] = 0xC3; // truncated 2-byte sequence
    expect_err(&f, &["metadata key #0", "not valid UTF-8"]);
    // Arrays: huge counts are refused before any allocation.
    let mut huge = T_F32.to_le_bytes().to_vec();
    huge.extend_from_slice(&(u64::MAX / 4).to_le_bytes());
    expect_err(&Builder::new().kv("scores", T_ARRAY, huge).build(), &["'scores'", "array of float32", "cannot fit"]);
    let mut huge = T_STRING.to_le_bytes().to_vec();
    huge.extend_from_slice(&1_000_000u64.to_le_bytes());
    expect_err(&Builder::new().kv("tokens", T_ARRAY, huge).build(), &["'tokens'", "count 1000000 cannot fit"]);
    expect_err(&Builder::new().kv("a", T_ARRAY, array_payload(99, &[])).build(), &["'a'", "unknown value type 99"]);
    expect_err(
        &Builder::new().kv("tokens", T_ARRAY, array_payload(T_STRING, &[gguf_str(b"ok"), u64::MAX.to_le_bytes().to_vec()])).build(),
        &["'tokens'", "string #1", "larger than"],
    );
    // Nesting: 8 levels are fine, 9 are refused.
    let nest = |depth: usize| {
        let mut p = array_payload(T_U8, &[vec![1]]);
        for _ in 1..depth {
            p = array_payload(T_ARRAY, &[p]);
        }
        p
    };
    let (_d, _p, r) = open(&Builder::new().kv("deep", T_ARRAY, nest(8)).build());
    assert!(r.is_ok());
    expect_err(&Builder::new().kv("deep", T_ARRAY, nest(9)).build(), &["'deep'", "nested more than 8"]);
}

#[test]
fn bad_alignment() {
    expect_err(
        &valid().kv("general.alignment", T_U32, 13u32.to_le_bytes().to_vec()).build(),
        &["general.alignment", "13", "not a power of two"],
    );
    expect_err(&valid().kv("general.alignment", T_U32, 0u32.to_le_bytes().to_vec()).build(), &["general.alignment", "not a power of two"]);
    expect_err(
        &valid().kv("general.alignment", T_I32, 32i32.to_le_bytes().to_vec()).build(),
        &["general.alignment", "must be a uint32", "int32"],
    );
}

fn with_tensor(t: Tensor) -> Vec<u8> {
    Builder::new().tensor(t).build()
}

#[test]
fn bad_tensor_infos() {
    let f32s = |n: usize| vec![0u8; 4 * n];
    expect_err(&with_tensor(Tensor::new("t5", &[1, 1, 1, 1, 1], GgmlType::F32, f32s(1))), &["tensor 't5'", "5 dimensions"]);
    expect_err(&with_tensor(Tensor::new("neg", &[4, u64::MAX], GgmlType::F32, f32s(4))), &["tensor 'neg'", "dimension 1 is -1"]);
    expect_err(
        &with_tensor(Tensor::new("big", &[1 << 32, 1 << 32, 1 << 32], GgmlType::F32, f32s(1))),
        &["tensor 'big'", "element count overflows"],
    );
    // Fits in elements but not in bytes.
    expect_err(
        &with_tensor(Tensor::new("bytes", &[1 << 31, 1 << 31], GgmlType::F32, f32s(1))),
        &["tensor 'bytes'", "byte size that overflows"],
    );
    let mut t = Tensor::new("odd", &[4], GgmlType::F32, f32s(4));
    t.ty = 99;
    expect_err(&with_tensor(t), &["tensor 'odd'", "unknown type id 99"]);
    let mut t = Tensor::new("iq", &[256], GgmlType::F32, vec![0; 66]);
    t.ty = 16;
    expect_err(&with_tensor(t), &["tensor 'iq'", "IQ2_XXS", "does not support"]);
    expect_err(
        &with_tensor(Tensor::new("rows", &[31, 2], GgmlType::Q4_0, vec![0; 36])),
        &["tensor 'rows'", "not a multiple of the block size 32"],
    );
    expect_err(&with_tensor(Tensor::new("", &[1], GgmlType::F32, f32s(1))), &["tensor #0 has an empty name"]);
    expect_err(
        &Builder::new()
            .tensor(Tensor::new("same", &[1], GgmlType::F32, f32s(1)))
            .tensor(Tensor::new("same", &[1], GgmlType::F32, f32s(1)))
            .build(),
        &["tensor 'same' appears twice", "#0", "#1"],
    );
    // Tensor name length past the end of the file.
    let mut f = with_tensor(Tensor::new("x", &[1], GgmlType::F32, f32s(1)));
    f[24..32].copy_from_slice(&(1u64 << 50).to_le_bytes());
    expect_err(&f, &["tensor #0 name", "larger than"]);
}

#[test]
fn bad_tensor_placement() {
    let f32s = |n: usize| vec![0u8; 4 * n];
    let mut t = Tensor::new("mis", &[4], GgmlType::F32, f32s(4));
    t.offset = Some(4);
    expect_err(&with_tensor(t), &["tensor 'mis'", "offset 4", "alignment 32"]);
    let mut t = Tensor::new("far", &[4], GgmlType::F32, vec![]);
    t.offset = Some(1 << 40);
    expect_err(&with_tensor(t), &["tensor 'far'", "past the end of the file"]);
    let mut t = Tensor::new("wrap", &[4], GgmlType::F32, vec![]);
    t.offset = Some(u64::MAX - 31);
    expect_err(&with_tensor(t), &["tensor 'wrap'", "past the end of the file"]);
    // Declares 64 floats but the file holds 4.
    let mut f = with_tensor(Tensor::new("short", &[4], GgmlType::F32, f32s(4)));
    let dims_at = f.windows(5).position(|w| w == b"short").unwrap() + 5 + 4;
    f[dims_at..dims_at + 8].copy_from_slice(&64u64.to_le_bytes());
    expect_err(&f, &["tensor 'short'", "256 bytes", "past the end of the file"]);
    let mut second = Tensor::new("second", &[16], GgmlType::F32, f32s(16));
    second.offset = Some(32);
    expect_err(
        &Builder::new().tensor(Tensor::new("first", &[16], GgmlType::F32, f32s(16))).tensor(second).build(),
        &["tensors 'first'", "'second'", "overlap"],
    );
    // The header claims tensors but the padding to the data section is cut off.
    let f = valid().build();
    let g = {
        let (_d, _p, r) = open(&f);
        r.unwrap()
    };
    let cut = &f[..(g.data_offset - 1) as usize];
    expect_err(cut, &["past the end of the file"]);
}

#[test]
fn errors_are_values_not_panics_on_random_corruption() {
    // Flip bytes of a valid file one position at a time: each result must be
    // an Ok or an Err, never a panic or an abort.
    let full = valid().build();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.gguf");
    for i in 0..full.len() {
        for x in [0xFFu8, 0x80, 0x01] {
            let mut f = full.clone();
            f[i] ^= x;
            std::fs::write(&path, &f).unwrap();
            if let Ok(g) = GgufFile::open(&path) {
                for t in &g.tensors {
                    let q = g.tensor(&t.name).unwrap();
                    assert_eq!(q.bytes().len(), t.n_bytes);
                }
            }
        }
    }
}

#[test]
fn invalid_utf8_inside_a_string_array_names_the_string() {
    let items = [gguf_str(b"ok"), gguf_str(&[0xE2, 0x82]), gguf_str(&[0xAC])];
    // Concatenated, strings #1 and #2 would form a valid "€": each must be valid alone.
    let e = expect_err(
        &Builder::new().kv("tokenizer.ggml.tokens", T_ARRAY, array_payload(T_STRING, &items)).build(),
        &["'tokenizer.ggml.tokens'", "string #1", "not valid UTF-8"],
    );
    assert!(!e.contains("string #2"), "{e}");
    let items = [gguf_str(b"a"), gguf_str(b"b"), gguf_str(&[0xff])];
    expect_err(&Builder::new().kv("t", T_ARRAY, array_payload(T_STRING, &items)).build(), &["'t'", "string #2", "not valid UTF-8"]);
}

/// Gemma 3's attention scale on the GGUF path, which has no
/// query_pre_attn_scalar key, is llama.cpp's: 1/√(hidden/heads) for the 27B
/// model (62 layers: 5376/32 = 168, not its head_dim 128), 1/√head_dim for
/// the others (270M: 256); the local rope base comes from
/// rope.freq_base_swa when the file has it.
#[test]
fn gemma3_attention_scale_and_local_rope_base_follow_llama_cpp() {
    let header = |layers: u32, hidden: u32, heads: u32, head_dim: u32, swa_base: Option<f32>| {
        let mut b = Builder::new()
            .kv("general.architecture", T_STRING, gguf_str(b"gemma3"))
            .kv("gemma3.block_count", T_U32, layers.to_le_bytes().to_vec())
            .kv("gemma3.embedding_length", T_U32, hidden.to_le_bytes().to_vec())
            .kv("gemma3.attention.head_count", T_U32, heads.to_le_bytes().to_vec())
            .kv("gemma3.attention.head_count_kv", T_U32, (heads / 2).to_le_bytes().to_vec())
            .kv("gemma3.attention.key_length", T_U32, head_dim.to_le_bytes().to_vec())
            .kv("gemma3.feed_forward_length", T_U32, 64u32.to_le_bytes().to_vec())
            .kv("gemma3.attention.sliding_window", T_U32, 512u32.to_le_bytes().to_vec());
        if let Some(base) = swa_base {
            b = b.kv("gemma3.rope.freq_base_swa", T_F32, base.to_le_bytes().to_vec());
        }
        // The embedding's shape gives the vocabulary (here 1 token).
        b.tensor(Tensor::new("token_embd.weight", &[hidden as u64, 1], GgmlType::F32, f32_bytes(&vec![0.0; hidden as usize]))).build()
    };
    let config = |bytes: Vec<u8>| {
        let (_dir, _path, f) = open(&bytes);
        dyag::model::load::config_from_gguf(&f.unwrap()).unwrap()
    };
    let c27 = config(header(62, 5376, 32, 128, None));
    assert_eq!(c27.attn_scale, (1.0 / 168f64.sqrt()) as f32);
    assert_ne!(c27.attn_scale, (1.0 / 128f64.sqrt()) as f32);
    assert_eq!(c27.rope_local.theta, 1e4);
    let c270 = config(header(18, 640, 4, 256, Some(2e4)));
    assert_eq!(c270.attn_scale, 1.0 / 16.0);
    assert_eq!(c270.rope_local.theta, 2e4);
}

/// Hardening findings 1, 3 and 12 on the GGUF path: sizes are range-checked
/// as they are read, before anything is allocated from them (a block_count
/// of 2^40 used to allocate a per-layer table first, an abort no error
/// handling catches), a sliding window of 0 (a panic in attention) and a
/// non-finite rope base are refused, and a token id that does not fit u32
/// is an error, not a truncation.
#[test]
fn hostile_model_metadata_is_refused_before_allocation() {
    let header = |edit: &dyn Fn(Builder) -> Builder| {
        let b = Builder::new()
            .kv("general.architecture", T_STRING, gguf_str(b"gemma3"))
            .kv("gemma3.embedding_length", T_U32, 8u32.to_le_bytes().to_vec())
            .kv("gemma3.attention.head_count", T_U32, 2u32.to_le_bytes().to_vec())
            .kv("gemma3.feed_forward_length", T_U32, 16u32.to_le_bytes().to_vec());
        edit(b).tensor(Tensor::new("token_embd.weight", &[8, 1], GgmlType::F32, f32_bytes(&[0.0; 8]))).build()
    };
    let config_err = |bytes: Vec<u8>, needles: &[&str]| {
        let (_dir, _path, f) = open(&bytes);
        let e = dyag::model::load::config_from_gguf(&f.unwrap()).unwrap_err().to_string();
        for n in needles {
            assert!(e.contains(n), "{n:?} not in: {e}");
        }
    };
    let u64v = |v: u64| v.to_le_bytes().to_vec();
    let layers = |n: u64| move |b: Builder| b.kv("gemma3.block_count", T_U64, n.to_le_bytes().to_vec());
    config_err(
        header(&|b| layers(1 << 40)(b).kv("gemma3.attention.sliding_window", T_U32, 4u32.to_le_bytes().to_vec())),
        &["gemma3.block_count", "1099511627776", "out of range"],
    );
    config_err(header(&layers(0)), &["gemma3.block_count", "out of range"]);
    config_err(header(&|b| layers(2)(b).kv("gemma3.attention.head_count_kv", T_U64, u64v(u64::MAX))), &["head_count_kv", "out of range"]);
    config_err(
        header(&|b| layers(2)(b).kv("gemma3.attention.sliding_window", T_U32, 0u32.to_le_bytes().to_vec())),
        &["sliding_window", "0", "out of range"],
    );
    config_err(header(&|b| layers(2)(b).kv("gemma3.context_length", T_U64, u64v(1 << 50))), &["context_length", "out of range"]);
    for bad in [f32::NAN, -1.0, 0.0, f32::INFINITY] {
        config_err(
            header(&|b| {
                layers(2)(b).kv("gemma3.attention.sliding_window", T_U32, 4u32.to_le_bytes().to_vec()).kv(
                    "gemma3.rope.freq_base",
                    T_F32,
                    bad.to_le_bytes().to_vec(),
                )
            }),
            &["rope_theta", "not a positive finite number"],
        );
    }
}
