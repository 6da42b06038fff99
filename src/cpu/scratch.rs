//! Reusable f32 buffers for the temporaries of the CPU kernels: packed GEMM
//! panels, dequantised weights, the loss's logits, the backward pass's
//! activation-sized gradients (4 MB each for Gemma's MLP at 512 tokens).
//!
//! Allocated fresh, each one is mapped, page-faulted and zeroed by the
//! kernel, then returned to it: that cost ~8 % of a training step. Buffers
//! taken from this per-thread pool keep their pages between uses. A guard,
//! not a closure over a thread-local: SIMD kernels that use the buffer stay
//! inlined in their target-feature entry points.

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};

/// Buffers kept per thread at most; more are freed on return.
const POOL_MAX: usize = 32;

thread_local! {
    static POOL: RefCell<Vec<Vec<f32>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of `len` floats from the calling thread's pool, given back when dropped.
pub struct Scratch {
    buf: Vec<f32>,
    len: usize,
}

/// A zero-filled buffer of `n` floats (like `vec![0f32; n]`, without fresh pages).
pub fn zeroed(n: usize) -> Scratch {
    let mut s = take(n);
    s.fill(0.0);
    s
}

/// A copy of `src`.
pub fn copied(src: &[f32]) -> Scratch {
    let mut s = take(src.len());
    s.copy_from_slice(src);
    s
}

/// A buffer of `n` floats whose contents are unspecified (left from an
/// earlier use): for outputs that are overwritten completely.
pub fn take(n: usize) -> Scratch {
    let mut buf = POOL
        .try_with(|p| {
            let mut p = p.borrow_mut();
            // The smallest buffer that is large enough, else the largest (grown below):
            // buffers keep the sizes they are used for.
            let fit = (0..p.len()).filter(|&i| p[i].len() >= n).min_by_key(|&i| p[i].len());
            let pick = fit.or_else(|| (0..p.len()).max_by_key(|&i| p[i].len()));
            pick.map(|i| p.swap_remove(i))
        })
        .ok()
        .flatten()
        .unwrap_or_default();
    if buf.len() < n {
        buf.resize(n, 0.0);
    }
    Scratch { buf, len: n }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        // During thread exit the pool may be gone: the buffer is then freed.
        let _ = POOL.try_with(|p| {
            let mut p = p.borrow_mut();
            if p.len() < POOL_MAX {
                p.push(buf);
            }
        });
    }
}

impl Deref for Scratch {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.buf[..self.len]
    }
}

impl DerefMut for Scratch {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.buf[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_reused_and_zeroed_on_request() {
        let first = {
            let mut a = take(1000);
            a.fill(3.0);
            a.as_ptr()
        };
        let b = zeroed(800);
        assert_eq!(b.as_ptr(), first, "the returned buffer is taken again");
        assert_eq!(b.len(), 800);
        assert!(b.iter().all(|&v| v == 0.0));
        let c = copied(&[1.0, 2.0]);
        assert_eq!(&c[..], &[1.0, 2.0]);
        assert_ne!(c.as_ptr(), b.as_ptr(), "a buffer in use is not handed out twice");
    }
}
