//! CUDA side of `attention.rs` (`kernels/attention.cu`): flash-style causal
//! GQA attention with sliding window. The forward pass saves one log-sum-exp
//! per (head, query row) instead of the CPU's probability matrix; the backward
//! pass recomputes the probabilities from it.

use super::attention::AttnShape;
use crate::cuda::device::{i32_arg, ptr, Gpu, KArg, Mat};
use crate::cuda::kernels::ATTENTION;
use crate::cuda::tiles::{ATTN_BKT, ATTN_BQT, ATTN_DOT_HEADS, ATTN_FK, ATTN_FQ, ATTN_MAX_HEAD_DIM, ATTN_QKT, ATTN_QQT, THREADS};
use crate::{Error, Result};
use cudarc::driver::CudaSlice;

/// Where key/value j of KV head g lives: `base + g·head_stride + (k_start + j)·ld`.
#[derive(Clone, Copy, Debug)]
pub struct KvLayout {
    pub head_stride: usize,
    pub ld: usize,
}

impl KvLayout {
    /// Rows `[T, n_kv·d]` as the projections write them (training).
    pub fn token_major(n_kv: usize, d: usize) -> Self {
        KvLayout { head_stride: d, ld: n_kv * d }
    }
}

/// The sequences of one attention call, on the GPU: per sequence its first
/// query row, number of queries, row of key 0 and position of its first query.
pub struct GpuSeqs {
    dev: CudaSlice<i32>,
    n: usize,
    max_q: usize,
    max_keys: usize,
    /// One past the largest key row addressed.
    key_rows: usize,
}

impl GpuSeqs {
    pub fn new(gpu: &Gpu, seqs: &[(usize, usize, usize, usize)]) -> Result<Self> {
        let mut flat = Vec::with_capacity(4 * seqs.len());
        for &(q0, nq, k0, p0) in seqs {
            for v in [q0, nq, k0, p0] {
                flat.push(i32::try_from(v).map_err(|_| Error::invalid(format!("attention: {v} rows is too many for the CUDA kernels")))?);
            }
        }
        Ok(GpuSeqs {
            dev: gpu.upload(&flat)?,
            n: seqs.len(),
            max_q: seqs.iter().map(|s| s.1).max().unwrap_or(0),
            max_keys: seqs.iter().map(|s| s.3 + s.1).max().unwrap_or(0),
            key_rows: seqs.iter().map(|s| s.2 + s.3 + s.1).max().unwrap_or(0),
        })
    }

    /// A packed training batch: each sequence attends to its own rows from position 0.
    pub fn packed(gpu: &Gpu, spans: &[super::attention::SeqSpan]) -> Result<Self> {
        let seqs: Vec<_> = spans.iter().map(|s| (s.start, s.len, s.start, 0)).collect();
        Self::new(gpu, &seqs)
    }
}

fn dc(s: &AttnShape) -> Result<usize> {
    let d = s.head_dim;
    if d == 0 || d > ATTN_MAX_HEAD_DIM {
        return Err(Error::invalid(format!("head dimension {d}: the CUDA attention kernels support 1..={ATTN_MAX_HEAD_DIM}")));
    }
    if s.n_kv_heads == 0 || !s.n_heads.is_multiple_of(s.n_kv_heads) {
        return Err(Error::invalid(format!("{} query heads cannot share {} KV heads", s.n_heads, s.n_kv_heads)));
    }
    Ok(d.div_ceil(32))
}

fn check_kv(s: &AttnShape, seqs: &GpuSeqs, kv: KvLayout, bufs: &[&CudaSlice<f32>]) -> Result<()> {
    if seqs.key_rows == 0 {
        return Ok(());
    }
    let need = (s.n_kv_heads - 1) * kv.head_stride + (seqs.key_rows - 1) * kv.ld + s.head_dim;
    if bufs.iter().any(|b| b.len() < need) {
        return Err(Error::Device(format!("attention: key/value buffers need {need} values")));
    }
    Ok(())
}

fn window(s: &AttnShape) -> Result<KArg> {
    i32_arg("window", s.window.unwrap_or(0))
}

const LQ_PAD: usize = 1;

/// O = softmax(scale·Q·Kᵀ)·V per sequence; LSE `[n_heads, q.rows]` if given.
#[allow(clippy::too_many_arguments)]
pub fn attention_forward_gpu(
    gpu: &Gpu,
    s: &AttnShape,
    q: Mat,
    k: &CudaSlice<f32>,
    v: &CudaSlice<f32>,
    kv: KvLayout,
    seqs: &GpuSeqs,
    out: Mat,
    lse: Option<&CudaSlice<f32>>,
) -> Result<()> {
    let dc = dc(s)?;
    let d = s.head_dim;
    if q.cols < s.n_heads * d || out.cols < s.n_heads * d || out.rows != q.rows {
        return Err(Error::Device(format!(
            "attention: q {}×{}, out {}×{} for {} heads of {d}",
            q.rows, q.cols, out.rows, out.cols, s.n_heads
        )));
    }
    check_kv(s, seqs, kv, &[k, v])?;
    if lse.is_some_and(|l| l.len() < s.n_heads * q.rows) {
        return Err(Error::Device("attention: LSE buffer too small".into()));
    }
    let f = gpu.func(&ATTENTION, &format!("attn_fwd_d{dc}"))?;
    let lq = d + LQ_PAD;
    let smem = (ATTN_FQ * lq + ATTN_FK * lq + ATTN_FK * d) * 4;
    gpu.allow_dynamic_smem(&f, smem)?;
    let args = [
        q.arg(),
        i32_arg("ldq", q.ld)?,
        KArg::Ptr(ptr(k)),
        i32_arg("ldk", kv.ld)?,
        KArg::I64(kv.head_stride as i64),
        KArg::Ptr(ptr(v)),
        i32_arg("ldv", kv.ld)?,
        KArg::I64(kv.head_stride as i64),
        out.arg(),
        i32_arg("ldo", out.ld)?,
        KArg::Ptr(lse.map_or(0, ptr)),
        i32_arg("rows", q.rows)?,
        KArg::Ptr(ptr(&seqs.dev)),
        i32_arg("group", s.n_heads / s.n_kv_heads)?,
        KArg::F32(s.scale),
        window(s)?,
        i32_arg("head_dim", d)?,
    ];
    gpu.launch(&f, (seqs.max_q.div_ceil(ATTN_FQ) as u32, s.n_heads as u32, seqs.n as u32), THREADS as u32, smem as u32, &args)
}

/// From dO and the forward's O and LSE: dQ (written, same layout and ld as Q),
/// dK and dV (written, same layout as K and V). `dvec` is scratch of n_heads·rows.
#[allow(clippy::too_many_arguments)]
pub fn attention_backward_gpu(
    gpu: &Gpu,
    s: &AttnShape,
    q: Mat,
    k: &CudaSlice<f32>,
    v: &CudaSlice<f32>,
    kv: KvLayout,
    seqs: &GpuSeqs,
    o: Mat,
    dout: Mat,
    lse: &CudaSlice<f32>,
    dvec: &CudaSlice<f32>,
    dq: Mat,
    dk: &CudaSlice<f32>,
    dv: &CudaSlice<f32>,
) -> Result<()> {
    let dc = dc(s)?;
    let d = s.head_dim;
    let rows = q.rows;
    if dout.ld != o.ld || dq.ld != q.ld || dq.rows != rows || o.rows != rows || dout.rows != rows {
        return Err(Error::Device("attention backward: dO must share O's layout and dQ Q's".into()));
    }
    check_kv(s, seqs, kv, &[k, v, dk, dv])?;
    if lse.len() < s.n_heads * rows || dvec.len() < s.n_heads * rows {
        return Err(Error::Device("attention backward: LSE/D buffers too small".into()));
    }
    let group = i32_arg("group", s.n_heads / s.n_kv_heads)?;
    let lse_ld = i32_arg("rows", rows)?;
    // D_i = dO_i · O_i
    let f = gpu.func(&ATTENTION, "attn_bwd_dot")?;
    let args =
        [dout.arg(), o.arg(), i32_arg("ld", o.ld)?, KArg::Ptr(ptr(dvec)), lse_ld, lse_ld, i32_arg("heads", s.n_heads)?, i32_arg("d", d)?];
    gpu.launch(&f, (rows as u32, s.n_heads.div_ceil(ATTN_DOT_HEADS) as u32, 1), THREADS as u32, 0, &args)?;
    let lq = d + LQ_PAD;
    let common = |out_a: KArg, out_b: Option<KArg>| -> Result<Vec<KArg>> {
        let mut a = vec![
            q.arg(),
            i32_arg("ldq", q.ld)?,
            KArg::Ptr(ptr(k)),
            i32_arg("ldk", kv.ld)?,
            KArg::I64(kv.head_stride as i64),
            KArg::Ptr(ptr(v)),
            i32_arg("ldv", kv.ld)?,
            KArg::I64(kv.head_stride as i64),
            dout.arg(),
            i32_arg("lddo", dout.ld)?,
            KArg::Ptr(ptr(lse)),
            KArg::Ptr(ptr(dvec)),
            lse_ld,
            out_a,
        ];
        a.extend(out_b);
        a.extend([KArg::Ptr(ptr(&seqs.dev)), group, KArg::F32(s.scale), window(s)?, i32_arg("head_dim", d)?]);
        Ok(a)
    };
    // dK, dV per tile of 16 keys
    let f = gpu.func(&ATTENTION, &format!("attn_bwd_dkdv_d{dc}"))?;
    let smem = (2 * ATTN_BQT * lq + 2 * ATTN_BKT * lq + 2 * ATTN_BQT * (ATTN_BKT + 1) + 2 * ATTN_BQT) * 4;
    gpu.allow_dynamic_smem(&f, smem)?;
    let args = common(KArg::Ptr(ptr(dk)), Some(KArg::Ptr(ptr(dv))))?;
    gpu.launch(&f, (seqs.max_keys.div_ceil(ATTN_BKT) as u32, s.n_kv_heads as u32, seqs.n as u32), THREADS as u32, smem as u32, &args)?;
    // dQ per tile of 16 query rows
    let f = gpu.func(&ATTENTION, &format!("attn_bwd_dq_d{dc}"))?;
    let smem = (2 * ATTN_QQT * lq + 2 * ATTN_QKT * lq) * 4;
    gpu.allow_dynamic_smem(&f, smem)?;
    let args = common(dq.arg(), None)?;
    gpu.launch(&f, (seqs.max_q.div_ceil(ATTN_QQT) as u32, s.n_heads as u32, seqs.n as u32), THREADS as u32, smem as u32, &args)
}
