//! The SIMD kernels, as the code generator calls them after folding and fusion, against the scalar
//! interpreter on the unoptimized graph, over many small synthetic graphs (`build.rs`): odd image
//! sizes, 1x1 and 2x3 images where every window touches the border, channel counts that are not
//! multiples of the vector width or the GEMM panel, pixel counts that are not multiples of the row tile.
//!
//! Tolerance: the kernels and the interpreter compute the same sums in a different order (and with
//! BatchNorm, bias, the dropout scale and the input normalization folded into the weights, fused
//! multiply-adds, a different exp). Each output is at most a few hundred products of O(1) terms, so
//! the f32 rounding difference is a few ulps of the largest terms: |got - want| <= REL * scale with
//! REL = 1e-5 (about 80 ulps) and `scale` the largest |want| of the output tensor (1 at least, since
//! activations are O(1) by construction and a smaller output would make the bound meaningless).

use pplcnet_testmodels::synthetic::CASES;
use pplcnet_testmodels::Synthetic;

const REL: f32 = 1e-5;

/// Returns (max |diff|, allowed) after checking every element.
fn check(case: &Synthetic) -> (f32, f32) {
    let name = case.name;
    let want = case.expected();
    assert_eq!(
        want.len(),
        case.out_shape.iter().product::<usize>(),
        "{name}: expected length"
    );
    for k in case.kernels {
        assert!(
            case.info.layers.iter().any(|l| l.kernel == *k),
            "{name}: the compiled module does not call `{k}`: {:?}",
            case.info.layers
        );
    }
    let got = (case.run)(case.input);
    assert_eq!(got.len(), want.len(), "{name}: output length");
    let scale = want.iter().fold(1.0f32, |m, v| m.max(v.abs()));
    let allowed = REL * scale;
    let mut worst = (0.0f32, 0);
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let d = (g - w).abs();
        // `total_cmp` orders NaN (|NaN| is a positive NaN) above every number: a NaN is never lost.
        if d.total_cmp(&worst.0).is_gt() {
            worst = (d, i);
        }
    }
    let (d, i) = worst;
    assert!(
        d <= allowed,
        "{name}: |diff| {d:e} at flat index {i} (got {}, want {}) exceeds {allowed:e}; shape {:?} (HWC if 4-D)",
        got[i],
        want[i],
        case.out_shape
    );
    (d, allowed)
}

fn run_group(prefix: &str, min_cases: usize) {
    let cases: Vec<&Synthetic> = CASES
        .iter()
        .filter(|c| c.name.starts_with(prefix))
        .collect();
    assert!(cases.len() >= min_cases, "{prefix}: {} cases", cases.len());
    let mut failures = Vec::new();
    let mut worst_rel = 0.0f32;
    for case in cases {
        match std::panic::catch_unwind(|| check(case)) {
            Ok((d, allowed)) => worst_rel = worst_rel.max(d / allowed * REL),
            Err(e) => failures.push(
                e.downcast_ref::<String>()
                    .cloned()
                    .unwrap_or_else(|| format!("{}: panicked", case.name)),
            ),
        }
    }
    eprintln!("{prefix}: worst |diff| / scale {worst_rel:.2e}");
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn stem_conv_from_u8() {
    run_group("stem_", 7);
}

#[test]
fn depthwise() {
    run_group("dw_", 80);
}

#[test]
fn pointwise() {
    run_group("pw_", 5);
}

#[test]
fn squeeze_excite() {
    run_group("se_", 20);
}

#[test]
fn residual_add() {
    run_group("res_", 2);
}

#[test]
fn unfused_elementwise() {
    run_group("eltwise_", 3);
}

#[test]
fn classifier_head() {
    run_group("head_", 6);
}

#[test]
fn output_kind_follows_the_last_op() {
    for c in CASES {
        let multilabel = c.name == "head_multilabel_c26";
        assert_eq!(
            c.info.output == pplcnet::OutputKind::MultiLabel,
            multilabel,
            "{}: {:?}",
            c.name,
            c.info.output
        );
    }
    assert!(CASES.iter().any(|c| c.name == "head_multilabel_c26"));
}

#[test]
fn max_pool() {
    run_group("maxpool_", 4);
}

#[test]
fn stride_2x1() {
    run_group("stride2x1_", 3);
}

#[test]
fn every_case_is_in_a_group() {
    let groups = [
        "stem_",
        "dw_",
        "pw_",
        "se_",
        "res_",
        "eltwise_",
        "head_",
        "maxpool_",
        "stride2x1_",
    ];
    for c in CASES {
        assert!(
            groups.iter().any(|g| c.name.starts_with(g)),
            "{} is in no test",
            c.name
        );
    }
}
