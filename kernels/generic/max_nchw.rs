//! Max pooling (window and adaptive), NCHW: vectorized across the output columns of a row.
//!
//! Lane `k` of a vector holds output column `ox0 + k` of one output row.
//!
//! # Why any grouping of the taps is exact
//!
//! Write `f(a, b) = b > a ? b : a` for "`a`, then `b` in scan order" (`s.max(b, a)`). Folding a
//! window's taps with `f` in row-major order is the reference without NaN, and `f` is
//! associative: every grouping picks the first (in scan order) of the elements equal to the
//! maximum, so the value, the sign of a zero maximum and the argmax are the same whatever the
//! grouping, and overlapping groups are harmless (`f(a, a) = a`). The exact step (`b > a ||
//! isnan(b) ? b : a`: the last NaN wins) is associative as well. The kernels therefore reduce
//! each input row horizontally first (the taps of one window row, in order), then combine the
//! row results of a window top to bottom, and share partial results between outputs freely, as
//! long as every combination keeps the earlier operand on the left. (Reducing the height first
//! would change which of two equal elements comes first, so it is never done.)
//!
//! # Horizontal: one input row for a block of `L` outputs
//!
//! * `S1` (stride 1, any dilation): tap `t = j·dw` of the lanes is one unaligned load at
//!   `q + t`, `q = ox0 − pl` the first tap of lane 0.
//! * `S2` (stride 2, dilation 1): `load_deinterleave` at `q + t` gives taps `t` (even elements)
//!   and `t + 1` (odd elements); an odd window's last tap `t` is the odd half at `q + t − 1`, so
//!   no load reaches past the block's last tap.
//! * `Gather` (any other stride or dilation, adaptive bins of unequal widths): the lanes of a
//!   block inside the row gather tap `j` from `q + k·sw + j·dw`; border blocks gather through
//!   each output's column span (a lane past its last tap repeats it: `f(a, a) = a`).
//!
//! Blocks whose reads lie inside the row read the source in place. In the whole-row schemes
//! (`Direct` and the row ring below) the other blocks read in place too: through clipped loads
//! (`Simd::load_clip`, one masked load on AVX-512 and AVX2: −∞ outside the row), or, when no
//! output lane's window reaches the right padding, with plain loads past the row end as far as
//! the input slice goes (only lanes of no output, or taps past every window, read there; their
//! results are never stored). The last block of a row at least `L` wide is placed at `ow − L`,
//! overlapping the one before, when it then reads inside the row. The chunked row schemes
//! (`Ring` on rows too wide for the row ring, `VanHerk`) read a stack copy of the row segment
//! with −∞ in place of the padding for blocks that start left of column 0, prepared a few rows
//! ahead so that the unaligned loads from a copy never wait on the stores that wrote it. Padding never
//! wins a strict comparison, so it changes no value; with indices, the lanes of a border block
//! whose result is −∞ (every in-bounds tap −∞, or no tap) take the index of their first
//! in-bounds tap (or `NO_INDEX`) from the column spans, as the reference does.
//!
//! # Vertical: combining the rows of a window
//!
//! Output row `oy` combines the in-bounds input rows of `g.rows[oy]` (no vertical padding).
//! * `Direct` (windows that share no input row, e.g. 2×2 stride 2, and all gathers): each
//!   block folds the horizontal results of its rows in registers as they are computed.
//! * `Ring` (rows shared by several windows, e.g. 3×3 stride 1 or 2): each input row's result
//!   is computed once into a ring of rows on the stack, then folded by every output row that
//!   uses it. With `dh == 1` and a ring of whole rows that fits (the row ring), rows are
//!   computed whole, block after block, top to bottom, the row `PF_ROWS` below (of the next
//!   plane, past the last row) prefetched; otherwise column chunk by column chunk.
//! * `VanHerk` (stride 1, dilation 1, `kh >= VH_MIN`): input rows are cut into blocks of `kh`;
//!   going down, the prefix `P` of the current block is kept; when a block is complete its
//!   suffixes `S` are formed going up. The window of rows `r0 ..= r1` is `f(S[r0], P[r1])` (or
//!   one of them when it lies in one block): three operations per output row whatever `kh`
//!   (van Herk / Gil–Werman).
//!
//! # The plane scheme (stride 1, `Ring` or `VanHerk`, planes that fit on the stack)
//!
//! Small planes (YOLO's 20×20 SPPF, 40×40, ...) would spend more on per-row bookkeeping than
//! on arithmetic, so the job's input rows are copied once, −∞ around each row, at a fixed pitch
//! (at least every output column's taps and every input column), and the horizontal pass is
//! one sweep of vectors over the whole flattened copy: with stride 1, position `z` of the copy
//! and its taps `z + j·dw` stay in one row for every position that is an output column, and
//! the positions past a row's outputs are computed and ignored. With dilation 1 and
//! `kw >= DBL_MIN`, the sweep doubles, in place: level `i` makes position `x` the maximum of
//! `2^i` positions from `x` (`m[x] = f(m[x], m[x + 2^(i−1)])`), and the result is
//! `f(mp[x], mp[x + kw − p])`, `p` the largest power of two `<= kw`: `log2(p) + 1` steps
//! instead of `kw − 1` (each level is a whole sweep after the one it reads, so no load waits
//! on a recent store). The rows are then folded, or combined by van Herk, as above. A plane
//! with a NaN runs all of it with the exact step.
//!
//! # The padded-plane scheme (values only: stride 1, windows of fewer than `VH_MIN` rows, planes
//! whose padded copy fits `pad_plane::BUF`: YOLO's SPPF, 3×3 "same" pooling)
//!
//! See `pad_plane`: one −∞-padded copy per plane, a horizontal and a vertical sweep of flat
//! vectors over it with no masks and no per-row bookkeeping, results copied out. A plane with
//! a NaN is redone by the row schemes with the exact step. It takes precedence over the plane
//! scheme above, which keeps indices and taller windows.
//!
//! # The compact-plane scheme (values only, tiers with one-instruction masked steps: stride 1,
//! dilation 1, `ow = iw`, windows of up to 16×16, planes that fit `compact::BUF`)
//!
//! See `compact`: the plane as the flat array it is, no copy and no padding columns; the
//! horizontal taps are lane shifts of each input vector and its neighbours, masked where they
//! cross a row end, and the row results, having the output's width, feed the padded-plane
//! scheme's column strips. It takes precedence over the padded-plane scheme (AVX-512,
//! 1×256×20×20 5×5: 33 µs against 42 µs) and over van Herk on the planes it takes (13×13 on
//! 1×512×20×20: 163 µs against 210 µs).
//!
//! # The flat scheme (values only: 2-wide stride-2 column windows tiling the rows, `iw = 2·ow`)
//!
//! Such windows never cross a row end, so a plane's row results are one sweep of
//! deinterleaving loads over the flattened plane (16 results per vector whatever the row
//! width: VGG's 28×28 planes have 14 outputs a row), and each output row folds its rows of
//! results (`Direct` rows); when every output row folds two rows (2×2 windows inside the
//! input) and is narrower than `L`, the folds are one tight loop of two loads, a `max` and a
//! store whose lanes past the row land in the next row's place, which is stored after it. The
//! next plane is swept before this one is folded, so the folds' unaligned loads never wait on
//! the sweep's stores. A plane whose sweep sees a NaN is swept
//! again and folded with the exact step. With indices, `Direct` runs instead.
//!
//! # The pair scheme (values only: 2×2 stride-2 windows inside the input, rows of at most
//! `L / 2` outputs: late layers' 4×4 to 16×16 planes)
//!
//! Output row `r` folds the row results of input rows `2r` and `2r + 1`, so when `ih = 2·oh`
//! the row pairs of all the job's planes follow each other and the whole job is one flat
//! sweep (as in the flat scheme) and one fold: each vector of outputs takes `q = L / ow`
//! whole output rows, the upper and lower row results of each gathered by a two-source
//! permute (`Simd::permute2`) from two vectors of the sweep. It needs no large stack area and
//! runs before the entry that reserves one (see `window_nchw`), so a call on a 1×16×4×4
//! tensor costs tens of nanoseconds. A chunk with a NaN is swept and folded again with the
//! exact step.
//!
//! # The shift scheme (values only: 2- or 3-wide stride-2 windows with at most one column of
//! left padding, any row width, at most three rows a window: ResNet's stem, AlexNet's and
//! Inception's 3×3 stride-2 pooling, ceil mode or not)
//!
//! Block `ox0` (a multiple of `L`) of a row is one deinterleaving load at column `2·ox0 + b`
//! (64-byte aligned when the row is and `b = 0`): the even elements are column `2·ox + b` of
//! the lanes' windows, the odd ones the next column, and the odd vector moved up one lane
//! (`Simd::shift_in`) with the previous block's last odd element shifted in is the column
//! before; `b = 1 − pl` makes these a 3-wide window (2-wide ones without padding take the even
//! and odd elements as they are). The blocks tile the row, the last one's loads clipped to it
//! (−∞ past its end, where ceil mode's last window may reach) and its store to the outputs.
//! Planes the flat scheme takes stay there. A block folds its window rows in
//! registers and stores once; the last row's results are kept for the next output row, whose
//! first row it is. A plane with a NaN is redone by the row schemes with the exact step. With
//! indices, the row ring runs instead.
//!
//! # NaN
//!
//! The fast path folds with `s.max`, which ignores NaN, and tests each loaded input vector once:
//! tap 0 of an `S1` block (the tap-0 vectors of consecutive blocks tile the row) with `is_nan`;
//! the even and odd halves of an `S2` block's first load with one `unord` of the block's result
//! (NaN exactly where the even half is: `max` keeps a NaN accumulator) and the odd half; each
//! gathered vector; each vector of the plane scheme's copy; and the few columns the last
//! block's windows reach past those vectors. A flagged unit (an input row of a chunk in the row
//! schemes, a plane in the plane scheme, an output row in `Direct`) is recomputed with the
//! exact step; van Herk over rows (the row scheme) combines only windows without a flagged row
//! and folds the others exactly.
//!
//! Every output is the same pure function of its window whatever the job's row range, so any
//! partition of the rows gives identical results.

use core::mem::MaybeUninit;
use core::ops::Range;

use super::{compact, pad_plane, prefetch};
use crate::geom::WindowGeom;
use crate::kernels::NchwJob;
use crate::kernels::vector::{Body, Simd};
use crate::reference::NO_INDEX;

/// −∞: the padding, and the value of an empty window.
const NEG: f32 = f32::NEG_INFINITY;
/// The most lanes of any tier (AVX-512).
const MAX_LANES: usize = 16;
/// Elements of one stack copy of a row segment read by border blocks.
const LSEG: usize = 1024;
/// Row-segment copies in flight (the current row and those prepared ahead).
const NSEG: usize = 4;
/// Elements of the stack arrays of row results (ring, van Herk), values and indices alike.
const RBUF: usize = 8192;
/// Elements of each plane-scheme array: the padded copy, the row results, van Herk's rows.
const PBUF: usize = 4096;
/// Elements of the job's stack area, f32 and u32 alike (row schemes: row results and segment
/// copies; plane scheme: three arrays of `PBUF`).
const FBUF: usize = 12288;
/// The most rows a ring (or van Herk's rings) holds; a power of two.
const MAX_RING: usize = 64;
/// The most output columns per chunk of the row schemes.
const CW_MAX: usize = 512;
/// Rows ahead of the one being computed whose cache lines the row ring requests.
const PF_ROWS: usize = 8;
/// Window height from which van Herk replaces folding the rows (stride 1, dilation 1).
const VH_MIN: usize = 6;
/// Window width from which the plane scheme's horizontal pass doubles instead of tapping
/// (stride 1, dilation 1).
const DBL_MIN: usize = 8;

/// How one input row is reduced for a block of outputs.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Horiz {
    /// Stride 1: unaligned loads.
    S1,
    /// Stride 2, dilation 1: deinterleaving loads.
    S2,
    /// Anything else: gathered lanes.
    Gather,
}

/// How the rows of a window are combined.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Vert {
    /// Folded in registers, rows recomputed per output row.
    Direct,
    /// Row results computed once into a ring and folded.
    Ring,
    /// Row results combined through block prefix and suffix maxima.
    VanHerk,
}

/// The algorithm chosen for a geometry, with the column window it runs (for adaptive pooling
/// with equal column bins, the bins as windows with kernel = stride = `iw / ow`).
#[derive(Clone, Copy, Debug)]
struct Cfg {
    h: Horiz,
    v: Vert,
    kw: usize,
    sw: usize,
    dw: usize,
    pl: usize,
    /// Elements a full block reads, from its lane 0's first tap (`S1`/`S2`).
    ext: usize,
    /// Output columns per chunk (row schemes; a multiple of the lanes).
    cw: usize,
    /// Rows of the ring (`Ring`), of each of the `T` and `S` rings (`VanHerk`): a power of two.
    nr: usize,
    /// Plane scheme (`S1` with `Ring` or `VanHerk` on a plane that fits): the pitch of the
    /// padded copy; 0 otherwise.
    pitch: usize,
    /// Plane scheme: the horizontal pass doubles (`dw == 1`, `kw >= DBL_MIN`).
    double: bool,
    /// Row-ring scheme: `S1`/`S2` with `Ring`, `dh == 1`, no plane scheme, `nr` whole rows
    /// (`cw` = `ow` rounded up to `L`) fit the ring.
    rowring: bool,
}

/// Chooses the algorithm for `g` (deterministic: `describe` reports the same).
fn choose<S: Simd>(g: &WindowGeom) -> Cfg {
    let l = S::LANES;
    let (kw, sw, dw, pl) = if g.kh != 0 {
        (g.kw, g.sw, g.dw, g.pl)
    } else if g.iw.is_multiple_of(g.ow) {
        let k = g.iw / g.ow;
        (k, k, 1, 0)
    } else {
        (0, 0, 1, 0)
    };
    let mut h = match (kw, sw, dw) {
        (0, _, _) => Horiz::Gather,
        (_, 1, _) => Horiz::S1,
        (_, 2, 1) => Horiz::S2,
        _ => Horiz::Gather,
    };
    let ext = match h {
        Horiz::S1 => (kw - 1).saturating_mul(dw).saturating_add(l),
        Horiz::S2 => (2 * (l - 1)).saturating_add(kw).max(2 * l),
        Horiz::Gather => 0,
    };
    // The row-segment copies of a chunk's border blocks must fit (see chunk_of).
    if ext.saturating_mul(4).saturating_add(2 * l) > LSEG {
        h = Horiz::Gather;
    }
    let mut cfg = Cfg {
        h,
        v: Vert::Direct,
        kw,
        sw,
        dw,
        pl,
        ext,
        cw: 0,
        nr: 0,
        pitch: 0,
        double: false,
        rowring: false,
    };
    // Rows are shared between windows when the vertical extent exceeds the stride.
    let extent = (g.kh.max(1) - 1).saturating_mul(g.dh).saturating_add(1);
    if h == Horiz::Gather || g.kh == 0 || extent <= g.sh {
        return cfg;
    }
    let wide = g.ow.next_multiple_of(l).min(CW_MAX);
    if g.sh == 1
        && g.dh == 1
        && g.kh >= VH_MIN
        && g.kh <= MAX_RING / 2
        && g.rows.iter().all(|r| r.count > 0)
    {
        let nr = (2 * g.kh).next_power_of_two();
        let c = RBUF / (2 * nr + 1) / l * l;
        if c >= l {
            (cfg.v, cfg.cw, cfg.nr) = (Vert::VanHerk, wide.min(c), nr);
        }
    }
    if cfg.v == Vert::Direct && extent <= MAX_RING {
        let nr = extent.next_power_of_two();
        let c = RBUF / nr / l * l;
        if c >= l {
            (cfg.v, cfg.cw, cfg.nr) = (Vert::Ring, wide.min(c), nr);
        }
    }
    if cfg.v != Vert::Direct && h == Horiz::S1 {
        // The padded copy: every output column's taps and every input column in one row.
        let pitch = (pl + g.iw).max(g.ow + (kw - 1) * dw);
        let owr = g.ow.next_multiple_of(l);
        cfg.double = dw == 1 && kw >= DBL_MIN;
        let fits = plane_len(l, g.ih, pitch, &cfg) + l <= PBUF
            && (cfg.v != Vert::VanHerk || (cfg.nr + 1) * owr <= PBUF);
        if fits {
            (cfg.pitch, cfg.cw) = (pitch, owr);
        } else {
            cfg.double = false;
        }
    }
    let owr = g.ow.next_multiple_of(l);
    if cfg.v == Vert::Ring && cfg.pitch == 0 && g.dh == 1 && cfg.nr * owr <= RBUF {
        (cfg.rowring, cfg.cw) = (true, owr);
    }
    cfg
}

/// Positions of the plane scheme's horizontal sweep over `rows` rows at `pitch`: whole vectors
/// covering every row's first `ow <= pitch` positions rounded up to `l`.
fn plane_nz(l: usize, rows: usize, pitch: usize) -> usize {
    (rows * pitch).next_multiple_of(l) + l
}

/// Elements of the plane scheme's padded copy of `rows` input rows (all the positions its
/// sweep reads).
fn plane_len(l: usize, rows: usize, pitch: usize, cfg: &Cfg) -> usize {
    let nz = plane_nz(l, rows, pitch);
    if cfg.double {
        dbl_plan(l, nz, cfg.kw).2[1] + l
    } else {
        nz + cfg.ext - l
    }
}

/// Doubling plan for `n` positions (a multiple of `l`) and a window `kw >= 2`: the largest power
/// of two `p <= kw`, `levels = log2(p)`, and `lens[i]` (a multiple of `l`), the positions level
/// `i` (window `2^i`) computes; level 1 reads the copy up to `lens[1] + 1` (plus a vector).
fn dbl_plan(l: usize, n: usize, kw: usize) -> (usize, usize, [usize; 16]) {
    let levels = (usize::BITS - 1 - kw.leading_zeros()) as usize;
    let p = 1usize << levels;
    let mut lens = [0; 16];
    // The result at x reads level `levels` at x and x + kw − p; level i + 1 at x reads level i
    // at x and x + 2^i.
    lens[levels] = (n + kw - p).next_multiple_of(l);
    for i in (1..levels).rev() {
        lens[i] = (lens[i + 1] + (1 << i)).next_multiple_of(l);
    }
    (p, levels, lens)
}

/// The algorithm [`run`] picks for `g`.
pub(super) fn describe<S: Simd>(g: &WindowGeom) -> &'static str {
    let c = choose::<S>(g);
    if super::pair_rows::fits(g) && !pair_fits(g, S::LANES) {
        return "nchw-s2-pair-rows"; // adaptive pooling halving the width included
    }
    if g.kh == 0 {
        return "nchw-adaptive";
    }
    match (c.h, c.v) {
        _ if pair_fits(g, S::LANES) => "nchw-s2-pairs",
        (Horiz::Gather, _) => "nchw-strided",
        (Horiz::S2, _)
            if (!flat_fits(g, &c, S::LANES) && even_fits(g, &c, S::LANES))
                || shift_job_fits::<S>(g) =>
        {
            "nchw-s2-shift"
        }
        (Horiz::S2, _) => "nchw-s2-deinterleave",
        (Horiz::S1, _) if flat_s1(g, &c) && compact::layout::<S>(g, &(0..g.oh)).is_some() => {
            "nchw-s1-compact"
        }
        (Horiz::S1, _)
            if pad_fits::<S>(g, &c) && pad_plane::layout::<S>(g, &(0..g.oh)).is_some() =>
        {
            "nchw-s1-padded"
        }
        (Horiz::S1, Vert::VanHerk) => "nchw-s1-vanherk",
        (Horiz::S1, _) => "nchw-s1",
    }
}

/// Runs the job (its invariants were asserted by the caller).
#[inline(always)]
pub(super) fn run<S: Simd>(s: S, g: &WindowGeom, job: NchwJob<'_, f32>) {
    let cfg = choose::<S>(g);
    let NchwJob {
        src,
        dst,
        idx,
        planes,
        rows,
    } = job;
    // The stack areas, allocated once here (not in each instantiation below).
    const {
        assert!(
            RBUF + NSEG * LSEG <= FBUF
                && 3 * PBUF <= FBUF
                && pad_plane::MAX_AREA <= FBUF
                && compact::AREA <= FBUF
        )
    };
    let mut fa = [MaybeUninit::<f32>::uninit(); FBUF];
    let mut ua = [MaybeUninit::<u32>::uninit(); FBUF];
    let b = Bufs {
        // SAFETY: RBUF + NSEG·LSEG <= FBUF.
        seg: unsafe { fa.as_mut_ptr().add(RBUF).cast() },
        rv: fa.as_mut_ptr().cast(),
        ri: ua.as_mut_ptr().cast(),
    };
    let with_idx = idx.is_some();
    let job = PlanesJob {
        g,
        cfg: &cfg,
        src,
        dst,
        idx: idx.unwrap_or(&mut []),
        planes,
        rows,
        b: &b,
    };
    if with_idx {
        by_kw::<S, true>(s, job)
    } else {
        by_kw::<S, false>(s, job)
    }
}

/// Instantiates the kernels for the common window widths (taps fully unrolled), each in a
/// function of its own.
#[inline(always)]
fn by_kw<S: Simd, const IDX: bool>(s: S, job: PlanesJob<'_>) {
    match (job.cfg.h, job.cfg.kw) {
        (Horiz::S2, 2) => s.frame(Planes::<2, IDX>(job)),
        (Horiz::S2, 3) => s.frame(Planes::<3, IDX>(job)),
        (Horiz::S1, 3) => s.frame(Planes::<3, IDX>(job)),
        (Horiz::S1, 5) => s.frame(Planes::<5, IDX>(job)),
        _ => s.frame(Planes::<0, IDX>(job)),
    }
}

/// The arguments of [`run_planes`].
struct PlanesJob<'a> {
    g: &'a WindowGeom,
    cfg: &'a Cfg,
    src: &'a [f32],
    dst: &'a mut [f32],
    /// Empty without indices.
    idx: &'a mut [u32],
    planes: usize,
    rows: Range<usize>,
    b: &'a Bufs,
}

/// [`run_planes`] for windows `KW` wide (0: any width).
struct Planes<'a, const KW: usize, const IDX: bool>(PlanesJob<'a>);

impl<S: Simd, const KW: usize, const IDX: bool> Body<S> for Planes<'_, KW, IDX> {
    type Out = ();
    #[inline(always)]
    fn run(self, s: S) {
        run_planes::<S, KW, IDX>(s, self.0)
    }
}

/// Raw pointers to the stack buffers of one job (carved from one f32 and one u32 area of
/// `FBUF`).
struct Bufs {
    /// Row-segment copies (`NSEG` slots of `LSEG`).
    seg: *mut f32,
    /// Row results, values (`RBUF`); plane scheme: the padded copy, the row results and van
    /// Herk's rows (`PBUF` each); padded-plane scheme: its six arrays
    /// (`pad_plane::MAX_AREA`).
    rv: *mut f32,
    /// Row results, indices (`RBUF`); plane scheme: the index of each position of the padded
    /// copy, the row results' indices, van Herk's (`PBUF` each).
    ri: *mut u32,
}

/// Every plane of the job, the output rows `rows` of each.
#[inline(always)]
fn run_planes<S: Simd, const KW: usize, const IDX: bool>(s: S, job: PlanesJob<'_>) {
    let PlanesJob {
        g,
        cfg,
        src,
        dst,
        idx,
        planes,
        rows,
        b,
    } = job;
    const { assert!(S::LANES <= MAX_LANES) };
    let (plane_in, plane_out) = (g.ih * g.iw, rows.len() * g.ow);
    // The bounds every pointer below relies on (NchwJob::check asserted them as well).
    assert!(src.len() >= planes * plane_in && dst.len() >= planes * plane_out);
    assert!(!IDX || idx.len() >= planes * plane_out);
    assert!(rows.end <= g.oh && g.rows.len() == g.oh && g.cols.len() == g.ow);
    if rows.is_empty() || g.ow == 0 {
        return;
    }
    if !IDX && flat_fits(g, cfg, S::LANES) {
        // SAFETY: the slices hold the job's planes (asserted above).
        unsafe { flat_job::<S>(s, g, (src, dst), planes, rows, b) };
        return;
    }
    let whole = chunk_of(cfg, g.iw, S::LANES, 0, g.ow);
    let (r_lo, _) = rows_read(g, &rows);
    // The flat plane schemes (values only): compact where it runs, else padded.
    let flat = if IDX || !flat_s1(g, cfg) {
        None
    } else {
        compact::layout::<S>(g, &rows)
            .map(FlatPlane::Compact)
            .or_else(|| {
                pad_fits::<S>(g, cfg)
                    .then(|| pad_plane::layout::<S>(g, &rows).map(FlatPlane::Padded))
                    .flatten()
            })
    };
    if let Some(flat) = flat {
        let mut p = 0;
        while p < planes {
            let job = (&src[p * plane_in..], &mut dst[p * plane_out..], planes - p);
            let job = FlatJob {
                g,
                flat: &flat,
                job,
                area: b.rv,
            };
            let nan = match g.kh {
                2 => s.frame(Flat::<2, KW>(job)),
                3 => s.frame(Flat::<3, KW>(job)),
                5 => s.frame(Flat::<5, KW>(job)),
                _ => s.frame(Flat::<0, KW>(job)),
            };
            let Some(k) = nan else { break };
            // Plane p + k holds a NaN: the exact scheme redoes it.
            p += k;
            // SAFETY: plane p's input and output rows lie inside the slices (asserted above).
            unsafe {
                let x = src.as_ptr().add(p * plane_in);
                let y = dst.as_mut_ptr().add(p * plane_out);
                let xa = (x, src.len() - p * plane_in);
                plane_general::<S, KW, false>(s, g, cfg, &whole, xa, rows.clone(), y, null(), b);
            }
            p += 1;
        }
        return;
    }
    if cfg.pitch > 0 {
        if IDX {
            // SAFETY: the plane scheme's arrays lie inside the areas (choose).
            unsafe { plane_index_base(g, cfg, S::LANES, r_lo, b.ri) };
        }
        // SAFETY: the slices hold the job's planes (asserted above).
        unsafe { plane_job::<S, KW, IDX>(s, g, cfg, (src, dst, idx), planes, rows, b) };
        return;
    }
    if !IDX && even_fits(g, cfg, S::LANES) {
        for p in 0..planes {
            // SAFETY: plane p's input is src[p·plane_in ..][.. plane_in] and its output rows
            // dst[p·plane_out ..][.. plane_out], inside the slices (asserted above); the cache
            // (b.rv) holds (ow / L + 1)·L <= RBUF elements (even_fits).
            unsafe {
                let x = src.as_ptr().add(p * plane_in);
                let y = dst.as_mut_ptr().add(p * plane_out);
                if even_plane::<S>(s, g, x, rows.clone(), y, b.rv) {
                    // A NaN in the plane: the exact scheme redoes it.
                    let xa = (x, src.len() - p * plane_in);
                    plane_general::<S, KW, false>(
                        s,
                        g,
                        cfg,
                        &whole,
                        xa,
                        rows.clone(),
                        y,
                        null(),
                        b,
                    );
                }
            }
        }
        return;
    }
    for p in 0..planes {
        // SAFETY: plane p's input is src[p·plane_in ..][.. plane_in] and its output rows
        // dst[p·plane_out ..][.. plane_out] (and idx alike), inside the slices (asserted above).
        unsafe {
            let x = src.as_ptr().add(p * plane_in);
            let y = dst.as_mut_ptr().add(p * plane_out);
            let yi = if IDX {
                idx.as_mut_ptr().add(p * plane_out)
            } else {
                null()
            };
            let xa = (x, src.len() - p * plane_in);
            plane_general::<S, KW, IDX>(s, g, cfg, &whole, xa, rows.clone(), y, yi, b);
        }
    }
}

/// A flat plane scheme's layout for one job (values only, stride 1, see `compact` and
/// `pad_plane`).
enum FlatPlane {
    Compact(compact::Compact),
    Padded(pad_plane::Pad),
}

/// The arguments of a flat plane scheme's run over planes.
struct FlatJob<'a> {
    g: &'a WindowGeom,
    flat: &'a FlatPlane,
    job: (&'a [f32], &'a mut [f32], usize),
    /// The f32 stack area (`Bufs::rv`).
    area: *mut f32,
}

/// The flat plane scheme's run for windows `KH × KW` (0: any size).
struct Flat<'a, const KH: usize, const KW: usize>(FlatJob<'a>);

impl<S: Simd, const KH: usize, const KW: usize> Body<S> for Flat<'_, KH, KW> {
    type Out = Option<usize>;
    #[inline(always)]
    fn run(self, s: S) -> Option<usize> {
        let FlatJob { g, flat, job, area } = self.0;
        // SAFETY: area is the f32 area of FBUF >= compact::AREA, pad_plane::MAX_AREA elements
        // (asserted in run), a stack array apart from the slices.
        unsafe {
            match flat {
                FlatPlane::Compact(c) => compact::max::<S, KH, KW>(s, g, c, job, area),
                FlatPlane::Padded(d) => pad_plane::max::<S, KH, KW>(s, g, d, job, area),
            }
        }
    }
}

/// The flat plane schemes may run (values only): stride 1 both ways (the compact scheme checks
/// the rest of its conditions itself).
fn flat_s1(g: &WindowGeom, cfg: &Cfg) -> bool {
    g.kh != 0 && cfg.h == Horiz::S1 && g.sh == 1
}

/// The padded-plane scheme may run (values only; see `pad_plane`): [`flat_s1`] with windows
/// lower than van Herk's (whose three operations per output row beat the padded scheme's
/// sweeps over the copy), or taller ones where its vertical pass runs in registers
/// (`pad_plane::tall_pays`; not for windows 3 or 5 wide, whose instantiations fix the width
/// and do not carry the runs).
fn pad_fits<S: Simd>(g: &WindowGeom, cfg: &Cfg) -> bool {
    let tall = !matches!(g.kw, 3 | 5) && pad_plane::tall_pays::<S>(g);
    flat_s1(g, cfg) && (g.kh < VH_MIN || tall)
}

/// A null index pointer (values only).
fn null() -> *mut u32 {
    core::ptr::null_mut()
}

/// The output rows `rows` of one plane by the row schemes (`Direct`, the row ring, `Ring`,
/// `VanHerk`), exact for NaN.
///
/// # Safety
/// `x[0 .. avail)` is readable and holds the input plane; `y` (and `yi` with `IDX`) is output
/// row `rows.start` of the plane, `rows.len()` rows of `ow` writable. The kernels read input
/// rows h < ih (spans) at columns < iw, write output rows rows.start.. of the plane at columns
/// < ow, and the stack buffers within the sizes choose() checked.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn plane_general<S: Simd, const KW: usize, const IDX: bool>(
    s: S,
    g: &WindowGeom,
    cfg: &Cfg,
    whole: &Chunk,
    (x, avail): (*const f32, usize),
    rows: Range<usize>,
    y: *mut f32,
    yi: *mut u32,
    b: &Bufs,
) {
    // SAFETY: as the caller guarantees.
    unsafe {
        match cfg.v {
            Vert::Direct => {
                for (r, oy) in rows.clone().enumerate() {
                    let (yv, yi) = (y.add(r * g.ow), yi.wrapping_add(r * g.ow));
                    let args = (x, avail, oy, yv, yi);
                    if direct_row::<S, KW, IDX, false>(s, g, cfg, whole, args) {
                        direct_row::<S, KW, IDX, true>(s, g, cfg, whole, args);
                    }
                }
            }
            _ if cfg.rowring => rowring_plane::<S, KW, IDX>(s, g, cfg, (x, avail), rows, y, yi, b),
            Vert::Ring => ring_plane::<S, KW, IDX>(s, g, cfg, x, rows, y, yi, b),
            Vert::VanHerk => vh_plane::<S, KW, IDX>(s, g, cfg, x, rows, y, yi, b),
        }
    }
}

/// The shift scheme applies (values only): 2- or 3-wide stride-2 windows with at most one
/// column of left padding (ResNet's stem, AlexNet's and Inception's 3×3 stride-2 pooling with
/// or without ceil mode, VGG), any row width, at most `SHIFT_ROWS` rows a window, and a row of
/// results fits the cache.
fn shift_fits(g: &WindowGeom, cfg: &Cfg, l: usize) -> bool {
    g.kh != 0
        && cfg.h == Horiz::S2
        && matches!(cfg.kw, 2 | 3)
        && cfg.pl <= 1
        && g.ow.div_ceil(l) * l <= RBUF
        && g.rows.iter().all(|r| r.count <= SHIFT_ROWS)
}

/// Elements of the shift scheme's row cache in its own entry ([`shift_job`]): rows of up to
/// 2048 outputs (wider ones run from the row schemes' entry, whose cache holds `RBUF`).
const SHIFT_CACHE: usize = 2048;

/// The shift scheme takes `g` (values only) from its own entry: the scheme [`run`] would pick,
/// with rows that fit [`SHIFT_CACHE`].
pub(super) fn shift_job_fits<S: Simd>(g: &WindowGeom) -> bool {
    let l = S::LANES;
    let cfg = choose::<S>(g);
    g.ow.div_ceil(l) * l <= SHIFT_CACHE
        && !flat_fits(g, &cfg, l)
        && !even_fits(g, &cfg, l)
        && shift_fits(g, &cfg, l)
}

/// Runs a values-only job of the shift scheme ([`shift_job_fits`]) plane by plane; returns the
/// first plane holding a NaN as a job of its own (for [`run`], whose row schemes redo it
/// exactly) and the planes after it, or `None` when every plane is done.
#[inline(always)]
pub(super) fn shift_job<'a, S: Simd>(
    s: S,
    g: &WindowGeom,
    job: NchwJob<'a, f32>,
) -> Option<super::NanSplit<'a>> {
    let NchwJob {
        src,
        dst,
        idx,
        planes,
        rows,
    } = job;
    let (plane_in, plane_out) = (g.ih * g.iw, rows.len() * g.ow);
    // The bounds every pointer below relies on (NchwJob::check asserted them as well).
    assert!(idx.is_none() && shift_job_fits::<S>(g));
    assert!(src.len() >= planes * plane_in && dst.len() >= planes * plane_out);
    assert!(rows.end <= g.oh && g.rows.len() == g.oh && g.cols.len() == g.ow);
    if rows.is_empty() {
        return None;
    }
    let mut cache = [MaybeUninit::<f32>::uninit(); SHIFT_CACHE];
    for p in 0..planes {
        // SAFETY: plane p's input is src[p·plane_in ..][.. plane_in] and its output rows
        // dst[p·plane_out ..][.. plane_out], inside the slices (asserted above); the cache
        // holds ceil(ow / L)·L <= SHIFT_CACHE elements (asserted above), each written before
        // it is read.
        let nan = unsafe {
            let x = src.as_ptr().add(p * plane_in);
            let y = dst.as_mut_ptr().add(p * plane_out);
            shift_plane::<S>(s, g, x, rows.clone(), y, cache.as_mut_ptr().cast())
        };
        if nan {
            let (x, xr) = src[p * plane_in..].split_at(plane_in);
            let (y, yr) = dst[p * plane_out..].split_at_mut(plane_out);
            let rest = (p + 1 < planes).then(|| NchwJob {
                src: xr,
                dst: yr,
                idx: None,
                planes: planes - p - 1,
                rows: rows.clone(),
            });
            let one = NchwJob {
                src: x,
                dst: y,
                idx: None,
                planes: 1,
                rows,
            };
            return Some((one, rest));
        }
    }
    None
}

/// The most rows a window of the shift scheme has (their row results stay in registers).
const SHIFT_ROWS: usize = 3;

/// Shift scheme (see [`shift_fits`]): output rows `rows` of one plane, values only, with the
/// fast fold; returns true (leaving the rows to be redone exactly) when the plane holds a NaN.
///
/// Block `ox0` (a multiple of `L`) of input row `r` is one deinterleaving load at column
/// `2·ox0 + b`: its even elements `e` are column `2·ox + b` of the lanes' outputs `ox`, its
/// odd ones `o` column `2·ox + b + 1`, and `o` moved up one lane with the previous block's last
/// odd element shifted in (`Simd::shift_in`) is column `2·ox + b − 1`. With `b = 1 − pl` a
/// 3-wide window is those three columns and a 2-wide one with `pl = 1` the first two; a 2-wide
/// one without padding is `e` and `o` (`b = 0`). Two loads and three shuffles per `L` results,
/// from 64-byte aligned columns when the row is and `b = 0`. Before block 0 the shifted-in
/// element is column `b − 1` (the padding's −∞, or column 0). The blocks tile the row; the loads
/// of a block that reaches past the row's end are clipped to it (−∞ past it: ceil mode's
/// windows that end outside the row), and the last block stores only its outputs. Each block
/// folds the rows of its windows in registers, top to bottom, and stores once; the last row of
/// each window is kept in `cache`, where the next output row's first row (stride 2, height 3)
/// finds it. Every column of every row read is tested for NaN (the blocks tile the row).
///
/// # Safety
/// `x` is the input plane (`ih·iw` readable); `y` is output row `rows.start` of the plane,
/// `rows.len()` rows of `ow` writable; `cache` holds `ceil(ow / L)·L` elements.
#[inline(always)]
unsafe fn shift_plane<S: Simd>(
    s: S,
    g: &WindowGeom,
    x: *const f32,
    rows: Range<usize>,
    y: *mut f32,
    cache: *mut f32,
) -> bool {
    let l = S::LANES;
    let (iw, ow) = (g.iw, g.ow);
    let nb = ow.div_ceil(l);
    let (pair, base, nfull) = shift_cols(g, l);
    let share = (g.kh - 1) * g.dh + 1 > g.sh;
    let mut cached = usize::MAX;
    let mut nan = s.none();
    for oy in rows.clone() {
        let rs = g.rows[oy];
        // SAFETY: output row oy of the job lies in y (caller).
        let yv = unsafe { y.add((oy - rows.start) * ow) };
        if rs.count == 0 {
            // SAFETY: yv[0 .. ow) writable.
            unsafe { fill_empty::<S, false>(s, ow, yv, null()) };
            continue;
        }
        let n = rs.count.min(SHIFT_ROWS);
        let last_row = rs.start + (n - 1) * g.dh;
        // The window's last row is kept (when windows share rows) unless it is the cached one.
        let keep = share && last_row != cached;
        let mut oprev = [s.splat(NEG); SHIFT_ROWS];
        if base == 1 {
            for (k, op) in oprev.iter_mut().enumerate().take(n) {
                // SAFETY: row start + k·dh < ih lies in the plane and has column 0.
                let c0 = unsafe { *x.add((rs.start + k * g.dh) * iw) };
                *op = s.splat(c0);
                nan = s.or(nan, s.is_nan(*op));
            }
        }
        let win = ShiftRows {
            kind: match (pair, g.kw) {
                (true, _) => ShiftKind::Pair,
                (false, 2) => ShiftKind::Left,
                _ => ShiftKind::Three,
            },
            base,
            start: rs.start,
            dh: g.dh,
            n,
            cached,
            keep,
        };
        // SAFETY: (blocks) rows h < ih lie in the plane; the first nfull blocks read columns
        // below 2·ox0 + base + 2L <= iw and store L outputs below ow, the others clip both;
        // cache stores lie below nb·L.
        unsafe {
            for bk in 0..nfull {
                let at = (bk * l, l);
                shift_block::<S, false>(s, x, iw, &win, at, &mut oprev, &mut nan, cache, yv);
            }
            for bk in nfull..nb {
                let at = (bk * l, (ow - bk * l).min(l));
                shift_block::<S, true>(s, x, iw, &win, at, &mut oprev, &mut nan, cache, yv);
            }
        }
        cached = last_row;
    }
    s.any(nan)
}

/// The shift scheme's column plan for `g` on `l` lanes (the max and the average scheme alike):
/// whether the windows are 2 wide without padding (taps: the even and odd elements), the load
/// offset `base` (block `ox0` loads from column `2·ox0 + base`: `1 − pl`, or 0 for those
/// windows), and the number of leading blocks whose loads lie in the row and whose outputs
/// are all in it.
#[inline(always)]
pub(super) fn shift_cols(g: &WindowGeom, l: usize) -> (bool, usize, usize) {
    let pair = g.kw == 2 && g.pl == 0;
    let base = if pair { 0 } else { 1 - g.pl };
    let nfull = (g.ow / l).min(g.iw.saturating_sub(base) / (2 * l));
    (pair, base, nfull)
}

/// The taps of a shift-scheme window (see [`shift_plane`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum ShiftKind {
    /// 2-wide, no padding: `e`, `o`.
    Pair,
    /// 2-wide, one column of padding: the shifted `o`, `e`.
    Left,
    /// 3-wide: the shifted `o`, `e`, `o`.
    Three,
}

/// The rows of one window of [`shift_plane`]: `n` rows from `start`, `dh` apart, loaded from
/// column `2·ox0 + base` with taps `kind`; `cached` is the row whose results the cache holds,
/// `keep` says the last row's results replace them.
struct ShiftRows {
    kind: ShiftKind,
    base: usize,
    start: usize,
    dh: usize,
    n: usize,
    cached: usize,
    keep: bool,
}

/// One block of [`shift_plane`]: output columns `ox0 .. ox0 + m` (`m <= L`, cache slot
/// `ox0`), the window's rows reduced and folded top to bottom, stored to `yv[ox0 ..]`;
/// `oprev` holds each row's previous odd vector (updated). Without `CLIP` the block's loads
/// lie in the row and `m = L`.
///
/// # Safety
/// As in [`shift_plane`]: the rows lie in the plane `x`, `yv[ox0 .. ox0 + m)` and
/// `cache[ox0 .. ox0 + L)` writable; without `CLIP`, `2·ox0 + base + 2L <= iw`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn shift_block<S: Simd, const CLIP: bool>(
    s: S,
    x: *const f32,
    iw: usize,
    w: &ShiftRows,
    (ox0, m): (usize, usize),
    oprev: &mut [S::V; SHIFT_ROWS],
    nan: &mut S::M,
    cache: *mut f32,
    yv: *mut f32,
) {
    let mut acc = s.splat(NEG);
    let at = 2 * ox0 + w.base;
    for (k, op) in oprev.iter_mut().enumerate().take(w.n) {
        let h = w.start + k * w.dh;
        // SAFETY: as the caller guarantees; loads past the row's end are clipped to it.
        let v = unsafe {
            if h == w.cached {
                s.load(cache.add(ox0))
            } else {
                let r = x.add(h * iw);
                let (e, o) = if CLIP {
                    s.load_deinterleave_clip(r, iw, at as isize, NEG)
                } else {
                    s.load_deinterleave(r.add(at))
                };
                *nan = s.or(*nan, s.unord(e, o));
                match w.kind {
                    ShiftKind::Pair => s.max(o, e),
                    ShiftKind::Left => {
                        let t0 = s.shift_in(*op, o);
                        *op = o;
                        s.max(e, t0)
                    }
                    ShiftKind::Three => {
                        let t0 = s.shift_in(*op, o);
                        *op = o;
                        s.max(o, s.max(e, t0))
                    }
                }
            }
        };
        acc = if k == 0 { v } else { s.max(v, acc) };
        if k + 1 == w.n && w.keep {
            // SAFETY: as the caller guarantees.
            unsafe { s.store(cache.add(ox0), v) };
        }
    }
    // SAFETY: as the caller guarantees.
    unsafe {
        if CLIP {
            s.store_n(yv.add(ox0), m, acc);
        } else {
            s.store(yv.add(ox0), acc);
        }
    }
}

/// The shift scheme's variant for rows of exactly two columns per output (values only): 3-wide
/// stride-2 windows with one column of left padding (ResNet's stem), or 2-wide ones without
/// padding (VGG), on rows of `iw = 2·ow` (the last window ends at the row's last column), at
/// most `EVEN_ROWS` rows a window, at least one vector of outputs, and a row of results fits
/// the cache. It runs from the row schemes' entry, its last block overlapping the one before
/// and reading in place (the general variant, [`shift_plane`], clips that block's loads and
/// stores: ResNet's stem 1×64×112×112 measured 80 -> 89 µs with it, 64-byte aligned rows).
fn even_fits(g: &WindowGeom, cfg: &Cfg, l: usize) -> bool {
    g.kh != 0
        && cfg.h == Horiz::S2
        && ((cfg.kw == 3 && cfg.pl == 1) || (cfg.kw == 2 && cfg.pl == 0))
        && g.iw == 2 * g.ow
        && g.ow >= l
        && (g.ow / l + 1) * l <= RBUF
        && g.rows.iter().all(|r| r.count <= EVEN_ROWS)
}

/// The most rows a window of the shift scheme has (their row results stay in registers).
const EVEN_ROWS: usize = 3;

/// Shift scheme (see [`even_fits`]): output rows `rows` of one plane, values only, with the
/// fast fold; returns true (leaving the rows to be redone exactly) when the plane holds a NaN.
///
/// Block `ox0` (a multiple of `L`) of input row `r` is one deinterleaving load at column
/// `2·ox0`: its even elements are tap 1 of the lanes' windows, its odd ones tap 2, and tap 0
/// (column `2·ox0 + 2k − 1`) is the odd vector moved up one lane with the previous block's
/// last odd element shifted in (−∞, the padding, left of block 0): two loads and three shuffles
/// per `L` results, from 64-byte aligned columns. When `L` does not divide `ow`, a last block at
/// `ow − L` reads its tap 0 from one more deinterleaving load. Each block folds the rows of its
/// windows in registers, top to bottom, and stores once; the last row of each window is kept in
/// `cache` (the last block in a slot of its own past the others), where the next output row's
/// first row (stride 2, height 3) finds it. Every column of every row read is tested for NaN
/// (the blocks tile the row).
///
/// # Safety
/// `x` is the input plane (`ih·iw` readable); `y` is output row `rows.start` of the plane,
/// `rows.len()` rows of `ow` writable; `cache` holds `(ow / L + 1)·L` elements.
#[inline(always)]
unsafe fn even_plane<S: Simd>(
    s: S,
    g: &WindowGeom,
    x: *const f32,
    rows: Range<usize>,
    y: *mut f32,
    cache: *mut f32,
) -> bool {
    let l = S::LANES;
    let (iw, ow) = (g.iw, g.ow);
    let (nb, last) = (ow / l, ow - l);
    // 3-wide windows (left padding 1) or 2-wide ones (no padding: taps 0 and 1 are the even
    // and odd elements).
    let wide = g.kw == 3;
    let share = (g.kh - 1) * g.dh + 1 > g.sh;
    let mut cached = usize::MAX;
    let mut nan = s.none();
    for oy in rows.clone() {
        let rs = g.rows[oy];
        // SAFETY: output row oy of the job lies in y (caller).
        let yv = unsafe { y.add((oy - rows.start) * ow) };
        if rs.count == 0 {
            // SAFETY: yv[0 .. ow) writable.
            unsafe { fill_empty::<S, false>(s, ow, yv, null()) };
            continue;
        }
        let n = rs.count.min(EVEN_ROWS);
        let last_row = rs.start + (n - 1) * g.dh;
        // The window's last row is kept (when windows share rows) unless it is the cached one.
        let keep = share && last_row != cached;
        let mut oprev = [s.splat(NEG); EVEN_ROWS];
        let win = EvenRows {
            wide,
            start: rs.start,
            dh: g.dh,
            n,
            cached,
            keep,
        };
        // SAFETY: (blocks) rows h < ih lie in the plane; aligned blocks read row[2·ox0 ..
        // 2·ox0 + 2L) with ox0 + L <= ow, inside the row (iw = 2·ow), the last block also
        // row[2·last − 2 ..) with last >= 1 (ow > L there); stores write yv at ox0 + L <= ow
        // and cache below (nb + 1)·L.
        unsafe {
            for bk in 0..nb {
                let at = (bk * l, bk * l);
                even_block::<S, false>(s, x, iw, &win, at, &mut oprev, &mut nan, cache, yv);
            }
            if nb * l < ow {
                let at = (last, nb * l);
                even_block::<S, true>(s, x, iw, &win, at, &mut oprev, &mut nan, cache, yv);
            }
        }
        cached = last_row;
    }
    s.any(nan)
}

/// The rows of one window of [`even_plane`]: `n` rows from `start`, `dh` apart; `cached` is
/// the row whose results the cache holds, `keep` says the last row's results replace them;
/// `wide`: 3-wide windows (left padding 1, tap 0 left of the block), else 2-wide ones (no
/// padding: taps 0 and 1 are the even and odd elements).
struct EvenRows {
    wide: bool,
    start: usize,
    dh: usize,
    n: usize,
    cached: usize,
    keep: bool,
}

/// One block of [`even_plane`] at output column `ox0` (cache slot `slot`): the window's rows
/// reduced and folded top to bottom, stored to `yv[ox0 ..]`. Aligned blocks (`LAST` false) take
/// tap 0 from `oprev` (one per row, updated); the last, overlapping block reads it.
///
/// # Safety
/// As in [`even_plane`]: the rows lie in the plane `x`, the block's reads inside them,
/// `yv[ox0 .. ox0 + L)` and `cache[slot .. slot + L)` writable.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn even_block<S: Simd, const LAST: bool>(
    s: S,
    x: *const f32,
    iw: usize,
    w: &EvenRows,
    (ox0, slot): (usize, usize),
    oprev: &mut [S::V; EVEN_ROWS],
    nan: &mut S::M,
    cache: *mut f32,
    yv: *mut f32,
) {
    let mut acc = s.splat(NEG);
    for (k, op) in oprev.iter_mut().enumerate().take(w.n) {
        let h = w.start + k * w.dh;
        // SAFETY: as the caller guarantees.
        let v = unsafe {
            if h == w.cached {
                s.load(cache.add(slot))
            } else {
                let r = x.add(h * iw + 2 * ox0);
                let (e, o) = s.load_deinterleave(r);
                *nan = s.or(*nan, s.unord(e, o));
                if !w.wide {
                    s.max(o, e)
                } else if LAST {
                    let (_, t0) = s.load_deinterleave(r.sub(2));
                    s.max(o, s.max(e, t0))
                } else {
                    let t0 = s.shift_in(*op, o);
                    *op = o;
                    s.max(o, s.max(e, t0))
                }
            }
        };
        acc = if k == 0 { v } else { s.max(v, acc) };
        if k + 1 == w.n && w.keep {
            // SAFETY: as the caller guarantees.
            unsafe { s.store(cache.add(slot), v) };
        }
    }
    // SAFETY: as the caller guarantees.
    unsafe { s.store(yv.add(ox0), acc) };
}

/// The flat scheme applies (values only): `Direct` with 2-wide, stride-2 column windows tiling
/// each row exactly (no padding, `iw = 2·ow`), and two planes of row results fit in `RBUF`.
fn flat_fits(g: &WindowGeom, cfg: &Cfg, l: usize) -> bool {
    cfg.v == Vert::Direct
        && cfg.h == Horiz::S2
        && g.kh != 0
        && cfg.kw == 2
        && cfg.pl == 0
        && g.iw == 2 * g.ow
        && 2 * (g.ih * g.ow).next_multiple_of(l) + 2 * l <= RBUF
}

/// Flat scheme (see [`flat_fits`]): the column windows never cross a row end, so the row
/// results of a whole plane are one sweep of deinterleaving loads over the flattened plane
/// (`ih·ow` results, consecutive rows of `ow`), whatever the row width; each output row then
/// folds its rows of results. The next plane's sweep runs before this plane's folds (two
/// buffers), so that the folds' unaligned loads never wait on the sweep's stores. A plane
/// whose sweep sees a NaN is swept again and folded with the exact step.
///
/// # Safety
/// `src` and `dst` hold the job's planes (run_planes asserted it); `rows` are output rows.
#[inline(always)]
unsafe fn flat_job<S: Simd>(
    s: S,
    g: &WindowGeom,
    (src, dst): (&[f32], &mut [f32]),
    planes: usize,
    rows: Range<usize>,
    b: &Bufs,
) {
    let l = S::LANES;
    let (plane_in, plane_out, ow) = (g.ih * g.iw, rows.len() * g.ow, g.ow);
    let n = g.ih * ow;
    let half = n.next_multiple_of(l) + l;
    let buf = |p: usize| b.rv.wrapping_add((p % 2) * half);
    let x = |p: usize| src.as_ptr().wrapping_add(p * plane_in);
    // Output rows that all fold two rows `dh` apart, their first rows `sh` apart (2×2 windows
    // inside the input): one loop of pair folds (see `two_rows`).
    let first = g.rows[rows.start].start;
    let pairs = g.kh == 2
        && rows.clone().enumerate().all(|(i, oy)| {
            let r = g.rows[oy];
            r.count == 2 && r.start == first + i * g.sh
        });
    let mut pending = None;
    for p in 0..planes {
        // SAFETY: plane p's input is src[p·plane_in ..][.. plane_in] and its output rows
        // dst[p·plane_out ..][.. plane_out]; each buffer holds `half` <= RBUF / 2 (flat_fits).
        unsafe {
            let nan = match pending.take() {
                Some(nan) => nan,
                None => flat_sweep::<S, false>(s, x(p), plane_in, n, buf(p)),
            };
            if p + 1 < planes {
                pending = Some(flat_sweep::<S, false>(s, x(p + 1), plane_in, n, buf(p + 1)));
            }
            if nan {
                flat_sweep::<S, true>(s, x(p), plane_in, n, buf(p));
            }
            let y = dst.as_mut_ptr().add(p * plane_out);
            if pairs && !nan {
                let room = dst.len() - p * plane_out;
                let swept = n.next_multiple_of(l);
                two_rows(
                    s,
                    buf(p),
                    (first, g.sh, g.dh),
                    (ow, rows.len(), swept),
                    y,
                    room,
                );
                continue;
            }
            for oy in rows.clone() {
                let rs = g.rows[oy];
                let yv = y.add((oy - rows.start) * ow);
                let fold = (rs.start * ow, g.dh * ow, rs.count);
                if rs.count == 0 {
                    fill_empty::<S, false>(s, ow, yv, core::ptr::null_mut());
                } else if nan {
                    sfold::<S, false, true>(s, buf(p), b.ri, fold, ow, yv, core::ptr::null_mut());
                } else {
                    sfold::<S, false, false>(s, buf(p), b.ri, fold, ow, yv, core::ptr::null_mut());
                }
            }
        }
    }
}

/// [`flat_job`]'s folds of `n` output rows that each fold two rows of results `t` (rows of
/// `ow` at offsets `(h0 + i·sh)·ow` and `dh·ow` below, fast step), into `y`: one vector per
/// output row narrower than `L`, stored whole (its lanes past the row land on the next output
/// row, which is stored after it, or on a later plane's rows) while `room` allows. Rows at
/// least `L` wide, and a row whose loads would reach past the `swept` results, fold through
/// [`sfold`].
///
/// # Safety
/// `t[0 .. swept)` holds the sweep's results and the folded rows lie inside it; `y[0 .. room)`
/// is writable and `room >= n·ow`.
#[inline(always)]
unsafe fn two_rows<S: Simd>(
    s: S,
    t: *const f32,
    (h0, sh, dh): (usize, usize, usize),
    (ow, n, swept): (usize, usize, usize),
    y: *mut f32,
    room: usize,
) {
    let l = S::LANES;
    let below = dh * ow;
    for i in 0..n {
        let o = (h0 + i * sh) * ow;
        let yo = i * ow;
        // SAFETY: loads read t[o .. o + below + L) inside `swept` (checked; sfold reads only
        // its rows' blocks); stores lie in y[yo .. yo + L) inside `room` (checked; store_n and
        // sfold write y[yo .. yo + ow), ow <= room − yo).
        unsafe {
            if ow >= l || o + below + l > swept {
                let fold = (o, below, 2);
                sfold::<S, false, false>(
                    s,
                    t,
                    core::ptr::null(),
                    fold,
                    ow,
                    y.add(yo),
                    core::ptr::null_mut(),
                );
            } else {
                let v = s.max(s.load(t.add(o + below)), s.load(t.add(o)));
                if yo + l <= room {
                    s.store(y.add(yo), v);
                } else {
                    s.store_n(y.add(yo), ow, v);
                }
            }
        }
    }
}

/// [`flat_job`]'s sweep of the plane `x` (`lim` elements): `t[j] = f(x[2j], x[2j + 1])` for
/// `j < n` (rounded up to `L`; past `lim` the elements are −∞). Returns (fast path) true when a
/// NaN was seen.
///
/// # Safety
/// `x[0 .. lim)` is readable, `t` holds `n` rounded up to `L`.
#[inline(always)]
unsafe fn flat_sweep<S: Simd, const EXACT: bool>(
    s: S,
    x: *const f32,
    lim: usize,
    n: usize,
    t: *mut f32,
) -> bool {
    let l = S::LANES;
    let mut nan = s.none();
    let mut j = 0;
    while j < n {
        let at = 2 * j;
        // SAFETY: full loads read x[at .. at + 2L) inside lim; clipped ones nothing past it;
        // the store lies in t's rounded length.
        unsafe {
            let (e, o) = if at + 2 * l <= lim {
                s.load_deinterleave(x.add(at))
            } else {
                s.load_deinterleave_clip(x, lim, at as isize, NEG)
            };
            let mut acc = e;
            let mut ai = s.isplat(0);
            step::<S, false, EXACT>(s, o, ai, &mut acc, &mut ai);
            if !EXACT {
                // acc is NaN exactly where e is (see taps).
                nan = s.or(nan, s.unord(acc, o));
            }
            s.store(t.add(j), acc);
        }
        j += l;
    }
    !EXACT && s.any(nan)
}

/// Elements of the pair scheme's stack buffer of row results (the job's stack area is not
/// reserved on its path, see `window_nchw`).
const PAIR_BUF: usize = 768;

/// The pair scheme's permute indices of each group's upper rows, by row width `ow` (1 to 8):
/// lane `k` is output row `j = k / ow` of the group, column `k % ow`, whose upper row result
/// is `t[2j·ow + k % ow]` (the lower one `ow` further). The lanes `k < q·ow` that a tier with
/// `L` lanes uses (`q = L / ow`) have the same index whatever `L`.
static PAIR_UPPER: [[u32; MAX_LANES]; MAX_LANES / 2] = {
    let mut t = [[0; MAX_LANES]; MAX_LANES / 2];
    let mut ow = 1;
    while ow <= MAX_LANES / 2 {
        let mut k = 0;
        while k < MAX_LANES {
            t[ow - 1][k] = (k + k / ow * ow) as u32;
            k += 1;
        }
        ow += 1;
    }
    t
};

/// The pair scheme applies (values only): 2×2 windows of stride 2 without dilation or top
/// and left padding, every window inside the input (`ih >= 2·oh`, `iw = 2·ow`), and output
/// rows of at most half a vector (late layers' 4×4 to 16×16 planes).
pub(super) fn pair_fits(g: &WindowGeom, l: usize) -> bool {
    (g.kh, g.kw, g.sh, g.sw, g.dh, g.dw, g.pt, g.pl) == (2, 2, 2, 2, 1, 1, 0, 0)
        && g.ih >= 2 * g.oh
        && g.iw == 2 * g.ow
        && g.ow >= 1
        && 2 * g.ow <= l
}

/// Pair scheme (see [`pair_fits`]): output row `r` of a plane folds the row results of input
/// rows `2r` and `2r + 1`, so a run of output rows whose input rows are consecutive (the rows
/// of one plane's job; all planes of the job when `ih = 2·oh`) is one flat sweep of
/// deinterleaving loads (`t[j] = f(x[2j], x[2j + 1])`, as in the flat scheme) followed by
/// groups of `q = L / ow` output rows: two loads of `t` at row pair `r0`, two two-source
/// permutes gathering the upper and the lower row of each output row of the group, one `max`,
/// one store of `q·ow` results (a full vector overlapping the next group, which overwrites
/// it, or the last `q·ow` or fewer masked). Rows of 1 to 8 outputs thus fill whole vectors
/// instead of one masked vector per row and plane. A chunk whose sweep sees a NaN is swept
/// again and folded with the exact step.
#[inline(always)]
pub(super) fn pair_job<S: Simd>(s: S, g: &WindowGeom, job: NchwJob<'_, f32>) {
    let l = S::LANES;
    let (iw, ow) = (g.iw, g.ow);
    let NchwJob {
        src,
        dst,
        planes,
        rows,
        ..
    } = job;
    let (plane_in, nr) = (g.ih * iw, rows.len());
    // The bounds every pointer below relies on (NchwJob::check asserted them as well).
    assert!(pair_fits(g, l) && l <= MAX_LANES && rows.end <= g.oh);
    assert!(planes == 1 || rows == (0..g.oh));
    assert!(src.len() >= planes * plane_in && dst.len() >= planes * nr * ow);
    if nr == 0 {
        return;
    }
    let q = l / ow;
    // SAFETY: each table row holds MAX_LANES >= L indices.
    let ie = unsafe { s.iload(PAIR_UPPER[ow - 1].as_ptr()) };
    let io = s.iadd(ie, s.isplat(ow as u32));
    let mut t = [MaybeUninit::<f32>::uninit(); PAIR_BUF];
    let pr = PairRun {
        t: t.as_mut_ptr().cast(),
        ie,
        io,
        per: q * ow,
        iw,
        ow,
    };
    let (sp, dp) = (src.as_ptr(), dst.as_mut_ptr());
    // SAFETY: each run's rows lie inside the slices (asserted above): with one run, row pair
    // r of the job is input rows 2·(rows.start + r) of plane 0 (planes = 1) or rows 2r of the
    // planes back to back (ih = 2·oh, rows = 0..oh), and its output row r follows the job's
    // previous rows; otherwise plane p's rows 2·r <= 2·oh <= ih of its own plane.
    unsafe {
        if planes == 1 || g.ih == 2 * g.oh {
            pair_run(s, &pr, sp.add(2 * rows.start * iw), dp, planes * nr);
        } else {
            for p in 0..planes {
                pair_run(s, &pr, sp.add(p * plane_in), dp.add(p * nr * ow), nr);
            }
        }
    }
}

/// What [`pair_job`]'s runs share: the stack buffer `t` (`PAIR_BUF`), the permutes' indices
/// of each group's upper and lower rows, the outputs per group (`q·ow`), the row widths.
struct PairRun<S: Simd> {
    t: *mut f32,
    ie: S::I,
    io: S::I,
    per: usize,
    iw: usize,
    ow: usize,
}

/// One run of [`pair_job`]: `n` output rows, row pair r at `x + 2r·iw`, output row r at
/// `y + r·ow`, in chunks of rows whose results fit `t`.
///
/// # Safety
/// `x[0 .. 2n·iw)` is readable, `y[0 .. n·ow)` writable.
#[inline(always)]
unsafe fn pair_run<S: Simd>(s: S, pr: &PairRun<S>, x: *const f32, y: *mut f32, n: usize) {
    let (l, iw, ow, t) = (S::LANES, pr.iw, pr.ow, pr.t);
    // Output rows per chunk: their 2·ow results per row, rounded up to L, and two vectors of
    // padding fit PAIR_BUF.
    let cap = (PAIR_BUF - 3 * l) / (2 * ow);
    let mut r = 0;
    while r < n {
        let c = cap.min(n - r);
        let (len, m) = (2 * c * iw, 2 * c * ow);
        let end = m.next_multiple_of(l);
        // SAFETY: rows r .. r + c read x[2r·iw ..][.. len] and write y[r·ow ..][.. c·ow],
        // inside the ranges (caller); t holds end + 2L <= PAIR_BUF elements (cap), all
        // written before any is read.
        unsafe {
            let xp = x.add(2 * r * iw);
            let yp = y.add(r * ow);
            let nan = flat_sweep::<S, false>(s, xp, len, m, t);
            s.store(t.add(end), s.splat(NEG));
            s.store(t.add(end + l), s.splat(NEG));
            if nan {
                flat_sweep::<S, true>(s, xp, len, m, t);
                pair_groups::<S, true>(s, pr, t, c * ow, yp);
            } else {
                pair_groups::<S, false>(s, pr, t, c * ow, yp);
            }
        }
        r += c;
    }
}

/// [`pair_job`]'s groups over `t` (row pair r's results at `t[2r·ow ..]`): `total` outputs
/// to `y`, `pr.per` (= q·ow) per group.
///
/// # Safety
/// `t[0 .. 2·total + 2L)` is initialized (`total / ow` row pairs and padding); `y[0 .. total)`
/// is writable.
#[inline(always)]
unsafe fn pair_groups<S: Simd, const EXACT: bool>(
    s: S,
    pr: &PairRun<S>,
    t: *const f32,
    total: usize,
    y: *mut f32,
) {
    let l = S::LANES;
    let mut base = 0;
    while base < total {
        // SAFETY: the loads read t[2·base .. 2·base + 2L), 2·base < 2·total; the store writes
        // y[base .. base + L) when that lies inside y, else y[base .. total).
        unsafe {
            let (a, b) = (s.load(t.add(2 * base)), s.load(t.add(2 * base + l)));
            let (upper, lower) = (s.permute2(a, b, pr.ie), s.permute2(a, b, pr.io));
            let v = if EXACT {
                s.max_exact(lower, upper)
            } else {
                s.max(lower, upper)
            };
            if base + l <= total {
                s.store(y.add(base), v);
            } else {
                s.store_n(y.add(base), total - base, v);
            }
        }
        base += pr.per;
    }
}

/// The first and last input rows the windows of output rows `rows` read (with dilation and
/// padding, the first row of a window is not monotonic in the output row). `(0, 0)` when no
/// window has a row.
fn rows_read(g: &WindowGeom, rows: &Range<usize>) -> (usize, usize) {
    let spans = g.rows[rows.clone()].iter().filter(|r| r.count > 0);
    let lo = spans.clone().map(|r| r.start).min().unwrap_or(0);
    let hi = spans
        .map(|r| r.start + (r.count - 1) * g.dh)
        .max()
        .unwrap_or(0);
    (lo, hi)
}

/// One combination step: `v` (later in scan order) against the accumulator `acc` (earlier).
/// Fast: `v > acc`; exact: `v > acc || isnan(v)`. With `IDX` the index follows the value.
#[inline(always)]
fn step<S: Simd, const IDX: bool, const EXACT: bool>(
    s: S,
    v: S::V,
    vi: S::I,
    acc: &mut S::V,
    ai: &mut S::I,
) {
    if IDX && EXACT {
        let take = s.or(s.gt(v, *acc), s.is_nan(v));
        *acc = s.select(take, v, *acc);
        *ai = s.iselect(take, vi, *ai);
    } else if IDX {
        // max(v, acc) is select(v > acc, v, acc), in one operation and off the mask's path.
        *ai = s.iselect(s.gt(v, *acc), vi, *ai);
        *acc = s.max(v, *acc);
    } else if EXACT {
        *acc = s.max_exact(v, *acc);
    } else {
        *acc = s.max(v, *acc);
    }
}

/// Stores the first `n` lanes (all when `n >= LANES`) of a result at `yv + at` (and its indices
/// at `yi + at`).
///
/// # Safety
/// `yv[at .. at + min(n, L))` (and `yi` alike with `IDX`) must be writable.
#[inline(always)]
unsafe fn put<S: Simd, const IDX: bool>(
    s: S,
    yv: *mut f32,
    yi: *mut u32,
    at: usize,
    n: usize,
    v: S::V,
    i: S::I,
) {
    // SAFETY: as the caller guarantees.
    unsafe {
        if n >= S::LANES {
            s.store(yv.add(at), v);
            if IDX {
                s.istore(yi.add(at), i);
            }
        } else {
            s.store_n(yv.add(at), n, v);
            if IDX {
                s.istore_n(yi.add(at), n, i);
            }
        }
    }
}

/// `L` elements at `row + at`; with `MASK`, those outside `row[0 .. lim)` are −∞ and not read
/// (`at` may be negative).
///
/// # Safety
/// Without `MASK`, `at >= 0` and `row[at .. at + L)` is readable; with it, `row[0 .. lim)` is.
#[inline(always)]
unsafe fn ld<S: Simd, const MASK: bool>(s: S, row: *const f32, lim: usize, at: isize) -> S::V {
    // SAFETY: as the caller guarantees.
    unsafe {
        if MASK {
            s.load_clip(row, lim, at, NEG)
        } else {
            s.load(row.add(at as usize))
        }
    }
}

/// `load_deinterleave` at `row + at`; with `MASK`, elements outside `row[0 .. lim)` are −∞ and
/// not read (`at` may be negative).
///
/// # Safety
/// Without `MASK`, `at >= 0` and `row[at .. at + 2L)` is readable; with it, `row[0 .. lim)` is.
#[inline(always)]
unsafe fn ld2<S: Simd, const MASK: bool>(
    s: S,
    row: *const f32,
    lim: usize,
    at: isize,
) -> (S::V, S::V) {
    // SAFETY: as the caller guarantees.
    unsafe {
        if MASK {
            s.load_deinterleave_clip(row, lim, at, NEG)
        } else {
            s.load_deinterleave(row.add(at as usize))
        }
    }
}

/// The horizontal maximum of one input row for the `L` lanes of a block (`S1` or `S2`): lane
/// `k`'s taps are `row[q + k·sw + t]`, `t = j·dw`. Returns the maximum, `tb + t` for the chosen
/// tap `t` (`IDX`: the caller adds each lane's first column), and (fast path) the NaN lanes of
/// the block's primary vectors, which cover `row[q .. q + sw·L)`.
///
/// # Safety
/// Without `MASK`, `q >= 0` and `row[q .. q + cfg.ext)` is readable; with it, `row[0 .. lim)`
/// is, and nothing outside it is read (those taps are −∞; `q` may be negative).
#[inline(always)]
unsafe fn taps<S: Simd, const KW: usize, const IDX: bool, const EXACT: bool, const MASK: bool>(
    s: S,
    cfg: &Cfg,
    row: *const f32,
    lim: usize,
    q: isize,
    tb: u32,
) -> (S::V, S::I, S::M) {
    let kw = if KW > 0 { KW } else { cfg.kw };
    let mut ai = s.isplat(tb);
    // SAFETY: (all loads) S1 reads row[q + t .. q + t + L) for t <= (kw − 1)·dw, S2 reads
    // row[q + t' .. q + t' + 2L) for t' <= kw − 2 (or t' = 0): all inside row[q .. q + ext)
    // (ext = (kw − 1)·dw + L, resp. max(2(L − 1) + kw, 2L)), or masked at lim.
    unsafe {
        if cfg.h == Horiz::S1 {
            let mut acc = ld::<S, MASK>(s, row, lim, q);
            let nan = if EXACT { s.none() } else { s.is_nan(acc) };
            for j in 1..kw {
                let t = j * cfg.dw;
                let v = ld::<S, MASK>(s, row, lim, q + t as isize);
                step::<S, IDX, EXACT>(s, v, tsplat(s, tb, t), &mut acc, &mut ai);
            }
            (acc, ai, nan)
        } else {
            let (e, o) = ld2::<S, MASK>(s, row, lim, q);
            let mut acc = e;
            if kw > 1 {
                step::<S, IDX, EXACT>(s, o, tsplat(s, tb, 1), &mut acc, &mut ai);
            }
            let mut t = 2;
            while t + 1 < kw {
                let (e, o) = ld2::<S, MASK>(s, row, lim, q + t as isize);
                step::<S, IDX, EXACT>(s, e, tsplat(s, tb, t), &mut acc, &mut ai);
                step::<S, IDX, EXACT>(s, o, tsplat(s, tb, t + 1), &mut acc, &mut ai);
                t += 2;
            }
            if t < kw {
                let (_, o) = ld2::<S, MASK>(s, row, lim, q + t as isize - 1);
                step::<S, IDX, EXACT>(s, o, tsplat(s, tb, t), &mut acc, &mut ai);
            }
            // The fast fold keeps a NaN of its first operand e (max returns its second
            // operand when unordered) and drops the others, so acc is NaN exactly where e is:
            // one unordered comparison checks both halves of the first load.
            let nan = if EXACT { s.none() } else { s.unord(acc, o) };
            (acc, ai, nan)
        }
    }
}

/// `tb + t` in every lane.
#[inline(always)]
fn tsplat<S: Simd>(s: S, tb: u32, t: usize) -> S::I {
    s.isplat(tb.wrapping_add(t as u32))
}

/// Lane `k` holds `q + k·sw` (wrapping): the first tap column of each lane of a block.
#[inline(always)]
fn lane_cols<S: Simd>(s: S, cfg: &Cfg, q: isize) -> S::I {
    s.iadd(s.isplat(q as u32), s.iota(cfg.sw as u32))
}

/// `Gather` for a block of `L` outputs whose windows lie inside the row (window pooling): lane
/// `k`'s taps are `row[q + k·sw + j·dw]`, gathered tap by tap. Returns as [`taps`].
///
/// # Safety
/// `row[q + (L − 1)·sw + (kw − 1)·dw]` is readable (and everything from `row[q]` to it).
#[inline(always)]
unsafe fn gather_reg<S: Simd, const IDX: bool, const EXACT: bool>(
    s: S,
    cfg: &Cfg,
    row: *const f32,
    q: usize,
    tb: u32,
) -> (S::V, S::I, S::M) {
    let mut acc = s.splat(NEG);
    let mut ai = s.isplat(tb);
    let mut nan = s.none();
    for j in 0..cfg.kw {
        let t = j * cfg.dw;
        let mut vb = [NEG; MAX_LANES];
        for (k, v) in vb.iter_mut().enumerate().take(S::LANES) {
            // SAFETY: q + k·sw + t <= q + (L − 1)·sw + (kw − 1)·dw (caller).
            *v = unsafe { *row.add(q + k * cfg.sw + t) };
        }
        // SAFETY: vb holds MAX_LANES >= L elements.
        let v = unsafe { s.load(vb.as_ptr()) };
        if !EXACT {
            nan = s.or(nan, s.is_nan(v));
        }
        if j == 0 {
            acc = v;
        } else {
            let vi = s.isplat(tb.wrapping_add(t as u32));
            step::<S, IDX, EXACT>(s, v, vi, &mut acc, &mut ai);
        }
    }
    (acc, ai, nan)
}

/// `Gather` through the column spans for the block of outputs `ox0 .. ox0 + m` (borders,
/// adaptive bins), with the flat index `hb + column` of each chosen tap (`IDX`) and the NaN
/// lanes of the gathered vectors (fast path). Lanes past `m`, and lanes whose span is empty,
/// are −∞ with `NO_INDEX`.
///
/// # Safety
/// `row[0 .. iw)` is readable and every span of `g.cols[ox0 .. ox0 + m]` lies in it.
#[inline(always)]
unsafe fn gather<S: Simd, const IDX: bool, const EXACT: bool>(
    s: S,
    g: &WindowGeom,
    row: *const f32,
    hb: u32,
    ox0: usize,
    m: usize,
) -> (S::V, S::I, S::M) {
    let spans = &g.cols[ox0..ox0 + m];
    let kmax = spans.iter().map(|c| c.count).max().unwrap_or(0);
    let mut acc = s.splat(NEG);
    let mut ai = s.isplat(NO_INDEX);
    let mut nan = s.none();
    for i in 0..kmax {
        let mut vb = [NEG; MAX_LANES];
        let mut ib = [NO_INDEX; MAX_LANES];
        for (k, c) in spans.iter().enumerate() {
            if c.count > 0 {
                let col = c.start + i.min(c.count - 1) * g.dw;
                // SAFETY: col is an in-bounds tap of the span (planner invariant).
                vb[k] = unsafe { *row.add(col) };
                ib[k] = hb.wrapping_add(col as u32);
            }
        }
        // SAFETY: vb and ib hold MAX_LANES >= L elements.
        let (v, vi) = unsafe {
            (
                s.load(vb.as_ptr()),
                if IDX {
                    s.iload(ib.as_ptr())
                } else {
                    s.isplat(0)
                },
            )
        };
        if !EXACT {
            nan = s.or(nan, s.is_nan(v));
        }
        if i == 0 {
            acc = v;
            ai = vi;
        } else {
            step::<S, IDX, EXACT>(s, v, vi, &mut acc, &mut ai);
        }
    }
    (acc, ai, nan)
}

/// Gives the lanes of a border block whose row result `v` is −∞ the index of their first
/// in-bounds tap in the row (`hb + span start`), or `NO_INDEX` for an empty span: the padding
/// may have been chosen there (a −∞ that came first).
#[inline(always)]
fn fix<S: Simd>(s: S, g: &WindowGeom, hb: u32, ox0: usize, v: S::V, i: S::I) -> S::I {
    if !any_neg_inf(s, v) {
        return i;
    }
    let mut vb = [0.0f32; MAX_LANES];
    let mut ib = [0u32; MAX_LANES];
    // SAFETY: vb and ib hold MAX_LANES >= L elements.
    unsafe {
        s.store(vb.as_mut_ptr(), v);
        s.istore(ib.as_mut_ptr(), i);
    }
    for k in 0..S::LANES {
        let ox = ox0 + k;
        if ox < g.ow && vb[k] == NEG {
            let c = g.cols[ox];
            ib[k] = if c.count == 0 {
                NO_INDEX
            } else {
                hb.wrapping_add(c.start as u32)
            };
        }
    }
    // SAFETY: ib holds MAX_LANES >= L elements.
    unsafe { s.iload(ib.as_ptr()) }
}

/// True when a lane of `v` is −∞ (the only value below the lowest finite one; NaN is not).
#[inline(always)]
fn any_neg_inf<S: Simd>(s: S, v: S::V) -> bool {
    s.any(s.gt(s.splat(f32::MIN), v))
}

/// True when a NaN is among `row[lo .. hi)`.
///
/// # Safety
/// `row[lo .. hi)` is readable.
#[inline(always)]
unsafe fn any_nan(row: *const f32, lo: usize, hi: usize) -> bool {
    // SAFETY: as the caller guarantees.
    (lo..hi).any(|c| unsafe { *row.add(c) }.is_nan())
}

/// The columns that the windows of the outputs just before `end` read past the primary vectors
/// of their blocks (`S1`/`S2`): from `end·sw − pl` to their last tap, clipped to the row.
fn tail_cols(cfg: &Cfg, iw: usize, end: usize) -> Range<usize> {
    let lo = (end * cfg.sw).saturating_sub(cfg.pl);
    let hi = ((end - 1) * cfg.sw + (cfg.kw - 1) * cfg.dw + 1).saturating_sub(cfg.pl);
    lo.min(iw)..hi.min(iw)
}

/// Copies the input columns `q .. q + len` of a row to `buf`, −∞ for columns outside
/// `0 .. iw`, so that border blocks can run over `buf` as full blocks.
///
/// # Safety
/// `row[0 .. iw)` is readable, `buf[0 .. len rounded up to L)` writable.
#[inline(always)]
unsafe fn seg_copy<S: Simd>(s: S, row: *const f32, iw: usize, q: isize, len: usize, buf: *mut f32) {
    let l = S::LANES;
    // SAFETY: stores stay below len rounded up to L; loads read columns lo .. hi inside the
    // row, stored at buf[lo − q .. hi − q) inside len.
    unsafe {
        let lo = q.max(0) as usize;
        let hi = (q + len as isize).clamp(0, iw as isize) as usize;
        let first = (lo as isize - q) as usize; // buf position of column lo
        let mut t = 0;
        while t < first.min(len) {
            s.store(buf.add(t), s.splat(NEG));
            t += l;
        }
        let mut c = lo;
        while c < hi {
            let k = (hi - c).min(l);
            let v = if k == l {
                s.load(row.add(c))
            } else {
                s.load_n(row.add(c), k, NEG)
            };
            s.store(buf.add(c - lo + first), v);
            c += l;
        }
        let mut t = if hi > lo {
            first + (hi - lo).next_multiple_of(l)
        } else {
            t
        };
        while t < len {
            s.store(buf.add(t), s.splat(NEG));
            t += l;
        }
    }
}

/// A column chunk `c0 .. c1` cut into `nb` blocks of `L` outputs (`S1`/`S2`): blocks `0 .. nl`
/// start left of column 0, `nl .. nf` read inside the row, `nf .. nb` read past its end. In the
/// row schemes, blocks `0 .. lb` run over a stack copy of the row's columns `q0 .. q0 + llen`
/// (`q0` the first tap of output `c0`), blocks `rb .. nb` over a copy of the columns from block
/// `rb`'s first tap, `rlen` long, placed `roff` after the first: all blocks over the first copy
/// when none is full and it fits, else the left and the right blocks.
#[derive(Clone)]
struct Chunk {
    c0: usize,
    /// The columns past the last block's primary vectors that its windows read (NaN check).
    tail: Range<usize>,
    nb: usize,
    nl: usize,
    nf: usize,
    lb: usize,
    llen: usize,
    rb: usize,
    rlen: usize,
    roff: usize,
    q0: isize,
    /// (Whole rows, read in place with clipped loads.) The last block is placed at `c1 − L`,
    /// overlapping the one before, where it reads inside the row (it is full then).
    shift: bool,
    /// The first output column whose window reaches the right padding (blocks of outputs
    /// before it may read past the row end into the rest of the slice: those lanes are
    /// ignored).
    opad: usize,
}

/// How a block of a whole row reads its input.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// In place, inside the row.
    Full,
    /// In place, past the row end where the rest of the slice allows (only lanes of no output,
    /// or of outputs whose windows end inside the row, read there); clipped otherwise.
    Over,
    /// Clipped loads (−∞ outside the row).
    Clip,
}

impl Chunk {
    /// Block `b` of a whole-row chunk (`c0 = 0`, `c1 = ow`): its first output column, the
    /// column of lane 0's first tap, and how it reads.
    #[inline(always)]
    fn block(&self, cfg: &Cfg, l: usize, ow: usize, b: usize) -> (usize, isize, Mode) {
        if self.shift && b + 1 == self.nb {
            let ox0 = ow - l;
            return (ox0, (ox0 * cfg.sw) as isize - cfg.pl as isize, Mode::Full);
        }
        let ox0 = b * l;
        let q = self.q0 + (ox0 * cfg.sw) as isize;
        let mode = if b >= self.nl && b < self.nf {
            Mode::Full
        } else if q >= 0 && (ox0 + l).min(ow) <= self.opad {
            Mode::Over
        } else {
            Mode::Clip
        };
        (ox0, q, mode)
    }
}

fn chunk_of(cfg: &Cfg, iw: usize, l: usize, c0: usize, c1: usize) -> Chunk {
    let nb = (c1 - c0).div_ceil(l);
    let step = l * cfg.sw.max(1);
    // Block b reads row[q_b .. q_b + ext), q_b = (c0 + b·l)·sw − pl.
    let nl = cfg.pl.saturating_sub(c0 * cfg.sw).div_ceil(step).min(nb);
    // Full: q_b >= 0 and q_b + ext <= iw, i.e. (c0 + b·l)·sw <= iw + pl − ext.
    let room = (iw + cfg.pl)
        .checked_sub(cfg.ext)
        .and_then(|r| r.checked_sub(c0 * cfg.sw));
    let nf = match room {
        Some(room) => (room / step + 1).clamp(nl, nb),
        None => nl,
    };
    // Blocks b0 .. b1 read ext past the first tap of b0 and (b1 − b0 − 1) blocks more.
    let len = |b0: usize, b1: usize| {
        if b1 > b0 {
            (b1 - b0 - 1) * step + cfg.ext
        } else {
            0
        }
    };
    let (lb, rb) = if nf == nl && len(0, nb) + l <= LSEG {
        (nb, nb)
    } else {
        (nl, nf)
    };
    let (llen, rlen) = (len(0, lb), len(rb, nb));
    let roff = llen.next_multiple_of(l);
    // A left copy reaches at most pl <= ext left of the row, a right one starts less than ext
    // before its end (every output's window starts inside the row or its left padding), so
    // each is under 2·ext + L and both fit in LSEG (choose: 4·ext + 2L <= LSEG).
    debug_assert!(roff + rlen + l <= LSEG || cfg.sw == 0);
    let shift = nf < nb && c1 - c0 >= l && cfg.h != Horiz::Gather && {
        let q = ((c1 - l) * cfg.sw) as isize - cfg.pl as isize;
        q >= 0 && q as usize + cfg.ext <= iw
    };
    let reach = (cfg.kw.max(1) - 1) * cfg.dw;
    let opad = (iw + cfg.pl)
        .checked_sub(reach)
        .map_or(0, |r| r.div_ceil(cfg.sw.max(1)));
    Chunk {
        c0,
        tail: if cfg.h == Horiz::Gather {
            0..0
        } else {
            tail_cols(cfg, iw, c1)
        },
        nb,
        nl,
        nf,
        lb,
        llen,
        rb,
        rlen,
        roff,
        q0: (c0 * cfg.sw) as isize - cfg.pl as isize,
        shift,
        opad,
    }
}

/// Horizontal maxima of the blocks `b0 .. b1` of the chunk `ch` of the row with flat base `tb`,
/// reading block `b` at `src + sq + (b − b0)·L·sw` (full blocks), stored to `tv`/`ti` at `b·L`.
/// `pad`: the blocks may touch the padding (indices are fixed up). Returns the NaN lanes (fast
/// path).
///
/// # Safety
/// Each block's reads are readable as [`taps`] requires; `tv`/`ti` hold `b1·L`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn hrun<S: Simd, const KW: usize, const IDX: bool, const EXACT: bool>(
    s: S,
    g: &WindowGeom,
    cfg: &Cfg,
    (src, sq): (*const f32, usize),
    (b0, b1): (usize, usize),
    (ch, tb, pad): (&Chunk, u32, bool),
    tv: *mut f32,
    ti: *mut u32,
) -> S::M {
    let l = S::LANES;
    let mut nan = s.none();
    for b in b0..b1 {
        let off = sq + (b - b0) * l * cfg.sw;
        // SAFETY: as the caller guarantees.
        unsafe {
            let (v, t, n) = taps::<S, KW, IDX, EXACT, false>(s, cfg, src, 0, off as isize, tb);
            if !EXACT {
                nan = s.or(nan, n);
            }
            s.store(tv.add(b * l), v);
            if IDX {
                let q = ch.q0 + (b * l * cfg.sw) as isize;
                let i = s.iadd(t, lane_cols(s, cfg, q));
                let i = if pad {
                    fix(s, g, tb, ch.c0 + b * l, v, i)
                } else {
                    i
                };
                s.istore(ti.add(b * l), i);
            }
        }
    }
    nan
}

/// `Direct`: output row `oy`, every column (`ch`: the whole row); each block folds its rows'
/// horizontal maxima in registers. Returns true (fast path) when the row must be recomputed
/// exactly.
///
/// # Safety
/// `plane` is an input plane and `plane[0 .. avail)` readable, `oy < oh`, `yv[0 .. ow)` (and
/// `yi` with `IDX`) writable.
#[inline(always)]
unsafe fn direct_row<S: Simd, const KW: usize, const IDX: bool, const EXACT: bool>(
    s: S,
    g: &WindowGeom,
    cfg: &Cfg,
    ch: &Chunk,
    (plane, avail, oy, yv, yi): (*const f32, usize, usize, *mut f32, *mut u32),
) -> bool {
    let l = S::LANES;
    let (iw, ow) = (g.iw, g.ow);
    let rs = g.rows[oy];
    if rs.count == 0 {
        // SAFETY: yv[0 .. ow) writable.
        unsafe { fill_empty::<S, IDX>(s, ow, yv, yi) };
        return false;
    }
    let (h0, rstep) = (rs.start * iw, g.dh * iw);
    let mut nan = s.none();
    // SAFETY: (whole body) rows start + r·dh < ih (span); the blocks' reads are placed as
    // taps / gather_reg / gather require by chunk_of and the checks below; stores write at most
    // ow − ox0 lanes at ox0 < ow.
    unsafe {
        if cfg.h == Horiz::Gather {
            let last = (l - 1) * cfg.sw + (cfg.kw.max(1) - 1) * cfg.dw;
            let mut ox0 = 0;
            while ox0 < ow {
                let m = (ow - ox0).min(l);
                let q = (ox0 * cfg.sw) as isize - cfg.pl as isize;
                let regular = g.kh != 0 && m == l && q >= 0 && q as usize + last < iw;
                let (mut acc, mut ai) = (s.splat(NEG), s.isplat(NO_INDEX));
                for r in 0..rs.count {
                    let hb = h0 + r * rstep;
                    let row = plane.add(hb);
                    let (v, i, n) = if regular {
                        let (v, t, n) =
                            gather_reg::<S, IDX, EXACT>(s, cfg, row, q as usize, hb as u32);
                        (v, t, n)
                    } else {
                        gather::<S, IDX, EXACT>(s, g, row, hb as u32, ox0, m)
                    };
                    if !EXACT {
                        nan = s.or(nan, n);
                    }
                    if r == 0 {
                        (acc, ai) = (v, i);
                    } else {
                        step::<S, IDX, EXACT>(s, v, i, &mut acc, &mut ai);
                    }
                }
                if IDX && regular {
                    ai = s.iadd(ai, lane_cols(s, cfg, q));
                }
                put::<S, IDX>(s, yv, yi, ox0, ow - ox0, acc, ai);
                ox0 += l;
            }
            return !EXACT && s.any(nan);
        }
        for b in 0..ch.nb {
            let blk = ch.block(cfg, l, ow, b);
            let (ox0, q, mode) = blk;
            let (mut acc, mut ai) = (s.splat(NEG), s.isplat(NO_INDEX));
            if mode == Mode::Full {
                // Every row in place; the lanes' columns are added once.
                for r in 0..rs.count {
                    let hb = h0 + r * rstep;
                    let (v, t, n) =
                        taps::<S, KW, IDX, EXACT, false>(s, cfg, plane.add(hb), 0, q, hb as u32);
                    if !EXACT {
                        nan = s.or(nan, n);
                    }
                    if r == 0 {
                        (acc, ai) = (v, t);
                    } else {
                        step::<S, IDX, EXACT>(s, v, t, &mut acc, &mut ai);
                    }
                }
                if IDX {
                    ai = s.iadd(ai, lane_cols(s, cfg, q));
                }
            } else {
                for r in 0..rs.count {
                    let h = rs.start + r * g.dh;
                    let (v, i, n) = hblock::<S, KW, IDX, EXACT>(s, g, cfg, plane, avail, h, blk);
                    if !EXACT {
                        nan = s.or(nan, n);
                    }
                    if r == 0 {
                        (acc, ai) = (v, i);
                    } else {
                        step::<S, IDX, EXACT>(s, v, i, &mut acc, &mut ai);
                    }
                }
            }
            put::<S, IDX>(s, yv, yi, ox0, ow - ox0, acc, ai);
        }
        if !EXACT && !ch.tail.is_empty() {
            for r in 0..rs.count {
                if any_nan(plane.add(h0 + r * rstep), ch.tail.start, ch.tail.end) {
                    return true;
                }
            }
        }
    }
    !EXACT && s.any(nan)
}

/// Row-segment copies prepared ahead for the rows of one chunk (row schemes): slot
/// `h mod NSEG` holds row `h`'s copy when `held[slot] == h`.
struct Segs {
    held: [usize; NSEG],
    /// The next row whose copy may be prepared ahead.
    next: usize,
    /// The last row of the job's windows.
    last: usize,
    /// Rows are computed in increasing order (preparing ahead pays).
    ahead: bool,
}

impl Segs {
    fn new(first: usize, last: usize, ahead: bool) -> Self {
        Segs {
            held: [usize::MAX; NSEG],
            next: first,
            last,
            ahead,
        }
    }
}

/// Writes row `h`'s copies for the border blocks of the chunk `ch` to the slot `seg`.
///
/// # Safety
/// `h < ih`; `seg` holds `LSEG` (chunk_of).
#[inline(always)]
unsafe fn seg_prep<S: Simd>(
    s: S,
    g: &WindowGeom,
    cfg: &Cfg,
    ch: &Chunk,
    plane: *const f32,
    h: usize,
    seg: *mut f32,
) {
    // SAFETY: as the caller guarantees.
    unsafe {
        let row = plane.add(h * g.iw);
        if ch.lb > 0 {
            seg_copy(s, row, g.iw, ch.q0, ch.llen, seg);
        }
        if ch.rb < ch.nb {
            let q = ch.q0 + (ch.rb * S::LANES * cfg.sw) as isize;
            seg_copy(s, row, g.iw, q, ch.rlen, seg.add(ch.roff));
        }
    }
}

/// The horizontal maxima of input row `h` for the chunk `ch`, stored at `tv` (`ti`): full
/// vectors, `c1 − c0` rounded up to `L`. Returns true when a NaN was seen (the stored results
/// are then the exact ones). Prepares the segment copies of the next rows.
///
/// # Safety
/// `h <= segs.last < ih`, `ch` a chunk of at most `cfg.cw` outputs, `tv`/`ti` hold `cfg.cw`;
/// `segs` was made for this chunk.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn hrow<S: Simd, const KW: usize, const IDX: bool>(
    s: S,
    g: &WindowGeom,
    cfg: &Cfg,
    ch: &Chunk,
    plane: *const f32,
    h: usize,
    (tv, ti): (*mut f32, *mut u32),
    b: &Bufs,
    segs: &mut Segs,
) -> bool {
    // SAFETY: as the caller guarantees; copies go to slots LSEG apart inside NSEG·LSEG, each
    // of ch.len <= LSEG − L elements (chunk_of; choose bounds a left segment: 2·ext + 2L <=
    // LSEG); rows prepared ahead are <= segs.last < ih.
    unsafe {
        let slot = |r: usize| b.seg.add((r % NSEG) * LSEG);
        if ch.lb > 0 || ch.rb < ch.nb {
            if segs.held[h % NSEG] != h {
                seg_prep(s, g, cfg, ch, plane, h, slot(h));
                segs.held[h % NSEG] = h;
            }
            if segs.ahead {
                segs.next = segs.next.max(h + 1);
                while segs.next <= segs.last.min(h + NSEG - 1) {
                    let r = segs.next;
                    seg_prep(s, g, cfg, ch, plane, r, slot(r));
                    segs.held[r % NSEG] = r;
                    segs.next += 1;
                }
            }
        }
        let seg = slot(h);
        let nan = hrow_taps::<S, KW, IDX, false>(s, g, cfg, ch, plane, h, tv, ti, seg);
        if nan {
            hrow_taps::<S, KW, IDX, true>(s, g, cfg, ch, plane, h, tv, ti, seg);
        }
        nan
    }
}

/// [`hrow`] through the block kernels: the left and right blocks over the prepared copies in
/// `seg`, the full blocks in place.
///
/// # Safety
/// As [`hrow`]; `seg` holds row `h`'s copies for this chunk.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn hrow_taps<S: Simd, const KW: usize, const IDX: bool, const EXACT: bool>(
    s: S,
    g: &WindowGeom,
    cfg: &Cfg,
    ch: &Chunk,
    plane: *const f32,
    h: usize,
    tv: *mut f32,
    ti: *mut u32,
    seg: *const f32,
) -> bool {
    let l = S::LANES;
    let iw = g.iw;
    let tb = (h * iw) as u32;
    let mut nan = s.none();
    // SAFETY: h < ih; the copies hold llen / rlen elements read by their blocks; full blocks
    // (q >= 0, q + ext <= iw) read inside the row; tv/ti hold nb·L <= cw.
    unsafe {
        let row = plane.add(h * iw);
        let full = (ch.q0 + (ch.lb * l * cfg.sw) as isize) as usize;
        // (source, offset of the region's first block in it, blocks, may touch the padding)
        let regions = [
            (seg, 0, 0, ch.lb, true),
            (row, full, ch.lb, ch.rb, false),
            (seg.wrapping_add(ch.roff), 0, ch.rb, ch.nb, true),
        ];
        for (src, sq, b0, b1, pad) in regions {
            if b0 < b1 {
                let n = hrun::<S, KW, IDX, EXACT>(
                    s,
                    g,
                    cfg,
                    (src, sq),
                    (b0, b1),
                    (ch, tb, pad),
                    tv,
                    ti,
                );
                nan = s.or(nan, n);
            }
        }
        !EXACT && (s.any(nan) || any_nan(row, ch.tail.start, ch.tail.end))
    }
}

/// Folds the row results at offsets `offs` (top to bottom) of `tv` (`ti`) over `w` columns into
/// the output row `yv` (`yi`).
///
/// # Safety
/// Each `tv[o .. o + w rounded up to L)` was written; `yv[0 .. w)` (`yi`) writable.
#[inline(always)]
unsafe fn vfold<S: Simd, const IDX: bool, const EXACT: bool>(
    s: S,
    tv: *const f32,
    ti: *const u32,
    offs: &[usize],
    w: usize,
    yv: *mut f32,
    yi: *mut u32,
) {
    let mut x = 0;
    while x < w {
        // SAFETY: as the caller guarantees.
        unsafe {
            let o = offs[0] + x;
            let mut acc = s.load(tv.add(o));
            let mut ai = if IDX { s.iload(ti.add(o)) } else { s.isplat(0) };
            for &o in &offs[1..] {
                let v = s.load(tv.add(o + x));
                let vi = if IDX {
                    s.iload(ti.add(o + x))
                } else {
                    s.isplat(0)
                };
                step::<S, IDX, EXACT>(s, v, vi, &mut acc, &mut ai);
            }
            put::<S, IDX>(s, yv, yi, x, w - x, acc, ai);
        }
        x += S::LANES;
    }
}

/// [`vfold`] of the `n` rows at offsets `o0 + r·step` (top to bottom).
///
/// # Safety
/// As [`vfold`].
#[inline(always)]
unsafe fn sfold<S: Simd, const IDX: bool, const EXACT: bool>(
    s: S,
    tv: *const f32,
    ti: *const u32,
    (o0, step_, n): (usize, usize, usize),
    w: usize,
    yv: *mut f32,
    yi: *mut u32,
) {
    let mut x = 0;
    while x < w {
        // SAFETY: as the caller guarantees.
        unsafe {
            let o = o0 + x;
            let mut acc = s.load(tv.add(o));
            let mut ai = if IDX { s.iload(ti.add(o)) } else { s.isplat(0) };
            for r in 1..n {
                let o = o + r * step_;
                let v = s.load(tv.add(o));
                let vi = if IDX { s.iload(ti.add(o)) } else { ai };
                step::<S, IDX, EXACT>(s, v, vi, &mut acc, &mut ai);
            }
            put::<S, IDX>(s, yv, yi, x, w - x, acc, ai);
        }
        x += S::LANES;
    }
}

/// Writes −∞ (`NO_INDEX`) to `yv[0 .. w)` (`yi`): an output row whose windows have no row.
///
/// # Safety
/// `yv[0 .. w)` (`yi`) writable.
#[inline(always)]
unsafe fn fill_empty<S: Simd, const IDX: bool>(s: S, w: usize, yv: *mut f32, yi: *mut u32) {
    let mut x = 0;
    while x < w {
        // SAFETY: as the caller guarantees.
        unsafe { put::<S, IDX>(s, yv, yi, x, w - x, s.splat(NEG), s.isplat(NO_INDEX)) };
        x += S::LANES;
    }
}

/// Row-ring scheme (`S1`/`S2` with `Ring`, `dh == 1`, whole rows fit the ring): output rows
/// `rows` of one plane, top to bottom; each input row's horizontal results, block by block
/// (border blocks with clipped loads in place: no row copies), are computed once into slot
/// `h mod nr` of a ring of whole rows and folded by the output rows using them. A block's row
/// result with a NaN (its primary vectors, or the row's tail columns for the last block) is
/// recomputed with the exact step and its row flagged; output rows using a flagged row fold
/// exactly.
///
/// # Safety
/// As [`ring_plane`]; `plane[0 .. avail)` is readable.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn rowring_plane<S: Simd, const KW: usize, const IDX: bool>(
    s: S,
    g: &WindowGeom,
    cfg: &Cfg,
    (plane, avail): (*const f32, usize),
    rows: Range<usize>,
    y: *mut f32,
    yi: *mut u32,
    b: &Bufs,
) {
    let l = S::LANES;
    let (iw, ow, mask, cw) = (g.iw, g.ow, cfg.nr - 1, cfg.cw);
    let ch = chunk_of(cfg, iw, l, 0, ow);
    let (rv, ri) = (b.rv, b.ri);
    // The next input row to compute (rows below it, from the job's first, are held), and the
    // ring slots holding a NaN row.
    let mut next = 0;
    let mut flags = 0u64;
    for oy in rows.clone() {
        let rs = g.rows[oy];
        let yo = (oy - rows.start) * ow;
        let (yv, yr) = (y.wrapping_add(yo), yi.wrapping_add(yo));
        if rs.count == 0 {
            // SAFETY: yv[0 .. ow) (yr) is output row oy.
            unsafe { fill_empty::<S, IDX>(s, ow, yv, yr) };
            continue;
        }
        next = next.max(rs.start);
        let end = rs.start + rs.count;
        while next < end {
            let h = next;
            let slot = h & mask;
            // SAFETY: h < ih (span); slot < nr and nr·cw <= RBUF (choose), nb·L <= cw.
            let bad = unsafe {
                let (tv, ti) = (rv.add(slot * cw), ri.add(slot * cw));
                hrow_clip::<S, KW, IDX>(s, g, cfg, &ch, (plane, avail), h, tv, ti)
            };
            if bad {
                flags |= 1 << slot;
            } else {
                flags &= !(1 << slot);
            }
            next += 1;
        }
        // The window's rows are the rs.count <= nr rows before `end`, in distinct slots.
        let exact = (rs.start..end).any(|h| flags & (1 << (h & mask)) != 0);
        // SAFETY: the slots of the window's rows were written (nb·L columns); yv (yr) has ow.
        unsafe {
            if exact {
                rfold::<S, IDX, true>(s, (rv, ri), (rs.start, end, mask, cw), ow, yv, yr);
            } else {
                rfold::<S, IDX, false>(s, (rv, ri), (rs.start, end, mask, cw), ow, yv, yr);
            }
        }
    }
}

/// Folds the ring rows `h0 .. h1` (slot `h & mask` at `slot·cw`, top to bottom) of `rv` (`ri`)
/// over `w` columns into the output row `yv` (`yi`).
///
/// # Safety
/// The slots' first `w` rounded up to `L` columns were written; `yv[0 .. w)` (`yi`) writable.
#[inline(always)]
unsafe fn rfold<S: Simd, const IDX: bool, const EXACT: bool>(
    s: S,
    (rv, ri): (*const f32, *const u32),
    (h0, h1, mask, cw): (usize, usize, usize, usize),
    w: usize,
    yv: *mut f32,
    yi: *mut u32,
) {
    let mut x = 0;
    while x < w {
        // SAFETY: as the caller guarantees.
        unsafe {
            let o = (h0 & mask) * cw + x;
            let mut acc = s.load(rv.add(o));
            let mut ai = if IDX { s.iload(ri.add(o)) } else { s.isplat(0) };
            for h in h0 + 1..h1 {
                let o = (h & mask) * cw + x;
                let v = s.load(rv.add(o));
                let vi = if IDX { s.iload(ri.add(o)) } else { ai };
                step::<S, IDX, EXACT>(s, v, vi, &mut acc, &mut ai);
            }
            put::<S, IDX>(s, yv, yi, x, w - x, acc, ai);
        }
        x += S::LANES;
    }
}

/// The horizontal maximum of input row `h` (flat base `tb = h·iw`) for the block at tap
/// column `q` read as `mode` says: in place, or clipped when the block is `Clip` or an `Over`
/// block whose reads would pass `avail`. Returns as [`taps`], the indices completed.
///
/// # Safety
/// `plane[0 .. avail)` is readable and holds row `h`; `Full` blocks read inside the row.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn hblock<S: Simd, const KW: usize, const IDX: bool, const EXACT: bool>(
    s: S,
    g: &WindowGeom,
    cfg: &Cfg,
    plane: *const f32,
    avail: usize,
    h: usize,
    (ox0, q, mode): (usize, isize, Mode),
) -> (S::V, S::I, S::M) {
    let iw = g.iw;
    let tb = h * iw;
    // SAFETY: Full blocks read row[q .. q + ext) inside the row; Over blocks read
    // plane[tb + q .. tb + q + ext) inside avail (checked); clipped loads read inside the row.
    unsafe {
        let row = plane.add(tb);
        let over = mode == Mode::Over && tb + q as usize + cfg.ext <= avail;
        let (v, t, n) = if mode == Mode::Full || over {
            taps::<S, KW, IDX, EXACT, false>(s, cfg, row, 0, q, tb as u32)
        } else {
            taps::<S, KW, IDX, EXACT, true>(s, cfg, row, iw, q, tb as u32)
        };
        let i = if IDX {
            let i = s.iadd(t, lane_cols(s, cfg, q));
            if mode == Mode::Clip {
                fix(s, g, tb as u32, ox0, v, i)
            } else {
                i
            }
        } else {
            t
        };
        (v, i, n)
    }
}

/// The horizontal maxima of input row `h` for every block of the whole-row chunk `ch` (see
/// [`Chunk::block`]), stored at `tv` (`ti`) at each block's first output column. When the
/// fast results hold a NaN (a block's primary vectors, or the row's tail columns), the whole
/// row is recomputed exactly (a block's windows read the next block's primary vectors) and
/// true is returned.
///
/// # Safety
/// `plane[0 .. avail)` is readable and holds row `h < ih`; `tv`/`ti` hold `ch.nb·L`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn hrow_clip<S: Simd, const KW: usize, const IDX: bool>(
    s: S,
    g: &WindowGeom,
    cfg: &Cfg,
    ch: &Chunk,
    (plane, avail): (*const f32, usize),
    h: usize,
    tv: *mut f32,
    ti: *mut u32,
) -> bool {
    // Row h + PF_ROWS (possibly of the next plane) is requested ahead, so that streaming
    // from DRAM overlaps the work.
    let ahead = (h + PF_ROWS) * g.iw;
    if ahead + g.iw <= avail {
        let mut c = 0;
        while c < g.iw {
            prefetch(plane.wrapping_add(ahead + c));
            c += 16;
        }
    }
    // SAFETY: as the caller guarantees.
    unsafe {
        let nan = hrow_blocks::<S, KW, IDX, false>(s, g, cfg, ch, (plane, avail), h, tv, ti);
        let bad = nan || any_nan(plane.add(h * g.iw), ch.tail.start, ch.tail.end);
        if bad {
            hrow_blocks::<S, KW, IDX, true>(s, g, cfg, ch, (plane, avail), h, tv, ti);
        }
        bad
    }
}

/// [`hrow_clip`]'s blocks, fast (returns true when a primary vector holds a NaN) or exact.
///
/// # Safety
/// As [`hrow_clip`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn hrow_blocks<S: Simd, const KW: usize, const IDX: bool, const EXACT: bool>(
    s: S,
    g: &WindowGeom,
    cfg: &Cfg,
    ch: &Chunk,
    (plane, avail): (*const f32, usize),
    h: usize,
    tv: *mut f32,
    ti: *mut u32,
) -> bool {
    let (l, ow) = (S::LANES, g.ow);
    let mut nan = s.none();
    // SAFETY: as the caller guarantees; blocks start at ox0 <= nb·L − L.
    unsafe {
        for bk in 0..ch.nb {
            let blk = ch.block(cfg, l, ow, bk);
            let (v, i, n) = hblock::<S, KW, IDX, EXACT>(s, g, cfg, plane, avail, h, blk);
            if !EXACT {
                nan = s.or(nan, n);
            }
            s.store(tv.add(blk.0), v);
            if IDX {
                s.istore(ti.add(blk.0), i);
            }
        }
    }
    !EXACT && s.any(nan)
}

/// `Ring`: output rows `rows` of one plane, column chunk by column chunk; each needed input
/// row's result is computed once into slot `h mod nr` and folded by the output rows using it.
///
/// # Safety
/// `plane` is an input plane; `y` (`yi`) is output row `rows.start` of the plane's output,
/// `rows.len()` rows of `ow` writable.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn ring_plane<S: Simd, const KW: usize, const IDX: bool>(
    s: S,
    g: &WindowGeom,
    cfg: &Cfg,
    plane: *const f32,
    rows: Range<usize>,
    y: *mut f32,
    yi: *mut u32,
    b: &Bufs,
) {
    let (mask, cw, ow) = (cfg.nr - 1, cfg.cw, g.ow);
    let (first, end) = rows_read(g, &rows);
    let mut c0 = 0;
    while c0 < ow {
        let c1 = (c0 + cw).min(ow);
        let ch = chunk_of(cfg, g.iw, S::LANES, c0, c1);
        let mut held = [usize::MAX; MAX_RING];
        let mut flag = [false; MAX_RING];
        let mut segs = Segs::new(first, end, g.dh == 1);
        for oy in rows.clone() {
            let rs = g.rows[oy];
            let at = (oy - rows.start) * ow + c0;
            let (yv, yr) = (y.wrapping_add(at), yi.wrapping_add(at));
            let mut offs = [0usize; MAX_RING];
            let mut exact = false;
            for (r, o) in offs.iter_mut().enumerate().take(rs.count) {
                let h = rs.start + r * g.dh;
                let slot = h & mask;
                if held[slot] != h {
                    // SAFETY: h <= end < ih; slot < nr and nr·cw <= RBUF (choose).
                    flag[slot] = unsafe {
                        let t = (b.rv.add(slot * cw), b.ri.add(slot * cw));
                        hrow::<S, KW, IDX>(s, g, cfg, &ch, plane, h, t, b, &mut segs)
                    };
                    held[slot] = h;
                }
                exact |= flag[slot];
                *o = slot * cw;
            }
            // SAFETY: the slots of the span's rows hold their results (the span's rows lie
            // within nr consecutive rows, so in distinct slots); yv/yr has c1 − c0 columns.
            unsafe {
                let offs = &offs[..rs.count];
                if rs.count == 0 {
                    fill_empty::<S, IDX>(s, c1 - c0, yv, yr);
                } else if exact {
                    vfold::<S, IDX, true>(s, b.rv, b.ri, offs, c1 - c0, yv, yr);
                } else {
                    vfold::<S, IDX, false>(s, b.rv, b.ri, offs, c1 - c0, yv, yr);
                }
            }
        }
        c0 = c1;
    }
}

/// Van Herk over the rows of one column chunk of `w` outputs (stride 1, dilation 1). Input
/// rows are pushed in order from `r_lo`, cut into blocks of `kh` rows; `P` is the prefix of the
/// current block up to the last row pushed, `S` (suffix maxima within a block, formed when the
/// block is complete or the last row is pushed) a ring of `nr >= 2·kh` rows. Row results `T`
/// live at `t_at(h)`: a ring of `nr` rows (row scheme) or the plane scheme's rows at its
/// pitch. All offsets are into the row-result areas `b.rv` / `b.ri`.
struct Vh {
    kh: usize,
    w: usize,
    r_lo: usize,
    r_last: usize,
    /// T: base offset, row pitch (plane scheme), ring size (0 for the plane scheme).
    t_base: usize,
    t_pitch: usize,
    t_ring: usize,
    /// S ring base, P offset, S ring size, and the row pitch of T (ring), S and P.
    s_base: usize,
    p_at: usize,
    nr: usize,
    cw: usize,
    /// The next row to push, its position in its block, the first row of the block of the
    /// last row pushed, the last row pushed that held a NaN.
    next: usize,
    bpos: usize,
    top: usize,
    nan_row: Option<usize>,
}

impl Vh {
    fn t_at(&self, h: usize) -> usize {
        if self.t_ring > 0 {
            self.t_base + (h & (self.t_ring - 1)) * self.cw
        } else {
            self.t_base + (h - self.r_lo) * self.t_pitch
        }
    }

    fn s_at(&self, h: usize) -> usize {
        self.s_base + (h & (self.nr - 1)) * self.cw
    }

    /// Pushes row `next`, whose row result is at `t_at(next)` (`nan`: it held a NaN): `P`
    /// takes it in, and the block's suffixes are formed when it ends the block or is the last.
    ///
    /// # Safety
    /// T rows `top ..= next` are written (`w` rounded up to L), the areas hold every offset.
    #[inline(always)]
    unsafe fn push<S: Simd, const IDX: bool, const EXACT: bool>(
        &mut self,
        s: S,
        rv: *mut f32,
        ri: *mut u32,
        nan: bool,
    ) {
        let l = S::LANES;
        let next = self.next;
        if self.bpos == 0 {
            self.top = next;
        }
        if nan {
            self.nan_row = Some(next);
        }
        // SAFETY: as the caller guarantees; P is written at a block's first row before it is
        // read, S rows before they are read (bottom up).
        unsafe {
            let (tv, ti) = (rv.add(self.t_at(next)), ri.add(self.t_at(next)));
            let (pv, pi) = (rv.add(self.p_at), ri.add(self.p_at));
            let mut x = 0;
            while x < self.w {
                let v = s.load(tv.add(x));
                let vi = if IDX { s.iload(ti.add(x)) } else { s.isplat(0) };
                let (mut acc, mut ai) = (v, vi);
                if self.bpos != 0 {
                    acc = s.load(pv.add(x));
                    ai = if IDX { s.iload(pi.add(x)) } else { vi };
                    step::<S, IDX, EXACT>(s, v, vi, &mut acc, &mut ai);
                }
                s.store(pv.add(x), acc);
                if IDX {
                    s.istore(pi.add(x), ai);
                }
                x += l;
            }
            if self.bpos == self.kh - 1 || next == self.r_last {
                // Suffixes of the block, bottom up: S[h] = f(T[h], S[h + 1]).
                let mut hh = next;
                loop {
                    let (tv, ti) = (rv.add(self.t_at(hh)), ri.add(self.t_at(hh)));
                    let (sv, si) = (rv.add(self.s_at(hh)), ri.add(self.s_at(hh)));
                    let (nv, ni) = (rv.add(self.s_at(hh + 1)), ri.add(self.s_at(hh + 1)));
                    let mut x = 0;
                    while x < self.w {
                        let mut acc = s.load(tv.add(x));
                        let mut ai = if IDX { s.iload(ti.add(x)) } else { s.isplat(0) };
                        if hh != next {
                            let v = s.load(nv.add(x));
                            let vi = if IDX { s.iload(ni.add(x)) } else { ai };
                            step::<S, IDX, EXACT>(s, v, vi, &mut acc, &mut ai);
                        }
                        s.store(sv.add(x), acc);
                        if IDX {
                            s.istore(si.add(x), ai);
                        }
                        x += l;
                    }
                    if hh == self.top {
                        break;
                    }
                    hh -= 1;
                }
            }
        }
        self.next += 1;
        self.bpos = if self.bpos + 1 == self.kh {
            0
        } else {
            self.bpos + 1
        };
    }

    /// The output row of the window of rows `r0 ..= r1` (`r1` the last row pushed), to `yv`
    /// (`yi`).
    ///
    /// # Safety
    /// The rows were pushed; `yv[0 .. w)` (`yi`) writable.
    #[inline(always)]
    unsafe fn emit<S: Simd, const IDX: bool, const EXACT: bool>(
        &self,
        s: S,
        (rv, ri): (*mut f32, *mut u32),
        (r0, r1): (usize, usize),
        yv: *mut f32,
        yi: *mut u32,
    ) {
        debug_assert!(r1 + 1 == self.next && r1 - r0 < self.kh);
        // SAFETY: as the caller guarantees.
        unsafe {
            if self.nan_row.is_some_and(|h| h >= r0) {
                // A NaN row in the window (rows after r1 are not pushed yet): fold T exactly.
                let mut offs = [0usize; MAX_RING];
                for (o, h) in offs.iter_mut().zip(r0..=r1) {
                    *o = self.t_at(h);
                }
                vfold::<S, IDX, true>(s, rv, ri, &offs[..=r1 - r0], self.w, yv, yi);
            } else if r0 < self.top {
                // Two blocks: the suffix from r0 of the previous one, the prefix to r1.
                let offs = [self.s_at(r0), self.p_at];
                vfold::<S, IDX, EXACT>(s, rv, ri, &offs, self.w, yv, yi);
            } else if r0 == self.top {
                vfold::<S, IDX, EXACT>(s, rv, ri, &[self.p_at], self.w, yv, yi);
            } else {
                // Inside r1's block, which then ends at r1 (a full window, or the last row),
                // so its suffixes are formed.
                debug_assert!(r1 == self.r_last || self.bpos == 0);
                vfold::<S, IDX, EXACT>(s, rv, ri, &[self.s_at(r0)], self.w, yv, yi);
            }
        }
    }
}

/// `VanHerk` (row scheme): output rows `rows` of one plane (stride 1, dilation 1, every span
/// non-empty), column chunk by column chunk, each input row's result computed into the T ring
/// as it is pushed.
///
/// # Safety
/// As [`ring_plane`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn vh_plane<S: Simd, const KW: usize, const IDX: bool>(
    s: S,
    g: &WindowGeom,
    cfg: &Cfg,
    plane: *const f32,
    rows: Range<usize>,
    y: *mut f32,
    yi: *mut u32,
    b: &Bufs,
) {
    let (cw, ow, nr) = (cfg.cw, g.ow, cfg.nr);
    // Stride 1, dilation 1: the windows' first and last rows grow with the output row.
    let (r_lo, r_last) = rows_read(g, &rows);
    let mut c0 = 0;
    while c0 < ow {
        let c1 = (c0 + cw).min(ow);
        let ch = chunk_of(cfg, g.iw, S::LANES, c0, c1);
        let mut segs = Segs::new(r_lo, r_last, true);
        // T ring, S ring, P: (2·nr + 1)·cw <= RBUF (choose).
        let mut vh = Vh {
            kh: g.kh,
            w: c1 - c0,
            r_lo,
            r_last,
            t_base: 0,
            t_pitch: 0,
            t_ring: nr,
            s_base: nr * cw,
            p_at: 2 * nr * cw,
            nr,
            cw,
            next: r_lo,
            bpos: 0,
            top: r_lo,
            nan_row: None,
        };
        for oy in rows.clone() {
            let rs = g.rows[oy];
            let (r0, r1) = (rs.start, rs.start + rs.count - 1);
            // SAFETY: rows next ..= r1 <= r_last < ih; the T slots and S/P rows lie in RBUF;
            // yv/yr has c1 − c0 columns.
            unsafe {
                while vh.next <= r1 {
                    let h = vh.next;
                    let t = (b.rv.add(vh.t_at(h)), b.ri.add(vh.t_at(h)));
                    let nan = hrow::<S, KW, IDX>(s, g, cfg, &ch, plane, h, t, b, &mut segs);
                    vh.push::<S, IDX, false>(s, b.rv, b.ri, nan);
                }
                let at = (oy - rows.start) * ow + c0;
                let (yv, yr) = (y.wrapping_add(at), yi.wrapping_add(at));
                vh.emit::<S, IDX, false>(s, (b.rv, b.ri), (r0, r1), yv, yr);
            }
        }
        c0 = c1;
    }
}

/// The plane scheme's index of each position `z` of the padded copy of rows `r_lo ..`:
/// `(r_lo + z / pitch)·iw + z mod pitch − pl` (wrapping), at `ri`, once per job.
///
/// # Safety
/// `ri` holds `PBUF` (choose: the copy of every row fits).
#[inline(always)]
unsafe fn plane_index_base(g: &WindowGeom, cfg: &Cfg, l: usize, r_lo: usize, ri: *mut u32) {
    // Every position a sweep over rows r_lo .. ih reads (plane_len(ih) + L <= PBUF: choose).
    let n = plane_len(l, g.ih - r_lo, cfg.pitch, cfg);
    for z in 0..n {
        let (r, c) = (r_lo + z / cfg.pitch, z % cfg.pitch);
        // SAFETY: z < n <= PBUF.
        unsafe { *ri.add(z) = (r * g.iw + c).wrapping_sub(cfg.pl) as u32 };
    }
}

/// Plane scheme, every plane of the job: the input rows copied at `cfg.pitch` with −∞ around
/// each row (NaN-checked once per loaded vector), the row results of the whole copy in one
/// sweep of blocks that cross row ends (positions past a row's outputs are computed and
/// ignored), then each output row folds its rows (or van Herk combines them). A plane with a
/// NaN is swept and folded with the exact step. When two copies fit, the next plane's copy is
/// made before this plane is swept, so that the sweep's unaligned loads never wait on the
/// stores of their copy.
///
/// # Safety
/// `src`, `dst`, `idx` hold the job's planes (run_planes asserted it); `plane_index_base` ran
/// for this job when `IDX`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn plane_job<S: Simd, const KW: usize, const IDX: bool>(
    s: S,
    g: &WindowGeom,
    cfg: &Cfg,
    (src, dst, idx): (&[f32], &mut [f32], &mut [u32]),
    planes: usize,
    rows: Range<usize>,
    b: &Bufs,
) {
    let l = S::LANES;
    let (plane_in, plane_out) = (g.ih * g.iw, rows.len() * g.ow);
    let (r_lo, r_hi) = rows_read(g, &rows);
    // Each copy takes bv[0 .. len rounded up + L); two fit when they take half of PBUF.
    let half = plane_len(l, r_hi + 1 - r_lo, cfg.pitch, cfg).next_multiple_of(l) + l;
    let two = 2 * half <= PBUF;
    let copy_at = |p: usize| b.rv.wrapping_add(if two && p % 2 == 1 { half } else { 0 });
    let mut pending = None;
    for p in 0..planes {
        // SAFETY: plane p's input is src[p·plane_in ..][.. plane_in] and its output rows
        // dst[p·plane_out ..][.. plane_out] (idx alike), inside the slices (run_planes
        // asserted it); each copy lies in the first PBUF of b.rv (choose, and `two`).
        unsafe {
            let x = |p: usize| src.as_ptr().add(p * plane_in);
            let bv = copy_at(p);
            let nan = match pending.take() {
                Some(nan) => nan,
                None => plane_copy(s, g, cfg, x(p), (r_lo, r_hi), bv),
            };
            if two && p + 1 < planes {
                pending = Some(plane_copy(
                    s,
                    g,
                    cfg,
                    x(p + 1),
                    (r_lo, r_hi),
                    copy_at(p + 1),
                ));
            }
            let y = dst.as_mut_ptr().add(p * plane_out);
            let yi = if IDX {
                idx.as_mut_ptr().add(p * plane_out)
            } else {
                core::ptr::null_mut()
            };
            let args = (rows.clone(), y, yi, r_lo, r_hi);
            if nan {
                plane_rows::<S, KW, IDX, true>(s, g, cfg, args, bv, b);
            } else {
                plane_rows::<S, KW, IDX, false>(s, g, cfg, args, bv, b);
            }
        }
    }
}

/// The plane scheme's copy of rows `r_lo ..= r_hi` of the plane `x` to `bv`. Returns true when
/// it holds a NaN.
///
/// # Safety
/// `x` is an input plane; `bv` holds `plane_len` of those rows rounded up to `L`, plus `L`.
#[inline(always)]
unsafe fn plane_copy<S: Simd>(
    s: S,
    g: &WindowGeom,
    cfg: &Cfg,
    x: *const f32,
    (r_lo, r_hi): (usize, usize),
    bv: *mut f32,
) -> bool {
    let l = S::LANES;
    let (iw, pitch, pl) = (g.iw, cfg.pitch, cfg.pl);
    let n_rows = r_hi + 1 - r_lo;
    let len = plane_len(l, n_rows, pitch, cfg);
    // SAFETY: copies rows r_lo ..= r_hi < ih (columns < iw) to bv[0 .. len rounded up + L)
    // (caller), which covers every position the sweep reads.
    unsafe {
        let mut nan = s.none();
        for r in 0..n_rows {
            let (row, o) = (x.add((r_lo + r) * iw), bv.add(r * pitch));
            let mut t = 0;
            while t < pl {
                s.store(o.add(t), s.splat(NEG));
                t += l;
            }
            // The row's vectors, NaN-checked in pairs (one unordered comparison each pair).
            let mut c = 0;
            let mut prev = None;
            while c < iw {
                let v = if iw - c >= l {
                    s.load(row.add(c))
                } else {
                    s.load_n(row.add(c), iw - c, NEG)
                };
                s.store(o.add(pl + c), v);
                prev = match prev {
                    None => Some(v),
                    Some(u) => {
                        nan = s.or(nan, s.unord(u, v));
                        None
                    }
                };
                c += l;
            }
            if let Some(u) = prev {
                nan = s.or(nan, s.is_nan(u));
            }
            let mut t = pl + c;
            while t < pitch {
                s.store(o.add(t), s.splat(NEG));
                t += l;
            }
        }
        let mut t = n_rows * pitch;
        while t < len {
            s.store(bv.add(t), s.splat(NEG));
            t += l;
        }
        s.any(nan)
    }
}

/// The plane scheme after the copy: the sweep, then every output row of the job, with the
/// exact step throughout (`EXACT`: the plane holds a NaN; the exact step is associative too).
///
/// # Safety
/// As [`plane_job`]; `bv` holds [`plane_copy`]'s copy of rows `r_lo ..= r_hi`, `y` (`yi`) the
/// plane's output rows.
#[inline(always)]
unsafe fn plane_rows<S: Simd, const KW: usize, const IDX: bool, const EXACT: bool>(
    s: S,
    g: &WindowGeom,
    cfg: &Cfg,
    (rows, y, yi, r_lo, r_hi): (Range<usize>, *mut f32, *mut u32, usize, usize),
    bv: *mut f32,
    b: &Bufs,
) {
    let (ow, pitch) = (g.ow, cfg.pitch);
    let nz = plane_nz(S::LANES, r_hi + 1 - r_lo, pitch);
    let (hv, hi, ib) = (b.rv.wrapping_add(PBUF), b.ri.wrapping_add(PBUF), b.ri);
    // SAFETY: the sweep reads the copy and writes hv/hi[0 .. nz) <= PBUF; the folds read rows
    // of hv/hi inside nz; van Herk's S ring and P lie in the third PBUF (choose).
    unsafe {
        plane_sweep::<S, KW, IDX, EXACT>(s, g, cfg, r_lo, nz, (bv, hv, hi, ib));
        if cfg.v == Vert::VanHerk {
            // T rows: the sweep's results at the copy's pitch; the S ring and P after them.
            let mut vh = Vh {
                kh: g.kh,
                w: ow,
                r_lo,
                r_last: r_hi,
                t_base: PBUF,
                t_pitch: pitch,
                t_ring: 0,
                s_base: 2 * PBUF,
                p_at: 2 * PBUF + cfg.nr * cfg.cw,
                nr: cfg.nr,
                cw: cfg.cw,
                next: r_lo,
                bpos: 0,
                top: r_lo,
                nan_row: None,
            };
            for oy in rows.clone() {
                let rs = g.rows[oy];
                let (r0, r1) = (rs.start, rs.start + rs.count - 1);
                while vh.next <= r1 {
                    vh.push::<S, IDX, EXACT>(s, b.rv, b.ri, false);
                }
                let at = (oy - rows.start) * ow;
                let (yv, yr) = (y.wrapping_add(at), yi.wrapping_add(at));
                vh.emit::<S, IDX, EXACT>(s, (b.rv, b.ri), (r0, r1), yv, yr);
            }
            return;
        }
        for oy in rows.clone() {
            let rs = g.rows[oy];
            let at = (oy - rows.start) * ow;
            let (yv, yr) = (y.wrapping_add(at), yi.wrapping_add(at));
            if rs.count == 0 {
                fill_empty::<S, IDX>(s, ow, yv, yr);
            } else {
                let rows = ((rs.start - r_lo) * pitch, g.dh * pitch, rs.count);
                sfold::<S, IDX, EXACT>(s, hv, hi, rows, ow, yv, yr);
            }
        }
    }
}

/// The plane scheme's horizontal sweep: `hv[z] = f` over the taps of position `z` of the copy
/// `bv`, for `z < nz`, with indices (`ib[z]` plus the chosen tap's offset; −∞ results get
/// their first in-bounds tap, as in [`fix`]).
///
/// # Safety
/// `bv[0 .. nz − L + ext)` was written, `hv`/`hi`/`ib` hold `nz`.
#[inline(always)]
unsafe fn plane_sweep<S: Simd, const KW: usize, const IDX: bool, const EXACT: bool>(
    s: S,
    g: &WindowGeom,
    cfg: &Cfg,
    r_lo: usize,
    nz: usize,
    (bv, hv, hi, ib): (*mut f32, *mut f32, *mut u32, *mut u32),
) {
    let l = S::LANES;
    if cfg.double {
        // SAFETY: as the caller guarantees (plane_len covers the doubling's reads).
        unsafe { plane_double::<S, IDX, EXACT>(s, g, cfg, r_lo, nz, (bv, hv, hi, ib)) };
        return;
    }
    let mut z = 0;
    while z < nz {
        // SAFETY: as the caller guarantees.
        unsafe {
            let (v, t, _) = taps::<S, KW, IDX, EXACT, false>(s, cfg, bv, 0, z as isize, 0);
            s.store(hv.add(z), v);
            if IDX {
                let i = s.iadd(t, s.iload(ib.add(z)));
                let i = if any_neg_inf(s, v) {
                    plane_fix(s, g, cfg, r_lo, z, v, i)
                } else {
                    i
                };
                s.istore(hi.add(z), i);
            }
        }
        z += l;
    }
}

/// [`plane_sweep`] by doubling (`dw == 1`): in place over the copy `bv` (and `hi`), level `i`
/// makes position `x` the maximum of `2^i` positions from `x`: `m[x] = f(m[x], m[x + w])`,
/// `w = 2^(i−1)`; then `hv[x] = f(m[x], m[x + kw − p])`. Forward sweeps read each position
/// before overwriting it, and every level is a whole sweep after the one it reads.
///
/// # Safety
/// `bv[0 .. plane_len)` was written, `ib` holds `plane_len`, `hv`/`hi` hold it too.
#[inline(always)]
unsafe fn plane_double<S: Simd, const IDX: bool, const EXACT: bool>(
    s: S,
    g: &WindowGeom,
    cfg: &Cfg,
    r_lo: usize,
    nz: usize,
    (bv, hv, hi, ib): (*mut f32, *mut f32, *mut u32, *mut u32),
) {
    let l = S::LANES;
    let (p, levels, lens) = dbl_plan(l, nz, cfg.kw);
    let one = s.isplat(1);
    // SAFETY: level 1 reads bv/ib below lens[1] + 1 + L <= plane_len; level i reads below
    // lens[i] + 2^(i−1) <= lens[i − 1], written by level i − 1; the result reads below
    // nz + kw − p <= lens[levels].
    unsafe {
        for (lvl, &len) in lens.iter().enumerate().take(levels + 1).skip(1) {
            let w = 1usize << (lvl - 1);
            let mut x = 0;
            while x < len {
                let mut acc = s.load(bv.add(x));
                let v = s.load(bv.add(x + w));
                let (mut ai, vi) = if !IDX {
                    (one, one)
                } else if lvl == 1 {
                    let i = s.iload(ib.add(x));
                    (i, s.iadd(i, one))
                } else {
                    (s.iload(hi.add(x)), s.iload(hi.add(x + w)))
                };
                step::<S, IDX, EXACT>(s, v, vi, &mut acc, &mut ai);
                s.store(bv.add(x), acc);
                if IDX {
                    s.istore(hi.add(x), ai);
                }
                x += l;
            }
        }
        let off = cfg.kw - p;
        let mut x = 0;
        while x < nz {
            let mut acc = s.load(bv.add(x));
            let v = s.load(bv.add(x + off));
            let (mut ai, vi) = if IDX {
                (s.iload(hi.add(x)), s.iload(hi.add(x + off)))
            } else {
                (one, one)
            };
            step::<S, IDX, EXACT>(s, v, vi, &mut acc, &mut ai);
            s.store(hv.add(x), acc);
            if IDX {
                if any_neg_inf(s, acc) {
                    ai = plane_fix(s, g, cfg, r_lo, x, acc, ai);
                }
                s.istore(hi.add(x), ai);
            }
            x += l;
        }
    }
}

/// [`fix`] for a block of the plane sweep, whose lanes may lie in different rows.
#[inline(always)]
fn plane_fix<S: Simd>(
    s: S,
    g: &WindowGeom,
    cfg: &Cfg,
    r_lo: usize,
    z: usize,
    v: S::V,
    i: S::I,
) -> S::I {
    let mut vb = [0.0f32; MAX_LANES];
    let mut ib = [0u32; MAX_LANES];
    // SAFETY: vb and ib hold MAX_LANES >= L elements.
    unsafe {
        s.store(vb.as_mut_ptr(), v);
        s.istore(ib.as_mut_ptr(), i);
    }
    for k in 0..S::LANES {
        let (r, c) = ((z + k) / cfg.pitch, (z + k) % cfg.pitch);
        if c < g.ow && r_lo + r < g.ih && vb[k] == NEG {
            let span = g.cols[c];
            ib[k] = if span.count == 0 {
                NO_INDEX
            } else {
                ((r_lo + r) * g.iw + span.start) as u32
            };
        }
    }
    // SAFETY: ib holds MAX_LANES >= L elements.
    unsafe { s.iload(ib.as_ptr()) }
}
