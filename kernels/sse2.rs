//! The SSE2 tier (the x86-64 baseline): 4 f32 lanes.

use core::arch::x86_64::*;

use super::vector::Simd;

/// Token proving SSE2 (always present on x86-64).
#[derive(Clone, Copy)]
pub struct Sse2(());

impl Sse2 {
    /// # Safety
    /// The CPU must support SSE2 (every x86-64 CPU does).
    #[inline(always)]
    pub unsafe fn new_unchecked() -> Self {
        Sse2(())
    }
}

super::simd_tier!(crate::tier::Tier::Sse2, Sse2, "sse2");

/// SSE2 is part of x86-64.
pub(crate) fn detected() -> bool {
    true
}

/// Evaluates value-only intrinsics (no memory access) in a method of the `Sse2` token.
macro_rules! v {
    ($e:expr) => {
        // SAFETY: a `Sse2` token exists only where the CPU has SSE2 (every x86-64 CPU), and
        // the intrinsics touch no memory.
        unsafe { $e }
    };
}

impl Simd for Sse2 {
    type V = __m128;
    type I = __m128i;
    type M = __m128;
    const LANES: usize = 4;

    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> __m128 {
        // SAFETY: the caller guarantees p..p+4 is readable; loadu has no alignment need.
        unsafe { _mm_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: __m128) {
        // SAFETY: the caller guarantees p..p+4 is writable.
        unsafe { _mm_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn load_n(self, p: *const f32, n: usize, fill: f32) -> __m128 {
        let mut buf = [fill; 4];
        // SAFETY: the caller guarantees p..p+n is readable, n < 4 fits buf.
        unsafe { core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n.min(4)) };
        // SAFETY: buf holds 4 elements.
        unsafe { _mm_loadu_ps(buf.as_ptr()) }
    }
    #[inline(always)]
    unsafe fn store_n(self, p: *mut f32, n: usize, v: __m128) {
        let mut buf = [0.0f32; 4];
        // SAFETY: buf holds 4 elements; the caller guarantees p..p+n is writable.
        unsafe {
            _mm_storeu_ps(buf.as_mut_ptr(), v);
            core::ptr::copy_nonoverlapping(buf.as_ptr(), p, n.min(4));
        }
    }
    #[inline(always)]
    unsafe fn load_deinterleave(self, p: *const f32) -> (__m128, __m128) {
        // SAFETY: the caller guarantees p..p+8 is readable.
        unsafe {
            let (a, b) = (_mm_loadu_ps(p), _mm_loadu_ps(p.add(4)));
            (
                _mm_shuffle_ps::<0b10_00_10_00>(a, b),
                _mm_shuffle_ps::<0b11_01_11_01>(a, b),
            )
        }
    }
    #[inline(always)]
    unsafe fn istore(self, p: *mut u32, v: __m128i) {
        // SAFETY: the caller guarantees p..p+4 is writable.
        unsafe { _mm_storeu_si128(p.cast(), v) }
    }
    #[inline(always)]
    unsafe fn istore_n(self, p: *mut u32, n: usize, v: __m128i) {
        let mut buf = [0u32; 4];
        // SAFETY: buf holds 4 elements; the caller guarantees p..p+n is writable.
        unsafe {
            _mm_storeu_si128(buf.as_mut_ptr().cast(), v);
            core::ptr::copy_nonoverlapping(buf.as_ptr(), p, n.min(4));
        }
    }
    #[inline(always)]
    fn splat(self, x: f32) -> __m128 {
        v!(_mm_set1_ps(x))
    }
    #[inline(always)]
    fn max(self, a: __m128, acc: __m128) -> __m128 {
        v!(_mm_max_ps(a, acc))
    }
    #[inline(always)]
    fn add(self, a: __m128, b: __m128) -> __m128 {
        v!(_mm_add_ps(a, b))
    }
    #[inline(always)]
    fn mul(self, a: __m128, b: __m128) -> __m128 {
        v!(_mm_mul_ps(a, b))
    }
    #[inline(always)]
    fn div(self, a: __m128, b: __m128) -> __m128 {
        v!(_mm_div_ps(a, b))
    }
    #[inline(always)]
    fn gt(self, a: __m128, b: __m128) -> __m128 {
        v!(_mm_cmpgt_ps(a, b))
    }
    #[inline(always)]
    fn shift_in(self, prev: __m128, v: __m128) -> __m128 {
        // Bytes up: v by one lane, prev's last lane down to lane 0.
        let (a, b) = (
            v!(_mm_slli_si128::<4>(_mm_castps_si128(v))),
            v!(_mm_srli_si128::<12>(_mm_castps_si128(prev))),
        );
        v!(_mm_castsi128_ps(_mm_or_si128(a, b)))
    }
    #[inline(always)]
    fn is_nan(self, a: __m128) -> __m128 {
        v!(_mm_cmpunord_ps(a, a))
    }
    #[inline(always)]
    fn or(self, a: __m128, b: __m128) -> __m128 {
        v!(_mm_or_ps(a, b))
    }
    #[inline(always)]
    fn none(self) -> __m128 {
        v!(_mm_setzero_ps())
    }
    #[inline(always)]
    fn any(self, m: __m128) -> bool {
        v!(_mm_movemask_ps(m) != 0)
    }
    #[inline(always)]
    fn select(self, m: __m128, a: __m128, b: __m128) -> __m128 {
        v!(_mm_or_ps(_mm_and_ps(m, a), _mm_andnot_ps(m, b)))
    }
    #[inline(always)]
    fn isplat(self, x: u32) -> __m128i {
        v!(_mm_set1_epi32(x as i32))
    }
    #[inline(always)]
    fn iadd(self, a: __m128i, b: __m128i) -> __m128i {
        v!(_mm_add_epi32(a, b))
    }
    #[inline(always)]
    fn iota(self, step: u32) -> __m128i {
        v!({
            let s = step as i32;
            _mm_setr_epi32(0, s, s.wrapping_mul(2), s.wrapping_mul(3))
        })
    }
    #[inline(always)]
    fn iselect(self, m: __m128, a: __m128i, b: __m128i) -> __m128i {
        v!({
            let m = _mm_castps_si128(m);
            _mm_or_si128(_mm_and_si128(m, a), _mm_andnot_si128(m, b))
        })
    }
    #[inline(always)]
    unsafe fn iload(self, p: *const u32) -> __m128i {
        // SAFETY: the caller guarantees p..p+4 is readable; loadu has no alignment need.
        unsafe { _mm_loadu_si128(p.cast()) }
    }
    #[inline(always)]
    unsafe fn load_deinterleave_n(self, p: *const f32, n: usize, fill: f32) -> (__m128, __m128) {
        let mut buf = [fill; 8];
        // SAFETY: the caller guarantees p..p+n is readable; n is capped to 8, buf's length.
        unsafe {
            core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n.min(8));
            self.load_deinterleave(buf.as_ptr())
        }
    }
    #[inline(always)]
    fn unord(self, a: __m128, b: __m128) -> __m128 {
        v!(_mm_cmpunord_ps(a, b))
    }
}
