//! CPU kernels: the SIMD abstraction and f32 matrix multiplication. Ops in
//! `crate::ops` call these; quantised formats have their own kernels in
//! `crate::quant`.

pub mod gemm;
pub mod scratch;
pub mod simd;
pub mod vecops;

/// A raw pointer that parallel tasks may share, for kernels whose tasks
/// write disjoint parts of one output (each use says why they are disjoint).
#[derive(Clone, Copy)]
pub(crate) struct SendPtr<T>(pub(crate) *mut T);
// SAFETY: the wrapper only moves (Send) or copies out of a shared reference
// (Sync) the address itself; nothing here dereferences it. Every dereference
// is an `unsafe` block at the use site, which justifies there why the tasks'
// accesses are in bounds and disjoint.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}
impl<T> SendPtr<T> {
    /// A method (not field access) so closures capture the whole Send+Sync wrapper.
    pub(crate) fn ptr(self) -> *mut T {
        self.0
    }
}
