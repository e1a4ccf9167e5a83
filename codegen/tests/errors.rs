//! Bad model input through the codegen API: every failure is an `Err` whose message names the file,
//! the node (name and op type) where there is one, and the reason; nothing panics, including on
//! thousands of randomly corrupted models.
//!
//! The models are crafted here with the loader's own protobuf messages (`load::onnx_proto`).

mod support;

use std::path::{Path, PathBuf};

use pplcnet_codegen::load::onnx_proto::{
    data_type, AttributeProto, Dimension, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    TensorProto, TensorShapeProto, TypeProto, TypeProtoTensor, ValueInfoProto,
};
use pplcnet_codegen::Compiler;
use prost::Message;
use support::Rng;

/// A scratch directory for this test binary.
fn scratch() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("codegen-errors");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let path = scratch().join(name);
    std::fs::write(&path, bytes).expect("write model");
    path
}

/// Loads, optimizes and emits `path`; returns the error message.
fn compile_err(path: &Path) -> String {
    let out = scratch().join("out");
    std::fs::create_dir_all(&out).expect("out dir");
    match Compiler::new(path).compile_to(&out, "m") {
        Ok(_) => panic!("{}: compiled, but should have failed", path.display()),
        Err(e) => e.to_string(),
    }
}

fn assert_mentions(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(
            msg.contains(p),
            "error message does not mention {p:?}:\n  {msg}"
        );
    }
}

fn float_tensor(name: &str, dims: &[i64], rng: &mut Rng) -> TensorProto {
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

fn int64_tensor(name: &str, data: &[i64]) -> TensorProto {
    TensorProto {
        dims: vec![data.len() as i64],
        data_type: data_type::INT64,
        name: name.into(),
        int64_data: data.to_vec(),
        ..Default::default()
    }
}

fn ints(name: &str, v: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        ints: v.to_vec(),
        r#type: 7,
        ..Default::default()
    }
}

fn int(name: &str, v: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i: v,
        r#type: 2,
        ..Default::default()
    }
}

fn node(
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

fn value_info(name: &str, dims: &[Option<i64>]) -> ValueInfoProto {
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
fn tiny_model() -> ModelProto {
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

/// Runs `f`, turning a panic into `Err("<message> at <file:line>")` without printing it (panics are
/// what the corruption tests look for; other threads' panics are reported as usual).
fn catch_panic<T>(f: impl FnOnce() -> T + std::panic::UnwindSafe) -> Result<T, String> {
    use std::cell::{Cell, RefCell};
    thread_local! {
        static QUIET: Cell<bool> = const { Cell::new(false) };
        static LAST: RefCell<String> = const { RefCell::new(String::new()) };
    }
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.get() {
                let at = info.location().map(|l| l.to_string()).unwrap_or_default();
                let msg = info
                    .payload()
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                // The innermost frames in the code generator itself (the panic may be in core).
                let trace = std::backtrace::Backtrace::force_capture().to_string();
                let ours: Vec<&str> = trace
                    .lines()
                    .map(str::trim)
                    .filter(|l| l.starts_with("at ./src/"))
                    .take(3)
                    .collect();
                LAST.with_borrow_mut(|l| *l = format!("{msg} at {at} (via {})", ours.join(", ")));
            } else {
                default_hook(info);
            }
        }));
    });
    QUIET.set(true);
    let result = std::panic::catch_unwind(f);
    QUIET.set(false);
    result.map_err(|_| LAST.with_borrow(|l| l.clone()))
}

/// Truncated at many lengths and with random bytes changed, the model fails cleanly or compiles;
/// it never panics.
#[test]
fn corrupted_models_never_panic() {
    let good = tiny_model().encode_to_vec();
    let out = scratch().join("fuzz");
    std::fs::create_dir_all(&out).unwrap();
    let path = scratch().join("fuzz.onnx");
    let mut rng = Rng::new(42);
    let mut variants: Vec<Vec<u8>> = (0..good.len())
        .step_by(7)
        .map(|n| good[..n].to_vec())
        .collect();
    for _ in 0..3000 {
        let mut bytes = good.clone();
        for _ in 0..1 + rng.next() % 4 {
            let i = (rng.next() % bytes.len() as u64) as usize;
            bytes[i] = rng.next() as u8;
        }
        variants.push(bytes);
    }
    let (mut failed, mut panicked) = (0, Vec::new());
    for (i, bytes) in variants.iter().enumerate() {
        std::fs::write(&path, bytes).unwrap();
        let result = catch_panic(|| Compiler::new(&path).compile_to(&out, "fuzz").map(|_| ()));
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                failed += 1;
                assert!(
                    e.to_string().contains("fuzz.onnx"),
                    "variant {i}: message without the file: {e}"
                );
            }
            Err(msg) => panicked.push(format!("variant {i}: {msg}")),
        }
    }
    eprintln!(
        "{} corrupted variants: {failed} rejected, {} panicked",
        variants.len(),
        panicked.len()
    );
    assert!(
        failed > variants.len() / 4,
        "most corruptions must be detected"
    );
    assert!(
        panicked.is_empty(),
        "{} panics:\n{}",
        panicked.len(),
        panicked[..panicked.len().min(20)].join("\n")
    );
}

/// One random structural change to a valid model: shapes, attributes, wiring, op types, data types.
fn mutate(m: &mut ModelProto, rng: &mut Rng) {
    const OPS: [&str; 16] = [
        "Conv",
        "BatchNormalization",
        "Relu",
        "Add",
        "Mul",
        "Sub",
        "Div",
        "GlobalAveragePool",
        "Reshape",
        "Flatten",
        "Gemm",
        "MatMul",
        "Softmax",
        "Squeeze",
        "Unsqueeze",
        "Concat",
    ];
    let g = m.graph.as_mut().expect("graph");
    let pick = |rng: &mut Rng, n: usize| (rng.next() % n.max(1) as u64) as usize;
    // Mostly small sizes (-2..=9), sometimes huge ones (overflowing products).
    let small = |rng: &mut Rng| match rng.next() % 16 {
        0 => [1 << 31, 1 << 40, 1 << 62, i64::MAX, i64::MIN][(rng.next() % 5) as usize],
        _ => (rng.next() % 12) as i64 - 2,
    };
    let names: Vec<String> = g
        .node
        .iter()
        .flat_map(|n| n.input.iter().chain(&n.output).cloned())
        .collect();
    match rng.next() % 10 {
        0 => {
            // An attribute's integers.
            let n = pick(rng, g.node.len());
            if let Some(a) = g.node[n].attribute.first_mut() {
                let len = pick(rng, 6);
                a.ints = (0..len).map(|_| small(rng)).collect();
                a.i = small(rng);
            }
        }
        1 => {
            // A new attribute on a node.
            let n = pick(rng, g.node.len());
            let name = [
                "axis",
                "group",
                "strides",
                "pads",
                "kernel_shape",
                "transA",
                "axes",
                "keepdims",
            ][pick(rng, 8)];
            let len = pick(rng, 5);
            let a = AttributeProto {
                name: name.into(),
                i: small(rng),
                ints: (0..len).map(|_| small(rng)).collect(),
                ..Default::default()
            };
            g.node[n].attribute.push(a);
        }
        2 => {
            // An initializer's declared shape.
            let t = pick(rng, g.initializer.len());
            let rank = pick(rng, 5);
            g.initializer[t].dims = (0..rank).map(|_| small(rng).max(0)).collect();
        }
        3 => {
            // Rewire an input.
            let n = pick(rng, g.node.len());
            let i = pick(rng, g.node[n].input.len());
            if let Some(slot) = g.node[n].input.get_mut(i) {
                *slot = names[pick(rng, names.len())].clone();
            }
        }
        4 => {
            let n = pick(rng, g.node.len());
            g.node[n].op_type = OPS[pick(rng, OPS.len())].into();
        }
        5 => {
            let n = pick(rng, g.node.len());
            g.node.remove(n);
        }
        6 => {
            let t = pick(rng, g.initializer.len());
            g.initializer[t].data_type = [1, 6, 7, 11, 10, 0][pick(rng, 6)];
        }
        7 => {
            let dims: Vec<Option<i64>> = (0..pick(rng, 6))
                .map(|_| Some(small(rng)).filter(|&d| d != -1))
                .collect();
            g.input[0] = value_info("x", &dims);
        }
        8 => {
            // Integer constants (the Reshape target).
            for t in g
                .initializer
                .iter_mut()
                .filter(|t| t.data_type == data_type::INT64)
            {
                let len = pick(rng, 5);
                t.int64_data = (0..len).map(|_| small(rng)).collect();
                t.dims = vec![len as i64];
            }
        }
        _ => {
            // Drop or duplicate an input of a node.
            let n = pick(rng, g.node.len());
            if rng.next() % 2 == 0 {
                g.node[n].input.pop();
            } else if let Some(first) = g.node[n].input.first().cloned() {
                g.node[n].input.push(first);
            }
        }
    }
}

/// Structure-aware corruption (the byte flips above mostly hit weight data): the loader, the passes
/// and the emitter reject or compile each variant, never panic.
#[test]
fn structurally_corrupted_models_never_panic() {
    let out = scratch().join("fuzz2");
    std::fs::create_dir_all(&out).unwrap();
    let path = scratch().join("fuzz2.onnx");
    let seed = std::env::var("PPLCNET_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4242);
    let mut rng = Rng::new(seed);
    let (mut failed, mut panicked) = (0, Vec::new());
    // PPLCNET_FUZZ_ITERS=<n> runs a longer search.
    let total = std::env::var("PPLCNET_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    for i in 0..total {
        let mut m = tiny_model();
        for _ in 0..1 + rng.next() % 3 {
            mutate(&mut m, &mut rng);
        }
        std::fs::write(&path, m.encode_to_vec()).unwrap();
        let result = catch_panic(|| Compiler::new(&path).compile_to(&out, "fuzz2").map(|_| ()));
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                failed += 1;
                assert!(
                    e.to_string().contains("fuzz2.onnx"),
                    "variant {i}: message without the file: {e}"
                );
            }
            Err(msg) => panicked.push(format!("variant {i}: {msg}")),
        }
    }
    eprintln!(
        "{total} structurally corrupted variants: {failed} rejected, {} panicked",
        panicked.len()
    );
    assert!(failed > total / 4, "most corruptions must be detected");
    assert!(
        panicked.is_empty(),
        "{} panics:\n{}",
        panicked.len(),
        panicked[..panicked.len().min(20)].join("\n")
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
