//! Window and adaptive pooling, max and average, NHWC: vectorized across channels.
//!
//! A pixel's channels are contiguous, so lane `k` of a vector holds channel `c0 + k` of one
//! pixel and every lane is an independent output: each output is reduced over exactly the taps
//! the reference visits, in the reference's order. Pixels are `src_ps` / `dst_ps` elements
//! apart; only the `channels` elements of an output pixel are written (never the gap up to the
//! next pixel), and the channel tail of every pixel is read and written with masked
//! `load_n` / `store_n`, so nothing past a pixel's last channel is touched.
//!
//! Two algorithms (`describe` names them):
//!
//! * **Direct** (`nhwc-direct`; `nhwc-adaptive` for adaptive pooling, the same code): for each
//!   output pixel and each block of up to [`BLOCK`] channel vectors (one accumulator register
//!   per vector), reduce over the in-bounds taps listed by the spans `g.rows[oy]` × `g.cols[ox]`,
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
//! * **Stride-1 separable max** (`nhwc-s1-separable`, max without indices, stride 1, no
//!   dilation, at least [`SEP_MIN_TAPS`] taps): the max of a window is the max over its rows
//!   of the row maxima, and both 1-D sliding maxima use the van Herk / Gil-Werman scheme,
//!   about three `max` per output and axis whatever the kernel size. A line is cut into blocks
//!   of `k` elements; the window starting at `x` is the suffix of its block from `x` joined
//!   with the prefix of the next block up to `x + k − 1`. Padding enters the lines as −∞
//!   (never above an in-bounds tap; a window of padding only gives −∞, as it should).
//!   See [`separable`] for the exact-order argument and the buffers.
//!
//! Every output is computed from its own window only, so results do not depend on where a job's
//! row range starts.

use core::mem::MaybeUninit;
use core::ops::Range;

use crate::geom::{Reduce, Span, WindowGeom};
use crate::kernels::NhwcJob;
use crate::kernels::vector::Simd;
use crate::reference::NO_INDEX;

/// Channel vectors per block of the direct algorithm (one accumulator register each).
const BLOCK: usize = 4;

/// Elements (f32) of the separable algorithm's stack scratch (48 KiB).
const SEP_BUF: usize = 12 * 1024;

/// Fewest window taps for which the separable algorithm beats the direct one.
const SEP_MIN_TAPS: usize = 6;

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

/// Runs the job (its invariants were asserted by the caller).
#[inline(always)]
pub(super) fn run<S: Simd>(s: S, g: &WindowGeom, job: NhwcJob<'_, f32>) {
    let NhwcJob {
        src,
        src_ps,
        dst,
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
    // SAFETY (all three arms): `cx` was built from the job's slices, whose lengths were just
    // asserted to cover every pixel and channel the kernels address (see `Ctx`); the spans of
    // `g` list in-bounds taps only (WindowGeom invariant).
    match g.reduce {
        Reduce::Avg => unsafe { direct::<S, AVG>(s, g, &cx, rows, all_cols, 0, channels) },
        Reduce::Max if has_idx => unsafe {
            direct::<S, MAX_IDX>(s, g, &cx, rows, all_cols, 0, channels)
        },
        Reduce::Max => match separable_tile(g, S::LANES) {
            Some(tw) => {
                let mut scratch = MaybeUninit::<Scratch>::uninit();
                let buf = scratch.as_mut_ptr().cast::<f32>();
                // SAFETY: as above; `separable_tile` sized the tile so that the separable
                // buffers fit the `SEP_BUF` elements of `scratch`.
                unsafe { separable(s, g, &cx, tw, buf) }
            }
            None => unsafe { direct::<S, MAX>(s, g, &cx, rows, all_cols, 0, channels) },
        },
    }
}

/// The algorithm [`run`] picks for `g` (for max pooling with indices, always the direct one).
pub(super) fn describe<S: Simd>(g: &WindowGeom) -> &'static str {
    if g.kh == 0 {
        "nhwc-adaptive"
    } else if separable_tile(g, S::LANES).is_some() {
        "nhwc-s1-separable"
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
    let l = S::LANES;
    for oy in rows {
        let rs = g.rows[oy];
        for ox in cols.clone() {
            let cs = g.cols[ox];
            let pix = (oy - cx.r0) * cx.ow + ox;
            let div = if OP == AVG { g.divisor(oy, ox) } else { 0 };
            let mut c = c_lo;
            // SAFETY (each call): the blocks cover channels c..c + BLOCK·l, c..c + l or the
            // masked c..c_hi, all within c_lo..c_hi <= channels; pixel `pix` and the spans'
            // taps are in range (see the caller's guarantee).
            while c + BLOCK * l <= c_hi {
                unsafe { block::<S, OP, BLOCK, false>(s, cx, rs, cs, c, l, pix, div) };
                c += BLOCK * l;
            }
            while c + l <= c_hi {
                unsafe { block::<S, OP, 1, false>(s, cx, rs, cs, c, l, pix, div) };
                c += l;
            }
            if c < c_hi {
                unsafe { block::<S, OP, 1, true>(s, cx, rs, cs, c, c_hi - c, pix, div) };
            }
        }
    }
}

/// One output pixel `pix`, channels `c..c + NV·LANES` (`c..c + n` when `MASKED`, then
/// `NV == 1`): reduces the taps `rs` × `cs` and stores the result (and indices).
///
/// # Safety
/// As for [`direct`]: the channels lie within `channels`, `pix` is a pixel of the job and the
/// spans list in-bounds taps.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn block<S: Simd, const OP: u8, const NV: usize, const MASKED: bool>(
    s: S,
    cx: &Ctx,
    rs: Span,
    cs: Span,
    c: usize,
    n: usize,
    pix: usize,
    div: usize,
) {
    let l = S::LANES;
    let taps = |i: usize, j: usize| -> usize {
        let h = rs.start + i * cx.dh;
        let w = cs.start + j * cx.dw;
        h * cx.iw + w
    };
    // SAFETY (every access below): a tap's flat index t = h·iw + w has h < ih, w < iw, so
    // t·src_ps + c + k·l + l <= (ih·iw − 1)·src_ps + channels <= src.len() (masked: + n);
    // pix·dst_ps + c + NV·l <= (pixels − 1)·dst_ps + channels <= dst.len(); and
    // pix·channels + c + NV·l <= pixels·channels <= idx.len() (Ctx invariants).
    unsafe {
        let src = cx.src.add(c);
        let dst = cx.dst.add(pix * cx.dst_ps + c);
        match OP {
            AVG => {
                let mut sum = [s.splat(0.0); NV];
                for i in 0..rs.count {
                    for j in 0..cs.count {
                        let p = src.add(taps(i, j) * cx.src_ps);
                        for (k, acc) in sum.iter_mut().enumerate() {
                            *acc = s.add(*acc, ld::<S, MASKED>(s, p.add(k * l), n));
                        }
                    }
                }
                let d = s.splat(div as f32);
                for (k, acc) in sum.iter().enumerate() {
                    st::<S, MASKED>(s, dst.add(k * l), n, s.div(*acc, d));
                }
            }
            MAX_IDX => {
                let mut acc = [s.splat(f32::NEG_INFINITY); NV];
                let first = if rs.count * cs.count > 0 {
                    taps(0, 0) as u32
                } else {
                    NO_INDEX
                };
                let mut ix = [s.isplat(first); NV];
                for i in 0..rs.count {
                    for j in 0..cs.count {
                        let t = taps(i, j);
                        let p = src.add(t * cx.src_ps);
                        let ti = s.isplat(t as u32);
                        for k in 0..NV {
                            let v = ld::<S, MASKED>(s, p.add(k * l), n);
                            let take = s.or(s.gt(v, acc[k]), s.is_nan(v));
                            acc[k] = s.select(take, v, acc[k]);
                            ix[k] = s.iselect(take, ti, ix[k]);
                        }
                    }
                }
                let ip = cx.idx.add(pix * cx.channels + c);
                for k in 0..NV {
                    st::<S, MASKED>(s, dst.add(k * l), n, acc[k]);
                    if MASKED {
                        s.istore_n(ip.add(k * l), n, ix[k]);
                    } else {
                        s.istore(ip.add(k * l), ix[k]);
                    }
                }
            }
            _ => {
                let mut acc = [s.splat(f32::NEG_INFINITY); NV];
                let mut nan = OP == MAX_EXACT;
                if OP == MAX {
                    let mut flag = s.none();
                    for i in 0..rs.count {
                        for j in 0..cs.count {
                            let p = src.add(taps(i, j) * cx.src_ps);
                            for (k, a) in acc.iter_mut().enumerate() {
                                let v = ld::<S, MASKED>(s, p.add(k * l), n);
                                flag = s.or(flag, s.is_nan(v));
                                *a = s.max(v, *a);
                            }
                        }
                    }
                    nan = s.any(flag);
                }
                if nan {
                    acc = [s.splat(f32::NEG_INFINITY); NV];
                    for i in 0..rs.count {
                        for j in 0..cs.count {
                            let p = src.add(taps(i, j) * cx.src_ps);
                            for (k, a) in acc.iter_mut().enumerate() {
                                *a = s.max_exact(ld::<S, MASKED>(s, p.add(k * l), n), *a);
                            }
                        }
                    }
                }
                for (k, a) in acc.iter().enumerate() {
                    st::<S, MASKED>(s, dst.add(k * l), n, *a);
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

/// Output columns per tile of the separable algorithm for `g`, or `None` when it does not
/// apply (not a stride-1, undilated window max, too few taps, or buffers too large).
///
/// A tile of `tw` output columns needs, in vectors: two line buffers of `tw + kw − 1`, two
/// blocks of `kh` row maxima of `tw`, and one prefix row of `tw`.
fn separable_tile(g: &WindowGeom, lanes: usize) -> Option<usize> {
    if g.reduce != Reduce::Max
        || g.kh == 0
        || (g.sh, g.sw, g.dh, g.dw) != (1, 1, 1, 1)
        || g.kh * g.kw < SEP_MIN_TAPS
        || g.ow == 0
    {
        return None;
    }
    let cap = SEP_BUF / lanes;
    let fixed = 2 * (g.kw - 1);
    let tw = cap.checked_sub(fixed)? / (2 * g.kh + 3);
    let tw = tw.min(g.ow);
    // Tiles narrower than the window would recompute too many row maxima.
    (tw > 0 && tw >= g.ow.min(g.kw)).then_some(tw)
}

/// Stride-1 max without indices, one channel vector and one tile of output columns at a time.
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
/// **Horizontal.** For each input row of the tile's window rows, the tile's input columns
/// (outputs `x0..x0 + tw` need `tw + kw − 1` columns, −∞ outside the input) are copied into a
/// line buffer, cut into blocks of `kw`; per block the prefix maxima go to a second buffer and
/// the suffix maxima overwrite the line. Row max of the window at `x` = max(prefix at
/// `x + kw − 1`, suffix at `x`): two disjoint pieces that make up the window (when `x` starts a
/// block both are the whole block, with identical bits).
///
/// **Vertical.** The window rows of the job's outputs are virtual rows `0..T + kh − 1`
/// (virtual row `j` is input row `r0 − pt + j`, −∞ outside the input), cut into blocks of `kh`.
/// The row maxima of block `m + 1` are collected in one buffer while the suffix maxima of block
/// `m` sit in the other; a running prefix over block `m + 1` combined with the suffix of block
/// `m` gives the output whose window ends at the current row. After a block, its suffixes are
/// formed in place and the buffers swap.
///
/// # Safety
/// `cx` satisfies its invariants; `tw` comes from [`separable_tile`] for `g` and `S::LANES`;
/// `buf` points to `SEP_BUF` writable f32.
#[inline(always)]
unsafe fn separable<S: Simd>(s: S, g: &WindowGeom, cx: &Ctx, tw: usize, buf: *mut f32) {
    let l = S::LANES;
    let mut c = 0;
    while c < cx.channels {
        let n = l.min(cx.channels - c);
        let mut x0 = 0;
        while x0 < cx.ow {
            let twn = tw.min(cx.ow - x0);
            // SAFETY: channels c..c + n lie within `channels`, columns x0..x0 + twn within
            // `ow`, and `twn <= tw` keeps the buffers inside `buf` (caller's guarantee).
            let nan = unsafe {
                if n < l {
                    separable_tile_run::<S, true>(s, g, cx, c, n, x0, twn, tw, buf)
                } else {
                    separable_tile_run::<S, false>(s, g, cx, c, n, x0, twn, tw, buf)
                }
            };
            if s.any(nan) {
                // SAFETY: the same rows, columns and channels, all within the job.
                unsafe { direct::<S, MAX_EXACT>(s, g, cx, cx.r0..cx.r1, x0..x0 + twn, c, c + n) };
            }
            x0 += twn;
        }
        c += l;
    }
}

/// One channel vector (`c..c + n`) and one tile of output columns (`x0..x0 + twn`) of the
/// separable algorithm over all the job's rows; returns the NaN flag of the input it read.
///
/// Buffer layout in vectors of `LANES` f32, for the tile capacity `tw`: line `[0, nl)`,
/// prefixes `[nl, 2·nl)`, row-maxima blocks A and B of `kh·tw` each, prefix row of `tw`, where
/// `nl = tw + kw − 1`. Every slot is written before it is read.
///
/// # Safety
/// As for [`separable`], with `c + n <= channels`, `x0 + twn <= ow`, `0 < twn <= tw`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn separable_tile_run<S: Simd, const MASKED: bool>(
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
    let (kh, kw) = (g.kh, g.kw);
    let t = cx.r1 - cx.r0;
    let nvirt = t + kh - 1;
    let nl_cap = tw + kw - 1;
    // SAFETY: the slot offsets below add up to 2·nl_cap + (2·kh + 1)·tw vectors, which
    // `separable_tile` bounded by SEP_BUF / LANES.
    let (line, pre, mut cur, mut nxt, prow) = unsafe {
        let line = buf;
        let pre = line.add(nl_cap * l);
        let a = pre.add(nl_cap * l);
        let b = a.add(kh * tw * l);
        let prow = b.add(kh * tw * l);
        (line, pre, a, b, prow)
    };
    let row_stride = tw * l; // f32 between rows of a block buffer
    let mut flag = s.none();
    let dst_at = |oy_rel: usize, ox: usize| (oy_rel * cx.ow + x0 + ox) * cx.dst_ps + c;

    // SAFETY (whole body): buffer slots as bounded above (row `i < kh`, column `ox < twn <= tw`);
    // `hrow` reads only in-bounds input pixels; output (oy_rel < T, x0 + ox < ow) channels
    // c..c + n are pixels of the job (Ctx invariants).
    unsafe {
        // Block 0: virtual rows 0..kh (nvirt >= kh since T >= 1).
        for i in 0..kh {
            flag = s.or(
                flag,
                hrow::<S, MASKED>(
                    s,
                    g,
                    cx,
                    c,
                    n,
                    x0,
                    twn,
                    i,
                    line,
                    pre,
                    nxt.add(i * row_stride),
                ),
            );
        }
        suffix_rows(s, nxt, kh, twn, row_stride);
        for ox in 0..twn {
            let v = s.load(nxt.add(ox * l));
            st::<S, MASKED>(s, cx.dst.add(dst_at(0, ox)), n, v);
        }
        core::mem::swap(&mut cur, &mut nxt);
        let mut j = kh;
        while j < nvirt {
            let blen = kh.min(nvirt - j);
            for i in 0..blen {
                let hr = nxt.add(i * row_stride);
                flag = s.or(
                    flag,
                    hrow::<S, MASKED>(s, g, cx, c, n, x0, twn, j + i, line, pre, hr),
                );
                // Output row (relative) whose window ends at virtual row j + i.
                let orel = j + i + 1 - kh;
                let out = cx.dst.add(orel * cx.ow * cx.dst_ps);
                let sfx = cur.add((i + 1) * row_stride);
                for ox in 0..twn {
                    let h = s.load(hr.add(ox * l));
                    let p = if i == 0 {
                        h
                    } else {
                        s.max(h, s.load(prow.add(ox * l)))
                    };
                    s.store(prow.add(ox * l), p);
                    let v = if i + 1 < kh {
                        s.max(p, s.load(sfx.add(ox * l)))
                    } else {
                        p
                    };
                    st::<S, MASKED>(s, out.add((x0 + ox) * cx.dst_ps + c), n, v);
                }
            }
            j += blen;
            if j < nvirt {
                // Only full blocks are followed by another one.
                suffix_rows(s, nxt, kh, twn, row_stride);
                core::mem::swap(&mut cur, &mut nxt);
            }
        }
    }
    flag
}

/// Suffix maxima in place over rows `0..rows` of a block buffer (`twn` vectors per row,
/// `row_stride` f32 apart): row `i` becomes the max of rows `i..rows`, the earliest row winning
/// ties.
///
/// # Safety
/// The rows must lie in the buffer and have been written.
#[inline(always)]
unsafe fn suffix_rows<S: Simd>(s: S, b: *mut f32, rows: usize, twn: usize, row_stride: usize) {
    let l = S::LANES;
    for i in (0..rows.saturating_sub(1)).rev() {
        // SAFETY: rows i and i + 1 < rows lie in the buffer (caller's guarantee).
        unsafe {
            let (r, below) = (b.add(i * row_stride), b.add((i + 1) * row_stride));
            for ox in 0..twn {
                let v = s.max(s.load(below.add(ox * l)), s.load(r.add(ox * l)));
                s.store(r.add(ox * l), v);
            }
        }
    }
}

/// Row maxima of virtual row `jv` for output columns `x0..x0 + twn` (channels `c..c + n`) into
/// `out` (`twn` vectors); returns the NaN flag of the loaded input.
///
/// # Safety
/// `line` and `pre` hold `twn + kw − 1` vectors each, `out` `twn` vectors; `c + n <= channels`,
/// `x0 + twn <= ow`; `cx` satisfies its invariants.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn hrow<S: Simd, const MASKED: bool>(
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
    let kw = g.kw;
    let neg = s.splat(f32::NEG_INFINITY);
    let mut flag = s.none();
    // Input row of virtual row jv (may be outside the input: padding).
    let h = (cx.r0 + jv) as isize - g.pt as isize;
    if h < 0 || h >= cx.ih as isize {
        for ox in 0..twn {
            // SAFETY: ox < twn vectors of `out` (caller's guarantee).
            unsafe { s.store(out.add(ox * l), neg) };
        }
        return flag;
    }
    let h = h as usize;
    let nl = twn + kw - 1;
    // Line slot q holds input column x0 − pl + q: in the input for q in q_lo..q_hi.
    let base = x0 as isize - g.pl as isize;
    let q_lo = (-base).clamp(0, nl as isize) as usize;
    let q_hi = (cx.iw as isize - base).clamp(q_lo as isize, nl as isize) as usize;
    // SAFETY: line/pre slots q < nl (caller's guarantee); for q in q_lo..q_hi the input column
    // w = base + q is in 0..iw and h < ih, so the pixel's channels c..c + n (masked, or
    // c + LANES <= channels unmasked) are inside `src` (Ctx invariants).
    unsafe {
        for q in 0..q_lo {
            s.store(line.add(q * l), neg);
        }
        let row = cx.src.add(h * cx.iw * cx.src_ps + c);
        for q in q_lo..q_hi {
            let w = (base + q as isize) as usize;
            let v = ld::<S, MASKED>(s, row.add(w * cx.src_ps), n);
            flag = s.or(flag, s.is_nan(v));
            s.store(line.add(q * l), v);
        }
        for q in q_hi..nl {
            s.store(line.add(q * l), neg);
        }
        // Per block of kw slots: prefix maxima into `pre`, suffix maxima in place.
        let mut b = 0;
        while b < nl {
            let e = (b + kw).min(nl);
            let mut acc = s.load(line.add(b * l));
            s.store(pre.add(b * l), acc);
            for q in b + 1..e {
                acc = s.max(s.load(line.add(q * l)), acc);
                s.store(pre.add(q * l), acc);
            }
            let mut acc = s.load(line.add((e - 1) * l));
            for q in (b..e - 1).rev() {
                acc = s.max(acc, s.load(line.add(q * l)));
                s.store(line.add(q * l), acc);
            }
            b = e;
        }
        for ox in 0..twn {
            let v = s.max(s.load(pre.add((ox + kw - 1) * l)), s.load(line.add(ox * l)));
            s.store(out.add(ox * l), v);
        }
    }
    flag
}
