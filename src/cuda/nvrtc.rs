//! Compiling a kernel source to a CUBIN with NVRTC, through cudarc's raw
//! bindings (its safe wrapper gives PTX only and cannot pass headers). A CUBIN
//! for the exact architecture (`sm_XY`) is what the device runs; producing it
//! also runs NVIDIA's assembler, so a CUBIN build checks the inline PTX too.
//! Needs no GPU: tests compile every source for sm_80 and sm_90 on any machine.

use super::kernels::{KernelSource, COMMON};
use super::loader::ensure_nvrtc;
use crate::{Error, Result};
use cudarc::nvrtc::sys;
use std::ffi::{c_char, c_int, CString};

/// A compiled kernel source.
#[derive(Debug)]
pub struct Compiled {
    pub cubin: Vec<u8>,
    /// Warnings (empty when none).
    pub log: String,
}

/// The options a source is compiled with for `sm_{arch}` (also part of the cache key).
pub fn options(arch: u32) -> Vec<String> {
    // IEEE division and square roots and no flush-to-zero are NVRTC's defaults;
    // they are spelled out because the CPU comparisons rely on them.
    let mut opts = vec![
        format!("--gpu-architecture=sm_{arch}"),
        "--std=c++17".into(),
        "--prec-div=true".into(),
        "--prec-sqrt=true".into(),
        "--ftz=false".into(),
    ];
    opts.extend(super::tiles::DEFINES.iter().map(|(name, v)| format!("-DDYAG_{name}={v}")));
    opts
}

/// NVRTC's (major, minor) version.
pub fn version() -> Result<(i32, i32)> {
    ensure_nvrtc()?;
    let (mut major, mut minor): (c_int, c_int) = (0, 0);
    // SAFETY: two valid out-pointers.
    let r = unsafe { sys::nvrtcVersion(&mut major, &mut minor) };
    check(r, "nvrtcVersion")?;
    Ok((major, minor))
}

fn check(r: sys::nvrtcResult, what: &str) -> Result<()> {
    if r == sys::nvrtcResult::NVRTC_SUCCESS {
        Ok(())
    } else {
        Err(Error::Device(format!("{what} failed: {r:?}")))
    }
}

/// Owns an nvrtcProgram and destroys it when dropped.
struct Program(sys::nvrtcProgram);

impl Drop for Program {
    fn drop(&mut self) {
        // SAFETY: the program was created by nvrtcCreateProgram and is destroyed once.
        unsafe {
            sys::nvrtcDestroyProgram(&mut self.0);
        }
    }
}

impl Program {
    fn log(&self) -> String {
        let mut n = 0usize;
        // SAFETY: valid program and out-pointer; the buffer has the size NVRTC reported.
        unsafe {
            if sys::nvrtcGetProgramLogSize(self.0, &mut n) != sys::nvrtcResult::NVRTC_SUCCESS || n == 0 {
                return String::new();
            }
            let mut buf = vec![0u8; n];
            if sys::nvrtcGetProgramLog(self.0, buf.as_mut_ptr() as *mut c_char) != sys::nvrtcResult::NVRTC_SUCCESS {
                return String::new();
            }
            String::from_utf8_lossy(&buf[..n.saturating_sub(1)]).trim().to_string()
        }
    }
}

/// Compiles `src` for `sm_{arch}` (e.g. 80, 90) into a CUBIN.
pub fn compile(src: &KernelSource, arch: u32) -> Result<Compiled> {
    ensure_nvrtc()?;
    let source = CString::new(src.source).map_err(|_| Error::Device(format!("{}.cu contains a NUL byte", src.name)))?;
    let name = CString::new(format!("{}.cu", src.name)).expect("no NUL in a file name");
    let header = CString::new(COMMON).map_err(|_| Error::Device("common.cuh contains a NUL byte".into()))?;
    let header_name = CString::new("common.cuh").expect("no NUL");
    let headers = [header.as_ptr()];
    let include_names = [header_name.as_ptr()];
    let mut prog: sys::nvrtcProgram = std::ptr::null_mut();
    // SAFETY: every pointer refers to a live NUL-terminated string; arrays hold one header.
    let r = unsafe { sys::nvrtcCreateProgram(&mut prog, source.as_ptr(), name.as_ptr(), 1, headers.as_ptr(), include_names.as_ptr()) };
    check(r, "nvrtcCreateProgram")?;
    let prog = Program(prog);
    let opts: Vec<CString> = options(arch).into_iter().map(|o| CString::new(o).expect("no NUL")).collect();
    let opt_ptrs: Vec<*const c_char> = opts.iter().map(|o| o.as_ptr()).collect();
    // SAFETY: the option array holds opt_ptrs.len() live strings.
    let r = unsafe { sys::nvrtcCompileProgram(prog.0, opt_ptrs.len() as c_int, opt_ptrs.as_ptr()) };
    let log = prog.log();
    if r != sys::nvrtcResult::NVRTC_SUCCESS {
        return Err(Error::Device(format!("NVRTC could not compile {}.cu for sm_{arch} ({r:?}):\n{log}", src.name)));
    }
    let mut n = 0usize;
    // SAFETY: valid program and out-pointer.
    check(unsafe { sys::nvrtcGetCUBINSize(prog.0, &mut n) }, "nvrtcGetCUBINSize")?;
    if n == 0 {
        return Err(Error::Device(format!("NVRTC produced no CUBIN for {}.cu (sm_{arch})", src.name)));
    }
    let mut cubin = vec![0u8; n];
    // SAFETY: the buffer has the size NVRTC reported.
    check(unsafe { sys::nvrtcGetCUBIN(prog.0, cubin.as_mut_ptr() as *mut c_char) }, "nvrtcGetCUBIN")?;
    Ok(Compiled { cubin, log })
}
