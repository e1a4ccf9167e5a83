//! Bytes -> the ONNX loader, and on success the whole compile pipeline (passes, plan, emission).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use pplcnet_codegen::{load, InputSpec};

fuzz_target!(|data: &[u8]| {
    if let Ok(graph) = load::load_onnx(Path::new("fuzz.onnx"), data, &InputSpec::default()) {
        pplcnet_fuzz::compile(graph);
    }
});
