//! The compact-plane scheme (NCHW max pooling without indices, and average pooling: unit
//! strides and dilations, rows as wide as the input's, `ow = iw`, so left plus right padding
//! is `kw − 1`; planes of up to a few thousand elements: YOLO's SPPF, 3×3 "same" pooling).
//!
//! Rows of 20 or 35 columns leave a third of the lanes of row blocks idle, and a padded copy
//! (`pad_plane`) costs a copy and sweeps its padding columns. Here a plane is the flat array it
//! is: a vector holds `L` consecutive flat positions, whatever rows they belong to, and the
//! output, having the input's row width, is the same flat array.
//!
//! * Horizontal: `h[z] = f` over the taps `x[z + d]`, `d = −pl ..= kw − 1 − pl`: each input
//!   vector is loaded once, as the next of three rolling vectors `[prev, cur, next]`, and the
//!   taps are lane shifts of them (`Simd::permute2`, as in [`avg`]; `kw` unaligned loads per
//!   vector mostly cross a cache line, and such a load costs two: the pass took 60% of the
//!   scheme's time on YOLO's SPPF that way). A lane whose tap lies in another row (column
//!   `c + d` outside `0 .. iw`) skips it: a masked step, the lane columns `c` coming from a
//!   table of `z mod iw` made once per job. The centre tap comes first, then the left taps
//!   going left (each on the left of `f`), then the right ones going right (on the right): `f`
//!   is associative (see `max_nchw`), so this is the row-major fold. Results go to a row array
//!   that holds the job's padding rows (−∞, written once per job) around them. From
//!   [`DBL_KW`] columns the pass doubles runs instead ([`hdouble`]: `ceil(log2(p + 1))` masked
//!   steps per side of reach `p`, 3 + 3 for 13 columns where the taps are 12; 13×13 on
//!   1×512×20×20 161 -> 124 µs, 9×9 129 -> 119, 7×7 102 -> 87).
//! * Vertical: the row array has the output's row width, so the padded-plane scheme's column
//!   strips (`pad_plane::strips`: each row loaded once per strip and kept in registers for
//!   every output row that folds it) write the output rows directly for windows of 2, 3 or 5
//!   rows. Other heights (up to 16, as the widths) fold by runs down the same strips
//!   ([`pad_plane::runs`]: blocks of `kh` rows, suffixes in registers joined with the next
//!   block's running prefix, two loads, three `max` and one store per strip vector whatever
//!   `kh`; 13×13 on 1×512×20×20 124 -> 96 µs, 7×7 91 -> 77) where the strips' lanes cover
//!   the rows without much waste ([`pad_plane::runs_pay`]); elsewhere (rows of a few
//!   columns) the row array is doubled in place from `DBL_MIN` rows ([`vdouble`]:
//!   `log2(kh) + 1` sweeps) and lower windows fold `kh` loads per vector.
//!
//! Only tiers whose masked step is one instruction (`Simd::MASKED_STEPS`: AVX-512) take the
//! scheme; elsewhere a select and a max per tap cost more than the padded copy saves
//! (AVX2: 1×256×20×20 5×5, 41 µs padded, 47 µs compact).
//!
//! The planes are pipelined: plane `p + 1`'s horizontal pass runs before plane `p`'s vertical
//! one (two row arrays), so the vertical pass's unaligned loads never wait on the stores that
//! wrote them. Each input vector is tested for NaN once (its centre tap); a plane holding one
//! is left to the caller to redo exactly.
//!
//! Average pooling ([`avg`]) takes the same windows with one pass, as its sums must keep the
//! reference's row-major order (no separable split): each output vector adds its `kh·kw` taps
//! in order, the taps of a window row being lane shifts (`Simd::permute2`) of three rolling
//! vectors of that input row, so each input vector is loaded once per window row instead of
//! `kw` times unaligned. Inception's 1×192×35×35 3×3: 77 vectors per plane instead of the
//! padded scheme's 105 column-strip vectors, 98 -> 79 µs on one thread.

use core::mem::MaybeUninit;
use core::ops::Range;

use super::pad_plane;
use crate::geom::WindowGeom;
use crate::kernels::vector::Simd;

/// Elements of each stack array (two row arrays and the column table); a job whose row array
/// would not fit runs another scheme.
pub(super) const BUF: usize = 4096;
/// Elements of the stack area [`max`] carves its three arrays from.
pub(super) const AREA: usize = 3 * BUF;
/// Vectors of −∞ slack past the last row of each row array: strips of rows narrower than a
/// vector read one, and the vertical doubling's sweeps, each rounded up to whole vectors (at
/// most four levels), read up to four.
const SLACK: usize = 5;
/// Window height from which the vertical pass doubles (see [`vdouble`]) instead of folding
/// `kh` loads per vector.
const DBL_MIN: usize = 8;
/// The widest window the average scheme takes (taps are unrolled up to it).
const KMAX: usize = 8;
/// The widest window the max scheme takes (horizontal taps unrolled up to it; the vertical
/// pass folds any height).
const KMAX_MAX: usize = 16;

/// −∞: the padding of max pooling.
const NEG: f32 = f32::NEG_INFINITY;

/// One job's layout.
#[derive(Clone, Debug)]
pub(super) struct Compact {
    /// The job's output rows.
    rows: Range<usize>,
    /// Rows of the row array: output row `rows.start + r` folds rows `r .. r + kh`; row `t`
    /// holds input row `rows.start + t − pt`.
    hrows: usize,
    /// The rows of the row array that are input rows (the others are padding).
    lo: usize,
    /// End of those rows.
    hi: usize,
}

/// Whether the scheme takes output rows `rows` of `g` on this tier, sizes aside: masked steps,
/// unit strides and dilations, rows as wide as the input's, windows of up to `kmax` (and at
/// most a vector) per side with padding inside them.
fn takes<S: Simd>(g: &WindowGeom, rows: &Range<usize>, kmax: usize) -> bool {
    S::MASKED_STEPS
        && g.kh != 0
        && (g.sh, g.sw, g.dh, g.dw) == (1, 1, 1, 1)
        && g.ow == g.iw
        && g.kw <= kmax.min(S::LANES)
        && g.kh <= kmax
        && g.pl < g.kw
        && g.pt < g.kh
        && !rows.is_empty()
        && rows.end <= g.oh
}

/// The layout for output rows `rows` of `g`, or `None` when the scheme does not apply.
pub(super) fn layout<S: Simd>(g: &WindowGeom, rows: &Range<usize>) -> Option<Compact> {
    let l = S::LANES;
    if !takes::<S>(g, rows, KMAX_MAX) {
        return None;
    }
    let hrows = rows.len() + g.kh - 1;
    let lo = g.pt.saturating_sub(rows.start);
    let hi = hrows.min((g.ih + g.pt).checked_sub(rows.start)?);
    // Whole vectors in both passes (no plane narrower than a vector), and the row array fits
    // with a vector of slack (strips of rows narrower than a vector load whole vectors).
    if hi <= lo
        || (hi - lo).checked_mul(g.iw)? < l
        || rows.len().checked_mul(g.iw)? < l
        || hrows.checked_mul(g.iw)?.checked_add(SLACK * l)? > BUF
    {
        return None;
    }
    Some(Compact {
        rows: rows.clone(),
        hrows,
        lo,
        hi,
    })
}

/// Max pooling without indices of the job's `planes` planes (output rows `c.rows` of each)
/// with the fast step. Stops at the first plane holding a NaN and returns its number, the
/// planes before it done (the caller redoes it exactly and resumes after it); `None` when
/// every plane is done. `KH` fixes the window height (0: from `g`); `KW`, the caller's fixed
/// width, is not needed (the tap loops stop at `pl` and `pr`; bounding them by `KW` measured
/// no faster and made the stride-2 row code sharing the entry function stall).
///
/// # Safety
/// `area[0 .. AREA)` is writable and overlaps neither slice.
#[inline(always)]
pub(super) unsafe fn max<S: Simd, const KH: usize, const KW: usize>(
    s: S,
    g: &WindowGeom,
    c: &Compact,
    (src, dst, planes): (&[f32], &mut [f32], usize),
    area: *mut f32,
) -> Option<usize> {
    let (l, w) = (S::LANES, g.iw);
    let (plane_in, plane_out) = (g.ih * w, c.rows.len() * w);
    assert!(src.len() >= planes * plane_in && dst.len() >= planes * plane_out);
    assert!(c.hrows * w + SLACK * l <= BUF && c.lo < c.hi && c.hi <= c.hrows && c.rows.end <= g.oh);
    assert!((c.hi - c.lo) * w >= l && plane_out >= l && g.kw <= KMAX_MAX && g.kh <= KMAX_MAX);
    assert!(c.hrows == c.rows.len() + g.kh - 1 && g.ow == w && g.pl < g.kw);
    if planes == 0 {
        return None;
    }
    let at_k = |k: usize| area.wrapping_add(k * BUF);
    let (hb, ct) = ([at_k(0), at_k(1)], at_k(2));
    let nh = (c.hi - c.lo) * w;
    // The column table, and in each row array the padding rows and the slack past the last
    // row: written once per job (the vertical doubling restores the top rows it overwrites);
    // the horizontal pass writes the rest (rows lo .. hi) of every plane.
    // SAFETY: every array holds BUF >= hrows·w + SLACK·L >= nh + L elements (asserted
    // above).
    unsafe {
        // Up to a whole vector past nh: the doubling pass's masks take the last vector's.
        for t in 0..nh + l {
            *ct.add(t) = (t % w) as f32;
        }
        for b in hb {
            for t in (0..c.lo * w).chain(c.hi * w..c.hrows * w + SLACK * l) {
                *b.add(t) = NEG;
            }
        }
    }
    let taps = HTaps::new(s, g);
    // Wide windows double, with their step masks made once per job.
    let mut masks = MaskTable([MaybeUninit::uninit(); MASK_BYTES]);
    let mk = masks.0.as_mut_ptr().cast::<S::M>();
    let dbl = if KH == 0 && KW == 0 {
        Doubling::new(s, g, nh)
    } else {
        None
    };
    if let Some(d) = &dbl {
        // SAFETY: ct holds nh + L >= nv·L columns (written above); Doubling::new checked
        // that the table fits MASK_BYTES.
        unsafe { step_masks(s, d, ct, nh, mk) };
    }
    // Tall windows fold by runs where their column strips do not waste too many lanes (only
    // the generic instantiation carries them, as the horizontal doubling).
    let by_runs = KH == 0 && KW == 0 && pad_plane::runs_pay(g.kh, w, l);
    // The input rows the job reads start at row `first` of the plane.
    let first = c.rows.start + c.lo - g.pt;
    // SAFETY: plane p's input src[p·plane_in ..][.. plane_in] and output rows
    // dst[p·plane_out ..][.. plane_out] lie in the slices (asserted above). The horizontal
    // pass reads the plane's rows first .. first + hi − lo < ih (layout: hi <= ih + pt −
    // rows.start) and writes rows lo .. hi of a row array (nh positions from lo·w); the
    // vertical one reads rows 0 .. hrows of it (plus, for strips of rows narrower than L,
    // the slack) and writes the plane's rows·w outputs.
    unsafe {
        let x = |p: usize| src.as_ptr().add(p * plane_in);
        let y = dst.as_mut_ptr();
        let hw = |p: usize| hb[p % 2].add(c.lo * w);
        let hp = (
            &taps,
            &dbl,
            first * w,
            nh,
            (ct.cast_const(), mk.cast_const()),
        );
        if hpass::<S, KH, KW>(s, hp, (x(0), plane_in), hw(0)) {
            return Some(0);
        }
        for p in 0..planes {
            let nan_next =
                p + 1 < planes && hpass::<S, KH, KW>(s, hp, (x(p + 1), plane_in), hw(p + 1));
            if matches!(KH, 2 | 3 | 5) {
                let yp = y.add(p * plane_out);
                pad_plane::strips::<S, KH>(s, g, (w, c.rows.len()), hb[p % 2], yp);
            } else if by_runs
                && pad_plane::runs_any::<S>(
                    s,
                    g.kh,
                    w,
                    (w, c.rows.len()),
                    hb[p % 2],
                    y.add(p * plane_out),
                )
            {
                // Done by runs in registers.
            } else if g.kh >= DBL_MIN {
                vdouble(
                    s,
                    hb[p % 2],
                    y.add(p * plane_out),
                    (plane_out, g.kh, w),
                    c.lo * w,
                );
            } else {
                // Other heights: y[o] = f over hb[o + i·w], i < kh (kh loads per vector).
                pad_plane::taps::<S>(s, hb[p % 2], y.add(p * plane_out), plane_out, g.kh, w);
            }
            if nan_next {
                return Some(p + 1);
            }
        }
    }
    None
}

/// The vertical pass by doubling, for windows of `kh >= DBL_MIN` rows: `y[o] = f` over
/// `hb[o + i·w]`, `i < kh`, for the `n` outputs, in `log2(p) + 1` sweeps instead of `kh`
/// loads per vector (`p` the largest power of two `<= kh`). Level `i` makes position `z` of the
/// row array the maximum of `2^i` rows from `z` in place (`m[z] = f(m[z], m[z + 2^(i−1)·w])`,
/// a forward sweep of whole vectors reads every position before it overwrites it), and
/// `y[o] = f(m[o], m[o + (kh − p)·w])`; the earlier row stays on the left of `f`, which is all
/// its associativity needs (see `max_nchw`). The padding rows below stay −∞ (they only fold
/// rows below them and the slack); the top ones, `hb[0 .. top)`, are rewritten with −∞ after.
///
/// # Safety
/// `hb` holds the row array (`n + (kh − 1)·w` positions, the padding rows −∞) and `SLACK`
/// vectors of −∞ past it, `kh <= 16`, `n >= L`; `y[0 .. n)` writable; `top <= (kh − 1)·w`
/// (the padding rows above the first input row).
#[inline(always)]
unsafe fn vdouble<S: Simd>(
    s: S,
    hb: *mut f32,
    y: *mut f32,
    (n, kh, w): (usize, usize, usize),
    top: usize,
) {
    let l = S::LANES;
    let q = (usize::BITS - 1 - kh.leading_zeros()) as usize;
    let off = (kh - (1 << q)) * w;
    debug_assert!((1..=4).contains(&q) && SLACK > q && n >= l);
    // lens[i]: the positions level i computes (whole vectors): what level i + 1 (or the
    // result) reads. Level 1 then reads below lens[1] + w <= n + (kh − 1)·w + q·L.
    let mut lens = [0usize; 5];
    lens[q] = (n + off).next_multiple_of(l);
    for i in (1..q).rev() {
        lens[i] = (lens[i + 1] + (1 << i) * w).next_multiple_of(l);
    }
    // SAFETY: every read lies below lens[1] + w, inside the row array and its slack (the
    // caller's bounds); levels write below lens[i] <= lens[1]; the result writes y[0 .. n);
    // the top rows' rewrite stops below top + L <= (kh − 1)·w + L, inside the array too.
    unsafe {
        for (i, &len) in lens.iter().enumerate().take(q + 1).skip(1) {
            let step = (1 << (i - 1)) * w;
            let mut z = 0;
            while z < len {
                let v = s.max(s.load(hb.add(z + step)), s.load(hb.add(z)));
                s.store(hb.add(z), v);
                z += l;
            }
        }
        let mut z = 0;
        while z < n {
            let o = pad_plane::at(l, n, z);
            s.store(y.add(o), s.max(s.load(hb.add(o + off)), s.load(hb.add(o))));
            z += l;
        }
        let mut z = 0;
        while z < top {
            // Rows past `top` are the horizontal pass's to write again.
            s.store(hb.add(z), s.splat(NEG));
            z += l;
        }
    }
}

/// The horizontal pass over `nh >= L` flat positions of the input plane `x` (of `len`
/// elements) from position `z0`: `hb[z] = f` over the row's taps of position `z0 + z` (see the
/// module documentation). Returns true when an input element is NaN.
///
/// Each input vector is loaded once, as the next of three rolling vectors `[prev, cur, next]`
/// (aligned when the plane is), and the taps are lane shifts of them (`Simd::permute2`), as in
/// [`avg`]: `kw` unaligned loads per vector would mostly cross a cache line, and a load that
/// does costs two (1×256×20×20 5×5: the pass took 60% of the scheme's time that way).
///
/// # Safety
/// `x[0 .. len)` readable, `z0 + nh <= len`, `z0` a multiple of `iw`; `ct[0 .. nh)` holds
/// `z mod iw`; `hb[0 .. nh)` writable.
#[inline(always)]
unsafe fn horizontal<S: Simd>(
    s: S,
    t: &HTaps<S>,
    (x, len): (*const f32, usize),
    z0: usize,
    nh: usize,
    ct: *const f32,
    hb: *mut f32,
) -> bool {
    let l = S::LANES;
    let taps = (t.pl, t.pr, &t.left, &t.right);
    let mut nan = s.none();
    let q = z0 as isize;
    let li = l as isize;
    // SAFETY: the loads stay inside x[0 .. len) or are clipped to it, and z + L <= nh
    // (caller's bounds).
    unsafe {
        let (mut prev, mut cur) = (ld(s, (x, len), q - li), ld(s, (x, len), q));
        let mut z = 0;
        while z + l <= nh {
            let next = ld(s, (x, len), q + (z + l) as isize);
            nan = s.or(nan, s.is_nan(cur));
            row_taps(s, taps, [prev, cur, next], ct.add(z), hb.add(z));
            (prev, cur) = (cur, next);
            z += l;
        }
        if z < nh {
            // The last vector, moved back to end at nh (its input vector tested for NaN too).
            let at = q + (nh - l) as isize;
            let cur = ld(s, (x, len), at);
            nan = s.or(nan, s.is_nan(cur));
            let v = [ld(s, (x, len), at - li), cur, ld(s, (x, len), at + li)];
            row_taps(s, taps, v, ct.add(nh - l), hb.add(nh - l));
        }
    }
    s.any(nan)
}

/// The horizontal pass of one plane, by [`hdouble`] where the job doubles, else by
/// [`horizontal`] (a function, not a closure: closures do not inherit the caller's target
/// features, and the vector operations would not inline into one). Only the generic
/// instantiation (`KH`, `KW` 0) can double: fixed widths are narrow, and keeping the doubling
/// code out of theirs keeps their tap loops unrolled (with it, 3×3 measured 53 -> 83 µs).
///
/// # Safety
/// As [`hdouble`].
#[inline(always)]
unsafe fn hpass<S: Simd, const KH: usize, const KW: usize>(
    s: S,
    (taps, dbl, z0, nh, (ct, mk)): HPass<'_, S>,
    xp: (*const f32, usize),
    hb: *mut f32,
) -> bool {
    // SAFETY: as the caller guarantees.
    unsafe {
        match dbl {
            _ if KH != 0 || KW != 0 => horizontal(s, taps, xp, z0, nh, ct, hb),
            Some(d) if d.levels == 2 => hdouble::<S, 2>(s, d, xp, z0, nh, mk, hb),
            Some(d) if d.levels == 3 => hdouble::<S, 3>(s, d, xp, z0, nh, mk, hb),
            Some(d) => hdouble::<S, 4>(s, d, xp, z0, nh, mk, hb),
            None => horizontal(s, taps, xp, z0, nh, ct, hb),
        }
    }
}

/// What [`hpass`] needs of the job: the taps, the doubling steps, the first input position,
/// the positions, the column table and the step masks.
type HPass<'a, S> = (
    &'a HTaps<S>,
    &'a Option<Doubling<S>>,
    usize,
    usize,
    (*const f32, *const <S as Simd>::M),
);

/// Bytes of the stack table of [`hdouble`]'s step masks (AVX-512, 16 lanes: at most
/// 264 vectors of eight 2-byte masks, 4.2 KB).
const MASK_BYTES: usize = 8 * 1024;

/// The step-mask table's storage, aligned for any mask type.
#[repr(align(64))]
struct MaskTable([MaybeUninit<u8>; MASK_BYTES]);

/// Vectors of the mask table before the job's first: the right steps take the masks of up to
/// `DLEVELS` vectors before the one the loop loads.
const MK_LEAD: usize = DLEVELS;

/// Masks per vector in the table: right steps, then left steps.
const MK_STRIDE: usize = 2 * DLEVELS;

/// The mask table's vectors for `nh` positions of `lanes` lanes: the lead, the job's vectors
/// and `DLEVELS` past them (the right steps run that far past the last vector; their values
/// there are never stored).
fn mask_vectors(nh: usize, lanes: usize) -> usize {
    MK_LEAD + nh.div_ceil(lanes) + DLEVELS
}

/// Writes the step masks of every vector of the job, `MK_LEAD` lead vectors first and
/// `DLEVELS` after (all lanes off: they only make values that are never stored): right step
/// `i` of vector `v`, lanes whose column `c < w − d_i`, at `mk[(MK_LEAD + v)·MK_STRIDE + i]`;
/// left step `i`, lanes with `c >= d_i`, at `+ DLEVELS`. Read from memory in the loop, the
/// masks measured a few percent faster than compares there (13×13: 124 vs 127 µs).
///
/// # Safety
/// `ct[0 .. nv·L)` holds `z mod iw` (`nv = ceil(nh / L)`); `mk` is writable for
/// `mask_vectors(nh, L)·MK_STRIDE` masks.
#[inline(always)]
unsafe fn step_masks<S: Simd>(s: S, d: &Doubling<S>, ct: *const f32, nh: usize, mk: *mut S::M) {
    let l = S::LANES;
    let off = s.gt(s.splat(0.0), s.splat(0.0));
    let nv = nh.div_ceil(l);
    // SAFETY: as the caller guarantees; the columns read are ct[0 .. nv·L).
    unsafe {
        for v in 0..mask_vectors(nh, l) {
            let at = mk.add(v * MK_STRIDE);
            let job = (MK_LEAD..MK_LEAD + nv).contains(&v);
            let col = job.then(|| s.load(ct.add((v - MK_LEAD) * l)));
            for i in 0..DLEVELS {
                let (r, lt) = match col {
                    Some(c) => (s.gt(d.right[i].0, c), s.gt(c, d.left[i].0)),
                    None => (off, off),
                };
                at.add(i).write_unaligned(r);
                at.add(DLEVELS + i).write_unaligned(lt);
            }
        }
    }
}

/// Most steps a side of [`hdouble`] takes (a reach of up to 15 columns).
const DLEVELS: usize = 4;

/// Window width from which [`hdouble`] replaces the per-tap pass.
const DBL_KW: usize = 7;

/// The steps of [`hdouble`], made once per job: `levels` steps per side, each with its
/// column limit and permutation indices.
struct Doubling<S: Simd> {
    levels: usize,
    left: [(S::V, S::I); DLEVELS],
    right: [(S::V, S::I); DLEVELS],
}

impl<S: Simd> Doubling<S> {
    /// The steps for `g`, or `None` for windows narrower than [`DBL_KW`] (where the taps cost
    /// no more) and for sides too short for the other side's number of steps.
    #[inline(always)]
    fn new(s: S, g: &WindowGeom, nh: usize) -> Option<Self> {
        let (l, w) = (S::LANES, g.iw);
        let (pl, pr) = (g.pl, (g.kw - 1).checked_sub(g.pl)?);
        let table = mask_vectors(nh, l) * MK_STRIDE * size_of::<S::M>();
        if g.kw < DBL_KW || g.kw > KMAX_MAX || pl.max(pr) >= l || table > MASK_BYTES {
            return None;
        }
        let levels = doublings(pl).max(doublings(pr));
        let (ls, rs) = (steps(pl, levels)?, steps(pr, levels)?);
        let off = (s.splat(0.0), s.isplat(0));
        let (mut left, mut right) = ([off; DLEVELS], [off; DLEVELS]);
        // Left step d joins L[z − d] where c >= d (c > d − ½): lanes L + k − d of
        // [prev, cur]; right step d joins R[z + d] where c < w − d: lanes k + d of [cur, next].
        for (t, &d) in left.iter_mut().zip(&ls[..levels]) {
            *t = (
                s.splat(d as f32 - 0.5),
                s.iadd(s.iota(1), s.isplat((l - d) as u32)),
            );
        }
        for (t, &d) in right.iter_mut().zip(&rs[..levels]) {
            let lim = s.splat(w as f32 - d as f32 - 0.5);
            *t = (lim, s.iadd(s.iota(1), s.isplat(d as u32)));
        }
        Some(Self {
            levels,
            left,
            right,
        })
    }
}

/// The fewest doubling steps that extend a run of one column to `reach + 1`.
fn doublings(reach: usize) -> usize {
    (reach + 1).next_power_of_two().trailing_zeros() as usize
}

/// `n` steps that extend a run of one column to `reach + 1`, or `None` when `n` is more
/// than `reach` or more than [`DLEVELS`]: each step at most the run's length (the runs stay
/// contiguous), doubling while the steps left can still each add one (`reach` 6, `n` 3:
/// 1, 2, 3; `reach` 3, `n` 3: 1, 1, 1).
fn steps(reach: usize, n: usize) -> Option<[usize; DLEVELS]> {
    if n > reach || n > DLEVELS || doublings(reach) > n {
        return None;
    }
    let (mut out, mut len) = ([0; DLEVELS], 1);
    for (i, d) in out.iter_mut().enumerate().take(n) {
        let left = n - 1 - i;
        *d = len.min(reach + 1 - len - left);
        len += *d;
    }
    (len == reach + 1).then_some(out)
}

/// The horizontal pass of [`horizontal`] by doubling, for wide windows: `N` steps per side
/// instead of one tap per column (13 wide: 3 + 3 steps and one join instead of 12 taps).
///
/// Right of the centre, `R_0 = x` and `R_{i+1}[z] = f(R_i[z + d_i], R_i[z])` where column
/// `c + d_i` is in the row (else `R_i[z]`): `R_i[z]` is the run of `x` from `z` to the row's
/// end or `z + len_i − 1`, and `d_i <= len_i` keeps each union a run. Left, `L` likewise with
/// `L_i[z − d_i]` where `c >= d_i`. The output is `f(R_N[z], L_N[z])`, the two runs meeting
/// at `z`. Every step passes the earlier run as the second operand of `f` (max is idempotent,
/// so overlaps do not matter; see `max_nchw`): the row-major fold's result.
///
/// A right step needs its level's next vector, so the levels lag: the loop that loads input
/// vector `j` forms `R_{i+1}` of vector `j − 1 − i` from the last vector of level `i`, kept in
/// a register. The left chain runs on vector `j − N`, loaded again (a load is cheaper than
/// the registers a delay line would take), keeping each level's previous vector. The input
/// past the last vector is −∞; the last output vector is stored up to `nh` only (the padding
/// rows after it stay −∞).
///
/// # Safety
/// As [`horizontal`], and `mk` the job's mask table ([`step_masks`]).
#[inline(always)]
unsafe fn hdouble<S: Simd, const N: usize>(
    s: S,
    t: &Doubling<S>,
    (x, len): (*const f32, usize),
    z0: usize,
    nh: usize,
    mk: *const S::M,
    hb: *mut f32,
) -> bool {
    let l = S::LANES;
    let neg = s.splat(NEG);
    let nv = nh.div_ceil(l);
    debug_assert!(z0 + nh <= len && N <= MK_LEAD && t.levels == N);
    let mut nan = s.none();
    // lv[i] = L_i of vector j − N − 1; rv[i] = R_i of vector j − 1 − i.
    let (mut lv, mut rv) = ([neg; N], [neg; N]);
    // SAFETY: loads stay inside x[z0 .. z0 + nh) (the last vector clipped to it) and the
    // mask table (vectors −MK_LEAD .. nv + N − 1 < nv + DLEVELS); stores inside hb[0 .. nh)
    // (caller's bounds).
    unsafe {
        let xz = x.add(z0);
        let mk = mk.add(MK_LEAD * MK_STRIDE);
        for j in 0..nv + N {
            let xj = if j < nv {
                let xj = ld(s, (xz, nh), (j * l) as isize);
                nan = s.or(nan, s.is_nan(xj));
                xj
            } else {
                neg
            };
            let mut rc = xj;
            for (i, &(_, ix)) in t.right.iter().enumerate().take(N) {
                let old = core::mem::replace(&mut rv[i], rc);
                let e = s.permute2(old, rc, ix);
                // Right step i's mask of vector j − 1 − i.
                let at = (j as isize - 1 - i as isize) * MK_STRIDE as isize + i as isize;
                rc = s.select(mk.offset(at).read_unaligned(), s.max(e, old), old);
            }
            if j >= N {
                let o = j - N;
                let m = mk.add(o * MK_STRIDE + DLEVELS);
                let mut lc = ld(s, (xz, nh), (o * l) as isize);
                for (i, &(_, ix)) in t.left.iter().enumerate().take(N) {
                    let prev = core::mem::replace(&mut lv[i], lc);
                    let e = s.permute2(prev, lc, ix);
                    lc = s.select(m.add(i).read_unaligned(), s.max(lc, e), lc);
                }
                let v = s.max(rc, lc);
                let o = o * l;
                if o + l <= nh {
                    s.store(hb.add(o), v);
                } else {
                    s.store_n(hb.add(o), nh - o, v);
                }
            }
        }
    }
    s.any(nan)
}

/// The taps of [`horizontal`], made once per job: `pl` taps left of the centre and `pr` right
/// of it, and for tap `d` of each side its column limit and permutation indices.
struct HTaps<S: Simd> {
    pl: usize,
    pr: usize,
    left: [(S::V, S::I); KMAX_MAX],
    right: [(S::V, S::I); KMAX_MAX],
}

impl<S: Simd> HTaps<S> {
    /// The taps of `g` (`kw <= KMAX_MAX` and `pl, pr < L`: `takes`).
    #[inline(always)]
    fn new(s: S, g: &WindowGeom) -> Self {
        let (l, w) = (S::LANES, g.iw);
        let (pl, pr) = (g.pl, g.kw - 1 - g.pl);
        // Left tap d is in the row where c >= d, i.e. c > d − ½, and is lane L + k − d of
        // [prev, cur]; right tap d is in the row where c < w − d, lane k + d of [cur, next].
        let mut left = [(s.splat(0.0), s.isplat(0)); KMAX_MAX];
        let mut right = [(s.splat(0.0), s.isplat(0)); KMAX_MAX];
        for (d, t) in left.iter_mut().enumerate().take(pl + 1).skip(1) {
            *t = (
                s.splat(d as f32 - 0.5),
                s.iadd(s.iota(1), s.isplat((l - d) as u32)),
            );
        }
        for (d, t) in right.iter_mut().enumerate().take(pr + 1).skip(1) {
            let lim = s.splat(w as f32 - d as f32 - 0.5);
            *t = (lim, s.iadd(s.iota(1), s.isplat(d as u32)));
        }
        Self {
            pl,
            pr,
            left,
            right,
        }
    }
}

/// Per-tap constants of [`horizontal`] (see [`HTaps`]).
type TapConsts<'a, S> = (
    usize,
    usize,
    &'a [(<S as Simd>::V, <S as Simd>::I); KMAX_MAX],
    &'a [(<S as Simd>::V, <S as Simd>::I); KMAX_MAX],
);

/// One vector of [`horizontal`]: `hb[0 .. L) = f` over the taps of the input vector `cur`,
/// lane shifts of `[prev, cur, next]`, the taps outside a lane's row skipped.
///
/// # Safety
/// `col[0 .. L)` readable (the lanes' columns), `hb[0 .. L)` writable.
#[inline(always)]
unsafe fn row_taps<S: Simd>(
    s: S,
    (pl, pr, left, right): TapConsts<'_, S>,
    [prev, cur, next]: [S::V; 3],
    col: *const f32,
    hb: *mut f32,
) {
    // SAFETY: as the caller guarantees.
    let col = unsafe { s.load(col) };
    let mut acc = cur;
    // Unrolled to KMAX_MAX − 1 (constant trip counts); d past pl or pr stops.
    for (d, &(lim, ix)) in left.iter().enumerate().skip(1) {
        if d > pl {
            break;
        }
        // Earlier taps on the left: f(x[q − d], acc) = max(acc, x[q − d]).
        let t = s.permute2(prev, cur, ix);
        acc = s.select(s.gt(col, lim), s.max(acc, t), acc);
    }
    for (d, &(lim, ix)) in right.iter().enumerate().skip(1) {
        if d > pr {
            break;
        }
        let t = s.permute2(cur, next, ix);
        acc = s.select(s.gt(lim, col), s.max(t, acc), acc);
    }
    // SAFETY: as the caller guarantees.
    unsafe { s.store(hb, acc) };
}

/// The vector `x[at .. at + L)`: in place when inside `x[0 .. len)`, else clipped to it (−∞
/// outside).
///
/// # Safety
/// `x[0 .. len)` readable.
#[inline(always)]
unsafe fn ld<S: Simd>(s: S, (x, len): (*const f32, usize), at: isize) -> S::V {
    // SAFETY: in place only inside x[0 .. len), else clipped to it.
    unsafe {
        if at >= 0 && at as usize + S::LANES <= len {
            s.load(x.offset(at))
        } else {
            s.load_clip(x, len, at, NEG)
        }
    }
}

/// The flat output positions `rows.start·iw .. rows.end·iw` of each plane that the average
/// scheme computes for output rows `rows` of `g`, or `None` when it does not apply (see
/// [`avg`]).
pub(super) fn avg_layout<S: Simd>(g: &WindowGeom, rows: &Range<usize>) -> Option<Range<usize>> {
    if !takes::<S>(g, rows, KMAX) {
        return None;
    }
    let n = rows.len().checked_mul(g.iw)?;
    if n < S::LANES || n > BUF || g.ih.checked_mul(g.iw)? < S::LANES {
        return None;
    }
    Some(rows.start * g.iw..rows.end * g.iw)
}

/// The average scheme's per-job tables, uninitialized until [`avg`] writes the `n` entries it
/// reads: the column of each output position (as f32) and its divisor.
#[repr(align(64))]
struct AvgTables([MaybeUninit<f32>; 2 * BUF]);

/// Average pooling of the job's `planes` planes, flat output positions `out` of each (see
/// [`avg_layout`]), on the plane as the flat array it is.
///
/// A vector holds `L` consecutive output positions `z` (whatever rows they cross; the last
/// vector moved back to end at `out.end`, recomputing a few outputs identically). Tap
/// `(i, j)` of position `z` is the input element at the same flat offset
/// `z + (i − pt)·iw + j − pl` for every lane. Each window row's input vectors are loaded once,
/// as the next of three rolling vectors, and its `kw` taps are lane shifts of them (see
/// [`roll`]); in the first and last rows' vectors the loads are clipped to the plane (+0.0
/// outside it): a tap row outside the plane is outside its flat range. A lane whose tap column
/// `c + j − pl` (`c = z mod iw`, from a table made once per job) lies outside its row skips
/// the tap (one masked add on AVX-512). Every lane adds its `kh·kw` taps from +0.0 in
/// row-major order and divides once by its divisor (row factor times column factor, or the
/// override, from a second table), exactly as the reference. A 35×35 plane is 77 vectors
/// where column strips take 105.
/// `KH`/`KW` fix the window (0: from `g`).
#[inline(always)]
pub(super) fn avg<S: Simd, const KH: usize, const KW: usize>(
    s: S,
    g: &WindowGeom,
    out: Range<usize>,
    (src, dst, planes): (&[f32], &mut [f32], usize),
) {
    let (l, w) = (S::LANES, g.iw);
    let kh = if KH == 0 { g.kh } else { KH };
    let kw = if KW == 0 { g.kw } else { KW };
    let (plane_in, n) = (g.ih * w, out.len());
    assert!(src.len() >= planes * plane_in && dst.len() >= planes * n);
    assert!(n >= l && n <= BUF && plane_in >= l && out.end <= g.oh * w);
    assert!(out.start.is_multiple_of(w) && n.is_multiple_of(w));
    assert!(kh == g.kh && kw == g.kw && kw <= KMAX && g.pl < kw && g.pt < kh && g.ow == w);
    let mut tables = AvgTables([MaybeUninit::uninit(); 2 * BUF]);
    let (ct, dt) = {
        let b = tables.0.as_mut_ptr().cast::<f32>();
        (b, b.wrapping_add(BUF))
    };
    let oy0 = out.start / w;
    for r in 0..n / w {
        let rd = match g.divisor_override {
            Some(_) => 1.0,
            None => g.rows[oy0 + r].div as f32,
        };
        for x in 0..w {
            let cd = match g.divisor_override {
                Some(d) => d as f32,
                None => g.cols[x].div as f32,
            };
            // SAFETY: r·w + x < n <= BUF entries of each table.
            unsafe {
                *ct.add(r * w + x) = x as f32;
                *dt.add(r * w + x) = rd * cd;
            }
        }
    }
    // Fixed windows are centred (the caller's dispatch checks it): constant tap sides.
    let pl = if KW == 0 { g.pl } else { KW / 2 };
    let pt = if KH == 0 { g.pt } else { KH / 2 };
    assert!(pl == g.pl && pt == g.pt && kw <= l);
    // Left tap d (j = pl − d) is in the row where c >= d, i.e. c > d − ½; right tap d
    // (j = pl + d) where c < w − d.
    let mut lim = [s.splat(0.0); KMAX];
    for (j, lim) in lim.iter_mut().enumerate().take(kw) {
        *lim = if j < pl {
            s.splat((pl - j) as f32 - 0.5)
        } else {
            s.splat(w as f32 + pl as f32 - j as f32 - 0.5)
        };
    }
    // Lane k of tap d left of the centre is lane L + k − d of [prev, cur]; right of it, lane
    // k + d of [cur, next].
    let mut idx = [s.isplat(0); KMAX];
    for (j, idx) in idx.iter_mut().enumerate().take(kw) {
        let at = if j < pl { l - (pl - j) } else { j - pl };
        *idx = s.iadd(s.iota(1), s.isplat(at as u32));
    }
    let taps = Taps {
        w,
        kh,
        kw,
        pl,
        pt,
        lim,
        idx,
    };
    // Full vectors k·L (k < full) whose rows' previous and next vectors lie in the plane,
    // k in ka .. kb, load in place; the others, and a last vector moved back to end at n,
    // load clipped to the plane.
    let (back, ahead) = (pt * w + l, (kh - 1 - pt) * w + 2 * l);
    let full = n / l;
    let ka = back.saturating_sub(out.start).div_ceil(l).min(full);
    let kb = match plane_in.checked_sub(ahead + out.start) {
        Some(room) => (room / l + 1).clamp(ka, full),
        None => ka,
    };
    for p in 0..planes {
        let x = (src[p * plane_in..][..plane_in].as_ptr(), plane_in);
        let y = dst[p * n..][..n].as_mut_ptr();
        for (k, end, clip) in [(0, ka, true), (ka, kb, false), (kb, full, true)] {
            let (o, count) = (k * l, end - k);
            // SAFETY: vectors o, o + L, .. below end·L <= n lie in y[0 .. n) and the
            // tables; in place only for ka <= k, end <= kb (see above).
            unsafe {
                let (c, d, y) = (ct.add(o), dt.add(o), y.add(o));
                if clip {
                    roll::<S, KH, KW, true>(s, &taps, (x, out.start + o), count, (c, d, y));
                } else {
                    roll::<S, KH, KW, false>(s, &taps, (x, out.start + o), count, (c, d, y));
                }
            }
        }
        if n % l != 0 {
            // SAFETY: the last vector n − L .. n lies in y and the tables; clipped loads.
            unsafe {
                let o = n - l;
                let (c, d, y) = (ct.add(o), dt.add(o), y.add(o));
                roll::<S, KH, KW, true>(s, &taps, (x, out.start + o), 1, (c, d, y));
            }
        }
    }
}

/// The window and its per-tap constants, for [`roll`] and [`add_tap`].
struct Taps<S: Simd> {
    w: usize,
    kh: usize,
    kw: usize,
    pl: usize,
    pt: usize,
    /// Column limits: tap `j < pl` is in the row where `c > lim[j]`, tap `j > pl` where
    /// `c < lim[j]`.
    lim: [S::V; KMAX],
    /// Permutation indices of tap `j` (see [`roll`]).
    idx: [S::I; KMAX],
}

/// `acc + t` in the lanes whose column `col` keeps tap `j` in its row, `acc` in the others
/// (a skipped tap, exactly as the reference skips it).
#[inline(always)]
fn add_tap<S: Simd>(
    s: S,
    t: &Taps<S>,
    (col, pl): (S::V, usize),
    j: usize,
    acc: S::V,
    v: S::V,
) -> S::V {
    if j == pl {
        s.add(acc, v)
    } else {
        let ok = if j < pl {
            s.gt(col, t.lim[j])
        } else {
            s.gt(t.lim[j], col)
        };
        s.select(ok, s.add(acc, v), acc)
    }
}

/// `count` consecutive vectors from flat position `z` of the plane `x` (of `len` elements):
/// each window row's input vectors are loaded once, as the next vector of a rolling `[prev,
/// cur, next]`, and the row's taps are lane shifts of them (`Simd::permute2`, one
/// `vpermt2ps`) instead of `kw` unaligned loads. With `CLIP` every load is clipped to the
/// plane (+0.0 outside it: tap rows above or below the plane). `KH`/`KW` fix the window (0:
/// from `t`).
///
/// # Safety
/// `x[0 .. len)` readable; without `CLIP`, for each window row `i` also `x[z + (i − pt)·w − L
/// .. z + (count + 1)·L + (i − pt)·w)` inside it. `ct`, `dt` hold `count·L` entries, `y` takes
/// `count·L` outputs.
#[inline(always)]
unsafe fn roll<S: Simd, const KH: usize, const KW: usize, const CLIP: bool>(
    s: S,
    t: &Taps<S>,
    ((x, len), z): ((*const f32, usize), usize),
    count: usize,
    (ct, dt, y): (*const f32, *const f32, *mut f32),
) {
    let l = S::LANES;
    let kh = if KH == 0 { t.kh } else { KH };
    let kw = if KW == 0 { t.kw } else { KW };
    let (pl, pt) = if KW == 0 {
        (t.pl, t.pt)
    } else {
        (KW / 2, KH / 2)
    };
    let mut prev = [s.splat(0.0); KMAX];
    let mut cur = [s.splat(0.0); KMAX];
    let mut rows = [0isize; KMAX];
    if count == 0 {
        return;
    }
    let l = l as isize;
    for i in 0..kh {
        rows[i] = z as isize + (i as isize - pt as isize) * t.w as isize;
        // SAFETY: the row's vectors before and at z, inside x (or clipped) as the caller
        // guarantees.
        unsafe {
            prev[i] = row_load::<S, CLIP>(s, (x, len), rows[i] - l);
            cur[i] = row_load::<S, CLIP>(s, (x, len), rows[i]);
        }
    }
    for v in 0..count {
        // SAFETY: as above.
        unsafe {
            let o = v * S::LANES;
            let col = s.load(ct.add(o));
            let mut acc = s.splat(0.0);
            for i in 0..kh {
                let next = row_load::<S, CLIP>(s, (x, len), rows[i] + (v as isize + 1) * l);
                for j in 0..kw {
                    let tap = match j.cmp(&pl) {
                        core::cmp::Ordering::Less => s.permute2(prev[i], cur[i], t.idx[j]),
                        core::cmp::Ordering::Equal => cur[i],
                        core::cmp::Ordering::Greater => s.permute2(cur[i], next, t.idx[j]),
                    };
                    acc = add_tap(s, t, (col, pl), j, acc, tap);
                }
                prev[i] = cur[i];
                cur[i] = next;
            }
            s.store(y.add(o), s.div(acc, s.load(dt.add(o))));
        }
    }
}

/// The vector `x[at .. at + L)`: in place, or with `CLIP` clipped to `x[0 .. len)` (+0.0
/// outside).
///
/// # Safety
/// `x[0 .. len)` readable; without `CLIP`, `x[at .. at + L)` inside it.
#[inline(always)]
unsafe fn row_load<S: Simd, const CLIP: bool>(
    s: S,
    (x, len): (*const f32, usize),
    at: isize,
) -> S::V {
    // SAFETY: as the caller guarantees.
    unsafe {
        if CLIP {
            s.load_clip(x, len, at, 0.0)
        } else {
            s.load(x.offset(at))
        }
    }
}
