//! One CUDA device as dyag uses it: a context, one stream on which every
//! copy and kernel runs in order, the compiled kernels, and small helpers for
//! buffers and launches. Kernels take raw device addresses ([`ptr`]) so that
//! launchers can pass sub-ranges and null pointers freely; every buffer is a
//! cudarc `CudaSlice` owned by a longer-lived struct, and frees are ordered on
//! the same stream.

use super::cache::{self, Origin};
use super::kernels::KernelSource;
use super::loader;
use crate::{Error, Result};
use cudarc::driver::sys::{CUdevice_attribute, CUfunction_attribute};
use cudarc::driver::{
    CudaContext, CudaFunction, CudaModule, CudaSlice, CudaStream, DevicePtr, DeviceRepr, LaunchConfig, PushKernelArg, ValidAsZeroBits,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// The oldest architecture the kernels support (bf16 tensor cores, cvt.rn.bf16x2).
pub const MIN_ARCH: u32 = 80;

pub struct Gpu {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    name: String,
    arch: u32,
    total_mem: usize,
    max_smem_optin: usize,
    modules: Mutex<HashMap<&'static str, Arc<CudaModule>>>,
    funcs: Mutex<HashMap<String, CudaFunction>>,
    dyn_map: OnceLock<CudaSlice<f32>>,
}

/// A kernel argument: device addresses and scalars, passed by value.
#[derive(Clone, Copy, Debug)]
pub enum KArg {
    Ptr(u64),
    I32(i32),
    I64(i64),
    U64(u64),
    F32(f32),
}

/// The device address of a buffer (for kernel arguments).
pub fn ptr<T>(s: &CudaSlice<T>) -> u64 {
    let (p, _sync) = s.device_ptr(s.stream());
    p
}

/// The device address of element `offset` of a buffer.
pub fn ptr_at<T>(s: &CudaSlice<T>, offset: usize) -> u64 {
    debug_assert!(offset <= s.len(), "offset {offset} past a buffer of {}", s.len());
    ptr(s) + (offset * std::mem::size_of::<T>()) as u64
}

fn dev_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Device(format!("CUDA {what}: {e}"))
}

/// An i32 kernel argument from a size, or a clear error if it does not fit.
pub fn i32_arg(name: &str, v: usize) -> Result<KArg> {
    i32::try_from(v)
        .map(KArg::I32)
        .map_err(|_| Error::invalid(format!("{name} = {v} is too large for the CUDA kernels (at most {})", i32::MAX)))
}

impl Gpu {
    /// Device 0, opened once per process; Err says why the GPU cannot be used.
    pub fn global() -> Result<Arc<Gpu>> {
        static GPU: OnceLock<loader::Once<Arc<Gpu>>> = OnceLock::new();
        GPU.get_or_init(|| loader::Once::from_result(Gpu::open(0))).get()
    }

    /// Opens device `ordinal` after checking the driver, the architecture and NVRTC.
    pub fn open(ordinal: usize) -> Result<Arc<Gpu>> {
        loader::ensure_driver()?;
        let count = CudaContext::device_count().map_err(|e| Error::Device(format!("the NVIDIA driver reports no usable device ({e})")))?;
        if count <= ordinal as i32 {
            return Err(Error::Device(if count == 0 {
                "no CUDA device found".to_string()
            } else {
                format!("CUDA device {ordinal} does not exist ({count} found)")
            }));
        }
        let ctx = CudaContext::new(ordinal).map_err(|e| Error::Device(format!("cannot open CUDA device {ordinal}: {e}")))?;
        let (major, minor) = ctx.compute_capability().map_err(|e| Error::Device(format!("cannot read the compute capability: {e}")))?;
        let arch = (major * 10 + minor) as u32;
        let name = ctx.name().unwrap_or_else(|_| format!("CUDA device {ordinal}"));
        if arch < MIN_ARCH {
            return Err(Error::Device(format!(
                "{name} has compute capability {major}.{minor}; dyag's kernels need 8.0 or newer (bf16 tensor cores)"
            )));
        }
        loader::ensure_nvrtc()?;
        let total_mem = ctx.total_mem().unwrap_or(0);
        let max_smem_optin =
            ctx.attribute(CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN).unwrap_or(48 * 1024) as usize;
        // One stream, used in order: cudarc's cross-stream event tracking is not needed.
        // SAFETY: no buffer of this context has been allocated yet, and dyag uses a single stream.
        unsafe { ctx.disable_event_tracking() };
        let stream = ctx.default_stream();
        Ok(Arc::new(Gpu {
            ctx,
            stream,
            name,
            arch,
            total_mem,
            max_smem_optin,
            modules: Mutex::new(HashMap::new()),
            funcs: Mutex::new(HashMap::new()),
            dyn_map: OnceLock::new(),
        }))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Compute capability as 10·major + minor (80 for A100, 90 for H100).
    pub fn arch(&self) -> u32 {
        self.arch
    }

    pub fn total_mem(&self) -> usize {
        self.total_mem
    }

    /// "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB)".
    pub fn describe(&self) -> String {
        format!("{} (sm_{}, {:.1} GiB)", self.name, self.arch, self.total_mem as f64 / (1u64 << 30) as f64)
    }

    pub fn stream(&self) -> &Arc<CudaStream> {
        &self.stream
    }

    /// bitsandbytes' dynamic 8-bit map (double-quantised NF4 scales), uploaded once.
    pub fn dynamic_map(&self) -> Result<&CudaSlice<f32>> {
        if let Some(m) = self.dyn_map.get() {
            return Ok(m);
        }
        let m = self.upload(crate::quant::nf4::dynamic_map())?;
        let _ = self.dyn_map.set(m);
        Ok(self.dyn_map.get().expect("set just above"))
    }

    /// The module of `src`, compiled (or read from the cache) on first use.
    fn module(&self, src: &'static KernelSource) -> Result<Arc<CudaModule>> {
        let mut mods = self.modules.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(m) = mods.get(src.name) {
            return Ok(m.clone());
        }
        let (cubin, origin) = cache::cubin(src, self.arch, false)?;
        let module = match self.ctx.load_module(cudarc::nvrtc::Ptx::from_binary(cubin)) {
            Ok(m) => m,
            Err(e) if origin == Origin::Cache => {
                // A stale or damaged cache entry: compile again.
                let (cubin, _) = cache::cubin(src, self.arch, true)?;
                self.ctx
                    .load_module(cudarc::nvrtc::Ptx::from_binary(cubin))
                    .map_err(|e2| dev_err(&format!("loading {}.cu (cached: {e}; recompiled)", src.name), e2))?
            }
            Err(e) => return Err(dev_err(&format!("loading {}.cu", src.name), e)),
        };
        mods.insert(src.name, module.clone());
        Ok(module)
    }

    /// Kernel `entry` of `src`.
    pub fn func(&self, src: &'static KernelSource, entry: &str) -> Result<CudaFunction> {
        debug_assert!(src.entries.contains(&entry), "{entry} is not listed in {}.cu's entries", src.name);
        let key = format!("{}::{entry}", src.name);
        if let Some(f) = self.funcs.lock().unwrap_or_else(|p| p.into_inner()).get(&key) {
            return Ok(f.clone());
        }
        // Callers may be on any thread (tests run one thread per test).
        self.ctx.bind_to_thread().map_err(|e| dev_err("binding the context", e))?;
        let f = self.module(src)?.load_function(entry).map_err(|e| dev_err(&format!("kernel {entry} in {}.cu", src.name), e))?;
        self.funcs.lock().unwrap_or_else(|p| p.into_inner()).insert(key, f.clone());
        Ok(f)
    }

    /// Lets `f` use `bytes` of dynamic shared memory (above the default 48 KiB).
    pub fn allow_dynamic_smem(&self, f: &CudaFunction, bytes: usize) -> Result<()> {
        if bytes > self.max_smem_optin {
            return Err(Error::Device(format!(
                "a kernel needs {bytes} bytes of shared memory per block; {} offers {}",
                self.name, self.max_smem_optin
            )));
        }
        if bytes > 48 * 1024 {
            self.ctx.bind_to_thread().map_err(|e| dev_err("binding the context", e))?;
            f.set_attribute(CUfunction_attribute::CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes as i32)
                .map_err(|e| dev_err("raising the shared memory limit", e))?;
        }
        Ok(())
    }

    /// Queues kernel `f` on the stream.
    pub fn launch(&self, f: &CudaFunction, grid: (u32, u32, u32), block: u32, smem: u32, args: &[KArg]) -> Result<()> {
        if grid.0 == 0 || grid.1 == 0 || grid.2 == 0 {
            return Ok(()); // nothing to do (empty input)
        }
        let mut b = self.stream.launch_builder(f);
        for a in args {
            match a {
                KArg::Ptr(v) | KArg::U64(v) => b.arg(v),
                KArg::I32(v) => b.arg(v),
                KArg::I64(v) => b.arg(v),
                KArg::F32(v) => b.arg(v),
            };
        }
        let cfg = LaunchConfig { grid_dim: grid, block_dim: (block, 1, 1), shared_mem_bytes: smem };
        // SAFETY: each launcher passes the argument list its kernel declares, with
        // device addresses of live buffers whose sizes it has checked.
        unsafe { b.launch(cfg) }.map(|_| ()).map_err(|e| dev_err("kernel launch", e))
    }

    /// Grid size for a grid-stride loop over `n` elements with 256 threads.
    pub fn grid_for(&self, n: usize) -> u32 {
        n.div_ceil(super::tiles::THREADS).clamp(1, 65_535 * 8) as u32
    }

    pub fn zeros<T: DeviceRepr + ValidAsZeroBits>(&self, n: usize) -> Result<CudaSlice<T>> {
        self.stream.alloc_zeros::<T>(n.max(1)).map_err(|e| dev_err(&format!("allocating {} bytes", n * std::mem::size_of::<T>()), e))
    }

    pub fn upload<T: DeviceRepr>(&self, v: &[T]) -> Result<CudaSlice<T>> {
        if v.is_empty() {
            // cudarc cannot copy zero bytes; an empty buffer still needs an address.
            // SAFETY: a one-element allocation that nothing reads.
            return unsafe { self.stream.alloc::<T>(1) }.map_err(|e| dev_err("allocating", e));
        }
        self.stream.clone_htod(v).map_err(|e| dev_err(&format!("copying {} bytes to the GPU", std::mem::size_of_val(v)), e))
    }

    /// Overwrites the start of `dst` with `v`.
    pub fn upload_into<T: DeviceRepr>(&self, v: &[T], dst: &mut CudaSlice<T>) -> Result<()> {
        if v.is_empty() {
            return Ok(());
        }
        if v.len() > dst.len() {
            return Err(Error::Device(format!("copying {} values into a GPU buffer of {}", v.len(), dst.len())));
        }
        let mut view = dst.slice_mut(0..v.len());
        self.stream.memcpy_htod(v, &mut view).map_err(|e| dev_err("copying to the GPU", e))
    }

    /// The first `n` values of `src` (waits for the stream).
    pub fn download_n<T: DeviceRepr + Default + Clone>(&self, src: &CudaSlice<T>, n: usize) -> Result<Vec<T>> {
        let mut out = vec![T::default(); n];
        if n > 0 {
            self.stream.memcpy_dtoh(&src.slice(0..n), &mut out).map_err(|e| dev_err("copying from the GPU", e))?;
        }
        self.sync()?;
        Ok(out)
    }

    pub fn download<T: DeviceRepr + Default + Clone>(&self, src: &CudaSlice<T>) -> Result<Vec<T>> {
        self.download_n(src, src.len())
    }

    pub fn fill_zero<T: DeviceRepr + ValidAsZeroBits>(&self, dst: &mut CudaSlice<T>) -> Result<()> {
        self.stream.memset_zeros(dst).map_err(|e| dev_err("clearing a buffer", e))
    }

    /// Waits for every queued copy and kernel; reports asynchronous kernel errors.
    pub fn sync(&self) -> Result<()> {
        self.stream.synchronize().map_err(|e| dev_err("synchronising", e))
    }
}

/// A buffer of at least `n` elements, grown (never shrunk) as shapes change.
pub fn ensure_len<T: DeviceRepr + ValidAsZeroBits>(gpu: &Gpu, buf: &mut Option<CudaSlice<T>>, n: usize) -> Result<()> {
    if buf.as_ref().is_none_or(|b| b.len() < n) {
        *buf = Some(gpu.zeros::<T>(n)?);
    }
    Ok(())
}

/// A row-major f32 matrix inside a device buffer: `rows` rows of `cols`
/// values, `ld` elements apart, starting at element `offset`. Constructors
/// check that it lies inside the buffer, so launchers never hand a kernel an
/// address range it does not own.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    buf: &'a CudaSlice<f32>,
    pub offset: usize,
    pub rows: usize,
    pub cols: usize,
    pub ld: usize,
}

impl<'a> Mat<'a> {
    /// The whole buffer as `rows × cols` (dense); it must hold at least that many values.
    pub fn new(buf: &'a CudaSlice<f32>, rows: usize, cols: usize) -> Result<Self> {
        Self::sub(buf, 0, rows, cols, cols)
    }

    /// A strided window.
    pub fn sub(buf: &'a CudaSlice<f32>, offset: usize, rows: usize, cols: usize, ld: usize) -> Result<Self> {
        let end = if rows == 0 { offset } else { offset + (rows - 1) * ld + cols };
        if cols > ld || end > buf.len() {
            return Err(Error::Device(format!(
                "matrix {rows}×{cols} (ld {ld}, offset {offset}) does not fit a GPU buffer of {} values",
                buf.len()
            )));
        }
        Ok(Mat { buf, offset, rows, cols, ld })
    }

    /// Columns c0..c0+n of every row.
    pub fn cols_range(&self, c0: usize, n: usize) -> Result<Self> {
        if c0 + n > self.cols {
            return Err(Error::Device(format!("columns {c0}..{} of a {}-column matrix", c0 + n, self.cols)));
        }
        Ok(Mat { offset: self.offset + c0, cols: n, ..*self })
    }

    /// Rows r0..r0+n.
    pub fn rows_range(&self, r0: usize, n: usize) -> Result<Self> {
        if r0 + n > self.rows {
            return Err(Error::Device(format!("rows {r0}..{} of a {}-row matrix", r0 + n, self.rows)));
        }
        Ok(Mat { offset: self.offset + r0 * self.ld, rows: n, ..*self })
    }

    pub fn ptr(&self) -> u64 {
        ptr_at(self.buf, self.offset)
    }

    pub fn arg(&self) -> KArg {
        KArg::Ptr(self.ptr())
    }

    /// True when rows start on 16-byte boundaries (what float4 loads need).
    pub fn vec4_aligned(&self) -> bool {
        self.ld.is_multiple_of(4) && self.offset.is_multiple_of(4)
    }

    pub fn is_dense(&self) -> bool {
        self.ld == self.cols
    }
}
