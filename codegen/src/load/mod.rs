//! Front ends: one reader per model format, all producing the same [`crate::ir::Graph`].

pub mod builder;
pub mod inference_yml;
mod onnx;
pub mod onnx_proto;
pub mod paddle;

use std::path::Path;

use crate::error::{Error, Result};
use crate::ir::Graph;
use crate::InputSpec;

pub use onnx::load_onnx;
pub use paddle::{
    load_paddle, load_paddle_archive_bytes, load_paddle_bytes, Format as PaddleFormat,
};

/// Reads a model in any supported format into the IR (no passes run yet): an `.onnx` file, a Paddle
/// inference directory (`inference.pdmodel` or `inference.json`, with `inference.pdiparams`), one of those
/// files, or a `.tar` / `.tar.gz` / `.tgz` of such a directory.
pub fn load_model(path: &Path, spec: &InputSpec) -> Result<Graph> {
    let is_onnx = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"));
    if !path.exists() {
        return Err(Error::file(
            path,
            "cannot read the model: it does not exist",
        ));
    }
    if !is_onnx && paddle::is_paddle_path(path) {
        return load_paddle(path, spec);
    }
    let bytes = std::fs::read(path)
        .map_err(|e| Error::file(path, format!("cannot read the model: {e}")))?;
    if is_onnx {
        load_onnx(path, &bytes, spec)
    } else {
        Err(Error::file(
            path,
            "unknown model format (expected a .onnx file, a Paddle inference directory with inference.pdmodel or \
             inference.json and inference.pdiparams, or a .tar/.tar.gz/.tgz of one)",
        ))
    }
}

/// The files and directories a model at `path` is read from, for a build script's `rerun-if-changed`
/// (for a Paddle directory: the directory and its model and parameter files).
/// The class names a model file carries, if any: for ONNX files, the `character` metadata entry
/// (one label per line), where PaddleX exports put their label list. `None` for other formats
/// or when absent (an `inference.yml` beside the model has its own: [`inference_yml`]).
pub fn model_labels(path: &Path) -> Result<Option<Vec<String>>> {
    if path.extension().is_none_or(|e| e != "onnx") || path.is_dir() {
        return Ok(None);
    }
    let bytes = std::fs::read(path).map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    let model = <onnx_proto::ModelProto as prost::Message>::decode(&bytes[..])
        .map_err(|e| Error::file(path, format!("not a valid ONNX protobuf: {e}")))?;
    Ok(model
        .metadata_props
        .iter()
        .find(|p| p.key == "character")
        .map(|p| {
            p.value
                .lines()
                .map(|l| l.trim_end_matches('\r').to_string())
                .filter(|l| !l.is_empty())
                .collect()
        }))
}

pub fn input_files(path: &Path) -> Vec<std::path::PathBuf> {
    if path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("onnx"))
        || !paddle::is_paddle_path(path)
    {
        return vec![path.to_path_buf()];
    }
    paddle::input_files(path)
}
