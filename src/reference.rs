//! The scalar reference: the executable specification of every operation.
//!
//! Plain, obviously-correct loops, written from the parameters alone (no precomputed tables), so
//! that they check the planner as well as the kernels. Every SIMD tier must agree with these
//! functions: bit for bit for max pooling, its indices and every average.
//!
//! The rules, each checked against PyTorch 2.x on CPU:
//!
//! * **Window position.** Output `o` of an axis covers input coordinates
//!   `o·stride − pad_begin + i·dilation` for `i < kernel`. Only in-bounds taps are visited,
//!   rows first, then columns.
//! * **Max.** Start from −∞ with the index of the first in-bounds tap; a tap `v` replaces the
//!   running maximum `m` when `v > m || v.is_nan()`. So the first of tied values wins (−0.0 and
//!   +0.0 tie), NaN propagates and the index of the last NaN wins, and padding acts as −∞. A
//!   window with no in-bounds tap (possible only with dilation or `SAME` padding) gives −∞ and
//!   the index `u32::MAX`.
//! * **Average.** The sum starts at +0.0 and adds the in-bounds taps in row-major window order
//!   in the element type (f32: no wider accumulator, so four 1e38 values average to +∞), then
//!   one division. The divisor is `divisor_override` if given; else with `count_include_pad` the
//!   window clipped to the padded extent (`min(start + k, L + pad_end) − start` per axis, not
//!   always kh·kw in ceil mode); else the number of in-bounds taps.
//! * **Adaptive.** Bin `o` of `O` over `L` elements is `[floor(o·L/O), ceil((o+1)·L/O))`; max and
//!   average as above over the bin, the average with a single division by the bin size.
//! * **Global average.** nnpool defines the order: pixel `p` (row-major over H×W) is added to
//!   partial sum `p mod 16`; the 16 partials are then folded `s[j] += s[j + 8]`, then `+4`,
//!   `+2`, `+1`, and divided once by H·W. PyTorch's `mean()` order depends on its build, so
//!   results agree with PyTorch within a few ulp, and every nnpool tier agrees with this order
//!   exactly.
//! * **Global max.** Max over the plane in row-major order with the rule above.
//! * **Denormals** are neither flushed nor treated as zero: nnpool never changes the FTZ/DAZ
//!   state of the thread.

use crate::element::Element;
use crate::error::{Error, Result};
use crate::params::{Axis, Pool2d, PoolOp, Resolved, adaptive_bin};
use crate::tensor::{Layout, TensorDesc};

/// The index reported for a max window that has no in-bounds tap.
pub const NO_INDEX: u32 = u32::MAX;

/// Runs `pool` with the reference loops.
///
/// `output` must match the descriptor of the shape [`Pool2d::output_shape`] gives (same layout
/// as the input); `indices`, when given, is a dense tensor of the output's shape and layout
/// holding the argmax of each output as a flat index `h·W + w` into its input plane.
///
/// ```
/// use nnpool::{Pool2d, TensorDesc, reference};
/// let x: Vec<f32> = (1..=16).map(|v| v as f32).collect();
/// let mut y = [0.0f32; 4];
/// let mut idx = [0u32; 4];
/// reference::pool2d(&Pool2d::max(2), &TensorDesc::nchw(1, 1, 4, 4), &x,
///                   &TensorDesc::nchw(1, 1, 2, 2), &mut y, Some(&mut idx)).unwrap();
/// assert_eq!(y, [6.0, 8.0, 14.0, 16.0]);
/// assert_eq!(idx, [5, 7, 13, 15]);
/// ```
pub fn pool2d<T: Element>(
    pool: &Pool2d,
    input_desc: &TensorDesc,
    input: &[T],
    output_desc: &TensorDesc,
    output: &mut [T],
    indices: Option<&mut [u32]>,
) -> Result<()> {
    let checked = crate::plan::check_call(pool, input_desc, output_desc)?;
    let r = checked.resolved;
    input_desc.check_len("input", input.len())?;
    output_desc.check_len("output", output.len())?;
    if let Some(idx) = &indices {
        crate::plan::check_indices(&r, output_desc, idx.len())?;
    }
    let s = input_desc.shape();
    let o = output_desc.shape();
    let iv = View::of(input_desc);
    let ov = View::of(output_desc);
    let dense_out = TensorDesc::new(o, output_desc.layout());
    let xv = View::of(&dense_out);
    let mut indices = indices;
    for n in 0..s.n {
        for c in 0..s.c {
            let get = |h: usize, w: usize| input[iv.at(n, c, h, w)];
            match r.op {
                PoolOp::GlobalMax | PoolOp::GlobalAvg => {
                    let v = global_plane(r.op, s.h, s.w, get);
                    output[ov.at(n, c, 0, 0)] = v;
                }
                _ => window_plane(&r, get, 0..o.h, |oy, ox, v, i| {
                    output[ov.at(n, c, oy, ox)] = v;
                    if let Some(idx) = indices.as_deref_mut() {
                        idx[xv.at(n, c, oy, ox)] = i;
                    }
                }),
            }
        }
    }
    Ok(())
}

/// Element addressing for a descriptor.
#[derive(Clone, Copy, Debug)]
pub(crate) struct View {
    layout: Layout,
    c: usize,
    h: usize,
    w: usize,
    ps: usize,
    offset: usize,
}

impl View {
    pub(crate) fn of(d: &TensorDesc) -> Self {
        let s = d.shape();
        View {
            layout: d.layout(),
            c: s.c,
            h: s.h,
            w: s.w,
            ps: d.pixel_stride(),
            offset: d.offset(),
        }
    }

    #[inline]
    pub(crate) fn at(&self, n: usize, c: usize, h: usize, w: usize) -> usize {
        match self.layout {
            Layout::Nchw => ((n * self.c + c) * self.h + h) * self.w + w,
            Layout::Nhwc => self.offset + ((n * self.h + h) * self.w + w) * self.ps + c,
        }
    }
}

/// The in-bounds taps of output `o` along an axis, as input coordinates in increasing order.
fn taps(op: PoolOp, a: &Axis, o: usize) -> impl Iterator<Item = usize> + Clone {
    let (start, kernel, step) = if matches!(op, PoolOp::AdaptiveMax | PoolOp::AdaptiveAvg) {
        let (s, e) = adaptive_bin(o, a.input, a.output);
        (s as i128, e - s, 1)
    } else {
        (a.window_start(o), a.kernel, a.dilation)
    };
    let input = a.input as i128;
    (0..kernel)
        .map(move |i| start + (i * step) as i128)
        .filter(move |&x| x >= 0 && x < input)
        .map(|x| x as usize)
}

/// The factor of the average divisor contributed by output `o` of an axis.
fn divisor_factor(op: PoolOp, a: &Axis, o: usize, count_include_pad: bool) -> usize {
    if op == PoolOp::Avg && count_include_pad {
        let start = a.window_start(o);
        let padded_end = (a.input + a.pad_end) as i128;
        ((start + a.kernel as i128).min(padded_end) - start) as usize
    } else {
        taps(op, a, o).count()
    }
}

/// Computes the outputs of rows `oy_range` of one plane of a window or adaptive pooling,
/// reading the input plane through `get(h, w)` and handing each result to `put(oy, ox, value,
/// index)` (the index is [`NO_INDEX`] for averages). Allocation-free.
pub(crate) fn window_plane<T: Element>(
    r: &Resolved,
    get: impl Fn(usize, usize) -> T,
    oy_range: core::ops::Range<usize>,
    mut put: impl FnMut(usize, usize, T, u32),
) {
    let iw = r.cols.input;
    for oy in oy_range {
        for ox in 0..r.cols.output {
            if r.op.is_max() {
                let mut m = T::NEG_INFINITY;
                let mut idx = NO_INDEX;
                for h in taps(r.op, &r.rows, oy) {
                    for w in taps(r.op, &r.cols, ox) {
                        let v = get(h, w);
                        let i = (h * iw + w) as u32;
                        if idx == NO_INDEX {
                            idx = i;
                        }
                        if v.gt(m) || v.is_nan() {
                            m = v;
                            idx = i;
                        }
                    }
                }
                put(oy, ox, m, idx);
            } else {
                let mut sum = T::ZERO;
                for h in taps(r.op, &r.rows, oy) {
                    for w in taps(r.op, &r.cols, ox) {
                        sum = sum.add(get(h, w));
                    }
                }
                let div = match r.divisor_override {
                    Some(d) => d as usize,
                    None => {
                        divisor_factor(r.op, &r.rows, oy, r.count_include_pad)
                            * divisor_factor(r.op, &r.cols, ox, r.count_include_pad)
                    }
                };
                put(oy, ox, sum.div_count(div), NO_INDEX);
            }
        }
    }
}

/// Reduces one H×W plane read through `get(h, w)` (global max or global average, see the
/// module documentation for the order).
pub(crate) fn global_plane<T: Element>(
    op: PoolOp,
    h: usize,
    w: usize,
    get: impl Fn(usize, usize) -> T,
) -> T {
    if op == PoolOp::GlobalMax {
        let mut m = T::NEG_INFINITY;
        for y in 0..h {
            for x in 0..w {
                let v = get(y, x);
                if v.gt(m) || v.is_nan() {
                    m = v;
                }
            }
        }
        return m;
    }
    let mut part = [T::ZERO; 16];
    for p in 0..h * w {
        part[p % 16] = part[p % 16].add(get(p / w, p % w));
    }
    for width in [8, 4, 2, 1] {
        for j in 0..width {
            part[j] = part[j].add(part[j + width]);
        }
    }
    part[0].div_count(h * w)
}

/// The error of asking indices from an operation without them.
pub(crate) fn no_indices(op: PoolOp) -> Error {
    Error::IndicesNotSupported { op: op.name() }
}
