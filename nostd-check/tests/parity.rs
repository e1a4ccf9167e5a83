//! The no_std entry points against onnxruntime's outputs for the default model (the same committed
//! references and tolerance as the root crate's `tests/parity_default.rs`).
//!
//! In the workspace build this runs with whatever CPU features `.cargo/config.toml` selects
//! (`target-cpu=native`: AVX-512 here). `tests/separate_build.rs` runs it again, built with
//! `-C target-cpu=x86-64-v3` (AVX2) and again with `-C target-cpu=x86-64` (SSE2 only), so the
//! fallbacks of `wide` are checked against the same references.
use pplcnet_nostd_check::{scores, top5, Workspace, INPUT_LEN, NUM_CLASSES};
use std::path::Path;
use std::sync::Mutex;

/// Max |difference| against onnxruntime (as `tests/common/mod.rs` in the root crate).
const TOLERANCE: f32 = 1e-4;

/// A workspace in a `static`: no heap, no big stack frame.
static WORKSPACE: Mutex<Workspace> = Mutex::new(Workspace::new());

#[test]
fn matches_onnxruntime_through_the_no_std_api() {
    let (avx512f, avx2) = (
        cfg!(target_feature = "avx512f"),
        cfg!(target_feature = "avx2"),
    );
    eprintln!(
        "SIMD: avx512f={avx512f} avx2={avx2} fma={} sse2={}",
        cfg!(target_feature = "fma"),
        cfg!(target_feature = "sse2")
    );
    // Set by `tests/separate_build.rs` to the level it built for, so a build that silently kept
    // `target-cpu=native` fails instead of testing the AVX-512 path twice.
    match std::env::var("PPLCNET_EXPECT_SIMD").as_deref() {
        Ok("avx2") => assert_eq!(
            (avx512f, avx2),
            (false, true),
            "expected an AVX2 build without AVX-512 (x86-64-v3)"
        ),
        Ok("sse2") => assert_eq!(
            (avx512f, avx2),
            (false, false),
            "expected an SSE2-only build (x86-64)"
        ),
        Ok(other) => panic!("PPLCNET_EXPECT_SIMD={other:?}: expected avx2 or sse2"),
        Err(_) => {}
    }
    if !pplcnet::MODEL.seeded_default {
        eprintln!(
            "skipped: built with PPLCNET_MODEL={}, the references are for the default model",
            pplcnet::MODEL.source
        );
        return;
    }
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data");
    let refs = data.join("reference/pplcnetv2_base");
    let mut names: Vec<String> = std::fs::read_dir(&refs)
        .unwrap_or_else(|e| panic!("{}: {e}", refs.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "f32"))
        .map(|p| p.file_stem().expect("stem").to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 5, "reference cases in {}", refs.display());
    let mut ws = WORKSPACE.lock().expect("workspace lock");
    for name in &names {
        let input = std::fs::read(data.join(format!("inputs/{name}.u8"))).expect("input");
        let input: &[u8; INPUT_LEN] = input.as_slice().try_into().expect("input size");
        let want: Vec<f32> = std::fs::read(refs.join(format!("{name}.f32")))
            .expect("reference")
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(want.len(), NUM_CLASSES);
        let got = scores(input, &mut ws);
        let worst = got
            .iter()
            .zip(&want)
            .map(|(g, w)| (g - w).abs())
            .fold(0.0f32, |a, d| if d > a || d.is_nan() { d } else { a });
        assert!(
            worst <= TOLERANCE,
            "{name}: max |diff| {worst:e} exceeds {TOLERANCE:e}"
        );
        // Same top-5 as the reference, unless two scores tie within the tolerance.
        let (tg, tw) = (top5(input, &mut ws), pplcnet::top_k::<5>(&want));
        for (a, b) in tg.iter().zip(&tw) {
            assert!(
                a.0 == b.0 || (a.1 - b.1).abs() <= TOLERANCE,
                "{name}: top-5 {tg:?} vs {tw:?}"
            );
        }
        eprintln!(
            "{name}: max |diff| {worst:.2e}, top-1 {} {}",
            tg[0].0,
            pplcnet_nostd_check::LABELS[tg[0].0]
        );
    }
}
