//! On-disk cache of compiled kernels, so NVRTC runs once per machine rather
//! than at every start. A CUBIN is stored under a name made of the source
//! file, the GPU architecture, the NVRTC version and a 128-bit FNV-1a hash of
//! everything that goes into the compilation (source, shared header, options):
//! editing a kernel, changing GPU or upgrading NVRTC all miss the cache.
//!
//! Folder: `$DYAG_CUDA_CACHE` (set it to `off` to disable), else
//! `$XDG_CACHE_HOME/dyag/cuda`, else `~/.cache/dyag/cuda`. Files are written
//! atomically; a file that fails to load is recompiled and replaced.

use super::kernels::{KernelSource, COMMON};
use super::nvrtc;
use std::path::PathBuf;

/// The cache folder, or None when caching is off or no home is known.
pub fn cache_dir() -> Option<PathBuf> {
    match std::env::var_os("DYAG_CUDA_CACHE") {
        Some(v) if v == "off" || v.is_empty() => return None,
        Some(v) => return Some(PathBuf::from(v)),
        None => {}
    }
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(x).join("dyag").join("cuda"));
    }
    std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".cache").join("dyag").join("cuda"))
}

/// 128-bit FNV-1a over several byte strings, each followed by its length so
/// that moving bytes between them changes the hash.
fn fnv1a128(parts: &[&[u8]]) -> u128 {
    const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
    const PRIME: u128 = 0x0000000001000000000000000000013B;
    let mut h = OFFSET;
    for p in parts {
        for &b in p.iter().chain((p.len() as u64).to_le_bytes().iter()) {
            h ^= b as u128;
            h = h.wrapping_mul(PRIME);
        }
    }
    h
}

/// The cache file name of `src` compiled for `sm_{arch}` by NVRTC `version`.
pub fn cache_key(src: &KernelSource, arch: u32, version: (i32, i32)) -> String {
    let opts = nvrtc::options(arch).join(" ");
    let h = fnv1a128(&[src.source.as_bytes(), COMMON.as_bytes(), opts.as_bytes()]);
    format!("{}-sm{arch}-nvrtc{}.{}-{h:032x}.cubin", src.name, version.0, version.1)
}

/// Where a CUBIN came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    Cache,
    Compiled,
}

/// The CUBIN of `src` for `sm_{arch}`: from the cache if present, else compiled
/// (and stored). `reject` names a cached file that failed to load: it is
/// compiled again and overwritten.
pub fn cubin(src: &KernelSource, arch: u32, reject_cached: bool) -> crate::Result<(Vec<u8>, Origin)> {
    let version = nvrtc::version()?;
    let path = cache_dir().map(|d| d.join(cache_key(src, arch, version)));
    if let (Some(p), false) = (&path, reject_cached) {
        if let Ok(bytes) = std::fs::read(p) {
            if !bytes.is_empty() {
                return Ok((bytes, Origin::Cache));
            }
        }
    }
    let compiled = nvrtc::compile(src, arch)?;
    if let Some(p) = &path {
        // A cache that cannot be written only costs a recompilation next time.
        if let Err(e) = crate::util::write_atomic(p, &compiled.cubin) {
            eprintln!("[AVERTISSEMENT] kernel cache not written ({e})");
        }
    }
    Ok((compiled.cubin, Origin::Compiled))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cuda::kernels::{LORA, ROPE};

    #[test]
    fn key_changes_with_source_arch_and_version() {
        let k = cache_key(&ROPE, 80, (12, 9));
        assert!(k.starts_with("rope-sm80-nvrtc12.9-") && k.ends_with(".cubin"), "{k}");
        assert_eq!(k, cache_key(&ROPE, 80, (12, 9)));
        assert_ne!(k, cache_key(&ROPE, 90, (12, 9)));
        assert_ne!(k, cache_key(&ROPE, 80, (12, 8)));
        let edited = KernelSource { name: "rope", source: "// edited\n", entries: &[] };
        assert_ne!(k, cache_key(&edited, 80, (12, 9)));
        assert_ne!(cache_key(&LORA, 80, (12, 9))[5..], k[5..]);
    }

    #[test]
    fn hash_separates_parts() {
        assert_ne!(fnv1a128(&[b"ab", b"c"]), fnv1a128(&[b"a", b"bc"]));
        assert_ne!(fnv1a128(&[b""]), fnv1a128(&[]));
    }
}
