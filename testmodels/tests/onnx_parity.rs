//! Every committed ONNX test model, compiled by `build.rs`, against onnxruntime's outputs on every
//! reference input: max |diff| <= TOLERANCE and the same top-5 (`tests/common/mod.rs`).

use pplcnet::OutputKind;
use pplcnet_testmodels::models::MODELS;
use pplcnet_testmodels::parity::{assert_close, reference_cases, TOLERANCE};

fn check(stem: &str) {
    let model = MODELS
        .iter()
        .find(|m| m.stem == stem)
        .expect("model compiled by build.rs");
    let cases = reference_cases(stem);
    assert_eq!(cases.len(), 5, "{stem}: reference inputs");
    // The output kind follows the graph (softmax or not), as recorded by the exporter in the stem.
    let kind = if stem.ends_with("_softmax") {
        OutputKind::Probabilities
    } else {
        OutputKind::Logits
    };
    assert_eq!(model.info.output, kind, "{stem}: output kind");
    for case in &cases {
        let got = (model.run)(&case.input);
        assert_eq!(
            got.len(),
            case.expected.len(),
            "{stem}/{}: classes",
            case.name
        );
        assert_close(
            &format!("{stem}/{}", case.name),
            &got,
            &case.expected,
            TOLERANCE,
        );
    }
}

#[test]
fn every_model_is_tested() {
    assert_eq!(MODELS.len(), 6);
}

#[test]
fn base_fused_logits() {
    check("pplcnetv2_base_fused_logits");
}

#[test]
fn base_unfused_logits() {
    check("pplcnetv2_base_unfused_logits");
}

#[test]
fn x0_25_c10_fused_logits() {
    check("pplcnetv2_x0_25_c10_fused_logits");
}

#[test]
fn x0_25_c10_fused_softmax() {
    check("pplcnetv2_x0_25_c10_fused_softmax");
}

#[test]
fn x0_25_c10_unfused_logits() {
    check("pplcnetv2_x0_25_c10_unfused_logits");
}

#[test]
fn x0_25_c10_unfused_softmax() {
    check("pplcnetv2_x0_25_c10_unfused_softmax");
}
