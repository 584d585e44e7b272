//! Global max and average pooling, NCHW and NHWC.
//!
//! **NCHW average** (`global-nchw-16acc`): the reference adds pixel `p` to partial sum
//! `p mod 16`, folds the 16 partials `s[j] += s[j + 8]`, `+4`, `+2`, `+1` and divides once by
//! the plane size. The kernel keeps the 16 partials in `16 / LANES` accumulators (one AVX-512
//! vector, two AVX2 vectors, four SSE2/portable vectors): chunk `i` of 16 pixels adds lane `k`
//! of accumulator `a` to pixel `16·i + a·LANES + k`, so every partial sees its pixels in the
//! reference order. The tail chunk fills missing lanes with −0.0, the additive identity of every
//! value (`x + (−0.0)` is `x`, −0.0 and NaN payloads included). The partials are then folded in
//! the reference order: in registers on the 8- and 16-lane tiers (two-source permutes,
//! [`fold_registers`]), through a stack array on the 4-lane ones.
//!
//! **NCHW max** (`global-nchw-max`): a lane-parallel `max` over the plane with a NaN flag per
//! loaded vector. The result can differ from the reference's sequential scan only (a) when a NaN
//! is present (the reference returns the last NaN in scan order, payload included) and (b) on a
//! ±0 tie when the maximum is zero (the reference keeps the first zero in scan order). Both are
//! detected (the flag; a zero maximum) and resolved by scanning the plane for that element.
//!
//! **NHWC** (`global-nhwc-channels`): vectorized across the channels of a pixel. The average
//! sums groups of eight channel blocks (one contiguous run per pixel visit), forming the 16
//! partial sums one at a time in the fold's leaf order and combining them as they come
//! ([`avg_group`]); the channel tail keeps 16 accumulator vectors per block (pixel `p` into
//! accumulator `p mod 16`), folds them in the reference order and divides. The max scans the
//! pixels sequentially with `max(v, acc)`, which is the reference rule except for NaN (ties
//! keep the earlier value), over four channel blocks at once for latency; a NaN flag sends the
//! blocks through the exact rule.

use crate::geom::Reduce;
use crate::kernels::vector::Simd;
use crate::kernels::{GlobalNchwJob, GlobalNhwcJob};
use crate::tensor::Layout;

/// Lane indices as f32, for the tail masks.
static IOTA: [f32; 16] = [
    0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0,
];

/// The number of partial sums of the global average order.
const PARTS: usize = 16;

/// Global pooling of NCHW planes (invariants asserted by the caller).
#[inline(always)]
pub(super) fn nchw<S: Simd>(s: S, reduce: Reduce, job: GlobalNchwJob<'_, f32>) {
    assert!(S::LANES <= PARTS && PARTS.is_multiple_of(S::LANES));
    let GlobalNchwJob { src, dst, plane } = job;
    let src = &src[..dst.len() * plane];
    // Lanes of the last, partial vector of a plane (the same for every plane).
    let tail = first_lanes(s, plane % S::LANES);
    match reduce {
        Reduce::Avg => {
            for (i, y) in dst.iter_mut().enumerate() {
                *y = avg_plane(s, src, i * plane, plane, tail);
            }
        }
        Reduce::Max => {
            for (i, y) in dst.iter_mut().enumerate() {
                *y = max_plane(s, src, i * plane, plane, tail);
            }
        }
    }
}

/// Lanes `k < n` set.
#[inline(always)]
fn first_lanes<S: Simd>(s: S, n: usize) -> S::M {
    // SAFETY: IOTA holds 16 >= LANES elements.
    let iota = unsafe { s.load(IOTA.as_ptr()) };
    s.gt(s.splat(n as f32), iota)
}

/// The last `n mod LANES` elements of `src[at..at + n]` as a vector (`tail` = their lanes),
/// the other lanes `fill`. Reads nothing outside `src`; loads a whole vector when the next plane
/// follows.
#[inline(always)]
fn load_tail<S: Simd>(s: S, src: &[f32], at: usize, n: usize, tail: S::M, fill: f32) -> S::V {
    let (from, have) = (at + n / S::LANES * S::LANES, n % S::LANES);
    assert!(from + have <= src.len());
    // SAFETY: from + have <= src.len() (asserted), and in the first branch from + LANES too.
    unsafe {
        let p = src.as_ptr().add(from);
        if from + S::LANES <= src.len() {
            s.select(tail, s.load(p), s.splat(fill))
        } else {
            s.load_n(p, have, fill)
        }
    }
}

/// The global average of `src[at..at + n]` in the reference order (`tail`: the lanes of the
/// plane's last partial vector). Reads nothing outside `src`.
#[inline(always)]
fn avg_plane<S: Simd>(s: S, src: &[f32], at: usize, n: usize, tail: S::M) -> f32 {
    let lanes = S::LANES;
    let accs = PARTS / lanes;
    assert!(at + n <= src.len());
    let mut acc = [s.splat(0.0); PARTS];
    let p = src[at..].as_ptr();
    let chunks = n / PARTS;
    for i in 0..chunks {
        for (a, acc) in acc.iter_mut().enumerate().take(accs) {
            // SAFETY: 16·i + a·LANES + LANES <= 16·chunks <= n: inside src[at..at + n].
            *acc = s.add(*acc, unsafe { s.load(p.add(i * PARTS + a * lanes)) });
        }
    }
    // The last n mod 16 pixels: whole vectors, then one partial vector padded with −0.0.
    // (A constant loop over the accumulators, so that they stay in registers.)
    for (a, acc) in acc.iter_mut().enumerate().take(accs) {
        let from = chunks * PARTS + a * lanes;
        if from + lanes <= n {
            // SAFETY: from + LANES <= n.
            *acc = s.add(*acc, unsafe { s.load(p.add(from)) });
        } else if from < n {
            *acc = s.add(*acc, load_tail(s, src, at, n, tail, -0.0));
        }
    }
    if folds_in_registers::<S>() {
        return fold_registers(s, &mut acc[..accs], |a, b| s.add(a, b)) / n as f32;
    }
    let mut part = [0.0f32; PARTS];
    for (a, acc) in acc.iter().enumerate().take(accs) {
        // SAFETY: a·LANES + LANES <= 16 = part.len().
        unsafe { s.store(part.as_mut_ptr().add(a * lanes), *acc) };
    }
    fold(&mut part, |a, b| a + b) / n as f32
}

/// Whether tier `S` folds vectors in registers: its `permute2` is one register instruction
/// (the 8- and 16-lane tiers, AVX2 and AVX-512); the others fold through a stack array.
/// (Through the stack, the scalar reloads of a vector store cost AVX-512 13% of resnet_gap's
/// NCHW time: 7.56 against 6.59 µs in registers.)
#[inline(always)]
fn folds_in_registers<S: Simd>() -> bool {
    S::LANES >= 8
}

/// [`fold`] in registers, with `op` for `+`: `v` holds the values in `v.len()` vectors (value
/// `a·LANES + k` in lane `k` of `v[a]`, a power of two of them). The levels above one vector
/// combine whole vectors (`v[a] ⊕ v[a + count]`), then `v[0][j] ⊕ v[0][j + w]` for
/// `w = LANES / 2, .., 1`, the lower half always the left operand, as in [`fold`]; returns the
/// value in lane 0.
#[inline(always)]
fn fold_registers<S: Simd>(s: S, v: &mut [S::V], op: impl Fn(S::V, S::V) -> S::V) -> f32 {
    let mut count = v.len();
    while count > 1 {
        count /= 2;
        for a in 0..count {
            v[a] = op(v[a], v[a + count]);
        }
    }
    let (mut x, mut w) = (v[0], S::LANES / 2);
    while w >= 1 {
        x = op(x, s.permute2(x, x, s.iadd(s.iota(1), s.isplat(w as u32))));
        w /= 2;
    }
    s.first(x)
}

/// Folds 16 partial sums in the reference order: `s[j] += s[j + 8]` for `j < 8`, then
/// `+4`, `+2`, `+1`; returns `s[0]`. (Written as constant loops, which unroll fully.)
#[inline(always)]
fn fold<T: Copy>(s: &mut [T; PARTS], add: impl Fn(T, T) -> T) -> T {
    for j in 0..8 {
        s[j] = add(s[j], s[j + 8]);
    }
    for j in 0..4 {
        s[j] = add(s[j], s[j + 4]);
    }
    for j in 0..2 {
        s[j] = add(s[j], s[j + 2]);
    }
    add(s[0], s[1])
}

/// The global maximum of `src[at..at + n]`, exactly as the reference's sequential scan
/// (`tail`: the lanes of the plane's last partial vector). Reads nothing outside `src`.
#[inline(always)]
fn max_plane<S: Simd>(s: S, src: &[f32], at: usize, n: usize, tail: S::M) -> f32 {
    let lanes = S::LANES;
    let x = &src[at..at + n];
    let p = x.as_ptr();
    let ninf = s.splat(f32::NEG_INFINITY);
    let (mut m0, mut m1) = (ninf, ninf);
    let (mut nan0, mut nan1) = (s.none(), s.none());
    let whole = n / lanes;
    let mut i = 0;
    while i + 2 <= whole {
        // SAFETY: (i + 2)·LANES <= n.
        let (a, b) = unsafe { (s.load(p.add(i * lanes)), s.load(p.add((i + 1) * lanes))) };
        nan0 = s.or(nan0, s.is_nan(a));
        nan1 = s.or(nan1, s.is_nan(b));
        m0 = s.max(a, m0);
        m1 = s.max(b, m1);
        i += 2;
    }
    if i < whole {
        // SAFETY: (i + 1)·LANES <= n.
        let a = unsafe { s.load(p.add(i * lanes)) };
        nan0 = s.or(nan0, s.is_nan(a));
        m0 = s.max(a, m0);
    }
    if !n.is_multiple_of(lanes) {
        let b = load_tail(s, src, at, n, tail, f32::NEG_INFINITY);
        nan1 = s.or(nan1, s.is_nan(b));
        m1 = s.max(b, m1);
    }
    if s.any(s.or(nan0, nan1)) {
        // The reference ends on the last NaN of the scan.
        return *x.iter().rev().find(|v| v.is_nan()).unwrap_or(&f32::NAN);
    }
    // No NaN: any order gives the maximum value, up to the sign of a zero.
    let m = if folds_in_registers::<S>() {
        fold_registers(s, &mut [s.max(m1, m0)], |a, b| s.max(b, a))
    } else {
        let mut lane = [f32::NEG_INFINITY; PARTS];
        // SAFETY: lane holds 16 >= LANES elements.
        unsafe { s.store(lane.as_mut_ptr(), s.max(m1, m0)) };
        fold(&mut lane, |a, b| if b > a { b } else { a })
    };
    if m == 0.0 {
        // ±0 tie: the reference keeps the first zero.
        return *x.iter().find(|&&v| v == 0.0).unwrap_or(&m);
    }
    m
}

/// Global pooling of one NHWC image's channels (invariants asserted by the caller).
#[inline(always)]
pub(super) fn nhwc<S: Simd>(s: S, reduce: Reduce, job: GlobalNhwcJob<'_, f32>) {
    let GlobalNhwcJob {
        src,
        src_ps,
        pixels,
        dst,
    } = job;
    let (lanes, channels) = (S::LANES, dst.len());
    if channels == 0 {
        return;
    }
    // Every load below reads channels c0..c0 + have < channels of a pixel p < pixels:
    // p·src_ps + c0 + have <= (pixels − 1)·src_ps + channels <= src.len().
    assert!((pixels - 1) * src_ps + channels <= src.len());
    let mut c0 = 0;
    match reduce {
        Reduce::Avg => {
            while c0 + GROUP * lanes <= channels {
                avg_group::<S, GROUP>(s, src, src_ps, pixels, c0, dst);
                c0 += GROUP * lanes;
            }
            while c0 < channels {
                let have = lanes.min(channels - c0);
                let v = avg_channels(s, src, src_ps, pixels, c0, have);
                // SAFETY: c0 + have <= channels = dst.len().
                unsafe { store(s, dst.as_mut_ptr().add(c0), have, v) };
                c0 += have;
            }
        }
        Reduce::Max => {
            while c0 + 4 * lanes <= channels {
                max_channels::<S, 4>(s, src, src_ps, pixels, c0, lanes, dst);
                c0 += 4 * lanes;
            }
            while c0 < channels {
                let have = lanes.min(channels - c0);
                max_channels::<S, 1>(s, src, src_ps, pixels, c0, have, dst);
                c0 += have;
            }
        }
    }
}

/// Loads `have <= LANES` elements (a full load when `have == LANES`).
///
/// # Safety
/// `p..p + have` must be readable.
#[inline(always)]
unsafe fn load<S: Simd>(s: S, p: *const f32, have: usize) -> S::V {
    // SAFETY: forwarded from the caller.
    unsafe {
        if have == S::LANES {
            s.load(p)
        } else {
            s.load_n(p, have, 0.0)
        }
    }
}

/// Stores `have <= LANES` lanes.
///
/// # Safety
/// `p..p + have` must be writable.
#[inline(always)]
unsafe fn store<S: Simd>(s: S, p: *mut f32, have: usize, v: S::V) {
    // SAFETY: forwarded from the caller.
    unsafe {
        if have == S::LANES {
            s.store(p, v)
        } else {
            s.store_n(p, have, v)
        }
    }
}

/// The global averages of channels `c0..c0 + have` (`have <= LANES`), in the reference order.
/// The caller asserted `(pixels − 1)·src_ps + channels <= src.len()` with `c0 + have <= channels`.
#[inline(always)]
fn avg_channels<S: Simd>(
    s: S,
    src: &[f32],
    ps: usize,
    pixels: usize,
    c0: usize,
    have: usize,
) -> S::V {
    let p = src.as_ptr();
    let mut acc = [s.splat(0.0); PARTS];
    let full = pixels / PARTS;
    for i in 0..full {
        for (q, acc) in acc.iter_mut().enumerate() {
            let at = (i * PARTS + q) * ps + c0;
            // SAFETY: pixel i·16 + q < pixels, channels c0..c0 + have: see the caller.
            *acc = s.add(*acc, unsafe { load(s, p.add(at), have) });
        }
    }
    for (q, acc) in acc.iter_mut().enumerate().take(pixels - full * PARTS) {
        let at = (full * PARTS + q) * ps + c0;
        // SAFETY: pixel 16·full + q < pixels, as above.
        *acc = s.add(*acc, unsafe { load(s, p.add(at), have) });
    }
    s.div(fold(&mut acc, |a, b| s.add(a, b)), s.splat(pixels as f32))
}

/// Channel blocks that [`avg_group`] sums together (512 bytes of a pixel on AVX-512).
const GROUP: usize = 8;

/// The global averages of `G` channel blocks from `c0` (`G·LANES` channels), in the reference
/// order, written to `dst[c0..]`.
///
/// A loop over the pixels of one channel block strides by the pixel pitch, which for 2048
/// channels maps every load to the same L1 set; here each pixel visit reads `G` contiguous
/// vectors instead. The 16 partial sums are formed one at a time (partial `q` adds
/// pixels `q, q + 16, ..` from +0.0, as the reference) in bit-reversed order `0, 8, 4, 12, 2,
/// ..`, and combined as they come, pairwise with the earlier operand on the left: that is
/// exactly the reference's fold (`s[j] += s[j + 8]`, `+4`, `+2`, `+1`), and at most four
/// partial results per block are pending, so everything stays in registers.
/// The caller asserted `(pixels − 1)·src_ps + channels <= src.len()` with
/// `c0 + G·LANES <= channels = dst.len()`.
#[inline(always)]
fn avg_group<S: Simd, const G: usize>(
    s: S,
    src: &[f32],
    ps: usize,
    pixels: usize,
    c0: usize,
    dst: &mut [f32],
) {
    let lanes = S::LANES;
    assert!(c0 + G * lanes <= dst.len());
    let p = src.as_ptr();
    // pend[k]: the sum of a complete subtree of 2^k partials, waiting for its right sibling.
    let mut pend = [[s.splat(0.0); G]; 4];
    for i in 0..PARTS {
        // Bit-reversed i (4 bits): the fold's leaf order.
        let q = ((i & 1) << 3) | ((i & 2) << 1) | ((i & 4) >> 1) | ((i & 8) >> 3);
        let mut part = [s.splat(0.0); G];
        let mut px = q;
        while px < pixels {
            for (b, a) in part.iter_mut().enumerate() {
                // SAFETY: pixel px < pixels, channels c0 + b·LANES .. + LANES <= channels: see
                // the caller.
                *a = s.add(*a, unsafe { s.load(p.add(px * ps + c0 + b * lanes)) });
            }
            px += PARTS;
        }
        // Carry like a binary counter: subtree k is complete when bit k of i + 1 flips to 0.
        let mut k = 0;
        while i & (1 << k) != 0 {
            for b in 0..G {
                part[b] = s.add(pend[k][b], part[b]);
            }
            k += 1;
        }
        if k < 4 {
            pend[k] = part;
        } else {
            let n = s.splat(pixels as f32);
            for (b, v) in part.iter().enumerate() {
                // SAFETY: c0 + b·LANES + LANES <= dst.len() (asserted above).
                unsafe { s.store(dst.as_mut_ptr().add(c0 + b * lanes), s.div(*v, n)) };
            }
        }
    }
}

/// The global maxima of `B` channel blocks of `have` channels each (`B·have` channels from
/// `c0`; `have < LANES` only when `B == 1`), written to `dst[c0..]`. The caller asserted
/// `(pixels − 1)·src_ps + channels <= src.len()` with `c0 + B·have <= channels = dst.len()`.
#[inline(always)]
fn max_channels<S: Simd, const B: usize>(
    s: S,
    src: &[f32],
    ps: usize,
    pixels: usize,
    c0: usize,
    have: usize,
    dst: &mut [f32],
) {
    assert!(c0 + B * have <= dst.len());
    let p = src.as_ptr();
    let mut acc = [s.splat(f32::NEG_INFINITY); B];
    let mut nan = [s.none(); B];
    for px in 0..pixels {
        for b in 0..B {
            // SAFETY: pixel px < pixels, channels c0 + b·have.. + have: see the caller.
            let v = unsafe { load(s, p.add(px * ps + c0 + b * have), have) };
            nan[b] = s.or(nan[b], s.is_nan(v));
            acc[b] = s.max(v, acc[b]);
        }
    }
    for b in 0..B {
        if s.any(nan[b]) {
            let mut m = s.splat(f32::NEG_INFINITY);
            for px in 0..pixels {
                // SAFETY: as above.
                let v = unsafe { load(s, p.add(px * ps + c0 + b * have), have) };
                m = s.max_exact(v, m);
            }
            acc[b] = m;
        }
        // SAFETY: c0 + b·have + have <= dst.len(), asserted above.
        unsafe { store(s, dst.as_mut_ptr().add(c0 + b * have), have, acc[b]) };
    }
}

/// The algorithm for a layout.
pub(super) fn describe<S: Simd>(layout: Layout) -> &'static str {
    match layout {
        Layout::Nchw => "global-nchw-16acc",
        Layout::Nhwc => "global-nhwc-channels",
    }
}
