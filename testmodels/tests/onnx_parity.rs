//! Every committed ONNX test model, compiled by `build.rs`, against onnxruntime's outputs on every
//! reference input: max |diff| <= TOLERANCE and the same top-5 (`tests/common/mod.rs`). One test
//! per (model, exporter) pair: `tools/export_reference.py`, `tools/export_family.py` and
//! `tools/export_torch.py` made them. Each model's parallel path (`classify_parallel_with` on a
//! 2-thread pool) is also checked to be bit-identical to the serial one, on the first input.

use pplcnet::OutputKind;
use pplcnet_testmodels::models::MODELS;
use pplcnet_testmodels::parity::{assert_close, reference_cases_sized, TOLERANCE};

fn check(stem: &str) {
    let model = MODELS
        .iter()
        .find(|m| m.stem == stem)
        .expect("model compiled by build.rs");
    let cases = reference_cases_sized(stem, model.input_len);
    assert_eq!(cases.len(), 5, "{stem}: reference inputs");
    // The output kind follows the graph (softmax or not), as recorded by the exporter in the stem.
    let kind = if stem.ends_with("_softmax") {
        OutputKind::Probabilities
    } else {
        OutputKind::Logits
    };
    assert_eq!(model.info.output, kind, "{stem}: output kind");
    let pool = pplcnet::Parallel::new(2);
    let par = pool.with_team(|team| (model.run_parallel)(&cases[0].input, team));
    assert_eq!(
        par,
        (model.run)(&cases[0].input),
        "{stem}: parallel vs serial"
    );
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

macro_rules! parity {
    ($($test:ident: $stem:literal,)*) => {
        $(
            #[test]
            fn $test() {
                check($stem);
            }
        )*

        #[test]
        fn every_model_is_tested() {
            let tested = [$($stem),*];
            for m in MODELS {
                assert!(tested.contains(&m.stem), "{} has no parity test", m.stem);
            }
            assert_eq!(MODELS.len(), tested.len());
        }
    };
}

parity! {
    base_fused_logits: "pplcnetv2_base_fused_logits",
    base_unfused_logits: "pplcnetv2_base_unfused_logits",
    x0_25_c10_fused_logits: "pplcnetv2_x0_25_c10_fused_logits",
    x0_25_c10_fused_softmax: "pplcnetv2_x0_25_c10_fused_softmax",
    x0_25_c10_unfused_logits: "pplcnetv2_x0_25_c10_unfused_logits",
    x0_25_c10_unfused_softmax: "pplcnetv2_x0_25_c10_unfused_softmax",
    v2_small: "pplcnetv2_small_fused_logits",
    v2_large: "pplcnetv2_large_fused_logits",
    v1_x2_5: "pplcnet_x2_5_logits",
    mobilenetv3_large_x1_25: "mobilenetv3_large_x1_25_logits",
    v1_x1_0_c102: "pplcnet_x1_0_c102_logits",
    v1_x0_25_c10: "pplcnet_x0_25_c10_logits",
    v1_x0_25_c10_opset13_softmax: "pplcnet_x0_25_c10_opset13_softmax",
    v1_x0_25_c10_input_192: "pplcnet_x0_25_c10_192_logits",
    v1_x0_25_c10_dynamic_input_256: "pplcnet_x0_25_c10_dynamic_logits",
    v1_x0_25_c10_torchstyle: "pplcnet_x0_25_c10_torchstyle_logits",
    v1_x0_25_c10_torchstyle_opset9: "pplcnet_x0_25_c10_torchstyle_opset9_logits",
    mobilenetv3_x0_35_c10_torchstyle: "mobilenetv3_large_x0_35_c10_torchstyle_logits",
    v2_tiny_opset9: "pplcnetv2_tiny_opset9_logits",
    v2_tiny_opset13: "pplcnetv2_tiny_opset13_logits",
    v2_tiny_opset13_unfused: "pplcnetv2_tiny_opset13_unfused_logits",
    v2_tiny_onnxslim: "pplcnetv2_tiny_onnxslim_logits",
    v2_tiny_torchstyle: "pplcnetv2_tiny_torchstyle_logits",
    // tools/export_torch.py: real torch.onnx.export graphs
    v1_x0_25_c10_torch_torchscript_opset13: "pplcnet_x0_25_c10_torch_torchscript_opset13_logits",
    v1_x0_25_c10_torch_torchscript_opset9: "pplcnet_x0_25_c10_torch_torchscript_opset9_logits",
    v1_x0_25_c10_torch_dynamo: "pplcnet_x0_25_c10_torch_dynamo_logits",
    v2_tiny_unfused_torch_torchscript_opset13: "pplcnetv2_tiny_unfused_torch_torchscript_opset13_logits",
    v2_tiny_unfused_torch_torchscript_opset9: "pplcnetv2_tiny_unfused_torch_torchscript_opset9_logits",
    v2_tiny_unfused_torch_dynamo: "pplcnetv2_tiny_unfused_torch_dynamo_logits",
    mobilenetv3_x0_35_c10_torch_torchscript_opset13: "mobilenetv3_large_x0_35_c10_torch_torchscript_opset13_logits",
    mobilenetv3_x0_35_c10_torch_torchscript_opset9: "mobilenetv3_large_x0_35_c10_torch_torchscript_opset9_logits",
    mobilenetv3_x0_35_c10_torch_dynamo: "mobilenetv3_large_x0_35_c10_torch_dynamo_logits",
}

/// Every op of the family fuses into a convolution, squeeze-excite or classifier kernel: no
/// standalone activation (hard-swish written as `x * hard_sigmoid(x)`, torch's `clip(x + 3, 0, 6) / 6`),
/// elementwise multiply or add (residuals) pass over memory.
#[test]
fn every_model_fuses_fully() {
    for m in MODELS {
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
