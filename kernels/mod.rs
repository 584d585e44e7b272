//! Kernels: one module per tier, and the table through which the planner reaches them.
//!
//! Every `unsafe` block and every `#[target_feature]` function of the crate lives under this
//! folder. The planner in `src/` hands kernels a [`WindowGeom`] it has validated and slices whose
//! lengths the job's `check` method asserts against that geometry, so a kernel reads and writes
//! only inside the slices it was given.
//!
//! * `scalar.rs`: the scalar tier, the reference loops of `src/reference.rs`;
//! * `vector.rs`: the small vector trait that generic kernels are written over;
//! * `generic/`: each algorithm once, `#[inline(always)]`, over that trait;
//! * `portable.rs` (`wide`), `sse2.rs`, `avx2.rs`, `avx512.rs`, `neon.rs`: one file per tier,
//!   instantiating the generic kernels inside `#[target_feature]` functions.

use core::marker::PhantomData;
use core::ops::Range;

use crate::geom::{Reduce, WindowGeom};
use crate::tensor::Layout;
use crate::tier::Tier;

pub(crate) mod generic;
pub(crate) mod portable;
pub(crate) mod scalar;
pub(crate) mod vector;

#[cfg(nnpool_tier_avx2)]
pub(crate) mod avx2;
#[cfg(nnpool_tier_avx512)]
pub(crate) mod avx512;
#[cfg(nnpool_tier_neon)]
pub(crate) mod neon;
#[cfg(nnpool_tier_sse2)]
pub(crate) mod sse2;

/// Instantiates the generic kernels for one SIMD tier: `#[target_feature]` entry points, safe
/// wrappers, the tier's `TABLE` and `table()`, which hands the table out only when the CPU has
/// the tier (`detected()` in the tier's file).
macro_rules! simd_tier {
    ($tier:expr, $token:ident $(, $features:literal)?) => {
        mod entry {
            use super::$token;
            use crate::geom::{Reduce, WindowGeom};
            use crate::kernels::{GlobalNchwJob, GlobalNhwcJob, NchwJob, NhwcJob, generic};

            $(#[target_feature(enable = $features)])?
            pub(super) fn window_nchw(g: &WindowGeom, job: NchwJob<'_, f32>) {
                // SAFETY: this function is compiled with the token's features and is only
                // called through TABLE, which table() hands out after detected() confirmed them.
                let s = unsafe { $token::new_unchecked() };
                if let Some(job) = generic::window_nchw(s, g, job) {
                    if generic::shift_runs::<$token>(g, &job) {
                        // A plane holding a NaN comes back alone, for the row schemes' exact
                        // path, with the planes after it.
                        let mut job = job;
                        while let Some((nan, rest)) = window_nchw_shift(g, job) {
                            window_nchw_stack(g, nan);
                            match rest {
                                Some(rest) => job = rest,
                                None => break,
                            }
                        }
                    } else {
                        window_nchw_stack(g, job)
                    }
                }
            }
            // The shift scheme's jobs, in a frame of their own (see generic::window_nchw_shift).
            $(#[target_feature(enable = $features)])?
            #[inline(never)]
            fn window_nchw_shift<'a>(
                g: &WindowGeom,
                job: NchwJob<'a, f32>,
            ) -> Option<generic::NanSplit<'a>> {
                // SAFETY: as in window_nchw (called only from there).
                let s = unsafe { $token::new_unchecked() };
                generic::window_nchw_shift(s, g, job)
            }
            // The jobs that need the large stack areas, in a frame of their own (see
            // generic::window_nchw).
            $(#[target_feature(enable = $features)])?
            #[inline(never)]
            fn window_nchw_stack(g: &WindowGeom, job: NchwJob<'_, f32>) {
                // SAFETY: as in window_nchw (called only from there).
                let s = unsafe { $token::new_unchecked() };
                generic::window_nchw_stack(s, g, job)
            }
            $(#[target_feature(enable = $features)])?
            pub(super) fn window_nhwc(g: &WindowGeom, job: NhwcJob<'_, f32>) {
                // SAFETY: as in window_nchw.
                let s = unsafe { $token::new_unchecked() };
                if let Some(job) = generic::window_nhwc(s, g, job) {
                    window_nhwc_stack(g, job)
                }
            }
            $(#[target_feature(enable = $features)])?
            #[inline(never)]
            fn window_nhwc_stack(g: &WindowGeom, job: NhwcJob<'_, f32>) {
                // SAFETY: as in window_nchw (called only from window_nhwc).
                let s = unsafe { $token::new_unchecked() };
                generic::window_nhwc_stack(s, g, job)
            }
            $(#[target_feature(enable = $features)])?
            pub(super) fn global_nchw(r: Reduce, job: GlobalNchwJob<'_, f32>) {
                // SAFETY: as in window_nchw.
                let s = unsafe { $token::new_unchecked() };
                generic::global_nchw(s, r, job)
            }
            $(#[target_feature(enable = $features)])?
            pub(super) fn global_nhwc(r: Reduce, job: GlobalNhwcJob<'_, f32>) {
                // SAFETY: as in window_nchw.
                let s = unsafe { $token::new_unchecked() };
                generic::global_nhwc(s, r, job)
            }
        }

        impl $crate::kernels::vector::Frame for $token {
            #[inline(always)]
            fn frame<B: $crate::kernels::vector::Body<Self>>(self, b: B) -> B::Out {
                $(#[target_feature(enable = $features)])?
                #[inline(never)]
                fn framed<B: $crate::kernels::vector::Body<$token>>(s: $token, b: B) -> B::Out {
                    b.run(s)
                }
                // SAFETY: a token exists only where the CPU has the tier's features (tokens
                // are made by new_unchecked, in entry points reached through TABLE, which
                // table() hands out after detected() confirmed them).
                #[allow(unused_unsafe)] // the portable tier has no target features
                unsafe {
                    framed(self, b)
                }
            }
        }

        /// This tier's f32 kernels. Reachable only through [`table`].
        #[allow(unused_unsafe)] // the portable tier's entry points have no target features
        static TABLE: $crate::kernels::KernelTable<f32> = $crate::kernels::KernelTable {
            tier: $tier,
            window_nchw: |g, job| {
                // SAFETY: TABLE is only handed out by table() after detected() confirmed the
                // CPU has this tier's features.
                unsafe { entry::window_nchw(g, job) }
            },
            window_nhwc: |g, job| {
                // SAFETY: as for window_nchw.
                unsafe { entry::window_nhwc(g, job) }
            },
            global_nchw: |r, job| {
                // SAFETY: as for window_nchw.
                unsafe { entry::global_nchw(r, job) }
            },
            global_nhwc: |r, job| {
                // SAFETY: as for window_nchw.
                unsafe { entry::global_nhwc(r, job) }
            },
            describe: $crate::kernels::generic::describe::<$token>,
            describe_global: $crate::kernels::generic::describe_global::<$token>,
        };

        /// The tier's table when the CPU supports it (detection is cached by the caller).
        pub(crate) fn table() -> Option<&'static $crate::kernels::KernelTable<f32>> {
            detected().then_some(&TABLE)
        }
    };
}
pub(crate) use simd_tier;

/// Window or adaptive pooling of whole NCHW planes, or of some rows of one plane.
pub struct NchwJob<'a, T> {
    /// `planes` input planes, `ih·iw` elements each, back to back.
    pub src: &'a [T],
    /// Rows `rows` of each of the `planes` output planes: `planes × rows.len() × ow` elements.
    pub dst: &'a mut [T],
    /// Argmax indices, laid out like `dst`.
    pub idx: Option<&'a mut [u32]>,
    /// Number of planes (when above 1, `rows` is every output row).
    pub planes: usize,
    /// The output rows to compute.
    pub rows: Range<usize>,
}

impl<T> NchwJob<'_, T> {
    /// Asserts the invariants kernels rely on for memory safety.
    #[inline]
    pub fn check(&self, g: &WindowGeom) {
        let out = self.planes * self.rows.len() * g.ow;
        assert!(self.rows.start <= self.rows.end && self.rows.end <= g.oh);
        assert!(self.planes == 1 || self.rows == (0..g.oh));
        assert!(g.rows.len() == g.oh && g.cols.len() == g.ow);
        assert!(self.src.len() >= self.planes * g.ih * g.iw);
        assert!(self.dst.len() >= out);
        if let Some(idx) = &self.idx {
            assert!(idx.len() >= out);
        }
    }
}

/// Window or adaptive pooling of some output rows of one NHWC image.
pub struct NhwcJob<'a, T> {
    /// The image: pixel (h, w), channel c at `(h·iw + w)·src_ps + c`.
    pub src: &'a [T],
    /// Elements between input pixels (>= `channels`).
    pub src_ps: usize,
    /// Output pixel (oy, ox) for oy in `rows`, channel c at `((oy − rows.start)·ow + ox)·dst_ps + c`.
    /// Kernels write only channels `0..channels` of each pixel (see [`PixelChannels`]).
    pub dst: PixelChannels<'a, T>,
    /// Elements between output pixels (>= `channels`).
    pub dst_ps: usize,
    /// Argmax indices, dense: `((oy − rows.start)·ow + ox)·channels + c`.
    pub idx: Option<&'a mut [u32]>,
    /// Channels per pixel to pool.
    pub channels: usize,
    /// The output rows to compute.
    pub rows: Range<usize>,
}

impl<T> NhwcJob<'_, T> {
    /// Asserts the invariants kernels rely on for memory safety.
    #[inline]
    pub fn check(&self, g: &WindowGeom) {
        let c = self.channels;
        assert!(c > 0 && self.src_ps >= c && self.dst_ps >= c);
        assert!(self.rows.start <= self.rows.end && self.rows.end <= g.oh);
        assert!(g.rows.len() == g.oh && g.cols.len() == g.ow);
        assert!(self.src.len() >= (g.ih * g.iw - 1) * self.src_ps + c);
        let pixels = self.rows.len() * g.ow;
        if pixels > 0 {
            assert!(self.dst.len() >= (pixels - 1) * self.dst_ps + c);
        }
        if let Some(idx) = &self.idx {
            assert!(idx.len() >= pixels * c);
        }
    }
}

/// The destination of an NHWC job: pixels `ps` elements apart, of which the job may write
/// channels `0..width` only, through a pointer valid for `len` elements. A view of a whole
/// slice is split with [`split_channels`](Self::split_channels) into views of disjoint channel
/// ranges, so that tasks owning different channels of the same pixels can run in parallel (like
/// `split_at_mut`, but across the channels of every pixel).
///
/// Soundness rests on two facts: views split from one slice never share a writable element
/// (disjoint channel ranges), and the NHWC kernels write nothing but channels
/// `0..channels` of each pixel, `channels <= width` (their documented contract, checked by the
/// pixel-stride and guard-page tests; the scalar tier writes through [`set`](Self::set), which
/// asserts it).
pub struct PixelChannels<'a, T> {
    ptr: *mut T,
    len: usize,
    ps: usize,
    width: usize,
    _borrow: PhantomData<&'a mut [T]>,
}

// SAFETY: a `PixelChannels` is an exclusive borrow of the elements it may write (views split
// from one slice share none, see the type), like `&mut [T]`, which is `Send` for `T: Send`.
unsafe impl<T: Send> Send for PixelChannels<'_, T> {}

impl<'a, T> PixelChannels<'a, T> {
    /// A view of all of `dst`: pixels `ps` elements apart, channels `0..width` writable
    /// (`width <= ps`).
    pub fn new(dst: &'a mut [T], ps: usize, width: usize) -> Self {
        assert!(width <= ps);
        Self {
            ptr: dst.as_mut_ptr(),
            len: dst.len(),
            ps,
            width,
            _borrow: PhantomData,
        }
    }

    /// Splits the view into channels `0..k` and `k..width` (each renumbered from 0).
    pub fn split_channels(self, k: usize) -> (Self, Self) {
        assert!(k <= self.width && k <= self.len);
        let left = Self {
            ptr: self.ptr,
            len: self.len,
            ps: self.ps,
            width: k,
            _borrow: PhantomData,
        };
        let right = Self {
            // In bounds: k <= len.
            ptr: self.ptr.wrapping_add(k),
            len: self.len - k,
            ps: self.ps,
            width: self.width - k,
            _borrow: PhantomData,
        };
        (left, right)
    }

    /// Elements from the start of the view (kernels check that their pixels fit).
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when the view has no element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first element, for kernels (which write only the view's channels, see the type).
    pub fn as_mut_ptr(&mut self) -> *mut T {
        self.ptr
    }

    /// Writes element `i`. Panics unless `i < len` lies in one of the view's channels.
    pub fn set(&mut self, i: usize, v: T) {
        assert!(i < self.len && i % self.ps < self.width);
        // SAFETY: i < len lies inside the slice the view borrows, in one of the view's own
        // channels, which no other view split from that slice writes.
        unsafe { self.ptr.add(i).write(v) }
    }
}

/// Global pooling of NCHW planes: one output per plane.
pub struct GlobalNchwJob<'a, T> {
    /// `dst.len()` planes of `plane` elements, back to back.
    pub src: &'a [T],
    /// One output per plane.
    pub dst: &'a mut [T],
    /// Elements per plane (H·W, at least 1).
    pub plane: usize,
}

impl<T> GlobalNchwJob<'_, T> {
    /// Asserts the invariants kernels rely on for memory safety.
    #[inline]
    pub fn check(&self) {
        assert!(self.plane > 0 && self.src.len() >= self.dst.len() * self.plane);
    }
}

/// Global pooling of some channels of one NHWC image: one output per channel.
pub struct GlobalNhwcJob<'a, T> {
    /// Pixel p, channel c (relative to the first channel of the job) at `p·src_ps + c`.
    pub src: &'a [T],
    /// Elements between pixels (>= `dst.len()`).
    pub src_ps: usize,
    /// Pixels in the image (H·W, at least 1).
    pub pixels: usize,
    /// One output per channel.
    pub dst: &'a mut [T],
}

impl<T> GlobalNhwcJob<'_, T> {
    /// Asserts the invariants kernels rely on for memory safety.
    #[inline]
    pub fn check(&self) {
        let c = self.dst.len();
        assert!(self.pixels > 0 && self.src_ps >= c);
        assert!(c == 0 || self.src.len() >= (self.pixels - 1) * self.src_ps + c);
    }
}

/// The kernels of one tier for one element type.
pub struct KernelTable<T> {
    /// The tier these kernels belong to.
    pub tier: Tier,
    /// Window and adaptive pooling, NCHW.
    pub window_nchw: fn(&WindowGeom, NchwJob<'_, T>),
    /// Window and adaptive pooling, NHWC.
    pub window_nhwc: fn(&WindowGeom, NhwcJob<'_, T>),
    /// Global pooling, NCHW.
    pub global_nchw: fn(Reduce, GlobalNchwJob<'_, T>),
    /// Global pooling, NHWC.
    pub global_nhwc: fn(Reduce, GlobalNhwcJob<'_, T>),
    /// The algorithm `window_*` runs for a geometry and layout.
    pub describe: fn(&WindowGeom, Layout) -> &'static str,
    /// The algorithm `global_*` runs for a layout.
    pub describe_global: fn(Layout) -> &'static str,
}

/// The hand-written tiers this build contains and this CPU supports.
pub(crate) fn detect() -> Vec<Tier> {
    let mut v = vec![Tier::Portable];
    #[cfg(nnpool_tier_sse2)]
    if sse2::detected() {
        v.push(Tier::Sse2);
    }
    #[cfg(nnpool_tier_avx2)]
    if avx2::detected() {
        v.push(Tier::Avx2);
    }
    #[cfg(nnpool_tier_avx512)]
    if avx512::detected() {
        v.push(Tier::Avx512);
    }
    #[cfg(nnpool_tier_neon)]
    if neon::detected() {
        v.push(Tier::Neon);
    }
    v
}

/// The f32 kernel table of a tier, when this build and CPU have it.
pub(crate) fn f32_table(tier: Tier) -> Option<&'static KernelTable<f32>> {
    match tier {
        Tier::Scalar => Some(&scalar::F32),
        Tier::Portable => portable::table(),
        #[cfg(nnpool_tier_sse2)]
        Tier::Sse2 => sse2::table(),
        #[cfg(nnpool_tier_avx2)]
        Tier::Avx2 => avx2::table(),
        #[cfg(nnpool_tier_avx512)]
        Tier::Avx512 => avx512::table(),
        #[cfg(nnpool_tier_neon)]
        Tier::Neon => neon::table(),
        _ => None,
    }
}
