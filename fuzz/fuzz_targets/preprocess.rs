//! Bytes -> image decoding (format sniffed: JPEG, PNG, BMP, GIF, TIFF, WebP) and PaddleClas
//! preprocessing (resize short side 256, center crop 224), with upscaling allowed so that small
//! images reach the resize code too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pplcnet::preprocess::{decode_image, preprocess_into, PreprocessConfig};

fuzz_target!(|data: &[u8]| {
    if let Ok(img) = decode_image(data) {
        let cfg = PreprocessConfig {
            allow_upscale: true,
            ..PreprocessConfig::PADDLECLAS
        };
        let mut out = vec![0u8; cfg.output_len()];
        let _ = preprocess_into(&img, &cfg, &mut out);
    }
});
