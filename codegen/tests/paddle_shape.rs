//! Shape arithmetic in Paddle PIR programs (PaddleOCR's `ClsHead`:
//! `reshape(x, [x.shape[0], x.shape[1]])` exports as `shape64`, `slice`, `full`, `combine`,
//! `stack`): folded into constants, and what cannot be folded fails naming the node and why.

use std::path::{Path, PathBuf};

use pplcnet_codegen::ir::Op;
use pplcnet_codegen::Compiler;

fn ppocr() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/paddlex/ppocr_mobilenetv3_cls")
}

/// The ppocr export with `from` replaced by `to` in its program (once; it must occur).
fn edited(name: &str, from: &str, to: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pplcnet_shape_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let json = std::fs::read_to_string(ppocr().join("inference.json")).unwrap();
    assert!(json.contains(from), "{from}");
    std::fs::write(dir.join("inference.json"), json.replacen(from, to, 1)).unwrap();
    std::fs::copy(
        ppocr().join("inference.pdiparams"),
        dir.join("inference.pdiparams"),
    )
    .unwrap();
    dir
}

fn load_err(dir: &Path) -> String {
    match Compiler::new(dir).optimized_graph() {
        Ok(_) => panic!("{} loaded, but an error was expected", dir.display()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn cls_head_reshape_folds_to_a_constant_shape() {
    let g = Compiler::new(ppocr()).optimized_graph().unwrap();
    assert_eq!(g.values[g.output].shape.iter().product::<usize>(), 2);
    assert!(g.nodes.iter().any(|n| matches!(n.op, Op::MaxPool(_))));
}

#[test]
fn combining_a_run_time_value_is_an_error() {
    let dir = edited(
        "combine",
        r#""I":[{"%":615},{"%":616}]"#,
        r#""I":[{"%":615},{"%":611}]"#,
    );
    let e = load_err(&dir);
    assert!(
        e.contains("inference.json") && e.contains("0.combine"),
        "{e}"
    );
    assert!(e.contains("computed at run time"), "{e}");
}

#[test]
fn slicing_another_axis_is_an_error() {
    let dir = edited(
        "slice",
        r##""D":[{"#":"0.a_i64","D":0}]},"N":"axes""##,
        r##""D":[{"#":"0.a_i64","D":1}]},"N":"axes""##,
    );
    let e = load_err(&dir);
    assert!(e.contains("1.slice") && e.contains("axis 0"), "{e}");
}
