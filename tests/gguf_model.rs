//! The real model: Gemma 3 270M, GGUF Q4_K_M (scripts/fetch-model.sh).
//!
//! Expected weights below were computed independently with the Python `gguf`
//! package (gguf 0.19.0, numpy 2.4): for each listed tensor and row,
//! `gguf.quants.dequantize(t.data, t.tensor_type)`, then the f32 bit patterns of
//! elements 0, 1, 2 and the last one, and the float64 sum of the row:
//! ```python
//! r = gguf.GGUFReader("models/gemma-3-270m-q4_k_m.gguf")
//! t = {x.name: x for x in r.tensors}[name]
//! v = gguf.quants.dequantize(t.data, t.tensor_type).reshape(-1, cols)[row].astype(np.float32)
//! v.view(np.uint32)[[0, 1, 2, -1]], v.astype(np.float64).sum()
//! ```

use dyag::formats::gguf::GgufFile;
use dyag::quant::{self, available_levels, GgmlType};
use std::path::PathBuf;
use std::time::Instant;

const MODEL: &str = "gemma-3-270m-q4_k_m.gguf";

/// The model file: `$DYAG_MODELS_DIR/<name>` or `<repo>/models/<name>`.
/// Fails (does not skip) when it is absent: CI fetches it first.
fn model_path() -> PathBuf {
    let dir =
        std::env::var_os("DYAG_MODELS_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models"));
    let path = dir.join(MODEL);
    assert!(
        path.is_file(),
        "{} not found: run scripts/fetch-model.sh (or set DYAG_MODELS_DIR to the folder holding {MODEL})",
        path.display()
    );
    path
}

#[test]
fn header_and_metadata() {
    let path = model_path();
    let start = Instant::now();
    let g = GgufFile::open(&path).unwrap();
    let elapsed = start.elapsed();
    eprintln!("opened {} (metadata + tensor infos) in {elapsed:?}", path.display());
    // Well under 100 ms on a quiet machine; timed in `dyag bench`, not here
    // (a loaded CI machine took 2.4 s once).

    assert_eq!(g.version, 3);
    assert_eq!(g.tensors.len(), 236);
    assert_eq!(g.alignment, 32);
    assert_eq!(g.get_str("general.architecture").unwrap(), Some("gemma3"));
    assert_eq!(g.get_u64("gemma3.block_count").unwrap(), Some(18));
    assert_eq!(g.get_u64("gemma3.embedding_length").unwrap(), Some(640));
    assert_eq!(g.get_u64("gemma3.attention.head_count_kv").unwrap(), Some(1));
    assert_eq!(g.get_f32("gemma3.rope.freq_base").unwrap(), Some(1_000_000.0));
    assert_eq!(g.get_bool("tokenizer.ggml.add_bos_token").unwrap(), Some(true));
    assert_eq!(g.get_u64("tokenizer.ggml.bos_token_id").unwrap(), Some(2));
    let tokens = g.get_string_array("tokenizer.ggml.tokens").unwrap().unwrap();
    assert_eq!(tokens.len(), 262144);
    assert_eq!(tokens.get(2), Some("<bos>"));
    assert_eq!(g.get_f32_array("tokenizer.ggml.scores").unwrap().unwrap().len(), 262144);
    assert_eq!(g.get_i32_array("tokenizer.ggml.token_type").unwrap().unwrap().len(), 262144);
    let tags = g.get_string_array("general.tags").unwrap().unwrap();
    assert_eq!(tags.to_vec(), ["gemma3", "gemma", "google", "text-generation"]);
}

#[test]
fn tensor_infos_and_placement() {
    let g = GgufFile::open(&model_path()).unwrap();
    let emb = g.tensor_info("token_embd.weight").unwrap();
    assert_eq!((emb.ty, emb.shape.clone()), (GgmlType::Q8_0, vec![262144, 640]));
    let count = |ty| g.tensors.iter().filter(|t| t.ty == ty).count();
    assert_eq!(
        [count(GgmlType::F32), count(GgmlType::Q5_0), count(GgmlType::Q4_K), count(GgmlType::Q8_0), count(GgmlType::Q6_K)],
        [109, 81, 27, 10, 9]
    );
    assert_eq!(g.tensor_info("blk.0.ffn_down.weight").unwrap().shape, vec![640, 2048]);
    let mut total = 0;
    for t in &g.tensors {
        let q = g.tensor(&t.name).unwrap();
        assert_eq!(q.bytes().len(), t.n_bytes);
        assert_eq!(q.ty.tensor_bytes(&q.shape), Some(t.n_bytes));
        total += t.n_bytes as u64;
    }
    assert!(g.data_offset + total <= g.file_size());
}

#[test]
fn rows_match_gguf_py() {
    // (tensor, row, bits of elements 0..3, bits of the last element, f64 sum of the row)
    let expected: [(&str, usize, [u32; 3], u32, f64); 7] = [
        ("token_embd.weight", 0, [0xbbed6000, 0x3d2f8f00, 0xbd0cf100], 0xbc8ebe00, -0.042476654052734375),
        ("token_embd.weight", 262143, [0xbbf76800, 0x3d300a00, 0xbd0ebc00], 0xbc8ebe00, -0.03731584548950195),
        ("blk.0.attn_q.weight", 1023, [0xbcb40000, 0x3c340000, 0x00000000], 0x3c570000, -1.7096405029296875),
        ("blk.0.attn_output.weight", 639, [0xbd211f00, 0x3dd60380, 0x3d2f8900], 0xbc3ae700, 0.5893046855926514),
        ("blk.0.ffn_down.weight", 5, [0xbc416a80, 0xbc25c900, 0x00000000], 0x3ce27100, -1.509177327156067),
        ("blk.17.ffn_up.weight", 2047, [0xbc9e0000, 0x3c1e0000, 0x3d1e0000], 0xbd16c000, 1.421295166015625),
        ("output_norm.weight", 0, [0x40e40000, 0x41190000, 0x423c0000], 0x41ad0000, 16861.6953125),
    ];
    let g = GgufFile::open(&model_path()).unwrap();
    for (name, row, first, last, sum) in expected {
        let t = g.tensor(name).unwrap();
        let cols = t.cols();
        let mut got = vec![0f32; cols];
        t.dequantize_row(row, &mut got);
        let what = format!("{name} ({}) row {row}", t.ty);
        assert_eq!([got[0].to_bits(), got[1].to_bits(), got[2].to_bits()], first, "{what}");
        assert_eq!(got[cols - 1].to_bits(), last, "{what}");
        let s: f64 = got.iter().map(|&v| v as f64).sum();
        assert!((s - sum).abs() <= 1e-12 * sum.abs().max(1.0), "{what}: sum {s} vs {sum}");
        // Every level dequantises the real row identically, and dots agree.
        let x: Vec<f32> = (0..cols).map(|i| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5).collect();
        let reference = quant::dot_reference(t.ty, t.row_bytes(row), &x);
        let abs: f64 = got.iter().zip(&x).map(|(w, v)| (*w as f64 * *v as f64).abs()).sum();
        for level in available_levels() {
            let mut y = vec![0f32; cols];
            quant::dequantize_with(level, t.ty, t.row_bytes(row), &mut y).unwrap();
            assert!(y.iter().zip(&got).all(|(a, b)| a.to_bits() == b.to_bits()), "{what} at {level}");
            let d = quant::dot_with(level, t.ty, t.row_bytes(row), &x);
            // Same bound as tests/quant_levels.rs, doubled: both sides round.
            let bound = 2.0 * cols as f64 * 2f64.powi(-24) * abs;
            assert!((d as f64 - reference as f64).abs() <= bound, "{what} dot at {level}: {d} vs {reference}");
        }
    }
}
