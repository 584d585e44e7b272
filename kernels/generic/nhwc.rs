//! Window and adaptive pooling, max and average, NHWC: vectorized across channels.

use crate::geom::WindowGeom;
use crate::kernels::NhwcJob;
use crate::kernels::vector::Simd;

/// Runs the job (its invariants were asserted by the caller).
#[inline(always)]
pub(super) fn run<S: Simd>(_s: S, g: &WindowGeom, job: NhwcJob<'_, f32>) {
    (crate::kernels::scalar::F32.window_nhwc)(g, job)
}

/// The algorithm [`run`] picks for `g`.
pub(super) fn describe<S: Simd>(_g: &WindowGeom) -> &'static str {
    "scalar-fallback"
}
