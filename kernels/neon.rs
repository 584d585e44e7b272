//! The NEON tier (aarch64): 4 f32 lanes.
//!
//! `max` is not `vmaxq_f32` (which returns NaN when either operand is NaN) nor `vmaxnmq_f32`
//! (which drops NaN): the trait's rule is x86 `maxps(a, acc)`, `a > acc ? a : acc`, so it is a
//! compare and a bit select. Masks are `uint32x4_t` with all bits of a lane set or clear.

use core::arch::aarch64::*;

use super::vector::Simd;

/// Token proving NEON (part of every aarch64 Linux target, still detected at run time).
#[derive(Clone, Copy)]
pub struct Neon(());

impl Neon {
    /// # Safety
    /// The CPU must support NEON.
    #[inline(always)]
    pub unsafe fn new_unchecked() -> Self {
        Neon(())
    }
}

super::simd_tier!(crate::tier::Tier::Neon, Neon, "neon");

/// True when the CPU has NEON (Advanced SIMD).
pub(crate) fn detected() -> bool {
    std::arch::is_aarch64_feature_detected!("neon")
}

/// Evaluates value-only intrinsics (no memory access) in a method of the `Neon` token.
macro_rules! v {
    ($e:expr) => {
        // SAFETY: a `Neon` token exists only where the CPU has NEON (it is made by
        // `new_unchecked`, whose callers checked that), and the intrinsics touch no memory.
        unsafe { $e }
    };
}

impl Simd for Neon {
    type V = float32x4_t;
    type I = uint32x4_t;
    type M = uint32x4_t;
    const LANES: usize = 4;
    const REGS: usize = 32;

    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> float32x4_t {
        // SAFETY: the caller guarantees p..p+4 is readable; vld1q has no alignment need beyond
        // that of f32.
        unsafe { vld1q_f32(p) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: float32x4_t) {
        // SAFETY: the caller guarantees p..p+4 is writable.
        unsafe { vst1q_f32(p, v) }
    }
    #[inline(always)]
    unsafe fn load_n(self, p: *const f32, n: usize, fill: f32) -> float32x4_t {
        let mut buf = [fill; 4];
        // SAFETY: the caller guarantees p..p+n is readable; at most 4 elements fit buf.
        unsafe { core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n.min(4)) };
        // SAFETY: buf holds 4 elements.
        unsafe { vld1q_f32(buf.as_ptr()) }
    }
    #[inline(always)]
    unsafe fn store_n(self, p: *mut f32, n: usize, v: float32x4_t) {
        let mut buf = [0.0f32; 4];
        // SAFETY: buf holds 4 elements; the caller guarantees p..p+n is writable, n.min(4) of
        // them are written.
        unsafe {
            vst1q_f32(buf.as_mut_ptr(), v);
            core::ptr::copy_nonoverlapping(buf.as_ptr(), p, n.min(4));
        }
    }
    #[inline(always)]
    unsafe fn load_deinterleave(self, p: *const f32) -> (float32x4_t, float32x4_t) {
        // SAFETY: the caller guarantees p..p+8 is readable; vld2q reads exactly 8 elements.
        let pair = unsafe { vld2q_f32(p) };
        (pair.0, pair.1)
    }
    #[inline(always)]
    unsafe fn istore(self, p: *mut u32, v: uint32x4_t) {
        // SAFETY: the caller guarantees p..p+4 is writable.
        unsafe { vst1q_u32(p, v) }
    }
    #[inline(always)]
    unsafe fn istore_n(self, p: *mut u32, n: usize, v: uint32x4_t) {
        let mut buf = [0u32; 4];
        // SAFETY: buf holds 4 elements; the caller guarantees p..p+n is writable, n.min(4) of
        // them are written.
        unsafe {
            vst1q_u32(buf.as_mut_ptr(), v);
            core::ptr::copy_nonoverlapping(buf.as_ptr(), p, n.min(4));
        }
    }
    #[inline(always)]
    fn splat(self, x: f32) -> float32x4_t {
        v!(vdupq_n_f32(x))
    }
    #[inline(always)]
    fn max(self, a: float32x4_t, acc: float32x4_t) -> float32x4_t {
        // `a > acc ? a : acc`: false for NaN in either operand and for ±0 ties, keeping `acc`.
        v!(vbslq_f32(vcgtq_f32(a, acc), a, acc))
    }
    #[inline(always)]
    fn add(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        v!(vaddq_f32(a, b))
    }
    #[inline(always)]
    fn mul(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        v!(vmulq_f32(a, b))
    }
    #[inline(always)]
    fn div(self, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        v!(vdivq_f32(a, b))
    }
    #[inline(always)]
    fn gt(self, a: float32x4_t, b: float32x4_t) -> uint32x4_t {
        v!(vcgtq_f32(a, b))
    }
    #[inline(always)]
    fn shift_in(self, prev: float32x4_t, v: float32x4_t) -> float32x4_t {
        // ext of prev:v from lane 3: [prev[3], v[0], v[1], v[2]].
        v!(vextq_f32::<3>(prev, v))
    }
    #[inline(always)]
    fn is_nan(self, a: float32x4_t) -> uint32x4_t {
        // x == x is false exactly for NaN.
        v!(vmvnq_u32(vceqq_f32(a, a)))
    }
    #[inline(always)]
    fn or(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        v!(vorrq_u32(a, b))
    }
    #[inline(always)]
    fn none(self) -> uint32x4_t {
        v!(vdupq_n_u32(0))
    }
    #[inline(always)]
    fn any(self, m: uint32x4_t) -> bool {
        v!(vmaxvq_u32(m) != 0)
    }
    #[inline(always)]
    fn select(self, m: uint32x4_t, a: float32x4_t, b: float32x4_t) -> float32x4_t {
        v!(vbslq_f32(m, a, b))
    }
    #[inline(always)]
    fn isplat(self, x: u32) -> uint32x4_t {
        v!(vdupq_n_u32(x))
    }
    #[inline(always)]
    fn iadd(self, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        // vaddq_u32 wraps.
        v!(vaddq_u32(a, b))
    }
    #[inline(always)]
    fn iota(self, step: u32) -> uint32x4_t {
        v!({
            let v = vdupq_n_u32(0);
            let v = vsetq_lane_u32::<1>(step, v);
            let v = vsetq_lane_u32::<2>(step.wrapping_mul(2), v);
            vsetq_lane_u32::<3>(step.wrapping_mul(3), v)
        })
    }
    #[inline(always)]
    fn iselect(self, m: uint32x4_t, a: uint32x4_t, b: uint32x4_t) -> uint32x4_t {
        v!(vbslq_u32(m, a, b))
    }
    #[inline(always)]
    unsafe fn iload(self, p: *const u32) -> uint32x4_t {
        // SAFETY: the caller guarantees p..p+4 is readable.
        unsafe { vld1q_u32(p) }
    }
    #[inline(always)]
    unsafe fn load_deinterleave_n(
        self,
        p: *const f32,
        n: usize,
        fill: f32,
    ) -> (float32x4_t, float32x4_t) {
        let mut buf = [fill; 8];
        // SAFETY: the caller guarantees p..p+n is readable; n is capped to 8, buf's length.
        unsafe {
            core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n.min(8));
            self.load_deinterleave(buf.as_ptr())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Values that exercise every rule: NaNs with payloads and signs, infinities, both zeros,
    /// subnormals, ordinary values.
    const SPECIAL: [f32; 12] = [
        f32::NAN,
        f32::from_bits(0xffc0_1234),
        f32::from_bits(0x7fa0_0001), // signalling NaN
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        1.0,
        -1.5,
        f32::from_bits(1), // smallest subnormal
        f32::MAX,
        3.0,
    ];

    fn token() -> Option<Neon> {
        // SAFETY: only after run-time detection of NEON.
        detected().then(|| unsafe { Neon::new_unchecked() })
    }

    fn to_arr(s: Neon, v: float32x4_t) -> [f32; 4] {
        let mut a = [0.0; 4];
        // SAFETY: a holds 4 elements.
        unsafe { s.store(a.as_mut_ptr(), v) };
        a
    }

    fn to_iarr(s: Neon, v: uint32x4_t) -> [u32; 4] {
        let mut a = [0; 4];
        // SAFETY: a holds 4 elements.
        unsafe { s.istore(a.as_mut_ptr(), v) };
        a
    }

    fn from_arr(s: Neon, a: [f32; 4]) -> float32x4_t {
        // SAFETY: a holds 4 elements.
        unsafe { s.load(a.as_ptr()) }
    }

    /// Every ordered pair of special values, four pairs per vector.
    fn pairs() -> Vec<([f32; 4], [f32; 4])> {
        let all: Vec<(f32, f32)> = SPECIAL
            .iter()
            .flat_map(|&a| SPECIAL.iter().map(move |&b| (a, b)))
            .collect();
        all.chunks(4)
            .map(|c| {
                let mut a = [0.0; 4];
                let mut b = [0.0; 4];
                for (k, &(x, y)) in c.iter().enumerate() {
                    a[k] = x;
                    b[k] = y;
                }
                (a, b)
            })
            .collect()
    }

    fn bits(a: [f32; 4]) -> [u32; 4] {
        a.map(f32::to_bits)
    }

    #[test]
    fn value_ops_match_scalar_rules() {
        let Some(s) = token() else { return };
        for (a, b) in pairs() {
            let (va, vb) = (from_arr(s, a), from_arr(s, b));
            let lanes = |f: fn(f32, f32) -> f32| bits(core::array::from_fn(|k| f(a[k], b[k])));
            assert_eq!(
                bits(to_arr(s, s.max(va, vb))),
                lanes(|x, y| if x > y { x } else { y }),
                "max {a:?} {b:?}"
            );
            assert_eq!(
                bits(to_arr(s, s.max_exact(va, vb))),
                lanes(|x, y| if x > y || x.is_nan() { x } else { y }),
                "max_exact {a:?} {b:?}"
            );
            assert_eq!(bits(to_arr(s, s.add(va, vb))), lanes(|x, y| x + y));
            assert_eq!(bits(to_arr(s, s.div(va, vb))), lanes(|x, y| x / y));
            let gt = to_iarr(s, s.gt(va, vb));
            let nan = to_iarr(s, s.is_nan(va));
            let sel = to_arr(s, s.select(s.gt(va, vb), va, vb));
            for k in 0..4 {
                assert_eq!(gt[k], if a[k] > b[k] { u32::MAX } else { 0 });
                assert_eq!(nan[k], if a[k].is_nan() { u32::MAX } else { 0 });
                let want = if a[k] > b[k] { a[k] } else { b[k] };
                assert_eq!(sel[k].to_bits(), want.to_bits());
            }
            assert_eq!(s.any(s.gt(va, vb)), (0..4).any(|k| a[k] > b[k]));
            assert_eq!(s.any(s.is_nan(va)), a.iter().any(|x| x.is_nan()));
        }
    }

    #[test]
    fn masks_and_indices() {
        let Some(s) = token() else { return };
        assert!(!s.any(s.none()));
        assert_eq!(to_iarr(s, s.iota(3)), [0, 3, 6, 9]);
        assert_eq!(
            to_iarr(s, s.iota(u32::MAX / 2)),
            [
                0,
                u32::MAX / 2,
                u32::MAX - 1,
                (u32::MAX / 2).wrapping_mul(3)
            ]
        );
        assert_eq!(
            to_iarr(s, s.iadd(s.isplat(u32::MAX), s.iota(1))),
            [u32::MAX, 0, 1, 2]
        );
        let m = s.gt(from_arr(s, [1.0, 0.0, 2.0, f32::NAN]), s.splat(0.5));
        assert_eq!(
            to_iarr(s, s.iselect(m, s.isplat(7), s.iota(1))),
            [7, 1, 7, 3]
        );
        let one = s.or(
            s.none(),
            s.gt(from_arr(s, [0.0, 0.0, 0.0, 1.0]), s.splat(0.0)),
        );
        assert!(s.any(one));
    }

    #[test]
    fn memory_ops_stay_in_bounds() {
        let Some(s) = token() else { return };
        let src: [f32; 8] = core::array::from_fn(|k| k as f32);
        // SAFETY: src holds 8 elements.
        let (even, odd) = unsafe { s.load_deinterleave(src.as_ptr()) };
        assert_eq!(to_arr(s, even), [0.0, 2.0, 4.0, 6.0]);
        assert_eq!(to_arr(s, odd), [1.0, 3.0, 5.0, 7.0]);
        for n in 0..4 {
            // A slice of exactly n elements: load_n/store_n must stay inside it (Miri or a
            // sanitizer flags any access past it; the values check the lanes).
            let x: Vec<f32> = (0..n).map(|k| k as f32 + 10.0).collect();
            // SAFETY: x holds n elements.
            let v = unsafe { s.load_n(x.as_ptr(), n, -7.0) };
            let got = to_arr(s, v);
            for (k, &g) in got.iter().enumerate() {
                assert_eq!(g, if k < n { k as f32 + 10.0 } else { -7.0 });
            }
            let mut out = vec![0.0f32; n];
            // SAFETY: out holds n elements.
            unsafe { s.store_n(out.as_mut_ptr(), n, s.splat(5.0)) };
            assert!(out.iter().all(|&y| y == 5.0));
            let mut idx = vec![0u32; n];
            // SAFETY: idx holds n elements.
            unsafe { s.istore_n(idx.as_mut_ptr(), n, s.iota(2)) };
            assert!(idx.iter().enumerate().all(|(k, &i)| i == 2 * k as u32));
        }
        for n in 0..8 {
            let x: Vec<f32> = (0..n).map(|k| k as f32).collect();
            // SAFETY: x holds n elements.
            let (even, odd) = unsafe { s.load_deinterleave_n(x.as_ptr(), n, -1.0) };
            let want = |k: usize| if k < n { k as f32 } else { -1.0 };
            assert_eq!(to_arr(s, even), [0, 2, 4, 6].map(want));
            assert_eq!(to_arr(s, odd), [1, 3, 5, 7].map(want));
        }
        let ids = [5u32, 6, 7, 8];
        // SAFETY: ids holds 4 elements.
        assert_eq!(to_iarr(s, unsafe { s.iload(ids.as_ptr()) }), ids);
        let mut out = [0.0f32; 5];
        // SAFETY: out[..4] is writable; store_n writes 4 lanes.
        unsafe { s.store_n(out.as_mut_ptr(), 4, s.splat(1.0)) };
        assert_eq!(out, [1.0, 1.0, 1.0, 1.0, 0.0]);
    }
}
