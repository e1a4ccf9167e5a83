//! The PaddleX / PaddleOCR task models (`tools/export_paddlex.py`: document and text-line
//! orientation, table classification, pedestrian and vehicle attributes, PP-OCR's MobileNetV3 text
//! direction classifier), each compiled from its Paddle PIR export and from its paddle2onnx
//! conversion with the normalisation of its `inference.yml`, against Paddle Inference (CPU, IR
//! optimizations and MKLDNN off) and onnxruntime on the five reference inputs at the model's own
//! size: max |diff| <= 1e-5 (all outputs are probabilities) and the same top-5.

use pplcnet::OutputKind;
use pplcnet_testmodels::models::PADDLEX_MODELS;
use pplcnet_testmodels::parity::{assert_close, reference_cases_hw};
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
