//! Small calls never enter rayon: the global pool's two workers are kept busy, and a call that
//! handed work to the pool would wait for them. Each call runs on a watchdog thread; a call that
//! does not finish in time entered the pool. The control case (a large call with the default
//! parallelism) must be the one that waits, so the test can tell the two apart.
//!
//! This file is its own test binary, so configuring the global pool affects nothing else.

#![cfg(feature = "rayon")]

use std::sync::mpsc;
use std::time::Duration;

use nnpool::{Plan, Pool2d, TensorDesc};

/// Runs `plan` on a fresh thread (outside any rayon pool) and reports whether it finished
/// within `limit`.
fn finishes(plan: Plan<f32>, limit: Duration) -> bool {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let x = vec![1.0f32; plan.input_len()];
        let mut y = vec![0.0f32; plan.output_len()];
        plan.run(&x, &mut y).expect("run");
        let _ = tx.send(());
    });
    rx.recv_timeout(limit).is_ok()
}

#[test]
fn small_calls_stay_on_the_calling_thread() {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build_global()
        .expect("global pool");
    // Occupy both workers until the end of the test (a one-thread pool would not do: a call
    // never splits into tasks for a pool of one thread).
    let (started_tx, started) = mpsc::channel::<()>();
    let mut releases = Vec::new();
    for _ in 0..2 {
        let (release, blocked) = mpsc::channel::<()>();
        let started_tx = started_tx.clone();
        rayon::spawn(move || {
            started_tx.send(()).unwrap();
            let _ = blocked.recv();
        });
        releases.push(release);
    }
    for _ in 0..2 {
        started.recv().unwrap();
    }

    let small = [
        (Pool2d::max(2).stride(2), TensorDesc::nchw(1, 16, 4, 4)),
        (Pool2d::max(2).stride(2), TensorDesc::nhwc(1, 16, 4, 4)),
        (Pool2d::avg(3).padding(1), TensorDesc::nchw(1, 16, 8, 8)),
        (Pool2d::global_avg(), TensorDesc::nhwc(1, 64, 7, 7)),
        (
            Pool2d::max(3).stride(2).padding(1),
            TensorDesc::nchw(1, 8, 32, 32),
        ),
    ];
    for (pool, desc) in small {
        let plan = Plan::<f32>::new(&pool, desc).expect("plan");
        assert!(
            finishes(plan, Duration::from_secs(20)),
            "{pool:?} on {desc:?} waited for the busy rayon pool"
        );
    }

    // Control: a large call splits into tasks and waits for the busy worker.
    let big = Plan::<f32>::new(
        &Pool2d::max(3).stride(2).padding(1),
        TensorDesc::nchw(1, 64, 112, 112),
    )
    .expect("plan");
    assert!(
        !finishes(big, Duration::from_millis(500)),
        "a large call did not enter the rayon pool: the check above proves nothing"
    );
    // Let the workers go (the large call then finishes in the background).
    for release in releases {
        release.send(()).unwrap();
    }
}
