//! Every `nnpool::Error` variant: how to trigger it, that the variant carries the offending
//! values and that its message names them. Then: run-time errors never write (the output and
//! indices keep a sentinel), shape arithmetic that overflows `usize` is an error and never a
//! panic, and absurdly large kernels, strides, paddings and dilations never panic.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::*;
use nnpool::{Error, Layout, Plan, Pool2d, SameMode, Shape, TensorDesc, Tier, reference};

fn plan(pool: Pool2d, d: TensorDesc) -> Result<Plan<f32>, Error> {
    Plan::<f32>::new(&pool, d)
}

fn err(pool: Pool2d, d: TensorDesc) -> Error {
    match plan(pool, d) {
        Ok(_) => panic!("{pool:?} on {d:?} was accepted"),
        Err(e) => {
            // output_shape reports the same error as planning when the descriptor is dense.
            if d.is_dense() {
                assert_eq!(
                    pool.output_shape(d.shape()).err(),
                    Some(e.clone()),
                    "{pool:?}"
                );
            }
            e
        }
    }
}

/// Asserts the message of `e` contains every one of `parts`.
#[track_caller]
fn names(e: &Error, parts: &[&str]) {
    let m = e.to_string();
    for p in parts {
        assert!(m.contains(p), "message {m:?} of {e:?} does not name {p:?}");
    }
}

fn d4() -> TensorDesc {
    TensorDesc::nchw(1, 1, 4, 4)
}

#[test]
fn zero_kernel() {
    let e = err(Pool2d::max((0, 3)), d4());
    assert_eq!(e, Error::ZeroKernel { kh: 0, kw: 3 });
    names(&e, &["0x3"]);
    let e = err(Pool2d::avg((2, 0)).stride(1), d4());
    assert_eq!(e, Error::ZeroKernel { kh: 2, kw: 0 });
    names(&e, &["2x0"]);
}

#[test]
fn zero_stride() {
    let e = err(Pool2d::max(2).stride((1, 0)), d4());
    assert_eq!(e, Error::ZeroStride { sh: 1, sw: 0 });
    names(&e, &["1x0"]);
    let e = err(Pool2d::avg(2).stride((0, 2)), d4());
    assert_eq!(e, Error::ZeroStride { sh: 0, sw: 2 });
    names(&e, &["0x2"]);
}

#[test]
fn zero_dilation() {
    let e = err(Pool2d::max(2).dilation((0, 2)), d4());
    assert_eq!(e, Error::ZeroDilation { dh: 0, dw: 2 });
    names(&e, &["0x2"]);
}

#[test]
fn dilation_not_supported() {
    let e = err(
        Pool2d::avg(2).dilation((2, 3)),
        TensorDesc::nchw(1, 1, 8, 8),
    );
    assert_eq!(e, Error::DilationNotSupported { dh: 2, dw: 3 });
    names(&e, &["2x3"]);
}

#[test]
fn padding_too_large() {
    let e = err(Pool2d::max(3).padding([0, 2, 0, 0]), d4());
    assert_eq!(
        e,
        Error::PaddingTooLarge {
            side: "left",
            padding: 2,
            kernel: 3
        }
    );
    names(&e, &["left", "2", "3"]);
    let e = err(
        Pool2d::avg((5, 2)).padding([0, 0, 3, 0]),
        TensorDesc::nchw(1, 1, 9, 9),
    );
    assert_eq!(
        e,
        Error::PaddingTooLarge {
            side: "bottom",
            padding: 3,
            kernel: 5
        }
    );
    names(&e, &["bottom", "3", "5"]);
    // Dilation does not relax the bound (it is checked on the undilated kernel).
    let e = err(
        Pool2d::max(3).padding(2).dilation(2),
        TensorDesc::nchw(1, 1, 6, 6),
    );
    assert!(
        matches!(
            e,
            Error::PaddingTooLarge {
                padding: 2,
                kernel: 3,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn zero_divisor_override() {
    let e = err(Pool2d::avg(2).divisor_override(0), d4());
    assert_eq!(e, Error::ZeroDivisorOverride);
    names(&e, &["divisor_override", "0"]);
    // Also with N = 0 (PyTorch validates parameters for empty batches too).
    assert_eq!(
        err(
            Pool2d::avg(2).divisor_override(0),
            TensorDesc::nchw(0, 1, 4, 4)
        ),
        e
    );
}

#[test]
fn empty_dimension() {
    for (d, dim) in [
        (TensorDesc::nchw(1, 1, 0, 4), "height"),
        (TensorDesc::nchw(1, 1, 4, 0), "width"),
        (TensorDesc::nhwc(1, 0, 4, 4), "channels"),
    ] {
        let e = err(Pool2d::max(2), d);
        assert_eq!(e, Error::EmptyDimension { dim });
        names(&e, &[dim, "0"]);
    }
    // H = 0 is an error for every operation (PyTorch's mean would return NaN).
    for pool in typical_pools() {
        assert_eq!(
            err(pool, TensorDesc::nchw(1, 2, 0, 3)),
            Error::EmptyDimension { dim: "height" },
            "{pool:?}"
        );
    }
}

#[test]
fn output_too_small() {
    let e = err(Pool2d::max(5), d4());
    assert_eq!(
        e,
        Error::OutputTooSmall {
            dim: "height",
            input: 4,
            kernel: 5,
            output: 0
        }
    );
    names(&e, &["height", "4", "5", "0"]);
    // The effective (dilated) kernel is reported: k3 d2 → 5, on the width.
    let e = err(
        Pool2d::max((1, 3)).dilation(2),
        TensorDesc::nchw(1, 1, 4, 4),
    );
    assert_eq!(
        e,
        Error::OutputTooSmall {
            dim: "width",
            input: 4,
            kernel: 5,
            output: 0
        }
    );
    names(&e, &["width", "4", "5"]);
    // A negative formula result is reported as such.
    let e = err(Pool2d::max((1, 9)).stride(1), TensorDesc::nchw(1, 1, 4, 4));
    assert!(
        matches!(e, Error::OutputTooSmall { output: -4, .. }),
        "{e:?}"
    );
    names(&e, &["-4"]);
}

#[test]
fn zero_output_size() {
    let e = err(Pool2d::adaptive_avg((0, 3)), d4());
    assert_eq!(e, Error::ZeroOutputSize { oh: 0, ow: 3 });
    names(&e, &["0x3"]);
    let e = err(Pool2d::adaptive_max((2, 0)), d4());
    assert_eq!(e, Error::ZeroOutputSize { oh: 2, ow: 0 });
    names(&e, &["2x0"]);
}

#[test]
fn overflow() {
    // N·C·H·W past usize::MAX.
    let e = err(Pool2d::global_avg(), TensorDesc::nchw(usize::MAX, 2, 1, 1));
    assert!(matches!(e, Error::Overflow { .. }), "{e:?}");
    names(&e, &["overflow"]);
    if let Error::Overflow { what } = e {
        names(&e, &[what]);
    }
    // The input overflows although the output (1×1 per plane) would not.
    let e = plan(
        Pool2d::global_max(),
        TensorDesc::nchw(1, 1, 1 << 32, 1 << 32),
    )
    .err()
    .unwrap();
    assert!(matches!(e, Error::Overflow { .. }), "{e:?}");
    // The output overflows although the input does not.
    let e = err(Pool2d::adaptive_max((usize::MAX, 2)), d4());
    assert!(matches!(e, Error::Overflow { .. }), "{e:?}");
    // A strided NHWC descriptor whose extent overflows.
    for d in [
        TensorDesc::nhwc(1, 1, 2, 2).with_pixel_stride(usize::MAX),
        TensorDesc::nhwc(1, 1, 2, 2).with_offset(usize::MAX),
        TensorDesc::nhwc(1, 2, 2, 2).with_pixel_stride(usize::MAX / 3 + 1),
    ] {
        let e = plan(Pool2d::max(2), d).err().unwrap();
        assert!(matches!(e, Error::Overflow { .. }), "{d:?}: {e:?}");
        assert!(matches!(d.min_len(), Err(Error::Overflow { .. })));
    }
    // A dilated extent d·(k − 1) + 1 or a kernel area past usize::MAX.
    let e = err(Pool2d::max(usize::MAX).dilation(usize::MAX), d4());
    assert_eq!(
        e,
        Error::Overflow {
            what: "dilated kernel extent"
        }
    );
    names(&e, &["dilated kernel extent"]);
    let e = err(
        Pool2d::max((2, 3))
            .dilation((1, 1 << 63))
            .stride(usize::MAX)
            .ceil_mode(true),
        d4(),
    );
    assert_eq!(
        e,
        Error::Overflow {
            what: "dilated kernel extent"
        }
    );
    let e = err(Pool2d::max(1 << 33).padding_same(SameMode::Upper), d4());
    assert_eq!(
        e,
        Error::Overflow {
            what: "kernel area"
        }
    );
    let e = err(Pool2d::avg(usize::MAX).padding(usize::MAX / 2), d4());
    assert_eq!(
        e,
        Error::Overflow {
            what: "kernel area"
        }
    );
    assert!(matches!(
        Shape::new(usize::MAX, usize::MAX, 1, 1).numel(),
        Err(Error::Overflow { .. })
    ));
}

#[test]
fn buffer_length() {
    let p = plan(Pool2d::max(2), d4()).unwrap();
    let mut y = [0.0f32; 4];
    let e = p.run(&[0.0; 15], &mut y).unwrap_err();
    assert_eq!(
        e,
        Error::BufferLength {
            buffer: "input",
            expected: 16,
            actual: 15
        }
    );
    names(&e, &["input", "16", "15"]);
    let e = p.run(&[0.0; 16], &mut [0.0; 5]).unwrap_err();
    assert_eq!(
        e,
        Error::BufferLength {
            buffer: "output",
            expected: 4,
            actual: 5
        }
    );
    names(&e, &["output", "4", "5"]);
    let e = p
        .run_with_indices(&[0.0; 16], &mut y, &mut [0; 3])
        .unwrap_err();
    assert_eq!(
        e,
        Error::BufferLength {
            buffer: "indices",
            expected: 4,
            actual: 3
        }
    );
    names(&e, &["indices", "4", "3"]);
    // Strided descriptors need at least their extent.
    let d = TensorDesc::nhwc(1, 2, 2, 2).with_pixel_stride(3);
    let p = plan(Pool2d::max(2), d).unwrap();
    let e = p.run(&[0.0; 10], &mut [0.0; 2]).unwrap_err();
    assert_eq!(
        e,
        Error::BufferLength {
            buffer: "input",
            expected: 11,
            actual: 10
        }
    );
    p.run(&[0.0; 12], &mut [0.0; 2]).unwrap();
    let e = p.run_alloc(&[0.0; 4]).unwrap_err();
    assert!(
        matches!(
            e,
            Error::BufferLength {
                buffer: "input",
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn output_shape() {
    let e = Plan::<f32>::with_output(&Pool2d::max(2), d4(), TensorDesc::nchw(1, 1, 3, 3))
        .err()
        .unwrap();
    assert_eq!(
        e,
        Error::OutputShape {
            expected: Shape::new(1, 1, 2, 2),
            actual: Shape::new(1, 1, 3, 3)
        }
    );
    names(&e, &["1x1x2x2", "1x1x3x3"]);
    // reference::pool2d checks the same.
    let mut y = [0.0f32; 9];
    let e2 = reference::pool2d(
        &Pool2d::max(2),
        &d4(),
        &[0.0; 16],
        &TensorDesc::nchw(1, 1, 3, 3),
        &mut y,
        None,
    )
    .unwrap_err();
    assert_eq!(e2, e);
}

#[test]
fn layout_mismatch() {
    let e = Plan::<f32>::with_output(&Pool2d::max(2), d4(), TensorDesc::nhwc(1, 1, 2, 2))
        .err()
        .unwrap();
    assert_eq!(
        e,
        Error::LayoutMismatch {
            input: Layout::Nchw,
            output: Layout::Nhwc
        }
    );
    names(&e, &["Nchw", "Nhwc"]);
}

#[test]
fn invalid_stride() {
    let e = plan(
        Pool2d::max(2),
        TensorDesc::nhwc(1, 4, 2, 2).with_pixel_stride(3),
    )
    .err()
    .unwrap();
    assert_eq!(
        e,
        Error::InvalidStride {
            pixel_stride: 3,
            channels: 4,
            layout: Layout::Nhwc
        }
    );
    names(&e, &["3", "4", "Nhwc"]);
    // NCHW takes no stride or offset.
    let e = plan(
        Pool2d::max(2),
        TensorDesc::nchw(1, 4, 2, 2).with_pixel_stride(8),
    )
    .err()
    .unwrap();
    assert!(
        matches!(
            e,
            Error::InvalidStride {
                layout: Layout::Nchw,
                ..
            }
        ),
        "{e:?}"
    );
    names(&e, &["8", "Nchw"]);
    let e = plan(Pool2d::max(2), TensorDesc::nchw(1, 4, 2, 2).with_offset(1))
        .err()
        .unwrap();
    assert!(
        matches!(
            e,
            Error::InvalidStride {
                layout: Layout::Nchw,
                ..
            }
        ),
        "{e:?}"
    );
    // An output descriptor is checked too.
    let out = TensorDesc::nhwc(1, 4, 1, 1).with_pixel_stride(2);
    let e = Plan::<f32>::with_output(&Pool2d::max(2), TensorDesc::nhwc(1, 4, 2, 2), out)
        .err()
        .unwrap();
    assert!(
        matches!(
            e,
            Error::InvalidStride {
                pixel_stride: 2,
                channels: 4,
                ..
            }
        ),
        "{e:?}"
    );
}

/// A read-only, lazily backed mapping of `len` f32 zeros (nothing is touched, so nothing is
/// committed), or None when the address space cannot hold it.
struct Huge {
    ptr: *mut libc::c_void,
    bytes: usize,
}

impl Huge {
    fn new(len: usize) -> Option<Huge> {
        let bytes = len.checked_mul(4)?;
        // SAFETY: a fresh anonymous private mapping; no existing memory is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                bytes,
                libc::PROT_READ,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        (ptr != libc::MAP_FAILED).then_some(Huge { ptr, bytes })
    }

    fn slice(&self) -> &[f32] {
        // SAFETY: the mapping is readable, zero-filled, page aligned and `bytes` long.
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<f32>(), self.bytes / 4) }
    }
}

impl Drop for Huge {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`.
        unsafe { libc::munmap(self.ptr, self.bytes) };
    }
}

#[test]
fn index_overflow() {
    // A plane of 65536 × 65537 > u32::MAX elements: the input (17 GB) is a lazily backed,
    // never-touched mapping; the run is refused before reading it.
    let (h, w) = (65536usize, 65537usize);
    let Some(x) = Huge::new(h * w) else {
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            b"index_overflow: SKIPPED, cannot map 17 GB of address space\n",
        );
        return;
    };
    for pool in [
        Pool2d::adaptive_max(1),
        Pool2d::max((1, 65537)).stride(65536),
    ] {
        for layout in LAYOUTS {
            let p = Plan::<f32>::new(&pool, desc(Shape::new(1, 1, h, w), layout)).unwrap();
            let mut y = vec![SENTINEL; p.output_len()];
            let mut idx = vec![IDX_SENTINEL; p.indices_len()];
            let e = p.run_with_indices(x.slice(), &mut y, &mut idx).unwrap_err();
            assert_eq!(e, Error::IndexOverflow { plane: h * w });
            names(&e, &[&(h * w).to_string()]);
            assert!(y.iter().all(|v| v.to_bits() == SENTINEL.to_bits()));
            assert!(idx.iter().all(|&i| i == IDX_SENTINEL));
            let e = pool
                .run_with_indices(x.slice(), desc(Shape::new(1, 1, h, w), layout))
                .unwrap_err();
            assert_eq!(e, Error::IndexOverflow { plane: h * w });
        }
    }
}

#[test]
fn indices_not_supported() {
    for (pool, name) in [
        (Pool2d::avg(2), "avg"),
        (Pool2d::global_max(), "global_max"),
        (Pool2d::global_avg(), "global_avg"),
        (Pool2d::adaptive_avg(2), "adaptive_avg"),
    ] {
        let p = plan(pool, d4()).unwrap();
        let mut y = vec![0.0f32; p.output_len()];
        let mut idx = vec![0u32; p.indices_len()];
        let e = p
            .run_with_indices(&[0.0; 16], &mut y, &mut idx)
            .unwrap_err();
        assert_eq!(e, Error::IndicesNotSupported { op: name });
        names(&e, &[name]);
        assert_eq!(pool.run_with_indices(&[0.0f32; 16], d4()).unwrap_err(), e);
        let mut i2 = vec![0u32; p.indices_len()];
        let e = reference::pool2d(
            &pool,
            &d4(),
            &[0.0; 16],
            &p.output_desc(),
            &mut y,
            Some(&mut i2),
        )
        .unwrap_err();
        assert_eq!(e, Error::IndicesNotSupported { op: name });
    }
}

#[test]
fn unsupported_tier() {
    let missing = unsupported_tiers();
    #[cfg(target_arch = "x86_64")]
    assert!(missing.contains(&Tier::Neon));
    #[cfg(target_arch = "aarch64")]
    assert!(missing.contains(&Tier::Avx2));
    for tier in missing {
        let e = err_tier(tier);
        assert_eq!(e, Error::UnsupportedTier { tier });
        names(&e, &[tier.name()]);
    }
}

fn err_tier(tier: Tier) -> Error {
    Plan::<f32>::new(&Pool2d::max(2).tier(tier), d4())
        .err()
        .unwrap()
}

#[test]
fn unknown_tier() {
    let e = "avx3".parse::<Tier>().unwrap_err();
    assert_eq!(
        e,
        Error::UnknownTier {
            name: "avx3".to_owned()
        }
    );
    names(&e, &["avx3"]);
    for t in Tier::ALL {
        assert_eq!(t.name().parse::<Tier>(), Ok(t));
        assert_eq!(t.name().to_uppercase().parse::<Tier>(), Ok(t));
    }
}

#[test]
fn byte_cast() {
    let p = plan(Pool2d::max(2), d4()).unwrap();
    let x = [0.0f32; 17];
    let xb: &[u8] = bytemuck::cast_slice(&x);
    let mut y = [0.0f32; 4];
    let e = p
        .run_bytes(&xb[1..65], bytemuck::cast_slice_mut(&mut y))
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::ByteCast {
                buffer: "input",
                ..
            }
        ),
        "{e:?}"
    );
    names(&e, &["input", "misaligned"]);
    let e = p
        .run_bytes(&xb[..64], &mut bytemuck::cast_slice_mut(&mut y)[..14])
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::ByteCast {
                buffer: "output",
                ..
            }
        ),
        "{e:?}"
    );
    names(&e, &["output", "whole number"]);
}

#[test]
fn errors_are_std_errors() {
    fn is_error<E: std::error::Error + Send + Sync + 'static>(_: &E) {}
    is_error(&Error::ZeroDivisorOverride);
}

// ---------------------------------------------------------------------------------------------
// No partial writes.

/// Every run-time refusal of `plan` on buffers derived from a valid call leaves the output and
/// the indices exactly as they were.
fn assert_no_partial_writes(ctx: &str, p: &Plan<f32>, indices: bool) {
    let x = vec![1.0f32; p.input_len()];
    let untouched = |y: &[f32]| y.iter().all(|v| v.to_bits() == SENTINEL.to_bits());
    let idx_untouched = |i: &[u32]| i.iter().all(|&v| v == IDX_SENTINEL);
    let ol = p.output_len();
    let il = p.indices_len();
    let mut cases: Vec<(&str, usize, usize, usize)> = vec![
        // (what, input len, output len, indices len)
        ("short input", p.input_len().wrapping_sub(1), ol, il),
        ("long input", p.input_len() + 1, ol, il),
        ("short output", p.input_len(), ol.wrapping_sub(1), il),
        ("long output", p.input_len(), ol + 1, il),
    ];
    if indices {
        cases.push(("short indices", p.input_len(), ol, il.wrapping_sub(1)));
        cases.push(("long indices", p.input_len(), ol, il + 1));
    }
    let dense = p.output_desc().is_dense() && p.input_desc().is_dense();
    for (what, xl, yl, ixl) in cases {
        if xl == usize::MAX || yl == usize::MAX || ixl == usize::MAX {
            continue; // an empty buffer cannot be shortened
        }
        if !dense && what.starts_with("long") && !what.contains("indices") {
            continue; // strided buffers may be longer than their extent
        }
        let xs = if xl <= x.len() {
            x[..xl].to_vec()
        } else {
            vec![1.0; xl]
        };
        let mut y = vec![SENTINEL; yl];
        let r = p.run(&xs, &mut y);
        if ixl == il {
            assert!(r.is_err(), "{ctx}: run with {what} accepted");
            assert!(untouched(&y), "{ctx}: run with {what} wrote the output");
        }
        let mut y = vec![SENTINEL; yl];
        let mut idx = vec![IDX_SENTINEL; ixl];
        let r = p.run_with_indices(&xs, &mut y, &mut idx);
        assert!(r.is_err(), "{ctx}: run_with_indices with {what} accepted");
        assert!(
            untouched(&y),
            "{ctx}: run_with_indices with {what} wrote the output"
        );
        assert!(
            idx_untouched(&idx),
            "{ctx}: run_with_indices with {what} wrote indices"
        );
    }
    if !indices {
        // Indices asked of an operation without them.
        let mut y = vec![SENTINEL; ol];
        let mut idx = vec![IDX_SENTINEL; il];
        let e = p.run_with_indices(&x, &mut y, &mut idx).unwrap_err();
        assert!(
            matches!(e, Error::IndicesNotSupported { .. }),
            "{ctx}: {e:?}"
        );
        assert!(
            untouched(&y) && idx_untouched(&idx),
            "{ctx}: indices on avg wrote"
        );
    }
    // Misaligned output bytes.
    if ol > 0 {
        let mut store = vec![SENTINEL; ol + 1];
        let xb: &[u8] = bytemuck::cast_slice(&x);
        let yb: &mut [u8] = bytemuck::cast_slice_mut(&mut store);
        assert!(
            p.run_bytes(xb, &mut yb[1..1 + 4 * ol]).is_err(),
            "{ctx}: misaligned output"
        );
        assert!(
            untouched(&store),
            "{ctx}: run_bytes wrote a misaligned output"
        );
        let mut y = vec![SENTINEL; ol];
        let xs: Vec<f32> = vec![1.0; x.len() + 1];
        let xb: &[u8] = bytemuck::cast_slice(&xs);
        assert!(
            p.run_bytes(&xb[1..1 + 4 * x.len()], bytemuck::cast_slice_mut(&mut y))
                .is_err()
        );
        assert!(
            untouched(&y),
            "{ctx}: run_bytes wrote with a misaligned input"
        );
    }
}

#[test]
fn no_partial_writes() {
    for pool in typical_pools() {
        for layout in LAYOUTS {
            for &tier in tiers() {
                let ctx = format!("{pool:?} [{tier} {}]", layout.name());
                let p = Plan::<f32>::new(&pool.tier(tier), desc(Shape::new(2, 3, 9, 10), layout))
                    .unwrap();
                assert_no_partial_writes(&ctx, &p, pool.op().has_indices());
            }
        }
        // A strided NHWC output into a concatenation buffer.
        let Ok(os) = pool.output_shape(Shape::new(1, 3, 9, 10)) else {
            continue;
        };
        let out = TensorDesc::nhwc(os.n, os.c, os.h, os.w)
            .with_pixel_stride(7)
            .with_offset(2);
        for &tier in tiers() {
            let p = Plan::<f32>::with_output(&pool.tier(tier), TensorDesc::nhwc(1, 3, 9, 10), out)
                .unwrap();
            let ctx = format!("{pool:?} [{tier}] strided");
            assert_no_partial_writes(&ctx, &p, pool.op().has_indices());
        }
    }
}

#[test]
fn reference_no_partial_writes() {
    let pool = Pool2d::max(2);
    let mut y = [SENTINEL; 4];
    let mut idx = [IDX_SENTINEL; 3];
    let od = TensorDesc::nchw(1, 1, 2, 2);
    assert!(reference::pool2d(&pool, &d4(), &[0.0; 16], &od, &mut y, Some(&mut idx)).is_err());
    assert!(reference::pool2d(&pool, &d4(), &[0.0; 15], &od, &mut y, None).is_err());
    assert!(y.iter().all(|v| v.to_bits() == SENTINEL.to_bits()));
    assert!(idx.iter().all(|&i| i == IDX_SENTINEL));
}

// ---------------------------------------------------------------------------------------------
// Huge values.

/// The message of a caught panic.
fn msg(e: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = e.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = e.downcast_ref::<String>() {
        s.clone()
    } else {
        "(panic)".to_owned()
    }
}

/// A compact description of a window pooling's parameters.
fn short(p: &Pool2d) -> String {
    let s = format!("{p:?}");
    s.replace("Size2 ", "")
        .replace("Pad4 ", "")
        .replace(", tier: None, parallelism: Auto", "")
}

/// Plans (and, when the window is small enough to run quickly, runs) every combination of
/// huge parameters: no panic, ever; an accepted plan runs and agrees with the reference.
#[test]
fn huge_parameters_never_panic() {
    const M: usize = usize::MAX;
    let kernels = [1, 2, 3, 1 << 31, (1 << 32) + 1, M / 2, M - 1, M];
    let strides = [None, Some(1), Some(3), Some(1 << 40), Some(M)];
    let dilations = [1, 2, 1 << 33, M / 2, M];
    let shape = Shape::new(1, 2, 4, 5);
    let x: Vec<f32> = (0..40).map(|v| v as f32).collect();
    let mut accepted = 0;
    let mut panics = Vec::new();
    'all: for &k in &kernels {
        let pads = [0, 1, k / 2, M / 2, M];
        for stride in strides {
            for &pad in &pads {
                for &d in &dilations {
                    for ceil in [false, true] {
                        for same in [None, Some(SameMode::Upper), Some(SameMode::Lower)] {
                            for avg in [false, true] {
                                if panics.len() >= 8 {
                                    break 'all; // enough to report
                                }
                                if avg && d != 1 {
                                    continue;
                                }
                                let mut p = if avg { Pool2d::avg(k) } else { Pool2d::max(k) };
                                if let Some(s) = stride {
                                    p = p.stride(s);
                                }
                                p = match same {
                                    Some(m) => p.padding_same(m),
                                    None => p.padding(pad),
                                };
                                p = p.dilation(d).ceil_mode(ceil);
                                let r = catch_unwind(AssertUnwindSafe(|| {
                                    let out = p.output_shape(shape);
                                    let plans: Vec<_> = LAYOUTS
                                        .iter()
                                        .map(|&l| Plan::<f32>::new(&p, desc(shape, l)))
                                        .collect();
                                    (out, plans.into_iter().all(|r| r.is_ok()))
                                }));
                                match r {
                                    Err(e) => panics.push(format!("{}: {}", short(&p), msg(&e))),
                                    Ok((Ok(_), true)) => {
                                        accepted += 1;
                                        // The scalar reference visits every tap of the kernel:
                                        // run only windows it can finish quickly.
                                        if k <= 3 {
                                            let r = catch_unwind(AssertUnwindSafe(|| {
                                                check_all(&format!("{p:?}"), &p, shape, &x);
                                            }));
                                            if let Err(e) = r {
                                                panics.push(format!(
                                                    "{} (run): {}",
                                                    short(&p),
                                                    msg(&e)
                                                ));
                                            }
                                        }
                                    }
                                    Ok((Ok(_), false)) => {
                                        panic!("{p:?}: output_shape accepted, Plan::new refused")
                                    }
                                    Ok((Err(_), _)) => {}
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(
        panics.is_empty(),
        "{} parameter sets panicked:\n{}",
        panics.len(),
        panics.join("\n")
    );
    assert!(accepted > 100, "only {accepted} accepted");
}

/// Shape arithmetic of `pool` on `s`; plans (and runs, when empty) those whose output rows are
/// few enough to allocate the plan's per-row geometry.
fn probe(pool: &Pool2d, s: Shape, layout: Layout) {
    let _ = desc(s, layout).min_len();
    if let Ok(o) = pool.output_shape(s) {
        let _ = o.numel();
        if o.h <= 4096
            && o.w <= 4096
            && let Ok(p) = Plan::<f32>::new(pool, desc(s, layout))
        {
            let _ = p.kernel();
            if p.input_len() == 0 {
                p.run(&[], &mut []).unwrap();
            }
        }
    }
}

#[test]
fn huge_shapes_never_panic() {
    const M: usize = usize::MAX;
    let dims = [0, 1, 3, 1 << 20, 1 << 31, 1 << 32, M / 2, M];
    let mut panics = Vec::new();
    for pool in typical_pools() {
        for &n in &[0, 1, M] {
            for &c in &dims {
                for &h in &dims {
                    for &w in &dims {
                        for layout in LAYOUTS {
                            let s = Shape::new(n, c, h, w);
                            let r = catch_unwind(AssertUnwindSafe(|| probe(&pool, s, layout)));
                            if let Err(e) = r {
                                panics.push(format!(
                                    "{} on {s} {}: {}",
                                    short(&pool),
                                    layout.name(),
                                    msg(&e)
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(
        panics.is_empty(),
        "{} shapes panicked:\n{}",
        panics.len(),
        panics.join("\n")
    );
}
