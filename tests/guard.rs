//! No out-of-bounds access, proven with guard pages: the input, the output and the indices are
//! each mapped so that the buffer ends flush against an inaccessible (`PROT_NONE`) page, or
//! starts right after one; the input is also read-only. Every tier, operation and layout runs
//! on shapes whose vectorized extent takes every tail length 1..=2·16+1 (the output width and
//! the input width for NCHW window pooling, the plane size for NCHW global pooling, the
//! channels for NHWC), so a load or store one element past a buffer, or before it, faults.
//!
//! A fault kills the test binary with SIGSEGV; a handler first prints the case that was
//! running.

#![cfg(unix)]

mod common;

use std::cell::Cell;
use std::ptr;
use std::sync::Once;

use common::*;
use nnpool::{Layout, Plan, Pool2d, Shape, TensorDesc, Tier};

fn page() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) as usize }
}

/// Where a buffer sits against its guard pages.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Flush {
    /// The last element is the last before a guard page.
    End,
    /// The first element is the first after a guard page.
    Start,
}

/// `len` elements of `T` inside a mapping `[guard][data pages][guard]`, flush against one of
/// the guards.
struct Guarded<T> {
    base: *mut u8,
    total: usize,
    data: *mut u8,
    data_bytes: usize,
    ptr: *mut T,
    len: usize,
}

impl<T: Copy> Guarded<T> {
    fn new(len: usize, flush: Flush, fill: impl Fn(usize) -> T) -> Self {
        let pg = page();
        let bytes = len * size_of::<T>();
        let data_bytes = bytes.div_ceil(pg).max(1) * pg;
        let total = data_bytes + 2 * pg;
        // SAFETY: a fresh private anonymous mapping, inaccessible until mprotect below.
        let base = unsafe {
            libc::mmap(
                ptr::null_mut(),
                total,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED, "mmap");
        let base = base.cast::<u8>();
        // SAFETY: base + pg .. base + pg + data_bytes lies inside the mapping.
        let data = unsafe { base.add(pg) };
        // SAFETY: data is page aligned and data_bytes a whole number of pages of the mapping.
        let rc =
            unsafe { libc::mprotect(data.cast(), data_bytes, libc::PROT_READ | libc::PROT_WRITE) };
        assert_eq!(rc, 0, "mprotect");
        let off = match flush {
            Flush::End => data_bytes - bytes,
            Flush::Start => 0,
        };
        // SAFETY: off + bytes <= data_bytes; f32 and u32 alignment (4) divides off.
        let p = unsafe { data.add(off) }.cast::<T>();
        assert_eq!(p as usize % align_of::<T>(), 0);
        for i in 0..len {
            // SAFETY: i < len, inside the readable and writable data pages.
            unsafe { p.add(i).write(fill(i)) };
        }
        Guarded {
            base,
            total,
            data,
            data_bytes,
            ptr: p,
            len,
        }
    }

    /// Makes the data pages read-only (for inputs).
    fn read_only(self) -> Self {
        // SAFETY: the data pages of this mapping.
        let rc = unsafe { libc::mprotect(self.data.cast(), self.data_bytes, libc::PROT_READ) };
        assert_eq!(rc, 0, "mprotect");
        self
    }

    fn slice(&self) -> &[T] {
        // SAFETY: ptr..ptr+len was written in new() and stays mapped and readable while self
        // lives; for len = 0 ptr is non-null and aligned.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }

    fn slice_mut(&mut self) -> &mut [T] {
        // SAFETY: as in slice(); the pages are writable unless read_only() was called, which
        // is only done for inputs, never borrowed mutably.
        unsafe { std::slice::from_raw_parts_mut(self.ptr, self.len) }
    }
}

impl<T> Drop for Guarded<T> {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in new().
        unsafe { libc::munmap(self.base.cast(), self.total) };
    }
}

// ---------------------------------------------------------------------------------------------
// Naming the case that faults.

const NOTE: usize = 400;

thread_local! {
    /// The case this thread is running, for the SIGSEGV handler.
    static CASE: Cell<([u8; NOTE], usize)> = const { Cell::new(([0; NOTE], 0)) };
}

/// The handler that was installed before ours (Rust's, which reports stack overflows).
static mut PREVIOUS: Option<libc::sigaction> = None;

extern "C" fn on_segv(sig: libc::c_int, _info: *mut libc::siginfo_t, _ctx: *mut libc::c_void) {
    let (buf, len) = CASE.with(|c| c.get());
    let head =
        b"\nguard test: SIGSEGV (an out-of-bounds access, or a stack overflow) while running: ";
    // SAFETY: write(2) and sigaction(2) are async-signal-safe; PREVIOUS was written once, before
    // this handler was installed.
    unsafe {
        libc::write(2, head.as_ptr().cast(), head.len());
        libc::write(2, buf.as_ptr().cast(), len);
        libc::write(2, b"\n".as_ptr().cast(), 1);
        // Hand the fault to the previous handler: returning repeats the faulting access.
        match &*std::ptr::addr_of!(PREVIOUS) {
            Some(old) => libc::sigaction(sig, old, std::ptr::null_mut()),
            None => {
                libc::signal(sig, libc::SIG_DFL);
                0
            }
        };
    }
}

fn install_handler() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: installs a handler (on the alternate signal stack, which Rust sets up for its
        // threads, so that a stack overflow can still be reported) that only calls
        // async-signal-safe functions; PREVIOUS is written before the handler can run.
        unsafe {
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = on_segv as *const () as libc::sighandler_t;
            new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut new.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(libc::SIGSEGV, std::ptr::null(), &mut old);
            *std::ptr::addr_of_mut!(PREVIOUS) = Some(old);
            libc::sigaction(libc::SIGSEGV, &new, std::ptr::null_mut());
        }
    });
}

fn note(case: &str) {
    let b = case.as_bytes();
    let n = b.len().min(NOTE);
    let mut buf = [0u8; NOTE];
    buf[..n].copy_from_slice(&b[..n]);
    CASE.with(|c| c.set((buf, n)));
}

// ---------------------------------------------------------------------------------------------

/// Runs `pool` on `tier` with every buffer flush against a guard page (both placements), with
/// and without indices, and compares with the reference.
fn guarded_run(pool: &Pool2d, s: Shape, layout: Layout, tier: Tier) {
    let d = desc(s, layout);
    let plan = Plan::<f32>::new(&pool.tier(tier), d).unwrap();
    let x_nchw = mixed(
        &mut Rng((s.c * 1000 + s.w * 10 + s.h) as u64),
        s.numel().unwrap(),
    );
    let x = from_nchw(&x_nchw, s, layout);
    let with_idx = pool.op().has_indices();
    let want = run_reference(pool, s, layout, &x, with_idx).unwrap();
    for flush in [Flush::End, Flush::Start] {
        let ctx = format!(
            "{pool:?} on {s} {} [{tier}] buffers flush at {flush:?}",
            layout.name()
        );
        note(&ctx);
        let input = Guarded::new(x.len(), flush, |i| x[i]).read_only();
        let mut out = Guarded::new(plan.output_len(), flush, |_| SENTINEL);
        plan.run(input.slice(), out.slice_mut()).unwrap();
        assert_values(&ctx, want.avg, want.shape, layout, out.slice(), &want.y);
        if with_idx {
            let mut out = Guarded::new(plan.output_len(), flush, |_| SENTINEL);
            let mut idx = Guarded::new(plan.indices_len(), flush, |_| IDX_SENTINEL);
            plan.run_with_indices(input.slice(), out.slice_mut(), idx.slice_mut())
                .unwrap();
            assert_values(&ctx, want.avg, want.shape, layout, out.slice(), &want.y);
            assert_idx(
                &ctx,
                want.shape,
                layout,
                idx.slice(),
                want.idx.as_ref().unwrap(),
            );
        }
    }
    note("");
}

fn window_pools() -> Vec<Pool2d> {
    vec![
        Pool2d::max(2),
        Pool2d::max(3).stride(2).padding(1),
        Pool2d::max(3).stride(1).padding(1),
        Pool2d::max(3).stride(1),
        Pool2d::max((3, 5))
            .stride((1, 2))
            .padding((1, 2))
            .ceil_mode(true),
        Pool2d::max(3).stride(1).dilation(2).padding(1),
        Pool2d::max(5).stride(1).padding(2),
        Pool2d::max((1, 3)).stride((1, 3)).ceil_mode(true),
        Pool2d::avg(2),
        Pool2d::avg(3).stride(2).padding(1),
        Pool2d::avg(3).stride(1).padding(1).count_include_pad(false),
        Pool2d::avg((2, 3)).stride((1, 3)).ceil_mode(true),
        Pool2d::avg(5).stride(1).padding(2),
    ]
}

/// Input widths whose outputs (and themselves) cover every tail length.
fn widths(pool: &Pool2d, h: usize) -> Vec<usize> {
    let mut v: Vec<usize> = (1..=TAIL_MAX + 8).collect();
    for ow in 1..=TAIL_MAX {
        if let Some(w) =
            (1..=200).find(|&w| pool.output_shape(Shape::new(1, 1, h, w)).map(|o| o.w) == Ok(ow))
        {
            v.push(w);
        }
    }
    v.sort();
    v.dedup();
    v
}

#[test]
fn guard_nchw_window() {
    install_handler();
    for pool in window_pools() {
        let h = 4;
        for w in widths(&pool, h) {
            let s = Shape::new(1, 2, h, w);
            if pool.output_shape(s).is_err() {
                continue;
            }
            for &tier in tiers() {
                guarded_run(&pool, s, Layout::Nchw, tier);
            }
        }
    }
}

#[test]
fn guard_nhwc_window() {
    install_handler();
    for pool in window_pools() {
        for c in 1..=TAIL_MAX {
            for (h, w) in [(4, 5), (3, 1)] {
                let s = Shape::new(1, c, h, w);
                if pool.output_shape(s).is_err() {
                    continue;
                }
                for &tier in tiers() {
                    guarded_run(&pool, s, Layout::Nhwc, tier);
                }
            }
        }
    }
}

#[test]
fn guard_adaptive() {
    install_handler();
    for max in [true, false] {
        for t in 1..=TAIL_MAX {
            let mk = |o: (usize, usize)| {
                if max {
                    Pool2d::adaptive_max(o)
                } else {
                    Pool2d::adaptive_avg(o)
                }
            };
            for &tier in tiers() {
                // NCHW: output width t over narrower, equal and wider inputs.
                for iw in [t.div_ceil(2), t, 2 * t + 1] {
                    guarded_run(&mk((2, t)), Shape::new(1, 2, 3, iw), Layout::Nchw, tier);
                }
                // NHWC: t channels.
                guarded_run(&mk((2, 3)), Shape::new(1, t, 4, 5), Layout::Nhwc, tier);
            }
        }
    }
}

#[test]
fn guard_global() {
    install_handler();
    for pool in [Pool2d::global_max(), Pool2d::global_avg()] {
        for &tier in tiers() {
            // NCHW: plane sizes 1..=33 and beyond, one or two rows, several planes.
            for plane in 1..=2 * TAIL_MAX + 2 {
                guarded_run(&pool, Shape::new(1, 3, 1, plane), Layout::Nchw, tier);
                if plane % 2 == 0 {
                    guarded_run(&pool, Shape::new(2, 1, 2, plane / 2), Layout::Nchw, tier);
                }
            }
            // NHWC: channel counts 1..=33.
            for c in 1..=TAIL_MAX {
                guarded_run(&pool, Shape::new(2, c, 3, 2), Layout::Nhwc, tier);
                guarded_run(&pool, Shape::new(1, c, 1, 1), Layout::Nhwc, tier);
            }
        }
    }
}

#[test]
fn guard_strided_nhwc() {
    // A strided NHWC input and output (channel slices of wider buffers): the buffers end at the
    // last element of the last pixel, flush against the guard page.
    install_handler();
    for pool in [
        Pool2d::max(3).stride(2).padding(1),
        Pool2d::avg(3).stride(1).padding(1),
        Pool2d::adaptive_max((2, 3)),
        Pool2d::global_avg(),
        Pool2d::global_max(),
    ] {
        for c in 1..=TAIL_MAX {
            let s = Shape::new(2, c, 4, 5);
            let os = pool.output_shape(s).unwrap();
            let ind = TensorDesc::nhwc(s.n, c, s.h, s.w)
                .with_pixel_stride(c + 3)
                .with_offset(2);
            let outd = TensorDesc::nhwc(os.n, c, os.h, os.w)
                .with_pixel_stride(c + 5)
                .with_offset(1);
            let x_nchw = mixed(&mut Rng(c as u64), s.numel().unwrap());
            let dense = nchw_to_nhwc(&x_nchw, s);
            let want = run_reference(&pool, s, Layout::Nhwc, &dense, false).unwrap();
            for &tier in tiers() {
                let plan = Plan::<f32>::with_output(&pool.tier(tier), ind, outd).unwrap();
                for flush in [Flush::End, Flush::Start] {
                    let ctx = format!("{pool:?} strided c={c} [{tier}] {flush:?}");
                    note(&ctx);
                    let ps = c + 3;
                    let input = Guarded::new(ind.min_len().unwrap(), flush, |i| {
                        let j = i.wrapping_sub(2);
                        if i >= 2 && j % ps < c {
                            dense[j / ps * c + j % ps]
                        } else {
                            f32::NAN
                        }
                    })
                    .read_only();
                    let mut out = Guarded::new(outd.min_len().unwrap(), flush, |_| SENTINEL);
                    plan.run(input.slice(), out.slice_mut()).unwrap();
                    let got = out.slice();
                    for p in 0..os.n * os.h * os.w {
                        for ch in 0..c {
                            let g = got[1 + p * (c + 5) + ch];
                            let w = want.y[p * c + ch];
                            assert!(
                                same_value(want.avg, g, w),
                                "{ctx}: pixel {p} channel {ch}: {} vs {}",
                                show(g),
                                show(w)
                            );
                        }
                    }
                    let written = got
                        .iter()
                        .filter(|v| v.to_bits() != SENTINEL.to_bits())
                        .count();
                    assert_eq!(written, os.numel().unwrap(), "{ctx}: gap elements written");
                }
            }
        }
    }
    note("");
}
