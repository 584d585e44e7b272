//! Tiers: the `NNPOOL_REQUIRE_TIERS` check, forcing tiers the CPU lacks, the `NNPOOL_MAX_TIER`
//! cap of the dispatcher (checked in child processes of this test binary, since `Tier::best`
//! reads the variable once per process), and that
//! no SIMD tier falls back to scalar code.

mod common;

use std::process::Command;

use common::*;
use nnpool::{Error, Layout, Plan, Pool2d, SameMode, Shape, Tier};

/// The environment variable that turns [`child`] into a real test in a child process.
const CHILD: &str = "NNPOOL_TIERS_TEST_CHILD";

#[test]
fn required_tiers_are_supported() {
    // tiers() panics when NNPOOL_REQUIRE_TIERS names a missing tier; make the check explicit.
    let supported = Tier::supported();
    if let Err(m) = check_required(&supported) {
        panic!("{m}");
    }
    assert_eq!(tiers(), &supported[..]);
    assert_eq!(supported[0], Tier::Scalar);
    assert!(
        supported.contains(&Tier::Portable),
        "the portable tier is always built"
    );
    for t in Tier::ALL {
        assert_eq!(t.is_supported(), supported.contains(&t), "{t}");
    }
}

#[test]
fn unsupported_tiers_are_refused() {
    let missing = unsupported_tiers();
    #[cfg(target_arch = "x86_64")]
    assert!(missing.contains(&Tier::Neon));
    #[cfg(target_arch = "aarch64")]
    assert!(missing.contains(&Tier::Sse2));
    for tier in missing {
        for pool in typical_pools() {
            for layout in LAYOUTS {
                let s = Shape::new(1, 2, 8, 8);
                let e = Plan::<f32>::new(&pool.tier(tier), desc(s, layout)).err();
                assert_eq!(e, Some(Error::UnsupportedTier { tier }), "{pool:?}");
                let x = vec![0.0f32; 128];
                let e = pool.tier(tier).run(&x, desc(s, layout)).err();
                assert_eq!(e, Some(Error::UnsupportedTier { tier }));
            }
        }
    }
}

/// Runs the test `child` of this binary in a child process with `env`; returns whether it
/// passed, and its output. The output must show that exactly that one test ran.
fn run_child(mode: &str, env: &[(&str, &str)]) -> (bool, String) {
    let exe = std::env::current_exe().unwrap();
    // Under an emulator (qemu-user without binfmt_misc, see .ci/aarch64.sh) the child must be
    // started through it: NNPOOL_TEST_RUNNER holds that command.
    let runner = std::env::var("NNPOOL_TEST_RUNNER").unwrap_or_default();
    let mut runner = runner.split_whitespace();
    let mut cmd = match runner.next() {
        Some(program) => {
            let mut c = Command::new(program);
            c.args(runner).arg(exe);
            c
        }
        None => Command::new(exe),
    };
    cmd.args(["--exact", "child", "--test-threads=1", "--nocapture"])
        .env(CHILD, mode)
        .env_remove("NNPOOL_MAX_TIER")
        .env_remove("NNPOOL_REQUIRE_TIERS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ran = stdout.contains("1 passed") || stdout.contains("1 failed");
    assert!(ran, "the child test did not run:\n{stdout}\n{stderr}");
    (
        out.status.success(),
        format!("child {mode} {env:?}:\n{stdout}\n{stderr}"),
    )
}

/// Asserts the child passes.
#[track_caller]
fn child_passes(mode: &str, env: &[(&str, &str)]) {
    let (ok, out) = run_child(mode, env);
    assert!(ok, "{out}");
}

/// Asserts the child fails.
#[track_caller]
fn child_fails(mode: &str, env: &[(&str, &str)]) {
    let (ok, out) = run_child(mode, env);
    assert!(!ok, "expected a failure: {out}");
}

/// In a child process (see [`run_child`]): `require` calls `tiers()` (which checks
/// `NNPOOL_REQUIRE_TIERS`); `best=<tier>` checks that the dispatcher picks that tier.
#[test]
fn child() {
    let Ok(mode) = std::env::var(CHILD) else {
        return; // a no-op in the parent
    };
    if mode == "require" {
        let _ = tiers();
    } else if let Some(name) = mode.strip_prefix("best=") {
        let want: Tier = name.parse().unwrap();
        assert_eq!(
            Tier::best(),
            want,
            "NNPOOL_MAX_TIER={:?}",
            std::env::var("NNPOOL_MAX_TIER")
        );
        for pool in typical_pools() {
            for layout in LAYOUTS {
                let p = Plan::<f32>::new(&pool, desc(Shape::new(1, 3, 9, 9), layout)).unwrap();
                assert_eq!(p.kernel().tier, want, "{pool:?}");
            }
        }
    } else {
        panic!("unknown child mode {mode}");
    }
}

/// The tier `NNPOOL_MAX_TIER=cap` should give, from the documented chains.
fn expected_best(cap: &str) -> Tier {
    #[cfg(target_arch = "aarch64")]
    let chain = [Tier::Scalar, Tier::Portable, Tier::Neon];
    #[cfg(not(target_arch = "aarch64"))]
    let chain = [
        Tier::Scalar,
        Tier::Portable,
        Tier::Sse2,
        Tier::Avx2,
        Tier::Avx512,
    ];
    let limit = match cap.trim().parse::<Tier>() {
        // A tier of the other architecture allows scalar and portable.
        Ok(t) if !chain.contains(&t) => Tier::Portable,
        Ok(t) => t,
        Err(_) => *chain.last().unwrap(), // unknown or empty: no cap
    };
    let pos = chain.iter().position(|&t| t == limit).unwrap();
    *chain[..=pos]
        .iter()
        .rev()
        .find(|t| t.is_supported())
        .unwrap()
}

#[test]
fn max_tier_caps_the_dispatcher() {
    let caps = [
        "scalar", "portable", "sse2", "avx2", "avx512", "neon", "AVX2", " sse2 ", "bogus", "",
    ];
    for cap in caps {
        let want = expected_best(cap);
        child_passes(
            &format!("best={}", want.name()),
            &[("NNPOOL_MAX_TIER", cap)],
        );
    }
    // Without the variable: the best supported tier.
    let best = *tiers().last().unwrap();
    assert_eq!(best, expected_best(""));
    child_passes(&format!("best={}", best.name()), &[]);
    // The sse2 cap on x86-64, as the README documents.
    #[cfg(target_arch = "x86_64")]
    if Tier::Sse2.is_supported() {
        assert_eq!(expected_best("sse2"), Tier::Sse2);
    }
}

#[test]
fn require_tiers_is_enforced() {
    // Supported tiers pass; a missing tier or an unknown name fails the test that asks.
    let names: Vec<&str> = tiers().iter().map(|t| t.name()).collect();
    child_passes("require", &[("NNPOOL_REQUIRE_TIERS", &names.join(","))]);
    child_passes("require", &[("NNPOOL_REQUIRE_TIERS", "scalar, portable")]);
    child_passes("require", &[("NNPOOL_REQUIRE_TIERS", "")]);
    for t in unsupported_tiers() {
        let list = format!("scalar,{}", t.name());
        child_fails("require", &[("NNPOOL_REQUIRE_TIERS", &list)]);
    }
    child_fails("require", &[("NNPOOL_REQUIRE_TIERS", "avx3")]);
}

/// Parameter sets covering every kernel family, without dilation (a simpler kernel is allowed
/// for dilated windows).
fn native_pools() -> Vec<Pool2d> {
    vec![
        Pool2d::max(2),
        Pool2d::max(3).stride(2).padding(1),
        Pool2d::max(3).stride(1).padding(1),
        Pool2d::max(5).stride(1).padding(2),
        Pool2d::max(13).stride(1).padding(6),
        Pool2d::max((3, 2))
            .stride((2, 1))
            .padding((1, 0))
            .ceil_mode(true),
        Pool2d::max(3).stride(3),
        Pool2d::max(3).stride(2).padding_same(SameMode::Upper),
        Pool2d::avg(2),
        Pool2d::avg(3).stride(2).padding(1),
        Pool2d::avg(3).stride(1).padding(1).count_include_pad(false),
        Pool2d::avg(5).stride(3).ceil_mode(true),
        Pool2d::avg(2).stride(1).divisor_override(3),
        Pool2d::global_max(),
        Pool2d::global_avg(),
        Pool2d::adaptive_max((3, 5)),
        Pool2d::adaptive_avg((7, 7)),
        Pool2d::adaptive_max(1),
        Pool2d::adaptive_avg(1),
    ]
}

#[test]
fn simd_tiers_run_native_kernels() {
    let mut fallbacks = Vec::new();
    for &tier in tiers().iter().filter(|&&t| t != Tier::Scalar) {
        for pool in native_pools() {
            for layout in [Layout::Nchw, Layout::Nhwc] {
                for s in [
                    Shape::new(1, 3, 8, 8),
                    Shape::new(2, 64, 56, 56),
                    Shape::new(1, 5, 40, 33),
                ] {
                    let Ok(p) = Plan::<f32>::new(&pool.tier(tier), desc(s, layout)) else {
                        continue;
                    };
                    let alg = p.kernel().algorithm;
                    let lower = alg.to_ascii_lowercase();
                    if ["scalar", "reference", "fallback"]
                        .iter()
                        .any(|w| lower.contains(w))
                    {
                        fallbacks.push(format!("{tier} {} {s} {pool:?}: {alg}", layout.name()));
                    }
                }
            }
        }
    }
    assert!(
        fallbacks.is_empty(),
        "{} plans use a scalar kernel:\n{}",
        fallbacks.len(),
        fallbacks.join("\n")
    );
}
