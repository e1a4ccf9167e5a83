//! The PaddleX / PaddleOCR task models of `tools/export_paddlex.py`: each directory
//! `tests/data/paddlex/<name>/` holds a Paddle PIR export, its paddle2onnx conversion
//! `inference.onnx` and an `inference.yml`. Both formats are compiled (modules `paddlex_<name>` and
//! `paddlex_<name>_onnx`, table `PADDLEX_MODELS`) with the input size and normalisation the
//! `inference.yml` describes, as pplcnet's build.rs does, and its image preprocessing goes into
//! `PADDLEX_PREPROCESSING`; `tests/paddlex_parity.rs` checks them
//! against Paddle Inference and onnxruntime.

use std::fmt::Write as _;
use std::path::Path;

use pplcnet_codegen::load::inference_yml;
use pplcnet_codegen::{Compiler, InputSpec};

use super::fail;

/// The model directories under `tests/data/paddlex/`.
pub const PADDLEX_MODELS: [&str; 6] = [
    "pplcnet_doc_ori",
    "pplcnet_textline_ori",
    "pplcnet_table_cls",
    "pplcnet_pedestrian_attribute",
    "pplcnet_vehicle_attribute",
    "ppocr_mobilenetv3_cls",
];

/// Compiles every model of [`PADDLEX_MODELS`] in both formats and appends its modules and the
/// `PADDLEX_MODELS` table to `models`.
pub fn compile(root: &Path, out: &Path, models: &mut String) {
    let mut table = String::from(
        "/// The PaddleX / PaddleOCR task models, Paddle export then ONNX conversion of each.\n\
         pub static PADDLEX_MODELS: &[Model] = &[\n",
    );
    let mut preprocessing = String::from(
        "/// The image preprocessing each task model's inference.yml gives (as pplcnet's build.rs).\n\
         pub static PADDLEX_PREPROCESSING: &[(&str, ::pplcnet::Preprocessing)] = {\n\
         use ::pplcnet::{Preprocessing, Resize};\n&[\n",
    );
    for name in PADDLEX_MODELS {
        let dir = root.join("tests/data/paddlex").join(name);
        let yml = inference_yml::find(&dir)
            .unwrap_or_else(|| fail(&format!("{}: no inference.yml", dir.display())));
        println!("cargo:rerun-if-changed={}", yml.display());
        let yml = inference_yml::read(&yml).unwrap_or_else(|e| fail(&e.to_string()));
        let spec = yml.input_spec(InputSpec::default());
        writeln!(
            preprocessing,
            "    (\"{name}\", {}),",
            inference_yml::preprocessing_expr(Some(&yml), None, &spec)
        )
        .unwrap();
        for (stem, path) in [
            (format!("paddlex_{name}"), dir.clone()),
            (format!("paddlex_{name}_onnx"), dir.join("inference.onnx")),
        ] {
            for input in pplcnet_codegen::load::input_files(&path) {
                println!("cargo:rerun-if-changed={}", input.display());
            }
            let compiler = Compiler::new(&path)
                .runtime_path("::pplcnet")
                .input(spec.clone());
            super::add_model(compiler, out, &stem, &stem, models, &mut table);
        }
    }
    models.push_str(&table);
    models.push_str("];\n");
    models.push_str(&preprocessing);
    models.push_str("]};\n");
}
