//! Stride-1 max pooling of 5×5 windows (YOLO's SPPF) in NHWC: register strips
//! (`nhwc-s1-strip`).
//!
//! One channel vector (lane `k` = channel `c + k`) at a time. A band of the job's window rows
//! is first copied into a compact scratch, one vector per pixel with −∞ in the padding
//! columns: in the tensor, the pixels of one channel vector are a whole pixel stride apart
//! (often a multiple of 1 KiB), so they all fall into a few sets of the L1 cache and evict each
//! other before the overlapping windows reuse them; in the scratch they are contiguous. The
//! copy is also where the input is tested for NaN, once per element (one unordered compare per
//! two vectors).
//!
//! Then a strip of `W` adjacent output columns walks down the band. Each scratch row of the
//! strip is loaded once (`W + K − 1` vectors) and its `W` row maxima are formed in registers by
//! doubling: pair maxima `p2[q] = max(x[q + 1], x[q])`, then
//! `h[i] = max(x[i + 4], max(p2[i + 2], p2[i]))`. The vertical pass keeps, per
//! column, the pair maxima `P[j] = max(h[j + 1], h[j])` of the last `K − 1` rows in registers
//! and forms the output whose window ends at row `j` from every other pair and `h[j]`. Per
//! output and channel vector: one copy (load, store), about `1 + (K − 1)/W` scratch loads, one
//! store and `(3W + 2)/W + 3` max; no row maxima are stored, unlike the separable van Herk
//! scheme in `super`, which stores and reloads every line, its prefixes and its row maxima.
//! 1×256×20×20 (SPPF), AVX-512, one thread: 35 µs separable, 25 µs strips. 3×3 windows stay
//! with the direct algorithm, which needs no copy (1×512×20×20: 66 µs direct, 83 µs strips).
//!
//! **Order.** Without NaN, equal values differ in bits only as −0.0/+0.0, and the reference
//! keeps the first tap in row-major order. `max(later, earlier)` keeps `earlier` on ties, and
//! every combination above passes the piece of the window that comes first as the second
//! operand (contiguous pieces, left before right, top before bottom), so the result is the
//! first maximal tap in row-major order: bit-identical to the reference. A band whose input
//! holds a NaN is computed by the direct exact path instead, which applies PyTorch's rule.
//!
//! **Borders.** Padding columns are −∞ in the scratch (never above an in-bounds tap); padding
//! rows are −∞ vectors that are never loaded. When `ow` is not a multiple of `W`, the last strip
//! overlaps the one before it and writes some outputs again with the same bits.

use super::super::Rows5;
use super::{Ctx, MAX_EXACT, SEP_BUF, direct, ld, st};
use crate::geom::{Reduce, WindowGeom};
use crate::kernels::vector::Simd;

/// Output columns per strip on a tier with `regs` vector registers (the vertical state is
/// `W·(K − 1)` registers, the loaded row `W + K − 1`).
const fn strip_width(regs: usize) -> usize {
    if regs >= 32 { 4 } else { 2 }
}

/// Scratch rows that fit into the `SEP_BUF` f32 of the stack scratch for `g` on a tier of
/// `lanes` lanes (one vector per pixel of a padded row of `ow + kw − 1` pixels).
fn band_rows(g: &WindowGeom, lanes: usize) -> usize {
    SEP_BUF / ((g.ow + g.kw - 1) * lanes)
}

/// True when max pooling without indices runs the strip algorithm on tier `S`: a 5×5
/// stride-1 undilated window, at least one strip of output columns, and a scratch band of at
/// least `kh + 1` rows (two output rows per band).
pub(super) fn fits<S: Simd>(g: &WindowGeom) -> bool {
    g.reduce == Reduce::Max
        && (g.sh, g.sw, g.dh, g.dw) == (1, 1, 1, 1)
        && (g.kh, g.kw) == (5, 5)
        && g.ow >= strip_width(S::REGS)
        && band_rows(g, S::LANES) > g.kh
}

/// Every output of the job, all its channels.
///
/// # Safety
/// `cx` satisfies its invariants (`super::Ctx`), `fits::<S>(g)` holds, the job computes max
/// without indices, and `buf` points to `SEP_BUF` writable f32.
#[inline(always)]
pub(super) unsafe fn run<S: Simd>(s: S, g: &WindowGeom, cx: &Ctx, buf: *mut f32) {
    // SAFETY: forwarded from the caller.
    unsafe {
        if strip_width(S::REGS) == 4 {
            channels::<S, 4, 5>(s, g, cx, buf)
        } else {
            channels::<S, 2, 5>(s, g, cx, buf)
        }
    }
}

/// Every channel vector (the last one masked) of every band of output rows.
///
/// # Safety
/// As for [`run`], with `K == g.kh == g.kw` and `W <= g.ow`.
#[inline(always)]
unsafe fn channels<S: Simd, const W: usize, const K: usize>(
    s: S,
    g: &WindowGeom,
    cx: &Ctx,
    buf: *mut f32,
) {
    let l = S::LANES;
    let pw = cx.ow + K - 1;
    let plane_rows = band_rows(g, l);
    // Output rows per band: their window rows fill the scratch.
    let per_band = plane_rows + 1 - K;
    // Scratch column q holds input column q − pl: in the image for q in q_lo..q_hi.
    let q_lo = g.pl.min(pw);
    let q_hi = (g.pl + cx.iw).min(pw);
    let neg = s.splat(f32::NEG_INFINITY);
    // The padding columns of every scratch row, once: the copies write only q_lo..q_hi.
    for r in 0..plane_rows {
        for q in (0..q_lo).chain(q_hi..pw) {
            // SAFETY: (r·pw + q + 1)·l <= plane_rows·pw·l <= SEP_BUF (caller's `buf`).
            unsafe { s.store(buf.add((r * pw + q) * l), neg) };
        }
    }
    let mut c = 0;
    while c < cx.channels {
        let n = (cx.channels - c).min(l);
        let mut b0 = cx.r0;
        while b0 < cx.r1 {
            let b1 = cx.r1.min(b0 + per_band);
            // SAFETY: channels c..c + n lie within `channels`; rows b0..b1 within the job.
            unsafe {
                if n == l {
                    band::<S, W, K, false>(s, g, cx, c, n, b0..b1, buf);
                } else {
                    band::<S, W, K, true>(s, g, cx, c, n, b0..b1, buf);
                }
            }
            b0 = b1;
        }
        c += l;
    }
}

/// Output rows `rows` (of the job, at most `band_rows + 1 − K`), channels `c..c + n`
/// (`n == LANES` unless `MASKED`): the copy into the scratch, then the strips, or the direct
/// exact path when the band's input holds a NaN.
///
/// # Safety
/// As for [`channels`], with `c + n <= channels`; the scratch's padding columns hold −∞.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn band<S: Simd, const W: usize, const K: usize, const MASKED: bool>(
    s: S,
    g: &WindowGeom,
    cx: &Ctx,
    c: usize,
    n: usize,
    rows: core::ops::Range<usize>,
    buf: *mut f32,
) {
    let pw = cx.ow + K - 1;
    // Window rows (input rows) of the band, and those in the image.
    let v0 = rows.start as isize - g.pt as isize;
    let v1 = rows.end as isize - g.pt as isize + K as isize - 1;
    let r_lo = v0.clamp(0, cx.ih as isize) as usize;
    let r_hi = v1.clamp(r_lo as isize, cx.ih as isize) as usize;
    let q_lo = g.pl.min(pw);
    let q_hi = (g.pl + cx.iw).min(pw);
    let l = S::LANES;
    let mut flag = s.none();
    for r in r_lo..r_hi {
        // SAFETY: row r < ih and columns q − pl in 0..iw for q in q_lo..q_hi: pixels of the
        // image, channels c..c + n in `src`; scratch row r − r_lo < r_hi − r_lo <= v1 − v0 <=
        // band_rows (rows.len() <= band_rows + 1 − K), columns q < pw.
        unsafe {
            let src = cx.src.add((r * cx.iw + q_lo - g.pl) * cx.src_ps + c);
            let dst = buf.add(((r - r_lo) * pw + q_lo) * l);
            let m = q_hi - q_lo;
            let mut q = 0;
            while q + 1 < m {
                let a = ld::<S, MASKED>(s, src.add(q * cx.src_ps), n);
                let b = ld::<S, MASKED>(s, src.add((q + 1) * cx.src_ps), n);
                flag = s.or(flag, s.unord(a, b));
                s.store(dst.add(q * l), a);
                s.store(dst.add((q + 1) * l), b);
                q += 2;
            }
            if q < m {
                let a = ld::<S, MASKED>(s, src.add(q * cx.src_ps), n);
                flag = s.or(flag, s.is_nan(a));
                s.store(dst.add(q * l), a);
            }
        }
    }
    if s.any(flag) {
        // SAFETY: the band's rows, every column, the caller's channels.
        unsafe { direct::<S, MAX_EXACT>(s, g, cx, rows, 0..cx.ow, c, c + n) };
        return;
    }
    let mut next = 0;
    loop {
        // The last strip ends at `ow` (overlapping the one before when W does not divide ow).
        let x = next.min(cx.ow - W);
        // SAFETY: scratch rows 0..r_hi − r_lo were written above, columns x..x + W + K − 1 <=
        // pw (padding −∞ from `channels`); outputs rows `rows`, columns x..x + W <= ow.
        unsafe { strip::<S, W, K, MASKED>(s, cx, c, n, x, rows.clone(), v0, r_lo..r_hi, buf) };
        if x + W >= cx.ow {
            break;
        }
        next = x + W;
    }
}

/// The outputs in rows `rows` (of the job), columns `x..x + W`, channels `c..c + n`, from the
/// scratch rows holding input rows `in_rows` (window rows from `v0` on; those outside
/// `in_rows` are padding).
///
/// # Safety
/// As for [`band`]: the scratch holds input rows `in_rows` at rows `0..in_rows.len()`, `pw`
/// vectors each, columns `x..x + W + K − 1` written; `x + W <= ow`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
unsafe fn strip<S: Simd, const W: usize, const K: usize, const MASKED: bool>(
    s: S,
    cx: &Ctx,
    c: usize,
    n: usize,
    x: usize,
    rows: core::ops::Range<usize>,
    v0: isize,
    in_rows: core::ops::Range<usize>,
    buf: *const f32,
) {
    const { assert!(W >= 1 && W <= 4 && K == 5) };
    let l = S::LANES;
    let pw = cx.ow + K - 1;
    let neg = s.splat(f32::NEG_INFINITY);
    // The vertical state of each column: pair maxima of the last window rows.
    let mut win = [Rows5::new(neg); 4];
    for j in 0..rows.len() + K - 1 {
        let hr = v0 + j as isize;
        let mut h = [neg; 4];
        if hr >= in_rows.start as isize && hr < in_rows.end as isize {
            let mut xs = [neg; 8];
            // SAFETY: scratch row hr − in_rows.start, columns x..x + W + K − 1 (caller).
            let at = unsafe { buf.add(((hr as usize - in_rows.start) * pw + x) * l) };
            for (q, v) in xs.iter_mut().enumerate().take(W + K - 1) {
                // SAFETY: as above.
                *v = unsafe { s.load(at.add(q * l)) };
            }
            h = row_max::<S, W, K>(s, &xs);
        }
        for i in 0..W {
            let acc = win[i].push(s, h[i]);
            if j + 1 >= K {
                // Output row whose window ends at window row j.
                let o = rows.start - cx.r0 + j + 1 - K;
                // SAFETY: output row o < r1 − r0, column x + i < ow: a pixel of the job,
                // whose channels c..c + n lie in `dst` (Ctx invariants).
                unsafe {
                    let p = cx.dst.add((o * cx.ow + x + i) * cx.dst_ps + c);
                    st::<S, MASKED>(s, p, n, acc);
                }
            }
        }
    }
}

/// The row maxima of windows `i..i + K` of `xs`, `i < W` (earlier pieces second: ties keep the
/// leftmost tap).
#[inline(always)]
fn row_max<S: Simd, const W: usize, const K: usize>(s: S, xs: &[S::V; 8]) -> [S::V; 4] {
    let mut p2 = [xs[0]; 8];
    for q in 0..W + K - 2 {
        p2[q] = s.max(xs[q + 1], xs[q]);
    }
    let mut h = [xs[0]; 4];
    for (i, h) in h.iter_mut().enumerate().take(W) {
        *h = s.max(xs[i + 4], s.max(p2[i + 2], p2[i]));
    }
    h
}
