//! The model-specific preprocessing modes (`pplcnet::preprocess::Pipeline`: PaddleX's exact
//! resize, PaddleClas's short side + non-square crop, PaddleOCR's `ClsResizeImg` height resize with
//! right padding, BGR output) against opencv-python: `tests/data/preprocess/pipeline_cases.txt`,
//! made by `tools/make_pipeline_reference.py`. PNG inputs, so every byte must match.
#![cfg(feature = "image")]

use std::path::PathBuf;

use pplcnet::preprocess::{load_image, padded_width, Pipeline, PreprocessError};
use pplcnet::{Preprocessing, Resize};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/preprocess")
}

#[test]
fn pipeline_modes_match_opencv() {
    let text = std::fs::read_to_string(dir().join("pipeline_cases.txt")).expect("cases file");
    let mut n = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [mode, input, h, w, s, bgr, pad, expected] = f[..] else {
            panic!("bad line {line:?}")
        };
        let resize = match mode {
            "exact" => Resize::Exact,
            "short" => Resize::ShortSideCrop {
                short: s.parse().unwrap(),
            },
            "pad" => Resize::HeightPadWidth,
            other => panic!("mode {other}"),
        };
        let pad = if pad == "-" {
            [0; 3]
        } else {
            let v: Vec<u8> = pad.split(',').map(|x| x.parse().unwrap()).collect();
            [v[0], v[1], v[2]]
        };
        let p = Pipeline {
            preprocessing: Preprocessing {
                resize,
                bgr: bgr == "1",
                pad,
            },
            height: h.parse().unwrap(),
            width: w.parse().unwrap(),
            allow_upscale: true,
        };
        let img = load_image(&dir().join(input)).unwrap();
        let want = load_image(&dir().join(expected)).unwrap();
        let mut got = vec![0u8; p.output_len()];
        p.run_into(&img, &mut got).unwrap();
        assert_eq!(got, want.as_raw()[..], "{line}");
        n += 1;
    }
    assert_eq!(n, 24, "cases");
}

#[test]
fn padded_width_follows_paddleocr() {
    // ceil(48 * w / h), at most 192, at least 1
    assert_eq!(padded_width(100, 48, 48, 192), 100);
    assert_eq!(padded_width(1000, 48, 48, 192), 192);
    assert_eq!(padded_width(97, 61, 48, 192), 77); // 76.33 -> 77
    assert_eq!(padded_width(1, 10_000, 48, 192), 1);
}

#[test]
fn wrong_sizes_are_errors_not_panics() {
    let img = image::RgbImage::new(10, 10);
    let mut p = Pipeline {
        preprocessing: Preprocessing::PADDLECLAS,
        height: 24,
        width: 40,
        allow_upscale: false,
    };
    let mut out = vec![0u8; p.output_len()];
    assert!(matches!(
        p.run_into(&img, &mut out),
        Err(PreprocessError::InvalidConfig(_)) | Err(PreprocessError::TooSmall { .. })
    ));
    assert!(matches!(
        p.run_into(&img, &mut out[1..]),
        Err(PreprocessError::OutputSize { .. })
    ));
    p.height = 0;
    assert!(p.run_into(&img, &mut []).is_err());
    p.preprocessing.resize = Resize::HeightPadWidth;
    p.height = 8;
    assert!(p
        .run_into(&image::RgbImage::new(0, 5), &mut vec![0; 8 * 40 * 3])
        .is_err());
}
