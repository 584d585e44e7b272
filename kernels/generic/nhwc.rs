//! Window and adaptive pooling, max and average, NHWC: vectorized across channels.
//!
//! A pixel's channels are contiguous, so lane `k` of a vector holds channel `c0 + k` of one
//! pixel and every lane is an independent output: each output is reduced over exactly the taps
//! the reference visits, in the reference's order. Pixels are `src_ps` / `dst_ps` elements
//! apart; only the `channels` elements of an output pixel are written (never the gap up to the
//! next pixel), and the channel tail of every pixel is read and written with masked
//! `load_n` / `store_n`, so nothing past a pixel's last channel is touched.
//!
//! Five algorithms (`describe` names them):
//!
//! * **Direct** (`nhwc-direct`; `nhwc-adaptive` for adaptive pooling, the same code): for each
//!   output pixel (two adjacent pixels at a time where their windows have the same shape) and
//!   each block of up to [`BLOCK`] channel vectors (one accumulator register per vector), reduce over the in-bounds taps listed by the spans `g.rows[oy]` × `g.cols[ox]`,
//!   rows first. Spans describe border windows, interior windows and adaptive bins alike, so
//!   there is no per-tap padding test anywhere; a window entirely in padding has an empty span
//!   and gives −∞ (index `u32::MAX`).
//!   - Max: `acc = max(v, acc)` (PyTorch's rule without NaN: the earlier tap wins ties, so
//!     −0.0/+0.0 keep the first), with one NaN compare per loaded vector OR-ed into a flag.
//!     When a block's flag is set, the block is recomputed with the exact rule `max_exact`
//!     (a NaN replaces the maximum, so the last NaN wins).
//!   - Max with indices: the exact rule with `iselect` of the tap's flat index `h·iw + w`
//!     (the NaN test is part of the selection mask, in place of the flag); the index starts
//!     at the first in-bounds tap, as in the reference.
//!   - Average: the sum starts at +0.0, adds the taps in row-major order, and is divided once
//!     by `g.divisor(oy, ox)` as f32: bit-identical to the reference. No FMA, no reordering.
//! * **Shared columns** (`nhwc-s1-shared`, AVX-512: unit horizontal stride and dilation,
//!   averages and max without indices where the next two do not run): the direct algorithm
//!   with four adjacent outputs of a row reading each input column of their windows once and
//!   adding it to every output that has it as a tap (in each output's tap order); see
//!   [`shared`]. Inception's 3×3 stride-1 average, 1×192×35×35 on one thread: 73 -> 61 µs.
//! * **Stride-1 separable max** (`nhwc-s1-separable`, max without indices, stride 1, no
//!   dilation, at least [`sep_min_taps`] taps): the max of a window is the max over its rows
//!   of the row maxima, and both 1-D sliding maxima use the van Herk / Gil-Werman scheme,
//!   about three `max` per output and axis whatever the kernel size. A line is cut into blocks
//!   of `k` elements; the window starting at `x` is the suffix of its block from `x` joined
//!   with the prefix of the next block up to `x + k − 1`. Padding enters the lines as −∞
//!   (never above an in-bounds tap; a window of padding only gives −∞, as it should).
//!   Buffers live in a bounded stack scratch, tiled over output columns; when even the
//!   narrowest useful tile does not fit (huge kernels), the direct algorithm runs instead.
//!   See [`separable`] for the exact-order argument and the buffers. With indices, max pooling
//!   always runs the direct algorithm.
//! * **Stride-1 separable max by runs** (`nhwc-s1-runs`, AVX-512, windows of at least
//!   [`RUNS_MIN_KH`] rows, chosen before the buffered separable algorithm): the same two 1-D
//!   van Herk passes with each block's suffixes in registers, the row maxima through two block
//!   buffers only; see [`runs`]. 13×13 on 1×512×20×20, one thread: 119 -> 99 µs.
//! * **Stride-1 5×5 strips** (`nhwc-s1-strip`, max without indices, 5×5 stride-1 undilated
//!   windows, chosen before the separable algorithm): the rows of a band are copied into the
//!   stack scratch one channel vector at a time (contiguous pixels, NaN test), then strips of
//!   output columns walk down the band with the row maxima and the vertical state in registers;
//!   see [`strip`].
//!
//! Every output is computed from its own window only, so results do not depend on where a job's
//! row range starts.

use core::mem::MaybeUninit;
use core::ops::Range;

use crate::geom::{Reduce, Span, WindowGeom};
use crate::kernels::NhwcJob;
use crate::kernels::vector::Simd;
use crate::reference::NO_INDEX;

mod runs;
mod strip;

/// Channel vectors per block of the direct algorithm (one accumulator register each).
const BLOCK: usize = 4;

/// Elements (f32) of the separable algorithm's stack scratch (64 KiB).
const SEP_BUF: usize = 16 * 1024;

/// Preferred f32 per item of the separable algorithm's buffers (several vectors of a pixel).
const SEP_ITEM: usize = 32;

/// Fewest window taps for which the separable algorithm beats the direct one: 3×3 windows
/// run direct on 8- and 16-lane tiers (where the direct loop is cheap per tap), separable on
/// 4-lane tiers (where it is not, above all the portable tier's emulated `max`).
const fn sep_min_taps(lanes: usize) -> usize {
    if lanes <= 4 { 9 } else { 10 }
}

/// Direct reduction: max without indices (flagged NaN fallback).
const MAX: u8 = 0;
/// Direct reduction: max with indices.
const MAX_IDX: u8 = 1;
/// Direct reduction: max with the exact rule only (the separable algorithm's NaN fallback).
const MAX_EXACT: u8 = 2;
/// Direct reduction: average.
const AVG: u8 = 3;

/// The job as raw pointers, with the geometry a kernel needs on every tap.
///
/// Invariants (from `NhwcJob::check`, asserted by the caller of [`run`]): `src` holds
/// `(ih·iw − 1)·src_ps + channels` elements, `dst` holds `(pixels − 1)·dst_ps + channels`
/// elements for `pixels = rows.len()·ow`, and `idx` (null when no indices are wanted) holds
/// `pixels·channels` indices.
struct Ctx {
    src: *const f32,
    src_ps: usize,
    dst: *mut f32,
    dst_ps: usize,
    idx: *mut u32,
    channels: usize,
    /// First output row of the job.
    r0: usize,
    /// One past the last output row of the job.
    r1: usize,
    ih: usize,
    iw: usize,
    ow: usize,
    /// Vertical tap step (dilation; 1 for adaptive bins).
    dh: usize,
    /// Horizontal tap step.
    dw: usize,
}

/// True when max pooling without indices runs an algorithm that needs the stack scratch (the
/// strip or the separable one).
pub(super) fn scratch_runs<S: Simd>(g: &WindowGeom) -> bool {
    g.reduce == Reduce::Max
        && (strip::fits::<S>(g) || separable_tile(g, S::LANES, S::LANES).is_some())
}

/// True when max pooling without indices runs the separable algorithm by runs in registers
/// ([`runs`]) in place of the buffered one: where the separable algorithm applies, on tiers
/// whose vector is a whole 64-byte cache line (AVX-512), for windows of at least
/// [`RUNS_MIN_KH`] rows (and both sides at most `runs::KMAX`).
///
/// The runs visit each pixel for one vector; with narrower vectors that is part of a cache
/// line per visit, and the buffered scheme's wide items win (1×512×20×20, one thread, buffered
/// against runs: AVX2 13×13 112 vs 151 µs, 7×7 80 vs 132; SSE2 13×13 159 vs 255). On AVX-512
/// the runs' vertical pass is what wins, their horizontal one loses to the buffered scheme's:
/// 13×13 119 vs 99 µs, 16×16 122 vs 104, 9×9 103 vs 90, 13×5 102 vs 94, 8×8 95 vs 93, but
/// 7×7 83 vs 87, 4×4 70 vs 78, 5×13 84 vs 90, 3×16 84 vs 97.
fn runs_fit<S: Simd>(g: &WindowGeom) -> bool {
    S::LANES >= 16
        && g.kh >= RUNS_MIN_KH
        && separable_tile(g, S::LANES, S::LANES).is_some()
        && runs::tile(g, S::LANES).is_some()
}

/// Fewest window rows for [`runs_fit`].
const RUNS_MIN_KH: usize = 8;

/// Runs the job (its invariants were asserted by the caller); without `SEP`, never the strip
/// or separable algorithm (nor their stack scratch): the direct one instead.
#[inline(always)]
pub(super) fn run<S: Simd, const SEP: bool>(s: S, g: &WindowGeom, job: NhwcJob<'_, f32>) {
    let NhwcJob {
        src,
        src_ps,
        mut dst,
        dst_ps,
        idx,
        channels,
        rows,
    } = job;
    // Re-assert the invariants the pointer arithmetic below relies on (cheap, once per job).
    assert!(channels > 0 && src_ps >= channels && dst_ps >= channels);
    assert!(rows.start <= rows.end && rows.end <= g.oh);
    assert!(g.rows.len() == g.oh && g.cols.len() == g.ow);
    assert!(src.len() >= (g.ih * g.iw - 1) * src_ps + channels);
    let pixels = rows.len() * g.ow;
    if pixels == 0 {
        return;
    }
    assert!(dst.len() >= (pixels - 1) * dst_ps + channels);
    let has_idx = idx.is_some();
    let idx_ptr = match idx {
        Some(i) => {
            assert!(i.len() >= pixels * channels);
            i.as_mut_ptr()
        }
        None => core::ptr::null_mut(),
    };
    let adaptive = g.kh == 0;
    let cx = Ctx {
        src: src.as_ptr(),
        src_ps,
        dst: dst.as_mut_ptr(),
        dst_ps,
        idx: idx_ptr,
        channels,
        r0: rows.start,
        r1: rows.end,
        ih: g.ih,
        iw: g.iw,
        ow: g.ow,
        dh: if adaptive { 1 } else { g.dh },
        dw: if adaptive { 1 } else { g.dw },
    };
    let all_cols = 0..g.ow;
    // SAFETY: (all three arms) `cx` was built from the job's slices, whose lengths were just
    // asserted to cover every pixel and channel the kernels address (see `Ctx`); the spans of
    // `g` list in-bounds taps only (WindowGeom invariant).
    match g.reduce {
        // SAFETY: as above.
        Reduce::Avg => unsafe { direct::<S, AVG>(s, g, &cx, rows, all_cols, 0, channels) },
        // SAFETY: as above.
        Reduce::Max if has_idx => unsafe {
            direct::<S, MAX_IDX>(s, g, &cx, rows, all_cols, 0, channels)
        },
        Reduce::Max if SEP && scratch_runs::<S>(g) => {
            let mut scratch = MaybeUninit::<Scratch>::uninit();
            let buf = scratch.as_mut_ptr().cast::<f32>();
            // SAFETY: as above; `buf` is the `SEP_BUF` f32 of scratch each scheme expects,
            // and each runs only under its precondition: `strip::fits`, `runs_fit` (which
            // covers `runs::tile`), and `separable_tile` (with `scratch_runs`), which fits
            // the separable buffers into the scratch.
            unsafe {
                if strip::fits::<S>(g) {
                    strip::run(s, g, &cx, buf)
                } else if runs_fit::<S>(g) {
                    runs::run(s, g, &cx, buf)
                } else {
                    separable(s, g, &cx, buf)
                }
            }
        }
        // SAFETY: as above.
        Reduce::Max => unsafe { direct::<S, MAX>(s, g, &cx, rows, all_cols, 0, channels) },
    }
}

/// The algorithm [`run`] picks for `g` (for max pooling with indices, always the direct one).
pub(super) fn describe<S: Simd>(g: &WindowGeom) -> &'static str {
    if g.kh == 0 {
        "nhwc-adaptive"
    } else if strip::fits::<S>(g) {
        "nhwc-s1-strip"
    } else if runs_fit::<S>(g) {
        "nhwc-s1-runs"
    } else if separable_tile(g, S::LANES, S::LANES).is_some() {
        "nhwc-s1-separable"
    } else if shared_fits::<S>(g) {
        "nhwc-s1-shared"
    } else {
        "nhwc-direct"
    }
}

/// Loads one vector of channels, masked to `n` lanes (−∞ elsewhere) when `MASKED`.
///
/// # Safety
/// `p..p + LANES` (`p..p + n` when `MASKED`) must be readable.
#[inline(always)]
unsafe fn ld<S: Simd, const MASKED: bool>(s: S, p: *const f32, n: usize) -> S::V {
    // SAFETY: the caller guarantees the range.
    unsafe {
        if MASKED {
            s.load_n(p, n, f32::NEG_INFINITY)
        } else {
            s.load(p)
        }
    }
}

/// Stores one vector of channels, only its first `n` lanes when `MASKED`.
///
/// # Safety
/// `p..p + LANES` (`p..p + n` when `MASKED`) must be writable.
#[inline(always)]
unsafe fn st<S: Simd, const MASKED: bool>(s: S, p: *mut f32, n: usize, v: S::V) {
    // SAFETY: the caller guarantees the range.
    unsafe {
        if MASKED {
            s.store_n(p, n, v)
        } else {
            s.store(p, v)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Direct algorithm
// ---------------------------------------------------------------------------------------------

/// The direct algorithm for output rows `rows`, columns `cols` and channels `c_lo..c_hi`.
///
/// Two adjacent outputs whose spans have the same tap counts (always so in the interior) are
/// reduced together, each with its own accumulators: twice the independent dependency chains
/// for the same loop overhead, which matters when a pixel has few channels. Where windows
/// overlap vertically the pairs are vertical (output rows `oy`, `oy + 1`, sweeping along the
/// row pair), so the input rows they share come from L1 the second time; otherwise horizontal.
///
/// # Safety
/// `cx` satisfies its invariants, `rows` lies in the job's rows, `cols` in `0..ow` and
/// `c_lo <= c_hi <= channels`.
#[inline(always)]
unsafe fn direct<S: Simd, const OP: u8>(
    s: S,
    g: &WindowGeom,
    cx: &Ctx,
    rows: Range<usize>,
    cols: Range<usize>,
    c_lo: usize,
    c_hi: usize,
) {
    if shared_fits::<S>(g) && (OP == AVG || OP == MAX) {
        // SAFETY: as guaranteed by the caller.
        return unsafe { shared::<S, OP>(s, g, cx, rows, cols, c_lo, c_hi) };
    }
    // Index tracking doubles the live registers: pair only where there are 32 of them.
    let pairs = OP != MAX_IDX || S::LANES >= 16;
    // Where windows overlap vertically, pair vertically adjacent outputs: the rows they share
    // are read twice within one block (the second time from L1), so a sweep along a row pair
    // streams `kh + sh` input rows from L2 for two output rows instead of `2·kh`.
    let vertical = pairs && g.kh != 0 && (g.kh - 1) * g.dh + 1 > g.sh;
    let mut oy = rows.start;
    while oy < rows.end {
        let rs = g.rows[oy];
        let row_pix = (oy - cx.r0) * cx.ow;
        if vertical && oy + 1 < rows.end && g.rows[oy + 1].count == rs.count {
            let rs2 = g.rows[oy + 1];
            for ox in cols.clone() {
                let cs = g.cols[ox];
                let (div, div2) = if OP == AVG {
                    (g.divisor(oy, ox), g.divisor(oy + 1, ox))
                } else {
                    (0, 0)
                };
                let px = Pixels {
                    h0: [rs.start, rs2.start],
                    w0: [cs.start, cs.start],
                    pix: [row_pix + ox, row_pix + cx.ow + ox],
                    div: [div, div2],
                };
                // SAFETY: both pixels are outputs of the job (oy + 1 < rows.end) and their
                // spans list in-bounds taps; the channels as guaranteed by the caller.
                unsafe { pixel_channels::<S, OP, 2>(s, cx, rs, cs.count, &px, c_lo, c_hi) };
            }
            oy += 2;
            continue;
        }
        let mut ox = cols.start;
        while ox < cols.end {
            let cs = g.cols[ox];
            let div = if OP == AVG { g.divisor(oy, ox) } else { 0 };
            if pairs && ox + 1 < cols.end && g.cols[ox + 1].count == cs.count {
                let cs2 = g.cols[ox + 1];
                let div2 = if OP == AVG { g.divisor(oy, ox + 1) } else { 0 };
                let px = Pixels {
                    h0: [rs.start, rs.start],
                    w0: [cs.start, cs2.start],
                    pix: [row_pix + ox, row_pix + ox + 1],
                    div: [div, div2],
                };
                // SAFETY: both pixels are outputs of the job and their spans in-bounds taps;
                // the channels as guaranteed by the caller.
                unsafe { pixel_channels::<S, OP, 2>(s, cx, rs, cs.count, &px, c_lo, c_hi) };
                ox += 2;
            } else {
                let px = Pixels {
                    h0: [rs.start],
                    w0: [cs.start],
                    pix: [row_pix + ox],
                    div: [div],
                };
                // SAFETY: as above, for one pixel.
                unsafe { pixel_channels::<S, OP, 1>(s, cx, rs, cs.count, &px, c_lo, c_hi) };
                ox += 1;
            }
        }
        oy += 1;
    }
}

/// Whether the shared-column scheme runs `g` (averages, and max without indices where neither
/// the strip nor the separable algorithm does): unit horizontal stride and dilation, on tiers
/// of 16 lanes and 32 registers (its `SHARED_P × SHARED_NV` accumulators; on narrower tiers it
/// measured no faster than pixel pairs).
fn shared_fits<S: Simd>(g: &WindowGeom) -> bool {
    S::LANES >= 16 && g.kh != 0 && g.sw == 1 && g.dw == 1
}

/// Adjacent output pixels of a row that the shared-column scheme reduces together.
const SHARED_P: usize = 4;

/// Channel vectors per block of the shared-column scheme.
const SHARED_NV: usize = 4;

/// Shared-column scheme (`nhwc-s1-shared`, see [`shared_fits`]; Inception's 3×3 stride-1
/// average): along a row, `P` adjacent outputs whose windows are the same shifted by one
/// column read each input column of their union once (`kw + P − 1` loads per window row
/// instead of `P·kw`) and add it to each output that has it as a tap, in each output's tap
/// order. Max tests each loaded vector for NaN once and redoes a group that saw one with the
/// exact step. Other outputs (the borders) run as in the direct algorithm.
///
/// # Safety
/// As for [`direct`].
#[inline(always)]
unsafe fn shared<S: Simd, const OP: u8>(
    s: S,
    g: &WindowGeom,
    cx: &Ctx,
    rows: Range<usize>,
    cols: Range<usize>,
    c_lo: usize,
    c_hi: usize,
) {
    let p = SHARED_P;
    for oy in rows {
        let rs = g.rows[oy];
        let row_pix = (oy - cx.r0) * cx.ow;
        let mut ox = cols.start;
        while ox < cols.end {
            let cs = g.cols[ox];
            let alike = ox + p <= cols.end
                && (1..p).all(|q| {
                    let cq = g.cols[ox + q];
                    cq.count == cs.count && cq.start == cs.start + q
                });
            let at = (oy, ox, row_pix);
            // SAFETY: (every arm) the pixels are outputs of the job and their spans list
            // in-bounds taps; the channels as guaranteed by the caller.
            unsafe {
                match (alike, cs.count) {
                    (true, 3) => shared_channels::<S, OP, SHARED_P, 3>(s, g, cx, at, c_lo, c_hi),
                    (true, _) => shared_channels::<S, OP, SHARED_P, 0>(s, g, cx, at, c_lo, c_hi),
                    (false, _) => {
                        let div = if OP == AVG { g.divisor(oy, ox) } else { 0 };
                        let px = Pixels {
                            h0: [rs.start],
                            w0: [cs.start],
                            pix: [row_pix + ox],
                            div: [div],
                        };
                        pixel_channels::<S, OP, 1>(s, cx, rs, cs.count, &px, c_lo, c_hi);
                        ox += 1;
                        continue;
                    }
                }
            }
            ox += p;
        }
    }
}

/// The channels `c_lo..c_hi` of one group of [`shared`], in blocks of `SHARED_NV` vectors,
/// then single vectors, then a masked tail.
///
/// # Safety
/// As for [`shared_group`].
#[inline(always)]
unsafe fn shared_channels<S: Simd, const OP: u8, const P: usize, const KW: usize>(
    s: S,
    g: &WindowGeom,
    cx: &Ctx,
    at: (usize, usize, usize),
    c_lo: usize,
    c_hi: usize,
) {
    let l = S::LANES;
    let mut c = c_lo;
    // SAFETY: (each call) the blocks cover channels c..c + NV·l or the masked c..c_hi, all
    // within c_lo..c_hi <= channels (caller's guarantee for the rest).
    unsafe {
        while c + SHARED_NV * l <= c_hi {
            shared_group::<S, OP, SHARED_NV, false, P, KW>(s, g, cx, at, c, l);
            c += SHARED_NV * l;
        }
        while c + l <= c_hi {
            shared_group::<S, OP, 1, false, P, KW>(s, g, cx, at, c, l);
            c += l;
        }
        if c < c_hi {
            shared_group::<S, OP, 1, true, P, KW>(s, g, cx, at, c, c_hi - c);
        }
    }
}

/// `P` adjacent outputs `(oy, ox + q)` of [`shared`] whose column spans are the
/// first's shifted by `q`: channels `c..c + NV·LANES` (`c..c + n` when `MASKED`, `NV == 1`).
/// `KW` is their column tap count when a compile-time constant (the loops unroll), else 0.
///
/// # Safety
/// As for [`block`], for each of the `P` pixels.
#[inline(always)]
unsafe fn shared_group<
    S: Simd,
    const OP: u8,
    const NV: usize,
    const MASKED: bool,
    const P: usize,
    const KW: usize,
>(
    s: S,
    g: &WindowGeom,
    cx: &Ctx,
    (oy, ox, row_pix): (usize, usize, usize),
    c: usize,
    n: usize,
) {
    let l = S::LANES;
    let (rs, cs) = (g.rows[oy], g.cols[ox]);
    let wn = if KW == 0 { cs.count } else { KW };
    let init = if OP == AVG { 0.0 } else { f32::NEG_INFINITY };
    let mut acc = [[s.splat(init); NV]; P];
    let mut flag = s.none();
    // SAFETY: (every access) the taps (rs.start + i·dh, cs.start + t) for t < wn + P − 1 are
    // taps of pixel q = t − j of the group (column spans shifted by q, in bounds), so as in
    // `block` every load lies within src; the stores are the group's pixels' channels.
    unsafe {
        let src = cx.src.add(c);
        for i in 0..rs.count {
            let row = src.add(((rs.start + i * cx.dh) * cx.iw + cs.start) * cx.src_ps);
            for t in 0..wn + P - 1 {
                let at = row.add(t * cx.src_ps);
                let mut v = [s.splat(init); NV];
                for (k, v) in v.iter_mut().enumerate() {
                    *v = ld::<S, MASKED>(s, at.add(k * l), n);
                    if OP == MAX {
                        flag = s.or(flag, s.is_nan(*v));
                    }
                }
                for (q, acc) in acc.iter_mut().enumerate() {
                    // Column t is tap j = t − q of pixel q.
                    if t < q || t - q >= wn {
                        continue;
                    }
                    for (a, &v) in acc.iter_mut().zip(&v) {
                        *a = match OP {
                            AVG => s.add(*a, v),
                            _ => s.max(v, *a),
                        };
                    }
                }
            }
        }
        if OP == MAX && s.any(flag) {
            // A NaN among the taps: each pixel again with the exact step.
            for q in 0..P {
                let px = Pixels {
                    h0: [rs.start],
                    w0: [cs.start + q],
                    pix: [row_pix + ox + q],
                    div: [0],
                };
                block::<S, MAX_EXACT, NV, MASKED, 1>(s, cx, rs, wn, &px, c, n);
            }
            return;
        }
        for (q, acc) in acc.iter().enumerate() {
            let d = s.splat(if OP == AVG {
                g.divisor(oy, ox + q) as f32
            } else {
                1.0
            });
            let dst = cx.dst.add((row_pix + ox + q) * cx.dst_ps + c);
            for (k, &a) in acc.iter().enumerate() {
                let y = if OP == AVG { s.div(a, d) } else { a };
                st::<S, MASKED>(s, dst.add(k * l), n, y);
            }
        }
    }
}

/// `P` output pixels reduced together: their first tap rows and columns, their pixel numbers
/// in the job's output, and (averages) their divisors. They have the same number of row taps
/// (`rs.count`) and column taps.
struct Pixels<const P: usize> {
    h0: [usize; P],
    w0: [usize; P],
    pix: [usize; P],
    div: [usize; P],
}

/// Channels `c_lo..c_hi` of the pixels `px`, in blocks of [`BLOCK`] vectors, then single
/// vectors, then a masked tail.
///
/// # Safety
/// As for [`direct`]: the channels lie within `channels`, the pixels are outputs of the job
/// and the spans (`rs`, `wn` column taps from each `w0`) list in-bounds taps.
#[inline(always)]
unsafe fn pixel_channels<S: Simd, const OP: u8, const P: usize>(
    s: S,
    cx: &Ctx,
    rs: Span,
    wn: usize,
    px: &Pixels<P>,
    c_lo: usize,
    c_hi: usize,
) {
    let l = S::LANES;
    let mut c = c_lo;
    // SAFETY: (each call) the blocks cover channels c..c + BLOCK·l, c..c + l or the masked
    // c..c_hi, all within c_lo..c_hi <= channels (caller's guarantee for the rest).
    unsafe {
        while c + BLOCK * l <= c_hi {
            block::<S, OP, BLOCK, false, P>(s, cx, rs, wn, px, c, l);
            c += BLOCK * l;
        }
        while c + l <= c_hi {
            block::<S, OP, 1, false, P>(s, cx, rs, wn, px, c, l);
            c += l;
        }
        if c < c_hi {
            block::<S, OP, 1, true, P>(s, cx, rs, wn, px, c, c_hi - c);
        }
    }
}

/// Pixels `px`, channels `c..c + NV·LANES` (`c..c + n` when `MASKED`, then `NV == 1`):
/// reduces the taps `rs` × (`wn` columns from `px.w0`) and stores the results (and indices).
///
/// # Safety
/// As for [`pixel_channels`], with the block's channels within `channels`.
#[inline(always)]
unsafe fn block<S: Simd, const OP: u8, const NV: usize, const MASKED: bool, const P: usize>(
    s: S,
    cx: &Ctx,
    rs: Span,
    wn: usize,
    px: &Pixels<P>,
    c: usize,
    n: usize,
) {
    let l = S::LANES;
    let (dh, dw, iw, sps) = (cx.dh, cx.dw, cx.iw, cx.src_ps);
    // Flat input index of tap (i, j) of pixel q.
    let tap = |q: usize, i: usize, j: usize| (px.h0[q] + i * dh) * iw + px.w0[q] + j * dw;
    // SAFETY: (every access below) a tap's flat index t = h·iw + w has h < ih, w < iw, so
    // t·src_ps + c + k·l + l <= (ih·iw − 1)·src_ps + channels <= src.len() (masked: + n);
    // pix·dst_ps + c + NV·l <= (pixels − 1)·dst_ps + channels <= dst.len(); and
    // pix·channels + c + NV·l <= pixels·channels <= idx.len() (Ctx invariants).
    unsafe {
        let src = cx.src.add(c);
        let dst = |q: usize| cx.dst.add(px.pix[q] * cx.dst_ps + c);
        match OP {
            AVG => {
                let mut sum = [[s.splat(0.0); NV]; P];
                for i in 0..rs.count {
                    for j in 0..wn {
                        for (q, sum) in sum.iter_mut().enumerate() {
                            let p = src.add(tap(q, i, j) * sps);
                            for (k, acc) in sum.iter_mut().enumerate() {
                                *acc = s.add(*acc, ld::<S, MASKED>(s, p.add(k * l), n));
                            }
                        }
                    }
                }
                for (q, sum) in sum.iter().enumerate() {
                    let d = s.splat(px.div[q] as f32);
                    for (k, acc) in sum.iter().enumerate() {
                        st::<S, MASKED>(s, dst(q).add(k * l), n, s.div(*acc, d));
                    }
                }
            }
            MAX_IDX => {
                let mut acc = [[s.splat(f32::NEG_INFINITY); NV]; P];
                let mut ix = [[s.isplat(NO_INDEX); NV]; P];
                if rs.count * wn > 0 {
                    for (q, ix) in ix.iter_mut().enumerate() {
                        *ix = [s.isplat(tap(q, 0, 0) as u32); NV];
                    }
                }
                for i in 0..rs.count {
                    for j in 0..wn {
                        for q in 0..P {
                            let t = tap(q, i, j);
                            let p = src.add(t * sps);
                            let ti = s.isplat(t as u32);
                            for k in 0..NV {
                                let v = ld::<S, MASKED>(s, p.add(k * l), n);
                                let take = s.or(s.gt(v, acc[q][k]), s.is_nan(v));
                                acc[q][k] = s.select(take, v, acc[q][k]);
                                ix[q][k] = s.iselect(take, ti, ix[q][k]);
                            }
                        }
                    }
                }
                for q in 0..P {
                    let ip = cx.idx.add(px.pix[q] * cx.channels + c);
                    for k in 0..NV {
                        st::<S, MASKED>(s, dst(q).add(k * l), n, acc[q][k]);
                        if MASKED {
                            s.istore_n(ip.add(k * l), n, ix[q][k]);
                        } else {
                            s.istore(ip.add(k * l), ix[q][k]);
                        }
                    }
                }
            }
            _ => {
                let mut acc = [[s.splat(f32::NEG_INFINITY); NV]; P];
                let mut nan = OP == MAX_EXACT;
                if OP == MAX {
                    let mut flag = s.none();
                    for i in 0..rs.count {
                        for j in 0..wn {
                            for (q, acc) in acc.iter_mut().enumerate() {
                                let p = src.add(tap(q, i, j) * sps);
                                for (k, a) in acc.iter_mut().enumerate() {
                                    let v = ld::<S, MASKED>(s, p.add(k * l), n);
                                    flag = s.or(flag, s.is_nan(v));
                                    *a = s.max(v, *a);
                                }
                            }
                        }
                    }
                    nan = s.any(flag);
                }
                if nan {
                    acc = [[s.splat(f32::NEG_INFINITY); NV]; P];
                    for i in 0..rs.count {
                        for j in 0..wn {
                            for (q, acc) in acc.iter_mut().enumerate() {
                                let p = src.add(tap(q, i, j) * sps);
                                for (k, a) in acc.iter_mut().enumerate() {
                                    *a = s.max_exact(ld::<S, MASKED>(s, p.add(k * l), n), *a);
                                }
                            }
                        }
                    }
                }
                for (q, acc) in acc.iter().enumerate() {
                    for (k, a) in acc.iter().enumerate() {
                        st::<S, MASKED>(s, dst(q).add(k * l), n, *a);
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Stride-1 separable max
// ---------------------------------------------------------------------------------------------

/// The separable algorithm's stack scratch, cache-line aligned.
#[repr(C, align(64))]
struct Scratch([f32; SEP_BUF]);

/// Output columns per tile of the separable algorithm for `g` on a tier of `lanes` lanes with
/// items (buffer slots) of `item` f32, or `None` when it does not apply (not a stride-1, undilated window max, too few
/// taps, or buffers too large).
///
/// A tile of `tw` output columns needs, in items: two line buffers of `tw + kw − 1` and two
/// blocks of `kh` rows of `tw` row maxima.
fn separable_tile(g: &WindowGeom, lanes: usize, item: usize) -> Option<usize> {
    if g.reduce != Reduce::Max
        || g.kh == 0
        || (g.sh, g.sw, g.dh, g.dw) != (1, 1, 1, 1)
        || g.kh * g.kw < sep_min_taps(lanes)
        || g.ow == 0
    {
        return None;
    }
    let cap = SEP_BUF / item;
    let fixed = 2 * (g.kw - 1);
    let tw = cap.checked_sub(fixed)? / (2 * g.kh + 2);
    // Tiles narrower than the window would recompute too many row maxima.
    if tw == 0 || tw < g.ow.min(g.kw) {
        return None;
    }
    // Equal tiles (the last one is not left with a few columns and a whole window of halo).
    let tiles = g.ow.div_ceil(tw);
    Some(g.ow.div_ceil(tiles))
}

/// Stride-1 max without indices, one channel block and one tile of output columns at a time.
///
/// **Order.** With NaN excluded, the only equal values with different bits are −0.0 and +0.0,
/// and the reference returns the first tap (row-major) holding the maximum. `max(later, earlier)`
/// keeps `earlier` on ties, so every combination below passes the part of the window that comes
/// first in row-major order as the second operand: a row maximum is the first of its ties, and
/// a window's rows are combined top to bottom, so the result is the first tap of the maximum in
/// row-major order, exactly the reference's. A NaN anywhere in a tile's input (one compare per
/// loaded input vector, when the input line is copied) makes the tile's outputs be recomputed
/// by the direct exact path.
///
/// **Items.** Buffers hold items of `NV` channel vectors (`SEP_ITEM` f32 where the channels
/// allow: several cache lines of each pixel per visit), then single vectors for the remaining
/// channels, the last one masked.
///
/// **Horizontal.** For each input row of the tile's window rows, the tile's input columns
/// (outputs `x0..x0 + tw` need `tw + kw − 1` columns, −∞ outside the input) are cut into
/// blocks of `kw`. A forward pass copies them into a line buffer and stores the prefix maxima
/// of each block into a second buffer; a backward pass forms the suffix maxima of each block in
/// registers and combines each with the prefix at `x + kw − 1`: row max of the window at `x` =
/// max(prefix at `x + kw − 1`, suffix at `x`), two disjoint pieces that make up the window
/// (when `x` starts a block both are the whole block, with identical bits).
///
/// **Vertical.** The window rows of the job's outputs are virtual rows `0..T + kh − 1`
/// (virtual row `j` is input row `r0 − pt + j`, all −∞ outside the input), cut into blocks of
/// `kh`. The row maxima of block `m + 1` are collected in one buffer while the suffix maxima of
/// block `m` sit in the other; then, column by column (in registers), the running prefix over
/// block `m + 1` up to row `i`, combined with the suffix of block `m` from row `i + 1`, is the
/// output whose window ends at row `i` of block `m + 1`; the column's suffixes of block `m + 1`
/// are then formed in place, and the buffers swap. Block 0 only forms its suffixes, the first
/// of which is output row 0.
///
/// With `T` output rows and `tw`-column tiles that costs, per output and channel vector, about
/// `(1 + (kh − 1)/T)·(1 + (kw − 1)/tw)` times a fixed number of loads, stores and `max`, nearly
/// independent of the kernel size.
///
/// # Safety
/// `cx` satisfies its invariants; `separable_tile(g, S::LANES, S::LANES)` is `Some`; `buf` points to
/// `SEP_BUF` writable f32.
#[inline(always)]
unsafe fn separable<S: Simd>(s: S, g: &WindowGeom, cx: &Ctx, buf: *mut f32) {
    let l = S::LANES;
    let mut c = 0;
    // SAFETY: (every call) the channel blocks lie within `channels`; each call gets a tile
    // width that `separable_tile` fitted into SEP_BUF for its item size.
    unsafe {
        // Wide items even where they need narrower tiles: visiting several cache lines of a
        // pixel at once outweighs recomputing row maxima over more tile halos.
        if let Some(tw) = separable_tile(g, l, SEP_ITEM) {
            let nv = SEP_ITEM / l;
            while c + nv * l <= cx.channels {
                match nv {
                    2 => separable_channels::<S, 2, false>(s, g, cx, c, l, tw, buf),
                    4 => separable_channels::<S, 4, false>(s, g, cx, c, l, tw, buf),
                    8 => separable_channels::<S, 8, false>(s, g, cx, c, l, tw, buf),
                    _ => break,
                }
                c += nv * l;
            }
        }
        let tw = separable_tile(g, l, l).expect("checked by the caller");
        while c + l <= cx.channels {
            separable_channels::<S, 1, false>(s, g, cx, c, l, tw, buf);
            c += l;
        }
        if c < cx.channels {
            separable_channels::<S, 1, true>(s, g, cx, c, cx.channels - c, tw, buf);
        }
    }
}

/// Channels `c..c + NV·LANES` (`c..c + n` when `MASKED`, then `NV == 1`) of every output of
/// the job, by tiles of `tw` output columns; a tile whose input holds a NaN is redone by the
/// direct exact path.
///
/// # Safety
/// `cx` satisfies its invariants, the channels lie within `channels`, and `tw` is
/// `separable_tile(g, LANES, NV·LANES)`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn separable_channels<S: Simd, const NV: usize, const MASKED: bool>(
    s: S,
    g: &WindowGeom,
    cx: &Ctx,
    c: usize,
    n: usize,
    tw: usize,
    buf: *mut f32,
) {
    let width = if MASKED { n } else { NV * S::LANES };
    let mut x0 = 0;
    while x0 < cx.ow {
        let twn = tw.min(cx.ow - x0);
        // SAFETY: columns x0..x0 + twn lie within `ow` and `twn <= tw` keeps the buffers
        // inside `buf`; the channels as guaranteed by the caller.
        let nan = unsafe { separable_tile_run::<S, NV, MASKED>(s, g, cx, c, n, x0, twn, tw, buf) };
        if s.any(nan) {
            // SAFETY: the same rows, columns and channels, all within the job.
            unsafe { direct::<S, MAX_EXACT>(s, g, cx, cx.r0..cx.r1, x0..x0 + twn, c, c + width) };
        }
        x0 += twn;
    }
}

/// One channel block and one tile of output columns (`x0..x0 + twn`) of the separable
/// algorithm over all the job's rows; returns the NaN flag of the input it read.
///
/// Buffer layout in items of `NV·LANES` f32, for the tile capacity `tw`: line `[0, nl)`,
/// prefixes `[nl, 2·nl)`, row-maxima blocks A and B of `kh·tw` each, where `nl = tw + kw − 1`.
/// Every item is written before it is read.
///
/// # Safety
/// As for [`separable_channels`], with `x0 + twn <= ow`, `0 < twn <= tw`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn separable_tile_run<S: Simd, const NV: usize, const MASKED: bool>(
    s: S,
    g: &WindowGeom,
    cx: &Ctx,
    c: usize,
    n: usize,
    x0: usize,
    twn: usize,
    tw: usize,
    buf: *mut f32,
) -> S::M {
    let l = S::LANES;
    let it = NV * l; // f32 per item
    let (kh, kw) = (g.kh, g.kw);
    let t = cx.r1 - cx.r0;
    let nvirt = t + kh - 1;
    let nl_cap = tw + kw - 1;
    // SAFETY: the item offsets below add up to 2·nl_cap + 2·kh·tw items, which
    // `separable_tile` bounded by SEP_BUF / (NV·LANES).
    let (line, pre, mut cur, mut nxt) = unsafe {
        let line = buf;
        let pre = line.add(nl_cap * it);
        let a = pre.add(nl_cap * it);
        let b = a.add(kh * tw * it);
        (line, pre, a, b)
    };
    let row_stride = tw * it; // f32 between rows of a block buffer
    let mut flag = s.none();
    let ps = cx.dst_ps;

    // SAFETY: (whole body) buffer items as bounded above (row `i < kh`, column `ox < twn <=
    // tw`); `hrow` reads only in-bounds input pixels; output (oy_rel < T, x0 + ox < ow)
    // channels c..c + NV·LANES (c..c + n masked) are pixels of the job (Ctx invariants).
    unsafe {
        // Block 0: virtual rows 0..kh (nvirt >= kh since T >= 1); its suffixes, the first of
        // which is output row 0.
        for i in 0..kh {
            let hr = nxt.add(i * row_stride);
            let f = hrow::<S, NV, MASKED>(s, g, cx, c, n, x0, twn, i, line, pre, hr);
            flag = s.or(flag, f);
        }
        let out = cx.dst.add(x0 * ps + c);
        for ox in 0..twn {
            let col = nxt.add(ox * it);
            let acc = suffix_column::<S, NV>(s, col, kh, row_stride);
            for (k, a) in acc.iter().enumerate() {
                st::<S, MASKED>(s, out.add(ox * ps + k * l), n, *a);
            }
        }
        core::mem::swap(&mut cur, &mut nxt);
        let mut j = kh;
        while j < nvirt {
            let blen = kh.min(nvirt - j);
            for i in 0..blen {
                let hr = nxt.add(i * row_stride);
                let f = hrow::<S, NV, MASKED>(s, g, cx, c, n, x0, twn, j + i, line, pre, hr);
                flag = s.or(flag, f);
            }
            // Only full blocks are followed by another one.
            let more = j + blen < nvirt;
            // Output row (relative) whose window ends at virtual row j + i is j + i + 1 − kh.
            let out = cx.dst.add(((j + 1 - kh) * cx.ow + x0) * ps + c);
            for ox in 0..twn {
                let (col, prev) = (nxt.add(ox * it), cur.add(ox * it));
                let mut acc = [s.splat(f32::NEG_INFINITY); NV];
                for i in 0..blen {
                    let o = out.add(i * cx.ow * ps + ox * ps);
                    for (k, a) in acc.iter_mut().enumerate() {
                        let h = s.load(col.add(i * row_stride + k * l));
                        *a = if i == 0 { h } else { s.max(h, *a) };
                        let v = if i + 1 < kh {
                            s.max(*a, s.load(prev.add((i + 1) * row_stride + k * l)))
                        } else {
                            *a
                        };
                        st::<S, MASKED>(s, o.add(k * l), n, v);
                    }
                }
                if more {
                    suffix_column::<S, NV>(s, col, kh, row_stride);
                }
            }
            j += blen;
            if more {
                core::mem::swap(&mut cur, &mut nxt);
            }
        }
    }
    flag
}

/// Suffix maxima in place down one column (one item) of a block buffer of `rows` rows,
/// `row_stride` f32 apart: row `i` becomes the max of rows `i..rows`, the earliest row winning
/// ties. Returns the maximum of the whole column (row 0).
///
/// # Safety
/// The rows must lie in the buffer and have been written.
#[inline(always)]
unsafe fn suffix_column<S: Simd, const NV: usize>(
    s: S,
    col: *mut f32,
    rows: usize,
    row_stride: usize,
) -> [S::V; NV] {
    let l = S::LANES;
    let mut acc = [s.splat(f32::NEG_INFINITY); NV];
    // SAFETY: rows 0..rows of the column lie in the buffer (caller's guarantee).
    unsafe {
        for (k, a) in acc.iter_mut().enumerate() {
            *a = s.load(col.add((rows - 1) * row_stride + k * l));
        }
        for i in (0..rows - 1).rev() {
            for (k, a) in acc.iter_mut().enumerate() {
                let p = col.add(i * row_stride + k * l);
                *a = s.max(*a, s.load(p));
                s.store(p, *a);
            }
        }
    }
    acc
}

/// Row maxima of virtual row `jv` for output columns `x0..x0 + twn` (channel block at `c`)
/// into `out` (`twn` items); returns the NaN flag of the loaded input.
///
/// # Safety
/// `line` and `pre` hold `twn + kw − 1` items each, `out` `twn` items; the channels lie within
/// `channels`, `x0 + twn <= ow`; `cx` satisfies its invariants.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn hrow<S: Simd, const NV: usize, const MASKED: bool>(
    s: S,
    g: &WindowGeom,
    cx: &Ctx,
    c: usize,
    n: usize,
    x0: usize,
    twn: usize,
    jv: usize,
    line: *mut f32,
    pre: *mut f32,
    out: *mut f32,
) -> S::M {
    let l = S::LANES;
    let it = NV * l;
    let kw = g.kw;
    let neg = s.splat(f32::NEG_INFINITY);
    let mut flag = s.none();
    // Input row of virtual row jv (may be outside the input: padding).
    let h = (cx.r0 + jv) as isize - g.pt as isize;
    if h < 0 || h >= cx.ih as isize {
        for at in (0..twn * NV).map(|v| v * l) {
            // SAFETY: inside the twn items of `out` (caller's guarantee).
            unsafe { s.store(out.add(at), neg) };
        }
        return flag;
    }
    let h = h as usize;
    let nl = twn + kw - 1;
    // Line item q holds input column x0 − pl + q: in the input for q in q_lo..q_hi.
    let base = x0 as isize - g.pl as isize;
    let q_lo = (-base).clamp(0, nl as isize) as usize;
    let q_hi = (cx.iw as isize - base).clamp(q_lo as isize, nl as isize) as usize;
    // SAFETY: line/pre items q < nl, out items ox < twn (caller's guarantee); for q in
    // q_lo..q_hi the input column w = base + q is in 0..iw and h < ih, so the pixel's channel
    // block is inside `src` (Ctx invariants).
    unsafe {
        // Forward pass: the line into `line`, prefix maxima restarting every kw items into
        // `pre`.
        let mut fw = Forward::<S, NV> {
            acc: [neg; NV],
            pos: 0,
            in_block: 0,
            kw,
            line,
            pre,
        };
        for _ in 0..q_lo {
            fw.push(s, [neg; NV]);
        }
        let row = cx.src.add(h * cx.iw * cx.src_ps + c);
        for q in q_lo..q_hi {
            let p = row.add((base + q as isize) as usize * cx.src_ps);
            let mut x = [neg; NV];
            for (k, x) in x.iter_mut().enumerate() {
                *x = ld::<S, MASKED>(s, p.add(k * l), n);
                flag = s.or(flag, s.is_nan(*x));
            }
            fw.push(s, x);
        }
        for _ in q_hi..nl {
            fw.push(s, [neg; NV]);
        }
        // Backward pass: suffix maxima within each block, combined with the prefix at
        // ox + kw − 1 into the row maximum of window ox.
        let (mut b, mut e) = ((nl - 1) / kw * kw, nl); // the last block
        loop {
            let mut acc = [neg; NV];
            for q in (b..e).rev() {
                for (k, a) in acc.iter_mut().enumerate() {
                    let x = s.load(line.add(q * it + k * l));
                    *a = if q + 1 == e { x } else { s.max(*a, x) };
                }
                if q < twn {
                    for (k, a) in acc.iter().enumerate() {
                        let p = s.load(pre.add((q + kw - 1) * it + k * l));
                        s.store(out.add(q * it + k * l), s.max(p, *a));
                    }
                }
            }
            if b == 0 {
                break;
            }
            (b, e) = (b - kw, b);
        }
    }
    flag
}

/// The forward pass of [`hrow`]: stores each pushed item into the line and its prefix maximum
/// within its block of `kw` items into `pre`.
struct Forward<S: Simd, const NV: usize> {
    acc: [S::V; NV],
    /// Items pushed so far.
    pos: usize,
    /// Items pushed so far into the current block.
    in_block: usize,
    kw: usize,
    line: *mut f32,
    pre: *mut f32,
}

impl<S: Simd, const NV: usize> Forward<S, NV> {
    /// # Safety
    /// Items `0..=pos` of `line` and `pre` must be writable.
    #[inline(always)]
    unsafe fn push(&mut self, s: S, x: [S::V; NV]) {
        let l = S::LANES;
        let at = self.pos * NV * l;
        let first = self.in_block == 0;
        for (k, (a, x)) in self.acc.iter_mut().zip(x).enumerate() {
            *a = if first { x } else { s.max(x, *a) };
            // SAFETY: item `pos` of both buffers (caller's guarantee).
            unsafe {
                s.store(self.line.add(at + k * l), x);
                s.store(self.pre.add(at + k * l), *a);
            }
        }
        self.pos += 1;
        self.in_block += 1;
        if self.in_block == self.kw {
            self.in_block = 0;
        }
    }
}
