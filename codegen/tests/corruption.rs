//! Corrupted models through the codegen API: truncated, bytes flipped, or structurally mutated,
//! every one fails with an `Err` or compiles; none panics.

mod crafted;
mod support;

use crafted::*;
use pplcnet_codegen::load::onnx_proto::{data_type, AttributeProto, ModelProto};
use pplcnet_codegen::Compiler;
use prost::Message;
use support::Rng;

/// Runs `f`, turning a panic into `Err("<message> at <file:line>")` without printing it (panics are
/// what the corruption tests look for; other threads' panics are reported as usual).
fn catch_panic<T>(f: impl FnOnce() -> T + std::panic::UnwindSafe) -> Result<T, String> {
    use std::cell::{Cell, RefCell};
    thread_local! {
        static QUIET: Cell<bool> = const { Cell::new(false) };
        static LAST: RefCell<String> = const { RefCell::new(String::new()) };
    }
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let default_hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if QUIET.get() {
                let at = info.location().map(|l| l.to_string()).unwrap_or_default();
                let msg = info
                    .payload()
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                // The innermost frames in the code generator itself (the panic may be in core).
                let trace = std::backtrace::Backtrace::force_capture().to_string();
                let ours: Vec<&str> = trace
                    .lines()
                    .map(str::trim)
                    .filter(|l| l.starts_with("at ./src/"))
                    .take(3)
                    .collect();
                LAST.with_borrow_mut(|l| *l = format!("{msg} at {at} (via {})", ours.join(", ")));
            } else {
                default_hook(info);
            }
        }));
    });
    QUIET.set(true);
    let result = std::panic::catch_unwind(f);
    QUIET.set(false);
    result.map_err(|_| LAST.with_borrow(|l| l.clone()))
}

/// What compiling many corrupted variants of a model gave.
#[derive(Default)]
struct Outcomes {
    total: usize,
    /// Rejected with an error (which must name the file).
    failed: usize,
    /// `"variant <i>: <panic message>"`.
    panicked: Vec<String>,
}

impl Outcomes {
    /// Compiles the model at `dir/<module>.onnx` into `dir/<module>/` and records the outcome.
    fn compile(&mut self, dir: &std::path::Path, module: &str) {
        let (i, file) = (self.total, format!("{module}.onnx"));
        self.total += 1;
        let (path, out) = (dir.join(&file), dir.join(module));
        std::fs::create_dir_all(&out).unwrap();
        match catch_panic(|| Compiler::new(&path).compile_to(&out, module).map(|_| ())) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                self.failed += 1;
                let msg = e.to_string();
                assert!(
                    msg.contains(&file),
                    "variant {i}: message without the file: {msg}"
                );
            }
            Err(msg) => self.panicked.push(format!("variant {i}: {msg}")),
        }
    }

    /// Most variants rejected, none panicked.
    fn check(&self, what: &str) {
        let Outcomes { total, failed, .. } = *self;
        let panicked = &self.panicked;
        eprintln!(
            "{total} {what}: {failed} rejected, {} panicked",
            panicked.len()
        );
        assert!(failed > total / 4, "most corruptions must be detected");
        assert!(
            panicked.is_empty(),
            "{} panics:\n{}",
            panicked.len(),
            panicked[..panicked.len().min(20)].join("\n")
        );
    }
}

/// Truncated at many lengths and with random bytes changed, the model fails cleanly or compiles;
/// it never panics.
#[test]
fn corrupted_models_never_panic() {
    let good = tiny_model().encode_to_vec();
    let path = scratch().join("fuzz.onnx");
    let mut rng = Rng::new(42);
    let mut variants: Vec<Vec<u8>> = (0..good.len())
        .step_by(7)
        .map(|n| good[..n].to_vec())
        .collect();
    for _ in 0..3000 {
        let mut bytes = good.clone();
        for _ in 0..1 + rng.next() % 4 {
            let i = (rng.next() % bytes.len() as u64) as usize;
            bytes[i] = rng.next() as u8;
        }
        variants.push(bytes);
    }
    let mut outcomes = Outcomes::default();
    for bytes in &variants {
        std::fs::write(&path, bytes).unwrap();
        outcomes.compile(&scratch(), "fuzz");
    }
    outcomes.check("corrupted variants");
}

/// One random structural change to a valid model: shapes, attributes, wiring, op types, data types.
fn mutate(m: &mut ModelProto, rng: &mut Rng) {
    const OPS: [&str; 16] = [
        "Conv",
        "BatchNormalization",
        "Relu",
        "Add",
        "Mul",
        "Sub",
        "Div",
        "GlobalAveragePool",
        "Reshape",
        "Flatten",
        "Gemm",
        "MatMul",
        "Softmax",
        "Squeeze",
        "Unsqueeze",
        "Concat",
    ];
    let g = m.graph.as_mut().expect("graph");
    let pick = |rng: &mut Rng, n: usize| (rng.next() % n.max(1) as u64) as usize;
    // Mostly small sizes (-2..=9), sometimes huge ones (overflowing products).
    let small = |rng: &mut Rng| match rng.next() % 16 {
        0 => [1 << 31, 1 << 40, 1 << 62, i64::MAX, i64::MIN][(rng.next() % 5) as usize],
        _ => (rng.next() % 12) as i64 - 2,
    };
    let names: Vec<String> = g
        .node
        .iter()
        .flat_map(|n| n.input.iter().chain(&n.output).cloned())
        .collect();
    match rng.next() % 10 {
        0 => {
            // An attribute's integers.
            let n = pick(rng, g.node.len());
            if let Some(a) = g.node[n].attribute.first_mut() {
                let len = pick(rng, 6);
                a.ints = (0..len).map(|_| small(rng)).collect();
                a.i = small(rng);
            }
        }
        1 => {
            // A new attribute on a node.
            let n = pick(rng, g.node.len());
            let name = [
                "axis",
                "group",
                "strides",
                "pads",
                "kernel_shape",
                "transA",
                "axes",
                "keepdims",
            ][pick(rng, 8)];
            let len = pick(rng, 5);
            let a = AttributeProto {
                name: name.into(),
                i: small(rng),
                ints: (0..len).map(|_| small(rng)).collect(),
                ..Default::default()
            };
            g.node[n].attribute.push(a);
        }
        2 => {
            // An initializer's declared shape.
            let t = pick(rng, g.initializer.len());
            let rank = pick(rng, 5);
            g.initializer[t].dims = (0..rank).map(|_| small(rng).max(0)).collect();
        }
        3 => {
            // Rewire an input.
            let n = pick(rng, g.node.len());
            let i = pick(rng, g.node[n].input.len());
            if let Some(slot) = g.node[n].input.get_mut(i) {
                *slot = names[pick(rng, names.len())].clone();
            }
        }
        4 => {
            let n = pick(rng, g.node.len());
            g.node[n].op_type = OPS[pick(rng, OPS.len())].into();
        }
        5 => {
            let n = pick(rng, g.node.len());
            g.node.remove(n);
        }
        6 => {
            let t = pick(rng, g.initializer.len());
            g.initializer[t].data_type = [1, 6, 7, 11, 10, 0][pick(rng, 6)];
        }
        7 => {
            let dims: Vec<Option<i64>> = (0..pick(rng, 6))
                .map(|_| Some(small(rng)).filter(|&d| d != -1))
                .collect();
            g.input[0] = value_info("x", &dims);
        }
        8 => {
            // Integer constants (the Reshape target).
            for t in g
                .initializer
                .iter_mut()
                .filter(|t| t.data_type == data_type::INT64)
            {
                let len = pick(rng, 5);
                t.int64_data = (0..len).map(|_| small(rng)).collect();
                t.dims = vec![len as i64];
            }
        }
        _ => {
            // Drop or duplicate an input of a node.
            let n = pick(rng, g.node.len());
            if rng.next() % 2 == 0 {
                g.node[n].input.pop();
            } else if let Some(first) = g.node[n].input.first().cloned() {
                g.node[n].input.push(first);
            }
        }
    }
}

/// Structure-aware corruption (the byte flips above mostly hit weight data): the loader, the passes
/// and the emitter reject or compile each variant, never panic.
#[test]
fn structurally_corrupted_models_never_panic() {
    let path = scratch().join("fuzz2.onnx");
    let seed = std::env::var("PPLCNET_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4242);
    let mut rng = Rng::new(seed);
    let mut outcomes = Outcomes::default();
    // PPLCNET_FUZZ_ITERS=<n> runs a longer search.
    let total = std::env::var("PPLCNET_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000);
    for _ in 0..total {
        let mut m = tiny_model();
        for _ in 0..1 + rng.next() % 3 {
            mutate(&mut m, &mut rng);
        }
        std::fs::write(&path, m.encode_to_vec()).unwrap();
        outcomes.compile(&scratch(), "fuzz2");
    }
    outcomes.check("structurally corrupted variants");
}
