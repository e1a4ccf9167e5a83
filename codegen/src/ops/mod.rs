//! Per-operation knowledge that spans the pipeline: for each op kept here, how the ONNX and Paddle
//! front ends produce it, how the scalar interpreter computes it and how it is emitted, in one
//! module (see ARCHITECTURE.md for what lives where).

pub mod activation;
pub mod binary;
pub mod max_pool;

use proc_macro2::TokenStream;

/// Where an op's kernel call goes: the shapes (NCHW, as in the IR) and the generated code's names
/// for its input (`src`, an NHWC slice whose pixels are `pixel_stride` values apart) and output
/// (`dst`, dense NHWC).
pub struct Site<'a> {
    pub in_shape: &'a [usize],
    pub out_shape: &'a [usize],
    pub pixel_stride: usize,
    pub src: &'a proc_macro2::Ident,
}

/// An op's kernel call as its module writes it: the emitter wraps it into the layer's function.
pub struct KernelCall {
    /// The runtime kernel's name (`max_pool`), as `MODEL.layers` records it.
    pub kernel: &'static str,
    /// The layer's line in `info` and `bench --layers` (`28x28x16 -> 14x14x16 k3x3 s2x2`).
    pub summary: String,
    /// Statements writing `dst` from `src` (kernels are in scope as `k`).
    pub call: TokenStream,
}
