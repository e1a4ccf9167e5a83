//! Paddle front end: PaddleClas / PaddleX inference exports, read directly (no paddle2onnx).
//!
//! Accepted layouts: a directory holding `inference.pdmodel` (legacy `ProgramDesc` protobuf) or
//! `inference.json` (Paddle 3 PIR) next to `inference.pdiparams`; the model or parameter file itself; or a
//! `.tar` / `.tar.gz` / `.tgz` of such a directory, read in place.
//!
//! Both program formats are first normalized into `PaddleOp`s (legacy op names and slot names, typed
//! attributes), then the `convert` module maps them onto the same builder the ONNX front end uses,
//! so everything after loading is shared.

mod archive;
mod convert;
mod legacy;
mod params;
mod pir;
pub mod program_desc;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ir::Graph;
use crate::InputSpec;

/// An attribute value of either program format.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Attr {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    Ints(Vec<i64>),
    Floats(Vec<f64>),
    Bools(Vec<bool>),
    Strs(Vec<String>),
    /// A kind this reader does not interpret (places, layouts, blocks...).
    Other,
}

/// One operator, normalized: legacy op type and slot names (`conv2d` with `Input`/`Filter` -> `Output`),
/// whatever format it came from.
#[derive(Debug, Clone)]
pub(crate) struct PaddleOp {
    /// Normalized type (legacy spelling, e.g. `elementwise_add`, `batch_norm`).
    pub kind: String,
    /// The type as written in the file (e.g. `1.add`), for messages.
    pub type_name: String,
    /// A name for messages and IR nodes: the first output variable (legacy) or value id (PIR).
    pub name: String,
    pub inputs: Vec<(String, Vec<String>)>,
    pub outputs: Vec<(String, Vec<String>)>,
    pub attrs: Vec<(String, Attr)>,
}

/// A persistable variable the `.pdiparams` file must hold, with the dtype (`VarType.Type`) and dims the
/// program declares for it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParamDecl {
    pub name: String,
    pub dtype: i32,
    pub dims: Vec<i64>,
}

/// A parsed program: ops in execution order (without feed / fetch / data), the parameters sorted by name,
/// the image input and the output variable.
#[derive(Debug, Clone)]
pub(crate) struct Program {
    pub ops: Vec<PaddleOp>,
    pub params: Vec<ParamDecl>,
    pub input_name: String,
    /// Declared input dims (`-1` for dynamic), if known.
    pub input_dims: Option<Vec<i64>>,
    pub output_name: String,
}

/// Which program format a model file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.pdmodel`: `ProgramDesc` protobuf.
    Legacy,
    /// `.json`: Paddle 3 PIR.
    Pir,
}

/// A model file and its parameter file, read into memory (from a directory or an archive).
pub(crate) struct ModelFiles {
    pub format: Format,
    /// Names the model file in messages (for archives: `archive.tar[dir/inference.pdmodel]`).
    pub model_path: PathBuf,
    pub model: Vec<u8>,
    pub params_path: PathBuf,
    pub params: Vec<u8>,
    /// Model name for reports (the export directory's name).
    pub name: String,
}

/// True for paths this front end handles: directories, `.pdmodel` / `.pdiparams` / `.json` files and
/// tar archives.
pub fn is_paddle_path(path: &Path) -> bool {
    if path.is_dir() {
        return true;
    }
    let lower = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    [".pdmodel", ".pdiparams", ".json"]
        .iter()
        .any(|e| lower.ends_with(e))
        || archive::is_archive_name(&lower)
}

/// Loads a Paddle inference model (directory, model file or archive) into the IR.
pub fn load_paddle(path: &Path, spec: &InputSpec) -> Result<Graph> {
    load_files(&locate(path)?, spec)
}

/// [`load_paddle`] on files already in memory: a program (`model`, legacy `.pdmodel` protobuf or PIR
/// `.json` as `format` says) and its `.pdiparams`. `model_path` and `params_path` only name them in
/// messages (nothing is read from disk).
pub fn load_paddle_bytes(
    format: Format,
    model_path: &Path,
    model: &[u8],
    params_path: &Path,
    params: &[u8],
    spec: &InputSpec,
) -> Result<Graph> {
    let name = model_path
        .parent()
        .and_then(|p| p.file_name())
        .map_or_else(|| "model".into(), |n| n.to_string_lossy().into_owned());
    let files = ModelFiles {
        format,
        model_path: model_path.to_path_buf(),
        model: model.to_vec(),
        params_path: params_path.to_path_buf(),
        params: params.to_vec(),
        name,
    };
    load_files(&files, spec)
}

/// [`load_paddle`] on a `.tar` / `.tar.gz` archive already in memory (gzip is recognized by its magic
/// bytes); `path` only names it in messages.
pub fn load_paddle_archive_bytes(path: &Path, bytes: &[u8], spec: &InputSpec) -> Result<Graph> {
    load_files(&archive::locate_in_archive_bytes(path, bytes)?, spec)
}

fn load_files(files: &ModelFiles, spec: &InputSpec) -> Result<Graph> {
    let program = match files.format {
        Format::Legacy => legacy::parse(&files.model_path, &files.model)?,
        Format::Pir => pir::parse(&files.model_path, &files.model)?,
    };
    let params = params::read_params(&files.params_path, &files.params, &program.params)?;
    convert::build(files, &program, params, spec)
}

/// The files a Paddle model at `path` is read from (for build scripts' `rerun-if-changed`): the path
/// itself and, for a directory, every model and parameter file in it; for a model file, its `.pdiparams`.
pub fn input_files(path: &Path) -> Vec<PathBuf> {
    let mut out = vec![path.to_path_buf()];
    if path.is_dir() {
        if let Ok(entries) = std::fs::read_dir(path) {
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && model_role(&p.to_string_lossy()).is_some())
                .collect();
            files.sort();
            out.extend(files);
        }
    } else if let Some(Role::Model(_)) = model_role(&path.to_string_lossy()) {
        out.push(path.with_extension("pdiparams"));
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Model(Format),
    Params,
}

/// What a file is, by its name.
fn model_role(name: &str) -> Option<Role> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".pdmodel") {
        Some(Role::Model(Format::Legacy))
    } else if lower.ends_with(".json") {
        Some(Role::Model(Format::Pir))
    } else if lower.ends_with(".pdiparams") {
        Some(Role::Params)
    } else {
        None
    }
}

/// Picks the model and parameter file among the file names of one directory (`names` relative to it):
/// `inference.json` or `inference.pdmodel` (the JSON wins when both exist) with `inference.pdiparams`,
/// else the only `<stem>.pdmodel` / `<stem>.json` that has a `<stem>.pdiparams`.
fn pick(names: &[String]) -> std::result::Result<(Format, String, String), String> {
    let has = |n: &str| names.iter().any(|x| x == n);
    let stem_of = |n: &str| {
        n.rsplit_once('.')
            .map_or(n.to_string(), |(s, _)| s.to_string())
    };
    for (model, format) in [
        ("inference.json", Format::Pir),
        ("inference.pdmodel", Format::Legacy),
    ] {
        if has(model) {
            if has("inference.pdiparams") {
                return Ok((format, model.to_string(), "inference.pdiparams".into()));
            }
            return Err(format!("found {model} but no inference.pdiparams next to it (the weights are in that file)"));
        }
    }
    let mut pairs: Vec<(Format, String, String)> = names
        .iter()
        .filter_map(|n| match model_role(n) {
            Some(Role::Model(f)) => {
                let params = format!("{}.pdiparams", stem_of(n));
                has(&params).then(|| (f, n.clone(), params))
            }
            _ => None,
        })
        .collect();
    match pairs.len() {
        1 => Ok(pairs.remove(0)),
        0 => {
            let lonely: Vec<&String> = names
                .iter()
                .filter(|n| matches!(model_role(n), Some(Role::Model(Format::Legacy))))
                .collect();
            if let Some(m) = lonely.first() {
                Err(format!(
                    "found {m} but no {}.pdiparams next to it (the weights are in that file)",
                    stem_of(m)
                ))
            } else if has("inference.pdiparams") {
                Err("found inference.pdiparams but no inference.pdmodel or inference.json (the program)".into())
            } else {
                Err("no Paddle inference model here: expected inference.pdmodel or inference.json together with \
                     inference.pdiparams"
                    .into())
            }
        }
        _ => Err(format!(
            "several models: {}; point PPLCNET_MODEL at one of the files",
            pairs
                .iter()
                .map(|p| p.1.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Finds and reads the model and parameter files for `path`.
fn locate(path: &Path) -> Result<ModelFiles> {
    let read = |p: &Path, what: &str| {
        std::fs::read(p).map_err(|e| Error::file(p, format!("cannot read the {what}: {e}")))
    };
    let dir_name = |d: &Path| {
        std::fs::canonicalize(d)
            .ok()
            .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "model".into())
    };
    if path.is_dir() {
        let entries = std::fs::read_dir(path)
            .map_err(|e| Error::file(path, format!("cannot list the directory: {e}")))?;
        let names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        let (format, model, params) = pick(&names).map_err(|r| Error::file(path, r))?;
        let (model_path, params_path) = (path.join(model), path.join(params));
        return Ok(ModelFiles {
            format,
            model: read(&model_path, "model")?,
            params: read(&params_path, "parameters")?,
            model_path,
            params_path,
            name: dir_name(path),
        });
    }
    let lower = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if archive::is_archive_name(&lower) {
        return archive::locate_in_archive(path);
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let (format, model_path, params_path) = match model_role(&lower) {
        Some(Role::Model(f)) => (f, path.to_path_buf(), path.with_extension("pdiparams")),
        Some(Role::Params) => {
            let legacy = path.with_extension("pdmodel");
            let pir = path.with_extension("json");
            if pir.is_file() {
                (Format::Pir, pir, path.to_path_buf())
            } else if legacy.is_file() {
                (Format::Legacy, legacy, path.to_path_buf())
            } else {
                return Err(Error::file(
                    path,
                    format!(
                        "no {} or {} next to this parameter file",
                        file_name(&legacy),
                        file_name(&pir)
                    ),
                ));
            }
        }
        None => {
            return Err(Error::file(
                path,
                "not a Paddle model file (.pdmodel, .json, .pdiparams) or archive",
            ))
        }
    };
    let model = read(&model_path, "model")?;
    if !params_path.is_file() {
        return Err(Error::file(
            &model_path,
            format!(
                "missing parameter file {} (the weights are in that file)",
                params_path.display()
            ),
        ));
    }
    Ok(ModelFiles {
        format,
        model,
        params: read(&params_path, "parameters")?,
        model_path,
        params_path,
        name: dir_name(parent),
    })
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn picks_the_model_of_a_directory() {
        let p = pick(&names(&[
            "inference.pdmodel",
            "inference.pdiparams",
            "inference.pdiparams.info",
        ]))
        .unwrap();
        assert_eq!(
            p,
            (
                Format::Legacy,
                "inference.pdmodel".into(),
                "inference.pdiparams".into()
            )
        );
        let p = pick(&names(&[
            "inference.json",
            "inference.pdiparams",
            "inference.yml",
            "inference.pdmodel",
        ]))
        .unwrap();
        assert_eq!(p.0, Format::Pir);
        let p = pick(&names(&["model.pdmodel", "model.pdiparams", "config.json"])).unwrap();
        assert_eq!(
            p,
            (
                Format::Legacy,
                "model.pdmodel".into(),
                "model.pdiparams".into()
            )
        );
        assert!(pick(&names(&["inference.pdmodel"]))
            .unwrap_err()
            .contains("no inference.pdiparams"));
        assert!(pick(&names(&["inference.pdiparams"]))
            .unwrap_err()
            .contains("no inference.pdmodel"));
        assert!(pick(&names(&[
            "a.pdmodel",
            "a.pdiparams",
            "b.json",
            "b.pdiparams"
        ]))
        .unwrap_err()
        .contains("several"));
        assert!(pick(&names(&["readme.txt"]))
            .unwrap_err()
            .contains("no Paddle inference model"));
    }
}
