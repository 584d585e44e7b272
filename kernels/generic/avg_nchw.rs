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
//!   tap `j` in its even half and tap `j + 1` in its odd half (windows two columns wide with
//!   no left padding run the column-pair scheme below instead);
//! * any other stride (`avg-nchw-gather`): the taps are added lane by lane in scalar (the same
//!   order per lane), the lanes passing through a stack array once per window row.
//!
//! A row is cut into blocks of `LANES` columns, the last one moved left to end at the last
//! column (recomputing a few outputs identically) instead of being masked. Blocks inside
//! `g.interior_cols` ("direct") read the input rows in place and divide by one splatted
//! divisor. Border blocks read in place too, from the column of their first tap even when that
//! lies left of the row (the end of the row before) or past it (the start of the next row), and
//! replace the taps outside the row by +0.0 through lane masks prepared once per job; they
//! divide by per-lane divisors (`g.divisor`). Only where such a read would leave `src` (the
//! first or last rows of a job) does a block copy its columns into a zero-padded stack buffer
//! first. The zeros leave every sum bit-identical: a sum that starts at +0.0 is never −0.0
//! (round to nearest gives +0.0 for `x + (−x)` and for `+0.0 + (−0.0)`), and `s + (+0.0)` is
//! `s` bit for bit for every other `s`, infinities and NaN payloads included. Vertical clipping
//! needs nothing: a row's span lists only its in-bounds input rows.
//!
//! For speed, windows of 2 or 3 columns have their tap loop unrolled at compile time (and the
//! row loop too when a row has all `kh` rows), and four output rows with the same number of
//! input rows and divisor factor run together, their four chains of additions interleaved.
//! Each group requests the input rows of the group two ahead (software prefetch: measured on
//! DenseNet's 1×128×56×56 2×2 average, streaming 1.6 MB, 56 -> 49 µs on one thread, before
//! that geometry moved to the column-pair scheme).
//!
//! Column-pair scheme (`avg-nchw-s2-pair-rows`, see `pair_rows`, run from `window_nchw`):
//! windows two columns wide at stride 2 without left padding, every window inside its row
//! (DenseNet's 2×2 stride-2 transition average, equal-bin adaptive averages halving the
//! width), take precedence over everything below.
//!
//! Compact-plane scheme (`avg-nchw-s1-compact`, see `compact`; tiers with one-instruction
//! masked steps, AVX-512): unit strides and dilations with output rows as wide as the input
//! rows (`ow == iw`: Inception's 3×3 "same" average) on planes of up to `compact::BUF`
//! outputs take precedence over everything below: the plane as a flat array, no copy.
//!
//! Padded-plane scheme (`avg-nchw-s1-padded`, see `pad_plane`): unit strides on planes (or
//! row blocks) whose padded copy fits a stack array of `pad_plane::BUF` elements (Inception's
//! 35×35, 17×17) take precedence over everything below: one padded copy per plane, flat
//! vectors or column strips over it, no masks.
//!
//! Flat scheme (narrow planes too tall for the padded-plane scheme, part of `avg-nchw-s1`): with unit strides and output rows as
//! wide as the input rows (`ow == iw = W`, "same" horizontal padding), output `o = oy·W + ox`
//! reads tap (i, j) at the fixed input offset `o + (i·dh − pt)·W + j·dw − pl`, so a vector can
//! hold `LANES` consecutive outputs of the plane even where they span rows. The vertically
//! inner rows (`g.interior_rows`) of each plane run so, when row blocks would waste over a fifth
//! of their lanes (`W <= 64`): a row of 35 takes 35/16 vectors instead of 3. A lane's taps
//! outside its input row read the neighbouring row (or, at the ends of `src`, a zero-padded
//! copy) and are replaced by +0.0 through masks computed from the lane's column (one compare
//! per tap column left or right of the output column, from a per-column table made once per
//! job, which also holds the divisors).
//! Eight vectors run together: their chains of additions are independent. The other rows run
//! row by row as above.
//!
//! Every path divides with the IEEE division. A division by the split reciprocal with
//! Markstein's correction (`y = fma(s, rh, s·rl)`, `e = fma(−y, d, s)`, `fma(e, rh, y)`, with
//! `rh = RN(1/d)`; an exhaustive check over every mantissa in 11 binades and divisors 1..=64
//! found it bit-identical) measured slower on AVX-512 in both schemes: with the checks for
//! special and tiny sums it issues about ten instructions where the division issues three, and
//! the divider was not the bottleneck.
//!
//! Adaptive average (`g.kh == 0`): when all column bins have the same width (`iw` divisible by
//! `ow`), the bins are windows with kernel = stride = `iw / ow` and run as above (row bins come
//! from the spans as always). Otherwise (`avg-nchw-adaptive-gather`) every lane sums its own
//! bin's taps in scalar, adding +0.0 once its bin is exhausted (an identity, as above); only the
//! division is a vector operation.

use core::mem::MaybeUninit;
use core::ops::Range;

use super::{compact, max_nchw, pad_plane, pair_rows};
use crate::geom::WindowGeom;
use crate::kernels::NchwJob;
use crate::kernels::vector::{Body, Simd};

/// Groups of output rows ahead of the current one whose input rows [`rows_of`] requests.
const PF_GROUPS: usize = 2;
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

/// Lane indices as f32, for lane masks.
static IOTA: [f32; 16] = [
    0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0,
];

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
        // Each load_deinterleave reads 2·LANES; the last one starts at the last even tap when
        // pairs share one (dw == 1), else at the last tap.
        S2 if c.dw == 1 => 2 * S::LANES + (c.kw - 1) / 2 * 2,
        S2 => 2 * S::LANES + taps,
        _ => (S::LANES - 1) * c.sw + taps + 1,
    }
}

/// Adds the taps `j = 0..kw` of one window row to each of `R` independent sums, in order:
/// lane `k` of `acc[r]` gets `p[r][k·sw + j·dw]`. `KW` is `kw` when it is a compile-time
/// constant (the loops then unroll), else 0. With `CLIP`, the lanes set in `off[j]` get +0.0
/// instead (their tap is outside the input row; the value read there belongs to another row and
/// is discarded). The `R` sums (output rows) interleave, so their chains of additions overlap.
///
/// # Safety
/// `p[r]..p[r] + reach::<S, K>(c)` must be readable; with `CLIP`, `off.len() >= kw`.
#[inline(always)]
unsafe fn add_taps<S: Simd, const K: u8, const KW: usize, const CLIP: bool, const R: usize>(
    s: S,
    acc: &mut [S::V; R],
    p: [*const f32; R],
    c: &Cols,
    off: &[S::M],
) {
    let kw = if KW == 0 { c.kw } else { KW };
    let zero = s.splat(0.0);
    let tap = |v: S::V, j: usize| {
        if CLIP {
            // SAFETY: off.len() >= kw > j, guaranteed by the caller.
            s.select(unsafe { *off.get_unchecked(j) }, zero, v)
        } else {
            v
        }
    };
    // SAFETY: (every access below) the offsets stay below reach::<S, K>(c), which the caller
    // guarantees readable from each p[r].
    unsafe {
        match K {
            S1 => {
                for j in 0..kw {
                    for r in 0..R {
                        acc[r] = s.add(acc[r], tap(s.load(p[r].add(j * c.dw)), j));
                    }
                }
            }
            S2 if c.dw == 1 => {
                // Even lanes of the load at j are tap j, odd lanes tap j + 1.
                for j in (0..kw).step_by(2) {
                    for r in 0..R {
                        let (even, odd) = s.load_deinterleave(p[r].add(j));
                        acc[r] = s.add(acc[r], tap(even, j));
                        if j + 1 < kw {
                            acc[r] = s.add(acc[r], tap(odd, j + 1));
                        }
                    }
                }
            }
            S2 => {
                for j in 0..kw {
                    for r in 0..R {
                        let v = s.load_deinterleave(p[r].add(j * c.dw)).0;
                        acc[r] = s.add(acc[r], tap(v, j));
                    }
                }
            }
            _ => {
                // Lane by lane in scalar, the lanes held in an array (one round trip through
                // memory per row instead of one per tap).
                for r in 0..R {
                    let mut lanes = [0.0f32; 16];
                    s.store(lanes.as_mut_ptr(), acc[r]);
                    let mut keep = [0.0f32; 16];
                    for j in 0..kw {
                        if CLIP {
                            // Lanes outside the row read +0.0: keep[k] = 0 there, else 1.
                            let one = s.select(*off.get_unchecked(j), zero, s.splat(1.0));
                            s.store(keep.as_mut_ptr(), one);
                        }
                        let q = p[r].add(j * c.dw);
                        for (k, sum) in lanes.iter_mut().enumerate().take(S::LANES) {
                            let v = *q.add(k * c.sw);
                            *sum += if !CLIP || keep[k] != 0.0 { v } else { 0.0 };
                        }
                    }
                    acc[r] = s.load(lanes.as_ptr());
                }
            }
        }
    }
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
    let Some(c) = cols_of(g) else {
        return adaptive_gather(s, g, src, dst, planes, rows);
    };
    let job = (g, &c, (src, dst, planes, rows));
    match (access(&c), c.kw) {
        (S1, 2) => s.frame(Window::<S1, 2>(job)),
        (S1, 3) => s.frame(Window::<S1, 3>(job)),
        (S1, _) => s.frame(Window::<S1, 0>(job)),
        (S2, 2) => s.frame(Window::<S2, 2>(job)),
        (S2, 3) => s.frame(Window::<S2, 3>(job)),
        (S2, _) => s.frame(Window::<S2, 0>(job)),
        _ => s.frame(Window::<GATHER, 0>(job)),
    }
}

/// The arguments of [`window`].
type WindowJob<'a> = (
    &'a WindowGeom,
    &'a Cols,
    (&'a [f32], &'a mut [f32], usize, Range<usize>),
);

/// [`window`] for access `K` and windows `KW` wide (0: any width), in a function of its own.
struct Window<'a, const K: u8, const KW: usize>(WindowJob<'a>);

impl<S: Simd, const K: u8, const KW: usize> Body<S> for Window<'_, K, KW> {
    type Out = ();
    #[inline(always)]
    fn run(self, s: S) {
        let (g, c, job) = self.0;
        window::<S, K, KW>(s, g, c, job)
    }
}

/// The algorithm [`run`] picks for `g`.
pub(super) fn describe<S: Simd>(g: &WindowGeom) -> &'static str {
    match cols_of(g) {
        None => "avg-nchw-adaptive-gather",
        Some(c) => match access(&c) {
            S1 if compact::avg_layout::<S>(g, &(0..g.oh)).is_some() => "avg-nchw-s1-compact",
            S1 if pad_plane::layout::<S>(g, &(0..g.oh)).is_some() => "avg-nchw-s1-padded",
            S1 => "avg-nchw-s1",
            S2 if pair_rows::fits(g) => "avg-nchw-s2-pair-rows",
            S2 if shift_fits::<S>(g) => "avg-nchw-s2-shift",
            S2 => "avg-nchw-s2-deinterleave",
            _ => "avg-nchw-gather",
        },
    }
}

/// Output columns the stride-2 shift scheme ([`shift_job`]) takes (its table of column
/// divisors lives on the stack).
const SHIFT_COLS: usize = 2048;

/// The stride-2 shift scheme takes `g`: windows of 2 or 3 columns at stride 2 with at most one
/// column of left padding, at most three rows (ResNet-D's and similar 3×3 stride-2 averages,
/// 2×2 ones in ceil mode or with padding), rows of up to `SHIFT_COLS` outputs. (2-wide windows
/// inside unpadded rows run the column-pair scheme first.)
pub(super) fn shift_fits<S: Simd>(g: &WindowGeom) -> bool {
    g.kh != 0
        && (g.sw, g.dw) == (2, 1)
        && matches!(g.kw, 2 | 3)
        && g.pl <= 1
        && g.ow.div_ceil(S::LANES) * S::LANES <= SHIFT_COLS
        && g.rows.iter().all(|r| r.count <= 3)
}

/// The stride-2 shift scheme ([`shift_fits`]): output rows `rows` of every plane of the job.
///
/// Block `ox0` (a multiple of `L`) of each window row is one deinterleaving load at column
/// `2·ox0 + b`: the even elements are column `2·ox + b` of the lanes' windows, the odd ones the
/// next column, and the odd vector moved up one lane with the previous block's last odd
/// element shifted in (`Simd::shift_in`) the column before; `b = 1 − pl` makes these the three
/// taps of a 3-wide window left to right (or the first two of a 2-wide one with `pl = 1`; a
/// 2-wide one without padding is the even and odd elements, `b = 0`), so two loads and three
/// shuffles give a window row's taps where a load per tap took two loads and two shuffles
/// each. Every lane adds its taps from +0.0 in row-major order and divides once, as the
/// reference; a tap outside the row is +0.0 (the loads of a block that reaches past the row's
/// end are clipped to it, the element shifted in before block 0 is +0.0 for `pl = 1`), an
/// identity for such a sum (see the module documentation). The divisor is the row's factor
/// times the column's (a table made once per job), or the override. The blocks tile the row,
/// the last one storing only its outputs.
#[inline(always)]
pub(super) fn shift_job<S: Simd>(s: S, g: &WindowGeom, job: NchwJob<'_, f32>) {
    let NchwJob {
        src,
        dst,
        planes,
        rows,
        ..
    } = job;
    let (l, iw, ow) = (S::LANES, g.iw, g.ow);
    let (plane_in, plane_out) = (g.ih * iw, rows.len() * ow);
    // The bounds every pointer below relies on (NchwJob::check asserted them as well).
    assert!(shift_fits::<S>(g) && S::LANES <= 16);
    assert!(src.len() >= planes * plane_in && dst.len() >= planes * plane_out);
    assert!(rows.end <= g.oh && g.rows.len() == g.oh && g.cols.len() == ow);
    let nb = ow.div_ceil(l);
    let (pair, base, nfull) = max_nchw::shift_cols(g, l);
    // The column factors of the blocks' lanes (1.0 past the last output), written once per
    // job for the nb·L lanes the blocks read.
    let mut cd = [MaybeUninit::<f32>::uninit(); SHIFT_COLS];
    for (x, d) in cd.iter_mut().enumerate().take(nb * l) {
        d.write(match (x < ow, g.divisor_override) {
            (false, _) => 1.0,
            (true, Some(d)) => d as usize as f32,
            (true, None) => g.cols[x].div as f32,
        });
    }
    let cd = cd.as_ptr().cast::<f32>();
    for p in 0..planes {
        for (r, oy) in rows.clone().enumerate() {
            let rs = g.rows[oy];
            let rd = match g.divisor_override {
                Some(_) => s.splat(1.0),
                None => s.splat(rs.div as f32),
            };
            let n = rs.count.min(3);
            // SAFETY: plane p lies in src, its rows rs.start + k·dh < ih for k < n (spans);
            // output row r of plane p lies in dst (asserted above). Rows k >= n are never read.
            let (xr, yv) = unsafe {
                let xp = src.as_ptr().add(p * plane_in);
                let row = |k: usize| match k < n {
                    true => xp.add((rs.start + k * g.dh) * iw),
                    false => xp,
                };
                (
                    [row(0), row(1), row(2)],
                    dst.as_mut_ptr().add(p * plane_out + r * ow),
                )
            };
            let mut oprev = [s.splat(0.0); 3];
            if base == 1 {
                for (op, &row) in oprev.iter_mut().zip(&xr).take(n) {
                    // SAFETY: column 0 of an in-bounds row.
                    *op = s.splat(unsafe { *row });
                }
            }
            let win = (&xr, n, base, g.kw, pair);
            // SAFETY: the first nfull blocks read columns below 2·ox0 + base + 2L <= iw and
            // store L outputs below ow; the others clip their loads to the row and store below
            // ow; cd's first nb·L <= SHIFT_COLS entries are written (above).
            unsafe {
                for bk in 0..nfull {
                    let d = s.mul(rd, s.load(cd.add(bk * l)));
                    let v = avg_block::<S, false>(s, win, iw, bk * l, &mut oprev);
                    s.store(yv.add(bk * l), s.div(v, d));
                }
                for bk in nfull..nb {
                    let d = s.mul(rd, s.load(cd.add(bk * l)));
                    let v = avg_block::<S, true>(s, win, iw, bk * l, &mut oprev);
                    s.store_n(yv.add(bk * l), (ow - bk * l).min(l), s.div(v, d));
                }
            }
        }
    }
}

/// The window-row sums of one block of [`shift_job`] at output column `ox0`: `(rows, n, base,
/// kw, pair)` are the window's first `n` input rows, the load offset and the taps; `oprev`
/// holds each row's previous odd vector (updated). With `CLIP` the loads are clipped to the
/// row (+0.0 past its end).
///
/// # Safety
/// The rows hold `iw` readable elements; without `CLIP`, `2·ox0 + base + 2L <= iw`.
#[inline(always)]
unsafe fn avg_block<S: Simd, const CLIP: bool>(
    s: S,
    (rows, n, base, kw, pair): (&[*const f32; 3], usize, usize, usize, bool),
    iw: usize,
    ox0: usize,
    oprev: &mut [S::V; 3],
) -> S::V {
    let at = 2 * ox0 + base;
    let mut acc = s.splat(0.0);
    for (&r, op) in rows.iter().zip(oprev.iter_mut()).take(n) {
        // SAFETY: as the caller guarantees.
        let (e, o) = unsafe {
            if CLIP {
                s.load_deinterleave_clip(r, iw, at as isize, 0.0)
            } else {
                s.load_deinterleave(r.add(at))
            }
        };
        if pair {
            acc = s.add(s.add(acc, e), o);
        } else {
            let t0 = s.shift_in(*op, o);
            *op = o;
            acc = s.add(s.add(acc, t0), e);
            if kw == 3 {
                acc = s.add(acc, o);
            }
        }
    }
    acc
}

/// The in-bounds input rows of output row `oy` in plane `x_off`: offset of the first row in
/// `src`, distance between rows, number of rows.
#[inline(always)]
fn row_taps(g: &WindowGeom, x_off: usize, oy: usize) -> (usize, usize, usize) {
    let span = g.rows[oy];
    (x_off + span.start * g.iw, g.dh * g.iw, span.count)
}

/// Border blocks per row whose lane masks and divisors are prepared once per job.
const CACHED: usize = 4;
/// The widest window whose border lane masks are prepared.
const MAX_KW: usize = 32;

/// The column blocks of every row: `count` blocks of `LANES` outputs, block `b` starting at
/// `min(b·LANES, ow − LANES)` (the last one moved left to end at the last column, recomputing a
/// few outputs identically); or, in a row narrower than a vector, one block of `ow` outputs.
/// Blocks `direct` have all their windows inside the input.
struct Blocks {
    count: usize,
    lanes: usize,
    ow: usize,
    direct: Range<usize>,
}

impl Blocks {
    fn new(c: &Cols, lanes: usize, ow: usize) -> Self {
        let count = if ow < lanes { 1 } else { ow.div_ceil(lanes) };
        let mut b = Blocks {
            count,
            lanes,
            ow,
            direct: 0..0,
        };
        let inside = |x: usize| {
            let (ox0, n) = b.at(x);
            n == lanes && c.interior.start <= ox0 && ox0 + n <= c.interior.end
        };
        // The inside blocks are consecutive (block starts increase).
        let first = (0..count).find(|&x| inside(x)).unwrap_or(count);
        let end = (first..count).find(|&x| !inside(x)).unwrap_or(count);
        b.direct = first..end;
        b
    }

    /// Block `x`: first output column and number of outputs.
    #[inline(always)]
    fn at(&self, x: usize) -> (usize, usize) {
        if self.ow < self.lanes {
            (0, self.ow)
        } else {
            ((x * self.lanes).min(self.ow - self.lanes), self.lanes)
        }
    }

    /// The blocks outside `direct`, in order, numbered from 0.
    fn border(&self) -> impl Iterator<Item = usize> + use<> {
        (0..self.direct.start).chain(self.direct.end..self.count)
    }
}

/// A border block prepared once per job: for each tap `j`, the lanes whose column is outside
/// the input (`off[j]`), and the block's per-lane divisors for the row divisor factor last seen.
struct Border<S: Simd> {
    x: usize,
    off: [S::M; MAX_KW],
    div: S::V,
}

/// Window pooling (or adaptive pooling with equal column bins): tap access `K`, `KW` taps per
/// row when fixed (0: `c.kw`).
///
/// Each row first runs its direct blocks, which read the input rows in place with one splatted
/// divisor, in a tight loop. Then its border blocks: they also read in place, from the column
/// of their first tap (possibly left of the row, reading the end of the row before, or past its
/// end, reading the next row), replace the taps outside the row by +0.0 through lane masks
/// prepared once per job, and divide by per-lane divisors. Only when such a read would leave
/// `src` (the first or last rows of the job), or there are more border blocks than prepared,
/// does a block copy its columns into a zero-padded stack buffer instead.
#[inline(always)]
fn window<S: Simd, const K: u8, const KW: usize>(
    s: S,
    g: &WindowGeom,
    c: &Cols,
    (src, dst, planes, rows): (&[f32], &mut [f32], usize, Range<usize>),
) {
    if K == S1
        && let Some(out) = compact::avg_layout::<S>(g, &rows)
    {
        return match (g.kh, g.kw, g.pt, g.pl) {
            (3, 3, 1, 1) => compact::avg::<S, 3, 3>(s, g, out, (src, dst, planes)),
            (5, 5, 2, 2) => compact::avg::<S, 5, 5>(s, g, out, (src, dst, planes)),
            _ => compact::avg::<S, 0, 0>(s, g, out, (src, dst, planes)),
        };
    }
    if K == S1
        && let Some(pad) = pad_plane::layout::<S>(g, &rows)
    {
        return match (g.kh, KW) {
            (3, 3) => pad_plane::avg::<S, 3, 3>(s, g, &pad, (src, dst, planes)),
            (2, 2) => pad_plane::avg::<S, 2, 2>(s, g, &pad, (src, dst, planes)),
            _ => pad_plane::avg::<S, 0, KW>(s, g, &pad, (src, dst, planes)),
        };
    }
    let (lanes, ow, iw) = (S::LANES, g.ow, g.iw);
    let blocks = Blocks::new(c, lanes, ow);
    // SAFETY: IOTA holds 16 >= LANES elements.
    let iota = unsafe { s.load(IOTA.as_ptr()) };
    let mut border: [Option<Border<S>>; CACHED] = [None, None, None, None];
    if c.kw <= MAX_KW {
        for (slot, x) in border.iter_mut().zip(blocks.border()) {
            let mut off = [s.none(); MAX_KW];
            for (j, off) in off.iter_mut().enumerate().take(c.kw) {
                // Lane k reads column col + k·sw; it is inside the row for lo <= k < hi.
                let col = (blocks.at(x).0 * c.sw + j * c.dw) as isize - c.pl as isize;
                let lo = ((-col).max(0) as usize).div_ceil(c.sw).min(16);
                let hi = ((iw as isize - col).max(0) as usize).div_ceil(c.sw).min(16);
                let below = s.gt(s.splat(lo as f32), iota);
                let above = s.gt(iota, s.splat(hi as f32 - 0.5));
                *off = s.or(below, above);
            }
            let div = s.splat(1.0);
            *slot = Some(Border { x, off, div });
        }
    }
    let mut row_factor = None;
    let mut buf = [0.0f32; BUF];
    let job = RowJob {
        s,
        g,
        c,
        src,
        blocks: &blocks,
        planes_rows: &rows,
    };
    let mut state = (&mut border, &mut row_factor, &mut buf);
    if !(K == S1 && flat_fits::<S>(g, c)) {
        for p in 0..planes {
            row_span::<S, K, KW>(&job, p, rows.clone(), dst, &mut state);
        }
        return;
    }
    let f = Flat::new(g);
    for p in 0..planes {
        // The flat scheme takes the rows a..b (all vertically inside the input), if any.
        let a = rows.start.max(g.interior_rows.start);
        let b = rows.end.min(g.interior_rows.end);
        if b > a && (b - a) * ow >= lanes {
            let out = (p * rows.len() + a - rows.start) * ow;
            let y = &mut dst[out..out + (b - a) * ow];
            let x_off = p * g.ih * iw;
            flat_rows::<S, KW>(s, g, &f, src, x_off, (a * ow, b * ow), y, state.2);
            row_span::<S, K, KW>(&job, p, rows.start..a, dst, &mut state);
            row_span::<S, K, KW>(&job, p, b..rows.end, dst, &mut state);
        } else {
            row_span::<S, K, KW>(&job, p, rows.clone(), dst, &mut state);
        }
    }
}

/// What [`row_span`] needs besides the output: the token, the geometry, the column geometry,
/// the input, the blocks of a row and the job's rows.
struct RowJob<'a, S: Simd> {
    s: S,
    g: &'a WindowGeom,
    c: &'a Cols,
    src: &'a [f32],
    blocks: &'a Blocks,
    planes_rows: &'a Range<usize>,
}

/// The prepared border blocks, the row divisor factor their divisors were made for, and the
/// stack buffer.
type RowState<'a, S> = (
    &'a mut [Option<Border<S>>; CACHED],
    &'a mut Option<usize>,
    &'a mut [f32; BUF],
);

/// Output rows `span` of plane `p`, row by row (four at a time where they have the same tap
/// count and divisor factor).
#[inline(always)]
fn row_span<S: Simd, const K: u8, const KW: usize>(
    job: &RowJob<'_, S>,
    p: usize,
    span: Range<usize>,
    dst: &mut [f32],
    (border, row_factor, buf): &mut RowState<'_, S>,
) {
    let RowJob {
        s,
        g,
        c,
        src,
        blocks,
        planes_rows: rows,
    } = *job;
    let ow = g.ow;
    let x_off = p * g.ih * g.iw;
    let mut oy = span.start;
    while oy < span.end {
        // The border divisors depend on the row through its divisor factor only.
        let factor = g.rows[oy].div;
        if **row_factor != Some(factor) {
            **row_factor = Some(factor);
            for b in border.iter_mut().flatten() {
                // SAFETY: the divisors hold 16 >= LANES elements.
                b.div = unsafe { s.load(lane_divisors(g, oy, blocks.at(b.x)).as_ptr()) };
            }
        }
        // Four rows with the same tap count and divisor factor run together.
        let mut alike = 1;
        while alike < 4 && oy + alike < span.end {
            let next = g.rows[oy + alike];
            if next.count != g.rows[oy].count || next.div != factor {
                break;
            }
            alike += 1;
        }
        let at = Rows {
            x_off,
            oy,
            out: (p * rows.len() + oy - rows.start) * ow,
        };
        let ctx = Ctx {
            s,
            g,
            c,
            src,
            blocks,
            border,
        };
        oy += if alike == 4 {
            rows_of::<S, K, KW, 4>(&ctx, at, dst, buf)
        } else {
            rows_of::<S, K, KW, 1>(&ctx, at, dst, buf)
        };
    }
}

/// The widest plane (in columns) of the flat scheme: its column tables live on the stack.
const FLAT_W: usize = 64;
/// Entries of a flat column table: `FLAT_W + 16` and more, a multiple of every lane count.
const TABLE: usize = FLAT_W + 32;

/// Elements from a flat vector's first tap (lane 0, tap (0, 0)) that it reads.
fn flat_reach<S: Simd>(g: &WindowGeom) -> usize {
    ((g.kh - 1) * g.dh)
        .saturating_mul(g.iw)
        .saturating_add((g.kw - 1) * g.dw + S::LANES)
}

/// Whether the flat scheme runs the vertically inner rows of a stride-1 (access `S1`)
/// geometry: windows with unit vertical stride whose output rows are as wide as the input
/// rows (`ow == iw`, "same" horizontal padding), in planes narrow enough that row blocks waste
/// over a fifth of their lanes.
fn flat_fits<S: Simd>(g: &WindowGeom, c: &Cols) -> bool {
    let lanes = Blocks::new(c, S::LANES, g.ow).count * S::LANES;
    g.kh != 0
        && g.sh == 1
        && g.ow == g.iw
        && g.iw <= FLAT_W
        && g.kw <= MAX_KW
        && !g.interior_rows.is_empty()
        && flat_reach::<S>(g) <= BUF
        && 4 * lanes > 5 * g.ow
}

/// A flat tap left of the output column.
const LEFT: u8 = 1;
/// A flat tap right of the output column.
const RIGHT: u8 = 2;

/// Per-column tables of the flat scheme, indexed by the column of a vector's lane 0: entry
/// `c` describes column `c mod W`, so that the `LANES` entries from any `c < W` describe
/// `LANES` consecutive outputs of the plane.
struct Flat {
    /// The column, as f32.
    col: [f32; TABLE],
    /// The divisor of an output of a vertically inner row in that column.
    d: [f32; TABLE],
    /// Tap `j` is outside the row in the lanes whose column is below `lo[j]` when `side[j]`
    /// is `LEFT` (a tap left of the output column), above `hi[j]` when it is `RIGHT`, never
    /// when it is 0 (the tap in the output column).
    lo: [f32; MAX_KW],
    hi: [f32; MAX_KW],
    side: [u8; MAX_KW],
}

impl Flat {
    #[inline(always)]
    fn new(g: &WindowGeom) -> Self {
        let w = g.iw;
        let mut f = Flat {
            col: [0.0; TABLE],
            d: [1.0; TABLE],
            lo: [f32::MIN; MAX_KW],
            hi: [f32::MAX; MAX_KW],
            side: [0; MAX_KW],
        };
        let oy = g.interior_rows.start;
        for c in 0..TABLE {
            f.col[c] = (c % w) as f32;
            f.d[c] = divisor(g, oy, c % w) as f32;
        }
        for j in 0..g.kw {
            // Lane column x reads input column x + j·dw − pl, inside the row for
            // pl − j·dw <= x <= w − 1 + pl − j·dw.
            let shift = (j * g.dw) as f32 - g.pl as f32;
            f.lo[j] = -shift;
            f.hi[j] = (w - 1) as f32 - shift;
            f.side[j] = match (j * g.dw).cmp(&g.pl) {
                core::cmp::Ordering::Less => LEFT,
                core::cmp::Ordering::Greater => RIGHT,
                core::cmp::Ordering::Equal => 0,
            };
        }
        f
    }
}

/// The outputs `o0..o1` (plane-relative, flat: `oy·W + ox`) of the plane at `x_off`, all in
/// vertically inner rows, into `y` (`o1 − o0` outputs, `o1 − o0 >= LANES`): vectors of
/// `LANES` consecutive outputs, which may span rows, the last moved left to end at `o1`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn flat_rows<S: Simd, const KW: usize>(
    s: S,
    g: &WindowGeom,
    f: &Flat,
    src: &[f32],
    x_off: usize,
    (o0, o1): (usize, usize),
    y: &mut [f32],
    buf: &mut [f32; BUF],
) {
    let (l, w) = (S::LANES, g.iw);
    let reach = flat_reach::<S>(g);
    // The input offset of tap (0, 0) of lane 0 of the vector at output o.
    let first = |o: usize| (x_off + o) as isize - (g.pt * w + g.pl) as isize;
    let inside = |at: isize| at >= 0 && at as usize + reach <= src.len();
    let last = o1 - l;
    let mut o = o0;
    let mut col = o0 % w;
    let step = l % w;
    let next = |col: usize| {
        if col + step >= w {
            col + step - w
        } else {
            col + step
        }
    };
    // Groups of GROUP vectors (independent chains of additions), then one by one.
    const GROUP: usize = 8;
    while o + GROUP * l <= o1 && inside(first(o)) && inside(first(o + (GROUP - 1) * l)) {
        let mut cols = [col; GROUP];
        for r in 1..GROUP {
            cols[r] = next(cols[r - 1]);
        }
        let mut p = [src.as_ptr(); GROUP];
        for (r, p) in p.iter_mut().enumerate() {
            // SAFETY: 0 <= first(o + r·l) and first(o + r·l) + reach <= src.len() (checked
            // above for r = 0 and GROUP − 1).
            *p = unsafe { p.add(first(o + r * l) as usize) };
        }
        // SAFETY: each p[r] has reach elements readable (checked above); o + GROUP·l <= o1.
        unsafe { flat_vectors::<S, KW, GROUP>(s, g, f, p, cols, y.as_mut_ptr().add(o - o0)) };
        col = next(cols[GROUP - 1]);
        o += GROUP * l;
    }
    loop {
        let at = o.min(last);
        let c0 = if at == o { col } else { at % w };
        let t = first(at);
        let p = if inside(t) {
            // SAFETY: t + reach <= src.len().
            unsafe { src.as_ptr().add(t as usize) }
        } else {
            // Copy the reach into buf, zeros outside src (only taps outside their row, which
            // are masked, can read there: the rows are vertically inner).
            let lo = (-t).clamp(0, reach as isize) as usize;
            let hi = (src.len() as isize - t).clamp(lo as isize, reach as isize) as usize;
            buf[..lo].fill(0.0);
            buf[hi..reach].fill(0.0);
            buf[lo..hi]
                .copy_from_slice(&src[(t + lo as isize) as usize..(t + hi as isize) as usize]);
            buf.as_ptr()
        };
        // SAFETY: p has reach elements readable (src checked above, or buf with BUF >= reach);
        // at + l <= o1.
        unsafe { flat_vectors::<S, KW, 1>(s, g, f, [p], [c0], y.as_mut_ptr().add(at - o0)) };
        if at == last {
            break;
        }
        o += l;
        col = next(col);
    }
}

/// `R` flat vectors: vector `r` reads its taps from `p[r]` (tap (i, j) of lane k at
/// `p[r] + i·dh·W + j·dw + k`), its lane 0 is in column `col[r]`, and it stores `LANES`
/// outputs to `y[r·LANES..]`.
///
/// # Safety
/// `p[r]..p[r] + flat_reach(g)` readable, `y..y + R·LANES` writable.
#[allow(clippy::needless_range_loop)] // taps and vectors index several arrays in lockstep
#[inline(always)]
unsafe fn flat_vectors<S: Simd, const KW: usize, const R: usize>(
    s: S,
    g: &WindowGeom,
    f: &Flat,
    p: [*const f32; R],
    col: [usize; R],
    y: *mut f32,
) {
    let kw = if KW == 0 { g.kw } else { KW };
    let zero = s.splat(0.0);
    let row = g.dh * g.iw;
    // Lanes outside the input row, per vector and tap.
    let mut off = [[s.none(); MAX_KW]; R];
    for r in 0..R {
        // SAFETY: col[r] < W <= FLAT_W, so LANES entries from it lie in the table.
        let x = unsafe { s.load(f.col.as_ptr().add(col[r])) };
        for j in 0..kw {
            off[r][j] = match f.side[j] {
                LEFT => s.gt(s.splat(f.lo[j]), x),
                RIGHT => s.gt(x, s.splat(f.hi[j])),
                _ => s.none(),
            };
        }
    }
    let mut acc = [zero; R];
    for i in 0..g.kh {
        for j in 0..kw {
            let clip = f.side[j] != 0;
            for r in 0..R {
                // SAFETY: i·dh·W + j·dw + LANES <= flat_reach(g), readable (caller).
                let v = unsafe { s.load(p[r].add(i * row + j * g.dw)) };
                acc[r] = s.add(
                    acc[r],
                    if clip {
                        s.select(off[r][j], zero, v)
                    } else {
                        v
                    },
                );
            }
        }
    }
    for r in 0..R {
        // SAFETY: col[r] < FLAT_W, LANES table entries from it; y + r·LANES.. writable
        // (caller).
        unsafe {
            let d = s.load(f.d.as_ptr().add(col[r]));
            s.store(y.add(r * S::LANES), s.div(acc[r], d));
        }
    }
}

/// What every group of rows needs: the token, the geometry, the column geometry, the input,
/// the blocks of a row and the prepared border blocks.
struct Ctx<'a, S: Simd> {
    s: S,
    g: &'a WindowGeom,
    c: &'a Cols,
    src: &'a [f32],
    blocks: &'a Blocks,
    border: &'a [Option<Border<S>>; CACHED],
}

/// A group of output rows: its plane's offset in `src`, its first row, and the offset of its
/// output in `dst`.
#[derive(Clone, Copy)]
struct Rows {
    x_off: usize,
    oy: usize,
    out: usize,
}

/// Output rows `oy..oy + R` of one plane, which have the same row tap count and divisor
/// factor: direct blocks, then prepared border blocks, then the rest. Returns `R`.
#[inline(always)]
fn rows_of<S: Simd, const K: u8, const KW: usize, const R: usize>(
    ctx: &Ctx<'_, S>,
    Rows { x_off, oy, out }: Rows,
    dst: &mut [f32],
    buf: &mut [f32; BUF],
) -> usize {
    let Ctx {
        s,
        g,
        c,
        src,
        blocks,
        border,
    } = *ctx;
    let (ow, iw) = (g.ow, g.iw);
    let reach = reach::<S, K>(c);
    let y = &mut dst[out..out + R * ow];
    let (_, step, count) = row_taps(g, x_off, oy);
    // Offset in src of the first input row of each output row, and of the last row read
    // (nothing is read when count == 0).
    let mut first = [0; R];
    for (r, first) in first.iter_mut().enumerate() {
        *first = row_taps(g, x_off, oy + r).0;
    }
    let last = first[R - 1] + count.saturating_sub(1) * step;
    // The input rows the next groups will read, requested ahead (inside `src` only) so that
    // streaming from DRAM overlaps the work.
    {
        let ahead = first[0] + PF_GROUPS * R * g.sh * iw;
        let end = (ahead + R * g.sh * iw).min(src.len());
        let mut a = ahead;
        while a < end {
            super::prefetch(src.as_ptr().wrapping_add(a));
            a += 16;
        }
    }
    // The R rows' input rows from column c0 + at (row-major offsets).
    let rows_at = |at: isize| -> [*const f32; R] {
        let mut p = [src.as_ptr(); R];
        for (p, &first) in p.iter_mut().zip(&first) {
            *p = p.wrapping_offset(first as isize + at);
        }
        p
    };
    // Direct blocks: column c0 = ox0·sw − pl >= 0 of each row, reach elements.
    let mut x = blocks.direct.start;
    if x < blocks.direct.end {
        let d = s.splat(divisor(g, oy, blocks.at(x).0) as f32);
        while x < blocks.direct.end {
            let ox0 = blocks.at(x).0;
            let c0 = ox0 * c.sw - c.pl;
            if last + c0 + reach > src.len() {
                break; // the rest run as border blocks
            }
            let mut acc = [s.splat(0.0); R];
            if KW != 0 && count == KW {
                for i in 0..KW {
                    // SAFETY: first[r] + i·step + c0 + reach <= last + c0 + reach <= src.len().
                    unsafe {
                        add_taps::<S, K, KW, false, R>(
                            s,
                            &mut acc,
                            rows_at((i * step + c0) as isize),
                            c,
                            &[],
                        )
                    };
                }
            } else {
                for i in 0..count {
                    // SAFETY: first[r] + i·step + c0 + reach <= last + c0 + reach <= src.len().
                    unsafe {
                        add_taps::<S, K, KW, false, R>(
                            s,
                            &mut acc,
                            rows_at((i * step + c0) as isize),
                            c,
                            &[],
                        )
                    };
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                // SAFETY: ox0 + LANES <= ow for a direct block: inside y's row r.
                unsafe { s.store(y.as_mut_ptr().add(r * ow + ox0), s.div(*acc, d)) };
            }
            x += 1;
        }
    }
    let unread = x..blocks.direct.end;
    // Prepared border blocks, read in place when every read stays inside src.
    let mut done = [false; CACHED];
    for (b, done) in border.iter().zip(&mut done) {
        let Some(b) = b else { break };
        let (ox0, n) = blocks.at(b.x);
        let c0 = (ox0 * c.sw) as isize - c.pl as isize;
        if (first[0] as isize) + c0 < 0 || (last + reach) as isize + c0 > src.len() as isize {
            continue; // copied below
        }
        *done = true;
        let mut acc = [s.splat(0.0); R];
        for i in 0..count {
            // SAFETY: for every r, first[r] + i·step + c0 >= first[0] + c0 >= 0 and
            // first[r] + i·step + c0 + reach <= last + c0 + reach <= src.len() (checked
            // above); b.off holds MAX_KW >= kw masks.
            unsafe {
                add_taps::<S, K, KW, true, R>(
                    s,
                    &mut acc,
                    rows_at((i * step) as isize + c0),
                    c,
                    &b.off,
                )
            };
        }
        for (r, acc) in acc.iter().enumerate() {
            super::store_part(s, &mut y[r * ow + ox0..][..n], s.div(*acc, b.div));
        }
    }
    // Everything else, row by row: unprepared border blocks and unreadable direct ones.
    let undone = blocks.border().enumerate();
    let undone = undone.filter(|&(i, _)| !done.get(i).copied().unwrap_or(false));
    for x in undone.map(|(_, x)| x).chain(unread) {
        let (ox0, n) = blocks.at(x);
        for r in 0..R {
            let y = &mut y[r * ow + ox0..][..n];
            if reach > BUF {
                for (k, yk) in y.iter_mut().enumerate() {
                    *yk = output_from_spans(g, src, x_off, oy + r, ox0 + k);
                }
                continue;
            }
            // Copy columns c0..c0 + reach of each input row into buf, zeros outside the row.
            let c0 = (ox0 * c.sw) as isize - c.pl as isize;
            let lo = (-c0).clamp(0, reach as isize) as usize;
            let hi = (iw as isize - c0).clamp(lo as isize, reach as isize) as usize;
            buf[..lo].fill(0.0);
            buf[hi..reach].fill(0.0);
            let mut acc = [s.splat(0.0)];
            for i in 0..count {
                // Input column c0 + b sits at buf[b]; lo..hi are the in-bounds ones.
                let at = (first[r] + i * step) as isize + c0;
                let from = &src[(at + lo as isize) as usize..(at + hi as isize) as usize];
                buf[lo..hi].copy_from_slice(from);
                // SAFETY: buf holds BUF >= reach elements.
                unsafe { add_taps::<S, K, KW, false, 1>(s, &mut acc, [buf.as_ptr()], c, &[]) };
            }
            // SAFETY: the divisors hold 16 >= LANES elements.
            let div = unsafe { s.load(lane_divisors(g, oy + r, (ox0, n)).as_ptr()) };
            super::store_part(s, y, s.div(acc[0], div));
        }
    }
    R
}

/// `g.divisor(oy, ox)`, inlined into the kernel.
#[inline(always)]
fn divisor(g: &WindowGeom, oy: usize, ox: usize) -> usize {
    match g.divisor_override {
        Some(d) => d as usize,
        None => g.rows[oy].div * g.cols[ox].div,
    }
}

/// The divisors of the block's outputs (`n` from `ox0`) in row `oy` as f32 (1.0 in lanes
/// past the block).
#[inline(always)]
fn lane_divisors(g: &WindowGeom, oy: usize, (ox0, n): (usize, usize)) -> [f32; 16] {
    let mut d = [1.0f32; 16];
    for (k, dk) in d.iter_mut().enumerate().take(n) {
        *dk = divisor(g, oy, ox0 + k) as f32;
    }
    d
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
    sum / divisor(g, oy, ox) as f32
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
                // The sums lane by lane in scalar; a lane whose bin is exhausted adds +0.0.
                let mut sum = [0.0f32; 16];
                for i in 0..count {
                    let row = &src[row0 + i * step..][..g.iw];
                    for j in 0..widest {
                        for (sum, b) in sum.iter_mut().zip(bins) {
                            let v = row[(b.start + j).min(g.iw - 1)];
                            *sum += if j < b.count { v } else { 0.0 };
                        }
                    }
                }
                // SAFETY: sum holds 16 >= LANES elements.
                let acc = unsafe { s.load(sum.as_ptr()) };
                // SAFETY: the divisors hold 16 >= LANES elements.
                let d = unsafe { s.load(lane_divisors(g, oy, (ox0, n)).as_ptr()) };
                let v = s.div(acc, d);
                super::store_part(s, &mut y[ox0..ox0 + n], v);
            }
        }
    }
}
