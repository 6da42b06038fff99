//! f32 GEMM throughput (FLOP/s) for the shapes of gemma3:270m at 512 tokens,
//! on one thread (the per-panel kernels) and on all threads.
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dyag::cpu::gemm::{gemm_nn, gemm_nt, with_serial};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("gemm");
    g.sample_size(10);
    for &(m, n, k) in &[
        (512usize, 64usize, 640usize),
        (206, 64, 640),
        (206, 64, 2048),
        (206, 640, 2048),
        (206, 2048, 640),
        (512, 2048, 640),
        (512, 640, 2048),
    ] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..n * k).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut out = vec![0f32; m * n];
        g.throughput(Throughput::Elements((2 * m * n * k) as u64));
        g.bench_function(format!("nt 1 thread {m}x{n}x{k}"), |bch| {
            bch.iter(|| with_serial(|| gemm_nt(m, n, k, &a, k, &b, k, &mut out, n, false)))
        });
        g.bench_function(format!("nn 1 thread {m}x{n}x{k}"), |bch| {
            bch.iter(|| with_serial(|| gemm_nn(m, n, k, &a, k, &b, n, &mut out, n, false)))
        });
        if n > 64 {
            g.bench_function(format!("nt {m}x{n}x{k}"), |bch| bch.iter(|| gemm_nt(m, n, k, &a, k, &b, k, &mut out, n, false)));
            g.bench_function(format!("nn {m}x{n}x{k}"), |bch| bch.iter(|| gemm_nn(m, n, k, &a, k, &b, n, &mut out, n, false)));
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
