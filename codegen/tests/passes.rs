//! The passes preserve outputs, checked with the scalar interpreter:
//!
//! - whole committed ONNX models: the interpreter on the loaded graph matches onnxruntime (which
//!   validates the interpreter itself), and on the optimized graph matches the loaded graph;
//! - small seeded graphs built by hand for BatchNorm folding and re-parameterized branch fusion, where
//!   each pass must actually fire (the op counts change) and the outputs must not.

mod support;

use pplcnet_codegen::ir::{Activation, Graph, Op, Tensor, ValueId};
use pplcnet_codegen::load::load_model;
use pplcnet_codegen::{interpret, passes, InputSpec};
use support::references::{data, references};
use support::{GraphBuilder, Rng};

/// Same tolerance as the crate's parity tests (`tests/common/mod.rs`): independent runtimes agree
/// within 4e-6..3e-5 on these models (`tests/data/reference/manifest.json`).
const TOLERANCE: f32 = 1e-4;

/// Small graphs: the original and the rewritten graph compute the same sums with the constants
/// folded, so they differ by f32 rounding only: a few ulps of the largest terms, here bounded by
/// 1e-5 of the output's magnitude (activations are O(1) by construction).
const REL: f32 = 1e-5;

/// Max |a - b|; a NaN difference comes out as NaN, which fails every `<=` bound.
fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "lengths");
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .max_by(f32::total_cmp)
        .unwrap_or(0.0)
}

/// Class ids of the 5 largest values.
fn top5(v: &[f32]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[b].total_cmp(&v[a]).then(a.cmp(&b)));
    idx.truncate(5);
    idx
}

fn count(g: &Graph, kind: &str) -> usize {
    g.nodes.iter().filter(|n| n.op.kind() == kind).count()
}

/// Loads `stem`, optimizes it, and checks both against onnxruntime and each other on every input.
fn whole_model(stem: &str) {
    whole_model_with(stem, true);
}

/// As `whole_model`; `batch_norm`: the graph keeps BatchNorm nodes (torch.onnx.export folds them
/// into the convs in eval mode).
fn whole_model_with(stem: &str, batch_norm: bool) {
    let path = data().join("models").join(format!("{stem}.onnx"));
    let g = load_model(&path, &InputSpec::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut opt = g.clone();
    passes::optimize(&mut opt);
    // The passes fired: no BatchNorm, normalization, standalone activation or bias add is left.
    assert!(
        (count(&g, "BatchNorm") > 0) == batch_norm && count(&g, "Normalize") == 1,
        "{stem}: loaded graph"
    );
    for kind in [
        "BatchNorm",
        "Normalize",
        "Activation",
        "AddConst",
        "MulConst",
    ] {
        assert_eq!(count(&opt, kind), 0, "{stem}: {kind} left after optimize");
    }
    assert!(count(&opt, "SqueezeExcite") > 0, "{stem}: SE not fused");
    assert!(
        opt.nodes.len() < g.nodes.len() / 2,
        "{stem}: {} -> {} nodes",
        g.nodes.len(),
        opt.nodes.len()
    );

    let (mut worst_ref, mut worst_opt) = (0.0f32, 0.0f32);
    for (name, pixels, expected) in references(stem) {
        let original = interpret::run(&g, &pixels);
        let optimized = interpret::run(&opt, &pixels);
        let d_ref = max_diff(&original, &expected);
        let d_opt = max_diff(&optimized, &original);
        assert!(
            d_ref <= TOLERANCE,
            "{stem}/{name}: interpreter vs onnxruntime: {d_ref:e}"
        );
        assert!(
            d_opt <= TOLERANCE,
            "{stem}/{name}: optimized vs original graph: {d_opt:e}"
        );
        assert!(
            max_diff(&optimized, &expected) <= TOLERANCE,
            "{stem}/{name}: optimized vs onnxruntime"
        );
        assert_eq!(
            top5(&original),
            top5(&expected),
            "{stem}/{name}: interpreter top-5"
        );
        assert_eq!(
            top5(&optimized),
            top5(&original),
            "{stem}/{name}: optimized top-5"
        );
        worst_ref = worst_ref.max(d_ref);
        worst_opt = worst_opt.max(d_opt);
    }
    eprintln!(
        "{stem}: interpreter vs onnxruntime {worst_ref:.2e}, optimized vs original {worst_opt:.2e}"
    );
}

#[test]
fn x0_25_fused_logits() {
    whole_model("pplcnetv2_x0_25_c10_fused_logits");
}

#[test]
fn x0_25_fused_softmax() {
    whole_model("pplcnetv2_x0_25_c10_fused_softmax");
}

#[test]
fn x0_25_unfused_logits() {
    whole_model("pplcnetv2_x0_25_c10_unfused_logits");
}

#[test]
fn x0_25_unfused_softmax() {
    whole_model("pplcnetv2_x0_25_c10_unfused_softmax");
}

#[test]
fn base_unfused_logits() {
    whole_model("pplcnetv2_base_unfused_logits");
}

/// The other architectures and exporters (`tools/export_family.py`): paddle2onnx's hard-swish
/// `x * HardSigmoid(x)`, torch-style `clip(x + 3, 0, 6) / 6` arithmetic, Gemm, Flatten, Constant
/// nodes, MobileNetV3's residual adds and 5x5 depthwise convs all fold or fuse away.
#[test]
fn family_small_models() {
    for stem in [
        "pplcnet_x0_25_c10_logits",
        "pplcnet_x0_25_c10_torchstyle_opset9_logits",
        "mobilenetv3_large_x0_35_c10_torchstyle_logits",
        "pplcnetv2_tiny_torchstyle_logits",
    ] {
        whole_model(stem);
    }
}

/// Real `torch.onnx.export` graphs (`tools/export_torch.py`): TorchScript exporter at opset 13 and 9
/// (BatchNorm folded into conv biases, hard-swish as `HardSigmoid` + `Mul`, Gemm, Flatten, Constant
/// nodes) and the dynamo exporter (opset 20: `HardSwish`, `ReduceMean` with axes as an input,
/// Reshape, initializers), of PP-LCNet V1, the unfused PP-LCNetV2 (parallel depthwise branches)
/// and MobileNetV3 (SE gate `clamp(x + 2.5, 0, 5) / 5`).
#[test]
fn torch_exports() {
    for net in [
        "pplcnet_x0_25_c10",
        "pplcnetv2_tiny_unfused",
        "mobilenetv3_large_x0_35_c10",
    ] {
        for exporter in ["torchscript_opset13", "torchscript_opset9", "dynamo"] {
            whole_model_with(&format!("{net}_torch_{exporter}_logits"), false);
        }
    }
}

/// The bf16 build's extra pass: every squeeze-excite read only by a pointwise conv becomes a gate
/// that the conv applies to its input (PP-LCNetV2's and PP-LCNet's SE blocks, and MobileNetV3's,
/// whose convs also add a residual). The interpreter computes `x * gate` in both forms, so the
/// outputs are identical, not just close. With a channel limit below every SE's width nothing fuses.
#[test]
fn se_scale_fuses_into_pointwise_convs() {
    for stem in [
        "pplcnetv2_x0_25_c10_fused_logits",
        "pplcnet_x0_25_c10_logits",
        "mobilenetv3_large_x0_35_c10_torchstyle_logits",
    ] {
        let path = data().join("models").join(format!("{stem}.onnx"));
        let mut g = load_model(&path, &InputSpec::default()).unwrap_or_else(|e| panic!("{e}"));
        passes::optimize(&mut g);
        let ses = count(&g, "SqueezeExcite");
        assert!(ses > 0, "{stem}: no SE");
        let mut narrow = g.clone();
        assert!(!passes::fuse_se_scale_into_pointwise(&mut narrow, 4));
        assert_eq!(narrow, g, "{stem}: changed with max_k 4");
        let mut fused = g.clone();
        assert!(passes::fuse_se_scale_into_pointwise(&mut fused, 2048));
        assert_eq!(count(&fused, "SqueezeExcite"), 0, "{stem}: SE left");
        assert_eq!(count(&fused, "SqueezeGate"), ses, "{stem}: gates");
        let scaled: Vec<_> = fused
            .nodes
            .iter()
            .filter_map(|n| match &n.op {
                Op::Conv(c) if c.input_scale => Some((n, c)),
                _ => None,
            })
            .collect();
        assert_eq!(scaled.len(), ses, "{stem}: input-scaled convs");
        for (n, c) in &scaled {
            let gate = *n.inputs.last().unwrap();
            assert_eq!(fused.shape(gate), [1, c.in_channels(), 1, 1], "{}", n.name);
            assert_eq!(n.inputs.len(), 2 + usize::from(c.residual), "{}", n.name);
        }
        if stem.starts_with("mobilenetv3") {
            assert!(
                scaled.iter().any(|(_, c)| c.residual),
                "{stem}: no residual"
            );
        }
        for (name, pixels, _) in references(stem) {
            assert_eq!(
                interpret::run(&fused, &pixels),
                interpret::run(&g, &pixels),
                "{stem}/{name}"
            );
        }
    }
}

/// Branch fusion at build time reproduces PaddleClas's own `re_parameterize()`: the optimized unfused
/// export has the same ops, shapes and (up to rounding) weights as the optimized fused export.
#[test]
fn unfused_export_optimizes_to_the_fused_one() {
    let load = |stem: &str| {
        let path = data().join("models").join(format!("{stem}.onnx"));
        let mut g = load_model(&path, &InputSpec::default()).unwrap_or_else(|e| panic!("{e}"));
        passes::optimize(&mut g);
        g
    };
    let fused = load("pplcnetv2_x0_25_c10_fused_logits");
    let unfused = load("pplcnetv2_x0_25_c10_unfused_logits");
    assert_eq!(fused.nodes.len(), unfused.nodes.len(), "node count");
    let mut worst = 0.0f32;
    for (a, b) in fused.nodes.iter().zip(&unfused.nodes) {
        assert_eq!(a.op.kind(), b.op.kind(), "{} vs {}", a.name, b.name);
        assert_eq!(
            fused.shape(a.output),
            unfused.shape(b.output),
            "{} vs {}",
            a.name,
            b.name
        );
        if let (Op::Conv(x), Op::Conv(y)) = (&a.op, &b.op) {
            assert_eq!(x.weight.shape, y.weight.shape, "{}", a.name);
            assert_eq!(
                (x.stride, x.pads, x.groups, x.act, x.residual),
                (y.stride, y.pads, y.groups, y.act, y.residual)
            );
            let scale = x.weight.data.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let d = max_diff(&x.weight.data, &y.weight.data) / scale;
            assert!(
                d <= 1e-5,
                "{} vs {}: weights differ by {d:e} of their magnitude",
                a.name,
                b.name
            );
            worst = worst.max(d);
        }
    }
    eprintln!("fused vs unfused optimized weights: max |diff| / max |w| {worst:.2e}");
}

/// Runs `g` and `rewritten` on the same seeded image and checks the outputs agree within `REL`.
fn assert_same_outputs(what: &str, g: &Graph, rewritten: &Graph) {
    let n = g.values[g.input].numel();
    let pixels = Rng::new(0x5eed).bytes(n);
    let want = interpret::run(g, &pixels);
    let got = interpret::run(rewritten, &pixels);
    assert!(
        want.iter().any(|&v| v != want[0]),
        "{what}: degenerate output"
    );
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let d = max_diff(&got, &want);
    assert!(d <= REL * scale, "{what}: |diff| {d:e} > {:e}", REL * scale);
}

/// Conv -> BatchNorm pairs of every conv kind (full 3x3 stride 2, depthwise, pointwise without bias,
/// 5x5 stride 2), and two BatchNorms that must stay: one after a ReLU, one whose conv output is also
/// read elsewhere.
#[test]
fn batch_norm_folding() {
    let (mut b, x) = GraphBuilder::new("bn_folding", 11, 9, true);
    let y = b.conv(x, 8, 3, 2, 1);
    let y = b.bn(y);
    let y = b.act(y, Activation::HardSwish);
    let y = b.conv_with(y, 8, 3, 1, 8, false);
    let y = b.bn(y);
    let y = b.conv_with(y, 13, 1, 1, 1, false);
    let y = b.bn(y);
    let y = b.conv(y, 13, 5, 2, 13);
    let y = b.bn(y);
    // Must not fold: the BatchNorm reads a ReLU, not a conv.
    let y = b.act(y, Activation::Relu);
    let y = b.bn(y);
    // Must not fold: the conv output is read twice (the folded scale would change the other reader).
    let c = b.conv(y, 13, 1, 1, 1);
    let n = b.bn(c);
    let y = b.binary(Op::Add, n, c);
    let g = b.finish(y);

    let mut folded = g.clone();
    assert!(
        passes::fold_batch_norm(&mut folded),
        "the pass did not fire"
    );
    assert_eq!(count(&g, "BatchNorm"), 6);
    assert_eq!(
        count(&folded, "BatchNorm"),
        2,
        "exactly the four foldable BatchNorms go"
    );
    assert_eq!(folded.nodes.len(), g.nodes.len() - 4);
    assert_eq!(count(&folded, "Conv"), count(&g, "Conv"));
    // Every folded conv got a bias.
    assert!(folded
        .nodes
        .iter()
        .all(|n| !matches!(&n.op, Op::Conv(c) if c.bias.is_none())));
    assert_same_outputs("fold_batch_norm", &g, &folded);
    assert!(
        !passes::fold_batch_norm(&mut folded.clone()),
        "a second run changes nothing"
    );

    let mut optimized = g.clone();
    passes::optimize(&mut optimized);
    assert_same_outputs("optimize", &g, &optimized);
}

/// `bn(dw5(x)) + bn(dw3(x)) + bn(dw1(x))` (PP-LCNetV2's RepDepthwiseSeparable before
/// `re_parameterize`) and a full-conv 3x3 + 1x1 pair, at stride 1 and 2, odd sizes.
fn rep_block(name: &str, stride: usize, groups_full: bool) -> Graph {
    let c = 17;
    let (mut b, x) = GraphBuilder::new(name, 13, 9, true);
    let x = b.conv(x, c, 1, 1, 1);
    let x = b.act(x, Activation::Relu);
    let groups = if groups_full { 1 } else { c };
    let kernels: &[usize] = if groups_full { &[3, 1] } else { &[5, 3, 1] };
    let mut sum = None;
    for &k in kernels {
        let y = b.conv_with(x, c, k, stride, groups, false);
        let y = b.bn(y);
        sum = Some(match sum {
            None => y,
            Some(s) => b.binary(Op::Add, s, y),
        });
    }
    let y = b.act(sum.expect("branches"), Activation::HardSwish);
    b.finish(y)
}

#[test]
fn rep_branch_fusion() {
    for (stride, full) in [(1, false), (2, false), (1, true), (2, true)] {
        let name = format!("rep_s{stride}_{}", if full { "full" } else { "depthwise" });
        let g = rep_block(&name, stride, full);
        let branches = if full { 2 } else { 3 };
        let mut fused = g.clone();
        assert!(
            passes::fold_batch_norm(&mut fused),
            "{name}: BatchNorm folding did not fire"
        );
        assert_same_outputs(&format!("{name}: fold_batch_norm"), &g, &fused);
        let before = fused.clone();
        assert!(
            passes::fuse_rep_branches(&mut fused),
            "{name}: branch fusion did not fire"
        );
        assert_eq!(count(&before, "Conv"), 1 + branches);
        assert_eq!(count(&fused, "Conv"), 2, "{name}: one conv per block");
        assert_eq!(count(&fused, "Add"), 0, "{name}: the branch sums are gone");
        let k = if full { 3 } else { 5 };
        let conv = fused
            .nodes
            .iter()
            .filter_map(|n| match &n.op {
                Op::Conv(c) if c.kernel() != [1, 1] => Some(c),
                _ => None,
            })
            .collect::<Vec<_>>();
        assert_eq!(conv.len(), 1, "{name}");
        assert_eq!(conv[0].kernel(), [k, k], "{name}: the largest kernel");
        assert_eq!(conv[0].stride, [stride, stride], "{name}");
        assert_eq!(conv[0].pads, [(k - 1) / 2; 4], "{name}");
        assert_same_outputs(&format!("{name}: fuse_rep_branches"), &g, &fused);

        let mut optimized = g.clone();
        passes::optimize(&mut optimized);
        assert_eq!(count(&optimized, "Conv"), 2, "{name}: optimize");
        assert_same_outputs(&format!("{name}: optimize"), &g, &optimized);
    }
}

/// `clip(x + b, 0, m) * (1/m)`: a hard-sigmoid.
fn hard_sigmoid_arithmetic(b: &mut GraphBuilder, x: ValueId, beta: f32, m: f32) -> ValueId {
    let y = b.add_const(x, Tensor::new(vec![1], vec![beta]));
    let y = b.act(y, Activation::Clip { min: 0.0, max: m });
    b.mul_const(y, Tensor::new(vec![1], vec![1.0 / m]))
}

/// Torch's hard-swish `x * (clip(x + 3, 0, 6) / 6)`, paddle2onnx's `x * HardSigmoid(x)` and an SE
/// gate `clip(x + 2.5, 0, 5) / 5` become activations fused into the convs; a clip whose scale is
/// not `1/max` stays arithmetic.
#[test]
fn hard_swish_and_hard_sigmoid_arithmetic() {
    let (mut b, x) = GraphBuilder::new("hard_swish", 9, 7, true);
    let x = b.conv(x, 17, 3, 2, 1);
    let g = hard_sigmoid_arithmetic(&mut b, x, 3.0, 6.0);
    let x = b.binary(Op::Mul, x, g);
    let x = b.conv(x, 24, 1, 1, 1);
    let g = b.act(
        x,
        Activation::HardSigmoid {
            alpha: 1.0 / 6.0,
            beta: 0.5,
        },
    );
    let x = b.binary(Op::Mul, g, x);
    let p = b.global_pool(x);
    let s = b.conv(p, 6, 1, 1, 1);
    let s = b.act(s, Activation::Relu);
    let s = b.conv(s, 24, 1, 1, 1);
    let s = hard_sigmoid_arithmetic(&mut b, s, 2.5, 5.0);
    let x = b.binary(Op::Mul, x, s);
    let x = b.conv(x, 8, 1, 1, 1);
    // Not a hard-sigmoid: clip(x + 1, 0, 4) * 0.5.
    let y = b.add_const(x, Tensor::new(vec![1], vec![1.0]));
    let y = b.act(y, Activation::Clip { min: 0.0, max: 4.0 });
    let y = b.mul_const(y, Tensor::new(vec![1], vec![0.5]));
    let g = b.finish(y);

    let mut fused = g.clone();
    assert!(
        passes::fuse_hard_sigmoid(&mut fused),
        "hard-sigmoid did not fire"
    );
    assert_eq!(
        count(&fused, "MulConst"),
        1,
        "two of three clips are hard-sigmoids"
    );
    assert!(
        passes::fuse_hard_swish(&mut fused),
        "hard-swish did not fire"
    );
    assert_eq!(count(&fused, "Mul"), 1, "only the SE channel scale is left");
    let hs = |g: &Graph| {
        g.nodes
            .iter()
            .filter(|n| matches!(n.op, Op::Act(Activation::HardSwish)))
            .count()
    };
    assert_eq!(hs(&fused), 2);
    assert_same_outputs("fuse_hard_sigmoid + fuse_hard_swish", &g, &fused);

    let mut optimized = g.clone();
    passes::optimize(&mut optimized);
    assert_eq!(
        count(&optimized, "Activation"),
        0,
        "every activation in a conv epilogue"
    );
    assert_eq!(
        count(&optimized, "MulConst"),
        1,
        "the scale of the clip that is no hard-sigmoid"
    );
    assert_eq!(count(&optimized, "SqueezeExcite"), 1);
    assert_same_outputs("optimize", &g, &optimized);
}
