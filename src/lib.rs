//! PP-LCNetV2 compiled to native Rust at build time.
//!
//! The model (by default the seeded PPLCNetV2_base in `model_assets/`, or the file named by the
//! `PPLCNET_MODEL` environment variable at build time) is turned into straight-line calls to
//! shape-specialized SIMD kernels, with its weights embedded in the binary. Running it allocates nothing.
//!
//! ```no_run
//! let img = [0u8; pplcnet::INPUT_LEN]; // 224x224 RGB, HWC, already resized and cropped
//! let out: [f32; pplcnet::NUM_CLASSES] = pplcnet::classify(&img);
//! let top5 = pplcnet::top_k::<5>(&out);
//! println!("{} {:.3}", pplcnet::LABELS[top5[0].0], top5[0].1);
//! ```
//!
//! With `default-features = false` the crate is `#![no_std]` and needs no allocator: call
//! [`classify_with`] with a [`Workspace`] you own (`Workspace::new()` is `const`, so it can be a
//! `static`), then [`top_k`] and [`LABELS`]. The `nostd-check` crate of this repository proves it in
//! CI, and `pplcnet-capi` wraps the same entry point for C.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod kernels;
#[cfg(feature = "std")]
pub mod parallel;
pub mod pipeline;
mod topk;

#[cfg(feature = "image")]
pub mod predict;
#[cfg(feature = "image")]
pub mod preprocess;
#[cfg(feature = "std")]
pub mod report;

/// The `image` crate this crate decodes with (for building [`image::DynamicImage`]s of the same version).
#[cfg(feature = "image")]
pub use image;
#[cfg(feature = "std")]
pub use parallel::Parallel;
pub use pipeline::{Preprocessing, Resize, PREPROCESSING, THRESHOLD};
#[cfg(feature = "image")]
pub use predict::{predict_paths, preprocess_image, Prediction, Predictor};
pub use topk::top_k;
#[cfg(feature = "std")]
pub use topk::{over_threshold, top_k_vec};

/// The embedded default model, generated at build time by `pplcnet-codegen`.
pub mod model {
    include!(concat!(env!("OUT_DIR"), "/pplcnet_model.rs"));
}

pub use model::{
    classify_parallel_with, classify_with, classify_with_hook, Workspace, INPUT_HEIGHT, INPUT_LEN,
    INPUT_WIDTH, LABELS, MODEL, NUM_CLASSES, WORKSPACE_LEN,
};

/// What a compiled model module describes about itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelInfo {
    /// Model name (the source file's stem).
    pub name: &'static str,
    /// The name of the file (or Paddle directory) it was compiled from, without its directory.
    pub source: &'static str,
    /// Parameters in the source graph (weights, biases, BatchNorm statistics).
    pub params: u64,
    /// Multiply-accumulates per image (convolutions and fully connected layers).
    pub macs: u64,
    /// Whether the outputs are probabilities (the graph ends in softmax) or raw logits.
    pub output: OutputKind,
    /// Size of the activation workspace.
    pub workspace_bytes: usize,
    /// Size of the embedded, packed weights.
    pub weight_bytes: usize,
    /// True for the crate's seeded stand-in model, whose predictions are meaningless.
    pub seeded_default: bool,
    /// The arithmetic of the pointwise convolutions (`PPLCNET_PRECISION` at build time).
    pub precision: Precision,
    /// One entry per kernel call after fusion, in execution order.
    pub layers: &'static [LayerInfo],
}

/// One kernel call of a compiled model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LayerInfo {
    /// Kernel name (`pwconv`, `dwconv`, `conv_u8`, ...).
    pub kernel: &'static str,
    /// The kernel variant the compiler chose: operation, precision, register tile and instruction
    /// set, e.g. `pwconv_bf16_32x32_amx` (see `pplcnet-codegen`'s `variants`).
    pub variant: &'static str,
    /// Shapes and fused epilogue, e.g. `14x14x256 -> 14x14x512 +relu`.
    pub summary: &'static str,
    /// Multiply-accumulates per image.
    pub macs: u64,
    /// `Some((first, last))` when the serial entry points run this layer within the banded chain
    /// of layers `first..=last` (a few rows of each at a time; see `pplcnet-codegen`'s `band`).
    /// Their hook then reports the whole chain's time after layer `first`, and nothing for the
    /// others. The parallel entry points run every layer on its own.
    pub chain: Option<(usize, usize)>,
}

impl core::fmt::Display for LayerInfo {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:<14} {}", self.kernel, self.summary)
    }
}

/// The arithmetic of a compiled model's matrix products (defined in `pplcnet-spec`, shared with
/// the compiler).
pub use pplcnet_spec::Precision;

/// What the model's outputs are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// Softmax probabilities (PaddleClas exports append a softmax).
    Probabilities,
    /// Raw scores.
    Logits,
    /// One independent probability per class (the graph ends in a sigmoid: attribute models such
    /// as PaddleX's pedestrian and vehicle attributes); report every class over a threshold.
    MultiLabel,
}

#[cfg(feature = "std")]
impl Workspace {
    /// A zeroed workspace on the heap (allocated once; it is too large for small thread stacks).
    pub fn new_boxed() -> std::boxed::Box<Self> {
        bytemuck::zeroed_box()
    }
}

/// Runs the model on one image using a workspace owned by the calling thread (allocated on the
/// thread's first call, then reused: later calls perform no heap allocation). Safe to call from many
/// threads at once; each thread gets its own workspace.
#[cfg(feature = "std")]
pub fn classify(input: &[u8; INPUT_LEN]) -> [f32; NUM_CLASSES] {
    use std::cell::RefCell;
    std::thread_local! {
        static WORKSPACE: RefCell<Option<std::boxed::Box<Workspace>>> = const { RefCell::new(None) };
    }
    WORKSPACE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let ws = slot.get_or_insert_with(Workspace::new_boxed);
        classify_with(input, ws)
    })
}

/// Runs the model on one image with its heavy layers split across `pool`'s threads: the same as
/// [`Parallel::classify`]. Bit-identical to [`classify_with`]; no heap allocation.
#[cfg(feature = "std")]
pub fn classify_parallel(
    pool: &Parallel,
    input: &[u8; INPUT_LEN],
    ws: &mut Workspace,
) -> [f32; NUM_CLASSES] {
    pool.classify(input, ws)
}

#[doc(hidden)]
pub mod __private {
    //! Re-exports used by generated code.
    pub use bytemuck;
}
