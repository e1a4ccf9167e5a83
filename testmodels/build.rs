//! Compiles every test model into its own module of this crate, in one build of the crate (the main
//! `pplcnet` crate embeds only one model, chosen at its build time):
//!
//! - `models.rs`: the committed ONNX test models (`tests/data/models/*.onnx`), checked against the
//!   onnxruntime references in `tests/data/reference/<stem>/` by `tests/onnx_parity.rs`.
//! - `synthetic.rs`: small graphs built here in IR with seeded random weights, one or a short chain of
//!   ops each, at odd sizes and borders. Next to each generated module go its input image
//!   (`<case>_input.u8`) and its expected output (`<case>_expected.f32`) computed by the scalar
//!   interpreter (`pplcnet_codegen::interpret`) on the graph as built, before any pass: the compiled
//!   kernels (after folding and fusion) are compared to it by `tests/kernels.rs`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use pplcnet_codegen::interpret;
use pplcnet_codegen::ir::{Activation, Conv, Graph, Op, Tensor, ValueId};
use pplcnet_codegen::ops::max_pool::MaxPool;
use pplcnet_codegen::{Bf16Isa, Compiler, InputSpec, Precision};

#[path = "build_paddlex.rs"]
mod paddlex;

/// The seeded graph builder, shared with codegen's pass tests.
#[path = "../codegen/tests/support/mod.rs"]
mod support;
use support::{GraphBuilder, Rng};

/// Stems of the committed ONNX models (files in `tests/data/models/`, references in
/// `tests/data/reference/<stem>/`).
/// The first six come from `tools/export_reference.py`, the last nine (real `torch.onnx.export`
/// graphs) from `tools/export_torch.py`, the others from `tools/export_family.py`.
const ONNX_MODELS: [&str; 31] = [
    "pplcnetv2_base_fused_logits",
    "pplcnetv2_base_unfused_logits",
    "pplcnetv2_x0_25_c10_fused_logits",
    "pplcnetv2_x0_25_c10_fused_softmax",
    "pplcnetv2_x0_25_c10_unfused_logits",
    "pplcnetv2_x0_25_c10_unfused_softmax",
    "pplcnetv2_small_fused_logits",
    "pplcnetv2_large_fused_logits",
    "pplcnet_x2_5_logits",
    "mobilenetv3_large_x1_25_logits",
    "pplcnet_x1_0_c102_logits",
    "pplcnet_x0_25_c10_logits",
    "pplcnet_x0_25_c10_opset13_softmax",
    "pplcnet_x0_25_c10_192_logits",
    "pplcnet_x0_25_c10_torchstyle_logits",
    "pplcnet_x0_25_c10_torchstyle_opset9_logits",
    "mobilenetv3_large_x0_35_c10_torchstyle_logits",
    "pplcnetv2_tiny_opset9_logits",
    "pplcnetv2_tiny_opset13_logits",
    "pplcnetv2_tiny_opset13_unfused_logits",
    "pplcnetv2_tiny_onnxslim_logits",
    "pplcnetv2_tiny_torchstyle_logits",
    "pplcnet_x0_25_c10_torch_torchscript_opset13_logits",
    "pplcnet_x0_25_c10_torch_torchscript_opset9_logits",
    "pplcnet_x0_25_c10_torch_dynamo_logits",
    "pplcnetv2_tiny_unfused_torch_torchscript_opset13_logits",
    "pplcnetv2_tiny_unfused_torch_torchscript_opset9_logits",
    "pplcnetv2_tiny_unfused_torch_dynamo_logits",
    "mobilenetv3_large_x0_35_c10_torch_torchscript_opset13_logits",
    "mobilenetv3_large_x0_35_c10_torch_torchscript_opset9_logits",
    "mobilenetv3_large_x0_35_c10_torch_dynamo_logits",
];

/// Committed ONNX models whose input H and W are dynamic, with the size they are compiled for (what
/// `PPLCNET_INPUT_SIZE` sets in pplcnet's build.rs); their references use inputs of that size.
const DYNAMIC_MODELS: [(&str, usize); 1] = [("pplcnet_x0_25_c10_dynamic_logits", 256)];

/// Paddle-format exports (`tests/data/paddle/`: a legacy `inference.pdmodel` and a PIR `inference.json`
/// directory), named after their Paddle Inference references `tests/data/reference/<stem>/`.
const PADDLE_MODELS: [(&str, &str); 4] = [
    (
        "paddle_legacy_pplcnetv2_x0_25_c10",
        "tests/data/paddle/pplcnetv2_x0_25_c10_legacy",
    ),
    (
        "paddle_pir_pplcnetv2_x0_25_c10",
        "tests/data/paddle/pplcnetv2_x0_25_c10",
    ),
    // tools/export_family.py: PP-LCNet V1 and MobileNetV3 (logits)
    (
        "paddle_pir_pplcnet_x0_25_c10",
        "tests/data/paddle/pplcnet_x0_25_c10",
    ),
    (
        "paddle_pir_mobilenetv3_large_x0_35_c10",
        "tests/data/paddle/mobilenetv3_large_x0_35_c10",
    ),
];

/// Committed ONNX models compiled a second time with `Precision::Bf16` (module `bf16_<stem>`), when
/// the target has AVX512_BF16: the base model, the narrow one (channel counts that are not
/// multiples of 16, odd K) and MobileNetV3 (squeeze-excite gates applied by pointwise convs that
/// also add a residual), checked by `tests/bf16.rs` against the same onnxruntime references.
const BF16_MODELS: [&str; 3] = [
    "pplcnetv2_base_fused_logits",
    "pplcnetv2_x0_25_c10_unfused_logits",
    "mobilenetv3_large_x0_35_c10_torchstyle_logits",
];

fn main() {
    let here =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = here
        .parent()
        .expect("testmodels/ sits in the workspace root");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=build.rs");

    let mut models = String::from("// @generated by testmodels/build.rs\n");
    let mut table =
        String::from("/// Every compiled ONNX test model.\npub static MODELS: &[Model] = &[\n");
    let sized = ONNX_MODELS
        .iter()
        .map(|&stem| (stem, None))
        .chain(DYNAMIC_MODELS.iter().map(|&(stem, px)| (stem, Some(px))));
    for (stem, px) in sized {
        let path = root.join("tests/data/models").join(format!("{stem}.onnx"));
        println!("cargo:rerun-if-changed={}", path.display());
        let mut compiler = Compiler::new(&path).runtime_path("::pplcnet");
        if let Some(px) = px {
            compiler = compiler.input(InputSpec {
                height: px,
                width: px,
                ..Default::default()
            });
        }
        add_model(compiler, &out, stem, stem, &mut models, &mut table);
    }
    models.push_str(&table);
    models.push_str("];\n");
    // The Paddle exports go through the same path as `PPLCNET_MODEL=<dir>` in pplcnet's build.rs.
    let mut table = String::from(
        "/// Every compiled Paddle-format test model.\npub static PADDLE_MODELS: &[Model] = &[\n",
    );
    for (stem, dir) in PADDLE_MODELS {
        let path = root.join(dir);
        for input in pplcnet_codegen::load::input_files(&path) {
            println!("cargo:rerun-if-changed={}", input.display());
        }
        let compiler = Compiler::new(&path).runtime_path("::pplcnet");
        add_model(compiler, &out, stem, stem, &mut models, &mut table);
    }
    models.push_str(&table);
    models.push_str("];\n");
    paddlex::compile(root, &out, &mut models);
    bf16_models(root, &out, &mut models);
    write(&out.join("models.rs"), models.as_bytes());

    let mut synthetic = String::from("// @generated by testmodels/build.rs\n");
    let mut table =
        String::from("/// Every synthetic case.\npub static CASES: &[Synthetic] = &[\n");
    for case in synthetic_cases() {
        let name = case.graph.name.clone();
        let input =
            Rng::new(case.seed ^ 0x1234_5678).bytes(case.graph.values[case.graph.input].numel());
        // The oracle: the scalar interpreter on the graph as built (no pass has run).
        let nchw = interpret::run(&case.graph, &input);
        let out_shape = case.graph.values[case.graph.output].shape.clone();
        let expected = to_channels_last(&nchw, &out_shape);
        let distinct = expected.iter().any(|&v| v != expected[0]);
        if expected.len() > 1 && !distinct {
            fail(&format!(
                "synthetic case {name}: constant expected output (a degenerate test)"
            ));
        }
        let labels = vec![String::new(); expected.len()];
        let compiler = Compiler::from_graph(case.graph)
            .runtime_path("::pplcnet")
            .labels(labels);
        if let Err(e) = compiler.compile_to(&out, &name) {
            fail(&e.to_string());
        }
        write(&out.join(format!("{name}_input.u8")), &input);
        let bytes: Vec<u8> = expected.iter().flat_map(|v| v.to_le_bytes()).collect();
        write(&out.join(format!("{name}_expected.f32")), &bytes);
        writeln!(
            synthetic,
            "pub mod {name} {{ include!(concat!(env!(\"OUT_DIR\"), \"/{name}.rs\")); }}"
        )
        .unwrap();
        writeln!(
            table,
            "    Synthetic {{ name: \"{name}\", out_shape: &{out_shape:?}, kernels: &{kernels:?}, info: &{name}::MODEL, \
             input: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{name}_input.u8\")), \
             expected: include_bytes!(concat!(env!(\"OUT_DIR\"), \"/{name}_expected.f32\")), run: runner!({name}) }},",
            kernels = case.kernels,
        )
        .unwrap();
    }
    synthetic.push_str(&table);
    synthetic.push_str("];\n");
    write(&out.join("synthetic.rs"), synthetic.as_bytes());
}

/// Appends the `BF16_MODELS` compiled with bf16 matrix products: with AVX512_BF16 (modules
/// `bf16_<stem>`, table `BF16_MODELS`, empty when the target lacks it; `tests/bf16.rs`) and with
/// the AMX kernels (modules `amx_<stem>`, table `AMX_MODELS`, on every x86_64 target since they run
/// on any CPU: the hardware where AMX is, the emulations elsewhere; `tests/amx.rs`).
fn bf16_models(root: &Path, out: &Path, models: &mut String) {
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let x86_64 = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|a| a == "x86_64");
    let dot = features.split(',').any(|f| f == "avx512bf16");
    for (prefix, table, isa, enabled) in [
        ("bf16", "BF16_MODELS", Bf16Isa::Avx512Bf16, dot),
        ("amx", "AMX_MODELS", Bf16Isa::Amx, x86_64),
    ] {
        let mut rows = format!(
            "/// The models compiled with {isa:?} bf16 kernels (empty where the target cannot run them).\n\
             pub static {table}: &[Model] = &[\n"
        );
        for stem in BF16_MODELS.iter().filter(|_| enabled) {
            let path = root.join("tests/data/models").join(format!("{stem}.onnx"));
            let module = format!("{prefix}_{stem}");
            let compiler = Compiler::new(&path)
                .runtime_path("::pplcnet")
                .precision(Precision::Bf16)
                .bf16_isa(isa);
            add_model(compiler, out, &module, stem, models, &mut rows);
        }
        models.push_str(&rows);
        models.push_str("];\n");
    }
}

/// NCHW (the IR's logical layout) -> HWC (the compiled module's layout) for 4-D values.
fn to_channels_last(x: &[f32], shape: &[usize]) -> Vec<f32> {
    let [_, c, h, w] = shape[..] else {
        return x.to_vec();
    };
    let mut out = vec![0.0; x.len()];
    for ch in 0..c {
        for p in 0..h * w {
            out[p * c + ch] = x[ch * h * w + p];
        }
    }
    out
}

/// Writes only when the content differs (no needless recompiles).
/// Compiles a test model into module `module` and lists it: its `pub mod` line in `models`, its
/// `Model` row (named `stem`) in `table`.
fn add_model(
    compiler: Compiler,
    out: &Path,
    module: &str,
    stem: &str,
    models: &mut String,
    table: &mut String,
) {
    if let Err(e) = compiler.compile_to(out, module) {
        fail(&e.to_string());
    }
    writeln!(
        models,
        "pub mod {module} {{ include!(concat!(env!(\"OUT_DIR\"), \"/{module}.rs\")); }}"
    )
    .unwrap();
    writeln!(
        table,
        "    Model {{ stem: \"{stem}\", info: &{module}::MODEL, input_len: {module}::INPUT_LEN, run: runner!({module}), run_parallel: parallel_runner!({module}) }},"
    )
    .unwrap();
}

fn write(path: &Path, bytes: &[u8]) {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return;
    }
    if let Err(e) = std::fs::write(path, bytes) {
        fail(&format!("{}: {e}", path.display()));
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("error: pplcnet-testmodels could not compile a test model\n  {msg}");
    std::process::exit(1);
}
/// One synthetic graph and the kernels its compiled form must call (so each case provably exercises
/// what it is named after, whatever fusion does).
struct Case {
    graph: Graph,
    seed: u64,
    kernels: Vec<&'static str>,
}

fn case(b: GraphBuilder, out: ValueId, kernels: &[&'static str]) -> Case {
    let seed = b.seed;
    Case {
        graph: b.finish(out),
        seed,
        kernels: kernels.to_vec(),
    }
}

const HARD_SIGMOID: Activation = Activation::HardSigmoid {
    alpha: 0.2,
    beta: 0.5,
};

/// The synthetic cases: odd sizes, channel counts that are not multiples of the SIMD width, 1x1 and
/// tiny images where every tap touches the border.
fn synthetic_cases() -> Vec<Case> {
    let mut cases = Vec::new();

    // Stem: 3x3 stride-2 conv reading u8 pixels, input normalization folded in (padding reads the pixel
    // value that normalizes to 0), BatchNorm folded, HardSwish fused.
    // (9, 41, 16): rows of 19 interior pixels, two groups of the kernel's 8 then the remainder.
    for (h, w, c) in [
        (7, 9, 16),
        (15, 15, 5),
        (33, 17, 24),
        (2, 3, 17),
        (1, 1, 3),
        (9, 41, 16),
    ] {
        let (mut b, x) = GraphBuilder::new(&format!("stem_{h}x{w}_c{c}"), h, w, true);
        let y = b.conv(x, c, 3, 2, 1);
        let y = b.bn(y);
        let y = b.act(y, Activation::HardSwish);
        cases.push(case(b, y, &["conv_u8"]));
    }
    // Raw pixels (no normalization), stride 1 and a 5x5 kernel: zero padding on u8.
    for (h, w, c, k, s) in [(13, 9, 8, 5, 2), (6, 5, 33, 3, 1)] {
        let (mut b, x) = GraphBuilder::new(&format!("stem_raw_k{k}s{s}_{h}x{w}_c{c}"), h, w, false);
        let y = b.conv(x, c, k, s, 1);
        let y = b.act(y, Activation::Relu);
        cases.push(case(b, y, &["conv_u8"]));
    }

    // Depthwise k3/k5, stride 1/2, after a 1x1 stem that makes `c` channels.
    for k in [3, 5] {
        for s in [1, 2] {
            for c in [1, 3, 17, 40, 72] {
                for (h, w) in [(1, 1), (2, 3), (7, 7), (13, 9)] {
                    let (mut b, x) =
                        GraphBuilder::new(&format!("dw_k{k}s{s}_c{c}_{h}x{w}"), h, w, true);
                    let y = b.conv(x, c, 1, 1, 1);
                    let y = b.conv(y, c, k, s, c);
                    let y = b.bn(y);
                    // ReLU zeroes half the values: keep the tiny outputs of 1 or 3 channels informative.
                    let y = b.act(
                        y,
                        if c > 3 && c % 2 == 1 {
                            Activation::Relu
                        } else {
                            Activation::HardSwish
                        },
                    );
                    cases.push(case(b, y, &["conv_u8", "dwconv"]));
                }
            }
        }
    }
    // Depthwise reading a pointwise output of 128 or 256 channels, which the memory plan stores with
    // padded pixels (`plan::PIXEL_PAD_F32`): the pointwise kernel writes and the depthwise kernel
    // reads with that pixel stride.
    for (k, s, c) in [(3, 1, 256), (5, 1, 256), (5, 2, 256), (3, 2, 128)] {
        for (h, w) in [(7, 7), (13, 9)] {
            let (mut b, x) =
                GraphBuilder::new(&format!("dw_padded_k{k}s{s}_c{c}_{h}x{w}"), h, w, true);
            let y = b.conv(x, 8, 1, 1, 1);
            let y = b.conv(y, c, 1, 1, 1);
            let y = b.act(y, Activation::Relu);
            let y = b.conv(y, c, k, s, c);
            let y = b.bn(y);
            let y = b.act(y, Activation::HardSwish);
            cases.push(case(b, y, &["conv_u8", "pwconv", "dwconv"]));
        }
    }

    // Pointwise GEMM: a chain through channel counts below, between and above the SIMD width and the
    // 32-wide panel, K above the 256-channel cache block, residual adds fused into the epilogue, at pixel
    // counts that are not multiples of the row tile.
    for (h, w) in [(1, 1), (1, 5), (7, 1), (7, 7), (197, 1)] {
        let (mut b, x) = GraphBuilder::new(&format!("pw_{h}x{w}"), h, w, true);
        let mut y = b.conv(x, 1, 1, 1, 1);
        let acts = [
            Activation::Relu,
            Activation::HardSwish,
            Activation::Identity,
        ];
        for (i, c) in [5, 17, 24, 40, 72, 130, 300, 17, 1, 5]
            .into_iter()
            .enumerate()
        {
            y = b.conv(y, c, 1, 1, 1);
            y = b.bn(y);
            y = b.act(y, acts[i % 3]);
            if c == 24 || c == 130 {
                // Residual block: y + bn(conv(y)).
                let r = b.conv(y, c, 1, 1, 1);
                let r = b.bn(r);
                y = b.binary(Op::Add, r, y);
            }
        }
        cases.push(case(b, y, &["conv_u8", "pwconv"]));
    }

    // Squeeze-and-excitation: pool, 1x1 reduce + ReLU, 1x1 expand + gate, channel scale.
    for (i, c) in [3, 17, 40, 72, 130].into_iter().enumerate() {
        for (h, w) in [(1, 1), (2, 3), (7, 7), (13, 9)] {
            let (mut b, x) = GraphBuilder::new(&format!("se_c{c}_{h}x{w}"), h, w, true);
            let x = b.conv(x, c, 1, 1, 1);
            let p = b.global_pool(x);
            let r = b.conv(p, (c / 4).max(1), 1, 1, 1);
            let r = b.act(r, Activation::Relu);
            let g = b.conv(r, c, 1, 1, 1);
            let g = b.act(
                g,
                if i % 2 == 0 {
                    Activation::Sigmoid
                } else {
                    HARD_SIGMOID
                },
            );
            let y = b.binary(Op::Mul, x, g);
            cases.push(case(b, y, &["conv_u8", "squeeze_excite"]));
        }
    }

    // Residual add after a depthwise conv (the shortcut is the depthwise input).
    for (c, h, w) in [(17, 7, 7), (40, 2, 3)] {
        let (mut b, x) = GraphBuilder::new(&format!("res_dw_c{c}_{h}x{w}"), h, w, true);
        let x = b.conv(x, c, 1, 1, 1);
        let y = b.conv(x, c, 3, 1, c);
        let y = b.bn(y);
        let y = b.binary(Op::Add, y, x);
        cases.push(case(b, y, &["conv_u8", "dwconv"]));
    }
    // Adds and a channel scale that cannot be fused into a producer (operands read twice).
    for (c, h, w) in [(17, 7, 9), (40, 2, 1), (5, 13, 9)] {
        let (mut b, x) = GraphBuilder::new(&format!("eltwise_c{c}_{h}x{w}"), h, w, true);
        let a = b.conv(x, c, 1, 1, 1);
        let p = b.conv(a, c, 1, 1, 1);
        let s = b.binary(Op::Add, a, p);
        let s = b.binary(Op::Add, s, p);
        let g = b.global_pool(s);
        let g = b.conv(g, c, 1, 1, 1);
        let g = b.act(g, Activation::Sigmoid);
        let y = b.binary(Op::Mul, s, g);
        cases.push(case(
            b,
            y,
            &[
                "conv_u8",
                "pwconv",
                "add",
                "global_avg_pool",
                "scale_channels",
            ],
        ));
    }

    // Classifier head: pool, flatten, dropout scale, fully connected + bias, optional softmax.
    for (c, h, w, n, softmax) in [
        (1, 1, 1, 2, false),
        (17, 7, 7, 10, true),
        (72, 13, 9, 17, false),
        (130, 2, 3, 1000, true),
        (300, 7, 7, 5, true),
        (40, 3, 5, 1000, false),
    ] {
        let kind = if softmax { "softmax" } else { "logits" };
        let (mut b, x) = GraphBuilder::new(&format!("head_c{c}_{h}x{w}_n{n}_{kind}"), h, w, true);
        let x = b.conv(x, c, 1, 1, 1);
        let x = b.act(x, Activation::HardSwish);
        let p = b.global_pool(x);
        let f = b.reshape(p, vec![1, c]);
        let f = b.mul_const(f, Tensor::new(vec![1], vec![0.8]));
        let y = b.matmul(f, n);
        let bias = b.rng.vec(n, -1.0, 1.0);
        let mut y = b.add_const(y, Tensor::new(vec![n], bias));
        let mut kernels = vec!["conv_u8", "global_avg_pool", "fully_connected"];
        if softmax {
            y = b.softmax(y);
            kernels.push("softmax");
        }
        cases.push(case(b, y, &kernels));
    }
    // An attribute head (PaddleX pedestrian attributes: 26 sigmoid outputs): MODEL.output says
    // multi-label.
    {
        let (mut b, x) = GraphBuilder::new("head_multilabel_c26", 9, 7, true);
        let y = b.conv(x, 24, 3, 2, 1);
        let y = b.global_pool(y);
        let y = b.reshape(y, vec![1, 24]);
        let y = b.matmul(y, 26);
        let y = b.act(y, Activation::Sigmoid);
        cases.push(case(b, y, &["fully_connected"]));
    }
    // PP-OCR's text direction classifier: MaxPool after the stem, and (2, 1) strides in the stem and
    // in depthwise convs (issue 19). Odd channel counts, windows over the padded border.
    for (k, st, p, c, h, w) in [
        ([3, 3], [2, 2], 1, 20, 15, 17),
        ([2, 2], [2, 2], 0, 16, 8, 12),
        ([2, 1], [2, 1], 0, 7, 9, 6),
        ([3, 3], [1, 1], 1, 33, 5, 4),
    ] {
        let (mut b, x) = GraphBuilder::new(
            &format!(
                "maxpool_k{}x{}s{}x{}p{p}_c{c}_{h}x{w}",
                k[0], k[1], st[0], st[1]
            ),
            h,
            w,
            true,
        );
        let y = b.conv(x, c, 1, 1, 1);
        let pool = MaxPool {
            kernel: k,
            stride: st,
            pads: [p; 4],
        };
        let shape = pool.out_shape(&b.shape(y)).expect("the window fits");
        let y = b.push("maxpool", Op::MaxPool(pool), vec![y], shape);
        cases.push(case(b, y, &["max_pool"]));
    }
    for (c, h, w, k) in [(16, 12, 20, 3), (24, 9, 13, 3), (17, 8, 7, 5)] {
        let (mut b, x) = GraphBuilder::new(&format!("stride2x1_c{c}_{h}x{w}_k{k}"), h, w, true);
        let y = asymmetric_conv(&mut b, x, c, 3, 1);
        let y = b.act(y, Activation::HardSwish);
        let y = asymmetric_conv(&mut b, y, c, k, c);
        let y = b.act(y, Activation::Relu);
        cases.push(case(b, y, &["conv_u8", "dwconv"]));
    }
    cases
}

/// A `k x k` conv of stride (2, 1) with centred padding (PP-OCR's text classifiers downsample
/// height only).
fn asymmetric_conv(
    b: &mut GraphBuilder,
    x: ValueId,
    cout: usize,
    k: usize,
    groups: usize,
) -> ValueId {
    let s = b.shape(x);
    let cin = s[1];
    let weight = b.weights(vec![cout, cin / groups, k, k], cin / groups * k * k);
    let p = (k - 1) / 2;
    let shape = vec![1, cout, (s[2] + 2 * p - k) / 2 + 1, s[3] + 2 * p - k + 1];
    let conv = Conv {
        weight,
        bias: Some(vec![0.1; cout]),
        stride: [2, 1],
        pads: [p; 4],
        groups,
        pad_value: None,
        act: Activation::Identity,
        residual: false,
        input_scale: false,
    };
    b.push("conv_2x1", Op::Conv(conv), vec![x], shape)
}
