//! Running a plan allocates nothing: a counting global allocator watches `Plan::run` and
//! `Plan::run_with_indices` (after a warm-up run) for every operation × layout × tier with
//! `.sequential()`. Also: `Plan<f32>` is `Send + Sync`, checked at compile time.

mod common;

use std::alloc::{GlobalAlloc, Layout as AllocLayout, System};
use std::cell::Cell;

use common::*;
use nnpool::{Layout, Plan, Pool2d, SameMode, Shape, TensorDesc};

/// Counts heap calls made on threads that have counting switched on (so the test harness'
/// other threads do not disturb the count).
struct Counting;

thread_local! {
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    static CALLS: Cell<usize> = const { Cell::new(0) };
}

fn record() {
    // try_with: the allocator may be called while thread-locals are being torn down.
    let _ = ACTIVE.try_with(|a| {
        if a.get() {
            let _ = CALLS.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: every method forwards to System unchanged; counting touches only const-initialised
// thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: AllocLayout) -> *mut u8 {
        record();
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: AllocLayout) -> *mut u8 {
        record();
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: AllocLayout) {
        record();
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: AllocLayout, new_size: usize) -> *mut u8 {
        record();
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The heap calls `f` makes on this thread.
fn heap_calls(f: impl FnOnce()) -> usize {
    CALLS.with(|c| c.set(0));
    ACTIVE.with(|a| a.set(true));
    f();
    ACTIVE.with(|a| a.set(false));
    CALLS.with(|c| c.get())
}

// Plans are shared between threads.
const _: () = {
    const fn send_sync<T: Send + Sync>() {}
    send_sync::<Plan<f32>>();
    send_sync::<Plan>();
    send_sync::<nnpool::Pool2d>();
    send_sync::<nnpool::Error>();
};

fn pools() -> Vec<Pool2d> {
    let mut v = typical_pools();
    v.extend([
        Pool2d::max(13).stride(1).padding(6),
        Pool2d::max(3).stride(2).padding_same(SameMode::Upper),
        Pool2d::avg(5).stride(3).ceil_mode(true),
        Pool2d::adaptive_avg(1),
        Pool2d::adaptive_max((13, 17)),
    ]);
    v
}

#[test]
fn counter_works() {
    let n = heap_calls(|| drop(std::hint::black_box(vec![1u8; 10])));
    assert_eq!(n, 2, "one allocation and one deallocation");
    let x = vec![1.0f32; 16];
    let n = heap_calls(|| {
        let _ = Pool2d::max(2)
            .run(&x, TensorDesc::nchw(1, 1, 4, 4))
            .unwrap();
    });
    assert!(
        n > 0,
        "Pool2d::run allocates its output, the counter must see it"
    );
}

#[test]
fn runs_do_not_allocate() {
    for pool in pools() {
        for layout in LAYOUTS {
            for s in [
                // Interior and borders, several planes, NHWC channel tails.
                Shape::new(2, 3, 17, 19),
                Shape::new(1, 37, 7, 21),
            ] {
                if pool.output_shape(s).is_err() {
                    continue;
                }
                let x = mixed(&mut Rng(3), s.numel().unwrap());
                for &tier in tiers() {
                    let ctx = format!("{pool:?} on {s} {} [{tier}]", layout.name());
                    let plan =
                        Plan::<f32>::new(&pool.sequential().tier(tier), desc(s, layout)).unwrap();
                    let mut y = vec![0.0f32; plan.output_len()];
                    let mut idx = vec![0u32; plan.indices_len()];
                    plan.run(&x, &mut y).unwrap(); // warm-up
                    let n = heap_calls(|| plan.run(&x, &mut y).unwrap());
                    assert_eq!(n, 0, "{ctx}: run made {n} heap calls");
                    if pool.op().has_indices() {
                        plan.run_with_indices(&x, &mut y, &mut idx).unwrap();
                        let n = heap_calls(|| plan.run_with_indices(&x, &mut y, &mut idx).unwrap());
                        assert_eq!(n, 0, "{ctx}: run_with_indices made {n} heap calls");
                    }
                    // Errors do not allocate either (their messages are formatted lazily).
                    let n = heap_calls(|| assert!(plan.run(&x[1..], &mut y).is_err()));
                    assert_eq!(n, 0, "{ctx}: a refused run made {n} heap calls");
                    let xb: &[u8] = bytemuck::cast_slice(&x);
                    let yb: &mut [u8] = bytemuck::cast_slice_mut(&mut y);
                    let n = heap_calls(|| plan.run_bytes(xb, yb).unwrap());
                    assert_eq!(n, 0, "{ctx}: run_bytes made {n} heap calls");
                }
            }
        }
    }
    // A strided NHWC output (a concatenation buffer slice).
    let s = Shape::new(1, 7, 12, 12);
    let pool = Pool2d::max(5).stride(1).padding(2).sequential();
    let out = TensorDesc::nhwc(1, 7, 12, 12)
        .with_pixel_stride(28)
        .with_offset(7);
    let x = mixed(&mut Rng(4), s.numel().unwrap());
    for &tier in tiers() {
        let plan = Plan::<f32>::with_output(&pool.tier(tier), desc(s, Layout::Nhwc), out).unwrap();
        let mut y = vec![0.0f32; plan.output_len()];
        plan.run(&x, &mut y).unwrap();
        let n = heap_calls(|| plan.run(&x, &mut y).unwrap());
        assert_eq!(n, 0, "strided NHWC [{tier}]: {n} heap calls");
    }
}
