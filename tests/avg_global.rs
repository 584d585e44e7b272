//! Average pooling (NCHW, window and adaptive) and global pooling (both layouts): every tier
//! against the scalar reference, bit for bit, over random shapes that hit every tail length,
//! special values (NaN with payloads, ±0, ±∞, 1e38 overflow, subnormals) and strided NHWC
//! descriptors; and the same kernels reading inputs that end at a guard page.

mod common;

use common::Xorshift as Rng;
use nnpool::{Layout, Plan, Pool2d, TensorDesc, Tier, reference};

/// Input values of a given flavour: plain, sprinkled with specials, or mostly zeros of both
/// signs (ties), or huge (overflow to ±∞ in sums).
///
/// All NaNs of one call share one bit pattern (random sign and payload, quiet or signalling):
/// which of two different NaN operands an addition returns is not fixed (the compiler may swap
/// the operands of any f32 addition, the reference's included), so only sums of equal NaNs have
/// one right answer. The max tests use distinct payloads, as selection is exact.
fn values(rng: &mut Rng, len: usize) -> Vec<f32> {
    let flavour = rng.below(6);
    let nan = f32::from_bits(0x7f80_0001 | (rng.next() as u32 & 0x807f_ffff));
    (0..len)
        .map(|_| match flavour {
            0 => rng.unit() * 10.0,
            // NaNs with +∞ and +1e38 (no −∞ and no negative overflow, so no inf − inf: that
            // would make a second, default NaN).
            1 => match rng.below(24) {
                0 | 1 => nan,
                2 => f32::INFINITY,
                3 | 4 => 0.0,
                5 | 6 => -0.0,
                7 => 1e38,
                8 => f32::from_bits(rng.next() as u32 & 0x807f_ffff), // subnormal
                _ => rng.unit() * 10.0,
            },
            // Infinities and overflow of both signs, no NaN input.
            5 => match rng.below(16) {
                0 => f32::INFINITY,
                1 => f32::NEG_INFINITY,
                2 => 1e38,
                3 => -1e38,
                4 => 0.0,
                5 => -0.0,
                6 => f32::from_bits(rng.next() as u32 & 0x807f_ffff),
                _ => rng.unit() * 10.0,
            },
            2 => match rng.below(4) {
                0 => 0.0,
                1 => -0.0,
                2 => -rng.unit().abs() - 1.0,
                _ => -f32::from_bits(rng.next() as u32 & 0x7f_ffff),
            },
            3 => {
                if rng.chance(50) {
                    1e38
                } else {
                    -1e38 * rng.unit().abs()
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

/// Runs `pool` on every tier and compares with the reference; returns the number of outputs
/// checked.
fn check(pool: &Pool2d, desc: TensorDesc, x: &[f32], what: &str) -> usize {
    let probe = Plan::<f32>::new(pool, desc).expect("plan");
    let odesc = probe.output_desc();
    let mut want = vec![0.0f32; probe.output_len()];
    reference::pool2d(pool, &desc, x, &odesc, &mut want, None).expect("reference");
    for tier in tiers() {
        let plan = Plan::<f32>::new(&pool.tier(tier).sequential(), desc).expect("plan");
        let mut got = vec![f32::from_bits(0x7fbe_efed); plan.output_len()];
        plan.run(x, &mut got).expect("run");
        if bits(&got) != bits(&want) {
            let at = (0..want.len())
                .find(|&i| got[i].to_bits() != want[i].to_bits())
                .unwrap();
            panic!(
                "{what}: tier {tier} ({}) differs at output {at}: got {:?} ({:#x}), want {:?} ({:#x})\n{pool:?}\n{desc:?}",
                plan.kernel().algorithm,
                got[at],
                got[at].to_bits(),
                want[at],
                want[at].to_bits()
            );
        }
    }
    want.len()
}

#[test]
fn avg_nchw_random_windows() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut checked = 0;
    for case in 0..4000 {
        let (kh, kw) = (rng.range(1, 5), rng.range(1, 5));
        let (sh, sw) = match rng.below(4) {
            0 => (1, 1),
            1 => (2, 2),
            2 => (rng.range(1, 3), rng.range(1, 4)),
            _ => (rng.range(1, 5), rng.range(3, 6)),
        };
        let (ph, pw) = (rng.range(0, kh / 2), rng.range(0, kw / 2));
        let h = rng.range(kh.saturating_sub(2 * ph).max(1), 12);
        let w = rng.range(kw.saturating_sub(2 * pw).max(1), 2 * 16 * sw + 8);
        let mut pool = Pool2d::avg((kh, kw))
            .stride((sh, sw))
            .padding((ph, pw))
            .ceil_mode(rng.chance(30))
            .count_include_pad(rng.chance(50));
        if rng.chance(10) {
            pool = pool.divisor_override(rng.range(1, 20) as u32);
        }
        let (n, c) = (rng.range(1, 2), rng.range(1, 3));
        let desc = TensorDesc::nchw(n, c, h, w);
        let Ok(probe) = Plan::<f32>::new(&pool, desc) else {
            continue;
        };
        let x = values(&mut rng, probe.input_len());
        checked += check(&pool, desc, &x, &format!("avg case {case}"));
    }
    assert!(checked > 10_000, "{checked}");
}

#[test]
fn avg_nchw_workload_shapes() {
    let mut rng = Rng(7);
    let shapes = [
        // incep_avg and densenet_avg (fewer channels), and odd cousins.
        (
            Pool2d::avg(3).stride(1).padding(1).count_include_pad(false),
            4,
            35,
            35,
        ),
        (Pool2d::avg(2).stride(2), 4, 56, 56),
        (Pool2d::avg(2).stride(2), 3, 7, 7),
        (
            Pool2d::avg(3).stride(2).padding(1).ceil_mode(true),
            3,
            17,
            33,
        ),
        (Pool2d::avg(3).stride(1).padding(1), 3, 7, 7),
        (Pool2d::avg((1, 3)).stride(1).padding((0, 1)), 2, 3, 40),
        (Pool2d::avg(3).stride(3), 2, 9, 50),
    ];
    for (pool, c, h, w) in shapes {
        let desc = TensorDesc::nchw(1, c, h, w);
        for _ in 0..4 {
            let x = values(&mut rng, c * h * w);
            check(&pool, desc, &x, "workload");
        }
    }
}

#[test]
fn avg_nchw_row_block_jobs() {
    // Few large planes: the driver cuts each plane into row blocks (run in parallel when rayon
    // is on); every output must come out as in one sequential run.
    let mut rng = Rng(0x5eed);
    for (pool, h, w) in [
        (
            Pool2d::avg(3).stride(1).padding(1).count_include_pad(false),
            300,
            301,
        ),
        (Pool2d::avg(2).stride(2), 400, 402),
        (
            Pool2d::avg(3).stride(2).padding(1).ceil_mode(true),
            333,
            257,
        ),
    ] {
        let desc = TensorDesc::nchw(1, 2, h, w);
        let x = values(&mut rng, desc.min_len().unwrap());
        let plan = Plan::<f32>::new(&pool, desc).unwrap();
        let mut want = vec![0.0f32; plan.output_len()];
        reference::pool2d(&pool, &desc, &x, &plan.output_desc(), &mut want, None).unwrap();
        for tier in tiers() {
            let plan = Plan::<f32>::new(&pool.tier(tier), desc).unwrap();
            let mut got = vec![0.0f32; plan.output_len()];
            plan.run(&x, &mut got).unwrap();
            assert!(bits(&got) == bits(&want), "{tier}: {pool:?}");
        }
    }
}

#[test]
fn adaptive_avg_nchw_random() {
    let mut rng = Rng(0xadab_7177);
    for case in 0..2000 {
        let (h, w) = (rng.range(1, 12), rng.range(1, 40));
        let oh = rng.range(1, 2 * h);
        let ow = if rng.chance(50) && w > 1 {
            // Equal column bins.
            let divisors: Vec<usize> = (1..=w).filter(|d| w % d == 0).collect();
            divisors[rng.below(divisors.len())]
        } else {
            rng.range(1, 2 * w + 3)
        };
        let pool = Pool2d::adaptive_avg((oh, ow));
        let desc = TensorDesc::nchw(rng.range(1, 2), rng.range(1, 3), h, w);
        let x = values(&mut rng, desc.min_len().unwrap());
        check(&pool, desc, &x, &format!("adaptive case {case}"));
    }
}

#[test]
fn avg_sums_overflow_like_the_reference() {
    // Four 1e38 taps give +inf in window order; other orders could give NaN with −1e38 taps.
    let x = [
        1e38f32, 1e38, -1e38, 1e38, 1e38, -1e38, 1e38, 1e38, 1e38, -1e38, 1e38, 1e38,
    ];
    let desc = TensorDesc::nchw(1, 1, 1, 12);
    for k in 1..=6 {
        for s in 1..=3 {
            check(&Pool2d::avg((1, k)).stride((1, s)), desc, &x, "overflow");
        }
    }
}

#[test]
fn global_nchw_every_plane_size() {
    let mut rng = Rng(0x0061_07a1);
    for plane in 1..=70 {
        for (h, w) in [(1, plane), (plane, 1)] {
            for _ in 0..6 {
                let c = rng.range(1, 5);
                let desc = TensorDesc::nchw(rng.range(1, 2), c, h, w);
                let x = values(&mut rng, desc.min_len().unwrap());
                check(&Pool2d::global_avg(), desc, &x, "global avg nchw");
                check(&Pool2d::global_max(), desc, &x, "global max nchw");
            }
        }
    }
}

#[test]
fn global_max_nchw_zero_ties_and_nan_payloads() {
    let mut rng = Rng(99);
    for plane in [1, 3, 15, 16, 17, 31, 33, 49, 64, 100] {
        for _ in 0..20 {
            let mut x: Vec<f32> = (0..plane)
                .map(|_| match rng.below(3) {
                    0 => 0.0,
                    1 => -0.0,
                    _ => -1.0,
                })
                .collect();
            let desc = TensorDesc::nchw(1, 1, 1, plane);
            check(&Pool2d::global_max(), desc, &x, "zero ties");
            for _ in 0..rng.range(1, 3) {
                let at = rng.below(plane);
                x[at] = f32::from_bits(0x7f80_0001 + rng.below(1 << 20) as u32); // signalling
            }
            check(&Pool2d::global_max(), desc, &x, "nan payload");
        }
    }
}

#[test]
fn global_nhwc_every_channel_count_strided() {
    let mut rng = Rng(0x4e_4857);
    for c in 1..=40 {
        for _ in 0..4 {
            let (h, w) = (rng.range(1, 6), rng.range(1, 9));
            let n = rng.range(1, 2);
            let mut desc = TensorDesc::nhwc(n, c, h, w);
            if rng.chance(50) {
                desc = desc.with_pixel_stride(c + rng.range(0, 5));
            }
            if rng.chance(50) {
                desc = desc.with_offset(rng.range(1, 7));
            }
            let len = desc.min_len().unwrap() + rng.range(0, 3) * usize::from(!desc.is_dense());
            let x = values(&mut rng, len);
            check(&Pool2d::global_avg(), desc, &x, "global avg nhwc");
            check(&Pool2d::global_max(), desc, &x, "global max nhwc");
        }
    }
    // Pixel counts around multiples of 16, and large channel counts: several blocks, and
    // enough for the average's groups of eight vectors on every tier (with a channel tail,
    // a pixel stride past C and an offset).
    for pixels in [1, 15, 16, 17, 32, 33, 49, 50] {
        for (c, ps, off) in [(67, 67, 0), (133, 133, 0), (2 * 128 + 31, 300, 5)] {
            let desc = TensorDesc::nhwc(1, c, 1, pixels)
                .with_pixel_stride(ps)
                .with_offset(off);
            let x = values(&mut rng, desc.min_len().unwrap());
            check(&Pool2d::global_avg(), desc, &x, "global avg nhwc");
            check(&Pool2d::global_max(), desc, &x, "global max nhwc");
        }
    }
}

#[test]
fn global_nhwc_nan_and_zero_ties() {
    let mut rng = Rng(5);
    for c in [1, 5, 16, 17, 64, 65] {
        let desc = TensorDesc::nhwc(1, c, 3, 7);
        let mut x: Vec<f32> = (0..desc.min_len().unwrap())
            .map(|_| if rng.chance(50) { 0.0 } else { -0.0 })
            .collect();
        check(&Pool2d::global_max(), desc, &x, "nhwc zero ties");
        for _ in 0..3 {
            let at = rng.below(x.len());
            x[at] = f32::from_bits(0xff80_0001 + rng.below(1 << 20) as u32);
        }
        check(&Pool2d::global_max(), desc, &x, "nhwc nan");
    }
}

#[test]
fn describe_names_the_algorithms() {
    for tier in tiers() {
        let k = |pool: Pool2d, desc| Plan::<f32>::new(&pool.tier(tier), desc).unwrap().kernel();
        let nchw = TensorDesc::nchw(1, 2, 35, 35);
        let info = k(Pool2d::avg(3).stride(1).padding(1), nchw);
        // The compact-plane scheme where a masked step is one instruction (AVX-512).
        let same = if tier == Tier::Avx512 {
            "avg-nchw-s1-compact"
        } else {
            "avg-nchw-s1-padded"
        };
        assert_eq!(info.algorithm, same);
        assert_eq!(k(Pool2d::avg(2), nchw).algorithm, "avg-nchw-s2-pair-rows");
        let wide = k(Pool2d::avg(4).stride(2), nchw).algorithm;
        assert_eq!(wide, "avg-nchw-s2-deinterleave");
        assert_eq!(k(Pool2d::avg(3), nchw).algorithm, "avg-nchw-gather");
        let even = TensorDesc::nchw(1, 2, 34, 34);
        let s2 = k(Pool2d::adaptive_avg(17), even).algorithm;
        assert_eq!(s2, "avg-nchw-s2-pair-rows");
        let adaptive = k(Pool2d::adaptive_avg(6), nchw).algorithm;
        assert_eq!(adaptive, "avg-nchw-adaptive-gather");
        assert_eq!(k(Pool2d::global_avg(), nchw).algorithm, "global-nchw-16acc");
        let nhwc = TensorDesc::nhwc(1, 2, 7, 7);
        assert_eq!(
            k(Pool2d::global_max(), nhwc).algorithm,
            "global-nhwc-channels"
        );
        assert_eq!(info.layout, Layout::Nchw);
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

    fn run_guarded(pool: &Pool2d, desc: TensorDesc, rng: &mut Rng) {
        let len = desc.min_len().unwrap();
        let mut g = Guarded::new(len);
        let x = g.slice();
        x.copy_from_slice(&values(rng, len));
        check(pool, desc, x, "guarded");
    }

    #[test]
    fn reads_stay_inside_the_input() {
        let mut rng = Rng(0x9a4d);
        for w in 1..=40 {
            for (k, s, p) in [
                (2, 2, 0),
                (3, 2, 1),
                (3, 1, 1),
                (2, 1, 0),
                (3, 3, 0),
                (3, 2, 0),
            ] {
                if w + 2 * p < k {
                    continue;
                }
                let pool = Pool2d::avg(k).stride(s).padding(p).ceil_mode(w % 3 == 0);
                run_guarded(&pool, TensorDesc::nchw(1, 2, 3, w), &mut rng);
            }
            run_guarded(
                &Pool2d::global_avg(),
                TensorDesc::nchw(1, 3, 1, w),
                &mut rng,
            );
            run_guarded(
                &Pool2d::global_max(),
                TensorDesc::nchw(1, 3, 1, w),
                &mut rng,
            );
            run_guarded(
                &Pool2d::global_avg(),
                TensorDesc::nhwc(1, w, 2, 3),
                &mut rng,
            );
            run_guarded(
                &Pool2d::global_max(),
                TensorDesc::nhwc(1, w, 2, 3),
                &mut rng,
            );
            let strided = TensorDesc::nhwc(1, w, 2, 3).with_pixel_stride(w + 3);
            run_guarded(&Pool2d::global_max(), strided, &mut rng);
            run_guarded(
                &Pool2d::adaptive_avg((2, 3)),
                TensorDesc::nchw(1, 2, 3, w),
                &mut rng,
            );
        }
    }
}
