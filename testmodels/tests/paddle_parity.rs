//! The Paddle-format test models (a legacy `inference.pdmodel` and a PIR `inference.json` export of the
//! same seeded PPLCNetV2 x0.25 / 10 classes), compiled by `build.rs` exactly as `PPLCNET_MODEL=<dir>`
//! would be, against Paddle Inference's outputs (`tools/export_reference.py`: CPU, IR optimizations and
//! MKLDNN off): max |diff| <= TOLERANCE and the same top-5. Both exports and their paddle2onnx ONNX
//! must give bit-identical outputs: they compile to the same code. Also PIR exports of PP-LCNet V1 and
//! MobileNetV3 (`tools/export_family.py`, logits) against Paddle Inference.

use pplcnet::OutputKind;
use pplcnet_testmodels::models::{MODELS, PADDLE_MODELS};
use pplcnet_testmodels::parity::{assert_close, reference_cases, TOLERANCE};
use pplcnet_testmodels::Model;

fn model(stem: &str) -> &'static Model {
    PADDLE_MODELS
        .iter()
        .chain(MODELS)
        .find(|m| m.stem == stem)
        .expect("model compiled by build.rs")
}

fn check(stem: &str) {
    check_kind(stem, OutputKind::Probabilities);
}

fn check_kind(stem: &str, kind: OutputKind) {
    let m = model(stem);
    assert_eq!(m.info.output, kind, "{stem}: output kind");
    let cases = reference_cases(stem);
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

#[test]
fn every_paddle_model_is_tested() {
    assert_eq!(PADDLE_MODELS.len(), 4);
}

/// PP-LCNet V1 (`hard_swish`, SE with `hardsigmoid`, 5x5 depthwise) from `tools/export_family.py`.
#[test]
fn v1_pir_matches_paddle_inference() {
    check_kind("paddle_pir_pplcnet_x0_25_c10", OutputKind::Logits);
}

/// MobileNetV3 (legacy `BatchNorm`, `relu`/`hard_swish`, residual adds, SE with slope-0.2
/// `hardsigmoid`) from `tools/export_family.py`.
#[test]
fn mobilenetv3_pir_matches_paddle_inference() {
    check_kind("paddle_pir_mobilenetv3_large_x0_35_c10", OutputKind::Logits);
}

/// The V1 PIR export and its paddle2onnx conversion compile to the same code.
#[test]
fn v1_pir_and_onnx_give_bit_identical_outputs() {
    let pir = model("paddle_pir_pplcnet_x0_25_c10");
    let onnx = model("pplcnet_x0_25_c10_logits");
    for case in reference_cases("paddle_pir_pplcnet_x0_25_c10") {
        let bits = |m: &Model| {
            (m.run)(&case.input)
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<u32>>()
        };
        assert_eq!(bits(pir), bits(onnx), "{}: PIR vs ONNX", case.name);
    }
}

#[test]
fn legacy_pdmodel_matches_paddle_inference() {
    check("paddle_legacy_pplcnetv2_x0_25_c10");
}

#[test]
fn pir_json_matches_paddle_inference() {
    check("paddle_pir_pplcnetv2_x0_25_c10");
}

#[test]
fn legacy_pir_and_onnx_give_bit_identical_outputs() {
    let legacy = model("paddle_legacy_pplcnetv2_x0_25_c10");
    let pir = model("paddle_pir_pplcnetv2_x0_25_c10");
    let onnx = model("pplcnetv2_x0_25_c10_fused_softmax");
    for case in reference_cases("paddle_legacy_pplcnetv2_x0_25_c10") {
        let bits = |m: &Model| {
            (m.run)(&case.input)
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<u32>>()
        };
        let want = bits(onnx);
        assert_eq!(bits(legacy), want, "{}: legacy vs ONNX", case.name);
        assert_eq!(bits(pir), want, "{}: PIR vs ONNX", case.name);
    }
}

/// As for the ONNX models: no standalone activation, multiply or add after fusion.
#[test]
fn every_paddle_model_fuses_fully() {
    for m in PADDLE_MODELS {
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
