//! Compiles `examples/classify.c` with `cc` against `include/pplcnet.h` and the static library of
//! this crate, runs it on the reference inputs and checks that its top-5 is exactly (ids and scores,
//! bit for bit) what `pplcnet::top_k` of `pplcnet::classify` gives in Rust, and that bad calls (NULL
//! pointers, short buffers, a misaligned workspace) return their error codes.
//!
//! Where the static library is: cargo builds this crate's library with all its crate types
//! (`staticlib`, `cdylib`, `rlib`) before it builds this test, into the test binary's own directory
//! `target/<profile>/deps/` (`std::env::current_exe()`'s parent; a plain `cargo build -p pplcnet-capi`
//! also copies it up to `target/<profile>/`, which is searched second). Deriving the path from the
//! running binary works for any `--target-dir`, `CARGO_TARGET_DIR` and profile.
use std::path::{Path, PathBuf};
use std::process::Command;

/// Native libraries a Rust staticlib needs on Linux (`rustc --print native-static-libs`).
const NATIVE_LIBS: &[&str] = &[
    "-lgcc_s",
    "-lutil",
    "-lrt",
    "-lpthread",
    "-lm",
    "-ldl",
    "-lc",
];

fn static_library() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let deps = exe.parent().expect("deps dir");
    let mut found: Vec<PathBuf> = [deps, deps.parent().unwrap_or(deps)]
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(d)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
        })
        .filter(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            name.starts_with("libpplcnet_capi") && name.ends_with(".a")
        })
        .collect();
    // Newest first: a stale copy from an older build must not win.
    found.sort_by_key(|p| std::cmp::Reverse(p.metadata().and_then(|m| m.modified()).ok()));
    found
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no libpplcnet_capi*.a next to {}", exe.display()))
}

fn compile_example() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let exe = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("pplcnet_classify_c_{}", std::process::id()));
    let lib = static_library();
    let status = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args([
            "-std=c11",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
        ])
        .arg("-I")
        .arg(crate_dir.join("include"))
        .arg(crate_dir.join("examples/classify.c"))
        .arg(&lib)
        .args(NATIVE_LIBS)
        .arg("-o")
        .arg(&exe)
        .status()
        .expect("run cc (a C compiler is needed for this test)");
    assert!(
        status.success(),
        "cc failed on examples/classify.c with {}",
        lib.display()
    );
    exe
}

fn run(exe: &Path, arg: &Path) -> String {
    let out = Command::new(exe)
        .arg(arg)
        .output()
        .expect("run the C example");
    assert!(
        out.status.success(),
        "{} {}: {}\n{}",
        exe.display(),
        arg.display(),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

#[test]
fn c_example_matches_rust_and_reports_errors() {
    let exe = compile_example();
    let inputs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/inputs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&inputs)
        .expect("tests/data/inputs")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "u8"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "reference inputs in {}", inputs.display());
    for file in &files {
        let bytes = std::fs::read(file).expect("read input");
        let img: &[u8; pplcnet::INPUT_LEN] = bytes.as_slice().try_into().expect("input size");
        let want = pplcnet::top_k::<5>(&pplcnet::classify(img));
        let text = run(&exe, file);
        let got: Vec<(usize, f32, String)> = text
            .lines()
            .map(|l| {
                let mut f = l.splitn(5, ' ');
                assert_eq!(f.next(), Some("top"), "line {l:?}");
                let _rank = f.next();
                let id = f
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("id in {l:?}"));
                let score = f
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or_else(|| panic!("score in {l:?}"));
                (id, score, f.next().unwrap_or("").to_string())
            })
            .collect();
        assert_eq!(got.len(), 5, "{}: {text}", file.display());
        for ((id, score, label), (wid, wscore)) in got.iter().zip(want) {
            assert_eq!(
                (*id, score.to_bits()),
                (wid, wscore.to_bits()),
                "{}: C {text} vs Rust {want:?}",
                file.display()
            );
            assert_eq!(label, pplcnet::LABELS[wid]);
        }
        eprintln!("{}: top-1 {} {}", file.display(), got[0].0, got[0].1);
    }

    let text = run(&exe, Path::new("--check-errors"));
    let expect = [
        ("null_rgb", "-1"),
        ("null_workspace", "-1"),
        ("null_out", "-1"),
        ("short_rgb", "-2"),
        ("short_workspace", "-3"),
        ("misaligned_workspace", "-4"),
        ("short_out", "-5"),
        ("label_out_of_range", "null"),
        ("ok", "0"),
    ];
    let got: Vec<(&str, &str)> = text.lines().filter_map(|l| l.split_once(' ')).collect();
    assert_eq!(got, expect, "--check-errors output:\n{text}");
    let _ = std::fs::remove_file(&exe);
}

/// The hand-written header against the Rust side: every error code has the same value, and every
/// exported function is declared (the C example's link catches missing symbols, not stale constants).
#[test]
fn header_matches_the_rust_constants() {
    let header =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("include/pplcnet.h"))
            .expect("header");
    let define = |name: &str| -> i32 {
        let line = header
            .lines()
            .find(|l| l.split_whitespace().take(2).eq(["#define", name]))
            .unwrap_or_else(|| panic!("#define {name} missing from pplcnet.h"));
        let value = line.split_whitespace().nth(2).expect("value");
        value
            .trim_matches(|c| c == '(' || c == ')')
            .parse()
            .unwrap_or_else(|_| panic!("value of {name}: {value}"))
    };
    use pplcnet_capi::*;
    let codes = [
        ("PPLCNET_OK", PPLCNET_OK),
        ("PPLCNET_ERR_NULL", PPLCNET_ERR_NULL),
        ("PPLCNET_ERR_INPUT_LEN", PPLCNET_ERR_INPUT_LEN),
        ("PPLCNET_ERR_WORKSPACE_LEN", PPLCNET_ERR_WORKSPACE_LEN),
        ("PPLCNET_ERR_WORKSPACE_ALIGN", PPLCNET_ERR_WORKSPACE_ALIGN),
        ("PPLCNET_ERR_OUTPUT_LEN", PPLCNET_ERR_OUTPUT_LEN),
        ("PPLCNET_ERR_OVERLAP", PPLCNET_ERR_OVERLAP),
    ];
    for (name, value) in codes {
        assert_eq!(define(name), value, "{name}");
    }
    let source = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs"))
        .expect("lib.rs");
    let exported: Vec<&str> = source
        .split("extern \"C\" fn ")
        .skip(1)
        .map(|rest| rest.split('(').next().unwrap_or(""))
        .collect();
    assert_eq!(exported.len(), 8, "exported functions: {exported:?}");
    for name in exported {
        assert!(
            header.contains(&format!(" {name}(")) || header.contains(&format!("*{name}(")),
            "{name} is not declared in pplcnet.h"
        );
    }
}
