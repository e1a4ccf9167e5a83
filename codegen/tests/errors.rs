//! Bad model input through the codegen API: every failure is an `Err` whose message names the file,
//! the node (name and op type) where there is one, and the reason (`corruption.rs`: nothing panics
//! on thousands of randomly corrupted models).
//!
//! The models are crafted with the loader's own protobuf messages (`crafted`).

mod crafted;
mod support;

use std::path::Path;

use crafted::*;
use pplcnet_codegen::load::onnx_proto::AttributeProto;
use pplcnet_codegen::Compiler;
use prost::Message;

/// The crafted model compiles: every error below comes from the one defect put into it.
#[test]
fn tiny_model_compiles() {
    let path = write("tiny.onnx", &tiny_model().encode_to_vec());
    let out = scratch().join("ok");
    std::fs::create_dir_all(&out).unwrap();
    let compiled = Compiler::new(&path)
        .compile_to(&out, "tiny")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(compiled.num_classes, 10);
}

#[test]
fn truncated_file() {
    let real = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/models/pplcnetv2_x0_25_c10_fused_logits.onnx");
    let bytes = std::fs::read(real).expect("committed model");
    let path = write("truncated.onnx", &bytes[..bytes.len() / 2]);
    let msg = compile_err(&path);
    assert_mentions(&msg, &["truncated.onnx", "not a valid ONNX protobuf"]);
}

#[test]
fn not_protobuf() {
    let png =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../model_assets/chelsea.png"))
            .expect("png");
    let msg = compile_err(&write("photo.onnx", &png));
    assert_mentions(&msg, &["photo.onnx", "not a valid ONNX protobuf"]);
    let msg = compile_err(&write("text.onnx", b"this is not a model\n"));
    assert_mentions(&msg, &["text.onnx", "not a valid ONNX protobuf"]);
    let msg = compile_err(&write("empty.onnx", b""));
    assert_mentions(&msg, &["empty.onnx", "no graph"]);
}

#[test]
fn unsupported_op() {
    let mut m = tiny_model();
    let g = m.graph.as_mut().unwrap();
    g.node[4] = node(
        "norm_7",
        "LayerNormalization",
        &["d"],
        "da",
        vec![int("axis", 1)],
    );
    let msg = compile_err(&write("layernorm.onnx", &m.encode_to_vec()));
    assert_mentions(
        &msg,
        &[
            "layernorm.onnx",
            "'norm_7'",
            "(LayerNormalization)",
            "unsupported operator",
        ],
    );
}

#[test]
fn dilated_conv() {
    let mut m = tiny_model();
    let g = m.graph.as_mut().unwrap();
    g.node[3].attribute.push(ints("dilations", &[2, 2]));
    let msg = compile_err(&write("dilated.onnx", &m.encode_to_vec()));
    assert_mentions(
        &msg,
        &[
            "dilated.onnx",
            "'dw'",
            "(Conv)",
            "dilations [2, 2]",
            "not supported",
        ],
    );
}

#[test]
fn wrong_input_shape() {
    for (dims, file, why) in [
        (
            [Some(1), Some(4), Some(224), Some(224)],
            "four_channels.onnx",
            "4 channels, expected 3",
        ),
        (
            [Some(2), Some(3), Some(224), Some(224)],
            "batch2.onnx",
            "batch 2",
        ),
    ] {
        let mut m = tiny_model();
        m.graph.as_mut().unwrap().input[0] = value_info("x", &dims);
        let msg = compile_err(&write(file, &m.encode_to_vec()));
        assert_mentions(&msg, &[file, "input 'x'", "unsupported shape", why]);
    }
    let mut m = tiny_model();
    m.graph.as_mut().unwrap().input[0] = value_info("x", &[Some(1), Some(3), Some(224)]);
    let msg = compile_err(&write("rank3.onnx", &m.encode_to_vec()));
    assert_mentions(&msg, &["rank3.onnx", "input 'x'", "rank 3"]);
    let mut m = tiny_model();
    m.graph.as_mut().unwrap().input[0] =
        value_info("x", &[Some(1), Some(3), Some(1 << 40), Some(224)]);
    let msg = compile_err(&write("huge.onnx", &m.encode_to_vec()));
    assert_mentions(
        &msg,
        &["huge.onnx", "input 'x'", "1099511627776x224 pixels"],
    );
}

#[test]
fn missing_initializer() {
    let mut m = tiny_model();
    let g = m.graph.as_mut().unwrap();
    g.initializer.retain(|t| t.name != "dw_w");
    let msg = compile_err(&write("missing.onnx", &m.encode_to_vec()));
    assert_mentions(
        &msg,
        &[
            "missing.onnx",
            "'dw'",
            "(Conv)",
            "'dw_w'",
            "not produced by any earlier node or initializer",
        ],
    );
}

/// Opset 18 (torch's dynamo exporter): `ReduceMean` takes its axes as an input; over H and W it is
/// the global average pool, over anything else an error naming the node. `Reshape(allowzero=1)`
/// compiles unless its target has a 0 (a zero-sized tensor).
#[test]
fn opset18_reduce_mean_and_reshape_allowzero() {
    let opset18 = |axes: &[i64], flat: &[i64]| {
        let mut m = tiny_model();
        m.opset_import[0].version = 18;
        let g = m.graph.as_mut().unwrap();
        g.initializer.push(int64_tensor("mean_axes", axes));
        g.initializer.retain(|t| t.name != "flat_shape");
        g.initializer.push(int64_tensor("flat_shape", flat));
        g.node[8] = node(
            "node_mean",
            "ReduceMean",
            &["m", "mean_axes"],
            "p2",
            vec![int("keepdims", 1)],
        );
        g.node[9].attribute.push(int("allowzero", 1));
        m
    };
    let path = write("opset18.onnx", &opset18(&[-1, -2], &[1, 8]).encode_to_vec());
    let out = scratch().join("opset18");
    std::fs::create_dir_all(&out).unwrap();
    Compiler::new(&path)
        .compile_to(&out, "opset18")
        .unwrap_or_else(|e| panic!("{e}"));
    let msg = compile_err(&write(
        "mean_c.onnx",
        &opset18(&[1], &[1, -1]).encode_to_vec(),
    ));
    assert_mentions(
        &msg,
        &[
            "mean_c.onnx",
            "'node_mean'",
            "(ReduceMean)",
            "global average over H and W",
        ],
    );
    let msg = compile_err(&write(
        "allowzero.onnx",
        &opset18(&[2, 3], &[0, -1]).encode_to_vec(),
    ));
    assert_mentions(
        &msg,
        &["allowzero.onnx", "'flatten'", "(Reshape)", "allowzero=1"],
    );
}

/// A weight whose data does not match its declared shape.
#[test]
fn short_initializer() {
    let mut m = tiny_model();
    let g = m.graph.as_mut().unwrap();
    let w = g.initializer.iter_mut().find(|t| t.name == "fc_w").unwrap();
    w.raw_data.truncate(w.raw_data.len() - 4);
    let msg = compile_err(&write("short.onnx", &m.encode_to_vec()));
    assert_mentions(
        &msg,
        &["short.onnx", "initializer 'fc_w'", "79 values", "[10, 8]"],
    );
}

/// ONNX MaxPool (PP-OCR's text direction classifier) loads with its window, and what it cannot
/// run is refused by name.
#[test]
fn max_pool_loads_and_refuses_what_it_cannot_run() {
    let with_pool = |extra: Vec<AttributeProto>| {
        let mut m = tiny_model();
        let g = m.graph.as_mut().unwrap();
        let mut attrs = vec![
            ints("kernel_shape", &[3, 3]),
            ints("strides", &[1, 1]),
            ints("pads", &[1, 1, 1, 1]),
        ];
        attrs.extend(extra);
        g.node
            .insert(3, node("mp", "MaxPool", &["sr"], "sp", attrs));
        g.node[4].input[0] = "sp".into();
        m
    };
    let path = write("maxpool.onnx", &with_pool(vec![]).encode_to_vec());
    let g = Compiler::new(&path)
        .graph()
        .unwrap_or_else(|e| panic!("{e}"));
    let pool = g
        .nodes
        .iter()
        .find_map(|n| match &n.op {
            pplcnet_codegen::ir::Op::MaxPool(p) => Some(p.clone()),
            _ => None,
        })
        .expect("a MaxPool node");
    assert_eq!(
        (pool.kernel, pool.stride, pool.pads),
        ([3, 3], [1, 1], [1, 1, 1, 1])
    );
    let out = scratch().join("maxpool");
    std::fs::create_dir_all(&out).unwrap();
    let compiled = Compiler::new(&path).compile_to(&out, "maxpool").unwrap();
    assert!(compiled.layers.iter().any(|l| l.starts_with("max_pool")));
    let msg = compile_err(&write(
        "maxpool_ceil.onnx",
        &with_pool(vec![int("ceil_mode", 1)]).encode_to_vec(),
    ));
    assert_mentions(
        &msg,
        &["maxpool_ceil.onnx", "'mp'", "(MaxPool)", "ceil_mode"],
    );
}

/// PaddleX ONNX exports carry their labels in the `character` metadata entry, one per line.
#[test]
fn labels_come_from_onnx_metadata() {
    use pplcnet_codegen::load::onnx_proto::StringStringEntryProto;
    let plain = write("no_labels.onnx", &tiny_model().encode_to_vec());
    assert_eq!(pplcnet_codegen::load::model_labels(&plain).unwrap(), None);
    let mut m = tiny_model();
    let names: Vec<String> = (0..10).map(|i| format!("class {i} name")).collect();
    m.metadata_props = vec![
        StringStringEntryProto {
            key: "other".into(),
            value: "x".into(),
        },
        StringStringEntryProto {
            key: "character".into(),
            value: names.join("\r\n") + "\n",
        },
    ];
    let path = write("labels.onnx", &m.encode_to_vec());
    assert_eq!(
        pplcnet_codegen::load::model_labels(&path).unwrap(),
        Some(names)
    );
    let bad = write("labels_bad.onnx", b"not protobuf at all");
    let e = pplcnet_codegen::load::model_labels(&bad).unwrap_err();
    assert!(e.to_string().contains("labels_bad.onnx"), "{e}");
}
