//! Bytes split into (legacy `ProgramDesc` protobuf `inference.pdmodel`, `inference.pdiparams`) -> the Paddle loader, and on
//! success the whole compile pipeline. Input layout: see `pplcnet_fuzz::split2`.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use pplcnet_codegen::{load, InputSpec};

fuzz_target!(|data: &[u8]| {
    let (model, params) = pplcnet_fuzz::split2(data);
    let loaded = load::load_paddle_bytes(
        load::PaddleFormat::Legacy,
        Path::new("fuzz/inference.pdmodel"),
        model,
        Path::new("fuzz/inference.pdiparams"),
        params,
        &InputSpec::default(),
    );
    if let Ok(graph) = loaded {
        pplcnet_fuzz::compile(graph);
    }
});
