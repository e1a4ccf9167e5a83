//! The Paddle front end: legacy `.pdmodel` and PIR `.json` exports (and `.tar` / `.tgz` archives of them)
//! against Paddle Inference's own outputs, bit-identical IR across legacy / PIR / ONNX exports of one
//! model, and clear errors (never panics) on corrupt inputs.
//!
//! Reference data: `tools/export_reference.py` (Paddle Inference, CPU, IR optimizations and MKLDNN off),
//! committed under `tests/data/`.

mod support;

use std::io::Write;
use std::path::{Path, PathBuf};

use pplcnet_codegen::ir::Graph;
use pplcnet_codegen::load::paddle::program_desc::ProgramDesc;
use pplcnet_codegen::{interpret, Compiler};
use prost::Message;
use support::references::{data, references};

/// Same tolerance as the crate's ONNX parity tests (tests/common/mod.rs): independent runtimes agree
/// within 4e-6..3e-5 on these models.
const TOLERANCE: f32 = 1e-4;

fn legacy_small() -> PathBuf {
    data().join("paddle/pplcnetv2_x0_25_c10_legacy")
}

fn pir_small() -> PathBuf {
    data().join("paddle/pplcnetv2_x0_25_c10")
}

fn onnx_small() -> PathBuf {
    data().join("models/pplcnetv2_x0_25_c10_fused_softmax.onnx")
}

fn graph(path: &Path) -> Graph {
    Compiler::new(path)
        .optimized_graph()
        .unwrap_or_else(|e| panic!("{e}"))
}

fn load_err(path: &Path) -> String {
    match Compiler::new(path).optimized_graph() {
        Ok(_) => panic!("{} loaded, but an error was expected", path.display()),
        Err(e) => e.to_string(),
    }
}

/// A fresh empty directory under the system temp dir (removed first if a previous run left it).
fn temp_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("pplcnet_paddle_test_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Copies the files of `src` into a new temp directory.
fn copy_dir(src: &Path, name: &str) -> PathBuf {
    let dst = temp_dir(name);
    for e in std::fs::read_dir(src).expect("read dir") {
        let p = e.expect("entry").path();
        std::fs::copy(&p, dst.join(p.file_name().expect("name"))).expect("copy");
    }
    dst
}

fn top5(v: &[f32]) -> Vec<(usize, f32)> {
    let mut idx: Vec<(usize, f32)> = v.iter().copied().enumerate().collect();
    idx.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    idx.truncate(5);
    idx
}

/// Max |got - want| <= TOLERANCE and the same top-5 classes (unless scores tie within it).
fn assert_close(what: &str, got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len(), "{what}: output length");
    let worst = got
        .iter()
        .zip(want)
        .map(|(g, w)| (g - w).abs())
        .fold(0.0f32, |a, d| if d.is_nan() { f32::NAN } else { a.max(d) });
    assert!(
        worst <= TOLERANCE,
        "{what}: max |diff| {worst:e} exceeds {TOLERANCE:e}"
    );
    let (tg, tw) = (top5(got), top5(want));
    for (a, b) in tg.iter().zip(&tw) {
        assert!(
            a.0 == b.0 || (a.1 - b.1).abs() <= TOLERANCE,
            "{what}: top-5 differs: {tg:?} vs {tw:?}"
        );
    }
    worst
}

/// Runs the optimized graph of `model` in the interpreter on every reference input of `stem`.
fn check_parity(model: &Path, stem: &str) {
    let g = graph(model);
    let mut worst = 0.0f32;
    for (name, input, want) in references(stem) {
        let got = interpret::run(&g, &input);
        worst = worst.max(assert_close(&format!("{stem}/{name}"), &got, &want));
    }
    eprintln!("{stem}: interpreter vs Paddle Inference max |diff| {worst:.2e}");
}

#[test]
fn legacy_pdmodel_matches_paddle_inference() {
    check_parity(&legacy_small(), "paddle_legacy_pplcnetv2_x0_25_c10");
}

#[test]
fn pir_json_matches_paddle_inference() {
    check_parity(&pir_small(), "paddle_pir_pplcnetv2_x0_25_c10");
}

#[test]
fn pir_json_full_size_base_matches_paddle_inference() {
    check_parity(
        &data().join("paddle/pplcnetv2_base"),
        "paddle_pir_pplcnetv2_base",
    );
}

/// The IR as text with value ids replaced by the producing node's index: ops (weights printed
/// round-trip exactly by `Debug`), wiring and shapes, but no names.
fn fingerprint(g: &Graph) -> Vec<String> {
    let producer = |v: usize| {
        g.nodes
            .iter()
            .position(|n| n.output == v)
            .map_or(usize::MAX, |i| i)
    };
    g.nodes
        .iter()
        .map(|n| {
            let inputs: Vec<usize> = n.inputs.iter().map(|&v| producer(v)).collect();
            format!("{:?} <- {inputs:?} -> {:?}", n.op, g.values[n.output].shape)
        })
        .collect()
}

fn assert_same_graph(a: &Graph, b: &Graph, what: &str) {
    let (fa, fb) = (fingerprint(a), fingerprint(b));
    assert_eq!(fa.len(), fb.len(), "{what}: node count");
    for (i, (x, y)) in fa.iter().zip(&fb).enumerate() {
        assert!(
            x == y,
            "{what}: node {i} differs ('{}' vs '{}')",
            a.nodes[i].name,
            b.nodes[i].name
        );
    }
    assert_eq!(
        producer_of_output(a),
        producer_of_output(b),
        "{what}: output"
    );
}

fn producer_of_output(g: &Graph) -> Option<usize> {
    g.nodes.iter().position(|n| n.output == g.output)
}

/// The bits of every f32 in a graph's ops, to make "bit-identical" explicit (Debug already round-trips).
fn weight_bits(g: &Graph) -> Vec<u32> {
    use pplcnet_codegen::ir::Op;
    let mut bits = Vec::new();
    let mut push = |v: &[f32]| bits.extend(v.iter().map(|x| x.to_bits()));
    for n in &g.nodes {
        match &n.op {
            Op::Conv(c) => {
                push(&c.weight.data);
                push(c.bias.as_deref().unwrap_or(&[]));
                push(c.pad_value.as_deref().unwrap_or(&[]));
            }
            Op::MatMul { weight, bias, .. } => {
                push(&weight.data);
                push(bias.as_deref().unwrap_or(&[]));
            }
            Op::SqueezeExcite(se) => {
                push(&se.w1.data);
                push(&se.b1);
                push(&se.w2.data);
                push(&se.b2);
            }
            Op::BatchNorm {
                scale,
                bias,
                mean,
                var,
                ..
            } => {
                push(scale);
                push(bias);
                push(mean);
                push(var);
            }
            Op::AddConst(t) | Op::MulConst(t) => push(&t.data),
            _ => {}
        }
    }
    bits
}

#[test]
fn legacy_pir_and_onnx_exports_compile_to_the_same_graph() {
    let legacy = graph(&legacy_small());
    let pir = graph(&pir_small());
    let onnx = graph(&onnx_small());
    assert_same_graph(&legacy, &pir, "legacy vs PIR");
    assert_same_graph(&pir, &onnx, "PIR vs ONNX");
    let bits = weight_bits(&onnx);
    assert!(bits.len() > 600_000, "weights: {}", bits.len());
    assert!(
        weight_bits(&legacy) == bits && weight_bits(&pir) == bits,
        "weights differ in some bit"
    );

    // And the emitted weight blobs are byte-identical.
    let blob = |path: &Path, name: &str| {
        let out = temp_dir(name);
        let c = Compiler::new(path)
            .compile_to(&out, "m")
            .unwrap_or_else(|e| panic!("{e}"));
        let bytes = std::fs::read(c.weights_path).expect("weights");
        let _ = std::fs::remove_dir_all(&out);
        bytes
    };
    let w = blob(&onnx_small(), "blob_onnx");
    assert!(
        blob(&legacy_small(), "blob_legacy") == w,
        "legacy weight blob differs from ONNX"
    );
    assert!(
        blob(&pir_small(), "blob_pir") == w,
        "PIR weight blob differs from ONNX"
    );
}

/// Writes a tar (gzip-compressed when `gz`) of the legacy directory as `PPLCNetV2_x0_25_infer/...`,
/// like PaddleClas's `*_infer.tar`.
fn write_archive(path: &Path, gz: bool) {
    let file = std::fs::File::create(path).expect("create archive");
    let writer: Box<dyn Write> = if gz {
        Box::new(flate2::write::GzEncoder::new(
            file,
            flate2::Compression::fast(),
        ))
    } else {
        Box::new(file)
    };
    let mut tar = tar::Builder::new(writer);
    for f in ["inference.pdmodel", "inference.pdiparams"] {
        tar.append_path_with_name(legacy_small().join(f), format!("PPLCNetV2_x0_25_infer/{f}"))
            .expect("append");
    }
    tar.into_inner()
        .expect("finish tar")
        .flush()
        .expect("flush");
}

#[test]
fn tar_and_tgz_of_the_legacy_directory_load_in_place() {
    let dir = temp_dir("archives");
    let want = fingerprint(&graph(&legacy_small()));
    for (name, gz) in [
        ("PPLCNetV2_x0_25_infer.tar", false),
        ("PPLCNetV2_x0_25_infer.tgz", true),
        ("m.tar.gz", true),
    ] {
        let path = dir.join(name);
        write_archive(&path, gz);
        let g = graph(&path);
        assert_eq!(fingerprint(&g), want, "{name}");
        assert_eq!(g.name, "PPLCNetV2_x0_25_infer");
        assert!(g
            .source
            .to_string_lossy()
            .ends_with(&format!("{name}[PPLCNetV2_x0_25_infer/inference.pdmodel]")));
    }
    // An interpreter run on the archive's graph, for good measure.
    let (_, input, want) = references("paddle_legacy_pplcnetv2_x0_25_c10").remove(0);
    assert_close(
        "tgz",
        &interpret::run(&graph(&dir.join("PPLCNetV2_x0_25_infer.tgz")), &input),
        &want,
    );

    // A corrupt archive is an error naming it.
    let bad = dir.join("broken.tgz");
    let bytes = std::fs::read(dir.join("PPLCNetV2_x0_25_infer.tgz")).expect("read");
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).expect("write");
    let e = load_err(&bad);
    assert!(e.contains("broken.tgz"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn model_files_and_build_inputs() {
    // The model or the parameter file can be named directly.
    let want = fingerprint(&graph(&legacy_small()));
    assert_eq!(
        fingerprint(&graph(&legacy_small().join("inference.pdmodel"))),
        want
    );
    assert_eq!(
        fingerprint(&graph(&legacy_small().join("inference.pdiparams"))),
        want
    );
    let files = pplcnet_codegen::load::input_files(&legacy_small());
    assert!(files.contains(&legacy_small()), "{files:?}");
    assert!(
        files.contains(&legacy_small().join("inference.pdmodel")),
        "{files:?}"
    );
    assert!(
        files.contains(&legacy_small().join("inference.pdiparams")),
        "{files:?}"
    );
    assert_eq!(
        pplcnet_codegen::load::input_files(&onnx_small()),
        vec![onnx_small()]
    );
}

#[test]
fn truncated_pdiparams_is_an_error_naming_the_record() {
    let dir = copy_dir(&legacy_small(), "truncated");
    let p = dir.join("inference.pdiparams");
    let bytes = std::fs::read(&p).expect("read");
    std::fs::write(&p, &bytes[..bytes.len() - 100]).expect("write");
    let e = load_err(&dir);
    assert!(
        e.contains("inference.pdiparams") && e.contains("truncated"),
        "{e}"
    );
    // The last record in name order.
    assert!(e.contains("record 168 of 168"), "{e}");
    // Cut inside a header too: still a clear error.
    std::fs::write(&p, &bytes[..10]).expect("write");
    let e = load_err(&dir);
    assert!(
        e.contains("inference.pdiparams")
            && e.contains("record 1 of 168")
            && e.contains("truncated"),
        "{e}"
    );
    // Extra bytes after the last record.
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0; 7]);
    std::fs::write(&p, &longer).expect("write");
    let e = load_err(&dir);
    assert!(e.contains("7 bytes follow the 168 records"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn parameters_of_another_model_are_rejected() {
    let dir = copy_dir(&pir_small(), "other_params");
    std::fs::copy(
        data().join("paddle/pplcnetv2_base/inference.pdiparams"),
        dir.join("inference.pdiparams"),
    )
    .expect("copy");
    let e = load_err(&dir);
    assert!(
        e.contains("inference.pdiparams")
            && e.contains("has dims")
            && e.contains("but the program declares"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn record_dims_disagreeing_with_the_program_are_an_error() {
    let dir = copy_dir(&legacy_small(), "dims");
    let p = dir.join("inference.pdmodel");
    let mut program =
        ProgramDesc::decode(std::fs::read(&p).expect("read").as_slice()).expect("decode");
    let var = program.blocks[0]
        .vars
        .iter_mut()
        .find(|v| v.name == "linear_0.w_0")
        .expect("fc weight var");
    let desc = var.r#type.lod_tensor.as_mut().expect("tensor");
    assert_eq!(desc.tensor.dims.len(), 2);
    desc.tensor.dims.swap(0, 1);
    std::fs::write(&p, program.encode_to_vec()).expect("write");
    let e = load_err(&dir);
    assert!(
        e.contains("inference.pdiparams") && e.contains("'linear_0.w_0'") && e.contains("has dims"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn missing_pdiparams_is_an_error() {
    let dir = copy_dir(&legacy_small(), "missing");
    std::fs::remove_file(dir.join("inference.pdiparams")).expect("rm");
    let e = load_err(&dir);
    assert!(e.contains("no inference.pdiparams"), "{e}");
    let e = load_err(&dir.join("inference.pdmodel"));
    assert!(
        e.contains("missing parameter file") && e.contains("inference.pdiparams"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pdmodel_that_is_not_protobuf_is_an_error() {
    let dir = copy_dir(&legacy_small(), "not_proto");
    std::fs::write(dir.join("inference.pdmodel"), "this is not a protobuf\n").expect("write");
    let e = load_err(&dir);
    assert!(
        e.contains("inference.pdmodel") && e.contains("not a valid ProgramDesc protobuf"),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn json_with_an_unknown_op_is_an_error_naming_it() {
    let dir = copy_dir(&pir_small(), "unknown_op");
    let p = dir.join("inference.json");
    let text = std::fs::read_to_string(&p).expect("read");
    assert!(text.contains("\"1.sigmoid\""));
    std::fs::write(&p, text.replacen("\"1.sigmoid\"", "\"1.frobnicate\"", 1)).expect("write");
    let e = load_err(&dir);
    assert!(
        e.contains("inference.json") && e.contains("unsupported operator '1.frobnicate'"),
        "{e}"
    );
    assert!(
        e.contains("SEModule"),
        "the node is named after its layer: {e}"
    );
    std::fs::write(&p, "{\"not\": \"pir\"}").expect("write");
    assert!(load_err(&dir).contains("not a Paddle PIR program"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every prefix-truncation and a sweep of byte flips of both program formats give an error or a graph,
/// never a panic.
#[test]
fn corrupt_programs_never_panic() {
    for (src, file) in [
        (legacy_small(), "inference.pdmodel"),
        (pir_small(), "inference.json"),
    ] {
        let dir = copy_dir(&src, &format!("fuzz_{file}"));
        let p = dir.join(file);
        let bytes = std::fs::read(&p).expect("read");
        let n = bytes.len();
        for cut in (0..n).step_by(n / 40 + 1) {
            std::fs::write(&p, &bytes[..cut]).expect("write");
            let _ = Compiler::new(&dir).optimized_graph();
        }
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..40 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let mut b = bytes.clone();
            b[(state % n as u64) as usize] ^= (state >> 32) as u8 | 1;
            std::fs::write(&p, &b).expect("write");
            let _ = Compiler::new(&dir).optimized_graph();
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Paddle <= 2.4 writes conv biases as `elementwise_add(X, bias[C], axis=1)` without the `reshape2`, and
/// some versions spell matmul's flags `transpose_X` / `transpose_Y`: both give the same graph.
#[test]
fn older_legacy_encodings_give_the_same_graph() {
    let dir = copy_dir(&legacy_small(), "old_encoding");
    let p = dir.join("inference.pdmodel");
    let mut program =
        ProgramDesc::decode(std::fs::read(&p).expect("read").as_slice()).expect("decode");
    let block = &mut program.blocks[0];
    let persistable: Vec<String> = block
        .vars
        .iter()
        .filter(|v| v.persistable.unwrap_or(false))
        .map(|v| v.name.clone())
        .collect();
    // reshape2(param) -> out: drop the op and make every reader of `out` read `param` with axis=1.
    let mut renames = Vec::new();
    block.ops.retain(|op| {
        let x = op
            .inputs
            .iter()
            .find(|v| v.parameter == "X")
            .and_then(|v| v.arguments.first());
        match (op.r#type.as_str(), x) {
            ("reshape2", Some(x)) if persistable.contains(x) => {
                let out = op
                    .outputs
                    .iter()
                    .find(|v| v.parameter == "Out")
                    .expect("Out")
                    .arguments[0]
                    .clone();
                renames.push((out, x.clone()));
                false
            }
            _ => true,
        }
    });
    assert_eq!(renames.len(), 20, "conv biases");
    for op in &mut block.ops {
        let mut renamed = false;
        for v in &mut op.inputs {
            for a in &mut v.arguments {
                if let Some((_, to)) = renames.iter().find(|(from, _)| from == a) {
                    *a = to.clone();
                    renamed = true;
                }
            }
        }
        if renamed {
            assert_eq!(op.r#type, "elementwise_add");
            let axis = op
                .attrs
                .iter_mut()
                .find(|a| a.name == "axis")
                .expect("axis");
            axis.i = Some(1);
        }
        if op.r#type == "matmul_v2" {
            for a in &mut op.attrs {
                a.name = a
                    .name
                    .replace("trans_x", "transpose_X")
                    .replace("trans_y", "transpose_Y");
            }
        }
    }
    std::fs::write(&p, program.encode_to_vec()).expect("write");
    assert_same_graph(
        &graph(&dir),
        &graph(&legacy_small()),
        "paddle 2.4 encoding vs 2.6",
    );
    let _ = std::fs::remove_dir_all(&dir);
}
