//! Average pooling NCHW: the division and the kernel's paths, every tier against the
//! reference bit for bit (an average's NaN only has to be a NaN).
//!
//! * Divisor sweeps: every divisor 1..=256 and large `divisor_override` values, as splatted
//!   divisors (1×1 windows, where an output is its input divided by the override) and as
//!   per-lane divisors (border columns without `count_include_pad`), over dividends that
//!   probe any faster division: random bit patterns, powers of two, mantissas next to
//!   rounding boundaries, magnitudes around 2^−60 and the subnormal range, ±0, ±∞, NaN,
//!   `f32::MAX`.
//! * The flat scheme (stride-1 "same" windows on narrow planes): widths around the lane counts
//!   and its table limit, several planes (the job's first and last vectors read through a
//!   zero-padded copy), every divisor mode, tall windows, row-block jobs, NaN.
//! * The padded-plane scheme (stride 1 on small planes): random windows, dilations, paddings
//!   per side, ceil mode, divisor modes and plane sizes.
//! * The compact-plane scheme (AVX-512, stride-1 windows keeping the row width): every window
//!   up to 8×8 and split of its padding, every divisor mode, NaN and infinities, row-block
//!   jobs of tall planes.
//! * The column-pair scheme (2-wide stride-2 windows without left padding: DenseNet's 2×2
//!   average): random heights, strides, dilations, paddings, ceil mode, widths around the
//!   lane counts, divisor modes (powers of two), equal-bin adaptive averages, row-block jobs.
//! * proptest over random windows, paddings and values.

mod common;

use common::Xorshift as Rng;
use common::*;
use nnpool::{Layout, Pool2d, Shape};
use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence};

/// A dividend that probes the division (see the module doc).
fn dividend(rng: &mut Rng, d: u32) -> f32 {
    let sign = if rng.below(2) == 0 { 0 } else { 0x8000_0000u32 };
    let bits = rng.next() as u32;
    let lim = (127 - 60) << 23; // 2^-60
    let v = match rng.below(12) {
        0 => return f32::from_bits(bits), // anything, NaN and ∞ included
        // Powers of two over the whole range, subnormal ones included.
        1 => match rng.below(277) as u32 {
            e if e < 23 => f32::from_bits(1 << e),
            e => f32::from_bits((e - 22) << 23),
        },
        // Mantissas of all ones / all zeros plus a few ulps, any normal exponent.
        2 => f32::from_bits(((bits >> 23) % 254 + 1) << 23 | (0x7f_ffff - (bits & 7))),
        3 => f32::from_bits(((bits >> 23) % 254 + 1) << 23 | (bits & 7)),
        // Around 2^-60.
        4 => f32::from_bits(lim - 64 + (bits & 127)),
        // Quotients around the smallest normal (subnormal results).
        5 => f32::from_bits((1 << 23) + (bits & 0xff_ffff)) * d as f32,
        // Subnormal dividends.
        6 => f32::from_bits(bits & 0x7f_ffff),
        7 => [0.0, f32::INFINITY, f32::MAX, f32::NAN, f32::MIN_POSITIVE][rng.below(5)],
        // Multiples of the divisor (exact quotients) and their neighbours.
        8 => f32::from_bits((((bits >> 8) % (1 << 20)) as f32 * d as f32).to_bits() + bits % 3),
        // Ordinary magnitudes.
        _ => f32::from_bits(((bits >> 23) % 60 + 97) << 23 | (bits & 0x7f_ffff)),
    };
    f32::from_bits(v.to_bits() | sign)
}

/// Divisors: every one up to 256, then large overrides (some not exact in f32).
/// `n` values of one kind: dividends probing the division by 9, ±0 and ±1, sixty-fourths
/// between −16 and 16, or NaN, ±∞ and a finite value.
fn mixed(rng: &mut Rng, n: usize, kind: usize) -> Vec<f32> {
    (0..n)
        .map(|_| match kind {
            0 => dividend(rng, 9),
            1 => [0.0, -0.0, 1.0, -1.0][rng.below(4)],
            2 => (rng.below(2001) as f32 - 1000.0) / 64.0,
            _ => [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 3.5][rng.below(4)],
        })
        .collect()
}

fn divisors() -> Vec<u32> {
    let mut d: Vec<u32> = (1..=256).collect();
    d.extend([
        257,
        1000,
        4095,
        65_535,
        1 << 20,
        (1 << 24) - 1,
        1 << 24,
        (1 << 24) + 1,
        (1 << 25) + 3,
        1_000_000_007,
        u32::MAX,
    ]);
    d
}

#[test]
fn splatted_divisors_every_value_kind() {
    // 1×1 windows: output = (0 + x) / override; a row of 37 has two full blocks and a
    // moved-left one on 16-lane tiers.
    let mut rng = Rng(0xd1_7151_0a5e);
    for d in divisors() {
        let shape = Shape::new(1, 2, 7, 37);
        let x: Vec<f32> = (0..shape.numel().unwrap())
            .map(|_| dividend(&mut rng, d))
            .collect();
        let pool = Pool2d::avg(1).divisor_override(d);
        let want = check_tiers_vs_reference(&format!("1x1 / {d}"), &pool, shape, Layout::Nchw, &x);
        // The reference is the IEEE quotient.
        for (y, x) in want.y.iter().zip(&x) {
            let q = (0.0 + x) / d as f32;
            assert!(same_value(true, *y, q), "{x:e} / {d}: {y:e} vs {q:e}");
        }
    }
}

#[test]
fn per_lane_divisors_every_value_kind() {
    // Border columns without count_include_pad divide by fewer taps than inner ones; the
    // window sums one row of 1..=5 taps (sums of special values included).
    let mut rng = Rng(0x9e37_79b9);
    for kw in [2, 3, 5] {
        for w in [5, 16, 17, 35] {
            for (cip, over) in [(false, None), (true, None), (false, Some(7u32))] {
                let shape = Shape::new(1, 3, 9, w);
                let x: Vec<f32> = (0..shape.numel().unwrap())
                    .map(|_| dividend(&mut rng, kw as u32))
                    .collect();
                let mut pool = Pool2d::avg((3, kw))
                    .stride(1)
                    .padding((1, kw / 2))
                    .count_include_pad(cip);
                if let Some(d) = over {
                    pool = pool.divisor_override(d);
                }
                check_tiers_vs_reference(&format!("kw {kw} w {w}"), &pool, shape, Layout::Nchw, &x);
            }
        }
    }
}

#[test]
fn flat_scheme_shapes() {
    // Stride-1 windows with "same" horizontal padding on narrow planes (the flat scheme:
    // vectors of consecutive outputs spanning rows), with several planes so that the first
    // and last vectors of the job read through the zero-padded copy; widths around the lane
    // counts and the table limit, taller windows, all divisor modes.
    let mut rng = Rng(0xf1a7);
    let windows = [
        (3, 3, 1, 1),
        (3, 3, 0, 1),
        (5, 5, 2, 2),
        (1, 3, 0, 1),
        (3, 1, 1, 0),
        (2, 3, 1, 1),
        (3, 5, 1, 2),
        (7, 7, 3, 3),
        (4, 8, 2, 4),
    ];
    for (kh, kw, ph, pw) in windows {
        for w in [1, 3, 5, 7, 8, 13, 15, 16, 17, 28, 33, 35, 49, 63, 64, 65] {
            for (cip, over) in [(false, None), (true, None), (false, Some(5u32))] {
                let h = 1 + rng.below(20);
                let shape = Shape::new(1, 1 + rng.below(4), h, w);
                let kind = rng.below(3);
                let x = mixed(&mut rng, shape.numel().unwrap(), kind);
                let mut pool = Pool2d::avg((kh, kw))
                    .stride(1)
                    .padding((ph, pw))
                    .count_include_pad(cip);
                if let Some(d) = over {
                    pool = pool.divisor_override(d);
                }
                if pool.output_shape(shape).is_err() {
                    continue;
                }
                let ctx = format!("{kh}x{kw} pad {ph},{pw} w {w} {shape}");
                check_tiers_vs_reference(&ctx, &pool, shape, Layout::Nchw, &x);
            }
        }
    }
}

#[test]
fn flat_scheme_row_block_jobs() {
    // One tall narrow plane: the parallel driver cuts it into row blocks, each with its own
    // vertically inner rows; and a NaN plane.
    let mut rng = Rng(77);
    for (h, w) in [(3000, 35), (1500, 17), (700, 64)] {
        let shape = Shape::new(1, 1, h, w);
        let mut x: Vec<f32> = (0..shape.numel().unwrap())
            .map(|_| (rng.below(2001) as f32 - 1000.0) / 64.0)
            .collect();
        let pool = Pool2d::avg(3).stride(1).padding(1).count_include_pad(false);
        let want = run_reference(&pool, shape, Layout::Nchw, &x, false).unwrap();
        for &tier in tiers() {
            let plan = nnpool::Plan::<f32>::new(&pool.tier(tier), desc(shape, Layout::Nchw));
            let plan = plan.unwrap();
            let mut y = vec![SENTINEL; plan.output_len()];
            plan.run(&x, &mut y).unwrap();
            assert_values(
                &format!("{tier} {h}x{w}"),
                true,
                want.shape,
                Layout::Nchw,
                &y,
                &want.y,
            );
        }
        x[rng.below(h * w)] = f32::NAN;
        x[rng.below(h * w)] = f32::INFINITY;
        check_tiers_vs_reference("nan", &pool, shape, Layout::Nchw, &x);
    }
}

#[test]
fn padded_plane_scheme() {
    // Stride-1 windows on small planes run the padded-plane scheme (a padded copy per plane,
    // flat vectors over it, a divisor table per job): any window up to 6×6, dilation, padding
    // per side (SAME-like asymmetric splits included), ceil mode, every divisor mode, planes
    // narrower and wider than a vector, several planes per job; values from every class.
    let mut rng = Rng(0x9ad5);
    let (mut padded, mut runs) = (0, 0);
    for case in 0..400 {
        let (kh, kw) = (1 + rng.below(6), 1 + rng.below(6));
        let (dh, dw) = (1 + rng.below(2), 1 + rng.below(2));
        let side = |rng: &mut Rng, k: usize| rng.below(k / 2 + 1);
        let pads = [
            side(&mut rng, kh),
            side(&mut rng, kw),
            side(&mut rng, kh),
            side(&mut rng, kw),
        ];
        let shape = Shape::new(1, 1 + rng.below(5), 1 + rng.below(40), 1 + rng.below(40));
        let mut pool = Pool2d::avg((kh, kw))
            .stride(1)
            .dilation((dh, dw))
            .padding(pads)
            .ceil_mode(rng.below(2) == 0)
            .count_include_pad(rng.below(2) == 0);
        if rng.below(4) == 0 {
            pool = pool.divisor_override(1 + rng.below(20) as u32);
        }
        if pool.output_shape(shape).is_err() {
            continue;
        }
        let kind = rng.below(3);
        let x = mixed(&mut rng, shape.numel().unwrap(), kind);
        let ctx = format!("case {case}: {} {shape}", label(&pool));
        check_tiers_vs_reference(&ctx, &pool, shape, Layout::Nchw, &x);
        for &tier in tiers() {
            let plan = nnpool::Plan::<f32>::new(&pool.tier(tier), desc(shape, Layout::Nchw));
            runs += usize::from(tier != nnpool::Tier::Scalar);
            // The compact-plane scheme takes the "same" windows on AVX-512.
            let algorithm = plan.unwrap().kernel().algorithm;
            if ["avg-nchw-s1-padded", "avg-nchw-s1-compact"].contains(&algorithm) {
                padded += 1;
            }
        }
    }
    // The scheme must have run: every case fits it (or the compact one) on every vector tier.
    assert!(
        runs > 0 && padded == runs,
        "padded-plane scheme ran {padded} of {runs} vector-tier runs"
    );
}

#[test]
fn compact_plane_scheme() {
    // Stride-1 windows whose output rows keep the input's width (left + right padding =
    // kw − 1) run on AVX-512 as the compact-plane scheme: the plane as a flat array, taps as
    // lane shifts of rolling row vectors, clipped loads in the first and last rows and the
    // last vector. Every window up to 8×8 with each split of its padding columns, random
    // top and bottom padding, widths below, at and above a vector, one to 40 planes, every
    // divisor mode, values from every class (±0, ±∞, NaN); then tall planes on a 4-thread
    // pool (row-block jobs whose rows do not start at 0).
    let mut rng = Rng(0xc0a7_9a11);
    let (mut compact, mut runs) = (0, 0);
    for case in 0..400 {
        let (kh, kw) = (1 + rng.below(8), 1 + rng.below(8));
        let pl = (kw - 1 - kw / 2) + rng.below(kw / 2 - (kw - 1 - kw / 2) + 1);
        let (pt, pb) = (rng.below(kh / 2 + 1), rng.below(kh / 2 + 1));
        let planes = 1 + rng.below(if case % 5 == 0 { 40 } else { 6 });
        let shape = Shape::new(1, planes, 1 + rng.below(30), 1 + rng.below(45));
        let mut pool = Pool2d::avg((kh, kw))
            .stride(1)
            .padding([pt, pl, pb, kw - 1 - pl])
            .count_include_pad(rng.below(2) == 0);
        if rng.below(4) == 0 {
            pool = pool.divisor_override(1 + rng.below(20) as u32);
        }
        let Ok(os) = pool.output_shape(shape) else {
            continue;
        };
        assert_eq!(os.w, shape.w, "{}", label(&pool));
        let kind = rng.below(4);
        let x = mixed(&mut rng, shape.numel().unwrap(), kind);
        let ctx = format!("case {case}: {} {shape}", label(&pool));
        check_tiers_vs_reference(&ctx, &pool, shape, Layout::Nchw, &x);
        for &tier in tiers() {
            let plan = nnpool::Plan::<f32>::new(&pool.tier(tier), desc(shape, Layout::Nchw));
            runs += 1;
            compact += usize::from(plan.unwrap().kernel().algorithm == "avg-nchw-s1-compact");
        }
    }
    println!("compact-plane scheme ran in {compact} of {runs} tier runs");
    let masked = tiers().contains(&nnpool::Tier::Avx512);
    assert!(!masked || compact > 0, "the compact-plane scheme never ran");
    assert!(
        masked || compact == 0,
        "compact-plane scheme without masked steps"
    );
    let threads = four_threads();
    for (k, p, h, w) in TALL_SAME {
        let pool = Pool2d::avg(k)
            .stride(1)
            .padding([p, p, k - 1 - p, k - 1 - p])
            .count_include_pad(false);
        let shape = Shape::new(1, 3, h, w);
        let x: Vec<f32> = (0..shape.numel().unwrap())
            .map(|_| (rng.below(2001) as f32 - 1000.0) / 64.0)
            .collect();
        threads.install(|| check_tiers_vs_reference("tall", &pool, shape, Layout::Nchw, &x));
    }
}

#[test]
fn pair_rows_scheme() {
    // Windows two columns wide at stride 2 without left padding, every window inside its row
    // (DenseNet's 2×2 stride-2 average), run as the column-pair scheme on every vector tier:
    // one deinterleaving load per input row and block. Random heights, vertical strides,
    // dilations and top/bottom padding (rows of 0, 1 or all window rows), right padding
    // (eligible only where no window reaches it), ceil mode, widths below, at and above a
    // vector (narrow rows read past their end), one to 40 planes, every divisor mode
    // (powers of two multiply), values of every class; equal-bin adaptive averages; then
    // tall planes on a 4-thread pool (row-block jobs whose rows do not start at 0).
    let mut rng = Rng(0x9a1e_5c0d);
    let (mut pairs, mut runs) = (0, 0);
    let mut cases: Vec<(Pool2d, Shape)> = Vec::new();
    for case in 0..400 {
        let kh = 1 + rng.below(4);
        let (sh, dh) = (1 + rng.below(3), 1 + rng.below(2));
        let (pt, pb) = (rng.below(kh / 2 + 1), rng.below(kh / 2 + 1));
        let planes = 1 + rng.below(if case % 5 == 0 { 40 } else { 6 });
        let shape = Shape::new(1, planes, 1 + rng.below(30), 1 + rng.below(70));
        let mut pool = Pool2d::avg((kh, 2))
            .stride((sh, 2))
            .dilation((dh, 1))
            .padding([pt, 0, pb, rng.below(2)])
            .ceil_mode(rng.below(2) == 0)
            .count_include_pad(rng.below(2) == 0);
        match rng.below(4) {
            0 => pool = pool.divisor_override(1 + rng.below(20) as u32),
            1 => pool = pool.divisor_override(1 << rng.below(8)),
            _ => {}
        }
        cases.push((pool, shape));
    }
    for _ in 0..40 {
        let (oh, ow) = (1 + rng.below(12), 1 + rng.below(30));
        let shape = Shape::new(1, 1 + rng.below(8), oh + rng.below(20), 2 * ow);
        cases.push((Pool2d::adaptive_avg((oh, ow)), shape));
    }
    for (case, (pool, shape)) in cases.iter().enumerate() {
        if pool.output_shape(*shape).is_err() {
            continue;
        }
        let kind = rng.below(4);
        let x = mixed(&mut rng, shape.numel().unwrap(), kind);
        let ctx = format!("case {case}: {} {shape}", label(pool));
        check_tiers_vs_reference(&ctx, pool, *shape, Layout::Nchw, &x);
        for &tier in tiers() {
            let plan = nnpool::Plan::<f32>::new(&pool.tier(tier), desc(*shape, Layout::Nchw));
            runs += usize::from(tier != nnpool::Tier::Scalar);
            pairs += usize::from(plan.unwrap().kernel().algorithm == "avg-nchw-s2-pair-rows");
        }
    }
    println!("column-pair scheme ran in {pairs} of {runs} vector-tier runs");
    assert!(
        pairs > runs / 4,
        "the column-pair scheme ran in {pairs} of {runs} runs"
    );
    let threads = four_threads();
    for (h, w) in [(120, 56), (97, 28), (64, 9)] {
        let pool = Pool2d::avg(2).stride(2);
        let shape = Shape::new(1, 2, h, w);
        let x = mixed(&mut rng, shape.numel().unwrap(), 2);
        threads.install(|| check_tiers_vs_reference("tall", &pool, shape, Layout::Nchw, &x));
    }
}

#[test]
fn shift_scheme() {
    // Windows two or three columns wide at stride 2 with at most one column of left padding
    // (ResNet-D's 3×3 stride-2 average, 2×2 ones with padding or ceil mode), run as the shift
    // scheme on every vector tier: one deinterleaving load per window row and block, the
    // taps added in row-major order. Random heights up to 3 rows, vertical strides, top and
    // bottom padding, right padding, ceil mode, widths below, at and above a vector (the last
    // block's loads clipped to the row), one to 40 planes, every divisor mode, values of
    // every class; then tall planes on a 4-thread pool (row-block jobs).
    let mut rng = Rng(0x5_41f7_2b0c);
    let (mut shifts, mut runs) = (0, 0);
    for case in 0..400 {
        let (kh, kw) = (1 + rng.below(3), 2 + rng.below(2));
        let sh = 1 + rng.below(3);
        let (pt, pb) = (rng.below(kh / 2 + 1), rng.below(kh / 2 + 1));
        let (pl, pr) = (rng.below(2), rng.below(2));
        let planes = 1 + rng.below(if case % 5 == 0 { 40 } else { 6 });
        let shape = Shape::new(1, planes, 1 + rng.below(30), 1 + rng.below(70));
        let mut pool = Pool2d::avg((kh, kw))
            .stride((sh, 2))
            .padding([pt, pl, pb, pr])
            .ceil_mode(rng.below(2) == 0)
            .count_include_pad(rng.below(2) == 0);
        match rng.below(4) {
            0 => pool = pool.divisor_override(1 + rng.below(20) as u32),
            1 => pool = pool.divisor_override(1 << rng.below(8)),
            _ => {}
        }
        if pool.output_shape(shape).is_err() {
            continue;
        }
        let kind = rng.below(4);
        let x = mixed(&mut rng, shape.numel().unwrap(), kind);
        let ctx = format!("case {case}: {} {shape}", label(&pool));
        check_tiers_vs_reference(&ctx, &pool, shape, Layout::Nchw, &x);
        for &tier in tiers() {
            let plan = nnpool::Plan::<f32>::new(&pool.tier(tier), desc(shape, Layout::Nchw));
            runs += usize::from(tier != nnpool::Tier::Scalar);
            shifts += usize::from(plan.unwrap().kernel().algorithm == "avg-nchw-s2-shift");
        }
    }
    println!("shift scheme ran in {shifts} of {runs} vector-tier runs");
    assert!(
        shifts > runs / 4,
        "the shift scheme ran in {shifts} of {runs} runs"
    );
    let threads = four_threads();
    for (h, w) in [(120, 56), (97, 29), (64, 9)] {
        let pool = Pool2d::avg(3).stride(2).padding(1);
        let shape = Shape::new(1, 2, h, w);
        let x = mixed(&mut rng, shape.numel().unwrap(), 2);
        threads.install(|| check_tiers_vs_reference("tall", &pool, shape, Layout::Nchw, &x));
    }
}

/// A config with `cases` cases unless `PROPTEST_CASES` says otherwise.
fn config(cases: u32) -> Config {
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

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn avg_nchw_equals_reference(
        (c, h, w) in (1usize..=3, 1usize..=20, 1usize..=70),
        (kh, kw) in (1usize..=5, 1usize..=5),
        (sh, sw) in prop_oneof![Just((1usize, 1usize)), Just((2, 2)), (1usize..=3, 1usize..=3)],
        (pt, pl) in (0usize..=2, 0usize..=2),
        (ceil, cip) in (any::<bool>(), any::<bool>()),
        over in prop_oneof![Just(None), (1u32..=300).prop_map(Some)],
        seed in any::<u64>(),
    ) {
        let (pt, pl) = (pt.min(kh / 2), pl.min(kw / 2));
        let mut pool = Pool2d::avg((kh, kw))
            .stride((sh, sw))
            .padding((pt, pl))
            .ceil_mode(ceil)
            .count_include_pad(cip);
        if let Some(d) = over {
            pool = pool.divisor_override(d);
        }
        let shape = Shape::new(1, c, h, w);
        prop_assume!(pool.output_shape(shape).is_ok());
        let mut rng = Rng(seed | 1);
        let kind = rng.below(3);
        let x: Vec<f32> = (0..shape.numel().unwrap())
            .map(|_| match kind {
                0 => dividend(&mut rng, 9),
                1 => (rng.below(2001) as f32 - 1000.0) / 64.0,
                _ => f32::from_bits(rng.next() as u32 & 0xbfff_ffff),
            })
            .collect();
        check_tiers_vs_reference("prop", &pool, shape, Layout::Nchw, &x);
    }
}
