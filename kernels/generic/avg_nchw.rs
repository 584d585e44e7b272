//! Average pooling (window and adaptive), NCHW: vectorized across the output columns of a row.
//!
//! Lane `k` of a vector holds output column `ox0 + k` of output row `oy`. The sum of every lane
//! starts at +0.0; for each in-bounds input row of the row span `g.rows[oy]` (top to bottom) the
//! kernel adds the window's taps `j = 0..kw` (left to right) to all lanes at once, so each
//! output's sum is formed in exactly the reference order (taps row-major), and is then divided
//! once by its divisor converted to f32. No FMA, no reordering.
//!
//! How a tap reaches the lanes depends on the horizontal stride (`describe` names it):
//! * stride 1 (`avg-nchw-s1`): tap `j` is one unaligned load at column `ox0 − pl + j`;
//! * stride 2 (`avg-nchw-s2-deinterleave`): `load_deinterleave` at column `2·ox0 − pl + j` holds
//!   tap `j` in its even half and tap `j + 1` in its odd half;
//! * any other stride (`avg-nchw-gather`): each tap is gathered into the lanes through a stack
//!   array.
//!
//! Column blocks inside `g.interior_cols` read the input rows in place and divide by one
//! splatted divisor. A block that touches a clipped column (the borders, or a row narrower than
//! a vector) first copies the input columns it needs of each row into a stack buffer, with +0.0
//! in place of the columns outside the input, runs the same taps over the buffer and divides by
//! a per-lane divisor (`g.divisor`). The zeros leave every sum bit-identical: a sum that starts
//! at +0.0 is never −0.0 (round to nearest gives +0.0 for `x + (−x)` and for `+0.0 + (−0.0)`),
//! and `s + (+0.0)` is `s` bit for bit for every other `s`, infinities and NaN payloads
//! included. The last block of a row is moved left to end at the last column (recomputing a few
//! outputs identically) instead of being masked. Vertical clipping needs nothing: a row's span
//! lists only its in-bounds input rows.
//!
//! Adaptive average (`g.kh == 0`): when all column bins have the same width (`iw` divisible by
//! `ow`), the bins are windows with kernel = stride = `iw / ow` and run as above (row bins come
//! from the spans as always). Otherwise (`avg-nchw-adaptive-gather`) every lane gathers its own
//! bin's taps, lanes with a narrower bin adding +0.0 (an identity, as above).

use core::ops::Range;

use crate::geom::WindowGeom;
use crate::kernels::NchwJob;
use crate::kernels::vector::Simd;

/// Tap access: unit stride.
const S1: u8 = 1;
/// Tap access: stride 2 through `load_deinterleave`.
const S2: u8 = 2;
/// Tap access: any stride, gathered.
const GATHER: u8 = 0;

/// Elements of the stack buffer that border blocks copy input columns into. A geometry whose
/// block needs more (a window or stride of hundreds of columns) computes its border outputs one
/// by one instead.
const BUF: usize = 1024;

/// The horizontal window geometry the vector kernel runs.
struct Cols {
    /// Taps per window row.
    kw: usize,
    /// Horizontal stride.
    sw: usize,
    /// Horizontal dilation.
    dw: usize,
    /// Left padding.
    pl: usize,
    /// Output columns whose windows lie entirely inside the input.
    interior: Range<usize>,
}

/// The column geometry as windows, or `None` for adaptive pooling with unequal column bins.
fn cols_of(g: &WindowGeom) -> Option<Cols> {
    if g.kh != 0 {
        return Some(Cols {
            kw: g.kw,
            sw: g.sw,
            dw: g.dw,
            pl: g.pl,
            interior: g.interior_cols.clone(),
        });
    }
    // Adaptive: bin o is [floor(o·iw/ow), ceil((o+1)·iw/ow)) = [o·k, (o+1)·k) when k = iw/ow
    // is exact.
    if g.ow > 0 && g.iw > 0 && g.iw.is_multiple_of(g.ow) {
        let k = g.iw / g.ow;
        return Some(Cols {
            kw: k,
            sw: k,
            dw: 1,
            pl: 0,
            interior: 0..g.ow,
        });
    }
    None
}

/// The tap access for a column geometry.
fn access(c: &Cols) -> u8 {
    match c.sw {
        1 => S1,
        2 => S2,
        _ => GATHER,
    }
}

/// Elements from a block's first tap (lane 0, tap 0) that [`add_taps`] reads.
#[inline(always)]
fn reach<S: Simd, const K: u8>(c: &Cols) -> usize {
    let taps = (c.kw - 1) * c.dw;
    match K {
        S1 => S::LANES + taps,
        // The last load_deinterleave starts at most at the last tap and reads 2·LANES.
        S2 => 2 * S::LANES + taps,
        _ => (S::LANES - 1) * c.sw + taps + 1,
    }
}

/// Adds the taps `j = 0..kw` of one window row to `acc`, in order: lane `k` gets
/// `p[k·sw + j·dw]`.
///
/// # Safety
/// `p..p + reach::<S, K>(c)` must be readable.
#[inline(always)]
unsafe fn add_taps<S: Simd, const K: u8>(s: S, mut acc: S::V, p: *const f32, c: &Cols) -> S::V {
    // SAFETY (every access below): the offsets stay below reach::<S, K>(c), which the caller
    // guarantees readable from p.
    unsafe {
        match K {
            S1 => {
                for j in 0..c.kw {
                    acc = s.add(acc, s.load(p.add(j * c.dw)));
                }
            }
            S2 if c.dw == 1 => {
                // Even lanes of the load at j are tap j, odd lanes tap j + 1.
                let mut j = 0;
                while j + 1 < c.kw {
                    let (even, odd) = s.load_deinterleave(p.add(j));
                    acc = s.add(acc, even);
                    acc = s.add(acc, odd);
                    j += 2;
                }
                if j < c.kw {
                    acc = s.add(acc, s.load_deinterleave(p.add(j)).0);
                }
            }
            S2 => {
                for j in 0..c.kw {
                    acc = s.add(acc, s.load_deinterleave(p.add(j * c.dw)).0);
                }
            }
            _ => {
                let mut t = [0.0f32; 16];
                for j in 0..c.kw {
                    let q = p.add(j * c.dw);
                    for (k, v) in t.iter_mut().enumerate().take(S::LANES) {
                        *v = *q.add(k * c.sw);
                    }
                    acc = s.add(acc, s.load(t.as_ptr()));
                }
            }
        }
    }
    acc
}

/// Runs the job (its invariants were asserted by the caller).
#[inline(always)]
pub(super) fn run<S: Simd>(s: S, g: &WindowGeom, job: NchwJob<'_, f32>) {
    assert!(S::LANES <= 16);
    let NchwJob {
        src,
        dst,
        planes,
        rows,
        ..
    } = job;
    if rows.is_empty() || g.ow == 0 {
        return;
    }
    match cols_of(g) {
        Some(c) => match access(&c) {
            S1 => window::<S, S1>(s, g, &c, src, dst, planes, rows),
            S2 => window::<S, S2>(s, g, &c, src, dst, planes, rows),
            _ => window::<S, GATHER>(s, g, &c, src, dst, planes, rows),
        },
        None => adaptive_gather(s, g, src, dst, planes, rows),
    }
}

/// The algorithm [`run`] picks for `g`.
pub(super) fn describe<S: Simd>(g: &WindowGeom) -> &'static str {
    match cols_of(g) {
        None => "avg-nchw-adaptive-gather",
        Some(c) => match access(&c) {
            S1 => "avg-nchw-s1",
            S2 => "avg-nchw-s2-deinterleave",
            _ => "avg-nchw-gather",
        },
    }
}

/// The in-bounds input rows of output row `oy` in plane `x_off`: offset of the first row in
/// `src`, distance between rows, number of rows.
#[inline(always)]
fn row_taps(g: &WindowGeom, x_off: usize, oy: usize) -> (usize, usize, usize) {
    let span = g.rows[oy];
    (x_off + span.start * g.iw, g.dh * g.iw, span.count)
}

/// Window pooling (or adaptive pooling with equal column bins) with tap access `K`.
#[inline(always)]
fn window<S: Simd, const K: u8>(
    s: S,
    g: &WindowGeom,
    c: &Cols,
    src: &[f32],
    dst: &mut [f32],
    planes: usize,
    rows: Range<usize>,
) {
    let (lanes, ow, iw) = (S::LANES, g.ow, g.iw);
    let reach = reach::<S, K>(c);
    let mut buf = [0.0f32; BUF];
    for p in 0..planes {
        let x_off = p * g.ih * iw;
        for oy in rows.clone() {
            let (row0, step, count) = row_taps(g, x_off, oy);
            let y = &mut dst[(p * rows.len() + oy - rows.start) * ow..][..ow];
            // Offset in src of the last input row read (nothing is read when count == 0).
            let last_row = row0 + count.saturating_sub(1) * step;
            let mut ox = 0;
            while ox < ow {
                let (ox0, n) = if ow - ox >= lanes {
                    (ox, lanes)
                } else if ow >= lanes {
                    (ow - lanes, lanes)
                } else {
                    (0, ow)
                };
                ox = ox0 + n;
                let interior = n == lanes && c.interior.start <= ox0 && ox0 + n <= c.interior.end;
                // Column of tap 0 of lane 0 (>= 0 in the interior).
                let c0 = (ox0 * c.sw) as isize - c.pl as isize;
                let v = if interior && last_row + c0 as usize + reach <= src.len() {
                    let c0 = c0 as usize;
                    let mut acc = s.splat(0.0);
                    for i in 0..count {
                        // SAFETY: row0 + i·step + c0 + reach <= last_row + c0 + reach, checked
                        // against src.len() above.
                        let at = unsafe { src.as_ptr().add(row0 + i * step + c0) };
                        // SAFETY: as above, at..at + reach lies inside src.
                        acc = unsafe { add_taps::<S, K>(s, acc, at, c) };
                    }
                    s.div(acc, s.splat(g.divisor(oy, ox0) as f32))
                } else if reach <= BUF {
                    // Border block: copy columns c0..c0 + reach of each row, zeros outside.
                    let lo = (-c0).clamp(0, reach as isize) as usize;
                    let hi = (iw as isize - c0).clamp(lo as isize, reach as isize) as usize;
                    buf[..lo].fill(0.0);
                    buf[hi..reach].fill(0.0);
                    let mut acc = s.splat(0.0);
                    for i in 0..count {
                        // Input column c0 + b sits at buf[b]; lo..hi are the in-bounds ones.
                        let at = (row0 + i * step) as isize + c0;
                        let from = &src[(at + lo as isize) as usize..(at + hi as isize) as usize];
                        buf[lo..hi].copy_from_slice(from);
                        // SAFETY: buf holds BUF >= reach elements.
                        acc = unsafe { add_taps::<S, K>(s, acc, buf.as_ptr(), c) };
                    }
                    let mut d = [1.0f32; 16];
                    for (k, dk) in d.iter_mut().enumerate().take(n) {
                        *dk = g.divisor(oy, ox0 + k) as f32;
                    }
                    // SAFETY: d holds 16 >= LANES elements.
                    s.div(acc, unsafe { s.load(d.as_ptr()) })
                } else {
                    for (k, yk) in y[ox0..ox0 + n].iter_mut().enumerate() {
                        *yk = output_from_spans(g, src, x_off, oy, ox0 + k);
                    }
                    continue;
                };
                let out = &mut y[ox0..ox0 + n];
                if n == lanes {
                    // SAFETY: out holds n == LANES elements.
                    unsafe { s.store(out.as_mut_ptr(), v) }
                } else {
                    // SAFETY: out holds n elements.
                    unsafe { s.store_n(out.as_mut_ptr(), n, v) }
                }
            }
        }
    }
}

/// One output from the spans, scalar (for geometries too wide for the border buffer).
fn output_from_spans(g: &WindowGeom, src: &[f32], x_off: usize, oy: usize, ox: usize) -> f32 {
    let (row0, step, count) = row_taps(g, x_off, oy);
    let cs = g.cols[ox];
    let dw = if g.kh == 0 { 1 } else { g.dw };
    let mut sum = 0.0f32;
    for i in 0..count {
        let r = row0 + i * step + cs.start;
        for j in 0..cs.count {
            sum += src[r + j * dw];
        }
    }
    sum / g.divisor(oy, ox) as f32
}

/// Adaptive average pooling with unequal column bins: lane `k` gathers the taps of its own bin
/// (`g.cols[ox0 + k]`), adding +0.0 once its bin is exhausted.
#[inline(always)]
fn adaptive_gather<S: Simd>(
    s: S,
    g: &WindowGeom,
    src: &[f32],
    dst: &mut [f32],
    planes: usize,
    rows: Range<usize>,
) {
    let (lanes, ow) = (S::LANES, g.ow);
    for p in 0..planes {
        let x_off = p * g.ih * g.iw;
        for oy in rows.clone() {
            let (row0, step, count) = row_taps(g, x_off, oy);
            let y = &mut dst[(p * rows.len() + oy - rows.start) * ow..][..ow];
            for ox0 in (0..ow).step_by(lanes) {
                let n = lanes.min(ow - ox0);
                let bins = &g.cols[ox0..ox0 + n];
                let widest = bins.iter().map(|b| b.count).max().unwrap_or(0);
                let mut acc = s.splat(0.0);
                for i in 0..count {
                    let row = &src[row0 + i * step..][..g.iw];
                    for j in 0..widest {
                        let mut t = [0.0f32; 16];
                        for (tk, b) in t.iter_mut().zip(bins) {
                            if j < b.count {
                                *tk = row[b.start + j];
                            }
                        }
                        // SAFETY: t holds 16 >= LANES elements.
                        acc = s.add(acc, unsafe { s.load(t.as_ptr()) });
                    }
                }
                let mut d = [1.0f32; 16];
                for (k, dk) in d.iter_mut().enumerate().take(n) {
                    *dk = g.divisor(oy, ox0 + k) as f32;
                }
                // SAFETY: d holds 16 >= LANES elements.
                let v = s.div(acc, unsafe { s.load(d.as_ptr()) });
                // SAFETY: y[ox0..] holds at least n elements (n == LANES for a full store).
                unsafe {
                    if n == lanes {
                        s.store(y.as_mut_ptr().add(ox0), v)
                    } else {
                        s.store_n(y.as_mut_ptr().add(ox0), n, v)
                    }
                }
            }
        }
    }
}
