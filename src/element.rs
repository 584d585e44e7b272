//! The sealed element trait: which element types nnpool pools, and each one's kernel table.

use core::fmt::Debug;

use crate::kernels::KernelTable;
use crate::tier::Tier;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
}

/// An element type nnpool can pool. Sealed: implemented for `f32`; `f16`, `bf16`, `i8` and `u8`
/// can be added later, each with a kernel table of its own.
///
/// Only the API, the plan and the scalar reference are generic over it; SIMD kernels are written
/// per type and reached through [`Element`]'s kernel table.
pub trait Element:
    sealed::Sealed + bytemuck::Pod + Copy + Send + Sync + Debug + PartialEq + 'static
{
    /// The value that padding stands for in max pooling (−∞).
    const NEG_INFINITY: Self;
    /// The start of every average sum (+0).
    const ZERO: Self;
    /// `self > other`, false when either is NaN.
    fn gt(self, other: Self) -> bool;
    /// True for NaN.
    fn is_nan(self) -> bool;
    /// The sum in the element type (f32 addition for f32: no wider accumulator).
    fn add(self, other: Self) -> Self;
    /// `self / divisor`, the divisor converted to the element type first.
    fn div_count(self, divisor: usize) -> Self;
    /// The kernel table of a tier, when this build and CPU have it.
    #[doc(hidden)]
    fn kernel_table(tier: Tier) -> Option<&'static KernelTable<Self>>;
}

impl Element for f32 {
    const NEG_INFINITY: f32 = f32::NEG_INFINITY;
    const ZERO: f32 = 0.0;
    #[inline(always)]
    fn gt(self, other: f32) -> bool {
        self > other
    }
    #[inline(always)]
    fn is_nan(self) -> bool {
        f32::is_nan(self)
    }
    #[inline(always)]
    fn add(self, other: f32) -> f32 {
        self + other
    }
    #[inline(always)]
    fn div_count(self, divisor: usize) -> f32 {
        self / divisor as f32
    }
    fn kernel_table(tier: Tier) -> Option<&'static KernelTable<f32>> {
        crate::kernels::f32_table(tier)
    }
}
