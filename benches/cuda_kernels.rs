//! Criterion benchmarks of the CUDA kernels (feature `cuda`), with the GPU
//! named: TFLOP/s for the matrix kernels (criterion's "elem/s" is FLOP/s
//! here), GB/s for the memory-bound ones. The NF4 dequant-matmul is compared
//! with cuBLAS's bf16 GEMM (bf16 in, f32 compute, bf16 out) of the same shape;
//! the ratio is printed after each pair.
//!
//! cargo bench --features cuda --bench cuda_kernels
//! Without a usable CUDA device it prints why and exits successfully.

use criterion::{BenchmarkId, Criterion, Throughput};
use cudarc::cublas::{result as cublas_result, sys as cublas_sys, CudaBlas};
use dyag::cuda::device::{ptr, Gpu, Mat};
use dyag::cuda::weights::HostWeight;
use dyag::model::config::Activation;
use dyag::ops::activation_cuda::glu_forward_gpu;
use dyag::ops::adamw::AdamW;
use dyag::ops::adamw_cuda::adamw_step_gpu;
use dyag::ops::attention::AttnShape;
use dyag::ops::attention_cuda::{attention_backward_gpu, attention_forward_gpu, GpuSeqs, KvLayout};
use dyag::ops::linear_cuda::{linear_backward_input_gpu, linear_forward_gpu};
use dyag::ops::lora_cuda::{lora_backward_gpu, lora_forward_gpu, LoraDev};
use dyag::ops::norm_cuda::rmsnorm_forward_gpu;
use dyag::quant::tensor::QTensor;
use dyag::quant::Quantization;
use dyag::util::rng::Rng;
use std::time::{Duration, Instant};

fn rand(rng: &mut Rng, n: usize, s: f32) -> Vec<f32> {
    (0..n).map(|_| (rng.next_f32() * 2.0 - 1.0) * s).collect()
}

/// Mean seconds of `f` (which queues GPU work) over enough runs, synchronised.
fn time_it(g: &Gpu, mut f: impl FnMut()) -> f64 {
    f();
    g.sync().unwrap();
    let t0 = Instant::now();
    let mut n = 0;
    while t0.elapsed() < Duration::from_millis(300) || n < 5 {
        f();
        n += 1;
    }
    g.sync().unwrap();
    t0.elapsed().as_secs_f64() / n as f64
}

fn bench_matmul(c: &mut Criterion, g: &Gpu) {
    let blas = CudaBlas::new(g.stream().clone()).expect("cuBLAS");
    let mut rng = Rng::new(1);
    // (tokens, out, in): gemma3-270m's MLP and attention shapes for a 4096-token
    // batch, and a 4096² layer of a 1–8B model.
    for &(m, n, k) in &[(4096usize, 2048usize, 640usize), (4096, 640, 2048), (4096, 1024, 640), (4096, 4096, 4096), (8192, 14336, 4096)] {
        let flops = 2.0 * m as f64 * n as f64 * k as f64;
        let wv = rand(&mut rng, n * k, 0.05);
        let wt = QTensor::from_f32("w", vec![n, k], &wv).unwrap();
        let x = g.upload(&rand(&mut rng, m * k, 1.0)).unwrap();
        let y = g.zeros::<f32>(m * n).unwrap();
        let dx = g.zeros::<f32>(m * k).unwrap();
        let mut group = c.benchmark_group(format!("matmul {m}x{n}x{k} ({}) [elem = FLOP]", g.name()));
        group.throughput(Throughput::Elements(flops as u64));
        group.sample_size(20);
        let mut secs = Vec::new();
        for quant in [Quantization::Nf4, Quantization::Bf16] {
            let w = HostWeight::prepare(&wt, quant).unwrap().upload(g).unwrap();
            let xm = Mat::new(&x, m, k).unwrap();
            let ym = Mat::new(&y, m, n).unwrap();
            group.bench_function(BenchmarkId::new("xwt", quant.name()), |b| {
                b.iter_custom(|iters| {
                    g.sync().unwrap();
                    let t0 = Instant::now();
                    for _ in 0..iters {
                        linear_forward_gpu(g, xm, &w, None, ym, false).unwrap();
                    }
                    g.sync().unwrap();
                    t0.elapsed()
                })
            });
            secs.push((format!("{} xwt", quant.name()), time_it(g, || linear_forward_gpu(g, xm, &w, None, ym, false).unwrap())));
            let dxm = Mat::new(&dx, m, k).unwrap();
            group.bench_function(BenchmarkId::new("dyw", quant.name()), |b| {
                b.iter_custom(|iters| {
                    g.sync().unwrap();
                    let t0 = Instant::now();
                    for _ in 0..iters {
                        linear_backward_input_gpu(g, ym, &w, dxm, false).unwrap();
                    }
                    g.sync().unwrap();
                    t0.elapsed()
                })
            });
            secs.push((format!("{} dyw", quant.name()), time_it(g, || linear_backward_input_gpu(g, ym, &w, dxm, false).unwrap())));
        }
        // cuBLAS bf16 GEMM of the same shape: C[M,N] = X[M,K]·W[N,K]ᵀ (column-major: Cᵀ = W·Xᵀ).
        let xb = g.upload(&vec![0x3c00u16; m * k]).unwrap(); // bf16 ≈ 0.0078: values do not matter for timing
        let wb = g.upload(&vec![0x3c00u16; n * k]).unwrap();
        let cb = g.zeros::<u16>(m * n).unwrap();
        let (alpha, beta) = (1.0f32, 0.0f32);
        let gemm = || unsafe {
            cublas_result::gemm_ex(
                *blas.handle(),
                cublas_sys::cublasOperation_t::CUBLAS_OP_T,
                cublas_sys::cublasOperation_t::CUBLAS_OP_N,
                n as i32,
                m as i32,
                k as i32,
                &alpha as *const f32 as *const _,
                ptr(&wb) as *const _,
                cublas_sys::cudaDataType::CUDA_R_16BF,
                k as i32,
                ptr(&xb) as *const _,
                cublas_sys::cudaDataType::CUDA_R_16BF,
                k as i32,
                &beta as *const f32 as *const _,
                ptr(&cb) as *mut _,
                cublas_sys::cudaDataType::CUDA_R_16BF,
                n as i32,
                cublas_sys::cublasComputeType_t::CUBLAS_COMPUTE_32F,
                cublas_sys::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT_TENSOR_OP,
            )
            .expect("cublasGemmEx")
        };
        group.bench_function(BenchmarkId::new("cublas_bf16_gemm", "bf16"), |b| {
            b.iter_custom(|iters| {
                g.sync().unwrap();
                let t0 = Instant::now();
                for _ in 0..iters {
                    gemm();
                }
                g.sync().unwrap();
                t0.elapsed()
            })
        });
        let cublas = time_it(g, gemm);
        group.finish();
        println!("matmul {m}x{n}x{k} on {}: cuBLAS bf16 {:.1} TFLOP/s", g.name(), flops / cublas / 1e12);
        for (name, s) in secs {
            println!("  {name}: {:.1} TFLOP/s = {:.0}% of cuBLAS bf16", flops / s / 1e12, 100.0 * cublas / s);
        }
    }
}

fn bench_lora_attention_misc(c: &mut Criterion, g: &Gpu) {
    let mut rng = Rng::new(2);
    // LoRA r=16 on a 4096-token batch, 640 → 2048.
    let (m, inp, out, r) = (4096usize, 640usize, 2048usize, 16usize);
    let (a, b) = (g.upload(&rand(&mut rng, r * inp, 0.1)).unwrap(), g.upload(&rand(&mut rng, out * r, 0.1)).unwrap());
    let dev = LoraDev { r, in_features: inp, out_features: out, a: &a, b: &b, scale: 2.0 };
    let (x, y, h) = (g.upload(&rand(&mut rng, m * inp, 1.0)).unwrap(), g.zeros::<f32>(m * out).unwrap(), g.zeros::<f32>(m * r).unwrap());
    let (ga, gb, dh, dx) = (
        g.zeros::<f32>(r * inp).unwrap(),
        g.zeros::<f32>(out * r).unwrap(),
        g.zeros::<f32>(m * r).unwrap(),
        g.zeros::<f32>(m * inp).unwrap(),
    );
    let (xm, ym, dxm) = (Mat::new(&x, m, inp).unwrap(), Mat::new(&y, m, out).unwrap(), Mat::new(&dx, m, inp).unwrap());
    let bytes = 4 * (m * inp + 2 * m * out) as u64;
    let mut group = c.benchmark_group(format!("lora r={r} {m}x{inp}->{out} ({}) [bytes]", g.name()));
    group.throughput(Throughput::Bytes(bytes));
    group.bench_function("forward", |bch| {
        bch.iter_custom(|iters| {
            let t0 = Instant::now();
            for _ in 0..iters {
                lora_forward_gpu(g, &dev, xm, None, &h, ym).unwrap();
            }
            g.sync().unwrap();
            t0.elapsed()
        })
    });
    group.bench_function("backward", |bch| {
        bch.iter_custom(|iters| {
            let t0 = Instant::now();
            for _ in 0..iters {
                lora_backward_gpu(g, &dev, xm, None, &h, ym, &ga, &gb, dxm, &dh).unwrap();
            }
            g.sync().unwrap();
            t0.elapsed()
        })
    });
    group.finish();

    // Attention: gemma3-270m shape (4 heads, 1 KV head, d = 256), 8 sequences of 512.
    let (nh, nkv, d, len, nseq) = (4usize, 1usize, 256usize, 512usize, 8usize);
    let t = len * nseq;
    let spans: Vec<_> = (0..nseq).map(|i| dyag::model::forward::SeqSpan { start: i * len, len, pos0: 0 }).collect();
    let seqs = GpuSeqs::packed(g, &spans).unwrap();
    let (q, k, v) = (
        g.upload(&rand(&mut rng, t * nh * d, 1.0)).unwrap(),
        g.upload(&rand(&mut rng, t * nkv * d, 1.0)).unwrap(),
        g.upload(&rand(&mut rng, t * nkv * d, 1.0)).unwrap(),
    );
    let (o, lse, dvec) = (g.zeros::<f32>(t * nh * d).unwrap(), g.zeros::<f32>(nh * t).unwrap(), g.zeros::<f32>(nh * t).unwrap());
    let (dq, dk, dv) = (g.zeros::<f32>(t * nh * d).unwrap(), g.zeros::<f32>(t * nkv * d).unwrap(), g.zeros::<f32>(t * nkv * d).unwrap());
    for window in [None, Some(512usize / 4)] {
        let s = AttnShape { n_heads: nh, n_kv_heads: nkv, head_dim: d, scale: 0.0625, window };
        let visible: f64 = (0..len).map(|p| window.map_or(p + 1, |w| (p + 1).min(w)) as f64).sum::<f64>() * nseq as f64;
        let flops = 4.0 * visible * d as f64 * nh as f64; // QKᵀ and PV
        let mut group =
            c.benchmark_group(format!("attention {nseq}x{len} h{nh}/{nkv} d{d} window {window:?} ({}) [elem = FLOP]", g.name()));
        group.throughput(Throughput::Elements(flops as u64));
        group.sample_size(20);
        let kv = KvLayout::token_major(nkv, d);
        let (qm, om) = (Mat::new(&q, t, nh * d).unwrap(), Mat::new(&o, t, nh * d).unwrap());
        group.bench_function("forward", |bch| {
            bch.iter_custom(|iters| {
                let t0 = Instant::now();
                for _ in 0..iters {
                    attention_forward_gpu(g, &s, qm, &k, &v, kv, &seqs, om, Some(&lse)).unwrap();
                }
                g.sync().unwrap();
                t0.elapsed()
            })
        });
        group.throughput(Throughput::Elements((2.5 * flops) as u64));
        group.bench_function("backward", |bch| {
            bch.iter_custom(|iters| {
                let t0 = Instant::now();
                for _ in 0..iters {
                    attention_backward_gpu(g, &s, qm, &k, &v, kv, &seqs, om, om, &lse, &dvec, Mat::new(&dq, t, nh * d).unwrap(), &dk, &dv)
                        .unwrap();
                }
                g.sync().unwrap();
                t0.elapsed()
            })
        });
        group.finish();
    }

    // Memory-bound kernels.
    let n = 4096 * 2048;
    let (a1, a2, a3) = (g.upload(&rand(&mut rng, n, 1.0)).unwrap(), g.upload(&rand(&mut rng, n, 1.0)).unwrap(), g.zeros::<f32>(n).unwrap());
    let w = g.upload(&rand(&mut rng, 2048, 1.0)).unwrap();
    let mut group = c.benchmark_group(format!("memory-bound, {n} values ({}) [bytes]", g.name()));
    group.throughput(Throughput::Bytes(12 * n as u64));
    group.bench_function("glu_forward (geglu)", |bch| {
        bch.iter_custom(|iters| {
            let t0 = Instant::now();
            for _ in 0..iters {
                glu_forward_gpu(g, Activation::GeluTanh, &a1, &a2, &a3, n).unwrap();
            }
            g.sync().unwrap();
            t0.elapsed()
        })
    });
    group.throughput(Throughput::Bytes(8 * n as u64));
    group.bench_function("rmsnorm_forward d=2048", |bch| {
        bch.iter_custom(|iters| {
            let t0 = Instant::now();
            for _ in 0..iters {
                rmsnorm_forward_gpu(
                    g,
                    Mat::new(&a1, n / 2048, 2048).unwrap(),
                    &w,
                    1e-6,
                    Mat::new(&a3, n / 2048, 2048).unwrap(),
                    None,
                    false,
                )
                .unwrap();
            }
            g.sync().unwrap();
            t0.elapsed()
        })
    });
    let mv = g.zeros::<f32>(n).unwrap();
    let vv = g.zeros::<f32>(n).unwrap();
    group.throughput(Throughput::Bytes(28 * n as u64));
    group.bench_function("adamw_step", |bch| {
        let mut step = 0u64;
        bch.iter_custom(|iters| {
            let t0 = Instant::now();
            for _ in 0..iters {
                step += 1;
                adamw_step_gpu(g, &AdamW::default(), step, 1e-4, 1.0, &a3, &a1, &mv, &vv, n).unwrap();
            }
            g.sync().unwrap();
            t0.elapsed()
        })
    });
    group.finish();
}

fn main() {
    let g = match Gpu::global() {
        Ok(g) => g,
        Err(why) => {
            eprintln!("no CUDA device: {why}\nCUDA kernel benchmarks skipped.");
            return;
        }
    };
    println!("GPU: {}", g.describe());
    let mut c =
        Criterion::default().configure_from_args().warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    bench_matmul(&mut c, &g);
    bench_lora_attention_misc(&mut c, &g);
    c.final_summary();
}
