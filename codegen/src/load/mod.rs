//! Front ends: one reader per model format, all producing the same [`crate::ir::Graph`].

pub mod builder;
mod onnx;
mod onnx_proto;

use std::path::Path;

use crate::error::{Error, Result};
use crate::ir::Graph;
use crate::InputSpec;

pub use onnx::load_onnx;

/// Reads a model file in any supported format into the IR (no passes run yet).
pub fn load_model(path: &Path, spec: &InputSpec) -> Result<Graph> {
    let is_onnx = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
    if path.is_dir() {
        return Err(Error::file(
            path,
            "Paddle inference directories are not supported yet; convert with paddle2onnx and pass the .onnx file",
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read the model: {e}")))?;
    if is_onnx {
        load_onnx(path, &bytes, spec)
    } else {
        Err(Error::file(path, "unknown model format (expected a .onnx file)"))
    }
}
