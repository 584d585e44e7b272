//! The vector operations the generic kernels are written over.
//!
//! A tier implements [`Simd`] on a zero-sized token type. Holding a token proves the CPU has the
//! tier's instructions: tokens are made only by `new_unchecked` inside the tier's
//! `#[target_feature]` entry points (whose callers checked the CPU), so the value operations are
//! safe methods. Loads and stores take raw pointers and stay `unsafe`. Every method is
//! `#[inline(always)]`, so the generic kernels inline into the tier's `#[target_feature]`
//! function and compile to that tier's instructions.

/// Kernel code that [`Frame::frame`] runs in a function of its own.
///
/// Implementations are `#[inline(always)]` and only forward their fields to a generic kernel:
/// the code then inlines into the function `frame` makes for it, which carries the tier's
/// features.
pub trait Body<S> {
    /// What the code returns.
    type Out;
    /// The code.
    fn run(self, s: S) -> Self::Out;
}

/// Runs [`Body`]s in functions of their own, compiled with the tier's features (made by
/// `simd_tier!`).
///
/// The generic kernels inline everything into the tier's entry points; a kernel instantiation
/// framed this way becomes a function of its own instead. The optimizer's time grows faster than
/// the size of a function, so the crate builds several times faster in pieces, and each
/// instantiation's stack area lives only while it runs.
pub trait Frame: Copy {
    /// Runs `b` in a function of its own (never inlined) with the tier's features.
    fn frame<B: Body<Self>>(self, b: B) -> B::Out;
}

/// One SIMD tier: `LANES` f32 lanes (`V`), as many u32 lanes (`I`) and a lane mask (`M`).
pub trait Simd: Frame {
    /// f32 vector.
    type V: Copy;
    /// u32 vector with the same lane count.
    type I: Copy;
    /// Per-lane mask.
    type M: Copy;
    /// Lanes per vector.
    const LANES: usize;
    /// Architectural vector registers (sizes register-blocked loops: 16 unless overridden).
    const REGS: usize = 16;
    /// A step under a lane mask (`select(m, max(a, b), b)`) is one instruction (AVX-512's mask
    /// registers): schemes that mask most of their steps pay off only then.
    const MASKED_STEPS: bool = false;

    /// Loads `LANES` elements from `p` (any alignment).
    ///
    /// # Safety
    /// `p..p + LANES` must be readable.
    unsafe fn load(self, p: *const f32) -> Self::V;
    /// Stores `LANES` elements to `p` (any alignment).
    ///
    /// # Safety
    /// `p..p + LANES` must be writable.
    unsafe fn store(self, p: *mut f32, v: Self::V);
    /// Loads `n < LANES` elements; the other lanes are `fill`. Reads nothing past `p + n`.
    ///
    /// # Safety
    /// `p..p + n` must be readable.
    unsafe fn load_n(self, p: *const f32, n: usize, fill: f32) -> Self::V;
    /// Stores the first `n <= LANES` lanes. Writes nothing past `p + n`.
    ///
    /// # Safety
    /// `p..p + n` must be writable.
    unsafe fn store_n(self, p: *mut f32, n: usize, v: Self::V);
    /// Loads `2·LANES` elements and splits them into (even, odd) positions.
    ///
    /// # Safety
    /// `p..p + 2·LANES` must be readable.
    unsafe fn load_deinterleave(self, p: *const f32) -> (Self::V, Self::V);
    /// Stores `LANES` indices.
    ///
    /// # Safety
    /// `p..p + LANES` must be writable.
    unsafe fn istore(self, p: *mut u32, v: Self::I);
    /// Stores the first `n <= LANES` indices.
    ///
    /// # Safety
    /// `p..p + n` must be writable.
    unsafe fn istore_n(self, p: *mut u32, n: usize, v: Self::I);

    /// Every lane `x`.
    fn splat(self, x: f32) -> Self::V;
    /// `a > acc ? a : acc` per lane: PyTorch's rule without NaN (ties and ±0 keep `acc`; a NaN
    /// in either operand gives `acc`). This is x86 `maxps(a, acc)`.
    fn max(self, a: Self::V, acc: Self::V) -> Self::V;
    /// `a + b`.
    fn add(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a · b`.
    fn mul(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a / b` (IEEE division).
    fn div(self, a: Self::V, b: Self::V) -> Self::V;
    /// `a > b` (false with NaN).
    fn gt(self, a: Self::V, b: Self::V) -> Self::M;
    /// Lanes that are NaN.
    fn is_nan(self, a: Self::V) -> Self::M;
    /// `a | b`.
    fn or(self, a: Self::M, b: Self::M) -> Self::M;
    /// No lane set.
    fn none(self) -> Self::M;
    /// Any lane set.
    fn any(self, m: Self::M) -> bool;
    /// `m ? a : b` per lane.
    fn select(self, m: Self::M, a: Self::V, b: Self::V) -> Self::V;
    /// Every lane `x`.
    fn isplat(self, x: u32) -> Self::I;
    /// `a + b` (wrapping).
    fn iadd(self, a: Self::I, b: Self::I) -> Self::I;
    /// Lane `k` holds `k·step`.
    fn iota(self, step: u32) -> Self::I;
    /// `m ? a : b` per lane.
    fn iselect(self, m: Self::M, a: Self::I, b: Self::I) -> Self::I;

    /// PyTorch's max step: `a > acc || isnan(a) ? a : acc`.
    #[inline(always)]
    fn max_exact(self, a: Self::V, acc: Self::V) -> Self::V {
        let take = self.or(self.gt(a, acc), self.is_nan(a));
        self.select(take, a, acc)
    }

    /// Loads `LANES` indices from `p` (any alignment).
    ///
    /// The default builds the vector lane by lane (correct, slow); every tier overrides it with
    /// one vector load.
    ///
    /// # Safety
    /// `p..p + LANES` must be readable.
    #[inline(always)]
    unsafe fn iload(self, p: *const u32) -> Self::I {
        let mut acc = self.isplat(0);
        for k in 0..Self::LANES {
            let mut one_hot = [0.0f32; 64];
            one_hot[k] = 1.0;
            // SAFETY: one_hot holds 64 >= LANES elements.
            let lane = self.gt(unsafe { self.load(one_hot.as_ptr()) }, self.splat(0.5));
            // SAFETY: k < LANES and the caller guarantees p..p + LANES is readable.
            acc = self.iselect(lane, self.isplat(unsafe { *p.add(k) }), acc);
        }
        acc
    }
    /// [`load_deinterleave`](Self::load_deinterleave) of the first `n < 2·LANES` elements at
    /// `p`, the missing ones being `fill`. Reads nothing past `p + n`.
    ///
    /// # Safety
    /// `p..p + n` must be readable.
    #[inline(always)]
    unsafe fn load_deinterleave_n(self, p: *const f32, n: usize, fill: f32) -> (Self::V, Self::V) {
        let mut buf = [fill; 128];
        // SAFETY: the caller guarantees p..p + n is readable; n is capped to 2·LANES <= 128.
        unsafe {
            core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n.min(2 * Self::LANES));
            self.load_deinterleave(buf.as_ptr())
        }
    }
    /// `[prev[LANES − 1], v[0], .., v[LANES − 2]]`: `v` moved up one lane with the last lane of
    /// `prev` shifted in (the element before `v` when the two are consecutive vectors of a row).
    fn shift_in(self, prev: Self::V, v: Self::V) -> Self::V;
    /// Lane `k` is element `idx[k] mod 2·LANES` of the concatenation `[a, b]` (lanes of `a`
    /// first).
    ///
    /// The default goes through the stack (correct, slow); tiers with a two-source permute
    /// override it.
    #[inline(always)]
    fn permute2(self, a: Self::V, b: Self::V, idx: Self::I) -> Self::V {
        let l = Self::LANES;
        let mut both = [0.0f32; 128];
        let mut ix = [0u32; 64];
        let mut out = [0.0f32; 64];
        // SAFETY: both holds 2·LANES <= 128 elements, ix and out LANES <= 64.
        unsafe {
            self.store(both.as_mut_ptr(), a);
            self.store(both.as_mut_ptr().add(l), b);
            self.istore(ix.as_mut_ptr(), idx);
        }
        for k in 0..l {
            out[k] = both[ix[k] as usize % (2 * l)];
        }
        // SAFETY: out holds LANES elements.
        unsafe { self.load(out.as_ptr()) }
    }
    /// Lane 0 of `v`.
    #[inline(always)]
    fn first(self, v: Self::V) -> f32 {
        let mut lane = [0.0f32; 64];
        // SAFETY: lane holds 64 >= LANES elements.
        unsafe { self.store(lane.as_mut_ptr(), v) };
        lane[0]
    }
    /// Lanes where `a` or `b` is NaN (an unordered comparison).
    #[inline(always)]
    fn unord(self, a: Self::V, b: Self::V) -> Self::M {
        self.or(self.is_nan(a), self.is_nan(b))
    }
    /// `LANES` elements of the window `p[at .. at + LANES)` (`at` may be negative), those outside
    /// `p[0 .. lim)` being `fill`. Reads nothing outside `p[0 .. lim)`: border blocks load in
    /// place through it instead of from a padded copy.
    ///
    /// The default handles `at >= 0` with [`load`](Self::load) / [`load_n`](Self::load_n) and
    /// `at < 0` through a stack buffer; tiers with masked loads override it.
    ///
    /// # Safety
    /// `p[0 .. lim)` must be readable.
    #[inline(always)]
    unsafe fn load_clip(self, p: *const f32, lim: usize, at: isize, fill: f32) -> Self::V {
        let l = Self::LANES;
        if at >= 0 {
            let at = at as usize;
            // SAFETY: p[at .. lim) is readable (caller); at most its first L are read.
            return unsafe {
                if at >= lim {
                    self.splat(fill)
                } else if lim - at >= l {
                    self.load(p.add(at))
                } else {
                    self.load_n(p.add(at), lim - at, fill)
                }
            };
        }
        let mut buf = [fill; 64];
        let skip = at.unsigned_abs().min(l);
        let n = lim.min(l - skip);
        // SAFETY: p[0 .. n) lies in p[0 .. lim) (readable, caller) and buf[skip .. skip + n)
        // in buf (skip + n <= L <= 64).
        unsafe {
            core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr().add(skip), n);
            self.load(buf.as_ptr())
        }
    }
    /// [`load_deinterleave`](Self::load_deinterleave) of the window `p[at .. at + 2·LANES)`
    /// (`at` may be negative), elements outside `p[0 .. lim)` being `fill`. Reads nothing
    /// outside `p[0 .. lim)`.
    ///
    /// # Safety
    /// `p[0 .. lim)` must be readable.
    #[inline(always)]
    unsafe fn load_deinterleave_clip(
        self,
        p: *const f32,
        lim: usize,
        at: isize,
        fill: f32,
    ) -> (Self::V, Self::V) {
        let l2 = 2 * Self::LANES;
        if at >= 0 {
            let at = at as usize;
            // SAFETY: p[at .. lim) is readable (caller); at most its first 2L are read.
            return unsafe {
                if at >= lim {
                    (self.splat(fill), self.splat(fill))
                } else if lim - at >= l2 {
                    self.load_deinterleave(p.add(at))
                } else {
                    self.load_deinterleave_n(p.add(at), lim - at, fill)
                }
            };
        }
        let mut buf = [fill; 128];
        let skip = at.unsigned_abs().min(l2);
        let n = lim.min(l2 - skip);
        // SAFETY: p[0 .. n) lies in p[0 .. lim) (readable, caller) and buf[skip .. skip + n)
        // in buf (skip + n <= 2L <= 128).
        unsafe {
            core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr().add(skip), n);
            self.load_deinterleave(buf.as_ptr())
        }
    }
}
