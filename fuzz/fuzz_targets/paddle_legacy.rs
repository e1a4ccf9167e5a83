//! Bytes split into (legacy `ProgramDesc` protobuf `inference.pdmodel`, `inference.pdiparams`) -> the Paddle loader, and on
//! success the whole compile pipeline. Input layout: see `pplcnet_fuzz::split2`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pplcnet_codegen::load::PaddleFormat;

fuzz_target!(|data: &[u8]| {
    pplcnet_fuzz::load_and_compile_paddle(PaddleFormat::Legacy, "inference.pdmodel", data);
});
