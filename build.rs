//! Declares which hand-written kernel tiers this build compiles, as `nnpool_tier_*` cfgs.
//!
//! * x86-64: `nnpool_tier_sse2`, `nnpool_tier_avx2`, `nnpool_tier_avx512` (AVX-512 intrinsics
//!   need rustc 1.89, the MSRV);
//! * aarch64: `nnpool_tier_neon`.
//!
//! `NNPOOL_BUILD_TIERS=sse2,avx2` (a comma list, or `none`) compiles only the listed tiers: a
//! build without a tier behaves as a CPU without it, which is how the fallback paths of the
//! dispatcher are tested. The scalar and portable tiers are always compiled.

use std::env;

const ALL: [&str; 4] = ["sse2", "avx2", "avx512", "neon"];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=NNPOOL_BUILD_TIERS");
    for t in ALL {
        println!("cargo::rustc-check-cfg=cfg(nnpool_tier_{t})");
    }
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let features = env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let available: &[&str] = match arch.as_str() {
        "x86_64" => &["sse2", "avx2", "avx512"],
        "aarch64" if features.split(',').any(|f| f == "neon") => &["neon"],
        _ => &[],
    };
    let wanted = env::var("NNPOOL_BUILD_TIERS").ok();
    let wanted: Option<Vec<String>> = wanted.map(|s| {
        s.split(',')
            .map(|t| t.trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty())
            .collect()
    });
    if let Some(w) = &wanted {
        for t in w {
            if t != "none" && !ALL.contains(&t.as_str()) {
                println!("cargo::warning=NNPOOL_BUILD_TIERS: unknown tier {t:?} ignored");
            }
        }
    }
    for t in available {
        if wanted.as_ref().is_none_or(|w| w.iter().any(|x| x == t)) {
            println!("cargo::rustc-cfg=nnpool_tier_{t}");
        }
    }
}
