//! Max pooling in NCHW (window and adaptive) on every supported tier against the reference,
//! bit for bit, values and indices: every stride-1 / stride-2 / strided / dilated / adaptive
//! geometry family, widths that hit every tail length up to `2·16 + 1`, borders, ceil mode,
//! asymmetric and `SAME` padding, and inputs made of ties, ±0, ±∞ and NaN. Row-block jobs are
//! reached through parallel runs of large planes.

mod common;

use common::Xorshift as Rng;
use common::{TALL_SAME, four_threads};
use nnpool::{Parallelism, Plan, Pool2d, SameMode, Shape, TensorDesc, Tier, reference};

/// A small deterministic generator (xorshift64*).
/// Input flavours.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fill {
    /// Few distinct values: ties everywhere, +0 and −0 among them.
    Ties,
    /// Ties plus ±∞ and some NaN (with distinct payloads).
    Specials,
    /// Distinct values, one NaN per plane.
    OneNan,
    /// All −∞ (every window's value is −∞: tests the index of the first in-bounds tap).
    NegInf,
}

fn values(rng: &mut Rng, n: usize, plane: usize, fill: Fill) -> Vec<f32> {
    let mut x: Vec<f32> = (0..n)
        .map(|_| match fill {
            Fill::Ties => [-1.0, -0.0, 0.0, 0.0, -0.0, 1.0, 1.0, 2.0][rng.below(8)],
            Fill::Specials => match rng.below(16) {
                0 => f32::NAN,
                1 => f32::from_bits(0x7fc0_1234 + rng.below(100) as u32),
                2 => f32::INFINITY,
                3..=5 => f32::NEG_INFINITY,
                6 | 7 => -0.0,
                8 | 9 => 0.0,
                _ => rng.below(3) as f32 - 1.0,
            },
            Fill::OneNan => (rng.below(1 << 20) as f32) - 1e5,
            Fill::NegInf => f32::NEG_INFINITY,
        })
        .collect();
    if let Fill::OneNan = fill {
        for p in 0..n / plane {
            let at = p * plane + rng.below(plane);
            x[at] = f32::from_bits(0xffc0_0000 | p as u32);
        }
    }
    x
}

/// Replaces the NaN of every plane (of `per` elements) but plane `keep` by small values and
/// signed zeros.
fn nan_in_one_plane(x: &mut [f32], per: usize, keep: usize) {
    for (i, v) in x.iter_mut().enumerate() {
        if v.is_nan() && i / per != keep {
            *v = [0.0, -0.0, 1.0, -2.0, 3.0][i % 5];
        }
    }
}

/// The SIMD tiers to check (the scalar tier is the reference's own loops).
fn tiers() -> Vec<Tier> {
    Tier::supported()
        .into_iter()
        .filter(|&t| t != Tier::Scalar)
        .collect()
}

/// Runs `pool` on `x` (shape `shape`, NCHW) on every tier, with and without indices, and
/// compares with the reference bit for bit. Returns false (after printing) on a mismatch.
#[track_caller]
fn check(ctx: &str, pool: Pool2d, shape: Shape, x: &[f32]) {
    let desc = TensorDesc::nchw(shape.n, shape.c, shape.h, shape.w);
    let Ok(os) = pool.output_shape(shape) else {
        return;
    };
    let odesc = TensorDesc::nchw(os.n, os.c, os.h, os.w);
    let len = os.n * os.c * os.h * os.w;
    let mut want = vec![0.0f32; len];
    let mut want_idx = vec![0u32; len];
    reference::pool2d(&pool, &desc, x, &odesc, &mut want, Some(&mut want_idx)).unwrap();
    for tier in tiers() {
        let plan = Plan::<f32>::new(&pool.tier(tier), desc).unwrap();
        let algo = plan.kernel().algorithm;
        let mut y = vec![1.5f32; len];
        let mut idx = vec![7u32; len];
        plan.run_with_indices(x, &mut y, &mut idx).unwrap();
        let mut y2 = vec![2.5f32; len];
        plan.run(x, &mut y2).unwrap();
        for (name, got, gidx) in [("with indices", &y, Some(&idx)), ("values only", &y2, None)] {
            for i in 0..len {
                let bad_v = got[i].to_bits() != want[i].to_bits();
                let bad_i = gidx.is_some_and(|g| g[i] != want_idx[i]);
                if bad_v || bad_i {
                    let (w, h) = (i % os.w, (i / os.w) % os.h);
                    let c = i / (os.w * os.h);
                    panic!(
                        "{ctx}: {tier:?} {algo} {name}: {pool:?} input {shape} output ({c}, {h}, {w}): \
                         got {} ({:#x}) idx {:?}, want {} ({:#x}) idx {}",
                        got[i],
                        got[i].to_bits(),
                        gidx.map(|g| g[i]),
                        want[i],
                        want[i].to_bits(),
                        want_idx[i]
                    );
                }
            }
        }
    }
}

fn sweep(seed: u64, fills: &[Fill], cases: impl Fn(&mut Rng) -> Vec<(Pool2d, Shape)>) {
    let mut rng = Rng(seed);
    for (pool, shape) in cases(&mut rng) {
        let plane = shape.h * shape.w;
        for &fill in fills {
            let x = values(&mut rng, shape.n * shape.c * plane, plane, fill);
            check(&format!("{fill:?}"), pool.sequential(), shape, &x);
        }
    }
}

const ALL_FILLS: [Fill; 4] = [Fill::Ties, Fill::Specials, Fill::OneNan, Fill::NegInf];

#[test]
fn stride1_every_width() {
    sweep(1, &ALL_FILLS, |rng| {
        let mut v = Vec::new();
        for w in 1..=33 {
            for (k, p) in [(1, 0), (2, 0), (2, 1), (3, 1), (3, 0), (5, 2), (4, 2)] {
                let h = 1 + rng.below(7);
                v.push((
                    Pool2d::max(k).stride(1).padding(p),
                    Shape::new(1, 2, h.max(k), w.max(k)),
                ));
            }
        }
        v
    });
}

#[test]
fn stride1_large_windows() {
    sweep(2, &ALL_FILLS, |rng| {
        let mut v = Vec::new();
        for w in (1..=45).step_by(2) {
            for k in [6, 7, 8, 9, 13, 17] {
                let p = rng.below(k / 2 + 1);
                let h = k + rng.below(20);
                let pool = Pool2d::max(k).stride(1).padding(p);
                v.push((pool, Shape::new(1, 2, h, (w + k).max(2 * p + 1))));
            }
        }
        // Width-only and height-only large windows.
        for w in [7, 20, 31, 40] {
            v.push((
                Pool2d::max((13, 3)).stride(1).padding((6, 1)),
                Shape::new(1, 2, 20, w),
            ));
            v.push((
                Pool2d::max((3, 13)).stride(1).padding((1, 6)),
                Shape::new(1, 2, 9, w),
            ));
        }
        v
    });
}

/// Stride-1 "same" windows 7 to 16 wide, symmetric and (even widths) one column more on
/// either side: on AVX-512 the compact-plane scheme's horizontal pass doubles runs (three or
/// four steps per side) instead of folding one tap per column. Planes from one vector to a
/// few hundred; heights that make the row arrays end mid-vector.
#[test]
fn stride1_wide_same_windows() {
    let mut rng = Rng(21);
    let mut compact = 0;
    for k in 7..=16 {
        let sides = if k % 2 == 1 {
            vec![(k / 2, k / 2)]
        } else {
            vec![(k / 2 - 1, k / 2), (k / 2, k / 2 - 1)]
        };
        for (left, right) in sides {
            for (h, w) in [
                (4, 4),
                (k, 7),
                (9, 20),
                (20, 20),
                (13, 23),
                (6, 33),
                (11, 16),
            ] {
                let top = rng.below(k / 2 + 1);
                let kh = 2 * top + 1 + rng.below(2);
                let pool = Pool2d::max((kh, k))
                    .stride(1)
                    .padding([top, left, kh - 1 - top, right]);
                let shape = Shape::new(1, 3, h, w);
                let plane = h * w;
                for fill in ALL_FILLS {
                    let x = values(&mut rng, 3 * plane, plane, fill);
                    check(&format!("{fill:?}"), pool.sequential(), shape, &x);
                }
                if Tier::supported().contains(&Tier::Avx512) {
                    let plan =
                        Plan::<f32>::new(&pool.tier(Tier::Avx512), TensorDesc::nchw(1, 3, h, w));
                    compact += usize::from(plan.unwrap().kernel().algorithm == "nchw-s1-compact");
                }
            }
        }
    }
    println!("compact-plane scheme (AVX-512) ran in {compact} cases");
    assert!(
        !Tier::supported().contains(&Tier::Avx512) || compact > 20,
        "the compact-plane scheme ran in {compact} cases only"
    );
}

#[test]
fn sppf_and_yolo_shapes() {
    sweep(3, &ALL_FILLS, |_| {
        let mut v = Vec::new();
        for k in [5, 9, 13] {
            for s in [20, 19, 21, 40] {
                v.push((
                    Pool2d::max(k).stride(1).padding(k / 2),
                    Shape::new(1, 3, s, s),
                ));
            }
        }
        v
    });
}

#[test]
fn stride2_every_width() {
    sweep(4, &ALL_FILLS, |rng| {
        let mut v = Vec::new();
        for w in 1..=70 {
            for (k, p) in [
                (1, 0),
                (2, 0),
                (2, 1),
                (3, 1),
                (3, 0),
                (4, 1),
                (5, 2),
                (6, 3),
                (7, 1),
            ] {
                let h = k + rng.below(6);
                let ceil = rng.below(2) == 1;
                let pool = Pool2d::max(k).stride(2).padding(p).ceil_mode(ceil);
                v.push((pool, Shape::new(1, 2, h, w.max(k))));
            }
        }
        v
    });
}

#[test]
fn strided_and_dilated() {
    sweep(5, &ALL_FILLS, |rng| {
        let mut v = Vec::new();
        for w in 1..=40 {
            let k = 1 + rng.below(5);
            let s = 1 + rng.below(4);
            let d = 1 + rng.below(3);
            let p = rng.below(k / 2 + 1);
            let ceil = rng.below(2) == 1;
            let pool = Pool2d::max((k, 1 + rng.below(5)))
                .stride((s, 1 + rng.below(4)))
                .dilation((d, 1 + rng.below(3)))
                .padding(p.min(rng.below(5).div_ceil(2)))
                .ceil_mode(ceil);
            v.push((pool, Shape::new(1, 2, 1 + rng.below(12) + k * d, w + 8)));
            let pool = Pool2d::max(k)
                .stride(s)
                .dilation(d)
                .padding(p)
                .ceil_mode(ceil);
            v.push((
                pool,
                Shape::new(1, 1, 2 + rng.below(10) + k * d, w + (k - 1) * d),
            ));
        }
        v
    });
}

#[test]
fn asymmetric_and_same_padding() {
    sweep(6, &ALL_FILLS, |rng| {
        let mut v = Vec::new();
        for w in 1..=36 {
            let k = 2 + rng.below(6);
            let pad = [
                rng.below(k / 2 + 1),
                rng.below(k / 2 + 1),
                rng.below(k / 2 + 1),
                rng.below(k / 2 + 1),
            ];
            for s in [1, 2, 3] {
                let pool = Pool2d::max(k).stride(s).padding(pad);
                v.push((pool, Shape::new(1, 1, k + rng.below(9), w + k)));
                let mode = if rng.below(2) == 0 {
                    SameMode::Upper
                } else {
                    SameMode::Lower
                };
                let d = 1 + rng.below(3);
                let pool = Pool2d::max(k).stride(s).dilation(d).padding_same(mode);
                v.push((pool, Shape::new(1, 1, 1 + rng.below(9), w)));
            }
        }
        v
    });
}

#[test]
fn adaptive() {
    sweep(7, &ALL_FILLS, |rng| {
        let mut v = Vec::new();
        for w in 1..=40usize {
            let h = 1 + rng.below(20);
            for (oh, ow) in [
                (1, 1),
                (2, 3),
                (7, 7),
                (h, w),
                (h.div_ceil(2), w.div_ceil(2)),
            ] {
                v.push((Pool2d::adaptive_max((oh, ow)), Shape::new(1, 2, h, w)));
            }
            v.push((
                Pool2d::adaptive_max((3, 1 + rng.below(2 * w))),
                Shape::new(1, 1, 9, w),
            ));
            if w <= 20 {
                // Equal column bins of width 1, 2, 3.
                for k in 1..=3 {
                    v.push((Pool2d::adaptive_max((h, w)), Shape::new(1, 1, 2 * h, k * w)));
                }
            }
        }
        v
    });
}

#[test]
fn network_shapes() {
    sweep(8, &[Fill::Ties, Fill::OneNan], |_| {
        vec![
            (
                Pool2d::max(3).stride(2).padding(1),
                Shape::new(1, 4, 112, 112),
            ),
            (Pool2d::max(2).stride(2), Shape::new(1, 4, 224, 224)),
            (Pool2d::max(2).stride(2), Shape::new(1, 8, 28, 28)),
            (
                Pool2d::max(3).stride(2).ceil_mode(true),
                Shape::new(1, 4, 55, 55),
            ),
            (
                Pool2d::max(3).stride(1).padding(1),
                Shape::new(1, 4, 35, 35),
            ),
            (
                Pool2d::max(5).stride(1).padding(2),
                Shape::new(1, 4, 20, 20),
            ),
            (
                Pool2d::max(13).stride(1).padding(6),
                Shape::new(1, 4, 20, 20),
            ),
            (
                Pool2d::max(13).stride(1).padding(6),
                Shape::new(1, 2, 40, 600),
            ),
            (
                Pool2d::max(9).stride(1).padding(4),
                Shape::new(1, 2, 30, 1100),
            ),
            (
                Pool2d::max(3).stride(1).padding(1),
                Shape::new(1, 2, 9, 1100),
            ),
            (
                Pool2d::max(3).stride(2).padding(1),
                Shape::new(1, 2, 9, 1500),
            ),
            (Pool2d::adaptive_max(7), Shape::new(1, 4, 14, 14)),
            (Pool2d::adaptive_max((6, 6)), Shape::new(1, 4, 13, 13)),
        ]
    });
}

/// Parallel runs cut large planes into row blocks: every block must give the rows the
/// reference gives.
#[test]
fn row_blocks() {
    let mut rng = Rng(9);
    let cases = [
        (
            Pool2d::max(3).stride(1).padding(1),
            Shape::new(1, 2, 300, 260),
        ),
        (
            Pool2d::max(13).stride(1).padding(6),
            Shape::new(1, 1, 200, 240),
        ),
        (
            Pool2d::max(7).stride(1).padding(3),
            Shape::new(1, 1, 260, 200),
        ),
        (
            Pool2d::max(3).stride(2).padding(1),
            Shape::new(1, 2, 400, 400),
        ),
        (Pool2d::max(2).stride(2), Shape::new(1, 1, 600, 300)),
        (
            Pool2d::max(3).stride(3).dilation(2),
            Shape::new(1, 1, 500, 300),
        ),
        (Pool2d::adaptive_max((90, 70)), Shape::new(1, 1, 400, 300)),
    ];
    for (pool, shape) in cases {
        let plane = shape.h * shape.w;
        for fill in [Fill::Ties, Fill::OneNan] {
            let x = values(&mut rng, shape.c * plane, plane, fill);
            check(
                &format!("row blocks {fill:?}"),
                pool.parallelism(Parallelism::Auto),
                shape,
                &x,
            );
        }
    }
}

/// The shift scheme (2- or 3-wide stride-2 windows with at most one column of left padding):
/// output widths around every lane count (so the last block is full or partial), rows of
/// `2·ow − 1`, `2·ow` and `2·ow + 1` columns with and without ceil mode (the last window ends
/// inside the row, at its end, or past it), window heights 1 to 3 through vertical padding,
/// dilation and asymmetric padding, one or several output rows per job, and planes whose NaN
/// sends them to the exact scheme.
#[test]
fn stride2_shift_scheme() {
    sweep(12, &ALL_FILLS, |rng| {
        let mut v = Vec::new();
        for ow in [
            1, 2, 4, 5, 6, 7, 8, 9, 13, 15, 16, 17, 24, 27, 31, 32, 33, 56,
        ] {
            let w = 2 * ow + rng.below(3) - 1;
            let ceil = rng.below(2) == 1;
            for pad in [
                [1, 1, 1, 1],
                [0, 1, 1, 0],
                [1, 1, 0, 1],
                [0, 1, 0, 0],
                [0, 0, 0, 0],
            ] {
                let h = 1 + rng.below(9);
                let dh = 1 + rng.below(2);
                let pool = Pool2d::max(3)
                    .stride(2)
                    .padding(pad)
                    .dilation((dh, 1))
                    .ceil_mode(ceil);
                v.push((pool, Shape::new(1, 3, h.max(2 * dh + 1), w.max(3))));
                // 2-wide windows (rows of 2 or 3 via dilation).
                let pad2 = [pad[0].min(1), pad[1], pad[2].min(1), 0];
                let pool = Pool2d::max((3, 2))
                    .stride(2)
                    .padding(pad2)
                    .dilation((dh, 1))
                    .ceil_mode(ceil);
                v.push((pool, Shape::new(1, 3, h.max(2 * dh + 1), w.max(2))));
            }
        }
        v
    });
}

/// The padded-plane scheme (stride 1, windows up to 5 rows, values only): random windows
/// (13 and more columns: the doubling sweep), dilations, padding per side, ceil mode and plane
/// sizes, values with ties and signed zeros, and NaN in one plane of several (that plane is
/// redone exactly, the others resume after it).
#[test]
fn padded_plane_scheme() {
    let mut rng = Rng(0x05ee_d9ad);
    let (mut padded, mut runs) = (0, 0);
    for case in 0..300 {
        let (kh, kw) = (1 + rng.below(5), 1 + rng.below(16));
        let (dh, dw) = (1 + rng.below(2), 1 + rng.below(2));
        let side = |rng: &mut Rng, k: usize| rng.below(k / 2 + 1);
        let pads = [
            side(&mut rng, kh),
            side(&mut rng, kw),
            side(&mut rng, kh),
            side(&mut rng, kw),
        ];
        let planes = 1 + rng.below(6);
        let shape = Shape::new(1, planes, 1 + rng.below(30), 1 + rng.below(40));
        let pool = Pool2d::max((kh, kw))
            .stride(1)
            .dilation((dh, dw))
            .padding(pads)
            .ceil_mode(rng.below(2) == 0);
        if pool.output_shape(shape).is_err() {
            continue;
        }
        let n = shape.numel().unwrap();
        let fill = [Fill::Ties, Fill::Specials, Fill::OneNan][case % 3];
        let per = n / planes;
        let mut x = values(&mut rng, n, per, fill);
        if fill == Fill::OneNan {
            // The NaN only in the first, a middle or the last plane.
            for (i, v) in x.iter_mut().enumerate() {
                if v.is_nan() {
                    *v = (i % 7) as f32;
                }
            }
        }
        if fill == Fill::OneNan {
            let plane = [0, planes / 2, planes - 1][rng.below(3)];
            x[plane * per + rng.below(per)] = f32::NAN;
        }
        check(
            &format!("case {case} {fill:?}"),
            pool.sequential(),
            shape,
            &x,
        );
        for tier in tiers() {
            let desc = TensorDesc::nchw(1, planes, shape.h, shape.w);
            let plan = Plan::<f32>::new(&pool.tier(tier), desc).unwrap();
            runs += 1;
            // The compact-plane scheme takes the rows-as-wide-as-the-input cases on AVX-512.
            if matches!(
                plan.kernel().algorithm,
                "nchw-s1-padded" | "nchw-s1-compact"
            ) {
                padded += 1;
            }
        }
    }
    // The scheme must have run: most cases fit it on every vector tier (not the copies too
    // large for its arrays).
    assert!(
        runs > 0 && 2 * padded >= runs,
        "padded-plane scheme ran {padded} of {runs} vector-tier runs"
    );
}

/// The compact-plane scheme (stride 1, rows as wide as the input's, values only, tiers with
/// masked steps): every window of up to 16×16 with each split of its `kw − 1` padding columns
/// and random top/bottom padding, plane widths below, at and above a vector, ties and signed
/// zeros (the row-major order decides the sign of a zero maximum), ±∞, a NaN in one plane of
/// many (redone exactly, the others resume), and row-block jobs of tall planes (parallel).
#[test]
fn compact_plane_scheme() {
    let mut rng = Rng(0xc0_4ac7);
    let (mut compact, mut runs) = (0, 0);
    for case in 0..400 {
        // Mostly the common small windows; every other case up to a vector wide and as tall.
        let (kh, kw) = match case % 2 {
            0 => (1 + rng.below(5), 1 + rng.below(8)),
            _ => (1 + rng.below(16), 1 + rng.below(16)),
        };
        // Each side at most half the kernel, the two summing to kw − 1 (ow = iw).
        let pl = (kw - 1 - kw / 2) + rng.below(kw / 2 - (kw - 1 - kw / 2) + 1);
        let (pt, pb) = (rng.below(kh / 2 + 1), rng.below(kh / 2 + 1));
        let pool = Pool2d::max((kh, kw))
            .stride(1)
            .padding([pt, pl, pb, kw - 1 - pl]);
        let planes = 1 + rng.below(if case % 5 == 0 { 40 } else { 6 });
        let (h, w) = (1 + rng.below(30), 1 + rng.below(45));
        let shape = Shape::new(1, planes, h, w);
        let Ok(os) = pool.output_shape(shape) else {
            continue;
        };
        assert_eq!(os.w, w, "{pool:?}");
        let fill = [Fill::Ties, Fill::Specials, Fill::OneNan][case % 3];
        let per = h * w;
        let mut x = values(&mut rng, shape.numel().unwrap(), per, fill);
        if fill == Fill::OneNan {
            // One NaN in the first, a middle or the last plane only.
            nan_in_one_plane(&mut x, per, [0, planes / 2, planes - 1][rng.below(3)]);
        }
        check(
            &format!("case {case} {fill:?}"),
            pool.sequential(),
            shape,
            &x,
        );
        for tier in tiers() {
            let plan = Plan::<f32>::new(&pool.tier(tier), TensorDesc::nchw(1, planes, h, w));
            runs += 1;
            compact += usize::from(plan.unwrap().kernel().algorithm == "nchw-s1-compact");
        }
    }
    let masked = tiers().contains(&Tier::Avx512);
    println!("compact-plane scheme ran in {compact} of {runs} vector-tier runs");
    assert!(!masked || compact > 0, "the compact-plane scheme never ran");
    assert!(
        masked || compact == 0,
        "compact-plane scheme on a tier without masked steps"
    );
    // Taller planes: parallel calls split them into row-block jobs (rows not starting at 0).
    let threads = four_threads();
    // With windows of 8 rows or more (the vertical doubling, which rewrites the top padding
    // rows of its array) as well.
    let tall_wide = [(13, 6, 150, 20), (9, 4, 120, 16), (16, 7, 90, 17)];
    for (k, p, h, w) in TALL_SAME.into_iter().chain(tall_wide) {
        let pool = Pool2d::max(k)
            .stride(1)
            .padding([p, p, k - 1 - p, k - 1 - p]);
        let shape = Shape::new(1, 3, h, w);
        let x = values(&mut rng, shape.numel().unwrap(), h * w, Fill::Ties);
        threads.install(|| check("tall", pool, shape, &x));
    }
}

/// The compact-plane scheme's vertical pass at every height up to 16 (strips for 2, 3 and 5
/// rows, runs in blocks of `kh` rows for the others): planes narrower than a vector, one wide
/// and wider (strips that overlap), output row counts that end a block early, on time and one
/// row late, and several planes.
#[test]
fn compact_plane_every_height() {
    let mut rng = Rng(0x4e16);
    let mut compact = 0;
    for kh in 1..=16 {
        for (kw, w) in [(1, 16), (3, 5), (9, 20), (5, 37)] {
            for h in [kh - 1, kh, kh + 1, 2 * kh + 3, 3 * kh - 1] {
                if h == 0 {
                    continue;
                }
                let (pt, pl) = (kh / 2, (kw - 1) / 2);
                let pool =
                    Pool2d::max((kh, kw))
                        .stride(1)
                        .padding([pt, pl, kh - 1 - pt, kw - 1 - pl]);
                let shape = Shape::new(1, 3, h, w);
                for fill in [Fill::Ties, Fill::OneNan] {
                    let x = values(&mut rng, 3 * h * w, h * w, fill);
                    check(&format!("kh {kh} {fill:?}"), pool.sequential(), shape, &x);
                }
                if tiers().contains(&Tier::Avx512) {
                    let plan =
                        Plan::<f32>::new(&pool.tier(Tier::Avx512), TensorDesc::nchw(1, 3, h, w));
                    compact += usize::from(plan.unwrap().kernel().algorithm == "nchw-s1-compact");
                }
            }
        }
    }
    println!("compact-plane scheme (AVX-512) ran in {compact} cases");
    assert!(
        !tiers().contains(&Tier::Avx512) || compact > 200,
        "the compact-plane scheme ran in {compact} cases only"
    );
}

/// The pair scheme (2×2 stride-2 windows on rows of up to half a vector, values only): all
/// planes as one run when `ih = 2·oh`, one run per plane when a last input row is left over,
/// chunks of many planes, NaN in one plane, and row-block jobs of a tall plane (parallel).
#[test]
fn pair_scheme() {
    let mut rng = Rng(0x9a1e_5c0d);
    let mut pairs = 0;
    for case in 0..200 {
        let (oh, ow) = (1 + rng.below(12), 1 + rng.below(8));
        let ih = 2 * oh + rng.below(2);
        let planes = 1 + rng.below(if case % 4 == 0 { 80 } else { 8 });
        let shape = Shape::new(1 + rng.below(2), planes, ih, 2 * ow);
        let ceil = rng.below(2) == 0;
        let pool = Pool2d::max(2).stride(2).ceil_mode(ceil);
        let fill = [Fill::Ties, Fill::Specials, Fill::OneNan][case % 3];
        let per = ih * 2 * ow;
        let mut x = values(&mut rng, shape.numel().unwrap(), per, fill);
        if fill == Fill::OneNan {
            // The NaN in one plane only, so that the other chunks take the fast path.
            nan_in_one_plane(&mut x, per, rng.below(shape.n * planes));
        }
        check(
            &format!("case {case} {fill:?}"),
            pool.sequential(),
            shape,
            &x,
        );
        for tier in tiers() {
            let plan = Plan::<f32>::new(&pool.tier(tier), TensorDesc::nchw(1, planes, ih, 2 * ow))
                .unwrap();
            let algo = plan.kernel().algorithm;
            // Every vector tier has at least 4 lanes: rows of 1 or 2 outputs always fit, unless
            // ceil mode adds a window of the odd last row.
            let fits = ow <= 2 && (ih.is_multiple_of(2) || !ceil);
            assert!(!fits || algo == "nchw-s2-pairs", "{tier:?} ow {ow}: {algo}");
            pairs += usize::from(algo == "nchw-s2-pairs");
        }
    }
    assert!(pairs > 0);
    // A tall plane: parallel calls split it into row blocks (one run each).
    for ow in [1, 3, 8] {
        let shape = Shape::new(1, 2, 20_001, 2 * ow);
        let x = values(
            &mut rng,
            shape.numel().unwrap(),
            20_001 * 2 * ow,
            Fill::Ties,
        );
        check("tall", Pool2d::max(2).stride(2), shape, &x);
    }
}

/// The column-pair scheme (windows two columns wide at stride 2 without left padding, every
/// window inside its row; values only): random heights, vertical strides, dilations, top and
/// bottom padding, right padding (eligible only where no window reaches it), ceil mode,
/// widths below, at and above a vector (narrow rows read past their end), one to 40 planes;
/// ties, specials and one NaN per plane (a run that sees a NaN is redone with the exact
/// step), equal-bin adaptive max; then tall planes in row-block jobs on a 4-thread pool.
#[test]
fn pair_rows_scheme() {
    let mut rng = Rng(0x9a1e_5c0e);
    let (mut ran, mut runs) = (0, 0);
    for case in 0..300 {
        let kh = 1 + rng.below(4);
        let (sh, dh) = (1 + rng.below(3), 1 + rng.below(2));
        let (pt, pb) = (rng.below(kh / 2 + 1), rng.below(kh / 2 + 1));
        let planes = 1 + rng.below(if case % 5 == 0 { 40 } else { 6 });
        let shape = Shape::new(1, planes, 1 + rng.below(30), 1 + rng.below(70));
        let pool = if case % 10 == 9 {
            let ow = 1 + rng.below(35);
            let shape = Shape::new(1, planes, shape.h, 2 * ow);
            (Pool2d::adaptive_max((1 + rng.below(shape.h), ow)), shape)
        } else {
            let pool = Pool2d::max((kh, 2))
                .stride((sh, 2))
                .dilation((dh, 1))
                .padding([pt, 0, pb, rng.below(2)])
                .ceil_mode(rng.below(2) == 0);
            (pool, shape)
        };
        let (pool, shape) = pool;
        if pool.output_shape(shape).is_err() {
            continue;
        }
        let fill = [Fill::Ties, Fill::Specials, Fill::OneNan][case % 3];
        let per = shape.h * shape.w;
        let mut x = values(&mut rng, shape.numel().unwrap(), per, fill);
        if fill == Fill::OneNan {
            // The NaN in one plane only, so that the other runs take the fast step.
            nan_in_one_plane(&mut x, per, rng.below(planes));
        }
        check(
            &format!("case {case} {fill:?}"),
            pool.sequential(),
            shape,
            &x,
        );
        for tier in tiers() {
            let plan = Plan::<f32>::new(
                &pool.tier(tier),
                TensorDesc::nchw(1, planes, shape.h, shape.w),
            );
            runs += 1;
            ran += usize::from(plan.unwrap().kernel().algorithm == "nchw-s2-pair-rows");
        }
    }
    println!("column-pair scheme ran in {ran} of {runs} vector-tier runs");
    assert!(
        ran > runs / 4,
        "the column-pair scheme ran in {ran} of {runs} runs"
    );
    let threads = four_threads();
    for (h, w) in [(120, 56), (97, 28), (64, 19)] {
        let shape = Shape::new(1, 2, h, w);
        let x = values(&mut rng, shape.numel().unwrap(), h * w, Fill::OneNan);
        threads.install(|| check("tall", Pool2d::max(2).stride(2), shape, &x));
    }
}

/// The algorithm names `describe` reports for the key geometries.
#[test]
fn algorithms() {
    let cases = [
        (Pool2d::max(3).stride(2).padding(1), 112, "nchw-s2-shift"),
        (Pool2d::max(3).stride(2).padding(1), 111, "nchw-s2-shift"),
        (
            Pool2d::max(3).stride(2).ceil_mode(true),
            55,
            "nchw-s2-shift",
        ),
        (Pool2d::max(3).stride(2), 13, "nchw-s2-shift"),
        (Pool2d::max(2).stride(2), 224, "nchw-s2-pair-rows"),
        (Pool2d::max(2).stride(2), 28, "nchw-s2-pair-rows"),
        (Pool2d::max(4).stride(2), 28, "nchw-s2-deinterleave"),
        (Pool2d::max(2).stride(2), 4, "nchw-s2-pairs"),
        (Pool2d::max(3).stride(1).padding(1), 20, "nchw-s1-padded"),
        (Pool2d::max(5).stride(1).padding(2), 20, "nchw-s1-padded"),
        (Pool2d::max(7).stride(1).padding(3), 20, "nchw-s1-padded"),
        (Pool2d::max(13).stride(1).padding(6), 20, "padded-wide"),
        (
            Pool2d::max((7, 3)).stride(1).padding((3, 1)),
            20,
            "nchw-s1-vanherk",
        ),
        (Pool2d::max(13).stride(1).padding(6), 80, "nchw-s1-vanherk"),
        (Pool2d::max(3).stride(3), 30, "nchw-strided"),
        (Pool2d::max(3).stride(2).dilation(2), 30, "nchw-strided"),
        (Pool2d::adaptive_max(7), 30, "nchw-adaptive"),
        (Pool2d::adaptive_max(15), 30, "nchw-s2-pair-rows"),
    ];
    for tier in tiers() {
        for (pool, s, want) in cases {
            let plan = Plan::<f32>::new(&pool.tier(tier), TensorDesc::nchw(1, 1, s, s)).unwrap();
            // Tiers with masked steps run rows as wide as the input's as flat planes.
            // Windows of six rows or more take the padded-plane scheme where its vertical runs
            // pay, but not windows 3 wide (fixed-width code) nor, on 4-lane tiers, windows
            // of 8 columns or more (van Herk's rows beat its horizontal doubling there).
            let four = matches!(tier, Tier::Sse2 | Tier::Neon | Tier::Portable);
            let want = match want {
                "nchw-s1-padded" | "padded-wide" if tier == Tier::Avx512 => "nchw-s1-compact",
                "nchw-s1-vanherk" if tier == Tier::Avx512 && s == 20 => "nchw-s1-compact",
                "padded-wide" if four => "nchw-s1-vanherk",
                "padded-wide" => "nchw-s1-padded",
                w => w,
            };
            assert_eq!(plan.kernel().algorithm, want, "{tier:?} {pool:?}");
        }
    }
}

/// Guard pages: the input (read-only), the output and the indices each end flush against an
/// inaccessible page, or start right after one, so any read or write outside them faults.
#[cfg(unix)]
mod guard {
    use super::*;

    /// `len` elements inside `[PROT_NONE page][data pages][PROT_NONE page]`, flush against the
    /// end (`end`) or the start of the data pages; unmapped when dropped.
    struct Guarded<T> {
        base: *mut libc::c_void,
        total: usize,
        ptr: *mut T,
        len: usize,
    }

    fn page() -> usize {
        // SAFETY: sysconf has no preconditions.
        unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
    }

    impl<T: Copy> Guarded<T> {
        fn new(len: usize, end: bool, fill: T) -> Self {
            let pg = page();
            let bytes = len * size_of::<T>();
            let data_bytes = bytes.div_ceil(pg).max(1) * pg;
            let total = data_bytes + 2 * pg;
            // SAFETY: a fresh private anonymous mapping; only its data pages are made
            // accessible, and ptr .. ptr + len lies inside them.
            unsafe {
                let base = libc::mmap(
                    core::ptr::null_mut(),
                    total,
                    libc::PROT_NONE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                assert_ne!(base, libc::MAP_FAILED);
                let data = base.cast::<u8>().add(pg);
                let rw = libc::PROT_READ | libc::PROT_WRITE;
                assert_eq!(libc::mprotect(data.cast(), data_bytes, rw), 0);
                let ptr = data
                    .add(if end { data_bytes - bytes } else { 0 })
                    .cast::<T>();
                core::slice::from_raw_parts_mut(ptr, len).fill(fill);
                Guarded {
                    base,
                    total,
                    ptr,
                    len,
                }
            }
        }

        fn slice(&mut self) -> &mut [T] {
            // SAFETY: ptr .. ptr + len is mapped read-write for the life of self.
            unsafe { core::slice::from_raw_parts_mut(self.ptr, self.len) }
        }

        /// Makes the data pages read-only.
        fn protect(&mut self) -> &[T] {
            let pg = page();
            // SAFETY: the data pages follow the first page of the mapping.
            unsafe {
                let data = self.base.cast::<u8>().add(pg);
                let rc = libc::mprotect(data.cast(), self.total - 2 * pg, libc::PROT_READ);
                assert_eq!(rc, 0);
                core::slice::from_raw_parts(self.ptr, self.len)
            }
        }
    }

    impl<T> Drop for Guarded<T> {
        fn drop(&mut self) {
            // SAFETY: base .. base + total is the mapping made in new.
            unsafe { libc::munmap(self.base, self.total) };
        }
    }

    fn bits(y: &[f32]) -> Vec<u32> {
        y.iter().map(|v| v.to_bits()).collect()
    }

    #[test]
    fn reads_and_writes_stay_inside_the_buffers() {
        let mut rng = Rng(10);
        let pools = [
            Pool2d::max(1).stride(1),
            Pool2d::max(2).stride(1).padding(1),
            Pool2d::max(3).stride(1).padding(1),
            Pool2d::max(5).stride(1).padding(2),
            Pool2d::max(13).stride(1).padding(6),
            Pool2d::max(7).stride(1).padding(3).dilation(2),
            Pool2d::max(1).stride(2),
            Pool2d::max(2).stride(2),
            Pool2d::max(3).stride(2).padding(1),
            Pool2d::max(3).stride(2).ceil_mode(true),
            Pool2d::max(5).stride(2).padding(2),
            Pool2d::max(3).stride(3).padding(1),
            Pool2d::max(2).stride(2).dilation(2),
            Pool2d::max(3).stride(2).padding_same(SameMode::Lower),
            Pool2d::adaptive_max((3, 5)),
            Pool2d::adaptive_max((2, 1)),
        ];
        for pool in pools {
            for w in 1..=40 {
                for h in [1, 3, 8, 15] {
                    let shape = Shape::new(1, 2, h, w);
                    let Ok(os) = pool.output_shape(shape) else {
                        continue;
                    };
                    let (n, on) = (2 * h * w, 2 * os.h * os.w);
                    let x = values(&mut rng, n, h * w, Fill::Specials);
                    let desc = TensorDesc::nchw(1, 2, h, w);
                    let odesc = TensorDesc::nchw(1, 2, os.h, os.w);
                    let mut want = vec![0.0f32; on];
                    let mut want_idx = vec![0u32; on];
                    reference::pool2d(&pool, &desc, &x, &odesc, &mut want, Some(&mut want_idx))
                        .unwrap();
                    let want = bits(&want);
                    for tier in tiers() {
                        let plan = Plan::<f32>::new(&pool.tier(tier).sequential(), desc).unwrap();
                        for end in [true, false] {
                            let ctx = format!("{tier:?} {pool:?} {shape} flush at end: {end}");
                            let mut gx = Guarded::new(n, end, 0.0f32);
                            gx.slice().copy_from_slice(&x);
                            let gx = gx.protect();
                            let mut gy = Guarded::new(on, end, 0.0f32);
                            let mut gi = Guarded::new(on, end, 0u32);
                            plan.run_with_indices(gx, gy.slice(), gi.slice()).unwrap();
                            assert_eq!(bits(gy.slice()), want, "{ctx}");
                            assert_eq!(gi.slice(), &want_idx[..], "{ctx}");
                            let mut gy = Guarded::new(on, end, 0.0f32);
                            plan.run(gx, gy.slice()).unwrap();
                            assert_eq!(bits(gy.slice()), want, "{ctx} (values only)");
                        }
                    }
                }
            }
        }
    }
}

/// One NaN at every position of a plane in turn (the other elements distinct): a block's
/// windows read the first columns of the next block, and narrow rows read into the next row,
/// so a NaN must reach exactly the windows that hold it whatever block or row loaded it.
#[test]
fn nan_at_every_position() {
    let pools = [
        Pool2d::max(3).stride(2).padding(1),
        Pool2d::max(3).stride(2).ceil_mode(true),
        Pool2d::max(2).stride(2),
        Pool2d::max(3).stride(1).padding(1),
    ];
    for pool in pools {
        for (h, w) in [(5, 11), (4, 14), (5, 35), (3, 67), (4, 34)] {
            let shape = Shape::new(1, 2, h, w);
            let plane = h * w;
            let base: Vec<f32> = (0..2 * plane)
                .map(|i| ((i * 37) % 101) as f32 - 50.0)
                .collect();
            for at in 0..plane {
                let mut x = base.clone();
                x[plane + at] = f32::NAN;
                check(&format!("NaN at {at}"), pool.sequential(), shape, &x);
            }
        }
    }
}
