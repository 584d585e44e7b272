//! Stride-1 separable max pooling by runs in registers, NHWC (`nhwc-s1-runs`).
//!
//! One channel vector (lane `k` = channel `c + k`) and one tile of output columns at a time.
//! The max of a window is the max over its rows of the row maxima, and both 1-D sliding maxima
//! use van Herk and Gil–Werman's blocks, here with the block's suffixes in registers (the NCHW
//! compact and padded schemes' vertical runs, `pad_plane::runs`, along both axes):
//!
//! * **Horizontal**, per window row of the tile: the row's items (input pixels, −∞ in the
//!   padding columns) are cut into blocks of `kw`. A block's items are folded from the right
//!   into suffixes `S[i] = f(item b + i, S[i + 1])`, kept in registers; the row maximum of the
//!   window at `b` is `S[0]`, and at `b + j` it is `f(P[j], S[j])` with `P[j]` the running
//!   prefix of the next block's items `b + kw .. b + kw + j`. The row maxima go to a block
//!   buffer in the stack scratch, one vector per output column.
//! * **Vertical**, the same along the window rows: the row maxima of block `m` (rows `m·kh ..
//!   (m + 1)·kh` of the tile's window rows) fold into suffixes in registers, column by column,
//!   and join the running prefix over block `m + 1`'s rows, which were formed into the other
//!   block buffer just before; the results go straight to the output pixels.
//!
//! Per output and channel vector: about `1 + (kh − 1)/T` input loads (the next block's items,
//! loaded for the prefix, stay in registers as that block's own) and as many stores of row
//! maxima, two loads of them and one store of the output, and about six `max`, whatever the
//! window size (`T` output rows in the job; tiles add `kw − 1` loads per row). The buffered
//! separable scheme in `super` goes through a line buffer, a prefix buffer and in-place
//! suffixes instead. 1×512×20×20, one thread, AVX-512, buffered against runs: 13×13 119 vs
//! 99 µs, 16×16 122 vs 104, 9×9 103 vs 90; `super::runs_fit` has where each wins.
//!
//! **Order.** Without NaN, equal values differ in bits only as −0.0/+0.0, and the reference
//! keeps the first tap in row-major order. `f(a, b) = max(a, b)` keeps `b` on ties, and every
//! combination above passes the piece of the window that comes first (contiguous pieces, left
//! before right, top before bottom) as the second operand, so the result is the first maximal
//! tap in row-major order: bit-identical to the reference. Every loaded input vector is tested
//! for NaN; a tile whose input holds one is computed by the direct exact path instead, which
//! applies PyTorch's rule.
//!
//! **Borders.** Padding columns are −∞ items (never above an in-bounds tap) and padding rows
//! −∞ row maxima; a window of padding only gives −∞, as the reference does.

use super::{Ctx, MAX_EXACT, SEP_BUF, direct, ld, st};
use crate::geom::{Reduce, WindowGeom};
use crate::kernels::vector::{Body, Simd};

/// Longest window side the scheme takes (a block's suffixes are registers, and every length
/// up to it is an instantiation).
const KMAX: usize = 16;

const NEG: f32 = f32::NEG_INFINITY;

/// Output columns per tile for `g` on a tier of `lanes` lanes, or `None` where the scheme does
/// not apply (not a stride-1, undilated window max, or a side longer than [`KMAX`]).
///
/// A tile of `tw` columns needs two block buffers of `kh` rows of `tw` vectors.
pub(super) fn tile(g: &WindowGeom, lanes: usize) -> Option<usize> {
    if g.reduce != Reduce::Max
        || g.kh == 0
        || (g.sh, g.sw, g.dh, g.dw) != (1, 1, 1, 1)
        || g.kh > KMAX
        || g.kw > KMAX
        || g.ow == 0
    {
        return None;
    }
    // At least 32 columns: SEP_BUF / (2·KMAX·16). Narrower tiles (buffers inside L1) measured
    // slower: 13×13 on 1×512×20×20, tiles of 20, 10 and 7 columns: 97, 114, 132 µs.
    let tw = SEP_BUF / (2 * g.kh * lanes);
    // Equal tiles (the last one is not left with a few columns and a whole window of halo).
    let tiles = g.ow.div_ceil(tw);
    Some(g.ow.div_ceil(tiles))
}

/// Every output of the job, all its channels.
///
/// # Safety
/// `cx` satisfies its invariants (`super::Ctx`), `tile(g, S::LANES)` is `Some`, the job
/// computes max without indices, and `buf` points to `SEP_BUF` writable f32.
#[inline(always)]
pub(super) unsafe fn run<S: Simd>(s: S, g: &WindowGeom, cx: &Ctx, buf: *mut f32) {
    let l = S::LANES;
    let tw = tile(g, l).expect("checked by the caller");
    let mut c = 0;
    while c + l <= cx.channels {
        s.frame(Block::<false>((g, cx, c, l, tw, buf)));
        c += l;
    }
    if c < cx.channels {
        s.frame(Block::<true>((g, cx, c, cx.channels - c, tw, buf)));
    }
}

/// [`block`]'s arguments, for a function of its own per `MASKED`.
struct Block<'a, const MASKED: bool>((&'a WindowGeom, &'a Ctx, usize, usize, usize, *mut f32));

impl<S: Simd, const MASKED: bool> Body<S> for Block<'_, MASKED> {
    type Out = ();
    #[inline(always)]
    fn run(self, s: S) {
        let (g, cx, c, n, tw, buf) = self.0;
        // SAFETY: `run` passes a channel vector inside `channels` (the last one masked to `n`
        // lanes), the tile width of `tile` and its own caller's scratch.
        unsafe { block::<S, MASKED>(s, g, cx, c, n, tw, buf) }
    }
}

/// Channels `c..c + LANES` (`c..c + n` when `MASKED`) of every output of the job, by tiles of
/// `tw` output columns; a tile whose input holds a NaN is redone by the direct exact path.
///
/// # Safety
/// As for [`run`], with the channels inside `channels` and `tw` from [`tile`].
#[inline(always)]
unsafe fn block<S: Simd, const MASKED: bool>(
    s: S,
    g: &WindowGeom,
    cx: &Ctx,
    c: usize,
    n: usize,
    tw: usize,
    buf: *mut f32,
) {
    let width = if MASKED { n } else { S::LANES };
    let mut x0 = 0;
    while x0 < cx.ow {
        let twn = tw.min(cx.ow - x0);
        // SAFETY: columns x0..x0 + twn lie within `ow`, and twn <= tw keeps the block
        // buffers inside `buf`; the channels as guaranteed by the caller.
        let nan = unsafe { tile_run::<S, MASKED>(s, g, cx, (c, n), (x0, twn), tw, buf) };
        if s.any(nan) {
            // SAFETY: the same rows, columns and channels, all within the job.
            unsafe { direct::<S, MAX_EXACT>(s, g, cx, cx.r0..cx.r1, x0..x0 + twn, c, c + width) };
        }
        x0 += twn;
    }
}

/// One channel vector and one tile of output columns (`x0..x0 + twn`) over all the job's rows;
/// returns the NaN flag of the input it read.
///
/// The window rows of the job's outputs are virtual rows `0 .. T + kh − 1` (virtual row `v`
/// is input row `r0 − pt + v`, −∞ outside the input). Block buffers `cur` and `nxt` hold `kh`
/// rows of `tw` vectors each (`buf[0 .. 2·kh·tw·LANES]`).
///
/// # Safety
/// As for [`block`], with `x0 + twn <= ow` and `0 < twn <= tw`.
#[inline(always)]
unsafe fn tile_run<S: Simd, const MASKED: bool>(
    s: S,
    g: &WindowGeom,
    cx: &Ctx,
    (c, n): (usize, usize),
    (x0, twn): (usize, usize),
    tw: usize,
    buf: *mut f32,
) -> S::M {
    let (l, kh, t) = (S::LANES, g.kh, cx.r1 - cx.r0);
    let rs = tw * l; // f32 from one row of a block buffer to the next
    let ps = cx.dst_ps;
    let mut flag = s.none();
    // SAFETY: (whole body) the block buffers are 2·kh·tw·LANES <= SEP_BUF f32 (tile); rows
    // i < kh and columns x < twn <= tw of each are inside. `hrow` reads only input pixels
    // of the job's input. Output rows b + j < T and columns x0 + x < ow are pixels of the
    // job (Ctx invariants), channels as the caller guarantees.
    unsafe {
        let (mut cur, mut nxt) = (buf, buf.add(kh * rs));
        for i in 0..kh {
            let f = hrow_any::<S, MASKED>(s, g, cx, (c, n), (x0, twn), i, cur.add(i * rs));
            flag = s.or(flag, f);
        }
        let mut b = 0;
        while b < t {
            // The next block's rows: all of them when a block follows, else those the
            // prefixes of this block's outputs need (virtual rows up to T + kh − 2).
            let nb = if b + kh < t { kh } else { t - b - 1 };
            for i in 0..nb {
                let f =
                    hrow_any::<S, MASKED>(s, g, cx, (c, n), (x0, twn), b + kh + i, nxt.add(i * rs));
                flag = s.or(flag, f);
            }
            let out = cx.dst.add((b * cx.ow + x0) * ps + c);
            let m = kh.min(t - b);
            vert_any::<S, MASKED>(s, kh, (cur, nxt, rs), twn, m, (out, ps, cx.ow * ps), n);
            core::mem::swap(&mut cur, &mut nxt);
            b += kh;
        }
    }
    flag
}

/// [`hrow`] for `K = g.kw` (1 to [`KMAX`]).
///
/// # Safety
/// As [`hrow`].
#[inline(always)]
unsafe fn hrow_any<S: Simd, const MASKED: bool>(
    s: S,
    g: &WindowGeom,
    cx: &Ctx,
    ch: (usize, usize),
    cols: (usize, usize),
    v: usize,
    out: *mut f32,
) -> S::M {
    // SAFETY: as the caller guarantees.
    unsafe {
        for_len!(g.kw; 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16;
            K => hrow::<S, MASKED, K>(s, g, cx, ch, cols, v, out);
            _ => unreachable!("tile() admits windows up to KMAX wide"))
    }
}

/// Row maxima of virtual row `v` for output columns `x0..x0 + twn` (channel vector at `c`, `n`
/// lanes when `MASKED`) into `out[x·LANES]`, `x < twn`; returns the NaN flag of the loaded
/// input. `K == g.kw`.
///
/// # Safety
/// `out` holds `twn` vectors; the channels lie within `channels`, `x0 + twn <= ow`; `cx`
/// satisfies its invariants.
#[inline(always)]
unsafe fn hrow<S: Simd, const MASKED: bool, const K: usize>(
    s: S,
    g: &WindowGeom,
    cx: &Ctx,
    (c, n): (usize, usize),
    (x0, twn): (usize, usize),
    v: usize,
    out: *mut f32,
) -> S::M {
    let l = S::LANES;
    let neg = s.splat(NEG);
    let mut flag = s.none();
    let h = (cx.r0 + v) as isize - g.pt as isize;
    if h < 0 || h >= cx.ih as isize {
        for x in 0..twn {
            // SAFETY: inside the twn vectors of `out` (caller's guarantee).
            unsafe { s.store(out.add(x * l), neg) };
        }
        return flag;
    }
    // Item q is input column base + q of row h (−∞ outside 0..iw).
    let row = Row {
        // SAFETY: h < ih, so the row's first pixel is inside `src` (Ctx invariants).
        p: unsafe { cx.src.add(h as usize * cx.iw * cx.src_ps + c) },
        ps: cx.src_ps,
        iw: cx.iw,
        base: x0 as isize - g.pl as isize,
        n,
    };
    // SAFETY: items b + i < twn + K − 1 (b < twn) are read through `Row::item`, which loads
    // only in-bounds pixels; out[x] for x < twn.
    unsafe {
        // Each item is loaded once: the next block's items, loaded for the running prefix,
        // are kept (in registers: as the prefix consumes suffix j, item j − 1 of the next
        // block takes its place) and folded into that block's suffixes.
        // Every item is tested for NaN once, in whole blocks (any_nan) where it can.
        let mut items = [neg; K];
        for (i, x) in items.iter_mut().enumerate() {
            *x = row.item::<S, MASKED>(s, i);
        }
        flag = s.or(flag, any_nan(s, &items));
        let mut b = 0;
        // Whole blocks (all K outputs inside the tile): straight-line code for the optimizer
        // to keep the items in registers; the last, partial block after.
        while b + K <= twn {
            let mut sfx = items;
            for i in (0..K - 1).rev() {
                sfx[i] = s.max(sfx[i + 1], sfx[i]);
            }
            s.store(out.add(b * l), sfx[0]);
            let mut pre = neg;
            for j in 1..K {
                let x = row.item::<S, MASKED>(s, b + K - 1 + j);
                items[j - 1] = x;
                pre = if j == 1 { x } else { s.max(x, pre) };
                s.store(out.add((b + j) * l), s.max(pre, sfx[j]));
            }
            b += K;
            if b < twn {
                items[K - 1] = row.item::<S, MASKED>(s, b + K - 1);
            }
            // (Without a next block, items[K − 1] is an item tested already.)
            flag = s.or(flag, any_nan(s, &items));
        }
        if b < twn {
            let mut sfx = items;
            for i in (0..K - 1).rev() {
                sfx[i] = s.max(sfx[i + 1], sfx[i]);
            }
            s.store(out.add(b * l), sfx[0]);
            let mut pre = neg;
            for (j, &sj) in sfx.iter().enumerate().take(twn - b).skip(1) {
                let x = row.item::<S, MASKED>(s, b + K - 1 + j);
                flag = s.or(flag, s.is_nan(x));
                pre = if j == 1 { x } else { s.max(x, pre) };
                s.store(out.add((b + j) * l), s.max(pre, sj));
            }
        }
    }
    flag
}

/// One input row as the items of [`hrow`].
struct Row {
    /// Channel `c` of the row's first pixel.
    p: *const f32,
    /// Pixel stride.
    ps: usize,
    iw: usize,
    /// Input column of item 0 (negative in the left padding).
    base: isize,
    /// Lanes loaded when masked.
    n: usize,
}

impl Row {
    /// Item `q`: the pixel's channel vector, or −∞ in the padding.
    ///
    /// # Safety
    /// `p` is channel `c` of the first pixel of an input row, whose channels `c..c + LANES`
    /// (`c..c + n` when `MASKED`) are inside `src`.
    #[inline(always)]
    unsafe fn item<S: Simd, const MASKED: bool>(&self, s: S, q: usize) -> S::V {
        let w = self.base + q as isize;
        if (w as usize) < self.iw {
            // SAFETY: 0 <= w < iw: a pixel of the row (caller's guarantee).
            unsafe { ld::<S, MASKED>(s, self.p.add(w as usize * self.ps), self.n) }
        } else {
            s.splat(NEG)
        }
    }
}

/// Lanes that are NaN in any of `xs` (one unordered compare per two vectors).
#[inline(always)]
fn any_nan<S: Simd, const K: usize>(s: S, xs: &[S::V; K]) -> S::M {
    let mut m = s.none();
    for pair in xs.chunks(2) {
        m = s.or(
            m,
            if pair.len() == 2 {
                s.unord(pair[0], pair[1])
            } else {
                s.is_nan(pair[0])
            },
        );
    }
    m
}

/// [`vert`] for `K = kh` (1 to [`KMAX`]).
///
/// # Safety
/// As [`vert`].
#[inline(always)]
unsafe fn vert_any<S: Simd, const MASKED: bool>(
    s: S,
    kh: usize,
    bufs: (*const f32, *const f32, usize),
    twn: usize,
    m: usize,
    out: (*mut f32, usize, usize),
    n: usize,
) {
    // SAFETY: as the caller guarantees.
    unsafe {
        for_len!(kh; 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16;
            K => vert::<S, MASKED, K>(s, bufs, twn, m, out, n);
            _ => unreachable!("tile() admits windows up to KMAX high"))
    }
}

/// The `m <= K` output rows of one block (`K == kh`), columns `x < twn`: the block's row
/// maxima `cur` fold into suffixes, joined with the running prefix over the next block's
/// `nxt` (rows `rs` f32 apart, column `x` at `x·LANES`). Output row `j`, column `x` is
/// `out + j·ys + x·xs`.
///
/// # Safety
/// `cur` holds `K` written rows and `nxt` its first `m − 1` of `twn` vectors; the outputs are
/// writable (`LANES` f32 each, `n` when `MASKED`).
#[inline(always)]
unsafe fn vert<S: Simd, const MASKED: bool, const K: usize>(
    s: S,
    (cur, nxt, rs): (*const f32, *const f32, usize),
    twn: usize,
    m: usize,
    (out, xs, ys): (*mut f32, usize, usize),
    n: usize,
) {
    let l = S::LANES;
    for x in 0..twn {
        // SAFETY: rows i < K of cur, j − 1 < m − 1 of nxt, column x < twn; outputs j < m,
        // column x (caller's guarantee).
        unsafe {
            let (col, next) = (cur.add(x * l), nxt.add(x * l));
            let mut sfx = [s.splat(NEG); K];
            sfx[K - 1] = s.load(col.add((K - 1) * rs));
            for i in (0..K - 1).rev() {
                sfx[i] = s.max(sfx[i + 1], s.load(col.add(i * rs)));
            }
            let o = out.add(x * xs);
            st::<S, MASKED>(s, o, n, sfx[0]);
            let mut pre = sfx[0];
            for (j, &sj) in sfx.iter().enumerate().take(m).skip(1) {
                let r = s.load(next.add((j - 1) * rs));
                pre = if j == 1 { r } else { s.max(r, pre) };
                st::<S, MASKED>(s, o.add(j * ys), n, s.max(pre, sj));
            }
        }
    }
}
