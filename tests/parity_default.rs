//! The embedded default model against onnxruntime's outputs on the same ONNX file
//! (reference data: `tools/export_reference.py`, committed under `tests/data/`).

mod common;

#[test]
fn default_model_matches_onnxruntime() {
    if !pplcnet::MODEL.seeded_default {
        eprintln!(
            "skipped: built with PPLCNET_MODEL={}, the references are for the default model",
            pplcnet::MODEL.source
        );
        return;
    }
    let cases = common::reference_cases("pplcnetv2_base");
    assert_eq!(cases.len(), 5, "reference inputs");
    for case in &cases {
        let input: &[u8; pplcnet::INPUT_LEN] =
            case.input.as_slice().try_into().expect("input size");
        let got = pplcnet::classify(input);
        common::assert_close(&case.name, &got, &case.expected, common::TOLERANCE);
    }
}
