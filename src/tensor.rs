//! Tensor shapes, layouts and descriptors.

use core::fmt;

use crate::error::{Error, Result};

/// Memory order of an N×C×H×W tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Layout {
    /// Channel planes: `x[n][c][h][w]`, each H×W plane contiguous.
    Nchw,
    /// Channels last: `x[n][h][w][c]`, the channels of one pixel contiguous.
    Nhwc,
}

impl Layout {
    /// `"NCHW"` or `"NHWC"`.
    pub fn name(self) -> &'static str {
        match self {
            Layout::Nchw => "NCHW",
            Layout::Nhwc => "NHWC",
        }
    }
}

/// The logical shape of a 4-D tensor, always given as N, C, H, W whatever the layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    /// Batch.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
}

impl Shape {
    /// A shape from its four extents.
    pub const fn new(n: usize, c: usize, h: usize, w: usize) -> Self {
        Shape { n, c, h, w }
    }

    /// N·C·H·W, or an error when it overflows `usize`.
    pub fn numel(&self) -> Result<usize> {
        self.n
            .checked_mul(self.c)
            .and_then(|x| x.checked_mul(self.h))
            .and_then(|x| x.checked_mul(self.w))
            .ok_or(Error::Overflow { what: "N*C*H*W" })
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}x{}x{}", self.n, self.c, self.h, self.w)
    }
}

/// Where the elements of a tensor lie in a buffer.
///
/// NCHW descriptors are dense. NHWC descriptors may have a pixel stride larger than C and a
/// channel offset, as XNNPACK allows, so that a pooling can read from or write into a slice of
/// the channels of a larger buffer (a YOLO SPPF block pools straight into its concatenation
/// buffer): element (n, c, h, w) lives at `offset + ((n·H + h)·W + w)·pixel_stride + c`. Only
/// those elements are read or written; the other channels of a strided buffer are untouched.
///
/// ```
/// use nnpool::{Layout, Shape, TensorDesc};
/// // 64 channels at channel offset 128 of a 256-channel NHWC concatenation buffer.
/// let d = TensorDesc::nhwc(1, 64, 20, 20).with_pixel_stride(256).with_offset(128);
/// assert_eq!(d.layout(), Layout::Nhwc);
/// assert_eq!(d.shape(), Shape::new(1, 64, 20, 20));
/// assert_eq!(d.min_len().unwrap(), 128 + (20 * 20 - 1) * 256 + 64);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TensorDesc {
    shape: Shape,
    layout: Layout,
    pixel_stride: Option<usize>,
    offset: usize,
}

impl TensorDesc {
    /// A dense descriptor of the given shape and layout.
    pub const fn new(shape: Shape, layout: Layout) -> Self {
        TensorDesc {
            shape,
            layout,
            pixel_stride: None,
            offset: 0,
        }
    }

    /// A dense NCHW descriptor.
    pub const fn nchw(n: usize, c: usize, h: usize, w: usize) -> Self {
        Self::new(Shape::new(n, c, h, w), Layout::Nchw)
    }

    /// A dense NHWC descriptor (the shape is still given as N, C, H, W).
    pub const fn nhwc(n: usize, c: usize, h: usize, w: usize) -> Self {
        Self::new(Shape::new(n, c, h, w), Layout::Nhwc)
    }

    /// Sets the distance in elements between consecutive pixels (NHWC only; validated when the
    /// descriptor is used).
    pub const fn with_pixel_stride(mut self, pixel_stride: usize) -> Self {
        self.pixel_stride = Some(pixel_stride);
        self
    }

    /// Sets the offset in elements of channel 0 of the first pixel (NHWC only; validated when
    /// the descriptor is used).
    pub const fn with_offset(mut self, offset: usize) -> Self {
        self.offset = offset;
        self
    }

    /// The logical shape.
    pub const fn shape(&self) -> Shape {
        self.shape
    }

    /// The memory layout.
    pub const fn layout(&self) -> Layout {
        self.layout
    }

    /// Elements between consecutive pixels: C unless set (NHWC).
    pub const fn pixel_stride(&self) -> usize {
        match self.pixel_stride {
            Some(s) => s,
            None => self.shape.c,
        }
    }

    /// Offset of the first element in the buffer.
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// True when the elements fill the buffer without gaps (no stride, no offset).
    pub const fn is_dense(&self) -> bool {
        self.offset == 0
            && match self.pixel_stride {
                None => true,
                Some(s) => s == self.shape.c,
            }
    }

    /// Checks the stride and offset against the layout.
    pub(crate) fn validate_strides(&self) -> Result<()> {
        let ps = self.pixel_stride();
        let bad = match self.layout {
            Layout::Nchw => !self.is_dense(),
            Layout::Nhwc => ps < self.shape.c,
        };
        if bad {
            return Err(Error::InvalidStride {
                pixel_stride: ps,
                channels: self.shape.c,
                layout: self.layout,
            });
        }
        Ok(())
    }

    /// The smallest buffer length that holds every element of this descriptor. A dense
    /// descriptor needs exactly this length; a strided one at least this.
    pub fn min_len(&self) -> Result<usize> {
        let numel = self.shape.numel()?;
        if numel == 0 || self.is_dense() {
            return Ok(numel);
        }
        let overflow = Error::Overflow {
            what: "strided tensor extent",
        };
        let pixels = self.shape.n * self.shape.h * self.shape.w; // <= numel: no overflow
        (pixels - 1)
            .checked_mul(self.pixel_stride())
            .and_then(|x| x.checked_add(self.shape.c))
            .and_then(|x| x.checked_add(self.offset))
            .ok_or(overflow)
    }

    /// Checks a buffer length against the descriptor.
    pub(crate) fn check_len(&self, buffer: &'static str, actual: usize) -> Result<()> {
        let expected = self.min_len()?;
        let ok = if self.is_dense() {
            actual == expected
        } else {
            actual >= expected
        };
        if ok {
            Ok(())
        } else {
            Err(Error::BufferLength {
                buffer,
                expected,
                actual,
            })
        }
    }
}
