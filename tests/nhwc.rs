//! Window and adaptive pooling in NHWC (max with and without indices, average): every tier
//! against the scalar reference, bit for bit, over random shapes whose channel counts hit every
//! tail length up to 2·16 + 1, strided and offset descriptors (the elements between pixels must
//! stay untouched), every parameter combination, special values (NaN payloads, ±0 ties, ±∞),
//! stride-1 large windows (the strip and separable paths), partitioned runs, and inputs ending
//! at a guard page.

mod common;

use common::Xorshift as Rng;
use nnpool::{Parallelism, Plan, Pool2d, TensorDesc, Tier, reference};

/// Input values of a random flavour. `avg` restricts NaNs to one bit pattern per call (which of
/// two different NaN operands an addition returns is not fixed); max inputs get distinct
/// payloads, as selection is exact.
fn values(rng: &mut Rng, len: usize, avg: bool) -> Vec<f32> {
    let flavour = rng.below(7);
    let one_nan = f32::from_bits(0x7f80_0001 | (rng.next() as u32 & 0x807f_ffff));
    let nan = |rng: &mut Rng| {
        if avg {
            one_nan
        } else {
            f32::from_bits(0x7f80_0001 | (rng.next() as u32 & 0x807f_ffff))
        }
    };
    (0..len)
        .map(|_| match flavour {
            0 => rng.unit() * 10.0,
            1 => match rng.below(24) {
                0 | 1 => nan(rng),
                2 => f32::INFINITY,
                3 | 4 => 0.0,
                5 | 6 => -0.0,
                7 => 1e38,
                8 => f32::from_bits(rng.next() as u32 & 0x807f_ffff),
                9 if !avg => f32::NEG_INFINITY,
                _ => rng.unit() * 10.0,
            },
            2 => match rng.below(4) {
                0 => 0.0,
                1 => -0.0,
                2 => -rng.unit().abs() - 1.0,
                _ => -f32::from_bits(rng.next() as u32 & 0x7f_ffff),
            },
            3 => match rng.below(16) {
                0 => f32::INFINITY,
                1 => f32::NEG_INFINITY,
                2 => 1e38,
                3 => -1e38,
                4 => 0.0,
                5 => -0.0,
                _ => rng.unit() * 10.0,
            },
            // Few distinct values: many ties.
            4 => (rng.below(3) as f32) - 1.0,
            // Rare NaN (one block falls back, the others not).
            5 => {
                if rng.chance(1) {
                    nan(rng)
                } else {
                    rng.unit()
                }
            }
            _ => match rng.below(3) {
                0 => -0.0,
                1 => f32::NEG_INFINITY,
                _ => -rng.unit().abs(),
            },
        })
        .collect()
}

fn tiers() -> Vec<Tier> {
    Tier::supported()
        .into_iter()
        .filter(|&t| t != Tier::Scalar)
        .collect()
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The output poisoned before every run: elements no kernel writes keep it.
const POISON: u32 = 0x7fbe_efed;

/// Runs `pool` from `desc` into `odesc` on every tier (sequentially and, when `parallel`, with
/// the automatic split) and compares the whole output buffer (gaps included) and the indices
/// with the reference; returns the number of outputs compared.
fn check(
    pool: &Pool2d,
    desc: TensorDesc,
    odesc: TensorDesc,
    x: &[f32],
    with_idx: bool,
    parallel: bool,
    what: &str,
) -> usize {
    let out_len = odesc.min_len().unwrap() + 3 * usize::from(!odesc.is_dense());
    let mut want = vec![f32::from_bits(POISON); out_len];
    let probe = Plan::<f32>::with_output(pool, desc, odesc).expect("plan");
    let mut want_idx = vec![0u32; probe.indices_len()];
    reference::pool2d(
        pool,
        &desc,
        x,
        &odesc,
        &mut want,
        with_idx.then_some(&mut want_idx[..]),
    )
    .expect("reference");
    for tier in tiers() {
        let modes: &[Parallelism] = if parallel {
            &[Parallelism::Sequential, Parallelism::Auto]
        } else {
            &[Parallelism::Sequential]
        };
        for &mode in modes {
            let p = pool.tier(tier).parallelism(mode);
            let plan = Plan::<f32>::with_output(&p, desc, odesc).expect("plan");
            let mut got = vec![f32::from_bits(POISON); out_len];
            let mut got_idx = vec![0xdead_beefu32; plan.indices_len()];
            if with_idx {
                plan.run_with_indices(x, &mut got, &mut got_idx)
                    .expect("run");
            } else {
                plan.run(x, &mut got).expect("run");
            }
            let alg = plan.kernel().algorithm;
            if bits(&got) != bits(&want) {
                let at = (0..want.len())
                    .find(|&i| got[i].to_bits() != want[i].to_bits())
                    .unwrap();
                panic!(
                    "{what}: tier {tier} ({alg}, {mode:?}) differs at output element {at}: got {:?} ({:#x}), want {:?} ({:#x})\n{pool:?}\n{desc:?}\n{odesc:?}",
                    got[at],
                    got[at].to_bits(),
                    want[at],
                    want[at].to_bits()
                );
            }
            if with_idx && got_idx != want_idx {
                let at = (0..want_idx.len())
                    .find(|&i| got_idx[i] != want_idx[i])
                    .unwrap();
                panic!(
                    "{what}: tier {tier} ({alg}, {mode:?}) index {at}: got {}, want {}\n{pool:?}\n{desc:?}",
                    got_idx[at], want_idx[at]
                );
            }
        }
    }
    probe.output_len()
}

/// A random NHWC descriptor pair for `c` channels: maybe strided, maybe offset.
fn descs(
    rng: &mut Rng,
    pool: &Pool2d,
    n: usize,
    c: usize,
    h: usize,
    w: usize,
) -> Option<(TensorDesc, TensorDesc)> {
    let mut desc = TensorDesc::nhwc(n, c, h, w);
    if rng.chance(40) {
        desc = desc.with_pixel_stride(c + rng.range(1, 5));
    }
    if rng.chance(30) {
        desc = desc.with_offset(rng.range(1, 9));
    }
    let o = pool.output_shape(desc.shape()).ok()?;
    let mut odesc = TensorDesc::nhwc(o.n, o.c, o.h, o.w);
    if rng.chance(50) {
        odesc = odesc.with_pixel_stride(c + rng.range(1, 7));
    }
    if rng.chance(40) {
        odesc = odesc.with_offset(rng.range(1, 11));
    }
    Some((desc, odesc))
}

#[test]
fn window_random_every_tail() {
    let mut rng = Rng(0x4e48_5743_0001);
    let mut checked = 0;
    for case in 0..3000 {
        let kind = rng.below(4); // 0 max, 1 max + indices, 2 avg, 3 max with dilation
        let (kh, kw) = (rng.range(1, 5), rng.range(1, 5));
        let (sh, sw) = match rng.below(3) {
            0 => (1, 1),
            1 => (2, 2),
            _ => (rng.range(1, 4), rng.range(1, 4)),
        };
        let (ph, pw) = (rng.range(0, kh / 2), rng.range(0, kw / 2));
        let (dh, dw) = if kind == 3 {
            (rng.range(1, 3), rng.range(1, 3))
        } else {
            (1, 1)
        };
        let h_lo = (dh * (kh - 1) + 1).saturating_sub(2 * ph).max(1);
        let w_lo = (dw * (kw - 1) + 1).saturating_sub(2 * pw).max(1);
        let h = rng.range(h_lo, h_lo.max(11));
        let w = rng.range(w_lo, w_lo.max(11));
        let mut pool = if kind == 2 {
            let mut p = Pool2d::avg((kh, kw)).count_include_pad(rng.chance(50));
            if rng.chance(15) {
                p = p.divisor_override(rng.range(1, 30) as u32);
            }
            p
        } else {
            Pool2d::max((kh, kw)).dilation((dh, dw))
        };
        pool = pool
            .stride((sh, sw))
            .padding((ph, pw))
            .ceil_mode(rng.chance(30));
        let c = rng.range(1, 33);
        let n = rng.range(1, 2);
        let Some((desc, odesc)) = descs(&mut rng, &pool, n, c, h, w) else {
            continue;
        };
        let extra = 2 * usize::from(!desc.is_dense());
        let x = values(&mut rng, desc.min_len().unwrap() + extra, kind == 2);
        checked += check(
            &pool,
            desc,
            odesc,
            &x,
            kind == 1,
            false,
            &format!("case {case}"),
        );
    }
    assert!(checked > 20_000, "{checked}");
}

#[test]
fn every_channel_count_fixed_windows() {
    let mut rng = Rng(0x4e48_5743_0002);
    for c in 1..=50 {
        for (pool, with_idx) in [
            (Pool2d::max(3).stride(2).padding(1), false),
            (Pool2d::max(3).stride(2).padding(1), true),
            (Pool2d::max(2).stride(2), true),
            (Pool2d::max(3).stride(1).padding(1), false),
            (Pool2d::max(5).stride(1).padding(2), false),
            (
                Pool2d::avg(3).stride(1).padding(1).count_include_pad(false),
                false,
            ),
            (Pool2d::avg(2).stride(2), false),
            (Pool2d::avg(3).stride(2).padding(1).ceil_mode(true), false),
        ] {
            let avg = pool.op() == nnpool::PoolOp::Avg;
            let (h, w) = (rng.range(3, 9), rng.range(3, 9));
            let Some((desc, odesc)) = descs(&mut rng, &pool, 1, c, h, w) else {
                continue;
            };
            let x = values(&mut rng, desc.min_len().unwrap(), avg);
            check(&pool, desc, odesc, &x, with_idx, false, &format!("c {c}"));
        }
    }
}

#[test]
fn same_padding_windows_entirely_in_padding() {
    let mut rng = Rng(0x4e48_5743_0003);
    for _ in 0..300 {
        let k = rng.range(1, 4);
        let d = rng.range(2, 5);
        let s = rng.range(1, 3);
        let mode = if rng.chance(50) {
            nnpool::SameMode::Upper
        } else {
            nnpool::SameMode::Lower
        };
        let pool = Pool2d::max(k).stride(s).dilation(d).padding_same(mode);
        let c = rng.range(1, 33);
        let (h, w) = (rng.range(1, 6), rng.range(1, 6));
        let Some((desc, odesc)) = descs(&mut rng, &pool, 1, c, h, w) else {
            continue;
        };
        let x = values(&mut rng, desc.min_len().unwrap(), false);
        check(&pool, desc, odesc, &x, rng.chance(50), false, "same");
    }
}

#[test]
fn adaptive_random() {
    let mut rng = Rng(0x4e48_5743_0004);
    for case in 0..1500 {
        let (h, w) = (rng.range(1, 12), rng.range(1, 12));
        let (oh, ow) = (rng.range(1, 2 * h + 1), rng.range(1, 2 * w + 1));
        let kind = rng.below(3);
        let pool = if kind == 2 {
            Pool2d::adaptive_avg((oh, ow))
        } else {
            Pool2d::adaptive_max((oh, ow))
        };
        let (n, c) = (rng.range(1, 2), rng.range(1, 33));
        let Some((desc, odesc)) = descs(&mut rng, &pool, n, c, h, w) else {
            continue;
        };
        let x = values(&mut rng, desc.min_len().unwrap(), kind == 2);
        check(
            &pool,
            desc,
            odesc,
            &x,
            kind == 1,
            false,
            &format!("adaptive {case}"),
        );
    }
}

/// Stride-1 max with large windows (the strip and separable paths): SPPF shapes, asymmetric padding,
/// odd sizes, ties of ±0 everywhere, NaNs, and partitioned runs.
#[test]
fn stride1_large_windows() {
    let mut rng = Rng(0x4e48_5743_0005);
    for case in 0..400 {
        let (kh, kw) = if rng.chance(50) {
            let k = [3, 5, 9, 13, 16][rng.below(5)];
            (k, k)
        } else {
            (rng.range(1, 17), rng.range(1, 17))
        };
        let pad = |rng: &mut Rng, k: usize| {
            if rng.chance(60) {
                k / 2
            } else {
                rng.range(0, k / 2)
            }
        };
        let pads = [
            pad(&mut rng, kh),
            pad(&mut rng, kw),
            pad(&mut rng, kh),
            pad(&mut rng, kw),
        ];
        let pool = Pool2d::max((kh, kw))
            .stride(1)
            .padding(pads)
            .ceil_mode(rng.chance(20));
        let c = rng.range(1, 40);
        let h = rng.range((kh).saturating_sub(pads[0] + pads[2]).max(1), 24);
        let w = rng.range((kw).saturating_sub(pads[1] + pads[3]).max(1), 24);
        let Some((desc, odesc)) = descs(&mut rng, &pool, 1, c, h, w) else {
            continue;
        };
        let x = values(&mut rng, desc.min_len().unwrap(), false);
        check(
            &pool,
            desc,
            odesc,
            &x,
            rng.chance(15),
            false,
            &format!("s1 {case}"),
        );
    }
    // Wide images (several column tiles) and SPPF sizes, partitioned too.
    for (c, h, w, k) in [
        (256, 20, 20, 5),
        // 5×5 strips: several row bands (tall), bands of few rows (wide), a strip overlap.
        (20, 90, 22, 5),
        (9, 50, 200, 5),
        (33, 7, 6, 5),
        (64, 20, 20, 13),
        (17, 9, 300, 9),
        (33, 40, 40, 3),
        (5, 3, 700, 13),
        // Runs in registers: windows of 8 to 16 rows, several tiles of columns, a tile whose
        // last block is partial; and the buffered scheme beyond 16.
        (4, 20, 100, 16),
        (7, 30, 45, 11),
        (3, 12, 70, 8),
        (6, 25, 30, 19),
        // Buffers too small for a useful tile: the direct fallback.
        (3, 45, 45, 41),
    ] {
        let pool = Pool2d::max(k).stride(1).padding(k / 2);
        let desc = TensorDesc::nhwc(1, c, h, w);
        let odesc = pool.output_shape(desc.shape()).unwrap();
        let odesc = TensorDesc::nhwc(odesc.n, odesc.c, odesc.h, odesc.w);
        for flavour in 0..3 {
            let mut x: Vec<f32> = match flavour {
                0 => values(&mut rng, desc.min_len().unwrap(), false),
                _ => (0..desc.min_len().unwrap())
                    .map(|_| if rng.chance(50) { 0.0 } else { -0.0 })
                    .collect(),
            };
            if flavour == 2 {
                let at = rng.below(x.len());
                x[at] = f32::from_bits(0xffc0_0123);
            }
            check(&pool, desc, odesc, &x, false, true, "s1 large");
        }
    }
}

#[test]
fn partitioned_runs_match() {
    let mut rng = Rng(0x4e48_5743_0006);
    for (pool, with_idx) in [
        (Pool2d::max(3).stride(2).padding(1), true),
        (Pool2d::max(3).stride(2).padding(1), false),
        (
            Pool2d::avg(3).stride(1).padding(1).count_include_pad(false),
            false,
        ),
        (Pool2d::max(5).stride(1).padding(2), false),
        (Pool2d::adaptive_max((7, 5)), true),
        (Pool2d::adaptive_avg((6, 9)), false),
    ] {
        let avg = matches!(pool.op(), nnpool::PoolOp::Avg | nnpool::PoolOp::AdaptiveAvg);
        let desc = TensorDesc::nhwc(2, 37, 30, 28).with_pixel_stride(41);
        let o = pool.output_shape(desc.shape()).unwrap();
        let odesc = TensorDesc::nhwc(o.n, o.c, o.h, o.w)
            .with_pixel_stride(40)
            .with_offset(2);
        let x = values(&mut rng, desc.min_len().unwrap(), avg);
        check(&pool, desc, odesc, &x, with_idx, true, "partitioned");
    }
}

#[test]
fn channel_blocks_of_one_image_match() {
    // One small image with many channels: a parallel run cuts each row block into channel
    // blocks (multiples of 16 channels, the last one shorter) that write the same pixels; the
    // poisoned gaps of the strided output show that no block writes outside its channels.
    let mut rng = Rng(0x4e48_5743_0007);
    for (pool, with_idx) in [
        (Pool2d::max(5).stride(1).padding(2), false),
        (Pool2d::max(3).stride(1).padding(1), false),
        (Pool2d::max(3).stride(1).padding(1), true),
        (
            Pool2d::avg(3).stride(1).padding(1).count_include_pad(false),
            false,
        ),
        (Pool2d::max(2).stride(2), false),
        (Pool2d::adaptive_avg((5, 4)), false),
    ] {
        let avg = matches!(pool.op(), nnpool::PoolOp::Avg | nnpool::PoolOp::AdaptiveAvg);
        for (c, h) in [(150, 12), (200, 9), (67, 16)] {
            let desc = TensorDesc::nhwc(1, c, h, h + 1).with_pixel_stride(c + 7);
            let o = pool.output_shape(desc.shape()).unwrap();
            let odesc = TensorDesc::nhwc(o.n, o.c, o.h, o.w)
                .with_pixel_stride(c + 3)
                .with_offset(3);
            let x = values(&mut rng, desc.min_len().unwrap(), avg);
            check(&pool, desc, odesc, &x, with_idx, true, "channel blocks");
        }
    }
}

/// The shared-column scheme (AVX-512: unit horizontal stride and dilation, adjacent outputs
/// reading each input column once): random windows up to 6×6, vertical strides and
/// dilations, padding per side, ceil mode, averages in every divisor mode and max (values and
/// indices, NaN groups redone exactly), channel counts around one and four vectors, strided
/// and offset pixels, sequential and parallel runs.
#[test]
fn shared_column_scheme() {
    let mut rng = Rng(0x4e48_5743_0007);
    let (mut shared, mut runs) = (0, 0);
    for case in 0..300 {
        let (kh, kw) = (rng.range(1, 6), rng.range(1, 6));
        let (sh, dh) = (rng.range(1, 3), rng.range(1, 2));
        let pads = [
            rng.range(0, kh / 2),
            rng.range(0, kw / 2),
            rng.range(0, kh / 2),
            rng.range(0, kw / 2),
        ];
        let kind = rng.below(3); // 0 avg, 1 max, 2 max + indices
        let mut pool = if kind == 0 {
            let mut p = Pool2d::avg((kh, kw)).count_include_pad(rng.chance(50));
            if rng.chance(20) {
                p = p.divisor_override(rng.range(1, 30) as u32);
            }
            p
        } else {
            Pool2d::max((kh, kw))
        };
        pool = pool
            .stride((sh, 1))
            .dilation((dh, 1))
            .padding(pads)
            .ceil_mode(rng.chance(30));
        let c = [1, 15, 16, 17, 63, 64, 65, 80, 129, 200][rng.below(10)];
        let (h, w) = (rng.range(1, 14), rng.range(1, 20));
        let Some((desc, odesc)) = descs(&mut rng, &pool, 1, c, h, w) else {
            continue;
        };
        let extra = 2 * usize::from(!desc.is_dense());
        let x = values(&mut rng, desc.min_len().unwrap() + extra, kind == 0);
        let what = format!("case {case}");
        check(&pool, desc, odesc, &x, kind == 2, case % 4 == 0, &what);
        for tier in tiers() {
            let plan = Plan::<f32>::with_output(&pool.tier(tier), desc, odesc).unwrap();
            runs += 1;
            shared += usize::from(plan.kernel().algorithm == "nhwc-s1-shared");
        }
    }
    println!("shared-column scheme named in {shared} of {runs} tier runs");
    let wide = tiers().contains(&Tier::Avx512);
    assert!(!wide || shared > runs / 8, "{shared} of {runs}");
    assert!(wide || shared == 0, "{shared} of {runs} without AVX-512");
}

#[test]
fn describe_names_the_algorithms() {
    for tier in tiers() {
        let k = |pool: Pool2d, desc| {
            Plan::<f32>::new(&pool.tier(tier), desc)
                .unwrap()
                .kernel()
                .algorithm
        };
        let d = TensorDesc::nhwc(1, 64, 20, 20);
        assert_eq!(k(Pool2d::max(3).stride(2).padding(1), d), "nhwc-direct");
        // Stride-1 windows share input columns between adjacent outputs on AVX-512.
        let s1 = if tier == Tier::Avx512 {
            "nhwc-s1-shared"
        } else {
            "nhwc-direct"
        };
        assert_eq!(k(Pool2d::avg(3).stride(1).padding(1), d), s1);
        assert_eq!(k(Pool2d::avg(3).stride(2).padding(1), d), "nhwc-direct");
        assert_eq!(k(Pool2d::max(5).stride(1).padding(2), d), "nhwc-s1-strip");
        // Too wide for a band of six scratch rows on 16 lanes: separable.
        let wide = TensorDesc::nhwc(1, 64, 20, 300);
        let want = if tier == Tier::Avx512 {
            "nhwc-s1-separable"
        } else {
            "nhwc-s1-strip"
        };
        assert_eq!(k(Pool2d::max(5).stride(1).padding(2), wide), want);
        // Tall windows: runs in registers on AVX-512; low or 4- and 8-lane: buffered.
        let runs = if tier == Tier::Avx512 {
            "nhwc-s1-runs"
        } else {
            "nhwc-s1-separable"
        };
        assert_eq!(k(Pool2d::max(13).stride(1).padding(6), d), runs);
        assert_eq!(k(Pool2d::max((8, 3)).stride(1).padding(1), d), runs);
        assert_eq!(
            k(Pool2d::max((7, 13)).stride(1).padding(3), d),
            "nhwc-s1-separable"
        );
        // Sides beyond the runs' registers.
        assert_eq!(
            k(Pool2d::max(17).stride(1).padding(8), d),
            "nhwc-s1-separable"
        );
        assert_eq!(k(Pool2d::adaptive_max(6), d), "nhwc-adaptive");
        // 3×3 stride 1: separable on 4-lane tiers only.
        let four = matches!(tier, Tier::Portable | Tier::Sse2 | Tier::Neon);
        let want = if four { "nhwc-s1-separable" } else { s1 };
        assert_eq!(k(Pool2d::max(3).stride(1).padding(1), d), want);
    }
}

/// Inputs that end exactly at an inaccessible page: any read past the end faults.
#[cfg(unix)]
mod guard {
    use super::*;

    /// A buffer of `len` f32 ending right before a PROT_NONE page.
    struct Guarded {
        base: *mut libc::c_void,
        size: usize,
        data: usize,
        len: usize,
    }

    impl Guarded {
        fn new(len: usize) -> Self {
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
            let data = (len * 4).next_multiple_of(page).max(page);
            let size = data + page;
            // SAFETY: an anonymous private mapping, checked below; its last page is then made
            // inaccessible.
            let base = unsafe {
                let base = libc::mmap(
                    core::ptr::null_mut(),
                    size,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                );
                assert_ne!(base, libc::MAP_FAILED);
                let guard = base.cast::<u8>().add(data).cast();
                assert_eq!(libc::mprotect(guard, page, libc::PROT_NONE), 0);
                base
            };
            Guarded {
                base,
                size,
                data,
                len,
            }
        }

        /// The `len` elements just below the guard page.
        fn slice(&mut self) -> &mut [f32] {
            // SAFETY: bytes data − 4·len .. data of the mapping are readable and writable, and
            // borrowed mutably from self only once at a time.
            unsafe {
                let end = self.base.cast::<u8>().add(self.data).cast::<f32>();
                core::slice::from_raw_parts_mut(end.sub(self.len), self.len)
            }
        }
    }

    impl Drop for Guarded {
        fn drop(&mut self) {
            // SAFETY: base/size came from mmap.
            unsafe { libc::munmap(self.base, self.size) };
        }
    }

    #[test]
    fn reads_and_writes_stay_inside_the_buffers() {
        let mut rng = Rng(0x4e48_5743_0007);
        for c in 1..=33 {
            for (pool, with_idx) in [
                (Pool2d::max(3).stride(2).padding(1), false),
                (Pool2d::max(3).stride(2).padding(1), true),
                (Pool2d::max(5).stride(1).padding(2), false),
                // Tall windows: the runs in registers on AVX-512.
                (Pool2d::max(9).stride(1).padding(4), false),
                (Pool2d::avg(2).stride(2).ceil_mode(true), false),
                (Pool2d::adaptive_avg((2, 3)), false),
            ] {
                for ps in [c, c + 1] {
                    let desc = TensorDesc::nhwc(1, c, 5, 7).with_pixel_stride(ps);
                    let len = desc.min_len().unwrap();
                    let mut gin = Guarded::new(len);
                    let x = gin.slice();
                    x.copy_from_slice(&values(&mut rng, len, true));
                    let o = pool.output_shape(desc.shape()).unwrap();
                    let odesc = TensorDesc::nhwc(o.n, o.c, o.h, o.w).with_pixel_stride(ps);
                    let olen = odesc.min_len().unwrap();
                    let mut want = vec![f32::from_bits(POISON); olen];
                    reference::pool2d(&pool, &desc, x, &odesc, &mut want, None).unwrap();
                    for tier in tiers() {
                        let plan =
                            Plan::<f32>::with_output(&pool.tier(tier).sequential(), desc, odesc)
                                .unwrap();
                        let mut gout = Guarded::new(olen);
                        let y = gout.slice();
                        y.fill(f32::from_bits(POISON));
                        if with_idx {
                            let mut gidx = Guarded::new(plan.indices_len());
                            let idx = gidx.slice();
                            // SAFETY: f32 and u32 have the same size and alignment, and every
                            // bit pattern is valid for both.
                            let idx: &mut [u32] = unsafe {
                                core::slice::from_raw_parts_mut(idx.as_mut_ptr().cast(), idx.len())
                            };
                            plan.run_with_indices(x, y, idx).unwrap();
                        } else {
                            plan.run(x, y).unwrap();
                        }
                        assert_eq!(bits(y), bits(&want), "tier {tier} c {c} ps {ps} {pool:?}");
                    }
                }
            }
        }
    }
}
