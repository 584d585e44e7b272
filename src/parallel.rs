//! The driver: splits a planned pooling into tasks and runs them, in parallel with rayon when the
//! work is large enough.
//!
//! Every output element (and index) is written by exactly one task, and kernels compute each
//! output independently of where a task starts, so results are bit-identical for any thread
//! count and any partition. No value is reduced across tasks.
//!
//! A call aims at [`TASKS_PER_THREAD`] tasks per thread of the current rayon pool, each with at
//! least [`GRAIN`] work: tasks pay a rayon join and the kernel's per-job setup (row tables, a
//! padded plane's frame), which on a 20×20 plane is a good part of the plane's own time, so a
//! call is cut into as few tasks as keep the threads evenly busy, not into as many as the work
//! allows. In a one-thread pool (and below [`SEQUENTIAL_WORK`]) a call runs on the calling
//! thread as one task.
//!
//! * NCHW window/adaptive pooling: tasks are runs of whole planes, or row blocks of one plane
//!   when there are few planes and each is large.
//! * NHWC window/adaptive pooling: tasks are row blocks of one image.
//! * Global pooling: NCHW tasks are runs of planes; NHWC tasks are channel blocks of one image.
//!
//! Tasks are executed by recursive halving with `rayon::join` (in the caller's rayon pool, so
//! `ThreadPool::install` confines them); below [`SEQUENTIAL_WORK`] everything runs on the
//! calling thread.

use crate::element::Element;
use crate::kernels::{GlobalNchwJob, GlobalNhwcJob, NchwJob, NhwcJob, PixelChannels};
use crate::plan::Plan;
use crate::tensor::Layout;

/// Work (in element visits, see `work_per_output`) a task should have at least.
const GRAIN: usize = 32 * 1024;
/// Work below which a call never enters rayon.
pub(crate) const SEQUENTIAL_WORK: usize = 2 * GRAIN;
/// Upper bound on the number of tasks of one call.
const MAX_TASKS: usize = 512;
/// Tasks per pool thread a parallel call aims at: two, so that a thread that starts late leaves
/// its second task to the others, and no more: every task pays a rayon join and the kernel's
/// per-job setup. (Two threads, report, alternated builds: 4 -> 2 took incep_avg 43.0 -> 38.8
/// µs NCHW and 29.2 -> 24.9 NHWC, sppf_max NCHW 21.1 -> 18.6, vgg4_max NHWC 13.4 -> 11.9; the
/// memory-bound rows unchanged within noise.)
const TASKS_PER_THREAD: usize = 2;
/// Channel blocks of NHWC pooling are multiples of this (a full AVX-512 register).
const CHANNEL_ALIGN: usize = 16;
/// Tasks per pool thread a parallel NHWC window pooling should have at least; one small image
/// with many channels gets channel blocks within its row blocks to reach it.
const MIN_TASKS_PER_THREAD: usize = 2;
/// The narrowest channel block of NHWC window pooling (narrower blocks pay the per-pixel
/// window bookkeeping for too few vectors).
const MIN_CHANNEL_BLOCK: usize = 64;

/// How the tasks of one call are laid out: `count` tasks, task `t` covering
/// `unit(t)`; `out_at(t)` / `idx_at(t)` give the offset where its output / indices start.
struct Split<U, O, I> {
    count: usize,
    unit: U,
    out_at: O,
    idx_at: I,
}

/// Runs `plan` on validated buffers.
pub(crate) fn execute<T: Element>(
    plan: &Plan<T>,
    input: &[T],
    output: &mut [T],
    idx: Option<&mut [u32]>,
) {
    let s = plan.input.shape();
    if s.n == 0 || s.c == 0 {
        return; // nothing to write (N = 0, or C = 0 where the operation allows it)
    }
    let o = plan.output.shape();
    let table = plan.table;
    // The pool the call runs in (rayon's global pool outside `ThreadPool::install`).
    let threads = if plan.parallel { pool_threads() } else { 1 };
    let parallel = plan.parallel && cfg!(feature = "rayon") && threads > 1;
    let budget = (threads * TASKS_PER_THREAD).min(MAX_TASKS);
    match (&plan.geom, plan.input.layout()) {
        (Some(g), Layout::Nchw) => {
            let planes = s.n * s.c;
            let (plane_in, plane_out) = (g.ih * g.iw, g.oh * g.ow);
            // Saturating: a huge kernel (its area fits usize) times many outputs may not.
            let per_row = (g.ow.saturating_mul(work_per_output(g)))
                .saturating_add(g.iw * (g.kh.max(1)).min(g.ih) / g.sh);
            let plane_work = per_row.saturating_mul(g.oh);
            let total = plane_work.saturating_mul(planes);
            // Small work never enters rayon.
            let par = parallel && total >= SEQUENTIAL_WORK;
            let (planes_per_task, rows_per_task) = if !par {
                (planes, g.oh)
            } else if plane_work >= 2 * GRAIN && planes < 8 {
                (1, rows_per_block(g, per_row, budget.div_ceil(planes)).0)
            } else {
                (task_size(planes, plane_work, threads, budget), g.oh)
            };
            let blocks = g.oh.div_ceil(rows_per_task);
            let count = if rows_per_task == g.oh {
                planes.div_ceil(planes_per_task)
            } else {
                planes * blocks
            };
            let unit = |t: usize| {
                if rows_per_task == g.oh {
                    let p0 = t * planes_per_task;
                    (p0, planes_per_task.min(planes - p0), 0..g.oh)
                } else {
                    let (p, b) = (t / blocks, t % blocks);
                    let r0 = b * rows_per_task;
                    (p, 1, r0..(r0 + rows_per_task).min(g.oh))
                }
            };
            let out_at = |t: usize| {
                if t == count {
                    return planes * plane_out;
                }
                let (p, _, rows) = unit(t);
                p * plane_out + rows.start * g.ow
            };
            let split = Split {
                count,
                unit,
                out_at,
                idx_at: out_at,
            };
            run_split(&split, output, idx, par, &|(p0, np, rows), dst, idx| {
                let src = &input[p0 * plane_in..(p0 + np) * plane_in];
                let job = NchwJob {
                    src,
                    dst,
                    idx,
                    planes: np,
                    rows,
                };
                (table.window_nchw)(g, job)
            });
        }
        (Some(g), Layout::Nhwc) => {
            let (ips, ops) = (plan.input.pixel_stride(), plan.output.pixel_stride());
            let (ioff, ooff) = (plan.input.offset(), plan.output.offset());
            let c = s.c;
            let per_row = (g.ow * c).saturating_mul(work_per_output(g));
            let total = per_row.saturating_mul(g.oh).saturating_mul(s.n);
            // Small work never enters rayon.
            let par = parallel && total >= SEQUENTIAL_WORK;
            let min_tasks = threads * MIN_TASKS_PER_THREAD;
            let rows_per_task = if !par {
                g.oh
            } else {
                let (rows, halo_bound) = rows_per_block(g, per_row, budget.div_ceil(s.n));
                // Row blocks that the shared rows of overlapping windows make larger than the
                // budget asks for repeat those rows' work (a separable pass); when channel
                // blocks alone give every thread work, the image is not cut into rows.
                if halo_bound && idx.is_none() && s.n * (c / MIN_CHANNEL_BLOCK) >= min_tasks {
                    g.oh
                } else {
                    rows
                }
            };
            let blocks = g.oh.div_ceil(rows_per_task);
            let count = s.n * blocks;
            // Too few row tasks for a parallel call (one small image): channel blocks too.
            let channel_block = if par && idx.is_none() && count < min_tasks {
                let want = min_tasks.div_ceil(count);
                balanced(c, c.div_ceil(want).max(MIN_CHANNEL_BLOCK)).next_multiple_of(CHANNEL_ALIGN)
            } else {
                c
            };
            let unit = |t: usize| {
                let (n, b) = (t / blocks, t % blocks);
                let r0 = b * rows_per_task;
                (n, r0..(r0 + rows_per_task).min(g.oh))
            };
            let pixel = |t: usize| {
                if t == count {
                    return s.n * o.h * o.w;
                }
                let (n, rows) = unit(t);
                (n * o.h + rows.start) * o.w
            };
            let split = Split {
                count,
                unit,
                out_at: |t: usize| {
                    if t == count {
                        usize::MAX
                    } else {
                        pixel(t) * ops
                    }
                },
                idx_at: |t: usize| pixel(t) * c,
            };
            let image_in = s.h * s.w * ips;
            let input = &input[ioff..];
            let output = &mut output[ooff..];
            run_split(&split, output, idx, par, &|(n, rows), dst, idx| {
                let run =
                    |c0: usize, nc: usize, dst: PixelChannels<'_, T>, idx: Option<&mut [u32]>| {
                        let start = n * image_in + c0;
                        let job = NhwcJob {
                            src: &input[start..start + (g.ih * g.iw - 1) * ips + nc],
                            src_ps: ips,
                            dst,
                            dst_ps: ops,
                            idx,
                            channels: nc,
                            rows: rows.clone(),
                        };
                        (table.window_nhwc)(g, job)
                    };
                let dst = PixelChannels::new(dst, ops, c);
                if channel_block >= c {
                    run(0, c, dst, idx);
                } else {
                    channel_blocks(dst, 0, c, channel_block, &|c0, nc, dst| {
                        run(c0, nc, dst, None)
                    });
                }
            });
        }
        (None, Layout::Nchw) => {
            let reduce = plan.reduce();
            let planes = s.n * s.c;
            let plane = s.h * s.w;
            let total = planes.saturating_mul(plane);
            // Small work never enters rayon.
            let par = parallel && total >= SEQUENTIAL_WORK;
            let per_task = if !par {
                planes
            } else {
                task_size(planes, plane, threads, budget)
            };
            let count = planes.div_ceil(per_task);
            let split = Split {
                count,
                unit: |t: usize| (t * per_task, per_task.min(planes - t * per_task)),
                out_at: |t: usize| (t * per_task).min(planes),
                idx_at: |_| 0,
            };
            run_split(&split, output, None, par, &|(p0, np), dst, _| {
                let job = GlobalNchwJob {
                    src: &input[p0 * plane..(p0 + np) * plane],
                    dst,
                    plane,
                };
                (table.global_nchw)(reduce, job)
            });
        }
        (None, Layout::Nhwc) => {
            let reduce = plan.reduce();
            let (ips, ops) = (plan.input.pixel_stride(), plan.output.pixel_stride());
            let (ioff, ooff) = (plan.input.offset(), plan.output.offset());
            let (c, pixels) = (s.c, s.h * s.w);
            let total = s.n.saturating_mul(c).saturating_mul(pixels);
            // Small work never enters rayon.
            let par = parallel && total >= SEQUENTIAL_WORK;
            let block = if !par {
                c
            } else {
                // Channel blocks aligned to the vector width (`task_count` tasks in all), as
                // equal as the alignment allows.
                let per_image = task_count(total, threads, budget).div_ceil(s.n);
                let want = c.div_ceil(per_image).next_multiple_of(CHANNEL_ALIGN);
                balanced(c, want).next_multiple_of(CHANNEL_ALIGN).min(c)
            };
            let blocks = c.div_ceil(block);
            let count = s.n * blocks;
            let unit = |t: usize| {
                let (n, b) = (t / blocks, t % blocks);
                (n, b * block, block.min(c - b * block))
            };
            let split = Split {
                count,
                unit,
                out_at: |t: usize| {
                    if t == count {
                        usize::MAX
                    } else {
                        let (n, c0, _) = unit(t);
                        n * ops + c0
                    }
                },
                idx_at: |_| 0,
            };
            let image_in = pixels * ips;
            let input = &input[ioff..];
            let output = &mut output[ooff..];
            run_split(&split, output, None, par, &|(n, c0, nc), dst, _| {
                let start = n * image_in + c0;
                let job = GlobalNhwcJob {
                    src: &input[start..start + (pixels - 1) * ips + nc],
                    src_ps: ips,
                    pixels,
                    dst: &mut dst[..nc],
                };
                (table.global_nhwc)(reduce, job)
            });
        }
    }
}

/// The number of threads of the rayon pool a call runs in.
fn pool_threads() -> usize {
    #[cfg(feature = "rayon")]
    return rayon::current_num_threads();
    #[cfg(not(feature = "rayon"))]
    return 1;
}

/// Runs `f(c0, n, view)` over the channel blocks of `block` channels (the last shorter) of the
/// `n` channels from `c0` that `dst` holds, halving recursively in parallel.
fn channel_blocks<T: Send, F>(dst: PixelChannels<'_, T>, c0: usize, n: usize, block: usize, f: &F)
where
    F: Fn(usize, usize, PixelChannels<'_, T>) + Sync,
{
    if n <= block {
        f(c0, n, dst);
        return;
    }
    let k = n.div_ceil(block) / 2 * block;
    let (a, b) = dst.split_channels(k);
    #[cfg(feature = "rayon")]
    rayon::join(
        || channel_blocks(a, c0, k, block, f),
        || channel_blocks(b, c0 + k, n - k, block, f),
    );
    #[cfg(not(feature = "rayon"))]
    {
        channel_blocks(a, c0, k, block, f);
        channel_blocks(b, c0 + k, n - k, block, f);
    }
}

/// Element visits per output of a window pooling: the window taps, with a floor for the
/// output's own write.
fn work_per_output(g: &crate::geom::WindowGeom) -> usize {
    let taps = if g.kh == 0 {
        // Adaptive: the average bin.
        g.ih.div_ceil(g.oh) * g.iw.div_ceil(g.ow)
    } else {
        g.kh * g.kw
    };
    taps.max(1)
}

/// Output rows per row-block task: at least `GRAIN` work, at most `max_blocks` blocks, and
/// enough rows that the input rows a block shares with its neighbours (windows overlapping
/// vertically) are at most half of the rows it reads; and whether that last bound set the
/// size. Algorithms that reduce each input row once for all the windows that use it
/// (separable and van Herk schemes, row rings) repeat that work for the shared rows of every
/// block, so one-row blocks of a 13×13 window would do the horizontal pass 13 times over.
fn rows_per_block(g: &crate::geom::WindowGeom, per_row: usize, max_blocks: usize) -> (usize, bool) {
    let by_grain = GRAIN
        .div_ceil(per_row.max(1))
        .max(g.oh.div_ceil(max_blocks.max(1)));
    let halo = halo_rows(g);
    (balanced(g.oh, by_grain.max(halo)), halo > by_grain)
}

/// The fewest output rows of a row block whose input rows are at most half shared with its
/// neighbours (0 when windows do not overlap vertically).
fn halo_rows(g: &crate::geom::WindowGeom) -> usize {
    // Rows a window reaches beyond its own stride.
    let extent =
        g.kh.saturating_sub(1)
            .saturating_mul(g.dh)
            .saturating_add(1);
    let shared = extent.saturating_sub(g.sh.max(1));
    (2 * shared).div_ceil(g.sh.max(1))
}

/// How many tasks `work` becomes: one per `GRAIN`, at most `budget`, and a multiple of
/// `threads` when there are at least that many (three equal tasks keep two threads busy as long
/// as four would, and two do it with less overhead).
fn task_count(work: usize, threads: usize, budget: usize) -> usize {
    let n = (work / GRAIN).clamp(1, budget.max(1));
    if n >= threads { n - n % threads } else { n }
}

/// Units per task for `task_count` tasks (at most one per unit), balanced: every task but the
/// last has the same size and the last is at most that, as close as `div_ceil` gets, so that
/// halving the task list gives even halves.
fn task_size(units: usize, work_per_unit: usize, threads: usize, budget: usize) -> usize {
    let count = task_count(units.saturating_mul(work_per_unit), threads, budget);
    balanced(units, units.div_ceil(count.clamp(1, units.max(1))))
}

/// The size of `units.div_ceil(size)` equal parts covering `units` (the last no larger).
fn balanced(units: usize, size: usize) -> usize {
    let size = size.clamp(1, units.max(1));
    units.div_ceil(units.div_ceil(size)).max(1)
}

/// Runs tasks `0..split.count` over disjoint pieces of `out` and `idx`, halving recursively.
fn run_split<T, U, O, I, F, X>(
    split: &Split<U, O, I>,
    out: &mut [T],
    idx: Option<&mut [u32]>,
    parallel: bool,
    f: &F,
) where
    T: Send,
    U: Fn(usize) -> X + Sync,
    O: Fn(usize) -> usize + Sync,
    I: Fn(usize) -> usize + Sync,
    F: Fn(X, &mut [T], Option<&mut [u32]>) + Sync,
{
    go(split, 0, split.count, out, idx, parallel, f);

    fn go<T, U, O, I, F, X>(
        s: &Split<U, O, I>,
        lo: usize,
        hi: usize,
        out: &mut [T],
        idx: Option<&mut [u32]>,
        parallel: bool,
        f: &F,
    ) where
        T: Send,
        U: Fn(usize) -> X + Sync,
        O: Fn(usize) -> usize + Sync,
        I: Fn(usize) -> usize + Sync,
        F: Fn(X, &mut [T], Option<&mut [u32]>) + Sync,
    {
        if hi - lo == 1 {
            f((s.unit)(lo), out, idx);
            return;
        }
        let mid = lo + (hi - lo) / 2;
        let (out_a, out_b) = out.split_at_mut((s.out_at)(mid) - (s.out_at)(lo));
        let (idx_a, idx_b) = match idx {
            Some(i) => {
                let (a, b) = i.split_at_mut((s.idx_at)(mid) - (s.idx_at)(lo));
                (Some(a), Some(b))
            }
            None => (None, None),
        };
        #[cfg(feature = "rayon")]
        if parallel {
            rayon::join(
                || go(s, lo, mid, out_a, idx_a, parallel, f),
                || go(s, mid, hi, out_b, idx_b, parallel, f),
            );
            return;
        }
        let _ = parallel;
        go(s, lo, mid, out_a, idx_a, parallel, f);
        go(s, mid, hi, out_b, idx_b, parallel, f);
    }
}
