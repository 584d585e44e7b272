//! Helpers shared by the integration tests: the tiers to test (with the
//! `NNPOOL_REQUIRE_TIERS` check and a visible summary of what runs and what is skipped),
//! layout transposition, a runner for plans and for the reference, bitwise comparison that
//! names the first mismatch by its (n, c, h, w) coordinates, and deterministic test values.
//!
//! Every test binary includes this module with `mod common;`; not every binary uses every
//! helper.
#![allow(dead_code)]

use std::io::Write;
use std::sync::OnceLock;

use nnpool::{Error, Layout, Plan, Pool2d, PoolOp, Shape, TensorDesc, Tier, reference};

/// Both layouts, NCHW first.
pub const LAYOUTS: [Layout; 2] = [Layout::Nchw, Layout::Nhwc];

/// The widest vector the kernels use, in f32 lanes (AVX-512). Shapes whose vectorized extent
/// runs through `1..=TAIL_MAX` hit every tail length of every tier at least once.
pub const LANES: usize = 16;
/// `2·LANES + 1`: the largest extent the tail sweeps use.
pub const TAIL_MAX: usize = 2 * LANES + 1;

/// The tiers this CPU and build support, scalar first: the tiers every test runs on.
///
/// The first call of each test binary writes which tiers run and which are skipped straight
/// to the process' stderr (not through `eprintln!`, which the test harness captures), so the
/// summary shows with or without `--nocapture`. It panics (failing the test that asked) when
/// `NNPOOL_REQUIRE_TIERS` lists a tier that is not supported, or a name that is no tier.
pub fn tiers() -> &'static [Tier] {
    static TIERS: OnceLock<Vec<Tier>> = OnceLock::new();
    TIERS.get_or_init(|| {
        let supported = Tier::supported();
        let skipped: Vec<&str> = Tier::ALL
            .iter()
            .filter(|t| !supported.contains(t))
            .map(|t| t.name())
            .collect();
        let ran: Vec<&str> = supported.iter().map(|t| t.name()).collect();
        let exe = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_default();
        let summary = format!(
            "[nnpool tests: {exe}] tiers run: {}; skipped (not supported by this CPU or \
             build): {}\n",
            ran.join(", "),
            if skipped.is_empty() {
                "none".to_owned()
            } else {
                skipped.join(", ")
            }
        );
        // Bypasses the harness' output capture on purpose: a skipped tier must be visible.
        let _ = std::io::stderr().lock().write_all(summary.as_bytes());
        if let Err(msg) = check_required(&supported) {
            panic!("{msg}");
        }
        supported
    })
}

/// Checks `NNPOOL_REQUIRE_TIERS` (a comma list of tier names) against `supported`.
pub fn check_required(supported: &[Tier]) -> Result<(), String> {
    let Ok(list) = std::env::var("NNPOOL_REQUIRE_TIERS") else {
        return Ok(());
    };
    let mut missing = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let tier: Tier = name
            .parse()
            .map_err(|e| format!("NNPOOL_REQUIRE_TIERS={list:?}: {e}"))?;
        if !supported.contains(&tier) {
            missing.push(tier.name());
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "NNPOOL_REQUIRE_TIERS={list:?} requires {} but this CPU/build supports only {:?}",
            missing.join(", "),
            supported.iter().map(|t| t.name()).collect::<Vec<_>>()
        ))
    }
}

/// The tiers that are not supported here.
pub fn unsupported_tiers() -> Vec<Tier> {
    Tier::ALL
        .into_iter()
        .filter(|t| !tiers().contains(t))
        .collect()
}

/// A descriptor of `s` in `layout`, dense.
pub fn desc(s: Shape, layout: Layout) -> TensorDesc {
    TensorDesc::new(s, layout)
}

/// Reorders a dense NCHW tensor of shape `s` into NHWC.
pub fn nchw_to_nhwc<T: Copy>(x: &[T], s: Shape) -> Vec<T> {
    assert_eq!(x.len(), s.n * s.c * s.h * s.w);
    let mut y = Vec::with_capacity(x.len());
    for n in 0..s.n {
        for h in 0..s.h {
            for w in 0..s.w {
                for c in 0..s.c {
                    y.push(x[((n * s.c + c) * s.h + h) * s.w + w]);
                }
            }
        }
    }
    y
}

/// Reorders a dense NHWC tensor of (logical) shape `s` into NCHW.
pub fn nhwc_to_nchw<T: Copy>(x: &[T], s: Shape) -> Vec<T> {
    assert_eq!(x.len(), s.n * s.c * s.h * s.w);
    let mut y = Vec::with_capacity(x.len());
    for n in 0..s.n {
        for c in 0..s.c {
            for h in 0..s.h {
                for w in 0..s.w {
                    y.push(x[((n * s.h + h) * s.w + w) * s.c + c]);
                }
            }
        }
    }
    y
}

/// A dense NCHW tensor in `layout` (a copy, transposed for NHWC).
pub fn from_nchw<T: Copy>(x: &[T], s: Shape, layout: Layout) -> Vec<T> {
    match layout {
        Layout::Nchw => x.to_vec(),
        Layout::Nhwc => nchw_to_nhwc(x, s),
    }
}

/// A dense tensor in `layout` as NCHW (a copy, transposed from NHWC).
pub fn to_nchw<T: Copy>(x: &[T], s: Shape, layout: Layout) -> Vec<T> {
    match layout {
        Layout::Nchw => x.to_vec(),
        Layout::Nhwc => nhwc_to_nchw(x, s),
    }
}

/// The (n, c, h, w) coordinates of element `i` of a dense tensor.
pub fn coords(i: usize, s: Shape, layout: Layout) -> [usize; 4] {
    match layout {
        Layout::Nchw => {
            let w = i % s.w;
            let h = i / s.w % s.h;
            let c = i / (s.w * s.h) % s.c;
            [i / (s.w * s.h * s.c), c, h, w]
        }
        Layout::Nhwc => {
            let c = i % s.c;
            let w = i / s.c % s.w;
            let h = i / (s.c * s.w) % s.h;
            [i / (s.c * s.w * s.h), c, h, w]
        }
    }
}

/// A value with its bits, for messages.
pub fn show(v: f32) -> String {
    format!("{v:e} ({:#010x})", v.to_bits())
}

/// The result of one pooling: values and, for max pooling run with indices, the argmax.
#[derive(Clone, Debug)]
pub struct Out {
    /// The output, dense, in the run's layout.
    pub y: Vec<f32>,
    /// Argmax indices, dense, in the run's layout.
    pub idx: Option<Vec<u32>>,
    /// The output shape.
    pub shape: Shape,
    /// An average (the NaN payload of a sum is unspecified, see [`same_value`]).
    pub avg: bool,
}

/// Whether two results of an operation are the same value: the same bits, except that for
/// averages any NaN equals any NaN.
///
/// Max pooling selects one of its inputs, so a NaN result is a copy of an input NaN and its
/// payload and sign are exact (PyTorch's rule: the last NaN). An average's NaN comes out of
/// arithmetic, and Rust does not specify which NaN an arithmetic operation returns (RFC 3514:
/// the optimizer may commute `a + b` or fold constants to the canonical NaN): the reference
/// itself gives different payloads in debug and release builds. Everything else about an
/// average — zeros' signs, infinities, every finite bit — is exact.
pub fn same_value(avg: bool, a: f32, b: f32) -> bool {
    a.to_bits() == b.to_bits() || (avg && a.is_nan() && b.is_nan())
}

/// Asserts two outputs hold the same values (see [`same_value`]).
#[track_caller]
pub fn assert_values(
    ctx: &str,
    avg: bool,
    shape: Shape,
    layout: Layout,
    got: &[f32],
    want: &[f32],
) {
    if let Some(m) = first_mismatch(shape, layout, got, want, |a, b| same_value(avg, a, b), show) {
        panic!("{ctx}: values: {m}");
    }
}

/// A value no pooling produces from the test inputs, to see unwritten outputs.
pub const SENTINEL: f32 = f32::from_bits(0x7fa5_5a5a); // a signalling NaN with a payload
/// An index no pooling produces, to see unwritten indices.
pub const IDX_SENTINEL: u32 = 0xdead_beef;

/// Plans `pool` on `tier` for a dense `input` of `shape` in `layout` and runs it, with
/// indices when `indices` is set (`run_with_indices`), else with `run`.
pub fn run_tier(
    pool: &Pool2d,
    shape: Shape,
    layout: Layout,
    input: &[f32],
    tier: Tier,
    indices: bool,
) -> Result<Out, Error> {
    let plan = Plan::<f32>::new(&pool.tier(tier), desc(shape, layout))?;
    let kernel = plan.kernel();
    assert_eq!(kernel.tier, tier, "plan.kernel().tier");
    assert_eq!(kernel.layout, layout, "plan.kernel().layout");
    let mut y = vec![SENTINEL; plan.output_len()];
    let out_shape = plan.output_desc().shape();
    let avg = !pool.op().is_max();
    if indices {
        let mut idx = vec![IDX_SENTINEL; plan.indices_len()];
        plan.run_with_indices(input, &mut y, &mut idx)?;
        Ok(Out {
            y,
            idx: Some(idx),
            shape: out_shape,
            avg,
        })
    } else {
        plan.run(input, &mut y)?;
        Ok(Out {
            y,
            idx: None,
            shape: out_shape,
            avg,
        })
    }
}

/// Runs `nnpool::reference::pool2d` on a dense input, with indices when `indices` is set.
pub fn run_reference(
    pool: &Pool2d,
    shape: Shape,
    layout: Layout,
    input: &[f32],
    indices: bool,
) -> Result<Out, Error> {
    let out_shape = pool.output_shape(shape)?;
    let n = out_shape.numel()?;
    let mut y = vec![SENTINEL; n];
    let mut idx = vec![IDX_SENTINEL; n];
    reference::pool2d(
        pool,
        &desc(shape, layout),
        input,
        &desc(out_shape, layout),
        &mut y,
        if indices { Some(&mut idx) } else { None },
    )?;
    Ok(Out {
        y,
        idx: indices.then_some(idx),
        shape: out_shape,
        avg: !pool.op().is_max(),
    })
}

/// Whether an op returns indices.
pub fn has_indices(pool: &Pool2d) -> bool {
    pool.op().has_indices()
}

/// The first element where `ok(got, want)` fails, described with its coordinates.
pub fn first_mismatch<T: Copy>(
    shape: Shape,
    layout: Layout,
    got: &[T],
    want: &[T],
    ok: impl Fn(T, T) -> bool,
    fmt: impl Fn(T) -> String,
) -> Option<String> {
    if got.len() != want.len() {
        return Some(format!("length {} instead of {}", got.len(), want.len()));
    }
    let bad: Vec<usize> = (0..got.len()).filter(|&i| !ok(got[i], want[i])).collect();
    let &i = bad.first()?;
    let [n, c, h, w] = coords(i, shape, layout);
    Some(format!(
        "{} of {} elements differ; first at element {i} (n={n}, c={c}, h={h}, w={w}) of \
         output {shape} {}: got {}, expected {}",
        bad.len(),
        got.len(),
        layout.name(),
        fmt(got[i]),
        fmt(want[i])
    ))
}

/// Asserts two f32 tensors are bit-identical (NaN payloads and the sign of zero included).
#[track_caller]
pub fn assert_bits(ctx: &str, shape: Shape, layout: Layout, got: &[f32], want: &[f32]) {
    if let Some(m) = first_mismatch(
        shape,
        layout,
        got,
        want,
        |a, b| a.to_bits() == b.to_bits(),
        show,
    ) {
        panic!("{ctx}: values: {m}");
    }
}

/// Asserts two index tensors are equal.
#[track_caller]
pub fn assert_idx(ctx: &str, shape: Shape, layout: Layout, got: &[u32], want: &[u32]) {
    if let Some(m) = first_mismatch(
        shape,
        layout,
        got,
        want,
        |a, b| a == b,
        |v| {
            if v == u32::MAX {
                "u32::MAX".to_owned()
            } else {
                v.to_string()
            }
        },
    ) {
        panic!("{ctx}: indices: {m}");
    }
}

/// Asserts two results are identical: values bit for bit (NaN as NaN for averages, see
/// [`same_value`]), indices exactly.
#[track_caller]
pub fn assert_same(ctx: &str, layout: Layout, got: &Out, want: &Out) {
    assert_eq!(got.shape, want.shape, "{ctx}: output shape");
    assert_values(ctx, got.avg || want.avg, got.shape, layout, &got.y, &want.y);
    match (&got.idx, &want.idx) {
        (Some(g), Some(w)) => assert_idx(ctx, got.shape, layout, g, w),
        (None, None) => {}
        _ => panic!("{ctx}: one result has indices, the other not"),
    }
}

/// Runs `pool` on every tier in `layout` and compares each with the reference (values and,
/// for max pooling, indices; max pooling also without indices). `x` is dense in `layout`.
/// Returns the reference result.
#[track_caller]
pub fn check_tiers_vs_reference(
    ctx: &str,
    pool: &Pool2d,
    shape: Shape,
    layout: Layout,
    x: &[f32],
) -> Out {
    let idx = has_indices(pool);
    let want = run_reference(pool, shape, layout, x, idx)
        .unwrap_or_else(|e| panic!("{ctx}: reference failed: {e}"));
    for &tier in tiers() {
        let c = format!("{ctx} [{tier} {}]", layout.name());
        let got =
            run_tier(pool, shape, layout, x, tier, idx).unwrap_or_else(|e| panic!("{c}: {e}"));
        assert_same(&c, layout, &got, &want);
        if idx {
            let plain = run_tier(pool, shape, layout, x, tier, false).unwrap();
            assert_bits(
                &format!("{c} run without indices"),
                plain.shape,
                layout,
                &plain.y,
                &want.y,
            );
        }
    }
    want
}

/// Runs `pool` on an NCHW input (given in NCHW order) on every tier and both layouts against
/// the reference, and checks that the NHWC results are the transposed NCHW results.
#[track_caller]
pub fn check_all(ctx: &str, pool: &Pool2d, shape: Shape, x_nchw: &[f32]) -> Out {
    let a = check_tiers_vs_reference(ctx, pool, shape, Layout::Nchw, x_nchw);
    let x_nhwc = nchw_to_nhwc(x_nchw, shape);
    let b = check_tiers_vs_reference(ctx, pool, shape, Layout::Nhwc, &x_nhwc);
    let b_as_nchw = Out {
        y: nhwc_to_nchw(&b.y, b.shape),
        idx: b.idx.as_ref().map(|i| nhwc_to_nchw(i, b.shape)),
        shape: b.shape,
        avg: b.avg,
    };
    assert_same(
        &format!("{ctx}: NHWC reference vs NCHW reference"),
        Layout::Nchw,
        &b_as_nchw,
        &a,
    );
    a
}

/// A small deterministic generator (SplitMix64), so tests outside proptest are reproducible.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in [-1, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
}

/// Special values: NaNs with several payloads and signs, infinities, signed zeros,
/// denormals, huge and ordinary numbers.
pub const SPECIALS: [f32; 16] = [
    f32::NAN,
    f32::from_bits(0xffc0_0000), // -NaN
    f32::from_bits(0x7fc0_1234), // NaN with a payload
    f32::INFINITY,
    f32::NEG_INFINITY,
    0.0,
    -0.0,
    1.0,
    -1.0,
    2.0,
    f32::from_bits(1),           // smallest denormal
    f32::from_bits(0x8000_0001), // its negative
    f32::from_bits(0x007f_ffff), // largest denormal
    1e38,
    -1e38,
    f32::MAX,
];

/// `n` values uniform in [-scale, scale).
pub fn uniform(rng: &mut Rng, n: usize, scale: f32) -> Vec<f32> {
    (0..n).map(|_| rng.unit() * scale).collect()
}

/// `n` values drawn from a tiny alphabet (many ties, ±0).
pub fn ties(rng: &mut Rng, n: usize) -> Vec<f32> {
    const A: [f32; 5] = [-1.0, -0.0, 0.0, 1.0, 2.0];
    (0..n).map(|_| A[rng.below(A.len())]).collect()
}

/// `n` values, mostly ordinary, some special (NaN, ±inf, ±0, denormals, huge).
pub fn mixed(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n)
        .map(|_| {
            if rng.below(8) == 0 {
                SPECIALS[rng.below(SPECIALS.len())]
            } else {
                rng.unit() * 8.0
            }
        })
        .collect()
}

/// A short label of a pooling for messages.
pub fn label(pool: &Pool2d) -> String {
    format!("{pool:?}")
}

/// Every operation, with typical parameters, for tests that loop over operations.
pub fn typical_pools() -> Vec<Pool2d> {
    vec![
        Pool2d::max(3).stride(2).padding(1),
        Pool2d::max(2),
        Pool2d::max(3).stride(1).padding(1),
        Pool2d::max((3, 2))
            .stride((2, 1))
            .padding((1, 0))
            .ceil_mode(true),
        Pool2d::max(3).stride(1).dilation(2).padding(1),
        Pool2d::avg(3).stride(2).padding(1),
        Pool2d::avg(2),
        Pool2d::avg(3).stride(1).padding(1).count_include_pad(false),
        Pool2d::avg(3).stride(2).padding(1).ceil_mode(true),
        Pool2d::avg(2).stride(1).divisor_override(3),
        Pool2d::global_max(),
        Pool2d::global_avg(),
        Pool2d::adaptive_max((3, 5)),
        Pool2d::adaptive_avg((3, 5)),
        Pool2d::adaptive_max((7, 9)),
        Pool2d::adaptive_avg((2, 1)),
    ]
}

/// Whether `op` is a global or adaptive average (compared with PyTorch within a bound).
pub fn is_mean_like(op: PoolOp) -> bool {
    matches!(op, PoolOp::GlobalAvg | PoolOp::AdaptiveAvg)
}

/// xorshift64*: the deterministic generator of the kernel-specific test files (their inputs
/// were chosen with it), alongside [`Rng`].
pub struct Xorshift(pub u64);

impl Xorshift {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    /// Uniform in [−1, 1).
    pub fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

/// Tall planes for stride-1 windows that keep the row width, `(k, top/left padding, h, w)`
/// (bottom/right padding `k − 1 − p`): on [`four_threads`] the parallel driver cuts them into
/// row-block jobs whose rows do not start at 0.
pub const TALL_SAME: [(usize, usize, usize, usize); 4] = [
    (5, 2, 150, 20),
    (3, 1, 600, 13),
    (5, 2, 80, 35),
    (4, 2, 300, 24),
];

/// A rayon pool of four threads.
pub fn four_threads() -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .unwrap()
}
