//! `pplcnet-codegen`: compiles an exported PP-LCNet-family model into straight-line Rust at build time.
//!
//! Pipeline, one module per step: [`load`] (file -> [`ir::Graph`]) -> [`passes`] (BatchNorm folding,
//! re-parameterized branch fusion, normalization folding, epilogue fusion) -> [`plan`] (static workspace
//! offsets) -> [`pack`] (weights in kernel order) -> [`emit`] (Rust source + weight blob).
//! [`interpret`] is a scalar reference interpreter of the IR used to check the passes.
//!
//! ```no_run
//! // build.rs of a crate that depends on `pplcnet` (for its kernels):
//! let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
//! let model = pplcnet_codegen::Compiler::new("model.onnx").runtime_path("::pplcnet");
//! if let Err(e) = model.compile_to(&out, "my_model") {
//!     panic!("{e}");
//! }
//! // then in the crate: mod my_model { include!(concat!(env!("OUT_DIR"), "/my_model.rs")); }
//! ```

pub mod emit;
pub mod error;
pub mod interpret;
pub mod ir;
pub mod load;
pub mod pack;
pub mod passes;
pub mod plan;

use std::path::{Path, PathBuf};

pub use error::{Error, Result};

/// The image the model takes and how PaddleClas normalizes it before the network:
/// `(pixel * scale - mean[c]) / std[c]`, RGB order.
#[derive(Debug, Clone, PartialEq)]
pub struct InputSpec {
    /// Used when the graph's input height is dynamic.
    pub height: usize,
    /// Used when the graph's input width is dynamic.
    pub width: usize,
    pub scale: f32,
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

impl Default for InputSpec {
    /// PaddleClas's deploy pipeline (`inference_cls.yaml`): 224x224, scale 0.00392157, ImageNet mean/std.
    fn default() -> Self {
        InputSpec {
            height: 224,
            width: 224,
            scale: 0.003_921_57,
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
        }
    }
}

/// Compiles one model into a Rust module.
#[derive(Debug, Clone)]
pub struct Compiler {
    model: PathBuf,
    input: InputSpec,
    runtime: String,
    labels: Option<Vec<String>>,
    seeded_default: bool,
}

/// What [`Compiler::compile_to`] wrote.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The Rust module (`include!` it).
    pub code_path: PathBuf,
    /// The weight blob the module embeds.
    pub weights_path: PathBuf,
    /// One line per kernel call.
    pub layers: Vec<String>,
    pub num_classes: usize,
    pub workspace_bytes: usize,
}

impl Compiler {
    /// A compiler for the model at `model`: an `.onnx` file; a Paddle inference directory holding
    /// `inference.pdmodel` (legacy) or `inference.json` (PIR) with `inference.pdiparams`, or one of those
    /// files; or a `.tar` / `.tar.gz` / `.tgz` of such a directory (e.g. PaddleClas's `*_infer.tar`).
    pub fn new(model: impl Into<PathBuf>) -> Self {
        Compiler {
            model: model.into(),
            input: InputSpec::default(),
            runtime: "::pplcnet".into(),
            labels: None,
            seeded_default: false,
        }
    }

    /// Input size (for dynamic graphs) and normalization.
    pub fn input(mut self, spec: InputSpec) -> Self {
        self.input = spec;
        self
    }

    /// Path of the runtime crate in generated code (`crate` when compiling into pplcnet itself).
    pub fn runtime_path(mut self, path: &str) -> Self {
        self.runtime = path.to_string();
        self
    }

    /// Class names (one per output); numbered names are used when not given.
    pub fn labels(mut self, labels: Vec<String>) -> Self {
        self.labels = Some(labels);
        self
    }

    /// Marks the model as the crate's seeded stand-in (reported by `MODEL.seeded_default`).
    pub fn seeded_default(mut self, yes: bool) -> Self {
        self.seeded_default = yes;
        self
    }

    /// Loads and optimizes the model, returning the IR that would be emitted.
    pub fn optimized_graph(&self) -> Result<ir::Graph> {
        let mut g = load::load_model(&self.model, &self.input)?;
        passes::optimize(&mut g);
        Ok(g)
    }

    /// Writes `<module>.rs` and `<module>_weights.bin` into `out_dir`.
    pub fn compile_to(&self, out_dir: &Path, module: &str) -> Result<Compiled> {
        let mut g = load::load_model(&self.model, &self.input)?;
        let (params, macs) = (g.parameter_count(), g.mac_count());
        let probabilities = matches!(g.nodes.iter().find(|n| n.output == g.output).map(|n| &n.op), Some(ir::Op::Softmax));
        passes::optimize(&mut g);
        let plan = plan::plan(&g)?;
        let num_classes = g.values[g.output].numel();
        let labels = match &self.labels {
            Some(l) => l.clone(),
            None => (0..num_classes).map(|i| format!("class {i}")).collect(),
        };
        let weights_path = out_dir.join(format!("{module}_weights.bin"));
        let code_path = out_dir.join(format!("{module}.rs"));
        let weights_str = weights_path
            .to_str()
            .ok_or_else(|| Error::file(&weights_path, "OUT_DIR is not valid UTF-8"))?;
        let info = emit::ModuleInfo {
            runtime: &self.runtime,
            weights_path: weights_str,
            labels: &labels,
            params,
            macs,
            output_is_probabilities: probabilities,
            seeded_default: self.seeded_default,
        };
        let emitted = emit::emit(&g, &plan, &info)?;
        write_if_changed(&weights_path, &emitted.weights)?;
        write_if_changed(&code_path, emitted.code.as_bytes())?;
        Ok(Compiled {
            code_path,
            weights_path,
            layers: emitted.layers,
            num_classes,
            workspace_bytes: plan.workspace_len * 4,
        })
    }
}

/// Writes only when the content differs, so unchanged models do not trigger recompiles.
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    std::fs::write(path, bytes).map_err(|e| Error::file(path, format!("cannot write: {e}")))
}
