//! Pooling parameters: the `Pool2d` builder and its validation.

use crate::error::{Error, Result};
use crate::tier::Tier;

/// Which reduction a pooling performs, and over what.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PoolOp {
    /// Sliding-window maximum (PyTorch `max_pool2d`).
    Max,
    /// Sliding-window average (PyTorch `avg_pool2d`).
    Avg,
    /// Maximum of each whole plane.
    GlobalMax,
    /// Average of each whole plane.
    GlobalAvg,
    /// Maximum over adaptive bins (PyTorch `adaptive_max_pool2d`).
    AdaptiveMax,
    /// Average over adaptive bins (PyTorch `adaptive_avg_pool2d`).
    AdaptiveAvg,
}

impl PoolOp {
    /// A short name: `max`, `avg`, `global_max`, `global_avg`, `adaptive_max`, `adaptive_avg`.
    pub const fn name(self) -> &'static str {
        match self {
            PoolOp::Max => "max",
            PoolOp::Avg => "avg",
            PoolOp::GlobalMax => "global_max",
            PoolOp::GlobalAvg => "global_avg",
            PoolOp::AdaptiveMax => "adaptive_max",
            PoolOp::AdaptiveAvg => "adaptive_avg",
        }
    }

    /// True for the maximum operations.
    pub const fn is_max(self) -> bool {
        matches!(self, PoolOp::Max | PoolOp::GlobalMax | PoolOp::AdaptiveMax)
    }

    /// True for the operations that can return argmax indices (`Max`, `AdaptiveMax`).
    pub const fn has_indices(self) -> bool {
        matches!(self, PoolOp::Max | PoolOp::AdaptiveMax)
    }
}

/// A pair of extents (height, width). `3.into()` is `(3, 3)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Size2 {
    /// Height (rows).
    pub h: usize,
    /// Width (columns).
    pub w: usize,
}

impl From<usize> for Size2 {
    fn from(v: usize) -> Self {
        Size2 { h: v, w: v }
    }
}
impl From<(usize, usize)> for Size2 {
    fn from((h, w): (usize, usize)) -> Self {
        Size2 { h, w }
    }
}
impl From<[usize; 2]> for Size2 {
    fn from([h, w]: [usize; 2]) -> Self {
        Size2 { h, w }
    }
}

/// Explicit padding per side, in elements.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Pad4 {
    /// Rows added above.
    pub top: usize,
    /// Columns added on the left.
    pub left: usize,
    /// Rows added below.
    pub bottom: usize,
    /// Columns added on the right.
    pub right: usize,
}

impl From<usize> for Pad4 {
    fn from(p: usize) -> Self {
        Pad4 {
            top: p,
            left: p,
            bottom: p,
            right: p,
        }
    }
}
impl From<(usize, usize)> for Pad4 {
    /// `(h, w)`: `h` rows above and below, `w` columns left and right (PyTorch's form).
    fn from((h, w): (usize, usize)) -> Self {
        Pad4 {
            top: h,
            left: w,
            bottom: h,
            right: w,
        }
    }
}
impl From<[usize; 4]> for Pad4 {
    /// `[top, left, bottom, right]`.
    fn from([top, left, bottom, right]: [usize; 4]) -> Self {
        Pad4 {
            top,
            left,
            bottom,
            right,
        }
    }
}

/// How TF / ONNX `SAME` padding splits an odd total.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SameMode {
    /// ONNX `SAME_UPPER` (TensorFlow `SAME`): the extra row/column goes at the end.
    Upper,
    /// ONNX `SAME_LOWER`: the extra row/column goes at the beginning.
    Lower,
}

/// Padding as given by the user: explicit, or resolved from the input size like `SAME`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Padding {
    /// Fixed padding per side.
    Explicit(Pad4),
    /// TF/ONNX `SAME` padding: output size `ceil(L / stride)`, padding computed from the input.
    Same(SameMode),
}

/// How a plan may use threads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Parallelism {
    /// Split large work across the current rayon pool; small work stays on the calling thread.
    #[default]
    Auto,
    /// Always run on the calling thread.
    Sequential,
}

/// A validated-on-use description of one 2-D pooling: the operation and its parameters, plus
/// execution options (tier, threading).
///
/// Build it with [`Pool2d::max`], [`Pool2d::avg`], [`Pool2d::global_max`],
/// [`Pool2d::global_avg`], [`Pool2d::adaptive_max`] or [`Pool2d::adaptive_avg`] and the
/// chained setters; parameters are checked when the pooling is planned or run, and every
/// problem is a typed [`Error`].
///
/// Defaults follow PyTorch: stride = kernel, no padding, dilation 1, floor mode,
/// `count_include_pad = true`, no divisor override.
///
/// ```
/// use nnpool::{Pool2d, Shape};
/// let stem = Pool2d::max(3).stride(2).padding(1);
/// assert_eq!(stem.output_shape(Shape::new(1, 64, 112, 112)).unwrap(), Shape::new(1, 64, 56, 56));
/// let inception = Pool2d::avg(3).stride(1).padding(1).count_include_pad(false);
/// assert_eq!(inception.output_shape(Shape::new(1, 192, 35, 35)).unwrap(), Shape::new(1, 192, 35, 35));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pool2d {
    pub(crate) op: PoolOp,
    pub(crate) kernel: Size2,
    pub(crate) stride: Option<Size2>,
    pub(crate) padding: Padding,
    pub(crate) dilation: Size2,
    pub(crate) ceil_mode: bool,
    pub(crate) count_include_pad: bool,
    pub(crate) divisor_override: Option<u32>,
    pub(crate) output_size: Size2,
    pub(crate) tier: Option<Tier>,
    pub(crate) parallelism: Parallelism,
}

impl Pool2d {
    fn new(op: PoolOp, kernel: Size2) -> Self {
        Pool2d {
            op,
            kernel,
            stride: None,
            padding: Padding::Explicit(Pad4::default()),
            dilation: Size2 { h: 1, w: 1 },
            ceil_mode: false,
            count_include_pad: true,
            divisor_override: None,
            output_size: Size2 { h: 1, w: 1 },
            tier: None,
            parallelism: Parallelism::Auto,
        }
    }

    /// Max pooling with the given kernel (`3` or `(kh, kw)`).
    pub fn max(kernel: impl Into<Size2>) -> Self {
        Self::new(PoolOp::Max, kernel.into())
    }

    /// Average pooling with the given kernel.
    pub fn avg(kernel: impl Into<Size2>) -> Self {
        Self::new(PoolOp::Avg, kernel.into())
    }

    /// Maximum of each H×W plane (output 1×1 per channel).
    pub fn global_max() -> Self {
        Self::new(PoolOp::GlobalMax, Size2 { h: 1, w: 1 })
    }

    /// Average of each H×W plane (output 1×1 per channel).
    pub fn global_avg() -> Self {
        Self::new(PoolOp::GlobalAvg, Size2 { h: 1, w: 1 })
    }

    /// Adaptive max pooling to a fixed output size, bins as PyTorch computes them.
    pub fn adaptive_max(output_size: impl Into<Size2>) -> Self {
        let mut p = Self::new(PoolOp::AdaptiveMax, Size2 { h: 1, w: 1 });
        p.output_size = output_size.into();
        p
    }

    /// Adaptive average pooling to a fixed output size.
    pub fn adaptive_avg(output_size: impl Into<Size2>) -> Self {
        let mut p = Self::new(PoolOp::AdaptiveAvg, Size2 { h: 1, w: 1 });
        p.output_size = output_size.into();
        p
    }

    /// Window step (default: the kernel size).
    pub fn stride(mut self, stride: impl Into<Size2>) -> Self {
        self.stride = Some(stride.into());
        self
    }

    /// Explicit padding: `1` (all sides), `(h, w)` (PyTorch's symmetric form) or
    /// `[top, left, bottom, right]`.
    ///
    /// Each side may be at most half the kernel extent, as in PyTorch. Asymmetric padding is
    /// an extension: PyTorch has no such parameter; nnpool applies the same per-side bound.
    pub fn padding(mut self, padding: impl Into<Pad4>) -> Self {
        self.padding = Padding::Explicit(padding.into());
        self
    }

    /// TF/ONNX `SAME` padding, resolved from the input size when planned: the output has
    /// `ceil(L / stride)` positions and the total padding
    /// `max((out − 1)·stride + dilation·(kernel − 1) + 1 − L, 0)` is split between the sides,
    /// the odd one at the end (`Upper`) or the beginning (`Lower`). The half-kernel bound on
    /// explicit padding does not apply (`SAME` may need more with dilation); windows that fall
    /// entirely into padding then give −∞ with index `u32::MAX`.
    pub fn padding_same(mut self, mode: SameMode) -> Self {
        self.padding = Padding::Same(mode);
        self
    }

    /// Spacing between window taps (max pooling only, as in PyTorch).
    pub fn dilation(mut self, dilation: impl Into<Size2>) -> Self {
        self.dilation = dilation.into();
        self
    }

    /// Ceil mode: a last, partial window is added when it starts inside the input or its
    /// leading padding.
    pub fn ceil_mode(mut self, ceil: bool) -> Self {
        self.ceil_mode = ceil;
        self
    }

    /// Average pooling: whether padding taps count in the divisor (PyTorch default: `true`).
    pub fn count_include_pad(mut self, include: bool) -> Self {
        self.count_include_pad = include;
        self
    }

    /// Average pooling: divide every window sum by this value instead.
    pub fn divisor_override(mut self, divisor: u32) -> Self {
        self.divisor_override = Some(divisor);
        self
    }

    /// Run exactly this tier (an error when planned on a CPU that lacks it). Without it the
    /// dispatcher picks [`Tier::best`].
    pub fn tier(mut self, tier: Tier) -> Self {
        self.tier = Some(tier);
        self
    }

    /// Choose how the run may use threads (see [`Parallelism`]).
    pub fn parallelism(mut self, p: Parallelism) -> Self {
        self.parallelism = p;
        self
    }

    /// Shorthand for `parallelism(Parallelism::Sequential)`.
    pub fn sequential(self) -> Self {
        self.parallelism(Parallelism::Sequential)
    }

    /// The operation.
    pub fn op(&self) -> PoolOp {
        self.op
    }
}

/// The fully resolved geometry along one axis of a window pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Axis {
    /// Input extent.
    pub input: usize,
    /// Output extent.
    pub output: usize,
    pub kernel: usize,
    pub stride: usize,
    pub dilation: usize,
    /// Padding before the first element.
    pub pad_begin: usize,
    /// Padding after the last element.
    pub pad_end: usize,
}

impl Axis {
    /// Input coordinate of the first tap of window `o` (negative inside the leading padding).
    pub fn window_start(&self, o: usize) -> i128 {
        o as i128 * self.stride as i128 - self.pad_begin as i128
    }
}

/// Pooling parameters resolved against an input shape: every value the reference and the
/// kernels need, validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub op: PoolOp,
    pub rows: Axis,
    pub cols: Axis,
    pub count_include_pad: bool,
    pub divisor_override: Option<u32>,
}

/// Output extent along one axis (PyTorch's `pooling_output_shape`), overflow-free in i128.
/// `a.output` is ignored.
fn pooled_len(dim: &'static str, a: &Axis, ceil: bool) -> Result<usize> {
    let (input, l, k) = (a.input, a.input as i128, a.kernel as i128);
    let (s, d) = (a.stride as i128, a.dilation as i128);
    let (pb, pe) = (a.pad_begin as i128, a.pad_end as i128);
    let eff = d * (k - 1) + 1;
    let num = l + pb + pe - eff + if ceil { s - 1 } else { 0 };
    let mut out = num.div_euclid(s) + 1;
    if ceil && (out - 1) * s >= l + pb {
        out -= 1;
    }
    if out < 1 {
        return Err(Error::OutputTooSmall {
            dim,
            input,
            kernel: usize::try_from(eff).unwrap_or(usize::MAX),
            output: out,
        });
    }
    usize::try_from(out).map_err(|_| Error::Overflow {
        what: "output extent",
    })
}

/// TF/ONNX SAME padding along one axis: (begin, end).
fn same_padding(
    input: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    mode: SameMode,
) -> Result<(usize, usize)> {
    let (l, k, s, d) = (
        input as i128,
        kernel as i128,
        stride as i128,
        dilation as i128,
    );
    let out = (l + s - 1) / s;
    let total = ((out - 1) * s + d * (k - 1) + 1 - l).max(0);
    let small = total / 2;
    let (b, e) = match mode {
        SameMode::Upper => (small, total - small),
        SameMode::Lower => (total - small, small),
    };
    let conv = |v: i128| {
        usize::try_from(v).map_err(|_| Error::Overflow {
            what: "SAME padding",
        })
    };
    Ok((conv(b)?, conv(e)?))
}

impl Pool2d {
    /// Validates the parameters against an input shape and resolves them.
    pub(crate) fn resolve(&self, n_c_h_w: crate::Shape) -> Result<Resolved> {
        let crate::Shape { c, h, w, .. } = n_c_h_w;
        let op = self.op;
        // PyTorch rejects C = 0 for max, avg and adaptive max pooling but returns an empty
        // result for adaptive average (and for `mean`/`amax`, the global reductions).
        let empty_c_ok = matches!(
            op,
            PoolOp::AdaptiveAvg | PoolOp::GlobalAvg | PoolOp::GlobalMax
        );
        for (dim, v) in [("channels", c), ("height", h), ("width", w)] {
            if v == 0 && !(dim == "channels" && empty_c_ok) {
                return Err(Error::EmptyDimension { dim });
            }
        }
        match op {
            PoolOp::Max | PoolOp::Avg => self.resolve_window(h, w),
            PoolOp::GlobalMax | PoolOp::GlobalAvg => {
                let axis = |l: usize| Axis {
                    input: l,
                    output: 1,
                    kernel: l,
                    stride: 1,
                    dilation: 1,
                    pad_begin: 0,
                    pad_end: 0,
                };
                Ok(Resolved {
                    op,
                    rows: axis(h),
                    cols: axis(w),
                    count_include_pad: false,
                    divisor_override: None,
                })
            }
            PoolOp::AdaptiveMax | PoolOp::AdaptiveAvg => {
                let Size2 { h: oh, w: ow } = self.output_size;
                if oh == 0 || ow == 0 {
                    return Err(Error::ZeroOutputSize { oh, ow });
                }
                let axis = |l: usize, o: usize| Axis {
                    input: l,
                    output: o,
                    kernel: 0,
                    stride: 0,
                    dilation: 1,
                    pad_begin: 0,
                    pad_end: 0,
                };
                Ok(Resolved {
                    op,
                    rows: axis(h, oh),
                    cols: axis(w, ow),
                    count_include_pad: false,
                    divisor_override: None,
                })
            }
        }
    }

    fn resolve_window(&self, h: usize, w: usize) -> Result<Resolved> {
        let k = self.kernel;
        if k.h == 0 || k.w == 0 {
            return Err(Error::ZeroKernel { kh: k.h, kw: k.w });
        }
        let s = self.stride.unwrap_or(k);
        if s.h == 0 || s.w == 0 {
            return Err(Error::ZeroStride { sh: s.h, sw: s.w });
        }
        let d = self.dilation;
        if d.h == 0 || d.w == 0 {
            return Err(Error::ZeroDilation { dh: d.h, dw: d.w });
        }
        // The dilated extent d·(k − 1) + 1 and the kernel area kh·kw must fit usize: the
        // output-size formula, the reference and the kernels compute with them.
        for (k, d) in [(k.h, d.h), (k.w, d.w)] {
            (k - 1)
                .checked_mul(d)
                .and_then(|x| x.checked_add(1))
                .ok_or(Error::Overflow {
                    what: "dilated kernel extent",
                })?;
        }
        k.h.checked_mul(k.w).ok_or(Error::Overflow {
            what: "kernel area",
        })?;
        if self.op == PoolOp::Avg && (d.h != 1 || d.w != 1) {
            return Err(Error::DilationNotSupported { dh: d.h, dw: d.w });
        }
        if self.op == PoolOp::Avg && self.divisor_override == Some(0) {
            return Err(Error::ZeroDivisorOverride);
        }
        let pad = match self.padding {
            Padding::Explicit(p) => {
                for (side, v, kern) in [
                    ("top", p.top, k.h),
                    ("left", p.left, k.w),
                    ("bottom", p.bottom, k.h),
                    ("right", p.right, k.w),
                ] {
                    if v > kern / 2 {
                        return Err(Error::PaddingTooLarge {
                            side,
                            padding: v,
                            kernel: kern,
                        });
                    }
                }
                p
            }
            Padding::Same(mode) => {
                let (top, bottom) = same_padding(h, k.h, s.h, d.h, mode)?;
                let (left, right) = same_padding(w, k.w, s.w, d.w, mode)?;
                Pad4 {
                    top,
                    left,
                    bottom,
                    right,
                }
            }
        };
        let mut rows = Axis {
            input: h,
            output: 0,
            kernel: k.h,
            stride: s.h,
            dilation: d.h,
            pad_begin: pad.top,
            pad_end: pad.bottom,
        };
        let mut cols = Axis {
            input: w,
            output: 0,
            kernel: k.w,
            stride: s.w,
            dilation: d.w,
            pad_begin: pad.left,
            pad_end: pad.right,
        };
        rows.output = pooled_len("height", &rows, self.ceil_mode)?;
        cols.output = pooled_len("width", &cols, self.ceil_mode)?;
        Ok(Resolved {
            op: self.op,
            rows,
            cols,
            count_include_pad: self.count_include_pad,
            divisor_override: if self.op == PoolOp::Avg {
                self.divisor_override
            } else {
                None
            },
        })
    }

    /// The output shape for an input shape: the same N and C, the pooled H and W.
    ///
    /// Use it to allocate before planning. N = 0 is valid (an empty output); a zero C, H or W
    /// and every invalid parameter is an error.
    pub fn output_shape(&self, input: crate::Shape) -> Result<crate::Shape> {
        let r = self.resolve(input)?;
        let out = crate::Shape::new(input.n, input.c, r.rows.output, r.cols.output);
        out.numel()?;
        Ok(out)
    }
}

/// Adaptive bin `o` of `out` bins over `len` elements: `[floor(o·len/out), ceil((o+1)·len/out))`.
pub(crate) fn adaptive_bin(o: usize, len: usize, out: usize) -> (usize, usize) {
    let (o, l, n) = (o as u128, len as u128, out as u128);
    let start = o * l / n;
    let end = ((o + 1) * l).div_ceil(n);
    (start as usize, end as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_len_matches_pytorch_formula() {
        let ax = |input, kernel, stride, pad| Axis {
            input,
            output: 0,
            kernel,
            stride,
            dilation: 1,
            pad_begin: pad,
            pad_end: pad,
        };
        // 5 with k3 s2 p1 ceil: floor((5+2-3+1)/2)+1 = 3; (3-1)*2 = 4 < 5+1 so stays 3.
        assert_eq!(pooled_len("h", &ax(5, 3, 2, 1), true).unwrap(), 3);
        // 6 k2 s2 p1 ceil: floor((6+2-2+1)/2)+1 = 4; (4-1)*2 = 6 >= 6+1? no -> 4.
        assert_eq!(pooled_len("h", &ax(6, 2, 2, 1), true).unwrap(), 4);
        // 4 k2 s3 p1 ceil: floor((4+2-2+2)/3)+1 = 3; (3-1)*3 = 6 >= 5 -> 2.
        assert_eq!(pooled_len("h", &ax(4, 2, 3, 1), true).unwrap(), 2);
        assert!(pooled_len("h", &ax(2, 5, 1, 0), false).is_err());
    }

    #[test]
    fn same_padding_splits() {
        assert_eq!(same_padding(112, 3, 2, 1, SameMode::Upper).unwrap(), (0, 1));
        assert_eq!(same_padding(112, 3, 2, 1, SameMode::Lower).unwrap(), (1, 0));
        assert_eq!(same_padding(20, 5, 1, 1, SameMode::Upper).unwrap(), (2, 2));
    }

    #[test]
    fn adaptive_bins() {
        assert_eq!(adaptive_bin(0, 5, 3), (0, 2));
        assert_eq!(adaptive_bin(1, 5, 3), (1, 4));
        assert_eq!(adaptive_bin(2, 5, 3), (3, 5));
        assert_eq!(adaptive_bin(3, 2, 5), (1, 1 + 1));
    }
}
