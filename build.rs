//! Compiles the model into `$OUT_DIR/pplcnet_model.rs` + `pplcnet_model_weights.bin`.
//! `PPLCNET_MODEL` picks the model: an `.onnx` file, a Paddle inference directory (`inference.pdmodel` or
//! `inference.json` + `inference.pdiparams`) or a `.tar`/`.tgz` of one (default: the seeded
//! PPLCNetV2_base in `model_assets/`);
//! `PPLCNET_LABELS` picks a label file (`id name` per line, PaddleClas format).

use std::path::PathBuf;

const DEFAULT_MODEL: &str = "model_assets/pplcnetv2_base.onnx";
const DEFAULT_LABELS: &str = "model_assets/imagenet1k_label_list.txt";

fn main() {
    println!("cargo:rerun-if-env-changed=PPLCNET_MODEL");
    println!("cargo:rerun-if-env-changed=PPLCNET_LABELS");
    println!("cargo:rerun-if-env-changed=PPLCNET_INPUT_SIZE");
    println!("cargo:rerun-if-env-changed=PPLCNET_PRECISION");
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let user_model = std::env::var_os("PPLCNET_MODEL").filter(|v| !v.is_empty());
    let seeded_default = user_model.is_none();
    let model = user_model
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(DEFAULT_MODEL));
    // The file, or for a Paddle directory the directory and its model and parameter files.
    for input in pplcnet_codegen::load::input_files(&model) {
        println!("cargo:rerun-if-changed={}", input.display());
    }

    let mut compiler = pplcnet_codegen::Compiler::new(&model)
        .runtime_path("crate")
        .seeded_default(seeded_default);
    if let Some(size) = std::env::var("PPLCNET_INPUT_SIZE")
        .ok()
        .filter(|s| !s.is_empty())
    {
        let Ok(px) = size.parse::<usize>() else {
            fail(&format!("PPLCNET_INPUT_SIZE={size:?} is not a number"))
        };
        compiler = compiler.input(pplcnet_codegen::InputSpec {
            height: px,
            width: px,
            ..Default::default()
        });
    }
    compiler = compiler.precision(precision());
    let labels_path = std::env::var_os("PPLCNET_LABELS").map(PathBuf::from);
    let num_classes = match compiler.optimized_graph() {
        Ok(g) => g.values[g.output].shape.iter().product::<usize>(),
        Err(e) => fail(&e.to_string()),
    };
    let labels = match &labels_path {
        Some(p) => Some(read_labels(p, num_classes).unwrap_or_else(|e| fail(&e))),
        None if num_classes == 1000 => {
            let p = root.join(DEFAULT_LABELS);
            println!("cargo:rerun-if-changed={}", p.display());
            Some(read_labels(&p, num_classes).unwrap_or_else(|e| fail(&e)))
        }
        None => None,
    };
    if let Some(p) = &labels_path {
        println!("cargo:rerun-if-changed={}", p.display());
    }
    if let Some(l) = labels {
        compiler = compiler.labels(l);
    }
    if let Err(e) = compiler.compile_to(&out, "pplcnet_model") {
        fail(&e.to_string());
    }
}

/// `PPLCNET_PRECISION` (`f32`, the default, or `bf16`), checked against the target's features.
fn precision() -> pplcnet_codegen::Precision {
    use pplcnet_codegen::Precision;
    let Some(value) = std::env::var("PPLCNET_PRECISION")
        .ok()
        .filter(|s| !s.is_empty())
    else {
        return Precision::F32;
    };
    let Some(p) = Precision::parse(&value) else {
        fail(&format!(
            "PPLCNET_PRECISION={value:?}: expected \"f32\" or \"bf16\""
        ))
    };
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let has = |f: &str| features.split(',').any(|x| x == f);
    if p == Precision::Bf16 && !(has("avx512bf16") && has("avx512f")) {
        fail(
            "PPLCNET_PRECISION=bf16 needs a target with AVX512_BF16: build on such a CPU with \
             `-C target-cpu=native` (as .cargo/config.toml does) or add \
             `-C target-feature=+avx512f,+avx512bf16` to RUSTFLAGS",
        );
    }
    p
}

/// Reads a PaddleClas label list: `<id> <name>` per line, ids 0..n in order.
fn read_labels(path: &std::path::Path, n: usize) -> Result<Vec<String>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read labels: {e}", path.display()))?;
    let mut labels = vec![None; n];
    for (lineno, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let (id, name) = line
            .split_once(' ')
            .ok_or_else(|| format!("{}:{}: expected '<id> <name>'", path.display(), lineno + 1))?;
        let id: usize = id.parse().map_err(|_| {
            format!(
                "{}:{}: '{id}' is not a class id",
                path.display(),
                lineno + 1
            )
        })?;
        let slot = labels.get_mut(id).ok_or_else(|| {
            format!(
                "{}:{}: class id {id} >= {n} outputs",
                path.display(),
                lineno + 1
            )
        })?;
        *slot = Some(name.trim_end_matches('\r').to_string());
    }
    labels
        .into_iter()
        .enumerate()
        .map(|(i, l)| l.ok_or_else(|| format!("{}: no label for class {i}", path.display())))
        .collect()
}

fn fail(msg: &str) -> ! {
    eprintln!("error: pplcnet could not compile the model\n  {msg}");
    std::process::exit(1);
}
