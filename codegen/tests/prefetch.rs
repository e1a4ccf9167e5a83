//! Which pointwise convs prefetch later layers' weights, by the L2 cache of the target
//! (`emit::prefetch`): all hosts with an unknown or large L2, none with a small one.

use std::path::Path;

use pplcnet_codegen::Compiler;

/// Layers of the default model whose summary says they prefetch later layers.
fn hosts(l2: Option<usize>) -> usize {
    let model = Path::new(env!("CARGO_MANIFEST_DIR")).join("../model_assets/pplcnetv2_base.onnx");
    let emitted = Compiler::new(model)
        .l2_cache(l2)
        .compile_in_memory("w.bin")
        .unwrap_or_else(|e| panic!("{e}"));
    emitted
        .layers
        .iter()
        .filter(|l| l.contains("+prefetch"))
        .count()
}

#[test]
fn hosts_prefetch_later_layers_unless_the_l2_is_small() {
    let unknown = hosts(None);
    assert!(unknown >= 10, "{unknown} hosts with an unknown L2");
    assert_eq!(hosts(Some(2 << 20)), unknown, "2 MiB L2 (Xeon)");
    assert_eq!(hosts(Some(1 << 20)), unknown, "1 MiB L2 (Zen 4 / Zen 5)");
    assert_eq!(hosts(Some(512 << 10)), 0, "512 KiB L2 (Zen 3)");
}
