//! Helpers shared by the fuzz targets.

use std::path::Path;

use pplcnet_codegen::ir::Graph;
use pplcnet_codegen::load::{self, PaddleFormat};
use pplcnet_codegen::{Compiler, InputSpec};

/// Runs what a build would run after a successful load: passes, workspace plan, weight packing and
/// Rust emission, all in memory. Errors are fine; panics are bugs.
pub fn compile(graph: Graph) {
    let _ = Compiler::from_graph(graph).compile_in_memory("/fuzz/weights.bin");
}

/// The Paddle targets: `data` split by [`split2`] into a program of `format` (named `model_name` in
/// messages) and its `.pdiparams`, loaded and, on success, compiled.
pub fn load_and_compile_paddle(format: PaddleFormat, model_name: &str, data: &[u8]) {
    let (model, params) = split2(data);
    let loaded = load::load_paddle_bytes(
        format,
        &Path::new("fuzz").join(model_name),
        model,
        Path::new("fuzz/inference.pdiparams"),
        params,
        &InputSpec::default(),
    );
    if let Ok(graph) = loaded {
        compile(graph);
    }
}

/// Splits a fuzz input into two files: a little-endian `u32` length prefix, then that many bytes of
/// the first file (clamped to what is there), then the rest as the second file.
pub fn split2(data: &[u8]) -> (&[u8], &[u8]) {
    if data.len() < 4 {
        return (data, &[]);
    }
    let n = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
    let rest = &data[4..];
    let n = n.min(rest.len());
    rest.split_at(n)
}

/// The inverse of [`split2`], for building seeds.
pub fn join2(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + a.len() + b.len());
    out.extend_from_slice(&(a.len() as u32).to_le_bytes());
    out.extend_from_slice(a);
    out.extend_from_slice(b);
    out
}
