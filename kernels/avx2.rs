//! The AVX2 tier (with FMA): 8 f32 lanes.

use core::arch::x86_64::*;

use super::vector::Simd;

/// Token proving AVX2 and FMA.
#[derive(Clone, Copy)]
pub struct Avx2(());

impl Avx2 {
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[inline(always)]
    pub unsafe fn new_unchecked() -> Self {
        Avx2(())
    }
}

super::simd_tier!(crate::tier::Tier::Avx2, Avx2, "avx2,fma");

/// True when the CPU has AVX2 and FMA.
pub(crate) fn detected() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

/// Lanes `< n` set (as the sign bits maskload/maskstore read).
#[inline(always)]
fn lane_mask(_: Avx2, n: usize) -> __m256i {
    // SAFETY: the token proves AVX2; value intrinsics only.
    unsafe {
        let iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n.min(8) as i32), iota)
    }
}

/// Lanes `k` of a vector loaded from `p + at` whose element `p[at + k]` lies in `p[0 .. lim)`
/// (as the sign bits maskload reads).
#[inline(always)]
fn clip_mask(_: Avx2, lim: usize, at: isize) -> __m256i {
    // (lim <= isize::MAX / 4: it bounds a slice of f32; |at| is bounded by a window.)
    let lo = at.wrapping_neg().clamp(0, 8) as i32;
    let hi = (lim as isize).wrapping_sub(at).clamp(0, 8) as i32;
    // SAFETY: the token proves AVX2; value intrinsics only.
    unsafe {
        let iota = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_andnot_si256(
            _mm256_cmpgt_epi32(_mm256_set1_epi32(lo), iota),
            _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), iota),
        )
    }
}

/// Evaluates value-only intrinsics (no memory access) in a method of the `Avx2` token.
macro_rules! v {
    ($e:expr) => {
        // SAFETY: a `Avx2` token exists only where the CPU has AVX2 and FMA (it is made by
        // `new_unchecked`, whose callers checked that), and the intrinsics touch no memory.
        unsafe { $e }
    };
}

impl Simd for Avx2 {
    type V = __m256;
    type I = __m256i;
    type M = __m256;
    const LANES: usize = 8;

    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> __m256 {
        // SAFETY: the caller guarantees p..p+8 is readable; loadu has no alignment need.
        unsafe { _mm256_loadu_ps(p) }
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: __m256) {
        // SAFETY: the caller guarantees p..p+8 is writable.
        unsafe { _mm256_storeu_ps(p, v) }
    }
    #[inline(always)]
    unsafe fn load_n(self, p: *const f32, n: usize, fill: f32) -> __m256 {
        let m = lane_mask(self, n);
        // SAFETY: masked-off lanes are not accessed (no fault); the caller guarantees
        // p..p+n is readable; the token proves AVX2.
        unsafe {
            let v = _mm256_maskload_ps(p, m);
            _mm256_blendv_ps(_mm256_set1_ps(fill), v, _mm256_castsi256_ps(m))
        }
    }
    #[inline(always)]
    unsafe fn store_n(self, p: *mut f32, n: usize, v: __m256) {
        // SAFETY: masked-off lanes are not written; the caller guarantees p..p+n is writable.
        unsafe { _mm256_maskstore_ps(p, lane_mask(self, n), v) }
    }
    #[inline(always)]
    unsafe fn load_deinterleave(self, p: *const f32) -> (__m256, __m256) {
        // SAFETY: the caller guarantees p..p+16 is readable.
        // The token proves AVX2.
        unsafe {
            let (a, b) = (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)));
            // [a0 a2 b0 b2 | a4 a6 b4 b6] -> [a0 a2 a4 a6 b0 b2 b4 b6]
            let even = _mm256_shuffle_ps::<0b10_00_10_00>(a, b);
            let odd = _mm256_shuffle_ps::<0b11_01_11_01>(a, b);
            let fix = |v: __m256| {
                _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(v)))
            };
            (fix(even), fix(odd))
        }
    }
    #[inline(always)]
    unsafe fn istore(self, p: *mut u32, v: __m256i) {
        // SAFETY: the caller guarantees p..p+8 is writable.
        unsafe { _mm256_storeu_si256(p.cast(), v) }
    }
    #[inline(always)]
    unsafe fn istore_n(self, p: *mut u32, n: usize, v: __m256i) {
        // SAFETY: masked-off lanes are not written; the caller guarantees p..p+n is writable.
        unsafe { _mm256_maskstore_epi32(p.cast(), lane_mask(self, n), v) }
    }
    #[inline(always)]
    fn splat(self, x: f32) -> __m256 {
        v!(_mm256_set1_ps(x))
    }
    #[inline(always)]
    fn max(self, a: __m256, acc: __m256) -> __m256 {
        v!(_mm256_max_ps(a, acc))
    }
    #[inline(always)]
    fn add(self, a: __m256, b: __m256) -> __m256 {
        v!(_mm256_add_ps(a, b))
    }
    #[inline(always)]
    fn mul(self, a: __m256, b: __m256) -> __m256 {
        v!(_mm256_mul_ps(a, b))
    }
    #[inline(always)]
    fn div(self, a: __m256, b: __m256) -> __m256 {
        v!(_mm256_div_ps(a, b))
    }
    #[inline(always)]
    fn gt(self, a: __m256, b: __m256) -> __m256 {
        v!(_mm256_cmp_ps::<_CMP_GT_OQ>(a, b))
    }
    #[inline(always)]
    fn first(self, v: __m256) -> f32 {
        v!(_mm256_cvtss_f32(v))
    }
    #[inline(always)]
    fn permute2(self, a: __m256, b: __m256, idx: __m256i) -> __m256 {
        // vpermps uses the low 3 bits of each index; bit 3 picks the source.
        let (pa, pb) = (
            v!(_mm256_permutevar8x32_ps(a, idx)),
            v!(_mm256_permutevar8x32_ps(b, idx)),
        );
        let from_b = v!(_mm256_castsi256_ps(_mm256_slli_epi32::<28>(idx)));
        v!(_mm256_blendv_ps(pa, pb, from_b))
    }
    #[inline(always)]
    fn shift_in(self, prev: __m256, v: __m256) -> __m256 {
        // Rotate both up one lane, then take lane 0 from prev.
        let up = v!(_mm256_setr_epi32(7, 0, 1, 2, 3, 4, 5, 6));
        let (a, b) = (
            v!(_mm256_permutevar8x32_ps(v, up)),
            v!(_mm256_permutevar8x32_ps(prev, up)),
        );
        v!(_mm256_blend_ps::<1>(a, b))
    }
    #[inline(always)]
    fn is_nan(self, a: __m256) -> __m256 {
        v!(_mm256_cmp_ps::<_CMP_UNORD_Q>(a, a))
    }
    #[inline(always)]
    fn or(self, a: __m256, b: __m256) -> __m256 {
        v!(_mm256_or_ps(a, b))
    }
    #[inline(always)]
    fn none(self) -> __m256 {
        v!(_mm256_setzero_ps())
    }
    #[inline(always)]
    fn any(self, m: __m256) -> bool {
        v!(_mm256_movemask_ps(m) != 0)
    }
    #[inline(always)]
    fn select(self, m: __m256, a: __m256, b: __m256) -> __m256 {
        v!(_mm256_blendv_ps(b, a, m))
    }
    #[inline(always)]
    fn isplat(self, x: u32) -> __m256i {
        v!(_mm256_set1_epi32(x as i32))
    }
    #[inline(always)]
    fn iadd(self, a: __m256i, b: __m256i) -> __m256i {
        v!(_mm256_add_epi32(a, b))
    }
    #[inline(always)]
    fn iota(self, step: u32) -> __m256i {
        v!({
            _mm256_mullo_epi32(
                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                _mm256_set1_epi32(step as i32),
            )
        })
    }
    #[inline(always)]
    fn iselect(self, m: __m256, a: __m256i, b: __m256i) -> __m256i {
        v!({
            _mm256_castps_si256(_mm256_blendv_ps(
                _mm256_castsi256_ps(b),
                _mm256_castsi256_ps(a),
                m,
            ))
        })
    }
    #[inline(always)]
    unsafe fn iload(self, p: *const u32) -> __m256i {
        // SAFETY: the caller guarantees p..p+8 is readable; loadu has no alignment need.
        unsafe { _mm256_loadu_si256(p.cast()) }
    }
    #[inline(always)]
    unsafe fn load_deinterleave_n(self, p: *const f32, n: usize, fill: f32) -> (__m256, __m256) {
        let f = self.splat(fill);
        // SAFETY: masked-off lanes are not accessed (no fault); the caller guarantees p..p+n is
        // readable, and the second half is only touched when n > 8. The token proves AVX2.
        unsafe {
            let ma = lane_mask(self, n);
            let a = _mm256_blendv_ps(f, _mm256_maskload_ps(p, ma), _mm256_castsi256_ps(ma));
            let b = if n > 8 {
                let mb = lane_mask(self, n - 8);
                let b = _mm256_maskload_ps(p.add(8), mb);
                _mm256_blendv_ps(f, b, _mm256_castsi256_ps(mb))
            } else {
                f
            };
            // As in load_deinterleave.
            let even = _mm256_shuffle_ps::<0b10_00_10_00>(a, b);
            let odd = _mm256_shuffle_ps::<0b11_01_11_01>(a, b);
            (
                _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(
                    even,
                ))),
                _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(
                    odd,
                ))),
            )
        }
    }
    #[inline(always)]
    fn unord(self, a: __m256, b: __m256) -> __m256 {
        v!(_mm256_cmp_ps::<_CMP_UNORD_Q>(a, b))
    }
    #[inline(always)]
    unsafe fn load_clip(self, p: *const f32, lim: usize, at: isize, fill: f32) -> __m256 {
        let m = clip_mask(self, lim, at);
        // SAFETY: only the lanes whose element lies in p[0 .. lim) (readable, caller) are
        // accessed; masked-off lanes are not (no fault), so the wrapping address of the others
        // is never dereferenced. The token proves AVX2.
        unsafe {
            let v = _mm256_maskload_ps(p.wrapping_offset(at), m);
            _mm256_blendv_ps(_mm256_set1_ps(fill), v, _mm256_castsi256_ps(m))
        }
    }
    #[inline(always)]
    unsafe fn load_deinterleave_clip(
        self,
        p: *const f32,
        lim: usize,
        at: isize,
        fill: f32,
    ) -> (__m256, __m256) {
        // SAFETY: as load_clip, for the window's two halves at `at` and `at + 8`.
        unsafe {
            let a = self.load_clip(p, lim, at, fill);
            let b = self.load_clip(p, lim, at + 8, fill);
            // As in load_deinterleave.
            let even = _mm256_shuffle_ps::<0b10_00_10_00>(a, b);
            let odd = _mm256_shuffle_ps::<0b11_01_11_01>(a, b);
            (
                _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(
                    even,
                ))),
                _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(
                    odd,
                ))),
            )
        }
    }
}
