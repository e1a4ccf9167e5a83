//! The PaddleX / PaddleOCR task models (`tools/export_paddlex.py`: document and text-line
//! orientation, table classification, pedestrian and vehicle attributes, PP-OCR's MobileNetV3 text
//! direction classifier), each compiled from its Paddle PIR export and from its paddle2onnx
//! conversion with the normalisation of its `inference.yml`, against Paddle Inference (CPU, IR
//! optimizations and MKLDNN off) and onnxruntime on the five reference inputs at the model's own
//! size: max |diff| <= 1e-5 (all outputs are probabilities) and the same top-5.

use pplcnet::preprocess::{load_image, Pipeline};
use pplcnet::OutputKind;
use pplcnet_testmodels::models::{PADDLEX_MODELS, PADDLEX_PREPROCESSING};
use pplcnet_testmodels::parity::{assert_close, data_dir, reference_cases_hw};
use pplcnet_testmodels::Model;

/// Probabilities (softmax or sigmoid outputs).
const TOLERANCE: f32 = 1e-5;

fn model(stem: &str) -> &'static Model {
    PADDLEX_MODELS
        .iter()
        .find(|m| m.stem == stem)
        .expect("model compiled by build.rs")
}

/// Both compilations of `name` (height x width input) against their references, and against
/// each other.
fn check(name: &str, height: usize, width: usize, kind: OutputKind) {
    for stem in [format!("paddlex_{name}"), format!("paddlex_{name}_onnx")] {
        let m = model(&stem);
        assert_eq!(m.info.output, kind, "{stem}: output kind");
        assert_eq!(m.input_len, height * width * 3, "{stem}: input size");
        let cases = reference_cases_hw(&stem, height, width);
        assert_eq!(cases.len(), 5, "{stem}: reference inputs");
        for case in &cases {
            let got = (m.run)(&case.input);
            assert_close(
                &format!("{stem}/{}", case.name),
                &got,
                &case.expected,
                TOLERANCE,
            );
        }
    }
}

#[test]
fn every_paddlex_model_is_tested() {
    assert_eq!(PADDLEX_MODELS.len(), 12);
}

#[test]
fn doc_ori() {
    check("pplcnet_doc_ori", 224, 224, OutputKind::Probabilities);
}

/// PaddleX's textline config: `stride_list [2, [2,1], [2,1], [2,1], [2,1]]`, 80x160.
#[test]
fn textline_ori() {
    check("pplcnet_textline_ori", 80, 160, OutputKind::Probabilities);
}

#[test]
fn table_cls() {
    check("pplcnet_table_cls", 224, 224, OutputKind::Probabilities);
}

/// 26 sigmoid outputs, 256x192 (height x width).
#[test]
fn pedestrian_attribute() {
    check(
        "pplcnet_pedestrian_attribute",
        256,
        192,
        OutputKind::MultiLabel,
    );
}

/// 19 sigmoid outputs, 192x256.
#[test]
fn vehicle_attribute() {
    check(
        "pplcnet_vehicle_attribute",
        192,
        256,
        OutputKind::MultiLabel,
    );
}

/// MaxPool, depthwise strides (2, 1), mean 0.5 / std 0.5, 48x192.
#[test]
fn ppocr_mobilenetv3_cls() {
    check("ppocr_mobilenetv3_cls", 48, 192, OutputKind::Probabilities);
}

/// Whole image files, as `pplcnet predict` handles them: decoded, prepared with the preprocessing
/// of the model's inference.yml (`PADDLEX_PREPROCESSING`, made as pplcnet's build.rs makes
/// `pplcnet::PREPROCESSING`) and classified, against Paddle Inference on the same files prepared
/// by OpenCV (`tools/export_paddlex.py`, `tests/data/reference/paddlex_<name>_images/`).
#[test]
fn image_files_through_the_models_own_preprocessing() {
    let sizes = [
        ("pplcnet_doc_ori", 224, 224),
        ("pplcnet_textline_ori", 80, 160),
        ("pplcnet_table_cls", 224, 224),
        ("pplcnet_pedestrian_attribute", 256, 192),
        ("pplcnet_vehicle_attribute", 192, 256),
        ("ppocr_mobilenetv3_cls", 48, 192),
    ];
    assert_eq!(PADDLEX_PREPROCESSING.len(), sizes.len());
    for (name, height, width) in sizes {
        let (_, preprocessing) = PADDLEX_PREPROCESSING
            .iter()
            .find(|(n, _)| *n == name)
            .expect("preprocessing of every task model");
        let pipeline = Pipeline {
            preprocessing: *preprocessing,
            height,
            width,
            allow_upscale: true,
        };
        let refs = data_dir().join(format!("reference/paddlex_{name}_images"));
        let mut n = 0;
        for entry in std::fs::read_dir(&refs).expect("image references") {
            let path = entry.expect("entry").path();
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let img = load_image(&data_dir().join(format!("preprocess/{stem}.png"))).unwrap();
            let mut input = vec![0u8; pipeline.output_len()];
            pipeline.run_into(&img, &mut input).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            let want: Vec<f32> = bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            for stem_m in [format!("paddlex_{name}"), format!("paddlex_{name}_onnx")] {
                let got = (model(&stem_m).run)(&input);
                assert_close(&format!("{stem_m}/{stem}.png"), &got, &want, TOLERANCE);
            }
            n += 1;
        }
        assert_eq!(n, 3, "{name}: images");
    }
}

/// No standalone activation, multiply or add after fusion (as the other test models).
#[test]
fn every_paddlex_model_fuses_fully() {
    for m in PADDLEX_MODELS {
        let kernels: Vec<_> = m.info.layers.iter().map(|l| l.kernel).collect();
        for k in ["activation", "mul", "add", "scale_channels"] {
            assert!(
                !kernels.contains(&k),
                "{}: standalone {k}: {kernels:?}",
                m.stem
            );
        }
    }
}
