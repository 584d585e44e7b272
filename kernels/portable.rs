//! The portable tier: `wide`'s 4-lane vectors, compiled for the build target's baseline (SSE2 on
//! x86-64, NEON on aarch64, plain scalar code elsewhere). Used on every architecture; the
//! hand-written tiers beat it where they exist.

use wide::{f32x4, u32x4};

use super::vector::Simd;

/// Token for the portable tier (needs nothing beyond the build target).
#[derive(Clone, Copy)]
pub struct Portable(());

impl Portable {
    /// # Safety
    /// Always sound: the portable tier uses only the build target's own features. `unsafe`
    /// only for symmetry with the other tiers' tokens.
    #[inline(always)]
    pub unsafe fn new_unchecked() -> Self {
        Portable(())
    }
}

super::simd_tier!(crate::tier::Tier::Portable, Portable);

/// The portable tier runs everywhere.
pub(crate) fn detected() -> bool {
    true
}

impl Simd for Portable {
    type V = f32x4;
    type I = u32x4;
    type M = f32x4;
    const LANES: usize = 4;

    #[inline(always)]
    unsafe fn load(self, p: *const f32) -> f32x4 {
        // SAFETY: the caller guarantees p..p+4 is readable; read_unaligned has no alignment need.
        f32x4::new(unsafe { core::ptr::read_unaligned(p.cast::<[f32; 4]>()) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32, v: f32x4) {
        // SAFETY: the caller guarantees p..p+4 is writable.
        unsafe { core::ptr::write_unaligned(p.cast::<[f32; 4]>(), v.to_array()) }
    }
    #[inline(always)]
    unsafe fn load_n(self, p: *const f32, n: usize, fill: f32) -> f32x4 {
        let mut buf = [fill; 4];
        // SAFETY: the caller guarantees p..p+n is readable; n < 4 fits buf.
        unsafe { core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n.min(4)) };
        f32x4::new(buf)
    }
    #[inline(always)]
    unsafe fn store_n(self, p: *mut f32, n: usize, v: f32x4) {
        let buf = v.to_array();
        // SAFETY: the caller guarantees p..p+n is writable; n <= 4.
        unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr(), p, n.min(4)) }
    }
    #[inline(always)]
    unsafe fn load_deinterleave(self, p: *const f32) -> (f32x4, f32x4) {
        // SAFETY: the caller guarantees p..p+8 is readable.
        let a: [f32; 8] = unsafe { core::ptr::read_unaligned(p.cast::<[f32; 8]>()) };
        (
            f32x4::new([a[0], a[2], a[4], a[6]]),
            f32x4::new([a[1], a[3], a[5], a[7]]),
        )
    }
    #[inline(always)]
    unsafe fn istore(self, p: *mut u32, v: u32x4) {
        // SAFETY: the caller guarantees p..p+4 is writable.
        unsafe { core::ptr::write_unaligned(p.cast::<[u32; 4]>(), v.to_array()) }
    }
    #[inline(always)]
    unsafe fn istore_n(self, p: *mut u32, n: usize, v: u32x4) {
        let buf = v.to_array();
        // SAFETY: the caller guarantees p..p+n is writable; n <= 4.
        unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr(), p, n.min(4)) }
    }
    #[inline(always)]
    fn splat(self, x: f32) -> f32x4 {
        f32x4::splat(x)
    }
    #[inline(always)]
    fn max(self, a: f32x4, acc: f32x4) -> f32x4 {
        a.simd_gt(acc).bitselect(a, acc)
    }
    #[inline(always)]
    fn add(self, a: f32x4, b: f32x4) -> f32x4 {
        a + b
    }
    #[inline(always)]
    fn mul(self, a: f32x4, b: f32x4) -> f32x4 {
        a * b
    }
    #[inline(always)]
    fn div(self, a: f32x4, b: f32x4) -> f32x4 {
        a / b
    }
    #[inline(always)]
    fn gt(self, a: f32x4, b: f32x4) -> f32x4 {
        a.simd_gt(b)
    }
    #[inline(always)]
    fn shift_in(self, prev: f32x4, v: f32x4) -> f32x4 {
        let (p, a) = (prev.to_array(), v.to_array());
        f32x4::new([p[3], a[0], a[1], a[2]])
    }
    #[inline(always)]
    fn is_nan(self, a: f32x4) -> f32x4 {
        a.is_nan()
    }
    #[inline(always)]
    fn or(self, a: f32x4, b: f32x4) -> f32x4 {
        a | b
    }
    #[inline(always)]
    fn none(self) -> f32x4 {
        f32x4::splat(0.0)
    }
    #[inline(always)]
    fn any(self, m: f32x4) -> bool {
        m.any()
    }
    #[inline(always)]
    fn select(self, m: f32x4, a: f32x4, b: f32x4) -> f32x4 {
        m.bitselect(a, b)
    }
    #[inline(always)]
    fn isplat(self, x: u32) -> u32x4 {
        u32x4::splat(x)
    }
    #[inline(always)]
    fn iadd(self, a: u32x4, b: u32x4) -> u32x4 {
        a + b
    }
    #[inline(always)]
    fn iota(self, step: u32) -> u32x4 {
        u32x4::new([0, step, step.wrapping_mul(2), step.wrapping_mul(3)])
    }
    #[inline(always)]
    fn iselect(self, m: f32x4, a: u32x4, b: u32x4) -> u32x4 {
        m.to_bits().bitselect(a, b)
    }
    #[inline(always)]
    unsafe fn iload(self, p: *const u32) -> u32x4 {
        // SAFETY: the caller guarantees p..p+4 is readable; read_unaligned has no alignment need.
        u32x4::new(unsafe { core::ptr::read_unaligned(p.cast::<[u32; 4]>()) })
    }
    #[inline(always)]
    unsafe fn load_deinterleave_n(self, p: *const f32, n: usize, fill: f32) -> (f32x4, f32x4) {
        let mut a = [fill; 8];
        // SAFETY: the caller guarantees p..p+n is readable; n is capped to 8, a's length.
        unsafe { core::ptr::copy_nonoverlapping(p, a.as_mut_ptr(), n.min(8)) };
        (
            f32x4::new([a[0], a[2], a[4], a[6]]),
            f32x4::new([a[1], a[3], a[5], a[7]]),
        )
    }
}
