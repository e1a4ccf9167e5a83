//! Models compiled with `Precision::Bf16` (bf16 pointwise convs and gates, f32 sums) against onnxruntime's f32
//! outputs on the reference inputs.
//!
//! The kernel's arithmetic is proven exactly by `pwconv_bf16`'s unit tests (against a float64 sum
//! of the same bf16 products). Here the whole model is checked for wiring (weight pairing, channel
//! tails, residuals, which layers run in bf16): a layout mistake moves the logits by about their
//! own size; bf16 rounding (8 significant bits, once per input and weight of ~30 layers in
//! sequence) by a few percent. Bound: max |diff| <= 5% of the largest |reference logit|, and the
//! same top-1 class unless the reference's top two are closer than that.
//!
//! Measured (Zen 5): 0.2-3.2% of the largest logit on these inputs, but for one in
//! [`ILL_CONDITIONED`]; OpenVINO's default bf16 mode 0.2-9.7% on the same models and inputs
//! (`tools/bf16_error.py`). A bf16 model cannot be compared
//! with a bf16-emulating scalar interpreter more tightly: f32 sums in a different order cross bf16
//! rounding boundaries, and the differences grow through the network to this same size.

use pplcnet::Precision;
use pplcnet_testmodels::models::BF16_MODELS;
use pplcnet_testmodels::parity::reference_cases;

/// Max |diff| as a fraction of the reference's largest |logit|.
const RELATIVE_BOUND: f32 = 0.05;

/// `(model, input)` pairs that amplify bf16 rounding far beyond [`RELATIVE_BOUND`] in any bf16
/// runtime, so only their top-1 class is checked: the seeded MobileNetV3 on the checkerboard
/// (OpenVINO's default bf16 mode: 29.5% of the largest logit; pplcnet 19.1%, 14.1% before the
/// squeeze-excite gates and one-pixel layers ran in bf16; every other input of that model: 0.2-0.5%).
const ILL_CONDITIONED: [(&str, &str); 1] =
    [("mobilenetv3_large_x0_35_c10_torchstyle_logits", "checker")];

#[test]
fn bf16_models_stay_within_bf16_rounding_of_onnxruntime() {
    if BF16_MODELS.is_empty() {
        eprintln!("skipped: the target has no AVX512_BF16");
        return;
    }
    assert_eq!(BF16_MODELS.len(), 3);
    for model in BF16_MODELS {
        assert_eq!(model.info.precision, Precision::Bf16);
        assert!(
            model.info.layers.iter().any(|l| l.kernel == "pwconv_bf16"),
            "{}: no bf16 layer",
            model.stem
        );
        // Every pointwise conv (one-pixel ones included) and fully connected layer runs in bf16:
        // none of these models has one wider than the kernel's MAX_K.
        for l in model.info.layers {
            let f32_gemm = l.kernel == "pwconv"
                || (l.kernel == "fully_connected" && !l.summary.ends_with(" bf16"));
            assert!(
                !f32_gemm,
                "{}: {} {} in f32",
                model.stem, l.kernel, l.summary
            );
        }
        let cases = reference_cases(model.stem);
        assert_eq!(cases.len(), 5);
        for case in &cases {
            let got = (model.run)(&case.input);
            // The parallel path (bf16 kernels split by rows or by weight panels) is bit-identical.
            for threads in [2, 3] {
                let pool = pplcnet::Parallel::new(threads);
                let par = pool.with_team(|team| (model.run_parallel)(&case.input, team));
                assert_eq!(
                    par, got,
                    "{} / {}: {threads} threads",
                    model.stem, case.name
                );
            }
            let want = &case.expected;
            assert_eq!(got.len(), want.len());
            let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let worst = got
                .iter()
                .zip(want)
                .map(|(g, w)| (g - w).abs())
                .fold(0.0f32, |a, d| if d.total_cmp(&a).is_gt() { d } else { a });
            let ill = ILL_CONDITIONED.contains(&(model.stem, case.name.as_str()));
            let bound = if ill {
                f32::INFINITY
            } else {
                RELATIVE_BOUND * scale
            };
            eprintln!(
                "{} / {}: max |diff| {worst:.2e} ({:.1}% of the largest |logit| {scale:.2})",
                model.stem,
                case.name,
                100.0 * worst / scale
            );
            assert!(
                worst <= bound,
                "{} / {}: max |diff| {worst:e} exceeds {bound:e}",
                model.stem,
                case.name
            );
            let top = |v: &[f32]| pplcnet::top_k_vec(v, 2);
            let (tg, tw) = (top(&got), top(want));
            let close = tw[0].1 - tw[1].1 <= RELATIVE_BOUND * scale;
            assert!(
                tg[0].0 == tw[0].0 || (close && !ill),
                "{} / {}: top-1 {tg:?} vs {tw:?}",
                model.stem,
                case.name
            );
        }
    }
}
