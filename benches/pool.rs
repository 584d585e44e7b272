//! Criterion benchmarks: every workload of `benches/workloads.json` × layout × supported tier ×
//! {1 thread, all threads}, with `Throughput::Bytes` (bytes read + written), next to a
//! streaming copy of the same byte count measured in the same group (the roofline a pooling,
//! which must read its input and write its output, cannot beat by much).
//!
//! ```text
//! cargo bench                          # everything
//! cargo bench -- resnet_stem_max/NCHW  # one workload and layout
//! NNPOOL_BENCH_WORKLOADS=path.json cargo bench
//! ```

#[path = "../examples/report/workload.rs"]
#[allow(dead_code)]
mod workload;

use std::hint::black_box;

use aligned_vec::{AVec, ConstAlign};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nnpool::{Plan, Tier};
use workload::Workload;

/// A 64-byte aligned buffer (an engine's tensors start on a cache line).
fn aligned(len: usize) -> AVec<f32, ConstAlign<64>> {
    AVec::from_iter(64, core::iter::repeat_n(0.0, len))
}

/// Deterministic pseudo-random input in [−1, 1), 64-byte aligned.
fn input(len: usize) -> AVec<f32, ConstAlign<64>> {
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut x = aligned(len);
    for v in x.iter_mut() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        *v = (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0;
    }
    x
}

fn bench(c: &mut Criterion) {
    let path = std::env::var("NNPOOL_BENCH_WORKLOADS")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/benches/workloads.json").into());
    let workloads = Workload::load(&path).expect("workload file");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut thread_counts = vec![1];
    if cores > 1 {
        thread_counts.push(cores);
    }
    for wl in &workloads {
        let pool = wl.pool().expect("workload");
        for &layout in &wl.layouts {
            let desc = wl.input_desc(layout);
            let mut group = c.benchmark_group(format!("{}/{}", wl.id, layout.name()));
            let probe = Plan::<f32>::new(&pool, desc).expect("plan");
            let x = input(probe.input_len());
            let mut y = aligned(probe.output_len());
            let bytes = 4 * (probe.input_len() + probe.output_len()) as u64;
            group.throughput(Throughput::Bytes(bytes));
            for &threads in &thread_counts {
                let tp = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .expect("pool");
                // Copy roofline: the same number of bytes (input + output), copied.
                let half = (probe.input_len() + probe.output_len()).div_ceil(2);
                let src = input(half);
                let mut dst = aligned(half);
                let chunk = half.div_ceil(threads);
                group.bench_function(BenchmarkId::new("copy", format!("t{threads}")), |b| {
                    tp.install(|| {
                        b.iter(|| {
                            use rayon::prelude::*;
                            dst.par_chunks_mut(chunk)
                                .zip(src.par_chunks(chunk))
                                .for_each(|(d, s)| d.copy_from_slice(black_box(s)));
                        })
                    })
                });
                for tier in Tier::supported() {
                    let p = pool.tier(tier);
                    let p = if threads == 1 { p.sequential() } else { p };
                    let plan = Plan::<f32>::new(&p, desc).expect("plan");
                    if tier == Tier::Scalar && probe.input_len() > 4 << 20 {
                        continue; // the reference on the largest tensors would dominate the run
                    }
                    let id = BenchmarkId::new(tier.name(), format!("t{threads}"));
                    group.bench_function(id, |b| {
                        tp.install(|| b.iter(|| plan.run(black_box(&x), &mut y).expect("run")))
                    });
                }
            }
            group.finish();
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(20)
        .warm_up_time(std::time::Duration::from_millis(300))
        .measurement_time(std::time::Duration::from_millis(800));
    targets = bench
}
criterion_main!(benches);
