//! Plans: a pooling validated and precomputed once for one input shape, run many times.

use core::marker::PhantomData;

use aligned_vec::{AVec, ConstAlign};

use crate::element::Element;
use crate::error::{Error, Result};
use crate::geom::{Reduce, WindowGeom};
use crate::kernels::KernelTable;
use crate::params::{Parallelism, Pool2d, PoolOp, Resolved};
use crate::tensor::{Layout, Shape, TensorDesc};
use crate::tier::Tier;

/// What a plan will execute: the tier, the algorithm the tier chose for this geometry, and the
/// layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelInfo {
    /// The tier whose kernels run.
    pub tier: Tier,
    /// The kernel's algorithm, e.g. `"nchw-s2-deinterleave"` or `"nhwc-channels"`.
    pub algorithm: &'static str,
    /// The memory layout.
    pub layout: Layout,
}

/// A pooling planned for one input descriptor: parameters validated, output shape, window
/// spans, interior bounds, divisors, adaptive bins, the tier and its kernels all fixed.
///
/// Running a plan checks only buffer lengths, allocates nothing and never fails after writing:
/// `run` either fills the whole output or returns an error before touching it. A plan is
/// `Send + Sync`; one plan can serve many threads at once.
///
/// ```
/// use nnpool::{Plan, Pool2d, TensorDesc};
/// let plan = Plan::<f32>::new(&Pool2d::max(3).stride(2).padding(1), TensorDesc::nchw(1, 8, 16, 16))?;
/// assert_eq!(plan.output_desc().shape(), nnpool::Shape::new(1, 8, 8, 8));
/// let x = vec![1.0f32; plan.input_len()];
/// let mut y = vec![0.0f32; plan.output_len()];
/// let mut idx = vec![0u32; plan.output_len()];
/// plan.run_with_indices(&x, &mut y, &mut idx)?;
/// assert!(y.iter().all(|&v| v == 1.0));
/// # Ok::<(), nnpool::Error>(())
/// ```
pub struct Plan<T: Element = f32> {
    pub(crate) pool: Pool2d,
    pub(crate) resolved: Resolved,
    pub(crate) input: TensorDesc,
    pub(crate) output: TensorDesc,
    pub(crate) input_len: usize,
    pub(crate) output_len: usize,
    pub(crate) geom: Option<WindowGeom>,
    pub(crate) table: &'static KernelTable<T>,
    pub(crate) parallel: bool,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> core::fmt::Debug for Plan<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Plan")
            .field("pool", &self.pool)
            .field("input", &self.input)
            .field("output", &self.output)
            .field("kernel", &self.kernel())
            .field("parallel", &self.parallel)
            .finish()
    }
}

/// Parameters and descriptors checked together.
pub(crate) struct Checked {
    pub resolved: Resolved,
}

/// Validates a pooling against an input and an output descriptor.
pub(crate) fn check_call(
    pool: &Pool2d,
    input: &TensorDesc,
    output: &TensorDesc,
) -> Result<Checked> {
    input.validate_strides()?;
    output.validate_strides()?;
    if input.layout() != output.layout() {
        return Err(Error::LayoutMismatch {
            input: input.layout(),
            output: output.layout(),
        });
    }
    input.min_len()?;
    output.min_len()?;
    let resolved = pool.resolve(input.shape())?;
    let s = input.shape();
    let expected = Shape::new(s.n, s.c, resolved.rows.output, resolved.cols.output);
    if output.shape() != expected {
        return Err(Error::OutputShape {
            expected,
            actual: output.shape(),
        });
    }
    Ok(Checked { resolved })
}

/// Validates an indices buffer: the op has indices, the plane fits u32 indices (below the
/// `u32::MAX` sentinel), and the buffer is one index per output element.
pub(crate) fn check_indices(r: &Resolved, output: &TensorDesc, len: usize) -> Result<()> {
    if !r.op.has_indices() {
        return Err(crate::reference::no_indices(r.op));
    }
    let plane = r.rows.input * r.cols.input; // <= numel of a validated input: no overflow
    if plane > u32::MAX as usize {
        return Err(Error::IndexOverflow { plane });
    }
    let expected = output.shape().numel()?;
    if len != expected {
        return Err(Error::BufferLength {
            buffer: "indices",
            expected,
            actual: len,
        });
    }
    Ok(())
}

impl<T: Element> Plan<T> {
    /// Plans `pool` for `input`, writing a dense output of the same layout.
    pub fn new(pool: &Pool2d, input: TensorDesc) -> Result<Self> {
        let out_shape = pool.output_shape(input.shape())?;
        Self::with_output(pool, input, TensorDesc::new(out_shape, input.layout()))
    }

    /// Plans `pool` from `input` into an explicitly described output (for example a strided
    /// NHWC slice of a concatenation buffer). The output's shape must be the pooled shape.
    pub fn with_output(pool: &Pool2d, input: TensorDesc, output: TensorDesc) -> Result<Self> {
        let Checked { resolved } = check_call(pool, &input, &output)?;
        let tier = pool.tier.unwrap_or_else(Tier::best);
        if !tier.is_supported() {
            return Err(Error::UnsupportedTier { tier });
        }
        let table = T::kernel_table(tier).ok_or(Error::UnsupportedTier { tier })?;
        let geom = match resolved.op {
            PoolOp::GlobalMax | PoolOp::GlobalAvg => None,
            _ => Some(WindowGeom::new(&resolved)),
        };
        Ok(Plan {
            pool: *pool,
            resolved,
            input_len: input.min_len()?,
            output_len: output.min_len()?,
            input,
            output,
            geom,
            table,
            parallel: pool.parallelism == Parallelism::Auto,
            _t: PhantomData,
        })
    }

    /// The parameters the plan was made from.
    pub fn pool(&self) -> &Pool2d {
        &self.pool
    }

    /// The input descriptor.
    pub fn input_desc(&self) -> TensorDesc {
        self.input
    }

    /// The output descriptor.
    pub fn output_desc(&self) -> TensorDesc {
        self.output
    }

    /// The smallest input buffer length (exact for a dense descriptor).
    pub fn input_len(&self) -> usize {
        self.input_len
    }

    /// The smallest output buffer length (exact for a dense descriptor).
    pub fn output_len(&self) -> usize {
        self.output_len
    }

    /// The length of the indices buffer: one `u32` per output element, dense, in the output's
    /// layout.
    pub fn indices_len(&self) -> usize {
        let s = self.output.shape();
        s.n * s.c * s.h * s.w
    }

    /// The tier, algorithm and layout that will run.
    pub fn kernel(&self) -> KernelInfo {
        let layout = self.input.layout();
        let algorithm = match &self.geom {
            Some(g) => (self.table.describe)(g, layout),
            None => (self.table.describe_global)(layout),
        };
        KernelInfo {
            tier: self.table.tier,
            algorithm,
            layout,
        }
    }

    /// Pools `input` into `output`. Errors (wrong buffer lengths) leave `output` untouched.
    pub fn run(&self, input: &[T], output: &mut [T]) -> Result<()> {
        self.check_buffers(input.len(), output.len())?;
        crate::parallel::execute(self, input, output, None);
        Ok(())
    }

    /// Max pooling (window or adaptive) with argmax indices: each index is the flat position
    /// `h·W + w` in the input plane of the value chosen, `u32::MAX` for a window entirely in
    /// padding. `indices` is dense, in the output's layout, [`indices_len`](Self::indices_len)
    /// long.
    pub fn run_with_indices(
        &self,
        input: &[T],
        output: &mut [T],
        indices: &mut [u32],
    ) -> Result<()> {
        self.check_buffers(input.len(), output.len())?;
        check_indices(&self.resolved, &self.output, indices.len())?;
        crate::parallel::execute(self, input, output, Some(indices));
        Ok(())
    }

    /// [`run`](Self::run) on raw bytes (for example a tensor from a C caller). The buffers must
    /// be aligned for `T` and a whole number of elements long.
    pub fn run_bytes(&self, input: &[u8], output: &mut [u8]) -> Result<()> {
        let i: &[T] = bytemuck::try_cast_slice(input).map_err(|e| cast_error("input", e))?;
        let o: &mut [T] =
            bytemuck::try_cast_slice_mut(output).map_err(|e| cast_error("output", e))?;
        self.run(i, o)
    }

    /// Allocates an aligned output, runs the plan and returns it.
    pub fn run_alloc(&self, input: &[T]) -> Result<AVec<T, ConstAlign<64>>> {
        self.input.check_len("input", input.len())?;
        let mut out = AVec::from_iter(64, core::iter::repeat_n(T::ZERO, self.output_len));
        self.run(input, &mut out)?;
        Ok(out)
    }

    fn check_buffers(&self, input: usize, output: usize) -> Result<()> {
        self.input.check_len("input", input)?;
        self.output.check_len("output", output)
    }

    pub(crate) fn reduce(&self) -> Reduce {
        if self.resolved.op.is_max() {
            Reduce::Max
        } else {
            Reduce::Avg
        }
    }
}

fn cast_error(buffer: &'static str, e: bytemuck::PodCastError) -> Error {
    let reason = match e {
        bytemuck::PodCastError::TargetAlignmentGreaterAndInputNotAligned => "misaligned",
        bytemuck::PodCastError::OutputSliceWouldHaveSlop => {
            "length is not a whole number of elements"
        }
        bytemuck::PodCastError::SizeMismatch => "size mismatch",
        bytemuck::PodCastError::AlignmentMismatch => "alignment mismatch",
    };
    Error::ByteCast { buffer, reason }
}

/// A tensor owned by nnpool: 64-byte aligned data and its descriptor.
#[derive(Clone, Debug)]
pub struct Tensor<T: Element = f32> {
    /// The elements, in the descriptor's layout.
    pub data: AVec<T, ConstAlign<64>>,
    /// Shape and layout.
    pub desc: TensorDesc,
}

impl Pool2d {
    /// Plans and runs the pooling on `input`, returning a newly allocated output.
    ///
    /// ```
    /// use nnpool::{Pool2d, TensorDesc};
    /// let x: Vec<f32> = (1..=16).map(|v| v as f32).collect();
    /// let y = Pool2d::avg(2).run(&x, TensorDesc::nchw(1, 1, 4, 4))?;
    /// assert_eq!(&y.data[..], &[3.5, 5.5, 11.5, 13.5]);
    /// # Ok::<(), nnpool::Error>(())
    /// ```
    pub fn run<T: Element>(&self, input: &[T], desc: TensorDesc) -> Result<Tensor<T>> {
        let plan = Plan::<T>::new(self, desc)?;
        let data = plan.run_alloc(input)?;
        Ok(Tensor {
            data,
            desc: plan.output_desc(),
        })
    }

    /// Plans and runs a max pooling with argmax indices, returning both, newly allocated.
    ///
    /// ```
    /// use nnpool::{Pool2d, TensorDesc};
    /// let x: Vec<f32> = (1..=16).map(|v| v as f32).collect();
    /// let (y, idx) = Pool2d::max(2).run_with_indices(&x, TensorDesc::nchw(1, 1, 4, 4))?;
    /// assert_eq!(&y.data[..], &[6.0, 8.0, 14.0, 16.0]);
    /// assert_eq!(&idx[..], &[5, 7, 13, 15]);
    /// # Ok::<(), nnpool::Error>(())
    /// ```
    pub fn run_with_indices<T: Element>(
        &self,
        input: &[T],
        desc: TensorDesc,
    ) -> Result<(Tensor<T>, AVec<u32, ConstAlign<64>>)> {
        let plan = Plan::<T>::new(self, desc)?;
        plan.input.check_len("input", input.len())?;
        check_indices(&plan.resolved, &plan.output, plan.indices_len())?;
        let mut data = AVec::from_iter(64, core::iter::repeat_n(T::ZERO, plan.output_len));
        let mut idx = AVec::from_iter(64, core::iter::repeat_n(0u32, plan.indices_len()));
        plan.run_with_indices(input, &mut data, &mut idx)?;
        Ok((
            Tensor {
                data,
                desc: plan.output_desc(),
            },
            idx,
        ))
    }
}
