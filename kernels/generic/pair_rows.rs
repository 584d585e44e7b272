//! Column-pair scheme, NCHW (`nchw-s2-pair-rows`, `avg-nchw-s2-pair-rows`): windows two
//! columns wide at stride 2 without left padding, every window inside its input row (VGG's
//! and DenseNet's 2×2 stride-2 pooling, equal-bin adaptive pooling that halves the width).
//!
//! Output row by output row, block by block of `LANES` columns: each in-bounds input row of
//! the window is one deinterleaving load at column `2·ox0` (tap 0 of every lane in the even
//! elements, tap 1 in the odd ones), folded into the block's accumulator in the reference's
//! order (rows top to bottom, tap 0 before tap 1). Consecutive output rows with the same
//! number of input rows, the same divisor and evenly spaced input rows form a run that loops
//! with nothing but two offsets to advance (the whole plane for the windows above). The last
//! block of a row at least `LANES` wide moves left to end at the row's end (recomputing a few
//! outputs identically); a narrower row is one block whose loads reach past the row (inside
//! `src`, else through a copy of the row's columns), its extra lanes never stored.
//!
//! The fold ([`Fold`]):
//! * average ([`Avg`]): `((0 + e₀) + o₀) + e₁ …`, then one division by the run's divisor (a
//!   power of two is a multiplication by its reciprocal: `v / 2^k` and `v · 2^−k` round the
//!   same exact value);
//! * max ([`MaxFast`]): `f(a, b) = s.max(b, a)` over the taps (any grouping is exact without
//!   NaN, see `max_nchw`), with an unordered compare of each row's two taps; a run that saw a
//!   NaN is redone with the exact step ([`MaxExact`]: `b > a || isnan(b)`, the last NaN wins).
//!
//! The scheme needs no stack area, so it runs from `window_nchw` directly.
//!
//! The general row code this replaced for these windows spent about twice the time on the
//! same loads and additions (AVX-512, one thread: DenseNet's 1×128×56×56 average 84 -> 31 µs).

use core::ops::Range;

use crate::geom::WindowGeom;
use crate::kernels::NchwJob;
use crate::kernels::vector::Simd;

/// Whether the scheme runs the geometry: windows two columns wide at stride 2 without left
/// padding or dilation, every output column's window inside the input row; or adaptive
/// pooling with `iw = 2·ow` (every column bin a pair).
pub(super) fn fits(g: &WindowGeom) -> bool {
    let pairs = if g.kh == 0 {
        g.iw == 2 * g.ow
    } else {
        (g.kw, g.sw, g.dw, g.pl) == (2, 2, 1, 0) && 2 * g.ow <= g.iw && g.interior_cols == (0..g.ow)
    };
    pairs && g.ow > 0
}

/// How a block's accumulator starts, takes an input row's pair of taps, and ends.
pub(super) trait Fold<S: Simd>: Copy {
    /// The fold that redoes a run whose flag was raised.
    type Exact: Fold<S>;
    /// The fold for the run of rows starting at output row `oy`.
    fn for_run(s: S, g: &WindowGeom, oy: usize) -> Self;
    /// The accumulator before the first row.
    fn start(self, s: S) -> S::V;
    /// Folds tap 0 (`e`) then tap 1 (`o`) of one input row into `acc`; may raise lanes of
    /// `flag` to have the run redone by [`Fold::Exact`].
    fn row(self, s: S, acc: S::V, e: S::V, o: S::V, flag: &mut S::M) -> S::V;
    /// The output from the accumulator.
    fn end(self, s: S, acc: S::V) -> S::V;
}

/// Average: the sum in the reference order, divided by the run's divisor.
#[derive(Clone, Copy)]
pub(super) struct Avg<V> {
    /// The divisor is a power of two: multiply by `inv` instead of dividing by `d`.
    pow2: bool,
    d: V,
    inv: V,
}

impl<S: Simd> Fold<S> for Avg<S::V> {
    type Exact = Self;
    #[inline(always)]
    fn for_run(s: S, g: &WindowGeom, oy: usize) -> Self {
        // Every column of a row has the same divisor: its window is inside the row.
        let d = g.divisor(oy, 0) as f32;
        Avg {
            pow2: d.to_bits() & 0x007f_ffff == 0,
            d: s.splat(d),
            inv: s.splat(1.0 / d),
        }
    }
    #[inline(always)]
    fn start(self, s: S) -> S::V {
        s.splat(0.0)
    }
    #[inline(always)]
    fn row(self, s: S, acc: S::V, e: S::V, o: S::V, _: &mut S::M) -> S::V {
        s.add(s.add(acc, e), o)
    }
    #[inline(always)]
    fn end(self, s: S, acc: S::V) -> S::V {
        if self.pow2 {
            s.mul(acc, self.inv)
        } else {
            s.div(acc, self.d)
        }
    }
}

/// Max with the fast step, flagging any NaN.
#[derive(Clone, Copy)]
pub(super) struct MaxFast;

impl<S: Simd> Fold<S> for MaxFast {
    type Exact = MaxExact;
    #[inline(always)]
    fn for_run(_: S, _: &WindowGeom, _: usize) -> Self {
        MaxFast
    }
    #[inline(always)]
    fn start(self, s: S) -> S::V {
        s.splat(f32::NEG_INFINITY)
    }
    #[inline(always)]
    fn row(self, s: S, acc: S::V, e: S::V, o: S::V, flag: &mut S::M) -> S::V {
        *flag = s.or(*flag, s.unord(e, o));
        s.max(s.max(o, e), acc)
    }
    #[inline(always)]
    fn end(self, _: S, acc: S::V) -> S::V {
        acc
    }
}

/// Max with the reference's exact step.
#[derive(Clone, Copy)]
pub(super) struct MaxExact;

impl<S: Simd> Fold<S> for MaxExact {
    type Exact = Self;
    #[inline(always)]
    fn for_run(_: S, _: &WindowGeom, _: usize) -> Self {
        MaxExact
    }
    #[inline(always)]
    fn start(self, s: S) -> S::V {
        s.splat(f32::NEG_INFINITY)
    }
    #[inline(always)]
    fn row(self, s: S, acc: S::V, e: S::V, o: S::V, _: &mut S::M) -> S::V {
        s.max_exact(o, s.max_exact(e, acc))
    }
    #[inline(always)]
    fn end(self, _: S, acc: S::V) -> S::V {
        acc
    }
}

/// Runs the job (values only) with the fold `F` (see the module doc).
#[inline(always)]
pub(super) fn job<S: Simd, F: Fold<S>>(s: S, g: &WindowGeom, job: NchwJob<'_, f32>) {
    let NchwJob {
        src,
        dst,
        planes,
        rows,
        ..
    } = job;
    let (ow, nr) = (g.ow, rows.len());
    // The bounds every pointer below relies on (NchwJob::check asserted them as well).
    assert!(fits(g) && 2 * ow <= g.iw && rows.end <= g.oh && g.rows.len() == g.oh);
    assert!(src.len() >= planes * g.ih * g.iw && dst.len() >= planes * nr * ow);
    for p in 0..planes {
        let x_off = p * g.ih * g.iw;
        let mut oy = rows.start;
        while oy < rows.end {
            let end = run_end(g, oy..rows.end);
            let r0 = g.rows[oy];
            let run = Run {
                first: x_off + r0.start * g.iw,
                step: g.dh * g.iw,
                count: r0.count,
                pitch: if end > oy + 1 {
                    (g.rows[oy + 1].start - r0.start) * g.iw
                } else {
                    0
                },
                rows: end - oy,
                out: (p * nr + oy - rows.start) * ow,
            };
            let f = F::for_run(s, g, oy);
            let redo = match run.count {
                2 => run_rows::<S, F, 2>(s, ow, src, dst, &run, f),
                _ => run_rows::<S, F, 0>(s, ow, src, dst, &run, f),
            };
            if redo {
                let f = F::Exact::for_run(s, g, oy);
                run_rows::<S, F::Exact, 0>(s, ow, src, dst, &run, f);
            }
            oy = end;
        }
    }
}

/// The end of the run of output rows from `rows.start`: rows with the same number of input
/// rows and divisor factor as the first, their first input rows evenly spaced.
#[inline(always)]
fn run_end(g: &WindowGeom, rows: Range<usize>) -> usize {
    let r0 = g.rows[rows.start];
    let mut end = rows.start + 1;
    let mut pitch = None;
    while end < rows.end {
        let r = g.rows[end];
        let Some(gap) = r.start.checked_sub(g.rows[end - 1].start) else {
            break;
        };
        if (r.count, r.div) != (r0.count, r0.div) || *pitch.get_or_insert(gap) != gap {
            break;
        }
        end += 1;
    }
    end
}

/// A run of output rows: the input offset of the first row's first input row, the distance
/// between a window's input rows and their number, the distance between the first input
/// rows of consecutive output rows, the number of output rows, the output offset of the
/// first.
struct Run {
    first: usize,
    step: usize,
    count: usize,
    pitch: usize,
    rows: usize,
    out: usize,
}

/// The rows of a run with the fold `f`; `N` is the run's count of input rows when a
/// compile-time constant (the loads unroll), else 0. Returns whether `f` raised its flag.
#[inline(always)]
fn run_rows<S: Simd, F: Fold<S>, const N: usize>(
    s: S,
    ow: usize,
    src: &[f32],
    dst: &mut [f32],
    r: &Run,
    f: F,
) -> bool {
    let l = S::LANES;
    let n = if N == 0 { r.count } else { N };
    let mut flag = s.none();
    let y = &mut dst[r.out..r.out + r.rows * ow];
    if n == 0 {
        // Windows entirely in the padding: nothing to read (their row offset is meaningless).
        let v = f.end(s, f.start(s));
        for at in (0..r.rows * ow).step_by(l) {
            super::store_part(s, &mut y[at..(at + l).min(r.rows * ow)], v);
        }
        return false;
    }
    // The last input row of the run: every row read lies at or before it.
    let last = r.first + (r.rows - 1) * r.pitch + (n - 1) * r.step;
    assert!(last + 2 * ow <= src.len());
    for k in 0..r.rows {
        let first = r.first + k * r.pitch;
        let yk = &mut y[k * ow..][..ow];
        if ow < l {
            let v = if first + (n - 1) * r.step + 2 * l <= src.len() {
                // SAFETY: every input row's 2·LANES elements lie inside src (checked).
                unsafe { block::<S, F, N>(s, src.as_ptr().add(first), r, f, &mut flag) }
            } else {
                let mut acc = f.start(s);
                for i in 0..n {
                    let row = &src[first + i * r.step..][..2 * ow];
                    // SAFETY: row holds 2·ow < 2·LANES elements.
                    let (e, o) = unsafe { s.load_deinterleave_n(row.as_ptr(), 2 * ow, 0.0) };
                    acc = f.row(s, acc, e, o, &mut flag);
                }
                acc
            };
            super::store_part(s, yk, f.end(s, v));
            continue;
        }
        let mut ox0 = 0;
        while ox0 < ow {
            let at = ox0.min(ow - l);
            // SAFETY: columns 2·at .. 2·at + 2·LANES <= 2·ow of each input row of the window,
            // at or before `last` (2·ow inside src, asserted above); at + LANES <= ow.
            unsafe {
                let v = block::<S, F, N>(s, src.as_ptr().add(first + 2 * at), r, f, &mut flag);
                s.store(yk.as_mut_ptr().add(at), f.end(s, v));
            }
            ox0 += l;
        }
    }
    s.any(flag)
}

/// The accumulator of one block whose first tap is at `p`.
///
/// # Safety
/// `p + i·step .. + 2·LANES` readable for `i < count`.
#[inline(always)]
unsafe fn block<S: Simd, F: Fold<S>, const N: usize>(
    s: S,
    p: *const f32,
    r: &Run,
    f: F,
    flag: &mut S::M,
) -> S::V {
    let n = if N == 0 { r.count } else { N };
    let mut acc = f.start(s);
    for i in 0..n {
        // SAFETY: as the caller guarantees.
        let (e, o) = unsafe { s.load_deinterleave(p.add(i * r.step)) };
        acc = f.row(s, acc, e, o, flag);
    }
    acc
}
