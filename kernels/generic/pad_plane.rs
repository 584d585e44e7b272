//! The padded-plane scheme (NCHW, unit strides, planes of up to a few thousand elements):
//! average pooling, and max pooling without indices.
//!
//! Rows of 35 or 20 columns waste a third of their lanes in row blocks of 16, and their
//! border blocks need lane masks; small planes also pay per-row bookkeeping for little
//! arithmetic. Here each input plane is copied once into a stack array whose rows are
//! `pitch = ow + (kw − 1)·dw` wide, surrounded by the padding value (+0.0 for averages, −∞ for
//! max): input row `h` lands at copy row `h + pt − rows.start`, column `pl`. The padding cells
//! are written once per job; each plane only overwrites the input cells. With unit strides,
//! output `(oy, ox)` of the job then reads tap `(i, j)` at flat position
//! `z + i·dh·pitch + j·dw` of the copy, `z = (oy − rows.start)·pitch + ox`, whatever the
//! output's position in the plane: the whole job is one sweep of vectors of `LANES`
//! consecutive flat positions, with no masks and no border cases (the `(kw − 1)·dw` positions
//! past each row's outputs are computed and dropped). The results are written at the same
//! pitch and copied out row by row, except where column strips write the output rows directly
//! (square windows of 2, 3 or 5 rows with `dh = 1`): a strip of `L` output columns walks down the
//! copy, each row loaded once and kept in registers for every output row whose window holds it
//! (see [`strips`] and [`avg_strips`]).
//!
//! * Average: every output sums its `kh·kw` taps in row-major order from +0.0, the padding
//!   adding +0.0 (an identity: a sum that starts at +0.0 is never −0.0, see `avg_nchw`), then
//!   divides by its divisor: row factor times column factor (both small integers, so the
//!   product is the reference's divisor exactly), from a table made once per job at the same
//!   pitch, or per strip. Bit-identical to the reference.
//! * Max, values only: a horizontal sweep folds each position's `kw` taps, then a vertical
//!   sweep folds `kh` of those results `dh·pitch` apart, both with the fast step (associative
//!   and exact without NaN, see `max_nchw`); from `DBL_MIN` taps a sweep doubles instead (see
//!   [`fold`]). The copy tests every input vector for NaN; a plane with one is left to the
//!   caller to redo exactly.
//!
//! Planes are pipelined: plane `p + 1` is copied in before plane `p` is swept, and plane `p`
//! copied out after plane `p + 1` is swept, so the unaligned loads of a sweep never read
//! elements still in flight from the stores that wrote them.

use core::mem::MaybeUninit;
use core::ops::Range;

use crate::geom::WindowGeom;
use crate::kernels::vector::Simd;

/// Elements of the padded copy, of the flat results and of the divisor table (each a stack
/// array); a job whose copy (plus two vectors of slack) or results (plus one) would not fit
/// runs the row schemes.
pub(super) const BUF: usize = 2048;
/// Elements of the stack area [`max`] carves its six arrays from.
pub(super) const MAX_AREA: usize = 6 * BUF;

/// One job's layout in the stack arrays.
#[derive(Clone, Debug)]
pub(super) struct Pad {
    /// Pitch of the copy and of the results: `ow + (kw − 1)·dw`.
    pitch: usize,
    /// The job's output rows.
    rows: Range<usize>,
    /// Rows of the copy: the job's output rows and the `(kh − 1)·dh` below the last.
    xrows: usize,
    /// Flat result positions swept: `(rows − 1)·pitch + ow`.
    n: usize,
}

/// The layout for output rows `rows` of `g`, or `None` when the scheme does not apply (a
/// stride other than 1, adaptive pooling, right or bottom padding below 0, or too large).
pub(super) fn layout<S: Simd>(g: &WindowGeom, rows: &Range<usize>) -> Option<Pad> {
    let l = S::LANES;
    if g.kh == 0 || g.sh != 1 || g.sw != 1 || rows.is_empty() || g.ow == 0 {
        return None;
    }
    let pitch = g.ow.checked_add((g.kw - 1).checked_mul(g.dw)?)?;
    let xrows = rows.len().checked_add((g.kh - 1).checked_mul(g.dh)?)?;
    // Every input column must land inside a copy row (right padding >= 0); `copy_in` copies
    // only the input rows that land inside the copy, which are all the job reads.
    if g.pl.checked_add(g.iw)? > pitch {
        return None;
    }
    let copy = xrows.checked_mul(pitch)?.checked_add(2 * l)?;
    let out = rows.len().checked_mul(pitch)?.checked_add(l)?;
    if copy > BUF || out > BUF {
        return None;
    }
    Some(Pad {
        pitch,
        rows: rows.clone(),
        xrows,
        n: (rows.len() - 1) * pitch + g.ow,
    })
}

/// The start of the sweep's `k`-th vector: `k·L`, the last moved back to end at `n` (or 0 when
/// fewer than `L` positions are swept: its lanes past `n` are computed and dropped).
#[inline(always)]
pub(super) fn at(l: usize, n: usize, z: usize) -> usize {
    if n >= l { z.min(n - l) } else { 0 }
}

/// Fills the copy `xb[0 .. xrows·pitch + 2L)` with the padding value.
///
/// # Safety
/// `xb[0 .. xrows·pitch + 2L)` writable (`layout` checked it fits `BUF`).
#[inline(always)]
unsafe fn fill<S: Simd>(s: S, pad: &Pad, xb: *mut f32, v: f32) {
    let end = pad.xrows * pad.pitch + 2 * S::LANES;
    let mut z = 0;
    while z + S::LANES <= end {
        // SAFETY: z + L <= end (caller).
        unsafe { s.store(xb.add(z), s.splat(v)) };
        z += S::LANES;
    }
    // SAFETY: end − L >= 0 and end writable (caller).
    unsafe { s.store(xb.add(end - S::LANES), s.splat(v)) };
}

/// Copies the input rows of plane `x` that the job reads into the copy `xb` (see the module
/// documentation), top to bottom. Rows narrower than `L` are loaded with `pad` in the missing
/// lanes and stored whole: the extra lanes land on padding cells or on the next row's cells,
/// which its own copy rewrites after. With `NAN`, returns the lanes where an input element
/// is NaN (else no lanes).
///
/// # Safety
/// `x` holds the plane (`ih·iw` readable); `xb` is the job's copy (`fill`ed).
#[inline(always)]
unsafe fn copy_in<S: Simd, const NAN: bool>(
    s: S,
    g: &WindowGeom,
    pad: &Pad,
    x: *const f32,
    xb: *mut f32,
    fill: f32,
) -> S::M {
    let (l, iw) = (S::LANES, g.iw);
    // Copy rows lr hold padded rows rows.start + lr, input row h = rows.start + lr − pt.
    let h0 = pad.rows.start.saturating_sub(g.pt);
    let h1 = (pad.rows.start + pad.xrows).saturating_sub(g.pt).min(g.ih);
    let mut nan = s.none();
    for h in h0..h1 {
        // SAFETY: h < ih: the row lies in the plane (caller). Its copy row lr = h + pt −
        // rows.start < xrows (h1), at columns pl .. pl + iw <= pitch (layout): the stores end
        // by (xrows − 1)·pitch + pl + max(iw, L) <= xrows·pitch + L, inside the copy.
        unsafe {
            let src = x.add(h * iw);
            let dst = xb.add((h + g.pt - pad.rows.start) * pad.pitch + g.pl);
            if iw < l {
                let v = s.load_n(src, iw, fill);
                if NAN {
                    nan = s.or(nan, s.is_nan(v));
                }
                s.store(dst, v);
                continue;
            }
            if iw <= 2 * l {
                // Two vectors, the second ending at the row's end (overlapping the first):
                // one compare tests both, no loop.
                let (a, b) = (s.load(src), s.load(src.add(iw - l)));
                if NAN {
                    nan = s.or(nan, s.unord(a, b));
                }
                s.store(dst, a);
                s.store(dst.add(iw - l), b);
                continue;
            }
            let mut c = 0;
            while c < iw {
                let c0 = c.min(iw - l);
                let v = s.load(src.add(c0));
                if NAN {
                    nan = s.or(nan, s.is_nan(v));
                }
                s.store(dst.add(c0), v);
                c += l;
            }
        }
    }
    nan
}

/// Copies the results `ob` (rows at `pitch`) to the output rows `y` (rows of `ow`).
///
/// # Safety
/// `ob[0 .. n)` written, `y[0 .. rows·ow)` writable.
#[inline(always)]
unsafe fn copy_out<S: Simd>(s: S, g: &WindowGeom, pad: &Pad, ob: *const f32, y: *mut f32) {
    let (l, ow) = (S::LANES, g.ow);
    for r in 0..pad.rows.len() {
        // SAFETY: as the caller guarantees.
        unsafe {
            let (src, dst) = (ob.add(r * pad.pitch), y.add(r * ow));
            if ow < l {
                s.store_n(dst, ow, s.load_n(src, ow, 0.0));
                continue;
            }
            let mut c = 0;
            while c < ow {
                let c0 = c.min(ow - l);
                s.store(dst.add(c0), s.load(src.add(c0)));
                c += l;
            }
        }
    }
}

/// Average pooling of the job's `planes` planes (output rows `pad.rows` of each) by the
/// padded-plane scheme. `KH`/`KW` fix the window (0: from `g`).
#[inline(always)]
pub(super) fn avg<S: Simd, const KH: usize, const KW: usize>(
    s: S,
    g: &WindowGeom,
    pad: &Pad,
    (src, dst, planes): (&[f32], &mut [f32], usize),
) {
    let (plane_in, plane_out) = (g.ih * g.iw, pad.rows.len() * g.ow);
    assert!(src.len() >= planes * plane_in && dst.len() >= planes * plane_out);
    assert!(pad.xrows * pad.pitch + 2 * S::LANES <= BUF && pad.pitch >= g.ow);
    assert!(pad.rows.len() * pad.pitch + S::LANES <= BUF && pad.rows.end <= g.oh);
    if planes == 0 {
        return;
    }
    let mut area = Area::new();
    let (xs, os, db) = area.split();
    // Column strips (3×3 and 2×2 windows, dh = 1) need only the column factors.
    let strips = KH != 0 && g.dh == 1;
    // SAFETY: each array holds BUF elements, enough for this layout (asserted above).
    unsafe {
        divisors(s, g, pad, (!strips).then_some(db), os[0]);
        fill(s, pad, xs[0], 0.0);
        fill(s, pad, xs[1], 0.0);
    }
    // Plane p is copied in while plane p − 1 is swept, and copied out after plane p + 1 is
    // swept: loads never wait on the stores that wrote their (differently aligned) elements.
    // SAFETY: plane p's input src[p·plane_in ..][.. plane_in] and output rows
    // dst[p·plane_out ..][.. plane_out] lie in the slices (asserted above); the sweep reads a
    // copy below (n − 1) + (kh − 1)·dh·pitch + (kw − 1)·dw + L <= xrows·pitch + L and writes
    // its results below max(n, L) <= rows·pitch + L.
    unsafe {
        let x = |p: usize| src.as_ptr().add(p * plane_in);
        let y = dst.as_mut_ptr();
        let _ = copy_in::<S, false>(s, g, pad, x(0), xs[0], 0.0);
        if strips {
            // Column strips straight into the output rows; os[0] holds the column factors.
            for p in 0..planes {
                if p + 1 < planes {
                    let _ = copy_in::<S, false>(s, g, pad, x(p + 1), xs[(p + 1) % 2], 0.0);
                }
                avg_strips::<S, KH, KW>(s, g, pad, xs[p % 2], os[0], y.add(p * plane_out));
            }
            return;
        }
        for p in 0..planes {
            if p + 1 < planes {
                let _ = copy_in::<S, false>(s, g, pad, x(p + 1), xs[(p + 1) % 2], 0.0);
            }
            avg_sweep::<S, KH, KW>(s, g, pad, xs[p % 2], db, os[p % 2]);
            if p > 0 {
                copy_out(s, g, pad, os[(p - 1) % 2], y.add((p - 1) * plane_out));
            }
        }
        copy_out(
            s,
            g,
            pad,
            os[(planes - 1) % 2],
            y.add((planes - 1) * plane_out),
        );
    }
}

/// A job's stack arrays, uninitialized (every element is written before it is read: `fill`
/// writes the whole copies, `divisors` every divisor the sweep reads and the column factors
/// it reads itself, the sweeps every result `copy_out` reads), 64-byte aligned: two copies,
/// two result arrays (plane `p` uses the pair `p mod 2`), and a table.
#[repr(align(64))]
struct Area([MaybeUninit<f32>; 5 * BUF]);

impl Area {
    #[inline(always)]
    fn new() -> Self {
        Area([MaybeUninit::uninit(); 5 * BUF])
    }

    /// The copies, the result arrays and the table.
    #[inline(always)]
    fn split(&mut self) -> ([*mut f32; 2], [*mut f32; 2], *mut f32) {
        let b = self.0.as_mut_ptr().cast::<f32>();
        let at = |k: usize| b.wrapping_add(k * BUF);
        ([at(0), at(1)], [at(2), at(3)], at(4))
    }
}

/// The divisor of every result position of the job (`db`, at the results' pitch; 1.0 past
/// each row's outputs), written up to `(rows − 1)·pitch + wide >= max(n, L)`, `wide` the pitch
/// rounded up to `L`: the row factor times the column factor, or the override. `cb` receives
/// the column factors (`wide` of them); without `db` nothing else is written.
///
/// # Safety
/// `db` and `cb` hold `rows·pitch + L` elements.
#[inline(always)]
unsafe fn divisors<S: Simd>(s: S, g: &WindowGeom, pad: &Pad, db: Option<*mut f32>, cb: *mut f32) {
    let (l, pitch) = (S::LANES, pad.pitch);
    let wide = pitch.next_multiple_of(l);
    for x in 0..wide {
        let d = match g.divisor_override {
            Some(d) => d as f32,
            None if x < g.ow => g.cols[x].div as f32,
            None => 1.0,
        };
        // SAFETY: wide <= pitch + L <= rows·pitch + L.
        unsafe { *cb.add(x) = d };
    }
    let Some(db) = db else { return };
    for (r, oy) in pad.rows.clone().enumerate() {
        let rd = match g.divisor_override {
            Some(_) => 1.0,
            None => g.rows[oy].div as f32,
        };
        let mut x = 0;
        while x < wide {
            // SAFETY: r·pitch + x + L <= (rows − 1)·pitch + wide < rows·pitch + L; the lanes
            // past the row are rewritten by the next row.
            unsafe { s.store(db.add(r * pitch + x), s.mul(s.splat(rd), s.load(cb.add(x)))) };
            x += l;
        }
    }
}

/// The average sweep with `dh = 1` (`KH` rows, fixed) as column strips straight into the
/// output rows `y`: a strip of `L` outputs (at `0, L, ..`, the last moved back to end at `ow`;
/// one partly stored strip when `ow < L`) walks down the copy's rows; each row's `kw` tap
/// vectors are loaded once and added to the sums of the `KH` output rows whose windows hold
/// that row (a ring of `KH` sums in registers, slot `o mod KH` for output row `o`). Every sum
/// still takes its taps in row-major order from +0.0; an output row's sum is divided when its
/// last row is in. `kw` loads per output vector instead of `kh·kw`, and no result array.
///
/// # Safety
/// `xb` is the filled copy; `cb[0 .. max(ow, L))` the column factors (see [`divisors`]);
/// `y[0 .. rows·ow)` writable.
#[inline(always)]
unsafe fn avg_strips<S: Simd, const KH: usize, const KW: usize>(
    s: S,
    g: &WindowGeom,
    pad: &Pad,
    xb: *const f32,
    cb: *const f32,
    y: *mut f32,
) {
    // KH = 0 is instantiated but never runs (`avg` takes strips with KH >= 1 only).
    let kh = KH.clamp(1, 8);
    let kw = if KW == 0 { g.kw } else { KW };
    let (l, ow, pitch, dw) = (S::LANES, g.ow, pad.pitch, g.dw);
    let (rows, total) = (pad.rows.len(), pad.xrows);
    let mut c = 0;
    while c < ow {
        let c0 = if ow >= l { c.min(ow - l) } else { 0 };
        // SAFETY: copy rows R < xrows at columns c0 + j·dw + L <= pitch (ow >= L), or into the
        // next row or the slack (ow < L: those lanes are not stored); cb below max(ow, L);
        // output rows o < rows at columns c0 .. c0 + min(L, ow).
        unsafe {
            let cd = s.load(cb.add(c0));
            let col = xb.add(c0);
            let mut acc = [s.splat(0.0); 8];
            let mut r = 0;
            while r < total {
                // Unrolled over u (kh is a constant), so every ring slot index is one too.
                for u in 0..kh {
                    let row = r + u;
                    if row >= total {
                        break;
                    }
                    if row < rows {
                        acc[u % kh] = s.splat(0.0);
                    }
                    let taps = col.add(row * pitch);
                    for j in 0..kw {
                        let t = s.load(taps.add(j * dw));
                        // Window row i of output row − i.
                        for i in 0..kh {
                            if row >= i && row - i < rows {
                                let k = (u + kh - i) % kh;
                                acc[k] = s.add(acc[k], t);
                            }
                        }
                    }
                    if row + 1 >= kh && row + 1 - kh < rows {
                        let o = row + 1 - kh;
                        let rd = match g.divisor_override {
                            Some(_) => 1.0,
                            None => g.rows[pad.rows.start + o].div as f32,
                        };
                        let v = s.div(acc[(u + 1) % kh], s.mul(s.splat(rd), cd));
                        if ow >= l {
                            s.store(y.add(o * ow + c0), v);
                        } else {
                            s.store_n(y.add(o * ow), ow, v);
                        }
                    }
                }
                r += kh;
            }
        }
        c += l;
    }
}

/// The average sweep: `ob[z] = (Σ taps of z, row-major from +0.0) / db[z]` for every vector
/// start of [`at`] over `pad.n` positions, four vectors at a time (independent chains).
///
/// # Safety
/// `xb` is the filled copy, `db` the divisors, `ob` the results (see [`avg`]).
#[inline(always)]
unsafe fn avg_sweep<S: Simd, const KH: usize, const KW: usize>(
    s: S,
    g: &WindowGeom,
    pad: &Pad,
    xb: *const f32,
    db: *const f32,
    ob: *mut f32,
) {
    const G: usize = 4;
    let (l, n) = (S::LANES, pad.n);
    let kh = if KH == 0 { g.kh } else { KH };
    let kw = if KW == 0 { g.kw } else { KW };
    let (rstep, cstep) = (g.dh * pad.pitch, g.dw);
    let mut z = 0;
    while z + G * l <= n {
        let mut acc = [s.splat(0.0); G];
        for i in 0..kh {
            for j in 0..kw {
                // SAFETY: as the caller guarantees.
                let p = unsafe { xb.add(z + i * rstep + j * cstep) };
                for (r, a) in acc.iter_mut().enumerate() {
                    // SAFETY: as the caller guarantees.
                    let v = unsafe { s.load(p.add(r * l)) };
                    *a = s.add(*a, v);
                }
            }
        }
        for (r, a) in acc.iter().enumerate() {
            // SAFETY: as the caller guarantees.
            unsafe {
                let o = z + r * l;
                s.store(ob.add(o), s.div(*a, s.load(db.add(o))));
            }
        }
        z += G * l;
    }
    while z < n {
        let o = at(l, n, z);
        let mut acc = s.splat(0.0);
        for i in 0..kh {
            for j in 0..kw {
                // SAFETY: as the caller guarantees.
                acc = s.add(acc, unsafe { s.load(xb.add(o + i * rstep + j * cstep)) });
            }
        }
        // SAFETY: as the caller guarantees.
        unsafe { s.store(ob.add(o), s.div(acc, s.load(db.add(o)))) };
        z += l;
    }
}

/// Max pooling without indices of the job's `planes` planes (output rows `pad.rows` of each)
/// by the padded-plane scheme, with the fast step. Stops at the first plane holding a NaN and
/// returns its number, the planes before it done (the caller redoes it exactly and resumes
/// after it); `None` when every plane is done. `KH`/`KW` fix the window (0: from `g`). The
/// arrays are carved from `area` (the caller's stack area, shared with the row schemes, so the
/// entry point's frame holds one area, not two).
///
/// # Safety
/// `area[0 .. MAX_AREA)` is writable and overlaps neither slice.
#[inline(always)]
pub(super) unsafe fn max<S: Simd, const KH: usize, const KW: usize>(
    s: S,
    g: &WindowGeom,
    pad: &Pad,
    (src, dst, planes): (&[f32], &mut [f32], usize),
    area: *mut f32,
) -> Option<usize> {
    let l = S::LANES;
    let (plane_in, plane_out) = (g.ih * g.iw, pad.rows.len() * g.ow);
    assert!(src.len() >= planes * plane_in && dst.len() >= planes * plane_out);
    assert!(pad.xrows * pad.pitch + 2 * l <= BUF && pad.pitch >= g.ow);
    assert!(pad.rows.len() * pad.pitch + l <= BUF && pad.rows.end <= g.oh);
    if planes == 0 {
        return None;
    }
    // Six arrays of BUF: two copies, two result arrays, the horizontal results, the doubling's
    // second array (the caller guarantees MAX_AREA = 6·BUF elements).
    let at = |k: usize| area.wrapping_add(k * BUF);
    let (xs, os, hb, tb) = ([at(0), at(1)], [at(2), at(3)], at(4), at(5));
    // The horizontal sweep covers every position the vertical one reads (see `max_sweeps`):
    // every row of the copy up to column max(ow, L).
    let nh = (pad.xrows - 1) * pad.pitch + g.ow.max(l);
    // Column strips (`strips`, or `runs` for taller windows where they pay) write the
    // output rows directly.
    let by_runs = KH == 0 && KW == 0 && g.dh == 1 && runs_pay(g.kh, g.ow, l);
    let direct = (KH != 0 && g.dh == 1) || by_runs;
    // SAFETY: each array holds BUF elements, enough for this layout (asserted above).
    unsafe {
        fill(s, pad, xs[0], NEG);
        fill(s, pad, xs[1], NEG);
    }
    // Pipelined as in `avg`.
    // SAFETY: plane p's input src[p·plane_in ..][.. plane_in] and output rows
    // dst[p·plane_out ..][.. plane_out] lie in the slices (asserted above); the sweeps stay
    // inside the arrays (see `max_sweeps`).
    unsafe {
        let x = |p: usize| src.as_ptr().add(p * plane_in);
        let y = dst.as_mut_ptr();
        if s.any(copy_in::<S, true>(s, g, pad, x(0), xs[0], NEG)) {
            return Some(0);
        }
        for p in 0..planes {
            let nan_next = p + 1 < planes
                && s.any(copy_in::<S, true>(
                    s,
                    g,
                    pad,
                    x(p + 1),
                    xs[(p + 1) % 2],
                    NEG,
                ));
            if direct {
                fold::<S, KW>(s, (xs[p % 2], hb, tb), nh, g.kw, g.dw);
                let (rows, yp) = ((pad.pitch, pad.rows.len()), y.add(p * plane_out));
                if !by_runs {
                    strips::<S, KH>(s, g, rows, hb, yp);
                } else if !runs_any(s, g.kh, g.ow, rows, hb, yp) {
                    // runs_pay takes only the heights runs_any folds.
                    unreachable!("no runs for {} rows", g.kh);
                }
                if nan_next {
                    return Some(p + 1);
                }
                continue;
            }
            max_sweeps::<S, KH, KW>(s, g, pad, nh, (xs[p % 2], hb, os[p % 2], tb));
            if p > 0 {
                copy_out(s, g, pad, os[(p - 1) % 2], y.add((p - 1) * plane_out));
            }
            if nan_next {
                copy_out(s, g, pad, os[p % 2], y.add(p * plane_out));
                return Some(p + 1);
            }
        }
        if direct {
            return None;
        }
        copy_out(
            s,
            g,
            pad,
            os[(planes - 1) % 2],
            y.add((planes - 1) * plane_out),
        );
    }
    None
}

/// −∞: the padding of max pooling.
const NEG: f32 = f32::NEG_INFINITY;

/// The max sweeps of one plane: horizontally `hb[z] = f` over `xb[z + j·dw]`, `j < kw`, for
/// the vector starts of [`at`] over `nh = max(n, L) + (kh − 1)·dh·pitch` positions (reading the
/// copy below `nh − 1 + (kw − 1)·dw + 1 <= xrows·pitch + L`); then vertically `ob[z] = f` over
/// `hb[z + i·dh·pitch]`, `i < kh`, over `n` positions (reading `hb` below `nh`, all written).
/// `f(a, b)` is `s.max(b, a)`, the later tap first.
///
/// # Safety
/// `xb` is the filled copy; `hb` and `ob` hold `BUF` elements (`nh <= xrows·pitch + L`).
#[inline(always)]
unsafe fn max_sweeps<S: Simd, const KH: usize, const KW: usize>(
    s: S,
    g: &WindowGeom,
    pad: &Pad,
    nh: usize,
    (xb, hb, ob, tb): (*const f32, *mut f32, *mut f32, *mut f32),
) {
    // SAFETY: as the caller guarantees.
    unsafe {
        fold::<S, KW>(s, (xb, hb, tb), nh, g.kw, g.dw);
        fold::<S, KH>(s, (hb, ob, tb), pad.n, g.kh, g.dh * pad.pitch);
    }
}

/// The vertical sweep with `dh = 1` (`KH` rows, fixed), straight into the output rows `y`:
/// column strips of `L` outputs (at `0, L, ..`, the last moved back to end at `ow`; one
/// partly stored strip when `ow < L`) walk down the rows, each row of horizontal results
/// loaded once and kept in registers for the `KH` outputs that fold it: one load and `KH − 1`
/// steps per output vector (three for `KH = 5`, from the pair maxima of adjacent rows), no
/// result array, no copy out. `hb` holds `rows + KH − 1` rows at `pitch >= ow` (this scheme's
/// copy pitch, or `ow` for the compact-plane scheme's row arrays); output row `r` folds rows
/// `r .. r + KH`.
///
/// # Safety
/// `hb` holds the horizontal results of rows `0 .. rows + KH − 1` at columns below `max(ow, L)`
/// (`nh` here; the compact scheme's slack past its last row when `ow < L`); `y[0 .. rows·ow)`
/// writable.
#[inline(always)]
pub(super) unsafe fn strips<S: Simd, const KH: usize>(
    s: S,
    g: &WindowGeom,
    (pitch, rows): (usize, usize),
    hb: *const f32,
    y: *mut f32,
) {
    // KH = 0 is instantiated but never runs (`max` takes strips with KH >= 1 only).
    let kh = KH.clamp(1, 8);
    let (l, ow) = (S::LANES, g.ow);
    let mut c = 0;
    while c < ow {
        let c0 = if ow >= l { c.min(ow - l) } else { 0 };
        // SAFETY: copy row r, column c0 + L <= max(ow, L): inside what the caller guarantees;
        // output row r, columns c0 .. c0 + min(L, ow).
        unsafe {
            let col = hb.add(c0);
            if KH == 5 {
                // Pair maxima instead of a ring of rows (three steps per output, not four).
                let mut win = super::Rows5::new(s.splat(NEG));
                for t in 0..rows + 4 {
                    let acc = win.push(s, s.load(col.add(t * pitch)));
                    if t >= 4 {
                        // The window of copy rows t − 4 ..= t: output row t − 4.
                        put(s, y.add((t - 4) * ow + c0), ow, acc);
                    }
                }
                c += l;
                continue;
            }
            // A ring of the last kh rows, slot (row mod kh): the loop over u is unrolled (kh
            // is a constant), so every slot index is too and the ring stays in registers.
            let mut win = [s.splat(NEG); 8];
            for (t, w) in win.iter_mut().enumerate().take(kh - 1) {
                *w = s.load(col.add(t * pitch));
            }
            let mut r = 0;
            while r < rows {
                for u in 0..kh {
                    if r + u >= rows {
                        break;
                    }
                    // Output row r + u folds copy rows r + u .. r + u + kh, in slots (u + t)
                    // mod kh; the last one is loaded now.
                    win[(u + kh - 1) % kh] = s.load(col.add((r + u + kh - 1) * pitch));
                    let mut acc = win[u % kh];
                    for t in 1..kh {
                        acc = s.max(win[(u + t) % kh], acc);
                    }
                    put(s, y.add((r + u) * ow + c0), ow, acc);
                }
                r += kh;
            }
        }
        c += l;
    }
}

/// Whether the vertical pass by runs ([`runs`]) beats the flat one for windows of `kh` rows
/// on rows `w` wide. The runs' column strips compute `lanes` lanes per row of `w`
/// outputs (strips at `0, L, ..`, the last moved back; one partly stored strip when `w < L`);
/// they pay while that waste stays below 1.9× (1.6× for 4 rows, where the flat pass's taps
/// are few). Measured on 1×512 planes, one thread, runs against flat: 13×13 on 20×20 96 vs
/// 124 µs, on 20×17 94 vs 113; 7×7 on 20×20 77 vs 91; 4×4 on 20×20 70 vs 71, on 10×10 21 vs
/// 23; but 7×7 on 8×8 (2×) 16.0 vs 14.8 and 4×4 on 5×5 (3.2×) 12.0 vs 10.4 (AVX-512,
/// compact-plane scheme). False for the heights [`runs_any`] does not fold.
pub(super) fn runs_pay(kh: usize, w: usize, l: usize) -> bool {
    let lanes = if w >= l { w.div_ceil(l) * l } else { l };
    matches!(kh, 4 | 6..=16) && 10 * lanes <= w * if kh == 4 { 16 } else { 19 }
}

/// Whether the scheme beats van Herk's rows (the row schemes) on windows of six rows or more:
/// where its vertical pass runs in registers ([`runs_pay`]), and on 4-lane tiers only below
/// `DBL_MIN` columns, from which its horizontal pass doubles by sweeps over the copy. 1×512×
/// 20×20, one thread, van Herk against this scheme: AVX2 7×7 244 vs 116 µs, 9×9 209 vs 161,
/// 13×13 216 vs 196; SSE2 7×7 366 vs 175, but 9×9 254 vs 299 and 13×13 274 vs 366.
pub(super) fn tall_pays<S: Simd>(g: &WindowGeom) -> bool {
    g.dh == 1 && runs_pay(g.kh, g.ow, S::LANES) && (S::LANES >= 8 || g.kw < DBL_MIN)
}

/// The vertical pass by [`runs`] for heights 4 and 6 to 16 (the others, 2, 3 and 5, have
/// [`strips`]); false (nothing done) for other heights.
///
/// # Safety
/// As [`strips`].
#[inline(always)]
pub(super) unsafe fn runs_any<S: Simd>(
    s: S,
    kh: usize,
    ow: usize,
    (pitch, rows): (usize, usize),
    hb: *const f32,
    y: *mut f32,
) -> bool {
    let a = (pitch, rows);
    // SAFETY: as the caller guarantees.
    unsafe {
        for_len!(kh; 4, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16;
            K => runs::<S, K>(s, ow, a, hb, y);
            _ => return false)
    }
    true
}

/// The vertical pass with `dh = 1` for tall windows (`K` rows, 4 and 6 to 16), straight into
/// the output rows `y`, by runs in registers (van Herk and Gil–Werman's idea): column strips as
/// in [`strips`] walk down the rows in blocks of `K`. A block's rows `b .. b + K` are folded
/// from the bottom up into suffixes `S[i] = f(row b + i, S[i + 1])`, kept in registers; output
/// row `b` is `S[0]`, and output row `b + j` is `f(S[j], P[j])` with `P[j]` the running prefix of
/// the next block's rows `b + K .. b + K + j`. Two loads (each row is loaded for its block's
/// suffix and again for the previous block's prefix), three steps and one store per output
/// vector, whatever `K` (13 rows on 20-wide planes: 2.2 loads, 2.9 steps per output vector
/// of the strips, where [`super::compact`]'s in-place doubling sweeps took eight loads and
/// four stores). The earlier rows stay on the left of `f` throughout, all its associativity
/// needs (see `max_nchw`). `hb` holds `rows + K − 1` rows at `pitch >= ow`.
///
/// # Safety
/// As [`strips`] with `KH = K`.
#[inline(always)]
unsafe fn runs<S: Simd, const K: usize>(
    s: S,
    ow: usize,
    (pitch, rows): (usize, usize),
    hb: *const f32,
    y: *mut f32,
) {
    let l = S::LANES;
    let mut c = 0;
    while c < ow {
        let c0 = if ow >= l { c.min(ow - l) } else { 0 };
        // SAFETY: rows b + i < rows + K − 1 (b < rows; the prefix stops at output row
        // rows − 1, which folds row rows + K − 2), columns c0 .. c0 + L <= max(ow, L): inside
        // what the caller guarantees; output rows below `rows`, columns c0 .. c0 + min(L, ow).
        unsafe {
            // Running pointers, one step of `pitch` (input) or `ow` (output) per row (indexing
            // every row from the strip's start made one pointer per row of the block, beyond
            // the registers); wrapping, as the last steps point past the arrays and are never
            // dereferenced.
            let mut top = hb.add(c0);
            let mut o = y.add(c0);
            let mut b = 0;
            while b < rows {
                // The steps, opaque to the optimizer once per block: with them known, it
                // strength-reduces every row of the unrolled block to a pointer of its own
                // (2·K of them, spilled to the stack: 13×13 on 20×20 planes 118 -> 96 µs
                // depending on which spills it picked).
                let (pitch, ow) = core::hint::black_box((pitch, ow));
                let mut sfx = [s.splat(NEG); K];
                let mut p = top.wrapping_add((K - 1) * pitch);
                sfx[K - 1] = s.load(p);
                for i in (0..K - 1).rev() {
                    p = p.wrapping_sub(pitch);
                    sfx[i] = s.max(sfx[i + 1], s.load(p));
                }
                put(s, o, ow, sfx[0]);
                o = o.wrapping_add(ow);
                p = top.wrapping_add(K * pitch);
                let mut pre = sfx[0];
                for (j, &sj) in sfx.iter().enumerate().skip(1) {
                    if b + j >= rows {
                        break;
                    }
                    let row = s.load(p);
                    p = p.wrapping_add(pitch);
                    pre = if j == 1 { row } else { s.max(row, pre) };
                    put(s, o, ow, s.max(pre, sj));
                    o = o.wrapping_add(ow);
                }
                top = top.wrapping_add(K * pitch);
                b += K;
            }
        }
        c += l;
    }
}

/// Stores an output vector of a column strip ([`strips`], [`runs`]): whole, or its first `ow`
/// lanes when the rows are narrower than a vector (the strip then starts at column 0).
///
/// # Safety
/// `p[0 .. min(L, ow))` writable.
#[inline(always)]
unsafe fn put<S: Simd>(s: S, p: *mut f32, ow: usize, v: S::V) {
    // SAFETY: as the caller guarantees.
    unsafe {
        if ow >= S::LANES {
            s.store(p, v)
        } else {
            s.store_n(p, ow, v)
        }
    }
}

/// Window length from which [`fold`] doubles instead of tapping.
const DBL_MIN: usize = 8;

/// `out[z] = f` over `src[z + t·step]`, `t < k`, for the vector starts of [`at`] over `n`
/// positions. Below `DBL_MIN` taps: `k` loads per vector (`K` fixes `k`, 0: the argument).
/// From it, by doubling (van Herk's idea for runs of maxima, done with whole sweeps): level
/// `i` holds at `z` the maximum of `2^i` positions from `z` (`m_i[z] = f(m_{i−1}[z],
/// m_{i−1}[z + 2^(i−1)·step])`), and the result is `f(m_q[z], m_q[z + (k − 2^q)·step])`,
/// `2^q <= k` the largest: `q + 1` sweeps of two loads, alternating between `out` and `tmp`
/// so that the last lands in `out` (level `i` computes the `c_i` positions the next reads:
/// `c_q = max(n, L) + (k − 2^q)·step`, `c_(i−1) = c_i + 2^(i−1)·step`, so level 1 reads
/// `src` below `c_0 = max(n, L) + (k − 1)·step`, as the taps would).
///
/// # Safety
/// `src` readable below `max(n, L) + (k − 1)·step`; `out` and `tmp` writable below that.
#[inline(always)]
unsafe fn fold<S: Simd, const K: usize>(
    s: S,
    (src, out, tmp): (*const f32, *mut f32, *mut f32),
    n: usize,
    k: usize,
    step: usize,
) {
    let (l, k) = (S::LANES, if K == 0 { k } else { K });
    if k < DBL_MIN {
        // SAFETY: as the caller guarantees.
        unsafe { taps::<S>(s, src, out, n, k, step) };
        return;
    }
    let q = (usize::BITS - 1 - k.leading_zeros()) as usize;
    let off = (k - (1 << q)) * step;
    let mut c = n.max(l) + off;
    // c_i for i = q down to 1 (at most 63 levels).
    let mut counts = [0usize; 64];
    for i in (1..=q).rev() {
        counts[i] = c;
        c += (1 << (i - 1)) * step;
    }
    // Pass j (level j + 1, then the result at j = q) writes out when q − j is even.
    let dst = |j: usize| if (q - j).is_multiple_of(2) { out } else { tmp };
    // SAFETY: level i reads the previous level below c_i + 2^(i−1)·step = c_(i−1), which it
    // wrote (src: below c_0, the caller's bound), and writes below c_i <= c_1 < c_0; the
    // result reads level q below max(n, L) + off = c_q.
    unsafe {
        let mut from = src;
        for (i, &count) in counts.iter().enumerate().take(q + 1).skip(1) {
            pair::<S>(s, from, dst(i - 1), count, (1 << (i - 1)) * step);
            from = dst(i - 1);
        }
        pair::<S>(s, from, out, n, off);
    }
}

/// `out[z] = f(src[z], src[z + w])` over `n` positions (vector starts of [`at`]).
///
/// # Safety
/// `src` readable below `max(n, L) + w`, `out` writable below `max(n, L)`; distinct arrays.
#[inline(always)]
unsafe fn pair<S: Simd>(s: S, src: *const f32, out: *mut f32, n: usize, w: usize) {
    let l = S::LANES;
    let mut z = 0;
    while z < n {
        let o = at(l, n, z);
        // SAFETY: as the caller guarantees.
        unsafe {
            s.store(
                out.add(o),
                s.max(s.load(src.add(o + w)), s.load(src.add(o))),
            )
        };
        z += l;
    }
}

/// [`fold`] by taps: `k` loads per vector, two vectors at a time.
///
/// # Safety
/// As [`fold`] (`out` only).
#[inline(always)]
pub(super) unsafe fn taps<S: Simd>(
    s: S,
    src: *const f32,
    out: *mut f32,
    n: usize,
    k: usize,
    step: usize,
) {
    let l = S::LANES;
    let mut z = 0;
    while z + 2 * l <= n {
        // SAFETY: as the caller guarantees.
        unsafe {
            let (mut a, mut b) = (s.load(src.add(z)), s.load(src.add(z + l)));
            for t in 1..k {
                let p = src.add(z + t * step);
                a = s.max(s.load(p), a);
                b = s.max(s.load(p.add(l)), b);
            }
            s.store(out.add(z), a);
            s.store(out.add(z + l), b);
        }
        z += 2 * l;
    }
    while z < n {
        let o = at(l, n, z);
        // SAFETY: as the caller guarantees.
        unsafe {
            let mut a = s.load(src.add(o));
            for t in 1..k {
                a = s.max(s.load(src.add(o + t * step)), a);
            }
            s.store(out.add(o), a);
        }
        z += l;
    }
}
