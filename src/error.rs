//! The crate's single error type.

use core::fmt;

use crate::tensor::{Layout, Shape};
use crate::tier::Tier;

/// Every way a pooling call can be refused.
///
/// Each variant carries the offending value, so the message names it. Errors are returned before
/// any output element is written: a call either fills the whole output or leaves it untouched.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A kernel extent is zero.
    ZeroKernel {
        /// Kernel height.
        kh: usize,
        /// Kernel width.
        kw: usize,
    },
    /// A stride is zero.
    ZeroStride {
        /// Vertical stride.
        sh: usize,
        /// Horizontal stride.
        sw: usize,
    },
    /// A dilation is zero.
    ZeroDilation {
        /// Vertical dilation.
        dh: usize,
        /// Horizontal dilation.
        dw: usize,
    },
    /// Dilation other than 1 was asked of an operation that has none (average pooling).
    DilationNotSupported {
        /// Vertical dilation.
        dh: usize,
        /// Horizontal dilation.
        dw: usize,
    },
    /// Explicit padding on one side exceeds half the (undilated) kernel, as PyTorch forbids.
    PaddingTooLarge {
        /// `"top"`, `"left"`, `"bottom"` or `"right"`.
        side: &'static str,
        /// The padding asked for.
        padding: usize,
        /// The kernel extent along that axis.
        kernel: usize,
    },
    /// `divisor_override` was zero.
    ZeroDivisorOverride,
    /// A non-batch input dimension (C, H or W) is zero.
    EmptyDimension {
        /// `"channels"`, `"height"` or `"width"`.
        dim: &'static str,
    },
    /// The window does not fit the padded input: the output would have fewer than one row or
    /// column.
    OutputTooSmall {
        /// `"height"` or `"width"`.
        dim: &'static str,
        /// The input extent along that axis.
        input: usize,
        /// The effective (dilated) kernel extent.
        kernel: usize,
        /// The output extent the formula gives (below 1).
        output: i128,
    },
    /// An adaptive output size is zero.
    ZeroOutputSize {
        /// Requested output height.
        oh: usize,
        /// Requested output width.
        ow: usize,
    },
    /// Shape arithmetic overflowed `usize`.
    Overflow {
        /// What was being computed.
        what: &'static str,
    },
    /// A buffer's length does not match its tensor descriptor.
    BufferLength {
        /// `"input"`, `"output"` or `"indices"`.
        buffer: &'static str,
        /// The length the descriptor requires.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// The output descriptor's shape is not the shape the operation produces.
    OutputShape {
        /// The shape the operation produces.
        expected: Shape,
        /// The shape of the descriptor given.
        actual: Shape,
    },
    /// Input and output descriptors use different layouts.
    LayoutMismatch {
        /// Input layout.
        input: Layout,
        /// Output layout.
        output: Layout,
    },
    /// A pixel stride smaller than the channel count, or a stride/offset on an NCHW descriptor.
    InvalidStride {
        /// The pixel stride given.
        pixel_stride: usize,
        /// The channel count.
        channels: usize,
        /// The layout of the descriptor.
        layout: Layout,
    },
    /// Argmax indices were asked for, but the input plane has more than `u32::MAX` elements.
    IndexOverflow {
        /// Elements in one input plane (H·W).
        plane: usize,
    },
    /// Argmax indices were asked of an operation that has none.
    IndicesNotSupported {
        /// The operation's name.
        op: &'static str,
    },
    /// The requested tier is not supported by this CPU or build.
    UnsupportedTier {
        /// The tier asked for.
        tier: Tier,
    },
    /// A tier name that is none of `scalar`, `portable`, `sse2`, `avx2`, `avx512`, `neon`.
    UnknownTier {
        /// The name given.
        name: String,
    },
    /// A byte buffer is not aligned for, or not a whole number of, elements.
    ByteCast {
        /// `"input"` or `"output"`.
        buffer: &'static str,
        /// Why bytemuck refused it.
        reason: &'static str,
    },
}

/// Shorthand for `Result<T, nnpool::Error>`.
pub type Result<T, E = Error> = core::result::Result<T, E>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Error::*;
        match self {
            ZeroKernel { kh, kw } => write!(f, "kernel size must be positive, got {kh}x{kw}"),
            ZeroStride { sh, sw } => write!(f, "stride must be positive, got {sh}x{sw}"),
            ZeroDilation { dh, dw } => write!(f, "dilation must be positive, got {dh}x{dw}"),
            DilationNotSupported { dh, dw } => write!(
                f,
                "average pooling has no dilation, got {dh}x{dw} (only 1x1 is accepted)"
            ),
            PaddingTooLarge {
                side,
                padding,
                kernel,
            } => write!(
                f,
                "{side} padding {padding} exceeds half the kernel size {kernel} (at most {})",
                kernel / 2
            ),
            ZeroDivisorOverride => write!(f, "divisor_override must be positive, got 0"),
            EmptyDimension { dim } => write!(f, "input {dim} is 0; only the batch may be empty"),
            OutputTooSmall {
                dim,
                input,
                kernel,
                output,
            } => write!(
                f,
                "output {dim} would be {output} (input {dim} {input}, effective kernel {kernel}): \
                 the window does not fit the padded input"
            ),
            ZeroOutputSize { oh, ow } => {
                write!(f, "adaptive output size must be positive, got {oh}x{ow}")
            }
            Overflow { what } => write!(f, "usize overflow computing {what}"),
            BufferLength {
                buffer,
                expected,
                actual,
            } => write!(
                f,
                "{buffer} buffer has {actual} elements, its descriptor needs {expected}"
            ),
            OutputShape { expected, actual } => write!(
                f,
                "output descriptor has shape {actual}, the operation produces {expected}"
            ),
            LayoutMismatch { input, output } => write!(
                f,
                "input layout {input:?} and output layout {output:?} differ"
            ),
            InvalidStride {
                pixel_stride,
                channels,
                layout,
            } => write!(
                f,
                "pixel stride {pixel_stride} is invalid for {layout:?} with {channels} channels \
                 (NHWC needs stride >= channels; NCHW takes no stride or offset)"
            ),
            IndexOverflow { plane } => write!(
                f,
                "input plane of {plane} elements does not fit u32 argmax indices"
            ),
            IndicesNotSupported { op } => write!(f, "{op} pooling has no argmax indices"),
            UnsupportedTier { tier } => {
                write!(f, "tier {tier} is not supported by this CPU or build")
            }
            UnknownTier { name } => write!(
                f,
                "unknown tier {name:?} (expected scalar, portable, sse2, avx2, avx512 or neon)"
            ),
            ByteCast { buffer, reason } => {
                write!(f, "{buffer} bytes cannot be viewed as elements: {reason}")
            }
        }
    }
}

impl std::error::Error for Error {}
