//! The in-memory entry points the fuzz targets (`fuzz/`) drive: they load exactly what the file-based
//! loaders load, and the committed fuzz seeds (plus any crashing input ever found, under
//! `tests/data/fuzz_regressions/<target>/`) give errors or graphs, never panics.

use std::path::{Path, PathBuf};

use pplcnet_codegen::load::{self, PaddleFormat};
use pplcnet_codegen::{Compiler, InputSpec};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn spec() -> InputSpec {
    InputSpec::default()
}

#[test]
fn paddle_bytes_load_what_the_files_load() {
    for (dir, format, model) in [
        ("pplcnet_x0_25_c10", PaddleFormat::Pir, "inference.json"),
        (
            "pplcnetv2_x0_25_c10_legacy",
            PaddleFormat::Legacy,
            "inference.pdmodel",
        ),
    ] {
        let dir = root().join("tests/data/paddle").join(dir);
        let from_files = load::load_paddle(&dir, &spec()).unwrap();
        let (model_path, params_path) = (dir.join(model), dir.join("inference.pdiparams"));
        let from_bytes = load::load_paddle_bytes(
            format,
            &model_path,
            &read(&model_path),
            &params_path,
            &read(&params_path),
            &spec(),
        )
        .unwrap();
        assert!(from_files == from_bytes, "{}", dir.display());
    }
}

/// A tar of `dir`'s files under `name/`, built in memory.
fn tar_of(dir: &Path, name: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for f in ["inference.json", "inference.pdiparams"] {
        b.append_path_with_name(dir.join(f), format!("{name}/{f}"))
            .unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn archive_bytes_load_what_the_directory_loads() {
    use std::io::Write;
    let dir = root().join("tests/data/paddle/pplcnet_x0_25_c10");
    let from_dir = load::load_paddle(&dir, &spec()).unwrap();
    let tar = tar_of(&dir, "pplcnet_x0_25_c10");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let tgz = gz.finish().unwrap();
    for (name, bytes) in [("m.tar", &tar), ("m.tgz", &tgz)] {
        let mut g = load::load_paddle_archive_bytes(Path::new(name), bytes, &spec()).unwrap();
        let source = g.source.to_string_lossy().into_owned();
        assert!(source.starts_with(&format!("{name}[")), "{source}");
        g.source = from_dir.source.clone();
        assert!(g == from_dir, "{name}");
    }
    // Cut anywhere, even only into the gzip trailer (CRC-32 and length, after the tar's end blocks):
    // an error naming the archive.
    for cut in [0, 100, 600, tgz.len() / 2, tgz.len() - 8, tgz.len() - 1] {
        let e = load::load_paddle_archive_bytes(Path::new("m.tgz"), &tgz[..cut], &spec())
            .expect_err("truncated archive");
        assert!(e.to_string().contains("m.tgz"), "{e}");
    }
}

/// The gzip CRC is checked: a `.tgz` whose stored checksum does not match its content is refused,
/// from memory and from a file.
#[test]
fn archive_with_a_bad_gzip_crc_is_refused() {
    use std::io::Write;
    let dir = root().join("tests/data/paddle/pplcnet_x0_25_c10");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar_of(&dir, "m")).unwrap();
    let mut tgz = gz.finish().unwrap();
    let crc_at = tgz.len() - 8;
    tgz[crc_at] ^= 1;
    let e = load::load_paddle_archive_bytes(Path::new("bad_crc.tgz"), &tgz, &spec())
        .expect_err("bad CRC");
    assert!(e.to_string().contains("bad_crc.tgz"), "{e}");
    let file = std::env::temp_dir().join(format!("pplcnet-bad-crc-{}.tgz", std::process::id()));
    std::fs::write(&file, &tgz).unwrap();
    let e = load::load_model(&file, &spec()).expect_err("bad CRC");
    assert!(e.to_string().contains("pplcnet-bad-crc"), "{e}");
    let _ = std::fs::remove_file(&file);
}

#[test]
fn compile_in_memory_matches_compile_to() {
    let model = root().join("tests/data/models/pplcnet_x0_25_c10_logits.onnx");
    let out = std::env::temp_dir().join(format!("pplcnet-in-memory-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let compiled = Compiler::new(&model).compile_to(&out, "m").unwrap();
    let emitted = Compiler::new(&model)
        .compile_in_memory(compiled.weights_path.to_str().unwrap())
        .unwrap();
    assert_eq!(
        emitted.code,
        std::fs::read_to_string(&compiled.code_path).unwrap()
    );
    assert_eq!(emitted.weights, read(&compiled.weights_path));
    let _ = std::fs::remove_dir_all(&out);
}

/// What each codegen fuzz target does with one input (`fuzz/fuzz_targets/*.rs`).
fn run_target(target: &str, data: &[u8]) {
    let graph = match target {
        "onnx" => load::load_onnx(Path::new("fuzz.onnx"), data, &spec()),
        "tar" => load::load_paddle_archive_bytes(Path::new("fuzz.tar"), data, &spec()),
        "paddle_legacy" | "paddle_pir" => {
            let (model, params) = split2(data);
            let (format, name) = if target == "paddle_pir" {
                (PaddleFormat::Pir, "fuzz/inference.json")
            } else {
                (PaddleFormat::Legacy, "fuzz/inference.pdmodel")
            };
            load::load_paddle_bytes(
                format,
                Path::new(name),
                model,
                Path::new("fuzz/inference.pdiparams"),
                params,
                &spec(),
            )
        }
        _ => panic!("unknown fuzz target {target}"),
    };
    if let Ok(g) = graph {
        let _ = Compiler::from_graph(g).compile_in_memory("/fuzz/weights.bin");
    }
}

/// `pplcnet_fuzz::split2`: a little-endian u32 length, the first file, the second.
fn split2(data: &[u8]) -> (&[u8], &[u8]) {
    if data.len() < 4 {
        return (data, &[]);
    }
    let n = u32::from_le_bytes([data[0], data[1], data[2], data[3]]) as usize;
    let rest = &data[4..];
    rest.split_at(n.min(rest.len()))
}

/// Files of `dir`, sorted (none if it does not exist).
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    v.retain(|p| p.is_file());
    v.sort();
    v
}

#[test]
fn fuzz_seeds_and_regressions_never_panic() {
    let mut seen = 0;
    for target in ["onnx", "paddle_legacy", "paddle_pir", "tar"] {
        let dirs = [
            root().join("fuzz/seeds").join(target),
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/fuzz_regressions")
                .join(target),
        ];
        for f in dirs.iter().flat_map(|d| files(d)) {
            let data = read(&f);
            let r = std::panic::catch_unwind(|| run_target(target, &data));
            assert!(r.is_ok(), "{target}: {} panics", f.display());
            seen += 1;
        }
    }
    assert!(seen >= 3, "the committed fuzz seeds are missing");
}
