//! The committed reference data: inputs under `tests/data/inputs`, outputs of an independent
//! runtime (onnxruntime or Paddle Inference) under `tests/data/reference/<model stem>/`.

use std::path::{Path, PathBuf};

/// The repository's `tests/data`.
pub fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data")
}

/// `(input name, pixels, reference output)` for each of the five reference inputs of `stem`,
/// sorted by name.
pub fn references(stem: &str) -> Vec<(String, Vec<u8>, Vec<f32>)> {
    let dir = data().join("reference").join(stem);
    let mut out: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "f32"))
        .map(|p| {
            let name = p.file_stem().expect("stem").to_string_lossy().into_owned();
            let input = data().join("inputs").join(format!("{name}.u8"));
            let pixels =
                std::fs::read(&input).unwrap_or_else(|e| panic!("{}: {e}", input.display()));
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let expected = bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            (name, pixels, expected)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(out.len(), 5, "{stem}: reference inputs");
    out
}
