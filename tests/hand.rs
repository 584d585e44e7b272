//! Hand-checked cases, each worked out on paper, for every operation and parameter. Every case
//! runs on every supported tier, in NCHW and NHWC, and is also compared with the reference.
//!
//! Expected averages are written as the f32 division the rules prescribe (`sum / divisor`,
//! the sum exact for these small integers), so they are exact.

mod common;

use common::*;
use nnpool::{Error, Layout, Plan, Pool2d, PoolOp, SameMode, Shape, TensorDesc, Tier, reference};

const NEG_ZERO: u32 = 0x8000_0000;
const NO_INDEX: u32 = u32::MAX;

fn seq(n: usize) -> Vec<f32> {
    (1..=n).map(|v| v as f32).collect()
}

/// Runs `pool` on an NCHW input on every tier and both layouts, checks each against
/// `want` (NCHW order, bit for bit) and `want_idx` (for max pooling), and against the
/// reference.
#[track_caller]
fn expect(
    ctx: &str,
    pool: Pool2d,
    shape: Shape,
    x: &[f32],
    want: &[f32],
    want_idx: Option<&[u32]>,
) {
    let os = pool
        .output_shape(shape)
        .unwrap_or_else(|e| panic!("{ctx}: output_shape: {e}"));
    assert_eq!(os.numel().unwrap(), want.len(), "{ctx}: output size {os}");
    assert_eq!(
        pool.op().has_indices(),
        want_idx.is_some(),
        "{ctx}: indices expected iff the op has them"
    );
    // check_all compares every tier and layout with the reference and NHWC with NCHW.
    let r = check_all(ctx, &pool, shape, x);
    assert_values(
        &format!("{ctx} (hand values)"),
        r.avg,
        os,
        Layout::Nchw,
        &r.y,
        want,
    );
    if let Some(wi) = want_idx {
        assert_idx(
            &format!("{ctx} (hand indices)"),
            os,
            Layout::Nchw,
            r.idx.as_ref().unwrap(),
            wi,
        );
    }
}

fn one_plane(h: usize, w: usize) -> Shape {
    Shape::new(1, 1, h, w)
}

fn div(sums: &[f32], divisors: &[f32]) -> Vec<f32> {
    sums.iter().zip(divisors).map(|(s, d)| s / d).collect()
}

#[test]
fn textbook_4x4() {
    let x = seq(16);
    let s = one_plane(4, 4);
    expect(
        "max k2 s2",
        Pool2d::max(2),
        s,
        &x,
        &[6.0, 8.0, 14.0, 16.0],
        Some(&[5, 7, 13, 15]),
    );
    expect(
        "avg k2 s2",
        Pool2d::avg(2),
        s,
        &x,
        &[3.5, 5.5, 11.5, 13.5],
        None,
    );
    expect("global avg", Pool2d::global_avg(), s, &x, &[8.5], None);
    expect("global max", Pool2d::global_max(), s, &x, &[16.0], None);
    expect(
        "adaptive max 2x2",
        Pool2d::adaptive_max(2),
        s,
        &x,
        &[6.0, 8.0, 14.0, 16.0],
        Some(&[5, 7, 13, 15]),
    );
    expect(
        "adaptive avg 2x2",
        Pool2d::adaptive_avg(2),
        s,
        &x,
        &[3.5, 5.5, 11.5, 13.5],
        None,
    );
    // Several planes and images: each plane p holds 1..16 + 100·p.
    let s = Shape::new(2, 3, 4, 4);
    let x: Vec<f32> = (0..6)
        .flat_map(|p| (1..=16).map(move |v| (v + 100 * p) as f32))
        .collect();
    let want: Vec<f32> = (0..6)
        .flat_map(|p| [6, 8, 14, 16].map(|v| (v + 100 * p) as f32))
        .collect();
    let idx: Vec<u32> = (0..6).flat_map(|_| [5, 7, 13, 15]).collect();
    expect(
        "2x3 planes max k2 s2",
        Pool2d::max(2),
        s,
        &x,
        &want,
        Some(&idx),
    );
}

#[test]
fn padding() {
    // 3×3 plane 1..9, 3×3 windows, stride 1, padding 1: every window is clipped except the
    // centre.
    let x = seq(9);
    let s = one_plane(3, 3);
    expect(
        "max k3 s1 p1",
        Pool2d::max(3).stride(1).padding(1),
        s,
        &x,
        &[5.0, 6.0, 6.0, 8.0, 9.0, 9.0, 8.0, 9.0, 9.0],
        Some(&[4, 5, 5, 7, 8, 8, 7, 8, 8]),
    );
    let sums = [12.0, 21.0, 16.0, 27.0, 45.0, 33.0, 24.0, 39.0, 28.0];
    expect(
        "avg k3 s1 p1 count_include_pad",
        Pool2d::avg(3).stride(1).padding(1),
        s,
        &x,
        &div(&sums, &[9.0; 9]),
        None,
    );
    expect(
        "avg k3 s1 p1 exclude pad",
        Pool2d::avg(3).stride(1).padding(1).count_include_pad(false),
        s,
        &x,
        &div(&sums, &[4.0, 6.0, 4.0, 6.0, 9.0, 6.0, 4.0, 6.0, 4.0]),
        None,
    );
    // Padding never wins a max, even over negative values: −x.
    let neg: Vec<f32> = x.iter().map(|v| -v).collect();
    expect(
        "max of negatives k3 s1 p1",
        Pool2d::max(3).stride(1).padding(1),
        s,
        &neg,
        &[-1.0, -1.0, -2.0, -1.0, -1.0, -2.0, -4.0, -4.0, -5.0],
        Some(&[0, 0, 1, 0, 0, 1, 3, 3, 4]),
    );
    // Asymmetric explicit padding [top, left, bottom, right] = [1, 0, 0, 1], 2×2 windows,
    // stride 2 over 1..9: windows rows {-1,0}, {1,2}; cols {0,1}, {2,3}.
    expect(
        "max k2 s2 pad [1,0,0,1]",
        Pool2d::max(2).padding([1, 0, 0, 1]),
        s,
        &x,
        &[2.0, 3.0, 8.0, 9.0],
        Some(&[1, 2, 7, 8]),
    );
    expect(
        "avg k2 s2 pad [1,0,0,1]",
        Pool2d::avg(2).padding([1, 0, 0, 1]),
        s,
        &x,
        &div(&[3.0, 3.0, 24.0, 15.0], &[4.0; 4]),
        None,
    );
    expect(
        "avg k2 s2 pad [1,0,0,1] exclude pad",
        Pool2d::avg(2)
            .padding([1, 0, 0, 1])
            .count_include_pad(false),
        s,
        &x,
        &div(&[3.0, 3.0, 24.0, 15.0], &[2.0, 1.0, 4.0, 2.0]),
        None,
    );
}

#[test]
fn dilation() {
    // 5×5, values 24 down to 0: the first tap of each window is its maximum.
    let x: Vec<f32> = (0..25).map(|v| (24 - v) as f32).collect();
    let s = one_plane(5, 5);
    // k2 d2 s1: taps (h, h+2) × (w, w+2), output 3×3.
    expect(
        "max k2 d2 decreasing",
        Pool2d::max(2).stride(1).dilation(2),
        s,
        &x,
        &[24.0, 23.0, 22.0, 19.0, 18.0, 17.0, 14.0, 13.0, 12.0],
        Some(&[0, 1, 2, 5, 6, 7, 10, 11, 12]),
    );
    // Increasing values: the last tap (h+2, w+2) wins.
    let x: Vec<f32> = (0..25).map(|v| v as f32).collect();
    expect(
        "max k2 d2 increasing",
        Pool2d::max(2).stride(1).dilation(2),
        s,
        &x,
        &[12.0, 13.0, 14.0, 17.0, 18.0, 19.0, 22.0, 23.0, 24.0],
        Some(&[12, 13, 14, 17, 18, 19, 22, 23, 24]),
    );
    // Different dilations per axis with padding: k2, dilation (1, 3), padding (0, 1), stride 1
    // over a 2×5 plane 1..10: output 1×4, column taps {-1,2}, {0,3}, {1,4}, {2,5}.
    expect(
        "max k2 d(1,3) p(0,1)",
        Pool2d::max(2).stride(1).dilation((1, 3)).padding((0, 1)),
        one_plane(2, 5),
        &seq(10),
        &[8.0, 9.0, 10.0, 8.0],
        Some(&[7, 8, 9, 7]),
    );
}

#[test]
fn ceil_mode() {
    // A 1×5 row, (1, 2) windows, stride 2.
    let x = seq(5);
    let s = one_plane(1, 5);
    let k = || Pool2d::max((1, 2));
    expect("max floor", k(), s, &x, &[2.0, 4.0], Some(&[1, 3]));
    expect(
        "max ceil",
        k().ceil_mode(true),
        s,
        &x,
        &[2.0, 4.0, 5.0],
        Some(&[1, 3, 4]),
    );
    let a = || Pool2d::avg((1, 2));
    expect("avg floor", a(), s, &x, &[1.5, 3.5], None);
    // The last window [4, 6) is clipped to the padded extent [0, 5): divisor 1.
    expect(
        "avg ceil",
        a().ceil_mode(true),
        s,
        &x,
        &[1.5, 3.5, 5.0],
        None,
    );
    expect(
        "avg ceil exclude pad",
        a().ceil_mode(true).count_include_pad(false),
        s,
        &x,
        &[1.5, 3.5, 5.0],
        None,
    );
    // The dropped last window: L = 5, k = 2, s = 2, p = 1. The formula gives 4 windows in ceil
    // mode, but the 4th would start at 3·2 − 1 = 5 = L, entirely in the right padding, so it
    // is dropped: 3 windows starting at −1, 1, 3, as in floor mode.
    let kp = |ceil| Pool2d::max((1, 2)).padding((0, 1)).ceil_mode(ceil);
    for ceil in [false, true] {
        expect(
            &format!("max k2 s2 p1 ceil={ceil} (last window dropped)"),
            kp(ceil),
            s,
            &x,
            &[1.0, 3.0, 5.0],
            Some(&[0, 2, 4]),
        );
        expect(
            &format!("avg k2 s2 p1 ceil={ceil}"),
            Pool2d::avg((1, 2)).padding((0, 1)).ceil_mode(ceil),
            s,
            &x,
            &[0.5, 2.5, 4.5],
            None,
        );
    }
    // Ceil-mode overhang divisors (FINDINGS §5): ones 4×4, k3 s2 p1 ceil → 3×3. Window starts
    // −1, 1, 3 per axis; the padded extent is [−1, 5), so the last window [3, 6) counts 2.
    let ones = vec![1.0f32; 16];
    let s4 = one_plane(4, 4);
    let p = || Pool2d::avg(3).stride(2).padding(1).ceil_mode(true);
    let sums = [4.0, 6.0, 2.0, 6.0, 9.0, 3.0, 2.0, 3.0, 1.0];
    expect(
        "ceil overhang divisors, count_include_pad",
        p(),
        s4,
        &ones,
        &div(&sums, &[9.0, 9.0, 6.0, 9.0, 9.0, 6.0, 6.0, 6.0, 4.0]),
        None,
    );
    expect(
        "ceil overhang, exclude pad",
        p().count_include_pad(false),
        s4,
        &ones,
        &[1.0; 9],
        None,
    );
    // Ceil without padding, L = 5, k2 s2: the last window [4, 6) is clipped to [0, 5), divisor
    // 1 per axis even with count_include_pad.
    let x25 = seq(25);
    expect(
        "avg k2 s2 ceil 5x5",
        Pool2d::avg(2).ceil_mode(true),
        one_plane(5, 5),
        &x25,
        &div(
            &[16.0, 24.0, 15.0, 56.0, 64.0, 35.0, 43.0, 47.0, 25.0],
            &[4.0, 4.0, 2.0, 4.0, 4.0, 2.0, 2.0, 2.0, 1.0],
        ),
        None,
    );
}

#[test]
fn divisor_override() {
    let ones = vec![1.0f32; 16];
    let s = one_plane(4, 4);
    expect(
        "override 3",
        Pool2d::avg(2).divisor_override(3),
        s,
        &ones,
        &[4.0 / 3.0; 4],
        None,
    );
    // The override replaces both divisor rules, with or without count_include_pad.
    for cip in [true, false] {
        expect(
            &format!("override 5 k3 s2 p1 cip={cip}"),
            Pool2d::avg(3)
                .stride(2)
                .padding(1)
                .divisor_override(5)
                .count_include_pad(cip),
            s,
            &seq(16),
            &div(&[14.0, 30.0, 57.0, 99.0], &[5.0; 4]),
            None,
        );
    }
    // Override 1 gives the window sums.
    expect(
        "override 1",
        Pool2d::avg(2).stride(1).divisor_override(1),
        one_plane(2, 3),
        &seq(6),
        &[12.0, 16.0],
        None,
    );
}

#[test]
fn adaptive_bins() {
    // 5 → 3 bins: [0,2), [1,4), [3,5) (they overlap and do not divide evenly).
    let x = seq(5);
    expect(
        "adaptive max 1x5 → 1x3",
        Pool2d::adaptive_max((1, 3)),
        one_plane(1, 5),
        &x,
        &[2.0, 4.0, 5.0],
        Some(&[1, 3, 4]),
    );
    expect(
        "adaptive avg 1x5 → 1x3",
        Pool2d::adaptive_avg((1, 3)),
        one_plane(1, 5),
        &x,
        &[1.5, 3.0, 4.5],
        None,
    );
    expect(
        "adaptive max 5x1 → 3x1",
        Pool2d::adaptive_max((3, 1)),
        one_plane(5, 1),
        &x,
        &[2.0, 4.0, 5.0],
        Some(&[1, 3, 4]),
    );
    expect(
        "adaptive avg 5x1 → 3x1",
        Pool2d::adaptive_avg((3, 1)),
        one_plane(5, 1),
        &x,
        &[1.5, 3.0, 4.5],
        None,
    );
    // Output larger than the input: 3 → 5 bins [0,1), [0,2), [1,2), [1,3), [2,3).
    let x = seq(3);
    expect(
        "adaptive max 1x3 → 1x5",
        Pool2d::adaptive_max((1, 5)),
        one_plane(1, 3),
        &x,
        &[1.0, 2.0, 2.0, 3.0, 3.0],
        Some(&[0, 1, 1, 2, 2]),
    );
    expect(
        "adaptive avg 1x3 → 1x5",
        Pool2d::adaptive_avg((1, 5)),
        one_plane(1, 3),
        &x,
        &[1.0, 1.5, 2.0, 2.5, 3.0],
        None,
    );
    // 2-D: 5×5 (1..25) → 3×3; row bins and column bins [0,2), [1,4), [3,5).
    let x = seq(25);
    let bins = [(0usize, 2usize), (1, 4), (3, 5)];
    let mut want_max = Vec::new();
    let mut want_idx = Vec::new();
    let mut want_avg = Vec::new();
    for &(r0, r1) in &bins {
        for &(c0, c1) in &bins {
            let (y, xx) = (r1 - 1, c1 - 1);
            want_max.push((y * 5 + xx + 1) as f32);
            want_idx.push((y * 5 + xx) as u32);
            let mut sum = 0.0f32;
            for y in r0..r1 {
                for xx in c0..c1 {
                    sum += (y * 5 + xx + 1) as f32;
                }
            }
            want_avg.push(sum / ((r1 - r0) * (c1 - c0)) as f32);
        }
    }
    expect(
        "adaptive max 5x5 → 3x3",
        Pool2d::adaptive_max(3),
        one_plane(5, 5),
        &x,
        &want_max,
        Some(&want_idx),
    );
    expect(
        "adaptive avg 5x5 → 3x3",
        Pool2d::adaptive_avg(3),
        one_plane(5, 5),
        &x,
        &want_avg,
        None,
    );
    // Output equal to the input: the identity.
    let x = seq(12);
    let idx: Vec<u32> = (0..12).collect();
    expect(
        "adaptive max identity",
        Pool2d::adaptive_max((3, 4)),
        one_plane(3, 4),
        &x,
        &x,
        Some(&idx),
    );
    expect(
        "adaptive avg identity",
        Pool2d::adaptive_avg((3, 4)),
        one_plane(3, 4),
        &x,
        &x,
        None,
    );
}

#[test]
fn output_larger_than_input() {
    // Window pooling whose output exceeds the input: 2×2 plane [1,2;3,4], k2 s1 p1 → 3×3.
    expect(
        "max k2 s1 p1 2x2 → 3x3",
        Pool2d::max(2).stride(1).padding(1),
        one_plane(2, 2),
        &seq(4),
        &[1.0, 2.0, 2.0, 3.0, 4.0, 4.0, 3.0, 4.0, 4.0],
        Some(&[0, 1, 1, 2, 3, 3, 2, 3, 3]),
    );
    expect(
        "avg k2 s1 p1 2x2 → 3x3 exclude pad",
        Pool2d::avg(2).stride(1).padding(1).count_include_pad(false),
        one_plane(2, 2),
        &seq(4),
        &div(
            &[1.0, 3.0, 2.0, 4.0, 10.0, 6.0, 3.0, 7.0, 4.0],
            &[1.0, 2.0, 1.0, 2.0, 4.0, 2.0, 1.0, 2.0, 1.0],
        ),
        None,
    );
}

#[test]
fn nan_rules() {
    let s = one_plane(2, 2);
    let p2 = f32::from_bits(0x7fc0_0002);
    let p3 = f32::from_bits(0xffc0_0003);
    // Several NaNs: the value and index of the LAST NaN in scan order.
    let x = [1.0, f32::NAN, p2, 4.0];
    let out = check_all("max [1, NaN, NaN2, 4]", &Pool2d::max(2), s, &x);
    assert_eq!(out.y[0].to_bits(), 0x7fc0_0002);
    assert_eq!(out.idx.unwrap(), [2]);
    let x = [f32::from_bits(0x7fc0_0001), 3.0, p2, p3];
    let out = check_all("max payloads", &Pool2d::max(2), s, &x);
    assert_eq!(out.y[0].to_bits(), 0xffc0_0003);
    assert_eq!(out.idx.unwrap(), [3]);
    let out = check_all("global max payloads", &Pool2d::global_max(), s, &x);
    assert_eq!(out.y[0].to_bits(), 0xffc0_0003);
    let out = check_all("adaptive max payloads", &Pool2d::adaptive_max(1), s, &x);
    assert_eq!(out.y[0].to_bits(), 0xffc0_0003);
    assert_eq!(out.idx.unwrap(), [3]);
    // A NaN before a larger value still wins; a NaN first in the window wins.
    let x = [f32::NAN, 5.0, 7.0, 1.0];
    let out = check_all("NaN first", &Pool2d::max(2), s, &x);
    assert!(out.y[0].is_nan());
    assert_eq!(out.idx.unwrap(), [0]);
    // NaN propagates through averages.
    for pool in [
        Pool2d::avg(2),
        Pool2d::global_avg(),
        Pool2d::adaptive_avg(1),
    ] {
        let out = check_all("avg with NaN", &pool, s, &[1.0, f32::NAN, 2.0, 3.0]);
        assert!(out.y[0].is_nan(), "{pool:?}");
    }
    // Only the window holding the NaN is NaN.
    let mut x = seq(16);
    x[10] = f32::NAN;
    expect(
        "NaN in one window",
        Pool2d::max(2),
        one_plane(4, 4),
        &x,
        &[6.0, 8.0, 14.0, f32::NAN],
        Some(&[5, 7, 13, 10]),
    );
}

#[test]
fn infinities() {
    let s = one_plane(2, 2);
    let inf = f32::INFINITY;
    let ninf = f32::NEG_INFINITY;
    expect(
        "max all −inf",
        Pool2d::max(2),
        s,
        &[ninf; 4],
        &[ninf],
        Some(&[0]),
    );
    expect(
        "max first +inf wins",
        Pool2d::max(2),
        s,
        &[1.0, inf, 2.0, inf],
        &[inf],
        Some(&[1]),
    );
    expect(
        "global max −inf",
        Pool2d::global_max(),
        s,
        &[ninf; 4],
        &[ninf],
        None,
    );
    expect(
        "avg +inf",
        Pool2d::avg(2),
        s,
        &[inf, 1.0, 1.0, 1.0],
        &[inf],
        None,
    );
    expect(
        "avg −inf",
        Pool2d::avg(2),
        s,
        &[1.0, ninf, 1.0, 1.0],
        &[ninf],
        None,
    );
    let out = check_all("avg +inf −inf", &Pool2d::avg(2), s, &[inf, ninf, 1.0, 1.0]);
    assert!(out.y[0].is_nan());
    expect(
        "global avg +inf",
        Pool2d::global_avg(),
        s,
        &[inf, 1.0, 1.0, 1.0],
        &[inf],
        None,
    );
    // −inf padding: a window of −inf values over padding reports the first in-bounds tap.
    expect(
        "max −inf with padding",
        Pool2d::max(3).stride(1).padding(1),
        one_plane(3, 3),
        &[ninf; 9],
        &[ninf; 9],
        Some(&[0, 0, 1, 0, 0, 1, 3, 3, 4]),
    );
}

#[test]
fn signed_zero_ties() {
    let s = one_plane(2, 2);
    // The first of tied values wins; +0.0 and −0.0 tie.
    let x = [0.0, -0.0, -0.0, -0.0];
    let out = check_all("max +0 first", &Pool2d::max(2), s, &x);
    assert_eq!((out.y[0].to_bits(), out.idx.unwrap()[0]), (0, 0));
    let x = [-0.0, 0.0, 0.0, 0.0];
    let out = check_all("max −0 first", &Pool2d::max(2), s, &x);
    assert_eq!((out.y[0].to_bits(), out.idx.unwrap()[0]), (NEG_ZERO, 0));
    let out = check_all("global max −0 first", &Pool2d::global_max(), s, &x);
    assert_eq!(out.y[0].to_bits(), NEG_ZERO);
    let out = check_all("adaptive max −0 first", &Pool2d::adaptive_max(1), s, &x);
    assert_eq!((out.y[0].to_bits(), out.idx.unwrap()[0]), (NEG_ZERO, 0));
    // Ties between equal values: the first in row-major order.
    expect(
        "max ties",
        Pool2d::max(2),
        s,
        &[3.0, 7.0, 7.0, 7.0],
        &[7.0],
        Some(&[1]),
    );
    expect(
        "max ties row-major",
        Pool2d::max(2),
        s,
        &[1.0, 2.0, 2.0, 1.0],
        &[2.0],
        Some(&[1]),
    );
    // Ties across a 3-wide window, on the second row.
    expect(
        "max ties 2x3",
        Pool2d::max((2, 3)),
        one_plane(2, 3),
        &[1.0, 0.0, 1.0, 5.0, 2.0, 5.0],
        &[5.0],
        Some(&[3]),
    );
}

#[test]
fn zero_averages() {
    let s = one_plane(2, 2);
    // An all −0.0 window averages to +0.0 (the sum starts at +0.0).
    for pool in [
        Pool2d::avg(2),
        Pool2d::avg(2).count_include_pad(false),
        Pool2d::adaptive_avg(1),
        Pool2d::global_avg(),
    ] {
        let out = check_all("all −0 average", &pool, s, &[-0.0; 4]);
        assert_eq!(out.y[0].to_bits(), 0, "{pool:?}");
    }
    // A negative sum that underflows to −0.0 in the division stays −0.0 (IEEE), in both
    // layouts (PyTorch's NCHW kernel would give +0.0).
    let x = [f32::from_bits(0x8000_0001), 0.0, 0.0, 0.0];
    let out = check_all("−denorm / 4", &Pool2d::avg(2), s, &x);
    assert_eq!(out.y[0].to_bits(), NEG_ZERO);
}

#[test]
fn overflow_to_infinity() {
    let s = one_plane(2, 2);
    for pool in [
        Pool2d::avg(2),
        Pool2d::adaptive_avg(1),
        Pool2d::global_avg(),
    ] {
        let out = check_all("four 1e38", &pool, s, &[1e38; 4]);
        assert_eq!(out.y[0], f32::INFINITY, "{pool:?}");
        let out = check_all("four −1e38", &pool, s, &[-1e38; 4]);
        assert_eq!(out.y[0], f32::NEG_INFINITY, "{pool:?}");
    }
    // f32::MAX is a plain maximum.
    expect(
        "max of MAX",
        Pool2d::max(2),
        s,
        &[f32::MAX, 1.0, f32::MAX, 0.0],
        &[f32::MAX],
        Some(&[0]),
    );
}

#[test]
fn denormals_preserved() {
    let s = one_plane(2, 2);
    let d = |b: u32| f32::from_bits(b);
    expect(
        "max of denormals",
        Pool2d::max(2),
        s,
        &[d(1), d(0x7f_ffff), d(3), 0.0],
        &[d(0x7f_ffff)],
        Some(&[1]),
    );
    expect(
        "avg of four 0x1",
        Pool2d::avg(2),
        s,
        &[d(1); 4],
        &[d(1)],
        None,
    );
    // 3·2⁻¹⁴⁹ / 4 = 0.75 ulp rounds to 1 ulp.
    expect(
        "avg [0x3,0,0,0]",
        Pool2d::avg(2),
        s,
        &[d(3), 0.0, 0.0, 0.0],
        &[d(1)],
        None,
    );
    expect(
        "global avg of four 0x1",
        Pool2d::global_avg(),
        s,
        &[d(1); 4],
        &[d(1)],
        None,
    );
    expect(
        "adaptive avg of four 0x1",
        Pool2d::adaptive_avg(1),
        s,
        &[d(1); 4],
        &[d(1)],
        None,
    );
    // k1: the identity on the bits.
    let x = [d(1), d(0x8000_0005), d(0x40_0000), d(0x7f_ffff)];
    expect(
        "max k1 identity",
        Pool2d::max(1),
        s,
        &x,
        &x,
        Some(&[0, 1, 2, 3]),
    );
    expect("avg k1 identity", Pool2d::avg(1), s, &x, &x, None);
}

#[test]
fn window_entirely_in_padding() {
    // 1×1 input, k2 s1 p1 d2: the only window's taps are −1 and 1, both outside.
    expect(
        "1x1 k2 p1 d2",
        Pool2d::max(2).stride(1).padding(1).dilation(2),
        one_plane(1, 1),
        &[5.0],
        &[f32::NEG_INFINITY],
        Some(&[NO_INDEX]),
    );
    // 2×3, k2 p1 d3: row taps −1 and 2 are both outside the 2 rows.
    expect(
        "2x3 k2 p1 d3",
        Pool2d::max(2).stride(1).padding(1).dilation(3),
        one_plane(2, 3),
        &seq(6),
        &[f32::NEG_INFINITY; 2],
        Some(&[NO_INDEX; 2]),
    );
    // 3×2, k(1,2) p(0,1) d(1,3): column taps −1 and 2 are outside; PyTorch reports indices
    // 2, 4, 6 (aliasing real elements), nnpool u32::MAX.
    expect(
        "3x2 k(1,2) p(0,1) d(1,3)",
        Pool2d::max((1, 2))
            .stride(1)
            .padding((0, 1))
            .dilation((1, 3)),
        one_plane(3, 2),
        &seq(6),
        &[f32::NEG_INFINITY; 3],
        Some(&[NO_INDEX; 3]),
    );
}

#[test]
fn same_padding() {
    let x = seq(16);
    let s = one_plane(4, 4);
    // SAME_UPPER, k3 s2 on 4: output 2, total padding 1, at the end: windows [0,3), [2,5).
    let up = || Pool2d::max(3).stride(2).padding_same(SameMode::Upper);
    expect(
        "max SAME_UPPER",
        up(),
        s,
        &x,
        &[11.0, 12.0, 15.0, 16.0],
        Some(&[10, 11, 14, 15]),
    );
    // SAME_LOWER: the padding at the start: windows [−1,2), [1,4).
    let lo = || Pool2d::max(3).stride(2).padding_same(SameMode::Lower);
    expect(
        "max SAME_LOWER",
        lo(),
        s,
        &x,
        &[6.0, 8.0, 14.0, 16.0],
        Some(&[5, 7, 13, 15]),
    );
    // Averages: with count_include_pad the padded extent is [0, 5) (upper), so the last window
    // [2, 5) counts 3 per axis.
    let sums_up = [54.0, 45.0, 72.0, 54.0];
    expect(
        "avg SAME_UPPER",
        Pool2d::avg(3).stride(2).padding_same(SameMode::Upper),
        s,
        &x,
        &div(&sums_up, &[9.0; 4]),
        None,
    );
    expect(
        "avg SAME_UPPER exclude pad",
        Pool2d::avg(3)
            .stride(2)
            .padding_same(SameMode::Upper)
            .count_include_pad(false),
        s,
        &x,
        &div(&sums_up, &[9.0, 6.0, 6.0, 4.0]),
        None,
    );
    let sums_lo = [14.0, 30.0, 57.0, 99.0];
    expect(
        "avg SAME_LOWER exclude pad",
        Pool2d::avg(3)
            .stride(2)
            .padding_same(SameMode::Lower)
            .count_include_pad(false),
        s,
        &x,
        &div(&sums_lo, &[4.0, 6.0, 6.0, 9.0]),
        None,
    );
    // Stride 1 keeps the size: 4 → 4, k3 total padding 2 split 1/1.
    let p = Pool2d::max(3).stride(1).padding_same(SameMode::Upper);
    assert_eq!(p.output_shape(s).unwrap(), s);
    // SAME with dilation may need more padding than half the kernel; a window may fall
    // entirely into it: L = 1, k2 d3 s1: total 3, upper → begin 1, taps −1 and 2.
    expect(
        "SAME_UPPER dilated, window in padding",
        Pool2d::max(2)
            .stride(1)
            .dilation(3)
            .padding_same(SameMode::Upper),
        one_plane(1, 1),
        &[7.0],
        &[f32::NEG_INFINITY],
        Some(&[NO_INDEX]),
    );
}

#[test]
fn strided_nhwc_concat_buffer() {
    // Pool a 3-channel 4×4 NHWC image (values from 1..48) into channels 2..5 of an
    // 8-channel concatenation buffer, like a YOLO SPPF block; the other channels and the
    // bytes outside the slice must stay untouched.
    let s = Shape::new(1, 3, 4, 4);
    let x_nchw: Vec<f32> = (1..=48).map(|v| v as f32).collect();
    let x = nchw_to_nhwc(&x_nchw, s);
    for pool in typical_pools() {
        let Ok(os) = pool.output_shape(s) else {
            continue;
        };
        let want = run_reference(&pool, s, Layout::Nhwc, &x, false).unwrap();
        let out_desc = TensorDesc::nhwc(os.n, os.c, os.h, os.w)
            .with_pixel_stride(8)
            .with_offset(2);
        for &tier in tiers() {
            let ctx = format!("{pool:?} [{tier}] strided output");
            let plan =
                Plan::<f32>::with_output(&pool.tier(tier), TensorDesc::nhwc(1, 3, 4, 4), out_desc)
                    .unwrap();
            let len = out_desc.min_len().unwrap() + 5;
            let mut buf = vec![SENTINEL; len];
            plan.run(&x, &mut buf).unwrap();
            let mut idx = vec![IDX_SENTINEL; plan.indices_len()];
            if pool.op().has_indices() {
                let mut buf2 = vec![SENTINEL; len];
                plan.run_with_indices(&x, &mut buf2, &mut idx).unwrap();
                assert_eq!(
                    buf.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    buf2.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                    "{ctx}: run and run_with_indices"
                );
                let want_i = run_reference(&pool, s, Layout::Nhwc, &x, true).unwrap();
                assert_idx(&ctx, os, Layout::Nhwc, &idx, want_i.idx.as_ref().unwrap());
            }
            let pixels = os.h * os.w;
            for (i, v) in buf.iter().enumerate() {
                let inside = i >= 2 && i - 2 < pixels * 8 && (i - 2) % 8 < 3;
                if inside {
                    let (p, c) = ((i - 2) / 8, (i - 2) % 8);
                    let w = want.y[p * 3 + c];
                    assert_eq!(v.to_bits(), w.to_bits(), "{ctx}: pixel {p} channel {c}");
                } else {
                    assert_eq!(
                        v.to_bits(),
                        SENTINEL.to_bits(),
                        "{ctx}: gap element {i} written"
                    );
                }
            }
        }
    }
    // A strided input as well: the 3 channels at offset 1 of a 5-channel buffer.
    let xin: Vec<f32> = (0..16 * 5)
        .map(|i| {
            if (1..4).contains(&(i % 5)) {
                x[i / 5 * 3 + i % 5 - 1]
            } else {
                f32::NAN
            }
        })
        .collect();
    let in_desc = TensorDesc::nhwc(1, 3, 4, 4)
        .with_pixel_stride(5)
        .with_offset(1);
    for pool in typical_pools() {
        let Ok(os) = pool.output_shape(s) else {
            continue;
        };
        let want = run_reference(&pool, s, Layout::Nhwc, &x, false).unwrap();
        for &tier in tiers() {
            let plan = Plan::<f32>::with_output(
                &pool.tier(tier),
                in_desc,
                TensorDesc::new(os, Layout::Nhwc),
            )
            .unwrap();
            let mut y = vec![SENTINEL; plan.output_len()];
            plan.run(&xin[..in_desc.min_len().unwrap()], &mut y)
                .unwrap();
            assert_bits(
                &format!("{pool:?} [{tier}] strided input"),
                os,
                Layout::Nhwc,
                &y,
                &want.y,
            );
        }
    }
}

#[test]
fn empty_batch() {
    // N = 0 is valid: an empty output, Ok.
    for pool in typical_pools() {
        for layout in LAYOUTS {
            let s = Shape::new(0, 3, 6, 7);
            let os = pool.output_shape(s).unwrap();
            assert_eq!((os.n, os.c), (0, 3));
            for &tier in tiers() {
                let plan = Plan::<f32>::new(&pool.tier(tier), desc(s, layout)).unwrap();
                assert_eq!(
                    (plan.input_len(), plan.output_len(), plan.indices_len()),
                    (0, 0, 0)
                );
                plan.run(&[], &mut []).unwrap();
                if pool.op().has_indices() {
                    plan.run_with_indices(&[], &mut [], &mut []).unwrap();
                }
                assert!(plan.run_alloc(&[]).unwrap().is_empty());
            }
            assert!(
                pool.run::<f32>(&[], desc(s, layout))
                    .unwrap()
                    .data
                    .is_empty()
            );
        }
    }
    // C = 0 where PyTorch accepts it (adaptive and global average, global max): empty output.
    for pool in [
        Pool2d::adaptive_avg(2),
        Pool2d::global_avg(),
        Pool2d::global_max(),
    ] {
        let s = Shape::new(2, 0, 4, 4);
        for &tier in tiers() {
            let plan = Plan::<f32>::new(&pool.tier(tier), desc(s, Layout::Nhwc)).unwrap();
            plan.run(&[], &mut []).unwrap();
        }
    }
}

#[test]
fn run_bytes() {
    let x = seq(16);
    let plan = Plan::<f32>::new(&Pool2d::max(2), TensorDesc::nchw(1, 1, 4, 4)).unwrap();
    // Aligned bytes work and give the same values.
    let xb: &[u8] = bytemuck::cast_slice(&x);
    let mut y = [0.0f32; 4];
    plan.run_bytes(xb, bytemuck::cast_slice_mut(&mut y))
        .unwrap();
    assert_eq!(y, [6.0, 8.0, 14.0, 16.0]);
    // Misaligned input: a typed error, the output untouched.
    let mut store = vec![0u32; 17 + 1];
    let raw: &mut [u8] = bytemuck::cast_slice_mut(&mut store);
    for (i, v) in x.iter().enumerate() {
        raw[1 + 4 * i..5 + 4 * i].copy_from_slice(&v.to_ne_bytes());
    }
    let mut y = [SENTINEL; 4];
    let e = plan
        .run_bytes(&raw[1..65], bytemuck::cast_slice_mut(&mut y))
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::ByteCast {
                buffer: "input",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("input"), "{e}");
    assert!(y.iter().all(|v| v.to_bits() == SENTINEL.to_bits()));
    // Misaligned output.
    let mut out = [0u32; 5];
    let ob: &mut [u8] = bytemuck::cast_slice_mut(&mut out);
    let e = plan.run_bytes(xb, &mut ob[1..17]).unwrap_err();
    assert!(
        matches!(
            e,
            Error::ByteCast {
                buffer: "output",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(out.iter().all(|&v| v == 0), "misaligned output written");
    // Not a whole number of elements.
    let mut y = [0.0f32; 4];
    let e = plan
        .run_bytes(&xb[..63], bytemuck::cast_slice_mut(&mut y))
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::ByteCast {
                buffer: "input",
                ..
            }
        ),
        "{e:?}"
    );
    let e = plan
        .run_bytes(xb, &mut bytemuck::cast_slice_mut(&mut y)[..15])
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::ByteCast {
                buffer: "output",
                ..
            }
        ),
        "{e:?}"
    );
    // A whole number of elements but the wrong count: the length error.
    let e = plan
        .run_bytes(&xb[..60], bytemuck::cast_slice_mut(&mut y))
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::BufferLength {
                buffer: "input",
                expected: 16,
                actual: 15
            }
        ),
        "{e:?}"
    );
}

#[test]
fn kernel_info() {
    for pool in typical_pools() {
        for layout in LAYOUTS {
            for &tier in tiers() {
                let plan = Plan::<f32>::new(&pool.tier(tier), desc(Shape::new(1, 3, 9, 9), layout))
                    .unwrap();
                let k = plan.kernel();
                assert_eq!(k.tier, tier);
                assert_eq!(k.layout, layout);
                assert!(
                    !k.algorithm.is_empty(),
                    "{pool:?} {tier}: empty algorithm name"
                );
                if tier == Tier::Scalar {
                    assert_eq!(k.algorithm, "reference");
                }
            }
        }
        // Without a forced tier the dispatcher picks Tier::best().
        let plan = Plan::<f32>::new(&pool, TensorDesc::nchw(1, 1, 9, 9)).unwrap();
        assert_eq!(plan.kernel().tier, Tier::best());
        assert!(tiers().contains(&Tier::best()));
    }
}

#[test]
fn plan_accessors() {
    let pool = Pool2d::max(3).stride(2).padding(1);
    let plan = Plan::<f32>::new(&pool, TensorDesc::nhwc(2, 5, 7, 9)).unwrap();
    assert_eq!(plan.pool(), &pool);
    assert_eq!(plan.input_desc(), TensorDesc::nhwc(2, 5, 7, 9));
    assert_eq!(plan.output_desc(), TensorDesc::nhwc(2, 5, 4, 5));
    assert_eq!(
        (plan.input_len(), plan.output_len(), plan.indices_len()),
        (630, 200, 200)
    );
    assert_eq!(pool.op(), PoolOp::Max);
    // reference::pool2d agrees with the plan on this shape.
    let x = mixed(&mut Rng(5), 630);
    let mut y = vec![0.0; 200];
    let mut i = vec![0; 200];
    reference::pool2d(
        &pool,
        &plan.input_desc(),
        &x,
        &plan.output_desc(),
        &mut y,
        Some(&mut i),
    )
    .unwrap();
    let got = plan.run_alloc(&x).unwrap();
    assert_bits("run_alloc", Shape::new(2, 5, 4, 5), Layout::Nhwc, &got, &y);
}

#[test]
fn huge_stride_and_dilation() {
    // A stride larger than the input: one window per axis.
    let x = seq(20);
    expect(
        "max k2 stride usize::MAX",
        Pool2d::max(2).stride(usize::MAX),
        one_plane(4, 5),
        &x,
        &[7.0],
        Some(&[6]),
    );
    expect(
        "avg k2 stride usize::MAX ceil",
        Pool2d::avg(2).stride(usize::MAX).ceil_mode(true),
        one_plane(4, 5),
        &x,
        &[(1.0 + 2.0 + 6.0 + 7.0) / 4.0],
        None,
    );
    // SAME padding with a huge dilation: each 3-tap window has exactly one tap (its centre)
    // inside the input, so the pooling is the identity.
    let d = 1usize << 62;
    let idx: Vec<u32> = (0..20).collect();
    expect(
        "max k3 SAME dilation 2^62 (identity)",
        Pool2d::max(3)
            .stride(1)
            .dilation(d)
            .padding_same(SameMode::Upper),
        one_plane(4, 5),
        &x,
        &x,
        Some(&idx),
    );
}
