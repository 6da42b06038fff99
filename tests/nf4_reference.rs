//! NF4 quantisation against values computed from bitsandbytes' definitions
//! (tests/data/nf4/make_reference.py, numpy), bit for bit; round-trip error
//! bounds; quantisation from bf16 and from GGUF block types.

use dyag::quant::nf4::{dynamic_map, Nf4Tensor, Scales, BLOCK, NF4_CODE};
use dyag::quant::tensor::QTensor;
use dyag::quant::{random::random_blocks, GgmlType};
use dyag::util::rng::Rng;
use serde_json::Value;

fn reference() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/nf4/reference.json");
    serde_json::from_str(&std::fs::read_to_string(path).expect("reference.json")).expect("valid JSON")
}

fn f32s(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|b| f32::from_bits(b.as_u64().unwrap() as u32)).collect()
}

fn hex(v: &Value) -> Vec<u8> {
    let s = v.as_str().unwrap();
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
}

/// The script's input generator: Irwin–Hall(4) from xorshift32, all in f32.
fn inputs(rows: usize, cols: usize, seed: u32) -> Vec<f32> {
    let mut s = seed;
    let mut u = || {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        (s >> 8) as f32 * (1.0 / (1u32 << 24) as f32)
    };
    let mut out = Vec::with_capacity(rows * cols);
    for r in 0..rows {
        let scale = (r + 1) as f32 * 0.0125f32;
        for _ in 0..cols {
            let (a, b, c, d) = (u(), u(), u(), u());
            let g = (((a + b) + c) + d) - 2.0;
            out.push(g * scale);
        }
    }
    // The script's special blocks (row 0): zeros, exact codes, an outlier.
    out[0..64].fill(0.0);
    for i in 0..64 {
        out[64 + i] = NF4_CODE[i % 16] * 0.5;
    }
    out[128..192].fill(1e-3);
    out[150] = -3.0;
    out
}

fn assert_bits(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(g.to_bits(), w.to_bits(), "{what}[{i}]: {g:e} vs {w:e}");
    }
}

#[test]
fn matches_bitsandbytes_definition_bit_for_bit() {
    let r = reference();
    let (rows, cols) = (r["rows"].as_u64().unwrap() as usize, r["cols"].as_u64().unwrap() as usize);
    let x = inputs(rows, cols, r["input_seed"].as_u64().unwrap() as u32);
    assert_bits("input", &x[..16], &f32s(&r["input_first_bits"]));
    let sum: f64 = x.iter().map(|&v| v as f64).sum();
    assert_eq!(sum, r["input_sum_f64"].as_f64().unwrap(), "input generator differs from the script's");
    assert_bits("nf4 code", &NF4_CODE, &f32s(&r["nf4_code_bits"]));
    assert_bits("dynamic map", dynamic_map(), &f32s(&r["dynamic_map_bits"]));

    // Single quantisation.
    let t = Nf4Tensor::quantize("ref", rows, cols, &x, false).unwrap();
    assert_eq!(t.packed, hex(&r["packed_hex"]), "packed codes");
    let Scales::F32(absmax) = &t.scales else { panic!("f32 scales expected") };
    assert_bits("absmax", absmax, &f32s(&r["absmax_bits"]));
    let deq = t.dequantize();
    let sample = f32s(&r["dequant_sample_bits"]);
    assert_bits("dequant", &deq[..sample.len()], &sample);
    assert_eq!(deq.iter().map(|&v| v as f64).sum::<f64>(), r["dequant_sum_f64"].as_f64().unwrap());

    // Double quantisation: same codes, compressed scales.
    let d = &r["double_quant"];
    let td = Nf4Tensor::quantize("ref", rows, cols, &x, true).unwrap();
    assert_eq!(td.packed, t.packed);
    let Scales::Double { q, absmax2, offset } = &td.scales else { panic!("double scales expected") };
    assert_eq!(offset.to_bits(), d["offset_bits"].as_u64().unwrap() as u32, "offset");
    assert_eq!(q, &hex(&d["qabsmax_hex"]), "8-bit absmax codes");
    assert_bits("absmax2", absmax2, &f32s(&d["absmax2_bits"]));
    assert_bits("dequantised absmax", &td.absmax(), &f32s(&d["absmax_dequant_bits"]));
    let deq2 = td.dequantize();
    let sample2 = f32s(&d["dequant_sample_bits"]);
    assert_bits("dequant (double)", &deq2[..sample2.len()], &sample2);
    assert_eq!(deq2.iter().map(|&v| v as f64).sum::<f64>(), d["dequant_sum_f64"].as_f64().unwrap());
    // Storage: 4 bits per value plus 8 bits per 64 values, plus the second level.
    assert_eq!(td.storage_bytes(), rows * cols / 2 + rows * cols / 64 + 4 * 2 + 4);
}

/// Half the largest gap between neighbouring codes: the worst rounding of a scaled value.
fn max_half_gap() -> f32 {
    NF4_CODE.windows(2).map(|w| (w[1] - w[0]) / 2.0).fold(0.0, f32::max)
}

#[test]
fn round_trip_error_is_bounded_per_block() {
    let mut rng = Rng::new(3);
    let (rows, cols) = (33, 192);
    let x: Vec<f32> = (0..rows * cols).map(|_| (rng.next_f32() - 0.5) * (1.0 + rng.below(50) as f32)).collect();
    for dq in [false, true] {
        let t = Nf4Tensor::quantize("w", rows, cols, &x, dq).unwrap();
        let deq = t.dequantize();
        let absmax = t.absmax();
        for (b, (xb, db)) in x.chunks(BLOCK).zip(deq.chunks(BLOCK)).enumerate() {
            let true_max = xb.iter().fold(0f32, |m, v| m.max(v.abs()));
            // Scale error of the double quantisation: bounded by the 8-bit map's resolution.
            let scale_err = (absmax[b] - true_max).abs();
            match &t.scales {
                Scales::F32(_) => assert_eq!(scale_err, 0.0),
                // Half the widest step of the dynamic map (0.9/64/2 < 0.0071) times the block's second-level scale.
                Scales::Double { absmax2, .. } => {
                    let a2 = absmax2[b / dyag::quant::nf4::DQ_BLOCK];
                    assert!(scale_err <= 0.0071 * a2 + 1e-6, "block {b}: absmax {} vs {true_max} (absmax2 {a2})", absmax[b]);
                }
            }
            for (i, (&a, &d)) in xb.iter().zip(db).enumerate() {
                let bound = true_max * max_half_gap() * 1.0001 + scale_err + 1e-7;
                assert!((a - d).abs() <= bound, "dq={dq} block {b} elt {i}: {a} -> {d} (bound {bound})");
            }
            // The block maximum is stored exactly (code ±1) when the scale is exact.
            if !dq {
                assert!(db.iter().any(|&v| v.abs() == true_max));
            }
        }
        // bf16 rounding of the dequantised values: within half a bf16 ulp.
        for (a, b) in t.dequantize_bf16_rounded().iter().zip(&deq) {
            assert!((a - b).abs() <= b.abs() * 2f32.powi(-8));
        }
    }
}

#[test]
fn from_bf16_equals_from_the_same_f32() {
    let mut rng = Rng::new(4);
    let v: Vec<half::bf16> = (0..4 * 128).map(|_| half::bf16::from_f32(rng.next_f32() * 4.0 - 2.0)).collect();
    let f: Vec<f32> = v.iter().map(|b| b.to_f32()).collect();
    assert_eq!(Nf4Tensor::from_bf16("w", 4, 128, &v, true).unwrap(), Nf4Tensor::quantize("w", 4, 128, &f, true).unwrap());
}

#[test]
fn from_every_gguf_type_through_exact_dequantisation() {
    let mut rng = Rng::new(5);
    let (rows, cols) = (3, 256);
    for ty in GgmlType::ALL {
        let n_blocks = rows * cols / ty.block_size();
        let bytes = random_blocks(ty, n_blocks, &mut rng);
        let t = QTensor::owned(format!("w.{ty}"), ty, vec![rows, cols], bytes).unwrap();
        let exact = t.to_f32().unwrap();
        let nf4 = Nf4Tensor::from_qtensor(&t, false).unwrap();
        assert_eq!(nf4, Nf4Tensor::quantize(format!("w.{ty}"), rows, cols, &exact, false).unwrap(), "{ty}");
        assert_eq!((nf4.rows, nf4.cols), (rows, cols));
        // Reference tensor for the CPU engine: bf16-rounded dequantised values.
        let r = nf4.to_reference_qtensor().unwrap();
        assert_eq!(r.shape, vec![rows, cols]);
        assert_eq!(r.to_f32().unwrap(), nf4.dequantize_bf16_rounded());
    }
    // 1-D tensors and ragged rows are refused with the tensor's name.
    let t = QTensor::from_f32("norm.weight", vec![64], &[1.0; 64]).unwrap();
    assert!(Nf4Tensor::from_qtensor(&t, false).unwrap_err().to_string().contains("norm.weight"));
    let t = QTensor::from_f32("odd", vec![2, 96], &[1.0; 192]).unwrap();
    assert!(Nf4Tensor::from_qtensor(&t, false).unwrap_err().to_string().contains("not a multiple"));
}
