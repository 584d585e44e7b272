//! Geometry precomputed by a plan and handed to the kernels: window spans per output row and
//! column, the interior where no window is clipped, and average divisors.

use core::ops::Range;

use crate::params::{Axis, PoolOp, Resolved, adaptive_bin};

/// The reduction of a window or adaptive pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduce {
    /// Maximum with PyTorch's NaN and tie rules.
    Max,
    /// Sum in window order, then one division.
    Avg,
}

/// The in-bounds taps of one output along one axis: `count` taps at `start`, `start + step`, …
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// Input coordinate of the first in-bounds tap (meaningless when `count == 0`).
    pub start: usize,
    /// Number of in-bounds taps (0 only for a window entirely in padding).
    pub count: usize,
    /// This axis' factor of the average divisor (see the reference).
    pub div: usize,
}

/// Everything a window or adaptive kernel needs, fixed when the plan is made.
///
/// Invariants established by the planner (kernels rely on them for memory safety):
/// every tap `start + i·step` (`i < count`) of every span lies in `[0, ih)` resp. `[0, iw)`;
/// `rows.len() == oh`, `cols.len() == ow`; for outputs in the interior
/// (`interior_rows × interior_cols`) the whole window is in bounds, starting at
/// `o·stride − pad_begin` with `kernel` taps of step `dilation`.
#[derive(Clone, Debug)]
pub struct WindowGeom {
    /// Max or average.
    pub reduce: Reduce,
    /// The operation (window or adaptive).
    pub op: PoolOp,
    /// Input height and width.
    pub ih: usize,
    /// Input width.
    pub iw: usize,
    /// Output height.
    pub oh: usize,
    /// Output width.
    pub ow: usize,
    /// Kernel height (0 for adaptive pooling).
    pub kh: usize,
    /// Kernel width (0 for adaptive pooling).
    pub kw: usize,
    /// Vertical stride.
    pub sh: usize,
    /// Horizontal stride.
    pub sw: usize,
    /// Vertical dilation.
    pub dh: usize,
    /// Horizontal dilation.
    pub dw: usize,
    /// Top padding.
    pub pt: usize,
    /// Left padding.
    pub pl: usize,
    /// Span of each output row.
    pub rows: Vec<Span>,
    /// Span of each output column.
    pub cols: Vec<Span>,
    /// Output rows whose windows are never clipped vertically (empty for adaptive pooling).
    pub interior_rows: Range<usize>,
    /// Output columns whose windows are never clipped horizontally.
    pub interior_cols: Range<usize>,
    /// `divisor_override`, when given.
    pub divisor_override: Option<u32>,
    /// The divisor of an interior output (`override` or `kh·kw`).
    pub interior_divisor: usize,
    /// The resolved parameters, for the scalar tier.
    pub(crate) resolved: Resolved,
}

impl WindowGeom {
    /// The average divisor of output (oy, ox).
    #[inline]
    pub fn divisor(&self, oy: usize, ox: usize) -> usize {
        match self.divisor_override {
            Some(d) => d as usize,
            None => self.rows[oy].div * self.cols[ox].div,
        }
    }

    /// True when the output (oy, ox) is in the unclipped interior.
    #[inline]
    pub fn is_interior(&self, oy: usize, ox: usize) -> bool {
        self.interior_rows.contains(&oy) && self.interior_cols.contains(&ox)
    }

    pub(crate) fn new(r: &Resolved) -> Self {
        let adaptive = matches!(r.op, PoolOp::AdaptiveMax | PoolOp::AdaptiveAvg);
        let reduce = if r.op.is_max() {
            Reduce::Max
        } else {
            Reduce::Avg
        };
        let spans = |a: &Axis| -> (Vec<Span>, Range<usize>) {
            let mut v = Vec::with_capacity(a.output);
            let (mut lo, mut hi) = (a.output, a.output);
            for o in 0..a.output {
                let span = if adaptive {
                    let (s, e) = adaptive_bin(o, a.input, a.output);
                    Span {
                        start: s,
                        count: e - s,
                        div: e - s,
                    }
                } else {
                    axis_span(a, o, r.count_include_pad && r.op == PoolOp::Avg)
                };
                let full = !adaptive && span.count == a.kernel && a.window_start(o) >= 0;
                if full && lo == a.output {
                    lo = o;
                }
                if !full && lo != a.output && hi == a.output {
                    hi = o;
                }
                v.push(span);
            }
            if lo == a.output {
                hi = lo;
            }
            (v, lo..hi)
        };
        let (rows, interior_rows) = spans(&r.rows);
        let (cols, interior_cols) = spans(&r.cols);
        let interior_divisor = match r.divisor_override {
            Some(d) => d as usize,
            None => r.rows.kernel * r.cols.kernel,
        };
        WindowGeom {
            reduce,
            op: r.op,
            ih: r.rows.input,
            iw: r.cols.input,
            oh: r.rows.output,
            ow: r.cols.output,
            kh: if adaptive { 0 } else { r.rows.kernel },
            kw: if adaptive { 0 } else { r.cols.kernel },
            sh: clamp(r.rows.stride.max(1), &r.rows),
            sw: clamp(r.cols.stride.max(1), &r.cols),
            dh: clamp(r.rows.dilation, &r.rows),
            dw: clamp(r.cols.dilation, &r.cols),
            pt: r.rows.pad_begin,
            pl: r.cols.pad_begin,
            rows,
            cols,
            interior_rows,
            interior_cols,
            divisor_override: r.divisor_override,
            interior_divisor,
            resolved: *r,
        }
    }
}

/// Clamps a stride or dilation to the padded extent of its axis. A step that long already
/// leaves the padded input (a second window or a second tap would start past it), so the
/// clamped value selects exactly the same taps, and the kernels' index arithmetic stays far from
/// overflow whatever the parameters.
fn clamp(step: usize, a: &Axis) -> usize {
    let padded = a
        .input
        .saturating_add(a.pad_begin)
        .saturating_add(a.pad_end);
    step.min(padded.max(1))
}

/// The span of window `o` along a window-pooling axis.
fn axis_span(a: &Axis, o: usize, count_include_pad: bool) -> Span {
    let start = a.window_start(o);
    let (k, d, l) = (a.kernel as i128, a.dilation as i128, a.input as i128);
    // First tap index i with start + i·d >= 0.
    let first = if start >= 0 { 0 } else { (-start + d - 1) / d };
    // Taps i with start + i·d <= l − 1, i.e. i <= (l − 1 − start) / d.
    let last = if l - 1 - start < 0 {
        -1
    } else {
        ((l - 1 - start) / d).min(k - 1)
    };
    let count = (last - first + 1).max(0);
    let div = if count_include_pad {
        let padded_end = l + a.pad_end as i128;
        ((start + k).min(padded_end) - start) as usize
    } else {
        count as usize
    };
    Span {
        start: if count > 0 {
            (start + first * d) as usize
        } else {
            0
        },
        count: count as usize,
        div,
    }
}
