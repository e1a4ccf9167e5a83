//! The crates.io packages as a user gets them, offline: `cargo package` (with its verification
//! build) of `pplcnet-spec`, `pplcnet-codegen`, `pplcnet` and `pplcnet-capi`, each under crates.io's 10 MB; then a
//! crate outside this workspace that depends on `pplcnet` through `[patch.crates-io]` pointing at
//! the unpacked packages builds, classifies with the model named by `PPLCNET_MODEL` (matching the
//! onnxruntime reference), and without `PPLCNET_MODEL` fails saying to set it.
//!
//! Runs in `target/packaging`, from clean every time (about 3 minutes on 2 cores).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const CRATES: [&str; 4] = ["pplcnet-spec", "pplcnet-codegen", "pplcnet", "pplcnet-capi"];
/// crates.io's limit on a `.crate` file.
const MAX_CRATE_BYTES: u64 = 10 * 1024 * 1024;
/// A small committed model (PP-LCNet x0.25, 10 classes) with onnxruntime references.
const MODEL: &str = "pplcnet_x0_25_c10_logits";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: &mut Command, what: &str) -> std::process::Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn cargo(dir: &Path, target: &Path) -> Command {
    let mut c = Command::new(env!("CARGO"));
    c.current_dir(dir)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("PPLCNET_MODEL")
        .env_remove("PPLCNET_PRECISION")
        .env_remove("RUSTFLAGS");
    c
}

/// Removes cargo's extracted copies of these packages from earlier runs. `cargo package`
/// verifies each package against the others through a local overlay registry, and cargo unpacks
/// that registry's crates under `$CARGO_HOME/registry/src/-<hash of its path>/` once, never again:
/// a second run at the same path would verify against the first run's sources.
fn forget_earlier_overlays() {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    let Some(src) = home.map(|h| h.join("registry/src")) else {
        return;
    };
    let Ok(dirs) = std::fs::read_dir(&src) else {
        return;
    };
    for d in dirs.flatten() {
        // Local overlay registries are named `-<hash>`; crates.io's copies are left alone.
        if d.file_name().to_string_lossy().starts_with('-') {
            for name in CRATES {
                let _ = std::fs::remove_dir_all(d.path().join(format!("{name}-0.1.0")));
            }
        }
    }
}

#[test]
fn packages_build_and_classify_outside_the_workspace() {
    forget_earlier_overlays();
    let target = root().join("target/packaging");
    // Cargo treats the packages as immutable registry crates of version 0.1.0: artifacts built from
    // an earlier run's sources would be reused, so every run builds from clean.
    let _ = std::fs::remove_dir_all(&target);
    let model = root().join(format!("tests/data/models/{MODEL}.onnx"));
    let mut package = cargo(&root(), &target);
    package
        .args(["package", "--offline", "--allow-dirty"])
        .args(CRATES.iter().flat_map(|c| ["-p", c]))
        .env("PPLCNET_MODEL", &model);
    run(&mut package, "cargo package (with verification)");

    let pkg = target.join("package");
    for name in CRATES {
        let file = pkg.join(format!("{name}-0.1.0.crate"));
        let bytes = std::fs::metadata(&file)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .len();
        eprintln!("{name}: {bytes} bytes");
        assert!(bytes <= MAX_CRATE_BYTES, "{name}: {bytes} bytes");
    }

    // A user's crate, its own workspace, depending on the packaged sources.
    let user = target.join("user");
    std::fs::create_dir_all(user.join("src")).unwrap();
    let patch = |name: &str| pkg.join(format!("{name}-0.1.0")).display().to_string();
    std::fs::write(
        user.join("Cargo.toml"),
        format!(
            "[package]\nname = \"pplcnet-user\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n\
             [dependencies]\npplcnet = {{ version = \"0.1.0\", default-features = false, features = [\"std\"] }}\n\n\
             [patch.crates-io]\npplcnet = {{ path = {:?} }}\npplcnet-codegen = {{ path = {:?} }}\npplcnet-spec = {{ path = {:?} }}\n\n\
             [workspace]\n",
            patch("pplcnet"),
            patch("pplcnet-codegen"),
            patch("pplcnet-spec"),
        ),
    )
    .unwrap();
    std::fs::write(
        user.join("src/main.rs"),
        "fn main() {\n\
         \x20   let path = std::env::args().nth(1).expect(\"an input file\");\n\
         \x20   let bytes = std::fs::read(path).expect(\"readable input\");\n\
         \x20   let input: &[u8; pplcnet::INPUT_LEN] = bytes[..].try_into().expect(\"INPUT_LEN bytes\");\n\
         \x20   for v in pplcnet::classify(input) {\n\
         \x20       println!(\"{}\", v.to_bits());\n\
         \x20   }\n\
         }\n",
    )
    .unwrap();

    // Without PPLCNET_MODEL there is nothing to embed: one clear message.
    let out = cargo(&user, &target)
        .args(["build", "--offline", "--release"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "built without a model");
    assert!(
        err.contains("no model to embed: set PPLCNET_MODEL"),
        "unclear error:\n{err}"
    );

    // With it, the model's reference inputs classify as onnxruntime does.
    let cases = common::reference_cases(MODEL);
    assert!(!cases.is_empty());
    for case in &cases {
        let input = target.join(format!("{}.u8", case.name));
        std::fs::write(&input, &case.input).unwrap();
        let mut cmd = cargo(&user, &target);
        cmd.args(["run", "--offline", "--release", "--quiet", "--"])
            .arg(&input)
            .env("PPLCNET_MODEL", &model);
        let out = run(&mut cmd, "the user's crate");
        let got: Vec<f32> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| f32::from_bits(l.parse().expect("bits")))
            .collect();
        let what = format!("{MODEL} / {}", case.name);
        common::assert_close(&what, &got, &case.expected, common::TOLERANCE);
    }
}
