//! Shared by the integration tests: reference inputs/outputs and the parity check.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Max |difference| allowed against onnxruntime. Independent runtimes (onnxruntime, OpenVINO f32,
/// Paddle Inference) agree within 4e-6..3e-5 on these models (tests/data/reference/manifest.json);
/// 1e-4 leaves room for a different summation order and nothing more.
pub const TOLERANCE: f32 = 1e-4;

pub struct Case {
    pub name: String,
    pub input: Vec<u8>,
    pub expected: Vec<f32>,
}

/// `tests/data` of the workspace (this file is also used by `testmodels/`, one level down).
pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|p| p.join("tests/data"))
        .find(|p| p.join("reference").is_dir())
        .expect("tests/data/reference in the package directory or above")
}

/// Every reference input with the expected output of `model` (a directory under tests/data/reference).
pub fn reference_cases(model: &str) -> Vec<Case> {
    reference_cases_sized(model, pplcnet::INPUT_LEN)
}

/// As [`reference_cases`] for a model whose square input has `input_len` bytes: inputs other than
/// 224x224 are in `tests/data/inputs/<side>x<side>/`.
pub fn reference_cases_sized(model: &str, input_len: usize) -> Vec<Case> {
    let side = (1..=input_len)
        .find(|s| s * s * 3 >= input_len)
        .unwrap_or(0);
    assert_eq!(
        side * side * 3,
        input_len,
        "{model}: input is not square RGB"
    );
    reference_cases_hw(model, side, side)
}

/// As [`reference_cases`] for a `height` x `width` input: inputs other than 224x224 are in
/// `tests/data/inputs/<height>x<width>/`.
pub fn reference_cases_hw(model: &str, height: usize, width: usize) -> Vec<Case> {
    let inputs = if (height, width) == (224, 224) {
        data_dir().join("inputs")
    } else {
        data_dir().join("inputs").join(format!("{height}x{width}"))
    };
    let dir = data_dir().join("reference").join(model);
    let mut cases: Vec<Case> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "f32"))
        .map(|p| {
            let name = p.file_stem().expect("stem").to_string_lossy().into_owned();
            let input = std::fs::read(inputs.join(format!("{name}.u8"))).expect("input file");
            let bytes = std::fs::read(&p).expect("reference file");
            let expected = bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            Case {
                name,
                input,
                expected,
            }
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

/// Asserts max |got - want| <= tol and the same top-5 classes (unless scores tie within tol).
pub fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: output length");
    let (mut worst, mut at) = (0.0f32, 0);
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let d = (g - w).abs();
        // `total_cmp` orders NaN (|NaN| is a positive NaN) above every number: a NaN is never lost.
        if d.total_cmp(&worst).is_gt() {
            worst = d;
            at = i;
        }
    }
    assert!(
        worst <= tol,
        "{what}: max |diff| {worst:e} at class {at} (got {}, want {}) exceeds {tol:e}",
        got[at],
        want[at]
    );
    let top = |v: &[f32]| pplcnet::top_k_vec(v, 5.min(v.len()));
    let (tg, tw) = (top(got), top(want));
    for (a, b) in tg.iter().zip(&tw) {
        assert!(
            a.0 == b.0 || (a.1 - b.1).abs() <= tol,
            "{what}: top-5 differs: {tg:?} vs {tw:?}"
        );
    }
    eprintln!("{what}: max |diff| {worst:.2e}");
}

/// Every reference input (`tests/data/inputs/*.u8`, one `INPUT_LEN`-byte image each), sorted by name.
pub fn reference_inputs() -> Vec<(String, Box<[u8; pplcnet::INPUT_LEN]>)> {
    let dir = data_dir().join("inputs");
    let mut v: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "u8"))
        .map(|p| {
            let bytes = std::fs::read(&p).expect("input file");
            let input: Box<[u8; pplcnet::INPUT_LEN]> =
                bytes.into_boxed_slice().try_into().expect("input size");
            (
                p.file_stem().expect("stem").to_string_lossy().into_owned(),
                input,
            )
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(
        v.len() >= 5,
        "expected the 5 reference inputs in {}",
        dir.display()
    );
    v
}
