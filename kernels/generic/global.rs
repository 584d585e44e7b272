//! Global max and average pooling, NCHW and NHWC.

use crate::geom::Reduce;
use crate::kernels::vector::Simd;
use crate::kernels::{GlobalNchwJob, GlobalNhwcJob};
use crate::tensor::Layout;

/// Global pooling of NCHW planes (invariants asserted by the caller).
#[inline(always)]
pub(super) fn nchw<S: Simd>(_s: S, reduce: Reduce, job: GlobalNchwJob<'_, f32>) {
    (crate::kernels::scalar::F32.global_nchw)(reduce, job)
}

/// Global pooling of one NHWC image's channels (invariants asserted by the caller).
#[inline(always)]
pub(super) fn nhwc<S: Simd>(_s: S, reduce: Reduce, job: GlobalNhwcJob<'_, f32>) {
    (crate::kernels::scalar::F32.global_nhwc)(reduce, job)
}

/// The algorithm for a layout.
pub(super) fn describe<S: Simd>(_layout: Layout) -> &'static str {
    "scalar-fallback"
}
