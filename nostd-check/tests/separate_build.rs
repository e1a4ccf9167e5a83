//! Two checks that need a build of their own, run by `cargo test --workspace` (and so by `.ci/run`).
//! They spawn cargo into `target/portable` (a separate target directory: the outer `cargo test`
//! holds the lock on its own) with `RUSTFLAGS="-C target-cpu=x86-64-v3"`, which replaces the
//! `target-cpu=native` of `.cargo/config.toml`. Cost: one extra release build of `pplcnet` without
//! default features, about 1 minute on 2 cores from clean; seconds when `target/portable` is warm.
//!
//! 1. `no_std` and no `alloc`: this crate alone (so that cargo does not unify `pplcnet`'s features
//!    with the rest of the workspace), with the `bare` feature, as a `staticlib` with
//!    `-C panic=abort`. If anything in the dependency graph links `std`, its panic handler collides
//!    with the crate's own (E0152); if anything links `alloc`, the staticlib has no global allocator.
//!    Either fails this build. (Checked by hand: `--features bare,pplcnet/std` fails with E0152; an
//!    `extern crate alloc;` fails with "no global memory allocator found".)
//! 2. Parity without AVX-512: `tests/parity.rs` (all five reference images against onnxruntime,
//!    tolerance 1e-4) built for x86-64-v3, so `wide`'s f32x16 runs on its AVX2 fallback, and again
//!    for plain x86-64 (SSE2 only, `target/portable-sse2`: one more build, about 1 minute).
//!
//! `PPLCNET_SKIP_SEPARATE_BUILDS=1` skips both (for quick local runs; CI does not set it).
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// The build level of the no_std build and the AVX2 parity run.
const AVX2: &str = "x86-64-v3";

fn cargo(target_dir: &Path, cpu: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO"));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    cmd.current_dir(&root).arg("--color=never");
    // Our flags must win over anything inherited from the outer build.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_MAKEFLAGS",
        "MAKEFLAGS",
        "MFLAGS",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("RUSTFLAGS", format!("-C target-cpu={cpu}"))
        .env("CARGO_TARGET_DIR", target_dir);
    cmd
}

fn run(what: &str, mut cmd: Command) -> String {
    let start = Instant::now();
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot run cargo: {e}"));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    eprintln!("{what}: ok in {:.1} s", start.elapsed().as_secs_f64());
    format!("{stdout}{stderr}")
}

fn skipped() -> bool {
    let skip = std::env::var_os("PPLCNET_SKIP_SEPARATE_BUILDS").is_some_and(|v| v == "1");
    if skip {
        eprintln!("skipped: PPLCNET_SKIP_SEPARATE_BUILDS=1");
    }
    skip
}

fn portable_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../target")
        .join(name)
}

/// Runs `tests/parity.rs` built for `cpu` and checks it reported the expected SIMD level.
fn parity_at(target_dir: &Path, cpu: &str, simd: &str, reported: &str) {
    let mut test = cargo(target_dir, cpu);
    test.args([
        "test",
        "-p",
        "pplcnet-nostd-check",
        "--release",
        "--test",
        "parity",
        "--",
        "--nocapture",
    ]);
    test.env("PPLCNET_EXPECT_SIMD", simd);
    let log = run(&format!("parity test built for {cpu}"), test);
    assert!(
        log.contains(reported),
        "the parity test did not report {reported:?}:\n{log}"
    );
    assert!(
        log.contains("test result: ok. 1 passed"),
        "the parity test did not run:\n{log}"
    );
}

#[test]
fn no_std_staticlib_and_avx2_parity() {
    if skipped() {
        return;
    }
    let target_dir = portable_dir("portable");
    let mut build = cargo(&target_dir, AVX2);
    build.args([
        "rustc",
        "-p",
        "pplcnet-nostd-check",
        "--lib",
        "--release",
        "--features",
        "bare",
    ]);
    build.args(["--crate-type", "staticlib", "--", "-C", "panic=abort"]);
    run("no_std staticlib build", build);
    let lib = target_dir.join("release/libpplcnet_nostd_check.a");
    assert!(
        lib.metadata().is_ok_and(|m| m.len() > 1_000_000),
        "{} missing or too small to hold the model",
        lib.display()
    );
    parity_at(&target_dir, AVX2, "avx2", "avx512f=false avx2=true");
}

#[test]
fn sse2_parity() {
    if skipped() {
        return;
    }
    parity_at(
        &portable_dir("portable-sse2"),
        "x86-64",
        "sse2",
        "avx512f=false avx2=false fma=false sse2=true",
    );
}
