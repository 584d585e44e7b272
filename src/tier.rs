//! Instruction-set tiers, CPU detection and the `NNPOOL_MAX_TIER` cap.

use core::fmt;
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// An implementation tier: the scalar reference, the portable `wide` code, or one hand-written
/// instruction set.
///
/// The dispatcher picks the best supported tier, capped by the environment variable
/// `NNPOOL_MAX_TIER` (order `scalar < portable < sse2 < avx2 < avx512` on x86-64 and
/// `scalar < portable < neon` on aarch64). A tier can also be forced per plan with
/// [`Pool2d::tier`](crate::Pool2d::tier); forcing a tier the CPU lacks is an error, never an
/// illegal instruction.
///
/// ```
/// use nnpool::Tier;
/// let tiers = Tier::supported();
/// assert_eq!(tiers[0], Tier::Scalar);
/// assert!(tiers.contains(&Tier::best()));
/// assert_eq!("avx2".parse::<Tier>().unwrap(), Tier::Avx2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    /// The scalar reference: plain loops, the specification.
    Scalar,
    /// Vector code written with `wide`, compiled for the build target's baseline.
    Portable,
    /// x86-64 SSE2 intrinsics.
    Sse2,
    /// x86-64 AVX2 (+FMA) intrinsics.
    Avx2,
    /// x86-64 AVX-512F (+BW, VL) intrinsics.
    Avx512,
    /// aarch64 NEON intrinsics.
    Neon,
}

impl Tier {
    /// Every tier, in dispatch order.
    pub const ALL: [Tier; 6] = [
        Tier::Scalar,
        Tier::Portable,
        Tier::Sse2,
        Tier::Avx2,
        Tier::Avx512,
        Tier::Neon,
    ];

    /// The tier's fixed name (`scalar`, `portable`, `sse2`, `avx2`, `avx512`, `neon`).
    pub const fn name(self) -> &'static str {
        match self {
            Tier::Scalar => "scalar",
            Tier::Portable => "portable",
            Tier::Sse2 => "sse2",
            Tier::Avx2 => "avx2",
            Tier::Avx512 => "avx512",
            Tier::Neon => "neon",
        }
    }

    /// True when this build contains the tier and the CPU running it has the instructions.
    pub fn is_supported(self) -> bool {
        detected().contains(&self)
    }

    /// The tiers this CPU and build support, in dispatch order (scalar first).
    pub fn supported() -> Vec<Tier> {
        detected().to_vec()
    }

    /// The tier the dispatcher uses: the best supported tier not above `NNPOOL_MAX_TIER`.
    /// Read once; later changes to the environment are not seen.
    pub fn best() -> Tier {
        static BEST: OnceLock<Tier> = OnceLock::new();
        *BEST.get_or_init(|| {
            let cap = std::env::var("NNPOOL_MAX_TIER").ok();
            pick_best(detected(), cap.as_deref())
        })
    }
}

/// The best of `supported` that does not exceed `cap` (an unknown cap name is ignored; a cap
/// that this architecture does not order, such as `neon` on x86-64, allows scalar and portable).
fn pick_best(supported: &[Tier], cap: Option<&str>) -> Tier {
    let cap = cap.map(str::trim).filter(|s| !s.is_empty());
    let cap: Option<Tier> = cap.and_then(|s| s.parse().ok());
    supported
        .iter()
        .copied()
        .filter(|&t| cap.is_none_or(|c| at_most(t, c)))
        .max_by_key(|&t| rank(t))
        .unwrap_or(Tier::Scalar)
}

/// The position of a tier in its architecture's chain.
fn rank(t: Tier) -> u8 {
    match t {
        Tier::Scalar => 0,
        Tier::Portable => 1,
        Tier::Sse2 | Tier::Neon => 2,
        Tier::Avx2 => 3,
        Tier::Avx512 => 4,
    }
}

/// Whether `t` is allowed under the cap `c`: the chains are scalar < portable < sse2 < avx2 <
/// avx512 and scalar < portable < neon.
fn at_most(t: Tier, c: Tier) -> bool {
    let x86 = |t: Tier| matches!(t, Tier::Sse2 | Tier::Avx2 | Tier::Avx512);
    if (x86(t) && c == Tier::Neon) || (t == Tier::Neon && x86(c)) {
        return false;
    }
    rank(t) <= rank(c)
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl core::str::FromStr for Tier {
    type Err = Error;
    fn from_str(s: &str) -> Result<Tier> {
        Tier::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::UnknownTier { name: s.to_owned() })
    }
}

/// The tiers detected on this CPU, computed once.
fn detected() -> &'static [Tier] {
    static DETECTED: OnceLock<Vec<Tier>> = OnceLock::new();
    DETECTED.get_or_init(|| {
        let mut v = vec![Tier::Scalar];
        v.extend(crate::kernels::detect());
        v
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_orders_tiers() {
        let all = [
            Tier::Scalar,
            Tier::Portable,
            Tier::Sse2,
            Tier::Avx2,
            Tier::Avx512,
        ];
        assert_eq!(pick_best(&all, None), Tier::Avx512);
        assert_eq!(pick_best(&all, Some("avx2")), Tier::Avx2);
        assert_eq!(pick_best(&all, Some("sse2")), Tier::Sse2);
        assert_eq!(pick_best(&all, Some("portable")), Tier::Portable);
        assert_eq!(pick_best(&all, Some("scalar")), Tier::Scalar);
        assert_eq!(pick_best(&all, Some("neon")), Tier::Portable);
        assert_eq!(pick_best(&all, Some("bogus")), Tier::Avx512);
        assert_eq!(pick_best(&all[..3], Some("avx512")), Tier::Sse2);
        let arm = [Tier::Scalar, Tier::Portable, Tier::Neon];
        assert_eq!(pick_best(&arm, None), Tier::Neon);
        assert_eq!(pick_best(&arm, Some("avx2")), Tier::Portable);
        assert_eq!(pick_best(&arm, Some("portable")), Tier::Portable);
    }
}
