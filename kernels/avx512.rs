//! The AVX-512 tier (AVX-512F + BW + VL): 16 f32 lanes, native lane masks.

use core::arch::x86_64::*;

use super::vector::Simd;

/// Token proving AVX-512F, BW and VL (and the AVX2/FMA they imply).
#[derive(Clone, Copy)]
pub struct Avx512(());

impl Avx512 {
    /// # Safety
    /// The CPU must support AVX-512F, AVX-512BW, AVX-512VL, AVX2 and FMA.
    #[inline(always)]
    pub unsafe fn new_unchecked() -> Self {
        Avx512(())
    }
}

super::simd_tier!(
    crate::tier::Tier::Avx512,
    Avx512,
    "avx512f,avx512bw,avx512vl,avx2,fma"
);

/// True when the CPU has AVX-512F, BW and VL.
pub(crate) fn detected() -> bool {
    is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512bw")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx2")
        && is_x86_feature_detected!("fma")
}

#[inline(always)]
fn lane_mask(n: usize) -> __mmask16 {
    if n >= 16 {
        0xffff
    } else {
        ((1u32 << n) - 1) as u16
    }
}

/// Lanes `k` of a vector loaded from `p + at` whose element `p[at + k]` lies in `p[0 .. lim)`.
#[inline(always)]
fn clip_mask(lim: usize, at: isize) -> __mmask16 {
    // (lim <= isize::MAX / 4: it bounds a slice of f32; |at| is bounded by a window.)
    let lo = at.wrapping_neg().clamp(0, 16) as u32;
    let hi = (lim as isize).wrapping_sub(at).clamp(0, 16) as u32;
    ((0xffff_u32 >> (16 - hi)) & (0xffff_u32 << lo)) as __mmask16
}

/// Evaluates value-only intrinsics (no memory access) in a method of the `Avx512` token.
macro_rules! v {
    ($e:expr) => {
        // SAFETY: a `Avx512` token exists only where the CPU has AVX-512F/BW/VL (it is made by
        // `new_unchecked`, whose callers checked that), and the intrinsics touch no memory.
        unsafe { $e }
    };
}

impl Simd for Avx512 {
    type V = __m512;
    type I = __m512i;
    type M = __mmask16;
    const LANES: usize = 16;
    const MASKED_STEPS: bool = true;
    const REGS: usize = 32;

    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> __m512 {
        // SAFETY: the caller guarantees p..p+16 is readable; loadu has no alignment need.
        unsafe { _mm512_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: __m512) {
        // SAFETY: the caller guarantees p..p+16 is writable.
        unsafe { _mm512_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn load_n(self, p: *const f32, n: usize, fill: f32) -> __m512 {
        // SAFETY: masked-off lanes are not accessed (fault suppression); the caller guarantees
        // p..p+n is readable.
        // The token proves AVX-512F.
        unsafe { _mm512_mask_loadu_ps(_mm512_set1_ps(fill), lane_mask(n), p) }
    }
    #[inline(always)]
    unsafe fn store_n(self, p: *mut f32, n: usize, v: __m512) {
        // SAFETY: masked-off lanes are not written; the caller guarantees p..p+n is writable.
        unsafe { _mm512_mask_storeu_ps(p, lane_mask(n), v) }
    }
    #[inline(always)]
    unsafe fn load_deinterleave(self, p: *const f32) -> (__m512, __m512) {
        // SAFETY: the caller guarantees p..p+32 is readable.
        // The token proves AVX-512F.
        unsafe {
            let (a, b) = (_mm512_loadu_ps(p), _mm512_loadu_ps(p.add(16)));
            let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
            (
                _mm512_permutex2var_ps(a, even, b),
                _mm512_permutex2var_ps(a, odd, b),
            )
        }
    }
    #[inline(always)]
    unsafe fn istore(self, p: *mut u32, v: __m512i) {
        // SAFETY: the caller guarantees p..p+16 is writable.
        unsafe { _mm512_storeu_si512(p.cast(), v) }
    }
    #[inline(always)]
    unsafe fn istore_n(self, p: *mut u32, n: usize, v: __m512i) {
        // SAFETY: masked-off lanes are not written; the caller guarantees p..p+n is writable.
        unsafe { _mm512_mask_storeu_epi32(p.cast(), lane_mask(n), v) }
    }
    #[inline(always)]
    fn splat(self, x: f32) -> __m512 {
        v!(_mm512_set1_ps(x))
    }
    #[inline(always)]
    fn max(self, a: __m512, acc: __m512) -> __m512 {
        v!(_mm512_max_ps(a, acc))
    }
    #[inline(always)]
    fn add(self, a: __m512, b: __m512) -> __m512 {
        v!(_mm512_add_ps(a, b))
    }
    #[inline(always)]
    fn mul(self, a: __m512, b: __m512) -> __m512 {
        v!(_mm512_mul_ps(a, b))
    }
    #[inline(always)]
    fn div(self, a: __m512, b: __m512) -> __m512 {
        v!(_mm512_div_ps(a, b))
    }
    #[inline(always)]
    fn gt(self, a: __m512, b: __m512) -> __mmask16 {
        v!(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(a, b))
    }
    #[inline(always)]
    fn shift_in(self, prev: __m512, v: __m512) -> __m512 {
        // valignd over v:prev by 15 lanes: [prev[15], v[0..15]].
        v!(_mm512_castsi512_ps(_mm512_alignr_epi32::<15>(
            _mm512_castps_si512(v),
            _mm512_castps_si512(prev)
        )))
    }
    #[inline(always)]
    fn permute2(self, a: __m512, b: __m512, idx: __m512i) -> __m512 {
        // vpermt2ps uses the low 5 bits of each index: element idx mod 32 of [a, b].
        v!(_mm512_permutex2var_ps(a, idx, b))
    }
    #[inline(always)]
    fn first(self, v: __m512) -> f32 {
        v!(_mm512_cvtss_f32(v))
    }
    #[inline(always)]
    fn is_nan(self, a: __m512) -> __mmask16 {
        v!(_mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, a))
    }
    #[inline(always)]
    fn or(self, a: __mmask16, b: __mmask16) -> __mmask16 {
        a | b
    }
    #[inline(always)]
    fn none(self) -> __mmask16 {
        0
    }
    #[inline(always)]
    fn any(self, m: __mmask16) -> bool {
        m != 0
    }
    #[inline(always)]
    fn select(self, m: __mmask16, a: __m512, b: __m512) -> __m512 {
        v!(_mm512_mask_blend_ps(m, b, a))
    }
    #[inline(always)]
    fn isplat(self, x: u32) -> __m512i {
        v!(_mm512_set1_epi32(x as i32))
    }
    #[inline(always)]
    fn iadd(self, a: __m512i, b: __m512i) -> __m512i {
        v!(_mm512_add_epi32(a, b))
    }
    #[inline(always)]
    fn iota(self, step: u32) -> __m512i {
        v!({
            _mm512_mullo_epi32(
                _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                _mm512_set1_epi32(step as i32),
            )
        })
    }
    #[inline(always)]
    fn iselect(self, m: __mmask16, a: __m512i, b: __m512i) -> __m512i {
        v!(_mm512_mask_blend_epi32(m, b, a))
    }
    #[inline(always)]
    unsafe fn iload(self, p: *const u32) -> __m512i {
        // SAFETY: the caller guarantees p..p+16 is readable; loadu has no alignment need.
        unsafe { _mm512_loadu_si512(p.cast()) }
    }
    #[inline(always)]
    unsafe fn load_deinterleave_n(self, p: *const f32, n: usize, fill: f32) -> (__m512, __m512) {
        // SAFETY: masked-off lanes are not accessed (fault suppression); the caller guarantees
        // p..p+n is readable, and the second half is only addressed when n > 16.
        // The token proves AVX-512F.
        unsafe {
            let f = _mm512_set1_ps(fill);
            let a = _mm512_mask_loadu_ps(f, lane_mask(n), p);
            let b = if n > 16 {
                _mm512_mask_loadu_ps(f, lane_mask(n - 16), p.add(16))
            } else {
                f
            };
            let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
            (
                _mm512_permutex2var_ps(a, even, b),
                _mm512_permutex2var_ps(a, odd, b),
            )
        }
    }
    #[inline(always)]
    fn unord(self, a: __m512, b: __m512) -> __mmask16 {
        v!(_mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a, b))
    }
    #[inline(always)]
    unsafe fn load_clip(self, p: *const f32, lim: usize, at: isize, fill: f32) -> __m512 {
        // SAFETY: only the lanes whose element lies in p[0 .. lim) (readable, caller) are
        // accessed; masked-off lanes are not (fault suppression), so the wrapping address of
        // the others is never dereferenced. The token proves AVX-512F.
        unsafe {
            _mm512_mask_loadu_ps(
                _mm512_set1_ps(fill),
                clip_mask(lim, at),
                p.wrapping_offset(at),
            )
        }
    }
    #[inline(always)]
    unsafe fn load_deinterleave_clip(
        self,
        p: *const f32,
        lim: usize,
        at: isize,
        fill: f32,
    ) -> (__m512, __m512) {
        // SAFETY: as load_clip, for the window's two halves at `at` and `at + 16`.
        unsafe {
            let f = _mm512_set1_ps(fill);
            let a = _mm512_mask_loadu_ps(f, clip_mask(lim, at), p.wrapping_offset(at));
            let b = _mm512_mask_loadu_ps(f, clip_mask(lim, at + 16), p.wrapping_offset(at + 16));
            let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
            (
                _mm512_permutex2var_ps(a, even, b),
                _mm512_permutex2var_ps(a, odd, b),
            )
        }
    }
}
