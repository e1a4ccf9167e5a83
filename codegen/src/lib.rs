//! `pplcnet-codegen`: compiles an exported PP-LCNet-family model into straight-line Rust at build time.
//!
//! Pipeline, one module per step: [`load`] (file -> [`ir::Graph`]) -> [`passes`] (BatchNorm folding,
//! re-parameterized branch fusion, normalization folding, epilogue fusion) -> [`plan`] (static workspace
//! offsets) -> [`pack`] (weights in kernel order) -> [`emit`] (Rust source + weight blob; with
//! [`band`], row-banded schedules for the first layers).
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

pub mod band;
pub mod emit;
pub mod error;
pub mod interpret;
pub mod ir;
pub mod load;
pub mod ops;
pub mod pack;
pub mod passes;
pub mod plan;
pub mod variants;

use std::path::{Path, PathBuf};

pub use error::{Error, Result};
pub use variants::Bf16Isa;

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
    model: Source,
    input: InputSpec,
    runtime: String,
    labels: Option<Vec<String>>,
    seeded_default: bool,
    precision: Precision,
    bf16_isa: Bf16Isa,
    l2_bytes: Option<usize>,
}

/// The arithmetic of the matrix products (defined in `pplcnet-spec`, shared with the runtime).
pub use pplcnet_spec::Precision;

/// Where a [`Compiler`] gets its graph.
#[derive(Debug, Clone)]
enum Source {
    /// A model file (or Paddle directory / archive), read by [`load::load_model`].
    File(PathBuf),
    /// A graph built in memory (e.g. a synthetic test graph), as a loader would have produced it.
    Graph(Box<ir::Graph>),
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
        Self::with_source(Source::File(model.into()))
    }

    /// A compiler for a graph built in memory instead of read from a file: the same passes, plan and
    /// emission run on it. The graph must look like a loader's output: node 0 is [`ir::Op::Input`] over a
    /// `[1, 3, H, W]` raw-pixel value, nodes in execution order, every shape set (see [`ir`]).
    /// [`Compiler::input`] does not apply (the graph already fixes its input size and normalization).
    ///
    /// ```no_run
    /// # fn graph() -> pplcnet_codegen::ir::Graph { unimplemented!() }
    /// let out = std::path::PathBuf::from(std::env::var("OUT_DIR").unwrap());
    /// pplcnet_codegen::Compiler::from_graph(graph()).compile_to(&out, "synthetic").unwrap();
    /// ```
    pub fn from_graph(graph: ir::Graph) -> Self {
        Self::with_source(Source::Graph(Box::new(graph)))
    }

    fn with_source(model: Source) -> Self {
        Compiler {
            model,
            input: InputSpec::default(),
            runtime: "::pplcnet".into(),
            labels: None,
            seeded_default: false,
            precision: Precision::F32,
            bf16_isa: Bf16Isa::default(),
            l2_bytes: None,
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

    /// The arithmetic of the pointwise convolutions (default [`Precision::F32`]).
    pub fn precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    /// The instructions of the bf16 matrix products (default [`Bf16Isa::Avx512Bf16`]); ignored in
    /// f32.
    pub fn bf16_isa(mut self, isa: Bf16Isa) -> Self {
        self.bf16_isa = isa;
        self
    }

    /// The L2 cache per core, in bytes, of the CPU the code will run on (default: unknown). With
    /// less than 1 MiB, pointwise convs do not prefetch later layers' weights (they would evict
    /// their own; see `emit::prefetch`).
    pub fn l2_cache(mut self, bytes: Option<usize>) -> Self {
        self.l2_bytes = bytes;
        self
    }

    /// The precision and instruction set the matrix products compile to, and the cache they run
    /// with.
    pub fn target(&self) -> variants::Target {
        variants::Target {
            precision: self.precision,
            bf16_isa: self.bf16_isa,
            l2_bytes: self.l2_bytes,
        }
    }

    /// Loads the model into the IR, before any pass.
    pub fn graph(&self) -> Result<ir::Graph> {
        match &self.model {
            Source::File(path) => load::load_model(path, &self.input),
            Source::Graph(g) => Ok(g.as_ref().clone()),
        }
    }

    /// Loads and optimizes the model, returning the IR that would be emitted.
    pub fn optimized_graph(&self) -> Result<ir::Graph> {
        let mut g = self.graph()?;
        passes::optimize(&mut g);
        Ok(g)
    }

    /// Writes `<module>.rs` and `<module>_weights.bin` into `out_dir`.
    pub fn compile_to(&self, out_dir: &Path, module: &str) -> Result<Compiled> {
        let weights_path = out_dir.join(format!("{module}_weights.bin"));
        let code_path = out_dir.join(format!("{module}.rs"));
        let weights_str = weights_path
            .to_str()
            .ok_or_else(|| Error::file(&weights_path, "OUT_DIR is not valid UTF-8"))?;
        let (emitted, num_classes, workspace_bytes) = self.emit(weights_str)?;
        write_if_changed(&weights_path, &emitted.weights)?;
        write_if_changed(&code_path, emitted.code.as_bytes())?;
        Ok(Compiled {
            code_path,
            weights_path,
            layers: emitted.layers,
            num_classes,
            workspace_bytes,
        })
    }

    /// Everything [`Compiler::compile_to`] does except writing the files: the module's source and
    /// weight blob in memory (the source embeds `weights_path`). Used by the fuzz targets.
    #[doc(hidden)]
    pub fn compile_in_memory(&self, weights_path: &str) -> Result<emit::Emitted> {
        self.emit(weights_path).map(|(e, _, _)| e)
    }

    /// Load, passes, plan and emission; returns the module, the number of classes and the workspace bytes.
    fn emit(&self, weights_str: &str) -> Result<(emit::Emitted, usize, usize)> {
        let mut g = self.graph()?;
        let (params, macs) = (g.parameter_count(), g.mac_count());
        let last = g.nodes.iter().find(|n| n.output == g.output).map(|n| &n.op);
        let probabilities = matches!(last, Some(ir::Op::Softmax));
        // Attribute heads (PaddleX pedestrian / vehicle attributes) end in a sigmoid per class.
        let multilabel = matches!(last, Some(ir::Op::Act(ir::Activation::Sigmoid)));
        passes::optimize(&mut g);
        // Variants that scale their inputs on the fly take squeeze-excite gates.
        let gemm = variants::gemm_variant(self.target(), 0);
        if gemm.input_scale {
            passes::fuse_se_scale_into_pointwise(&mut g, gemm.max_k);
        }
        let plan = plan::plan(&g)?;
        let num_classes = g.values[g.output].numel();
        let labels = match &self.labels {
            Some(l) => l.clone(),
            None => (0..num_classes).map(|i| format!("class {i}")).collect(),
        };
        let info = emit::ModuleInfo {
            runtime: &self.runtime,
            weights_path: weights_str,
            labels: &labels,
            params,
            macs,
            output_is_probabilities: probabilities,
            output_is_multilabel: multilabel,
            seeded_default: self.seeded_default,
            target: self.target(),
        };
        let emitted = emit::emit(&g, &plan, &info)?;
        Ok((emitted, num_classes, plan.workspace_len * 4))
    }
}

/// Writes only when the content differs, so unchanged models do not trigger recompiles.
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    std::fs::write(path, bytes).map_err(|e| Error::file(path, format!("cannot write: {e}")))
}
