//! The scalar tier: the reference loops of `src/reference.rs`, driven over a job's planes and
//! rows. It contains no `unsafe`; it is the yardstick every other tier is measured against.

use super::{GlobalNchwJob, GlobalNhwcJob, KernelTable, NchwJob, NhwcJob};
use crate::element::Element;
use crate::geom::{Reduce, WindowGeom};
use crate::params::PoolOp;
use crate::reference::{global_plane, window_plane};
use crate::tier::Tier;

/// The f32 scalar table.
pub(crate) static F32: KernelTable<f32> = table();

const fn table<T: Element>() -> KernelTable<T> {
    KernelTable {
        tier: Tier::Scalar,
        window_nchw: window_nchw::<T>,
        window_nhwc: window_nhwc::<T>,
        global_nchw: global_nchw::<T>,
        global_nhwc: global_nhwc::<T>,
        describe: |_, _| "reference",
        describe_global: |_| "reference",
    }
}

fn window_nchw<T: Element>(g: &WindowGeom, job: NchwJob<'_, T>) {
    job.check(g);
    let NchwJob {
        src,
        dst,
        mut idx,
        planes,
        rows,
    } = job;
    let (plane_in, plane_out) = (g.ih * g.iw, rows.len() * g.ow);
    for p in 0..planes {
        let x = &src[p * plane_in..][..plane_in];
        let y = &mut dst[p * plane_out..][..plane_out];
        let mut i = idx
            .as_deref_mut()
            .map(|i| &mut i[p * plane_out..][..plane_out]);
        let r0 = rows.start;
        window_plane(
            &g.resolved,
            |h, w| x[h * g.iw + w],
            rows.clone(),
            |oy, ox, v, k| {
                let at = (oy - r0) * g.ow + ox;
                y[at] = v;
                if let Some(i) = i.as_deref_mut() {
                    i[at] = k;
                }
            },
        );
    }
}

fn window_nhwc<T: Element>(g: &WindowGeom, job: NhwcJob<'_, T>) {
    job.check(g);
    let NhwcJob {
        src,
        src_ps,
        mut dst,
        dst_ps,
        mut idx,
        channels,
        rows,
    } = job;
    let r0 = rows.start;
    for c in 0..channels {
        let get = |h: usize, w: usize| src[(h * g.iw + w) * src_ps + c];
        window_plane(&g.resolved, get, rows.clone(), |oy, ox, v, k| {
            let pix = (oy - r0) * g.ow + ox;
            dst.set(pix * dst_ps + c, v);
            if let Some(i) = idx.as_deref_mut() {
                i[pix * channels + c] = k;
            }
        });
    }
}

fn op_of(reduce: Reduce) -> PoolOp {
    match reduce {
        Reduce::Max => PoolOp::GlobalMax,
        Reduce::Avg => PoolOp::GlobalAvg,
    }
}

fn global_nchw<T: Element>(reduce: Reduce, job: GlobalNchwJob<'_, T>) {
    job.check();
    let GlobalNchwJob { src, dst, plane } = job;
    for (p, y) in dst.iter_mut().enumerate() {
        let x = &src[p * plane..][..plane];
        *y = global_plane(op_of(reduce), 1, plane, |_, w| x[w]);
    }
}

fn global_nhwc<T: Element>(reduce: Reduce, job: GlobalNhwcJob<'_, T>) {
    job.check();
    let GlobalNhwcJob {
        src,
        src_ps,
        pixels,
        dst,
    } = job;
    for (c, y) in dst.iter_mut().enumerate() {
        *y = global_plane(op_of(reduce), 1, pixels, |_, p| src[p * src_ps + c]);
    }
}
