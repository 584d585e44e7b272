//! Properties, with proptest and exhaustive sweeps:
//!
//! * every tier equals the reference bit for bit (values and indices), in NCHW and NHWC, on
//!   random shapes, parameters and values (ordinary, tie-heavy, and special: NaN payloads,
//!   ±0, ±inf, denormals, huge), and the NHWC result is the transposed NCHW result (an
//!   average's NaN only has to be a NaN: see `common::same_value`);
//! * sweeps over every tail length 1..=2·16+1 of the vectorized extent (output width for
//!   NCHW window pooling, plane size for NCHW global pooling, channels for NHWC);
//! * the output size equals a brute-force count of window positions, and each window's
//!   first and last in-bounds taps (read back through argmax indices) are where PyTorch's
//!   rule puts them;
//! * adaptive bins (read back through argmax indices) are non-empty, cover the input, and
//!   follow PyTorch's `[floor(o·L/O), ceil((o+1)·L/O))`;
//! * with `count_include_pad = false`, no override and finite inputs, every average lies
//!   between its window's minimum and maximum (within n·ε);
//! * results are identical for `.sequential()` and parallel runs on rayon pools of 1, 2, 3
//!   and 7 threads, on shapes the driver splits unevenly.
//!
//! `PROPTEST_CASES` overrides the number of cases of every property.

mod common;

use common::*;
use nnpool::{Error, Layout, Plan, Pool2d, PoolOp, SameMode, Shape, TensorDesc, Tier};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

/// A config with `cases` cases unless `PROPTEST_CASES` says otherwise.
fn config(cases: u32) -> Config {
    // Failing inputs are saved next to this file (tests/props.proptest-regressions) and
    // replayed first on the next run.
    let mut c = Config {
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource(
            "proptest-regressions",
        ))),
        ..Config::default()
    };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        c.cases = cases;
    }
    c
}

/// How to fill an input.
#[derive(Clone, Copy, Debug)]
enum Fill {
    /// Uniform in [-8, 8).
    Uniform,
    /// A tiny alphabet: many ties and ±0.
    Ties,
    /// Mostly uniform, one in eight special.
    Mixed,
    /// Only special values.
    Special,
    /// Increasing with the element index (the last tap of every window wins).
    Increasing,
    /// Finite only: uniform with denormals and huge magnitudes mixed in.
    Finite,
}

fn fill_strategy() -> impl Strategy<Value = Fill> {
    prop_oneof![
        3 => Just(Fill::Uniform),
        3 => Just(Fill::Ties),
        3 => Just(Fill::Mixed),
        1 => Just(Fill::Special),
        1 => Just(Fill::Increasing),
    ]
}

fn values(fill: Fill, n: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng(seed);
    match fill {
        Fill::Uniform => uniform(&mut rng, n, 8.0),
        Fill::Ties => ties(&mut rng, n),
        Fill::Mixed => mixed(&mut rng, n),
        Fill::Special => (0..n)
            .map(|_| SPECIALS[rng.below(SPECIALS.len())])
            .collect(),
        Fill::Increasing => (0..n).map(|i| i as f32).collect(),
        Fill::Finite => (0..n)
            .map(|_| match rng.below(10) {
                0 => {
                    f32::from_bits(rng.below(0x80_0000) as u32)
                        * if rng.below(2) == 0 { 1.0 } else { -1.0 }
                }
                1 => rng.unit() * 1e30,
                2 => [0.0, -0.0][rng.below(2)],
                _ => rng.unit() * 8.0,
            })
            .collect(),
    }
}

/// Compares every tier with the reference in both layouts, and NHWC with NCHW; or, when the
/// parameters are invalid, checks that everything refuses them alike.
fn check_case(pool: &Pool2d, s: Shape, x_nchw: &[f32]) -> Result<(), TestCaseError> {
    match pool.output_shape(s) {
        Ok(_) => {
            check_all(&format!("{pool:?} on {s}"), pool, s, x_nchw);
        }
        Err(e) => {
            for layout in LAYOUTS {
                for &tier in tiers() {
                    let r = Plan::<f32>::new(&pool.tier(tier), desc(s, layout));
                    prop_assert_eq!(r.err(), Some(e.clone()), "{:?} [{}]", pool, tier);
                }
            }
        }
    }
    Ok(())
}

/// Window-pooling parameters: kernel, stride, padding (explicit, possibly asymmetric, or
/// SAME), dilation, ceil mode.
#[derive(Clone, Debug)]
struct Window {
    k: (usize, usize),
    s: (usize, usize),
    pad: [usize; 4],
    same: Option<SameMode>,
    d: (usize, usize),
    ceil: bool,
}

fn window_strategy(max_dilation: usize) -> impl Strategy<Value = Window> {
    (
        (1usize..=5, 1usize..=5),
        (1usize..=4, 1usize..=4),
        (0usize..=2, 0usize..=2, 0usize..=2, 0usize..=2),
        prop_oneof![6 => Just(None), 1 => Just(Some(SameMode::Upper)), 1 => Just(Some(SameMode::Lower))],
        (1usize..=max_dilation, 1usize..=max_dilation),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(k, s, p, same, d, ceil, symmetric)| {
            // Padding within the bound (≤ k/2), symmetric most of the time.
            let (t, l) = (p.0.min(k.0 / 2), p.1.min(k.1 / 2));
            let pad = if symmetric {
                [t, l, t, l]
            } else {
                [t, l, p.2.min(k.0 / 2), p.3.min(k.1 / 2)]
            };
            Window { k, s, pad, same, d, ceil }
        })
}

impl Window {
    fn apply(&self, p: Pool2d) -> Pool2d {
        let p = p.stride(self.s).dilation(self.d).ceil_mode(self.ceil);
        match self.same {
            Some(m) => p.padding_same(m),
            None => p.padding(self.pad),
        }
    }
}

/// A shape whose channel count may be large only when the plane is small (bounded work).
fn shape_strategy(max_h: usize, max_w: usize) -> impl Strategy<Value = Shape> {
    (
        1usize..=2,
        1usize..=max_h,
        1usize..=max_w,
        0usize..4,
        1usize..=2 * LANES + 3,
    )
        .prop_map(|(n, h, w, big_c, c)| {
            let c = if big_c == 0 && h * w <= 64 {
                c
            } else {
                1 + c % 4
            };
            Shape::new(n, c, h, w)
        })
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn max_equals_reference(
        s in shape_strategy(9, 40),
        w in window_strategy(3),
        fill in fill_strategy(),
        seed in any::<u64>(),
    ) {
        let pool = w.apply(Pool2d::max(w.k));
        check_case(&pool, s, &values(fill, s.numel().unwrap(), seed))?;
    }

    #[test]
    fn avg_equals_reference(
        s in shape_strategy(9, 40),
        w in window_strategy(1),
        cip in any::<bool>(),
        divisor in prop_oneof![3 => Just(None), 1 => (1u32..=10).prop_map(Some)],
        fill in fill_strategy(),
        seed in any::<u64>(),
    ) {
        let mut pool = w.apply(Pool2d::avg(w.k)).count_include_pad(cip);
        if let Some(d) = divisor {
            pool = pool.divisor_override(d);
        }
        check_case(&pool, s, &values(fill, s.numel().unwrap(), seed))?;
    }

    #[test]
    fn global_equals_reference(
        s in shape_strategy(24, 24),
        max in any::<bool>(),
        fill in fill_strategy(),
        seed in any::<u64>(),
    ) {
        let pool = if max { Pool2d::global_max() } else { Pool2d::global_avg() };
        check_case(&pool, s, &values(fill, s.numel().unwrap(), seed))?;
    }

    #[test]
    fn adaptive_equals_reference(
        s in shape_strategy(14, 30),
        out in (1usize..=16, 1usize..=36),
        max in any::<bool>(),
        fill in fill_strategy(),
        seed in any::<u64>(),
    ) {
        let pool = if max { Pool2d::adaptive_max(out) } else { Pool2d::adaptive_avg(out) };
        check_case(&pool, s, &values(fill, s.numel().unwrap(), seed))?;
    }
}

/// Strided NHWC descriptors (channel slices of wider buffers, at an offset) give the dense
/// result in the described elements and leave every other element of the buffer untouched;
/// indices stay dense.
fn check_strided(
    pool: &Pool2d,
    s: Shape,
    (in_extra, in_off, out_extra, out_off): (usize, usize, usize, usize),
    seed: u64,
) -> Result<(), TestCaseError> {
    let Ok(os) = pool.output_shape(s) else {
        return Ok(());
    };
    let x = nchw_to_nhwc(&values(Fill::Mixed, s.numel().unwrap(), seed), s);
    let (ips, ops) = (s.c + in_extra, s.c + out_extra);
    let ind = TensorDesc::nhwc(s.n, s.c, s.h, s.w)
        .with_pixel_stride(ips)
        .with_offset(in_off);
    let outd = TensorDesc::nhwc(os.n, os.c, os.h, os.w)
        .with_pixel_stride(ops)
        .with_offset(out_off);
    let mut xs = vec![f32::NAN; ind.min_len().unwrap() + in_extra];
    for p in 0..s.n * s.h * s.w {
        xs[in_off + p * ips..][..s.c].copy_from_slice(&x[p * s.c..][..s.c]);
    }
    let with_idx = pool.op().has_indices();
    for &tier in tiers() {
        let dense = run_tier(pool, s, Layout::Nhwc, &x, tier, with_idx).unwrap();
        let plan = Plan::<f32>::with_output(&pool.tier(tier), ind, outd).unwrap();
        let mut y = vec![SENTINEL; outd.min_len().unwrap() + out_extra];
        let mut idx = vec![IDX_SENTINEL; plan.indices_len()];
        if with_idx {
            plan.run_with_indices(&xs, &mut y, &mut idx).unwrap();
            prop_assert!(
                idx == *dense.idx.as_ref().unwrap(),
                "[{}] {:?}: indices",
                tier,
                pool
            );
        } else {
            plan.run(&xs, &mut y).unwrap();
        }
        for (i, v) in y.iter().enumerate() {
            let rel = i.wrapping_sub(out_off);
            let inside = i >= out_off && rel / ops < os.n * os.h * os.w && rel % ops < s.c;
            let want = if inside {
                dense.y[rel / ops * s.c + rel % ops]
            } else {
                SENTINEL
            };
            prop_assert!(
                same_value(inside && dense.avg, *v, want),
                "{} vs {}: [{}] {:?} on {} strided: element {} (inside: {})",
                show(*v),
                show(want),
                tier,
                pool,
                s,
                i,
                inside
            );
        }
    }
    Ok(())
}

fn any_pool() -> impl Strategy<Value = Pool2d> {
    prop_oneof![
        window_strategy(2).prop_map(|w| w.apply(Pool2d::max(w.k))),
        window_strategy(1).prop_map(|w| w.apply(Pool2d::avg(w.k))),
        (1usize..=6, 1usize..=6).prop_map(Pool2d::adaptive_max),
        (1usize..=6, 1usize..=6).prop_map(Pool2d::adaptive_avg),
        Just(Pool2d::global_max()),
        Just(Pool2d::global_avg()),
    ]
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn nhwc_strided_equals_dense(
        pool in any_pool(),
        s in (1usize..=2, 1usize..=2 * LANES + 3, 1usize..=7, 1usize..=9)
            .prop_map(|(n, c, h, w)| Shape::new(n, c, h, w)),
        strides in (0usize..=5, 0usize..=4, 0usize..=5, 0usize..=4),
        seed in any::<u64>(),
    ) {
        check_strided(&pool, s, strides, seed)?;
    }
}

// -------------------------------------------------------------------------------------------
// Tail sweeps: every tail length of the vectorized extent, on every tier.

/// The smallest input extent (up to 400) whose output extent under `pool` is `out` along
/// the width, or None.
fn input_width_for(pool: &Pool2d, h: usize, out: usize) -> Option<usize> {
    (1..=400).find(|&w| pool.output_shape(Shape::new(1, 1, h, w)).map(|o| o.w) == Ok(out))
}

fn sweep_pools() -> Vec<Pool2d> {
    vec![
        Pool2d::max(2),
        Pool2d::max(3).stride(2).padding(1),
        Pool2d::max(3).stride(1).padding(1),
        Pool2d::max(3).stride(1),
        Pool2d::max((2, 5))
            .stride((1, 3))
            .padding((1, 2))
            .ceil_mode(true),
        Pool2d::max(3).stride(1).dilation((1, 2)).padding(1),
        Pool2d::max((1, 4)).stride((1, 4)),
        Pool2d::max(5).stride(1).padding(2),
        Pool2d::avg(2),
        Pool2d::avg(3).stride(2).padding(1),
        Pool2d::avg(3).stride(1).padding(1).count_include_pad(false),
        Pool2d::avg((3, 4))
            .stride((2, 3))
            .padding((1, 2))
            .ceil_mode(true),
        Pool2d::avg(5).stride(1).padding(2).divisor_override(7),
        Pool2d::avg(1),
    ]
}

#[test]
fn tails_nchw_window() {
    let h = 5;
    for pool in sweep_pools() {
        for ow in 1..=TAIL_MAX {
            let Some(iw) = input_width_for(&pool, h, ow) else {
                continue;
            };
            let s = Shape::new(1, 2, h, iw);
            for (k, fill) in [Fill::Mixed, Fill::Ties].into_iter().enumerate() {
                let x = values(fill, s.numel().unwrap(), (ow * 31 + k) as u64);
                check_tiers_vs_reference(&format!("{pool:?} ow={ow}"), &pool, s, Layout::Nchw, &x);
            }
        }
    }
}

#[test]
fn tails_nhwc_window() {
    for pool in sweep_pools() {
        for c in 1..=TAIL_MAX {
            let s = Shape::new(1, c, 5, 7);
            let x = values(Fill::Mixed, s.numel().unwrap(), c as u64);
            check_tiers_vs_reference(&format!("{pool:?} c={c}"), &pool, s, Layout::Nhwc, &x);
        }
    }
}

#[test]
fn tails_adaptive() {
    for max in [false, true] {
        for o in 1..=TAIL_MAX {
            let mk = |out: (usize, usize)| {
                if max {
                    Pool2d::adaptive_max(out)
                } else {
                    Pool2d::adaptive_avg(out)
                }
            };
            // NCHW: output widths 1..=33 over inputs narrower, equal and wider.
            for iw in [o.div_ceil(2), o, 2 * o + 1, 3 * o] {
                let s = Shape::new(1, 2, 4, iw);
                let x = values(Fill::Mixed, s.numel().unwrap(), (o * iw) as u64);
                check_tiers_vs_reference(
                    &format!("adaptive o={o} iw={iw}"),
                    &mk((3, o)),
                    s,
                    Layout::Nchw,
                    &x,
                );
            }
            // NHWC: channel counts 1..=33.
            let s = Shape::new(1, o, 5, 6);
            let x = values(Fill::Mixed, s.numel().unwrap(), o as u64);
            check_tiers_vs_reference(&format!("adaptive c={o}"), &mk((3, 4)), s, Layout::Nhwc, &x);
        }
    }
}

#[test]
fn tails_global() {
    for pool in [Pool2d::global_max(), Pool2d::global_avg()] {
        // NCHW: plane sizes 1..=33 and beyond (1 to 4 rows), several planes.
        for plane in 1..=3 * TAIL_MAX {
            for h in [1, 2, 3] {
                if plane % h != 0 {
                    continue;
                }
                let s = Shape::new(1, 3, h, plane / h);
                let x = values(Fill::Mixed, s.numel().unwrap(), plane as u64);
                check_tiers_vs_reference(
                    &format!("{pool:?} plane={plane}"),
                    &pool,
                    s,
                    Layout::Nchw,
                    &x,
                );
            }
        }
        // NHWC: channel counts 1..=33, and wide images.
        for c in 1..=TAIL_MAX {
            for (h, w) in [(1, 1), (3, 5), (7, 9)] {
                let s = Shape::new(2, c, h, w);
                let x = values(Fill::Mixed, s.numel().unwrap(), (c * w) as u64);
                check_tiers_vs_reference(
                    &format!("{pool:?} c={c} {h}x{w}"),
                    &pool,
                    s,
                    Layout::Nhwc,
                    &x,
                );
            }
        }
    }
}

// -------------------------------------------------------------------------------------------
// Output size and window positions.

/// Output extent along one axis by enumerating window positions, from the rule in words:
/// a window (padded coordinates `t = o·s`, extent `e = d·(k−1)+1`) counts if it fits the
/// padded input; in ceil mode, also the first window that does not fit, if it overhangs by
/// less than a stride (the windows before it left input uncovered) and starts inside the
/// input or its leading padding.
fn brute_count(l: usize, k: usize, s: usize, d: usize, pb: usize, pe: usize, ceil: bool) -> usize {
    let padded = l + pb + pe;
    let e = d * (k - 1) + 1;
    let mut count = 0;
    let mut t = 0;
    loop {
        let fits = t + e <= padded;
        let partial = ceil && !fits && t + e < padded + s && t < l + pb;
        if !(fits || partial) {
            break;
        }
        count += 1;
        if !fits {
            break;
        }
        t += s;
    }
    count
}

/// The output size of one axis against [`brute_count`], and each window's first and last
/// in-bounds taps, read back through argmax indices (increasing values: the last tap wins;
/// decreasing values: the first).
fn check_axis(
    l: usize,
    k: usize,
    s: usize,
    d: usize,
    pb: usize,
    pe: usize,
    ceil: bool,
) -> Result<(), TestCaseError> {
    let pool = Pool2d::max((1, k))
        .stride((1, s))
        .dilation((1, d))
        .padding([0, pb, 0, pe])
        .ceil_mode(ceil);
    let shape = Shape::new(1, 1, 1, l);
    let r = pool.output_shape(shape);
    if pb > k / 2 || pe > k / 2 {
        prop_assert!(matches!(r, Err(Error::PaddingTooLarge { .. })), "{:?}", r);
        return Ok(());
    }
    let want = brute_count(l, k, s, d, pb, pe, ceil);
    if want == 0 {
        prop_assert!(
            matches!(r, Err(Error::OutputTooSmall { dim: "width", .. })),
            "{:?}",
            r
        );
        return Ok(());
    }
    prop_assert_eq!(r.clone().map(|o| o.w), Ok(want));
    if d == 1 {
        let a = Pool2d::avg((1, k))
            .stride((1, s))
            .padding([0, pb, 0, pe])
            .ceil_mode(ceil);
        prop_assert_eq!(a.output_shape(shape), r);
    }
    let taps = |o: usize| -> Vec<usize> {
        (0..k)
            .map(|i| (o * s + i * d) as isize - pb as isize)
            .filter(|&x| x >= 0 && (x as usize) < l)
            .map(|x| x as usize)
            .collect()
    };
    let inc: Vec<f32> = (0..l).map(|v| v as f32).collect();
    let dec: Vec<f32> = (0..l).map(|v| -(v as f32)).collect();
    for &tier in tiers() {
        let last = run_tier(&pool, shape, Layout::Nchw, &inc, tier, true).unwrap();
        let first = run_tier(&pool, shape, Layout::Nchw, &dec, tier, true).unwrap();
        let (last, first) = (last.idx.unwrap(), first.idx.unwrap());
        for o in 0..want {
            let t = taps(o);
            let (lo, hi) = match (t.first(), t.last()) {
                (Some(&a), Some(&b)) => (a as u32, b as u32),
                _ => (u32::MAX, u32::MAX),
            };
            prop_assert_eq!(last[o], hi, "[{}] window {} last tap", tier, o);
            prop_assert_eq!(first[o], lo, "[{}] window {} first tap", tier, o);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(1500))]

    #[test]
    fn output_size_and_windows(
        l in 1usize..=40,
        k in 1usize..=8,
        s in 1usize..=5,
        d in 1usize..=4,
        pb in 0usize..=5,
        pe in 0usize..=5,
        ceil in any::<bool>(),
    ) {
        check_axis(l, k, s, d, pb, pe, ceil)?;
    }

    #[test]
    fn same_padding_output_size(
        l in 1usize..=40,
        k in 1usize..=8,
        s in 1usize..=5,
        d in 1usize..=3,
        upper in any::<bool>(),
    ) {
        let mode = if upper { SameMode::Upper } else { SameMode::Lower };
        let pool = Pool2d::max((1, k)).stride((1, s)).dilation((1, d)).padding_same(mode);
        let o = pool.output_shape(Shape::new(1, 1, 1, l)).unwrap();
        prop_assert_eq!(o.w, l.div_ceil(s));
    }
}

// -------------------------------------------------------------------------------------------
// Adaptive bins.

/// Adaptive bins of `out` over `l` along the rows or the columns, read back through argmax
/// indices: the argmax of increasing values is each bin's last element, of decreasing values
/// its first.
fn check_bins(l: usize, out: usize, rows: bool) -> Result<(), TestCaseError> {
    let (shape, size) = if rows {
        (Shape::new(1, 1, l, 1), (out, 1))
    } else {
        (Shape::new(1, 1, 1, l), (1, out))
    };
    let inc: Vec<f32> = (0..l).map(|v| v as f32).collect();
    let dec: Vec<f32> = (0..l).map(|v| -(v as f32)).collect();
    let pool = Pool2d::adaptive_max(size);
    for &tier in tiers() {
        let run = |x: &[f32]| run_tier(&pool, shape, Layout::Nchw, x, tier, true);
        let ends = run(&inc).unwrap().idx.unwrap();
        let starts = run(&dec).unwrap().idx.unwrap();
        prop_assert_eq!(starts[0], 0, "[{}] the first bin starts at 0", tier);
        prop_assert_eq!(
            ends[out - 1] as usize,
            l - 1,
            "[{}] the last bin ends at L",
            tier
        );
        for o in 0..out {
            let (a, b) = (starts[o] as usize, ends[o] as usize + 1);
            prop_assert!(
                a < b && b <= l,
                "[{}] bin {} = [{}, {}) of {}",
                tier,
                o,
                a,
                b,
                l
            );
            let pytorch = (o * l / out, ((o + 1) * l).div_ceil(out));
            prop_assert_eq!((a, b), pytorch, "[{}] bin {}", tier, o);
            if o + 1 < out {
                let next = starts[o + 1] as usize;
                prop_assert!(next <= b, "[{}] gap after bin {}", tier, o);
                prop_assert!(next >= a, "[{}] bins out of order", tier);
            }
        }
        // Every bin is non-empty for the average too: the average of ones is exactly 1 (an
        // empty bin would give 0/0).
        let ones = vec![1.0f32; l];
        let avg = Pool2d::adaptive_avg(size);
        let y = run_tier(&avg, shape, Layout::Nchw, &ones, tier, false)
            .unwrap()
            .y;
        prop_assert!(y.iter().all(|&v| v == 1.0), "[{}] {:?}", tier, y);
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn adaptive_bins_cover_and_are_nonempty(l in 1usize..=50, out in 1usize..=60, rows in any::<bool>()) {
        check_bins(l, out, rows)?;
    }
}

// -------------------------------------------------------------------------------------------
// Averages lie between the window's minimum and maximum.

/// With `count_include_pad = false`, no override and finite inputs, each average lies within
/// its window's [min, max], up to the rounding of an n-tap sum (n·ε relative).
fn check_avg_bounds(
    s: Shape,
    w: &Window,
    adaptive: Option<(usize, usize)>,
    seed: u64,
) -> Result<(), TestCaseError> {
    let (avg, max, count) = match adaptive {
        None => {
            let avg = w.apply(Pool2d::avg(w.k)).count_include_pad(false);
            // Override 1 turns an average of ones into the window's tap count.
            (
                avg,
                w.apply(Pool2d::max(w.k)),
                Some(avg.divisor_override(1)),
            )
        }
        Some(o) => (Pool2d::adaptive_avg(o), Pool2d::adaptive_max(o), None),
    };
    if avg.output_shape(s).is_err() {
        return Ok(());
    }
    let x = values(Fill::Finite, s.numel().unwrap(), seed);
    let neg: Vec<f32> = x.iter().map(|v| -v).collect();
    let ones = vec![1.0f32; x.len()];
    for layout in LAYOUTS {
        let xl = from_nchw(&x, s, layout);
        let nl = from_nchw(&neg, s, layout);
        for &tier in tiers() {
            let a = run_tier(&avg, s, layout, &xl, tier, false).unwrap();
            let hi = run_tier(&max, s, layout, &xl, tier, false).unwrap().y;
            let lo = run_tier(&max, s, layout, &nl, tier, false).unwrap().y;
            let n = match &count {
                Some(c) => run_tier(c, s, layout, &ones, tier, false).unwrap().y,
                None => {
                    // Adaptive bins are at most ceil(L/O) + 1 long.
                    let o = a.shape;
                    let bound = (s.h.div_ceil(o.h) + 1) * (s.w.div_ceil(o.w) + 1);
                    vec![bound as f32; a.y.len()]
                }
            };
            for i in 0..a.y.len() {
                let (v, mx, mn) = (a.y[i], hi[i], -lo[i]);
                let tol = |m: f32| n[i] * f32::EPSILON * m.abs() + f32::from_bits(1);
                let [cn, cc, ch, cw] = coords(i, a.shape, layout);
                prop_assert!(
                    v <= mx + tol(mx) && v >= mn - tol(mn),
                    "[{} {}] {:?}: output (n={}, c={}, h={}, w={}): avg {} not in [{}, {}] ({} taps)",
                    tier,
                    layout.name(),
                    avg,
                    cn,
                    cc,
                    ch,
                    cw,
                    show(v),
                    show(mn),
                    show(mx),
                    n[i]
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn avg_between_min_and_max(
        s in shape_strategy(8, 24),
        w in window_strategy(1),
        seed in any::<u64>(),
        adaptive in prop_oneof![3 => Just(None), 1 => (1usize..=9, 1usize..=9).prop_map(Some)],
    ) {
        check_avg_bounds(s, &w, adaptive, seed)?;
    }
}

// -------------------------------------------------------------------------------------------
// Thread counts.

/// Shapes the driver splits into uneven tasks: row blocks of few large planes, runs of many
/// planes, NHWC row blocks, NHWC channel blocks, big global planes.
fn parallel_cases() -> Vec<(Pool2d, Shape, Layout)> {
    vec![
        (
            Pool2d::max(3).stride(2).padding(1),
            Shape::new(1, 2, 300, 157),
            Layout::Nchw,
        ),
        (
            Pool2d::avg(3).stride(1).padding(1),
            Shape::new(2, 13, 37, 29),
            Layout::Nchw,
        ),
        (
            Pool2d::avg(3).stride(2).padding(1).ceil_mode(true),
            Shape::new(1, 3, 211, 150),
            Layout::Nchw,
        ),
        (
            Pool2d::max(3).stride(2),
            Shape::new(2, 19, 47, 37),
            Layout::Nhwc,
        ),
        (
            Pool2d::avg(2).count_include_pad(false),
            Shape::new(3, 21, 33, 31),
            Layout::Nhwc,
        ),
        (
            Pool2d::max(5).stride(1).padding(2),
            Shape::new(1, 17, 39, 35),
            Layout::Nhwc,
        ),
        (
            Pool2d::adaptive_max((7, 5)),
            Shape::new(1, 3, 200, 150),
            Layout::Nchw,
        ),
        (
            Pool2d::adaptive_avg((5, 5)),
            Shape::new(1, 40, 64, 64),
            Layout::Nhwc,
        ),
        (
            Pool2d::global_avg(),
            Shape::new(1, 3, 300, 301),
            Layout::Nchw,
        ),
        (
            Pool2d::global_max(),
            Shape::new(1, 1, 512, 515),
            Layout::Nchw,
        ),
        (
            Pool2d::global_avg(),
            Shape::new(2, 50, 40, 41),
            Layout::Nhwc,
        ),
        (
            Pool2d::global_max(),
            Shape::new(1, 83, 47, 45),
            Layout::Nhwc,
        ),
    ]
}

#[test]
fn thread_count_does_not_change_results() {
    let pools: Vec<rayon::ThreadPool> = [1, 2, 3, 7]
        .iter()
        .map(|&n| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .build()
                .unwrap()
        })
        .collect();
    for (i, (pool, s, layout)) in parallel_cases().into_iter().enumerate() {
        let x = values(Fill::Mixed, s.numel().unwrap(), i as u64);
        let x = from_nchw(&x, s, layout);
        let idx = pool.op().has_indices();
        let want = run_reference(&pool, s, layout, &x, idx).unwrap();
        for &tier in tiers() {
            let ctx = format!("{pool:?} on {s} {} [{tier}]", layout.name());
            let seq = run_tier(&pool.sequential(), s, layout, &x, tier, idx).unwrap();
            assert_same(
                &format!("{ctx} sequential vs reference"),
                layout,
                &seq,
                &want,
            );
            for (threads, tp) in [1, 2, 3, 7].into_iter().zip(&pools) {
                let par = tp
                    .install(|| run_tier(&pool, s, layout, &x, tier, idx))
                    .unwrap();
                assert_same(
                    &format!("{ctx} {threads} threads vs sequential"),
                    layout,
                    &par,
                    &seq,
                );
                if idx {
                    let plain = tp
                        .install(|| run_tier(&pool, s, layout, &x, tier, false))
                        .unwrap();
                    assert_bits(
                        &format!("{ctx} {threads} threads, no indices"),
                        s_out(&seq),
                        layout,
                        &plain.y,
                        &seq.y,
                    );
                }
            }
        }
    }
}

fn s_out(o: &Out) -> Shape {
    o.shape
}

#[test]
fn one_plan_shared_by_threads() {
    // A plan is Send + Sync: several threads run the same plan at once, each with its own
    // buffers, and get the same result.
    let pool = Pool2d::max(3).stride(2).padding(1);
    let s = Shape::new(1, 8, 64, 64);
    let x = values(Fill::Mixed, s.numel().unwrap(), 9);
    for &tier in tiers() {
        let plan = Plan::<f32>::new(&pool.tier(tier), TensorDesc::nchw(1, 8, 64, 64)).unwrap();
        let want = plan.run_alloc(&x).unwrap();
        std::thread::scope(|sc| {
            for _ in 0..4 {
                sc.spawn(|| {
                    for _ in 0..3 {
                        let got = plan.run_alloc(&x).unwrap();
                        assert_bits(
                            &format!("shared plan [{tier}]"),
                            plan.output_desc().shape(),
                            Layout::Nchw,
                            &got,
                            &want,
                        );
                    }
                });
            }
        });
    }
}

#[test]
fn tier_list_is_sane() {
    let t = tiers();
    assert_eq!(t[0], Tier::Scalar);
    assert!(t.contains(&Tier::Portable));
    assert!(t.windows(2).all(|w| w[0] < w[1]));
    assert!(matches!(Pool2d::max(2).op(), PoolOp::Max));
}
