//! ONNX models crafted with the loader's own protobuf messages (`load::onnx_proto`), and the
//! helpers the error and corruption tests share.

#![allow(dead_code)] // each test binary uses its own share

use std::path::{Path, PathBuf};

use pplcnet_codegen::load::onnx_proto::{
    data_type, AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    TensorProto, TensorShapeProto, TypeProto, TypeProtoTensor, ValueInfoProto,
};
use pplcnet_codegen::Compiler;

use super::support::Rng;
/// A scratch directory for this test binary.
pub fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("codegen-{}", env!("CARGO_CRATE_NAME")));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

pub fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch().join(name);
    std::fs::write(&path, bytes).expect("write model");
    path
}

/// Loads, optimizes and emits `path`; returns the error message.
pub fn compile_err(path: &Path) -> String {
    let out = scratch().join("out");
    std::fs::create_dir_all(&out).expect("out dir");
    match Compiler::new(path).compile_to(&out, "m") {
        Ok(_) => panic!("{}: compiled, but should have failed", path.display()),
        Err(e) => e.to_string(),
    }
}

pub fn assert_mentions(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(
            msg.contains(p),
            "error message does not mention {p:?}:\n  {msg}"
        );
    }
}

pub fn float_tensor(name: &str, dims: &[i64], rng: &mut Rng) -> TensorProto {
    let n: i64 = dims.iter().product();
    let data = rng.vec(n as usize, -0.5, 0.5);
    TensorProto {
        dims: dims.to_vec(),
        data_type: data_type::FLOAT,
        name: name.into(),
        raw_data: data.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

pub fn int64_tensor(name: &str, data: &[i64]) -> TensorProto {
    TensorProto {
        dims: vec![data.len() as i64],
        data_type: data_type::INT64,
        name: name.into(),
        int64_data: data.to_vec(),
        ..Default::default()
    }
}

pub fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        ints: v.to_vec(),
        r#type: 7,
        ..Default::default()
    }
}

pub fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i: v,
        r#type: 2,
        ..Default::default()
    }
}

pub fn node(
    name: &str,
    op: &str,
    inputs: &[&str],
    output: &str,
    attribute: Vec<AttributeProto>,
) -> NodeProto {
    NodeProto {
        input: inputs.iter().map(|s| s.to_string()).collect(),
        output: vec![output.into()],
        name: name.into(),
        op_type: op.into(),
        attribute,
        ..Default::default()
    }
}

pub fn value_info(name: &str, dims: &[Option<i64>]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|&d| Dimension {
            dim_value: d,
            dim_param: d.is_none().then(|| "N".into()),
        })
        .collect();
    ValueInfoProto {
        name: name.into(),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeProtoTensor {
                elem_type: data_type::FLOAT,
                shape: Some(TensorShapeProto { dim }),
            }),
        }),
    }
}

/// A small, valid classifier in the shape of a paddle2onnx export: stem conv + BN + ReLU, depthwise
/// conv, SE-style gate, pooling, flatten, Gemm, softmax; shape arithmetic for the Reshape.
pub fn tiny_model() -> ModelProto {
    let mut rng = Rng::new(7);
    let initializer = vec![
        float_tensor("stem_w", &[8, 3, 3, 3], &mut rng),
        float_tensor("bn_scale", &[8], &mut rng),
        float_tensor("bn_bias", &[8], &mut rng),
        float_tensor("bn_mean", &[8], &mut rng),
        TensorProto {
            float_data: vec![1.0; 8],
            raw_data: vec![],
            ..float_tensor("bn_var", &[8], &mut rng)
        },
        float_tensor("dw_w", &[8, 1, 3, 3], &mut rng),
        float_tensor("dw_b", &[8], &mut rng),
        float_tensor("fc_w", &[10, 8], &mut rng),
        float_tensor("fc_b", &[10], &mut rng),
        int64_tensor("flat_shape", &[1, -1]),
    ];
    let nodes = vec![
        node(
            "stem",
            "Conv",
            &["x", "stem_w"],
            "s",
            vec![ints("strides", &[2, 2]), ints("pads", &[1, 1, 1, 1])],
        ),
        node(
            "stem_bn",
            "BatchNormalization",
            &["s", "bn_scale", "bn_bias", "bn_mean", "bn_var"],
            "sb",
            vec![],
        ),
        node("stem_relu", "Relu", &["sb"], "sr", vec![]),
        node(
            "dw",
            "Conv",
            &["sr", "dw_w", "dw_b"],
            "d",
            vec![int("group", 8), ints("pads", &[1, 1, 1, 1])],
        ),
        node("dw_act", "HardSwish", &["d"], "da", vec![]),
        node("pool", "GlobalAveragePool", &["da"], "p", vec![]),
        node("gate", "Sigmoid", &["p"], "g", vec![]),
        node("scale", "Mul", &["da", "g"], "m", vec![]),
        node("pool2", "GlobalAveragePool", &["m"], "p2", vec![]),
        node("flatten", "Reshape", &["p2", "flat_shape"], "f", vec![]),
        node(
            "fc",
            "Gemm",
            &["f", "fc_w", "fc_b"],
            "logits",
            vec![int("transB", 1)],
        ),
        node(
            "softmax",
            "Softmax",
            &["logits"],
            "probs",
            vec![int("axis", 1)],
        ),
    ];
    ModelProto {
        ir_version: 7,
        producer_name: "pplcnet-codegen tests".into(),
        graph: Some(GraphProto {
            node: nodes,
            name: "tiny".into(),
            initializer,
            input: vec![value_info("x", &[None, Some(3), Some(16), Some(12)])],
            output: vec![value_info("probs", &[None, Some(10)])],
        }),
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: 11,
        }],
        ..Default::default()
    }
}
