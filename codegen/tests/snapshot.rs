//! Snapshot of the generated code: the module emitted for a tiny hand-made model (a stem, a
//! depthwise and a pointwise conv, pooling, a fully connected layer), in f32 and with the AMX bf16
//! variant, compared with the files under `tests/snapshots/`. A change to lowering, naming, the
//! plan or the template shows up here as a readable diff. After reviewing it, regenerate with
//! `PPLCNET_UPDATE_SNAPSHOTS=1 cargo test -p pplcnet-codegen --test snapshot`.

use std::path::Path;

use pplcnet_codegen::{Bf16Isa, Compiler, Precision};

fn check(name: &str, compiler: Compiler) {
    let code = compiler
        .runtime_path("::pplcnet")
        .compile_in_memory("tiny_weights.bin")
        .unwrap_or_else(|e| panic!("{e}"))
        .code;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/snapshots/{name}.rs"));
    if std::env::var_os("PPLCNET_UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &code).unwrap();
        eprintln!("updated {}", path.display());
        return;
    }
    let want = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (regenerate: see the module docs)", path.display()));
    if let Some((i, (got, want))) = code
        .lines()
        .zip(want.lines())
        .enumerate()
        .find(|(_, (a, b))| a != b)
    {
        panic!(
            "{name}: generated code differs from {} at line {}:\n  now:  {got}\n  snap: {want}\n\
             review, then regenerate with PPLCNET_UPDATE_SNAPSHOTS=1",
            path.display(),
            i + 1
        );
    }
    assert_eq!(
        code.lines().count(),
        want.lines().count(),
        "{name}: line count"
    );
}

fn tiny() -> Compiler {
    Compiler::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/onnx/tiny.onnx"))
}

#[test]
fn tiny_model_f32() {
    check("tiny_f32", tiny());
}

#[test]
fn tiny_model_bf16_amx() {
    check(
        "tiny_bf16_amx",
        tiny().precision(Precision::Bf16).bf16_isa(Bf16Isa::Amx),
    );
}
