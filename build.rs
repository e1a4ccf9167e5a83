//! Compiles the model into `$OUT_DIR/pplcnet_model.rs` + `pplcnet_model_weights.bin`.
//! `PPLCNET_MODEL` picks the model: an `.onnx` file, a Paddle inference directory (`inference.pdmodel` or
//! `inference.json` + `inference.pdiparams`) or a `.tar`/`.tgz` of one (default: the seeded
//! PPLCNetV2_base in `model_assets/`);
//! `PPLCNET_LABELS` picks a label file (`id name` per line, PaddleClas format).
//! A PaddleX / PaddleOCR `inference.yml` beside the model (or named by `PPLCNET_INFERENCE_YML`;
//! `none` ignores it) gives the input size, normalisation, labels, preprocessing and threshold;
//! every `PPLCNET_*` variable overrides it. Also writes `$OUT_DIR/pplcnet_pipeline.rs`
//! (`pplcnet::PREPROCESSING`, `pplcnet::THRESHOLD`).

use std::path::PathBuf;

const DEFAULT_MODEL: &str = "model_assets/pplcnetv2_base.onnx";
const DEFAULT_LABELS: &str = "model_assets/imagenet1k_label_list.txt";

fn main() {
    println!("cargo:rerun-if-env-changed=PPLCNET_MODEL");
    println!("cargo:rerun-if-env-changed=PPLCNET_LABELS");
    println!("cargo:rerun-if-env-changed=PPLCNET_INPUT_SIZE");
    println!("cargo:rerun-if-env-changed=PPLCNET_MEAN");
    println!("cargo:rerun-if-env-changed=PPLCNET_STD");
    println!("cargo:rerun-if-env-changed=PPLCNET_PRECISION");
    println!("cargo:rerun-if-env-changed=PPLCNET_BF16_ISA");
    println!("cargo:rerun-if-env-changed=PPLCNET_INFERENCE_YML");
    println!("cargo:rerun-if-env-changed=PPLCNET_RESIZE");
    println!("cargo:rerun-if-env-changed=PPLCNET_THRESHOLD");
    println!("cargo:rerun-if-env-changed=PPLCNET_L2_KIB");
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let user_model = std::env::var_os("PPLCNET_MODEL").filter(|v| !v.is_empty());
    let seeded_default = user_model.is_none();
    let model = user_model
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join(DEFAULT_MODEL));
    if seeded_default && !model.exists() {
        // The crates.io package leaves the 26 MB demo model out (its limit is 10 MB).
        fail(
            "no model to embed: set PPLCNET_MODEL to an exported model (an .onnx file, a Paddle \
             inference directory, or its .tar), e.g. one of PaddleClas's official PP-LCNet / \
             PP-LCNetV2 inference models listed in PaddleClas's docs/en/models/ImageNet1k \
             model list (PPLCNetV2_base_infer.tar)",
        );
    }
    // The file, or for a Paddle directory the directory and its model and parameter files.
    for input in pplcnet_codegen::load::input_files(&model) {
        println!("cargo:rerun-if-changed={}", input.display());
    }

    let mut compiler = pplcnet_codegen::Compiler::new(&model)
        .runtime_path("crate")
        .seeded_default(seeded_default)
        .l2_cache(l2_bytes());
    let yml = inference_yml(&model);
    let spec = input_spec(yml.as_ref().map_or_else(Default::default, |y| {
        y.input_spec(pplcnet_codegen::InputSpec::default())
    }));
    compiler = compiler.input(spec.clone());
    let precision = precision();
    compiler = compiler.precision(precision);
    if precision == pplcnet_codegen::Precision::Bf16 {
        compiler = compiler.bf16_isa(bf16_isa());
    }
    let labels_path = std::env::var_os("PPLCNET_LABELS").map(PathBuf::from);
    let num_classes = match compiler.optimized_graph() {
        Ok(g) => g.values[g.output].shape.iter().product::<usize>(),
        Err(e) => fail(&e.to_string()),
    };
    // PPLCNET_LABELS, else the model's own (ONNX metadata `character`), else ImageNet for 1000
    // outputs, else numbered names.
    let own = match pplcnet_codegen::load::model_labels(&model) {
        Ok(Some(l)) if l.len() == num_classes => Some(l),
        Ok(Some(l)) => {
            println!(
                "cargo:warning=the model's own label list has {} entries for {num_classes} outputs: not used",
                l.len()
            );
            None
        }
        Ok(None) => None,
        Err(e) => fail(&e.to_string()),
    };
    let yml_labels = yml.as_ref().and_then(|y| {
        let l = y.labels.clone()?;
        if l.len() != num_classes {
            fail(&format!(
                "{}: PostProcess label_list has {} labels for {num_classes} model outputs",
                y.path.display(),
                l.len()
            ));
        }
        Some(l)
    });
    let labels = match &labels_path {
        Some(p) => Some(read_labels(p, num_classes).unwrap_or_else(|e| fail(&e))),
        None if yml_labels.is_some() => yml_labels,
        None if own.is_some() => own,
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
    write_pipeline(&out, yml.as_ref(), &spec);
}

/// The `inference.yml` of the model: `PPLCNET_INFERENCE_YML` (a file, or `none`), else the one in
/// the model's directory (or beside the model file), if any.
fn inference_yml(
    model: &std::path::Path,
) -> Option<pplcnet_codegen::load::inference_yml::InferenceYml> {
    use pplcnet_codegen::load::inference_yml;
    let path = match env("PPLCNET_INFERENCE_YML") {
        Some(v) if v.eq_ignore_ascii_case("none") => return None,
        Some(v) => PathBuf::from(v),
        None => inference_yml::find(model)?,
    };
    println!("cargo:rerun-if-changed={}", path.display());
    Some(inference_yml::read(&path).unwrap_or_else(|e| fail(&e.to_string())))
}

/// Writes `pplcnet_pipeline.rs`: the preprocessing (`PPLCNET_RESIZE`: `short=N`, `exact` or `pad`;
/// else the inference.yml's; else PaddleClas's short side 256 scaled to the input) and the
/// multi-label threshold (`PPLCNET_THRESHOLD`, else the inference.yml's, else 0.5).
fn write_pipeline(
    out: &std::path::Path,
    yml: Option<&pplcnet_codegen::load::inference_yml::InferenceYml>,
    spec: &pplcnet_codegen::InputSpec,
) {
    use pplcnet_codegen::load::inference_yml::{preprocessing_expr, Postprocess, Resize};
    let resize = env("PPLCNET_RESIZE").map(|v| match v.trim() {
        "exact" => Resize::Exact {
            height: 0,
            width: 0,
        },
        "pad" => Resize::HeightPadWidth {
            height: 0,
            width: 0,
        },
        other => match other.strip_prefix("short=").map(|n| n.trim().parse::<u32>()) {
            Some(Ok(short)) if short > 0 => Resize::ShortSideCrop {
                short,
                crop_height: 0,
                crop_width: 0,
            },
            _ => fail(&format!(
                "PPLCNET_RESIZE={v:?}: expected short=N (resize the short side, center crop), exact or pad"
            )),
        },
    });
    let preprocessing = preprocessing_expr(yml, resize, spec);
    let threshold = match env("PPLCNET_THRESHOLD") {
        Some(v) => match v.trim().parse::<f32>() {
            Ok(t) if t.is_finite() => t,
            _ => fail(&format!("PPLCNET_THRESHOLD={v:?}: expected a number")),
        },
        None => match yml.and_then(|y| y.postprocess) {
            Some(Postprocess::MultiLabel { threshold }) => threshold,
            _ => 0.5,
        },
    };
    let source = yml.map_or("PaddleClas defaults".to_string(), |y| {
        y.path.display().to_string()
    });
    let text = format!(
        "// @generated by pplcnet's build.rs from {source:?} and the PPLCNET_* variables.\n\
         /// How an image becomes the embedded model's input.\n\
         pub const PREPROCESSING: Preprocessing = {preprocessing};\n\
         /// The score a multi-label class must reach to be reported (`MultiLabelThreshOutput`).\n\
         pub const THRESHOLD: f32 = {threshold:?};\n"
    );
    if let Err(e) = std::fs::write(out.join("pplcnet_pipeline.rs"), text) {
        fail(&format!("cannot write pplcnet_pipeline.rs: {e}"));
    }
}

/// The input size for dynamic graphs (`PPLCNET_INPUT_SIZE`: `N` for N x N or `HxW`, default 224)
/// and the normalisation (`PPLCNET_MEAN`, `PPLCNET_STD`: three values each, applied to x / 255 as
/// PaddleClas's `NormalizeImage`; default ImageNet's).
fn input_spec(mut spec: pplcnet_codegen::InputSpec) -> pplcnet_codegen::InputSpec {
    if let Some(size) = env("PPLCNET_INPUT_SIZE") {
        let side = |v: &str| {
            v.trim()
                .parse::<usize>()
                .ok()
                .filter(|&n| (1..=16384).contains(&n))
        };
        let (h, w) = match size.split_once(['x', 'X']) {
            Some((h, w)) => (side(h), side(w)),
            None => (side(&size), side(&size)),
        };
        let (Some(h), Some(w)) = (h, w) else {
            fail(&format!(
                "PPLCNET_INPUT_SIZE={size:?}: expected a side (224) or HEIGHTxWIDTH (48x192), 1 to 16384"
            ))
        };
        (spec.height, spec.width) = (h, w);
    }
    let triple = |name: &str, positive: bool| -> Option<[f32; 3]> {
        let v = env(name)?;
        let parsed: Vec<f32> = v.split(',').filter_map(|x| x.trim().parse().ok()).collect();
        match parsed[..] {
            [a, b, c]
                if [a, b, c]
                    .iter()
                    .all(|x| x.is_finite() && (!positive || *x > 0.0)) =>
            {
                Some([a, b, c])
            }
            _ => fail(&format!(
                "{name}={v:?}: expected three comma-separated {}numbers (r,g,b)",
                if positive { "positive " } else { "" }
            )),
        }
    };
    if let Some(m) = triple("PPLCNET_MEAN", false) {
        spec.mean = m;
    }
    if let Some(s) = triple("PPLCNET_STD", true) {
        spec.std = s;
    }
    spec
}

/// `PPLCNET_PRECISION` (`f32`, the default, or `bf16`: [`pplcnet_codegen::Precision::ALL`]).
fn precision() -> pplcnet_codegen::Precision {
    use pplcnet_codegen::Precision;
    let Some(value) = env("PPLCNET_PRECISION") else {
        return Precision::default();
    };
    Precision::parse(&value).unwrap_or_else(|| {
        let names: Vec<String> = Precision::ALL
            .iter()
            .map(|p| format!("{:?}", p.name()))
            .collect();
        fail(&format!(
            "PPLCNET_PRECISION={value:?}: expected one of {}",
            names.join(", ")
        ))
    })
}

/// The instructions of a bf16 build's matrix products: `PPLCNET_BF16_ISA` (`amx` or
/// `avx512bf16`), else AMX when the building CPU has it and builds for itself, else AVX512_BF16
/// when the target has it. AMX kernels build for any x86_64 target (they fall back to f32 FMAs at
/// run time where AMX is missing); `vdpbf16ps` ones need the target feature.
fn bf16_isa() -> pplcnet_codegen::Bf16Isa {
    use pplcnet_codegen::Bf16Isa;
    let features = std::env::var("CARGO_CFG_TARGET_FEATURE").unwrap_or_default();
    let has = |f: &str| features.split(',').any(|x| x == f);
    let x86_64 = std::env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|a| a == "x86_64");
    let dot = has("avx512bf16") && has("avx512f");
    let no_dot =
        "PPLCNET_BF16_ISA=avx512bf16 needs a target with AVX512_BF16: build on such a CPU \
                  with `-C target-cpu=native` (as .cargo/config.toml does) or add \
                  `-C target-feature=+avx512f,+avx512bf16` to RUSTFLAGS";
    match env("PPLCNET_BF16_ISA").as_deref() {
        Some("amx") if x86_64 => Bf16Isa::Amx,
        Some("amx") => fail("PPLCNET_BF16_ISA=amx needs an x86_64 target"),
        Some("avx512bf16") if dot => Bf16Isa::Avx512Bf16,
        Some("avx512bf16") => fail(no_dot),
        Some(other) => fail(&format!(
            "PPLCNET_BF16_ISA={other:?}: expected \"amx\" or \"avx512bf16\""
        )),
        None if x86_64 && native_build() && host_has_amx() => Bf16Isa::Amx,
        None if dot => Bf16Isa::Avx512Bf16,
        None => fail(
            "PPLCNET_PRECISION=bf16 needs AVX512_BF16 or AMX, and this build has neither: build \
             on such a CPU with `-C target-cpu=native` (as .cargo/config.toml does), or set \
             PPLCNET_BF16_ISA=amx to build AMX kernels for another machine (they run on f32 FMAs \
             where AMX is missing)",
        ),
    }
}

/// L2 cache per core of the CPU the code is for: `PPLCNET_L2_KIB`, else, when building for the
/// building machine, its own (Linux sysfs), else unknown.
fn l2_bytes() -> Option<usize> {
    if let Some(v) = env("PPLCNET_L2_KIB") {
        return match v.parse::<usize>() {
            Ok(kib) if kib > 0 => Some(kib << 10),
            _ => fail(&format!(
                "PPLCNET_L2_KIB={v:?}: expected the L2 cache per core in KiB, e.g. 1024"
            )),
        };
    }
    if !native_build() {
        return None;
    }
    let dir = std::path::Path::new("/sys/devices/system/cpu/cpu0/cache");
    std::fs::read_dir(dir).ok()?.flatten().find_map(|entry| {
        let read = |f: &str| std::fs::read_to_string(entry.path().join(f)).ok();
        if read("level")?.trim() != "2" || read("type")?.trim() == "Instruction" {
            return None;
        }
        // "512K" (Linux writes KiB; accept "2M" too).
        let size = read("size")?;
        let size = size.trim();
        match size.strip_suffix('K') {
            Some(kib) => kib.parse::<usize>().ok().map(|k| k << 10),
            None => size
                .strip_suffix('M')?
                .parse::<usize>()
                .ok()
                .map(|m| m << 20),
        }
    })
}

/// A non-empty environment variable.
fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.is_empty())
}

/// Whether the build is for the building machine (same target triple as the host).
fn native_build() -> bool {
    std::env::var("TARGET").ok() == std::env::var("HOST").ok()
}

/// CPUID of the building CPU: AMX-TILE and AMX-BF16 (leaf 7, EDX bits 24 and 22).
#[cfg(target_arch = "x86_64")]
fn host_has_amx() -> bool {
    use std::arch::x86_64::__cpuid_count;
    // SAFETY: CPUID exists on every x86_64 CPU (leaf 7 is used only when leaf 0 reports it).
    #[allow(unused_unsafe)]
    let (max, edx) = unsafe { (__cpuid_count(0, 0).eax, __cpuid_count(7, 0).edx) };
    max >= 7 && edx >> 22 & 1 == 1 && edx >> 24 & 1 == 1
}

#[cfg(not(target_arch = "x86_64"))]
fn host_has_amx() -> bool {
    false
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
