//! Bytes -> the `.tar` / `.tar.gz` archive reader of the Paddle front end (gzip by magic bytes), then
//! the program and parameter parsers and, on success, the whole compile pipeline.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use pplcnet_codegen::{load, InputSpec};

fuzz_target!(|data: &[u8]| {
    let loaded =
        load::load_paddle_archive_bytes(Path::new("fuzz.tar"), data, &InputSpec::default());
    if let Ok(graph) = loaded {
        pplcnet_fuzz::compile(graph);
    }
});
