//! Each kernel algorithm once, generic over [`Simd`]; the tier files instantiate them inside
//! `#[target_feature]` functions. Everything here is `#[inline(always)]` so that it compiles to
//! the instantiating tier's instructions.
//!
//! Entry points (each asserts its job's invariants first, then may use unchecked pointer
//! arithmetic within them):
//! * [`window_nchw`] / [`window_nhwc`]: window and adaptive pooling, max and average;
//! * [`global_nchw`] / [`global_nhwc`]: global max and average;
//! * [`describe`] / [`describe_global`]: the algorithm each of those picks.

use super::vector::Simd;
use super::{GlobalNchwJob, GlobalNhwcJob, NchwJob, NhwcJob};
use crate::geom::{Reduce, WindowGeom};
use crate::tensor::Layout;

/// Calls a kernel instantiated for the window length `$k` among the listed constants: in the
/// arm for value `v`, `$K` is a constant equal to `v` that `$call` names as a const generic
/// argument; `$other` when `$k` is none of them. (Direct calls: a table of function pointers
/// would lose the caller's target features.)
macro_rules! for_len {
    ($k:expr; $($v:literal),+; $K:ident => $call:expr; _ => $other:expr) => {
        match $k {
            $(
                $v => {
                    const $K: usize = $v;
                    $call
                }
            )+
            _ => $other,
        }
    };
}

mod avg_nchw;
mod compact;
mod global;
mod max_nchw;
mod nhwc;
mod pad_plane;
mod pair_rows;

/// Window and adaptive pooling, NCHW: runs the jobs that need no large stack area and hands
/// the others back for [`window_nchw_stack`].
///
/// The row and plane schemes carve their buffers from stack areas of about 100 KiB, which
/// every call of a function that holds them reserves and probes page by page; tiny jobs (a
/// 1×16×4×4 tensor takes tens of nanoseconds) would pay more for that than for their
/// arithmetic, so the tier files call `window_nchw_stack` from a frame of its own, only when
/// needed.
#[inline(always)]
pub fn window_nchw<'a, S: Simd>(
    s: S,
    g: &WindowGeom,
    job: NchwJob<'a, f32>,
) -> Option<NchwJob<'a, f32>> {
    job.check(g);
    match g.reduce {
        // Padding past half the kernel arises only from SAME padding with dilation, where a
        // window can lie far outside the input; those geometries run the reference loops.
        Reduce::Max if beyond_half_kernel(g) => (super::scalar::F32.window_nchw)(g, job),
        Reduce::Max if job.idx.is_none() && max_nchw::pair_fits(g, S::LANES) => {
            max_nchw::pair_job(s, g, job)
        }
        Reduce::Max if job.idx.is_none() && pair_rows::fits(g) => {
            pair_rows::job::<S, pair_rows::MaxFast>(s, g, job)
        }
        Reduce::Avg if pair_rows::fits(g) => pair_rows::job::<S, pair_rows::Avg<S::V>>(s, g, job),
        _ => return Some(job),
    }
    None
}

/// A plane holding a NaN as a job of its own, and the job's planes after it (if any).
pub type NanSplit<'a> = (NchwJob<'a, f32>, Option<NchwJob<'a, f32>>);

/// Whether [`window_nchw_shift`] takes a job [`window_nchw`] handed back: values-only max
/// pooling and average pooling with 2- or 3-wide stride-2 windows (ResNet's stem, AlexNet's
/// and Inception's 3×3 stride-2 pooling; see the shift schemes of `max_nchw` and `avg_nchw`).
#[inline(always)]
pub fn shift_runs<S: Simd>(g: &WindowGeom, job: &NchwJob<'_, f32>) -> bool {
    match g.reduce {
        Reduce::Max => job.idx.is_none() && max_nchw::shift_job_fits::<S>(g),
        Reduce::Avg => avg_nchw::shift_fits::<S>(g),
    }
}

/// The shift scheme's jobs ([`shift_runs`]), which the tier files run in a frame of their own:
/// the scheme's loop keeps its state in registers there (in the frame of the row and plane
/// schemes, whose code shares its registers, its loop kept less in registers: 1×256×27×27 3×3
/// stride 2, 43 µs there, 40 µs here). Rows of exactly two columns per output (ResNet's stem)
/// stay with that entry's variant of the scheme.. Returns, for a max job
/// whose plane holds a NaN, that plane as a job of its own (for [`window_nchw_stack`], whose row
/// schemes redo it exactly) and the planes after it, or `None` when every plane is done
/// (always for averages).
#[inline(always)]
pub fn window_nchw_shift<'a, S: Simd>(
    s: S,
    g: &WindowGeom,
    job: NchwJob<'a, f32>,
) -> Option<NanSplit<'a>> {
    job.check(g);
    match g.reduce {
        Reduce::Max => max_nchw::shift_job(s, g, job),
        Reduce::Avg => {
            avg_nchw::shift_job(s, g, job);
            None
        }
    }
}

/// The NCHW jobs [`window_nchw`] hands back.
#[inline(always)]
pub fn window_nchw_stack<S: Simd>(s: S, g: &WindowGeom, job: NchwJob<'_, f32>) {
    job.check(g);
    match g.reduce {
        Reduce::Max => max_nchw::run(s, g, job),
        Reduce::Avg => avg_nchw::run(s, g, job),
    }
}

/// True when a side's padding exceeds half the kernel (SAME padding with dilation only).
fn beyond_half_kernel(g: &WindowGeom) -> bool {
    g.kh != 0 && (g.pt > g.kh / 2 || g.pl > g.kw / 2)
}

/// Window and adaptive pooling, NHWC: runs the direct algorithm and hands the jobs of the
/// strip and separable ones, which need a 64 KiB stack scratch, back for [`window_nhwc_stack`] (see
/// [`window_nchw`]).
#[inline(always)]
pub fn window_nhwc<'a, S: Simd>(
    s: S,
    g: &WindowGeom,
    job: NhwcJob<'a, f32>,
) -> Option<NhwcJob<'a, f32>> {
    job.check(g);
    if job.idx.is_none() && nhwc::scratch_runs::<S>(g) {
        return Some(job);
    }
    nhwc::run::<S, false>(s, g, job);
    None
}

/// The NHWC jobs [`window_nhwc`] hands back.
#[inline(always)]
pub fn window_nhwc_stack<S: Simd>(s: S, g: &WindowGeom, job: NhwcJob<'_, f32>) {
    job.check(g);
    nhwc::run::<S, true>(s, g, job)
}

/// Global pooling, NCHW.
#[inline(always)]
pub fn global_nchw<S: Simd>(s: S, reduce: Reduce, job: GlobalNchwJob<'_, f32>) {
    job.check();
    global::nchw(s, reduce, job)
}

/// Global pooling, NHWC.
#[inline(always)]
pub fn global_nhwc<S: Simd>(s: S, reduce: Reduce, job: GlobalNhwcJob<'_, f32>) {
    job.check();
    global::nhwc(s, reduce, job)
}

/// The algorithm [`window_nchw`] / [`window_nhwc`] run for a geometry.
pub fn describe<S: Simd>(g: &WindowGeom, layout: Layout) -> &'static str {
    match (layout, g.reduce) {
        (Layout::Nchw, Reduce::Max) if beyond_half_kernel(g) => "reference-dilated-same",
        (Layout::Nchw, Reduce::Max) => max_nchw::describe::<S>(g),
        (Layout::Nchw, Reduce::Avg) => avg_nchw::describe::<S>(g),
        (Layout::Nhwc, _) => nhwc::describe::<S>(g),
    }
}

/// The algorithm [`global_nchw`] / [`global_nhwc`] run.
pub fn describe_global<S: Simd>(layout: Layout) -> &'static str {
    global::describe::<S>(layout)
}

/// Stores the first `out.len() <= LANES` lanes of `v`.
#[inline(always)]
pub(super) fn store_part<S: Simd>(s: S, out: &mut [f32], v: S::V) {
    if out.len() == S::LANES {
        // SAFETY: out holds LANES elements.
        unsafe { s.store(out.as_mut_ptr(), v) }
    } else {
        assert!(out.len() < S::LANES);
        // SAFETY: out holds out.len() elements.
        unsafe { s.store_n(out.as_mut_ptr(), out.len(), v) }
    }
}

/// Maxima of five-row windows going down a column, from pair maxima (max without NaN, the
/// fast step `f(a, b) = s.max(b, a)`, earlier rows second): each pushed row forms the pair
/// `P(t − 1) = f(row t − 1, row t)`, and the window ending at row `t` is
/// `f(f(P(t − 4), P(t − 2)), row t)`: three `max` per window instead of four. [`Rows5::push`]
/// returns it, valid from the fifth row pushed on (before, rows of −∞ stand in).
#[derive(Clone, Copy)]
pub(super) struct Rows5<V> {
    /// The last row pushed.
    prev: V,
    /// `P(t − 4), P(t − 3), P(t − 2), P(t − 1)` after row `t`.
    pairs: [V; 4],
}

impl<V: Copy> Rows5<V> {
    /// No rows yet (`neg` is −∞ in every lane).
    #[inline(always)]
    pub(super) fn new(neg: V) -> Self {
        Self {
            prev: neg,
            pairs: [neg; 4],
        }
    }

    /// Pushes the next row; returns the maximum of the last five.
    #[inline(always)]
    pub(super) fn push<S: Simd<V = V>>(&mut self, s: S, row: V) -> V {
        let [_, a, b, c] = self.pairs;
        self.pairs = [a, b, c, s.max(row, self.prev)];
        self.prev = row;
        s.max(row, s.max(self.pairs[2], self.pairs[0]))
    }
}

/// Requests the cache line holding `p` (a hint: nothing is read, no fault is possible; callers
/// pass addresses inside the input slice anyway).
#[inline(always)]
pub(super) fn prefetch(p: *const f32) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetching is a hint that never faults, and SSE is part of x86-64.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(p.cast())
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
