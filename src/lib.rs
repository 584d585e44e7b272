//! # nnpool
//!
//! SIMD-optimized CPU pooling kernels for convolutional-network inference, with PyTorch's exact
//! semantics: max pooling (with argmax indices), average pooling (`count_include_pad`,
//! `divisor_override`), global and adaptive pooling, on f32 tensors in NCHW or NHWC.
//!
//! * [`Pool2d`] describes a pooling (`Pool2d::max(3).stride(2).padding(1)`), and
//!   [`Pool2d::output_shape`] tells the output shape so callers can allocate.
//! * [`Plan`] validates and precomputes a pooling for one input shape once; running it does no
//!   validation beyond buffer lengths and no allocation. Plans are `Send + Sync`.
//! * [`reference`](mod@reference) holds the scalar reference loops: the specification every SIMD tier matches
//!   (bit for bit, max, indices and averages alike).
//! * [`Tier`] names the implementations (`scalar`, `portable`, `sse2`, `avx2`, `avx512`, `neon`);
//!   the dispatcher detects the CPU once and picks the best, capped by `NNPOOL_MAX_TIER`.
//!
//! ```
//! use nnpool::{Plan, Pool2d, TensorDesc};
//! // The textbook example: a 4×4 plane, 2×2 windows, stride 2.
//! let x: Vec<f32> = (1..=16).map(|v| v as f32).collect();
//! let desc = TensorDesc::nchw(1, 1, 4, 4);
//! let max = Plan::<f32>::new(&Pool2d::max(2), desc)?;
//! let mut y = [0.0f32; 4];
//! max.run(&x, &mut y)?;
//! assert_eq!(y, [6.0, 8.0, 14.0, 16.0]);
//! let avg = Pool2d::avg(2).run(&x, desc)?;
//! assert_eq!(&avg.data[..], &[3.5, 5.5, 11.5, 13.5]);
//! let gap = Pool2d::global_avg().run(&x, desc)?;
//! assert_eq!(&gap.data[..], &[8.5]);
//! # Ok::<(), nnpool::Error>(())
//! ```
//!
//! Denormal numbers are processed as they are: nnpool never changes the FTZ/DAZ state.
#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod element;
mod error;
mod geom;
#[path = "../kernels/mod.rs"]
mod kernels;
mod parallel;
mod params;
mod plan;
pub mod reference;
mod tensor;
mod tier;

pub use element::Element;
pub use error::{Error, Result};
pub use params::{Pad4, Padding, Parallelism, Pool2d, PoolOp, SameMode, Size2};
pub use plan::{KernelInfo, Plan, Tensor};
pub use tensor::{Layout, Shape, TensorDesc};
pub use tier::Tier;
