//! Average pooling (window and adaptive), NCHW.

use crate::geom::WindowGeom;
use crate::kernels::NchwJob;
use crate::kernels::vector::Simd;

/// Runs the job (its invariants were asserted by the caller).
#[inline(always)]
pub(super) fn run<S: Simd>(_s: S, g: &WindowGeom, job: NchwJob<'_, f32>) {
    (crate::kernels::scalar::F32.window_nchw)(g, job)
}

/// The algorithm [`run`] picks for `g`.
pub(super) fn describe<S: Simd>(_g: &WindowGeom) -> &'static str {
    "scalar-fallback"
}
