//! The nnpool report: runs every workload of a workload file in each layout, on the
//! dispatcher's tier (or every tier), at each thread count; checks every output against the
//! scalar reference; and prints median time, GB/s, the copy roofline measured in the same run
//! and the speedup over the scalar reference. `--json OUT` writes the JSON-lines rows that
//! `../shared/peers/peers.py --ours OUT` compares with PyTorch, ONNX Runtime and LiteRT/XNNPACK.
//!
//! ```text
//! cargo run --release --example report -- [--workloads FILE] [--threads 1,2] [--tier NAME|all]
//!                                          [--json OUT] [--min-time SECONDS] [--rounds R]
//! ```
//!
//! Exits non-zero when any output differs from the reference.

mod workload;

use aligned_vec::{AVec, ConstAlign};
use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use nnpool::{Layout, Plan, Pool2d, Tier, reference};
use workload::Workload;

struct Args {
    workloads: String,
    threads: Vec<usize>,
    tiers: Option<Vec<Tier>>,
    json: Option<String>,
    min_time: f64,
    rounds: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: report [--workloads FILE] [--threads N[,N..]] [--tier NAME|all] [--json OUT] \
         [--min-time SECONDS] [--rounds R]"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut a = Args {
        workloads: concat!(env!("CARGO_MANIFEST_DIR"), "/benches/workloads.json").into(),
        threads: if cores > 1 { vec![1, cores] } else { vec![1] },
        tiers: None,
        json: None,
        min_time: 0.15,
        rounds: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| usage());
        match k.as_str() {
            "--workloads" => a.workloads = val(),
            "--threads" => {
                a.threads = val()
                    .split(',')
                    .map(|t| t.trim().parse().unwrap_or_else(|_| usage()))
                    .filter(|&t| t > 0)
                    .collect()
            }
            "--tier" => {
                let v = val();
                a.tiers = Some(if v == "all" {
                    Tier::supported()
                } else {
                    v.split(',')
                        .map(|t| {
                            t.parse::<Tier>().unwrap_or_else(|e| {
                                eprintln!("{e}");
                                std::process::exit(2)
                            })
                        })
                        .collect()
                })
            }
            "--json" => a.json = Some(val()),
            "--min-time" => a.min_time = val().parse().unwrap_or_else(|_| usage()),
            "--rounds" => a.rounds = val().parse().unwrap_or_else(|_| usage()),
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    a.rounds = a.rounds.max(1);
    a
}

/// Deterministic pseudo-random input in [-1, 1).
/// A 64-byte aligned buffer of `len` copies of `v`: tensors of an inference engine's arena (and
/// the peers' buffers) start on a cache line, and a vector load that straddles two lines costs
/// two.
fn aligned(len: usize, v: f32) -> AVec<f32, ConstAlign<64>> {
    AVec::from_iter(64, core::iter::repeat_n(v, len))
}

/// [`aligned`], allocated as numpy allocates the peers' arrays (`peers.py` makes its inputs
/// and its copy buffers with numpy): from 4 MiB on, Linux is asked for transparent huge pages
/// (`madvise(MADV_HUGEPAGE)` from the first page boundary) before the first touch. The report's
/// input and copy-roofline buffers come from here; its outputs, like the peers' (allocated by
/// each framework), do not.
fn numpy_like(len: usize, v: f32) -> AVec<f32, ConstAlign<64>> {
    let mut a = AVec::with_capacity(64, len);
    #[cfg(target_os = "linux")]
    {
        let (bytes, page) = (len * size_of::<f32>(), 4096);
        if bytes >= 4 << 20 {
            let p = a.as_mut_ptr() as usize;
            let skip = p.next_multiple_of(page) - p;
            // SAFETY: [p + skip, p + bytes) lies inside the vector's own allocation (capacity
            // >= len elements); madvise only changes how the kernel backs those pages (an
            // advice it may ignore, as it does where huge pages are off).
            unsafe {
                libc::madvise(
                    (p + skip) as *mut libc::c_void,
                    bytes - skip,
                    libc::MADV_HUGEPAGE,
                )
            };
        }
    }
    a.resize(len, v);
    a
}

/// Deterministic pseudo-random input in [−1, 1), 64-byte aligned.
fn input(len: usize, seed: u64) -> AVec<f32, ConstAlign<64>> {
    let mut s = seed | 1;
    let mut x = numpy_like(len, 0.0);
    for v in x.iter_mut() {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        *v = (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0;
    }
    x
}

/// Per-call samples of one system, gathered over several rounds.
#[derive(Default)]
struct Samples {
    per_call_ns: Vec<f64>,
    reps: usize,
}

impl Samples {
    fn median(&self) -> f64 {
        let mut v = self.per_call_ns.clone();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }
    fn min(&self) -> f64 {
        self.per_call_ns
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
    }
}

/// Calls `f` for about `budget`, in batches long enough to time (>= 20 µs), recording the
/// per-call time of each batch.
fn sample(f: &mut dyn FnMut(), budget: Duration, min_batches: usize, out: &mut Samples) {
    // Estimate the call time.
    let t0 = Instant::now();
    f();
    let one = t0.elapsed().as_secs_f64().max(1e-9);
    let batch = ((20e-6 / one).ceil() as usize).clamp(1, 100_000);
    let start = Instant::now();
    let mut n = 0;
    while n < min_batches || start.elapsed() < budget {
        let t = Instant::now();
        for _ in 0..batch {
            f();
        }
        out.per_call_ns
            .push(t.elapsed().as_nanos() as f64 / batch as f64);
        out.reps += batch;
        n += 1;
    }
}

/// Warms up `f`: at least `calls` calls and 20 ms.
fn warm(f: &mut dyn FnMut(), calls: usize) {
    let start = Instant::now();
    let mut n = 0;
    while n < calls || start.elapsed() < Duration::from_millis(20) {
        f();
        n += 1;
    }
}

struct System {
    name: String,
    tier: Tier,
    algorithm: &'static str,
    plan: Plan<f32>,
    samples: Samples,
}

fn main() {
    let args = parse_args();
    let workloads = Workload::load(&args.workloads).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let mut json = args.json.as_ref().map(|p| {
        std::io::BufWriter::new(std::fs::File::create(p).unwrap_or_else(|e| {
            eprintln!("{p}: {e}");
            std::process::exit(2)
        }))
    });
    let best = Tier::best();
    println!(
        "nnpool report: tiers supported {:?}, dispatcher picks {best}; threads {:?}",
        Tier::supported()
            .iter()
            .map(|t| t.name())
            .collect::<Vec<_>>(),
        args.threads
    );
    println!(
        "{:<18} {:<5} {:>3} {:<16} {:<24} {:>10} {:>8} {:>10} {:>9} {:>9}",
        "workload",
        "lay",
        "thr",
        "system",
        "algorithm",
        "median_us",
        "GB/s",
        "roof_us",
        "roof/us",
        "x_scalar"
    );
    let mut failures = 0;
    for wl in &workloads {
        let pool = match wl.pool() {
            Ok(p) => p,
            Err(e) => {
                eprintln!("skipping: {e}");
                continue;
            }
        };
        for &layout in &wl.layouts {
            failures += run_workload(wl, pool, layout, best, &args, json.as_mut());
        }
    }
    if let Some(j) = json.as_mut() {
        j.flush().expect("write json");
    }
    if failures > 0 {
        eprintln!("{failures} output mismatches against the scalar reference");
        std::process::exit(1);
    }
}

/// Runs one workload in one layout at every thread count; returns the number of mismatches.
fn run_workload(
    wl: &Workload,
    pool: Pool2d,
    layout: Layout,
    best: Tier,
    args: &Args,
    mut json: Option<&mut std::io::BufWriter<std::fs::File>>,
) -> usize {
    let desc = wl.input_desc(layout);
    let plan0 = match Plan::<f32>::new(&pool, desc) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{} {}: {e}", wl.id, layout.name());
            return 1;
        }
    };
    let x = input(plan0.input_len(), 0x5eed ^ wl.id.len() as u64);
    let out_desc = plan0.output_desc();
    let mut want = vec![0.0f32; plan0.output_len()];
    reference::pool2d(&pool, &desc, &x, &out_desc, &mut want, None).expect("reference");
    let in_bytes = (plan0.input_len() * 4) as f64;
    let out_bytes = (plan0.output_len() * 4) as f64;
    let mut failures = 0;

    // Systems: the dispatcher's choice, the forced tiers asked for, and scalar for the speedup.
    let mut names: Vec<(String, Tier)> = vec![("nnpool".into(), best)];
    if let Some(tiers) = &args.tiers {
        names.extend(tiers.iter().map(|&t| (format!("nnpool_{t}"), t)));
    }
    if !names.iter().any(|(_, t)| *t == Tier::Scalar) {
        names.push(("nnpool_scalar".into(), Tier::Scalar));
    }

    for &threads in &args.threads {
        let tp = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        let mut systems: Vec<System> = names
            .iter()
            .map(|(name, tier)| {
                let p = pool.tier(*tier);
                let p = if threads == 1 { p.sequential() } else { p };
                let plan = Plan::<f32>::new(&p, desc).expect("plan");
                let k = plan.kernel();
                System {
                    name: name.clone(),
                    tier: k.tier,
                    algorithm: k.algorithm,
                    plan,
                    samples: Samples::default(),
                }
            })
            .collect();
        // Check every system's output against the reference.
        for s in &systems {
            let mut y = aligned(s.plan.output_len(), f32::NAN);
            tp.install(|| s.plan.run(&x, &mut y)).expect("run");
            let bad = y
                .iter()
                .zip(&want)
                .position(|(a, b)| a.to_bits() != b.to_bits());
            if let Some(i) = bad {
                eprintln!(
                    "MISMATCH {} {} {} threads {}: element {i}: {} vs reference {}",
                    wl.id,
                    layout.name(),
                    s.name,
                    threads,
                    y[i],
                    want[i]
                );
                failures += 1;
            }
        }
        // Copy roofline: copy an input-sized array, destination pre-faulted; like peers.py, the
        // fastest copy counts (the bound the hardware showed it can reach in this run).
        let mut src = numpy_like(x.len(), 0.0);
        src.copy_from_slice(&x);
        let mut dst = numpy_like(src.len(), 0.0);
        let mut copy = Samples::default();
        let mut y = aligned(plan0.output_len(), 0.0);
        let budget = Duration::from_secs_f64(args.min_time / args.rounds as f64);
        tp.install(|| {
            let chunk = src.len().div_ceil(threads).max(1);
            let mut copy_fn = || {
                if threads == 1 {
                    dst.copy_from_slice(black_box(&src));
                } else {
                    use rayon::prelude::*;
                    dst.par_chunks_mut(chunk)
                        .zip(src.par_chunks(chunk))
                        .for_each(|(d, s)| d.copy_from_slice(s));
                }
                black_box(&mut dst);
            };
            warm(&mut copy_fn, 3);
            for s in &systems {
                // The scalar reference is slow by design: fewer calls.
                let calls = if s.tier == Tier::Scalar { 1 } else { 3 };
                warm(
                    &mut || s.plan.run(black_box(&x), &mut y).expect("run"),
                    calls,
                );
            }
            // Rounds: every system takes its turn in each round (rotating order), so a noisy
            // spell on a shared machine hits all alike.
            for r in 0..args.rounds {
                sample(&mut copy_fn, budget, 3, &mut copy);
                let n = systems.len();
                for k in 0..n {
                    let s = &mut systems[(k + r) % n];
                    let (b, min) = if s.tier == Tier::Scalar {
                        (budget / 4, 1)
                    } else {
                        (budget, 3)
                    };
                    let plan = &s.plan;
                    sample(
                        &mut || plan.run(black_box(&x), &mut y).expect("run"),
                        b,
                        min,
                        &mut s.samples,
                    );
                }
            }
        });
        let roof = copy.min() * (in_bytes + out_bytes) / (2.0 * in_bytes);
        let scalar = systems
            .iter()
            .find(|s| s.tier == Tier::Scalar)
            .map(|s| s.samples.median());
        for s in &systems {
            let med = s.samples.median();
            let gbs = (in_bytes + out_bytes) / med;
            println!(
                "{:<18} {:<5} {:>3} {:<16} {:<24} {:>10.2} {:>8.1} {:>10.2} {:>9.2} {:>9.1}",
                wl.id,
                layout.name(),
                threads,
                s.name,
                format!("{}:{}", s.tier, s.algorithm),
                med / 1e3,
                gbs,
                roof / 1e3,
                roof / med,
                scalar.map_or(f64::NAN, |sc| sc / med)
            );
            if let Some(j) = json.as_deref_mut() {
                writeln!(
                    j,
                    "{{\"workload\": \"{}\", \"layout\": \"{}\", \"threads\": {}, \"system\": \"{}\", \
                     \"median_ns\": {:.1}, \"min_ns\": {:.1}, \"reps\": {}, \"ok\": {}, \
                     \"note\": \"{}:{}\", \"in_bytes\": {}, \"out_bytes\": {}, \"roofline_ns\": {:.1}}}",
                    wl.id,
                    layout.name(),
                    threads,
                    s.name,
                    med,
                    s.samples.min(),
                    s.samples.reps,
                    failures == 0,
                    s.tier,
                    s.algorithm,
                    in_bytes,
                    out_bytes,
                    roof
                )
                .expect("write json");
            }
        }
    }
    failures
}
