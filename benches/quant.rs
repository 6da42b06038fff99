//! Throughput of the quant kernels, in bytes of weights per second, per type
//! and per SIMD level (single thread).
//!
//! - `dot_dram/<type>/<level>`: a matrix-vector product over a matrix far
//!   larger than the caches (Q8_0: the 262144x640 embedding / tied lm_head of
//!   Gemma 3 270M; others: ~64M weights), i.e. the decode hot loop streaming
//!   weights from memory. This should approach the core's memory bandwidth.
//! - `dot_cached/<type>/<level>`: the same over a 2048x640 matrix (K-quants:
//!   640x2048) that stays in L2: the kernel's compute speed.
//! - `dequantize/<type>/<level>`: unpacking that cached matrix to f32, 16 rows
//!   at a time into a buffer that stays in cache (as GEMM panels are).
//!
//! Run: `cargo bench --bench quant` (filter: `cargo bench --bench quant -- dot_dram/Q8_0`).
//!
//! Clock: by default the benchmark thread's CPU time (CLOCK_THREAD_CPUTIME_ID),
//! not wall time: the development machines are shared, and time spent
//! descheduled is not the kernel's. `DYAG_BENCH_CLOCK=wall` uses wall time.
//! Throughputs print as GB/s (10^9 bytes of weights per second).

use criterion::measurement::{Measurement, ValueFormatter};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dyag::quant::random::random_blocks;
use dyag::quant::{self, available_levels, GgmlType};
use dyag::util::rng::Rng;
use std::time::Duration;

/// (rows, cols) of a matrix of `ty` with about `elems` weights.
fn shape(ty: GgmlType, elems: usize) -> (usize, usize) {
    let cols = if ty.block_size() == 256 { 2048 } else { 640 };
    (elems / cols, cols)
}

fn matrix(ty: GgmlType, rows: usize, cols: usize, rng: &mut Rng) -> Vec<u8> {
    random_blocks(ty, rows * cols / ty.block_size(), rng)
}

fn matvec(level: quant::SimdLevel, ty: GgmlType, w: &[u8], x: &[f32], y: &mut [f32]) {
    quant::dot_rows_with(level, ty, w, x, y).unwrap();
}

fn bench_dot_dram(c: &mut Criterion<Clock>) {
    eprintln!("cpu features: {}", quant::cpu_features());
    let mut rng = Rng::new(1);
    let mut g = c.benchmark_group("dot_dram");
    g.sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    use GgmlType::*;
    for ty in [Q8_0, Q5_0, Q4_K, Q6_K, F32, F16, BF16] {
        let (rows, cols) = if ty == Q8_0 { (262144, 640) } else { shape(ty, 1 << 26) };
        let w = matrix(ty, rows, cols, &mut rng);
        let x: Vec<f32> = (0..cols).map(|_| rng.next_f32() - 0.5).collect();
        let mut y = vec![0f32; rows];
        g.throughput(Throughput::Bytes(w.len() as u64));
        for level in available_levels() {
            g.bench_function(BenchmarkId::new(format!("{ty}"), level), |b| {
                b.iter(|| matvec(level, ty, black_box(&w), black_box(&x), &mut y))
            });
        }
    }
    g.finish();
}

fn bench_cached(c: &mut Criterion<Clock>) {
    let mut rng = Rng::new(2);
    for op in ["dot_cached", "dequantize"] {
        let mut g = c.benchmark_group(op);
        g.sample_size(20).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
        for ty in GgmlType::ALL {
            let (rows, cols) = shape(ty, 2048 * 640);
            let w = matrix(ty, rows, cols, &mut rng);
            let x: Vec<f32> = (0..cols).map(|_| rng.next_f32() - 0.5).collect();
            let mut y = vec![0f32; rows];
            // Dequantisation unpacks panels for the GEMM: 16 rows at a time
            // into one buffer that stays in cache, over the whole matrix.
            let panel_rows = 16;
            let mut panel = vec![0f32; panel_rows * cols];
            let panel_bytes = panel_rows * ty.row_bytes(cols).unwrap();
            g.throughput(Throughput::Bytes(w.len() as u64));
            for level in available_levels() {
                g.bench_function(BenchmarkId::new(format!("{ty}"), level), |b| {
                    if op == "dot_cached" {
                        b.iter(|| matvec(level, ty, black_box(&w), black_box(&x), &mut y))
                    } else {
                        b.iter(|| {
                            for src in black_box(&w).chunks(panel_bytes) {
                                let n = src.len() / ty.block_bytes() * ty.block_size();
                                quant::dequantize_with(level, ty, src, &mut panel[..n]).unwrap();
                            }
                        })
                    }
                });
            }
        }
        g.finish();
    }
}

/// Wall time or the calling thread's CPU time, in nanoseconds.
struct Clock {
    thread: bool,
}

#[cfg(unix)]
fn thread_cpu_ns() -> Option<u64> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid timespec to write into.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

#[cfg(not(unix))]
fn thread_cpu_ns() -> Option<u64> {
    None
}

impl Measurement for Clock {
    type Intermediate = (u64, std::time::Instant);
    type Value = u64;
    fn start(&self) -> Self::Intermediate {
        (thread_cpu_ns().unwrap_or(0), std::time::Instant::now())
    }
    fn end(&self, (cpu, wall): Self::Intermediate) -> u64 {
        match thread_cpu_ns() {
            Some(now) if self.thread => now - cpu,
            _ => wall.elapsed().as_nanos() as u64,
        }
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &Formatter
    }
}

struct Formatter;

impl ValueFormatter for Formatter {
    fn scale_values(&self, _typical_ns: f64, values: &mut [f64]) -> &'static str {
        values.iter_mut().for_each(|v| *v /= 1e6);
        "ms"
    }
    fn scale_throughputs(&self, _typical: f64, throughput: &Throughput, values: &mut [f64]) -> &'static str {
        match *throughput {
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) => {
                values.iter_mut().for_each(|v| *v = n as f64 / *v);
                "GB/s"
            }
            Throughput::Elements(n) => {
                values.iter_mut().for_each(|v| *v = n as f64 / *v);
                "G elem/s"
            }
        }
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}

fn config() -> Criterion<Clock> {
    let thread = std::env::var("DYAG_BENCH_CLOCK").map(|v| v != "wall").unwrap_or(true) && thread_cpu_ns().is_some();
    eprintln!("clock: {}", if thread { "thread CPU time" } else { "wall time" });
    Criterion::default().with_measurement(Clock { thread })
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench_dot_dram, bench_cached
}
criterion_main!(benches);
