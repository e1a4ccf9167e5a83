//! PaddleClas-exact preprocessing against opencv-python.
//!
//! The reference data in tests/data/preprocess/ is made by tools/make_preprocess_reference.py
//! (cv2.imread -> BGR2RGB -> cv2.resize INTER_LINEAR with Python-rounded sizes -> center crop).
//! PNG inputs must match exactly; JPEG inputs are decoded by the `image` crate instead of
//! libjpeg-turbo, so they carry a measured tolerance.
#![cfg(feature = "image")]

use std::path::{Path, PathBuf};

use image::RgbImage;
use pplcnet::preprocess::{
    center_crop, decode_image, load_image, preprocess_into, resize_short_side, PreprocessConfig,
    PreprocessError,
};

// ---- per-thread allocation accounting, to show that refusing a decompression bomb is cheap ----
#[path = "common/counting.rs"]
mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

use counting::peak_during;

// ---- helpers ----

/// Largest difference JPEG decoding (image crate vs libjpeg-turbo) may make, per channel value.
/// Measured (image 0.25.10 / zune-jpeg 0.5 vs opencv-python 4.14's libjpeg-turbo 3.1): 4:2:0 files
/// differ in ~15-20% of values, max 3, mean 0.23 (chroma upsampling); 4:4:4 and grey in <1%,
/// max 2; see `cargo test --test preprocess jpeg_cases -- --nocapture`.
const JPEG_MAX_ABS: u8 = 6;
/// And the largest mean absolute difference.
const JPEG_MAX_MEAN: f64 = 0.4;

/// `PPLCNET_PREPROCESS_REF=DIR` runs the same checks on another generated set
/// (`make_preprocess_reference.py --out DIR [--seed N]`).
fn data_dir() -> PathBuf {
    match std::env::var_os("PPLCNET_PREPROCESS_REF") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/preprocess"),
    }
}

fn read_png(name: &str) -> RgbImage {
    let p = data_dir().join(name);
    image::open(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .to_rgb8()
}

fn manifest() -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(data_dir().join("cases.txt"))
        .expect("tests/data/preprocess/cases.txt");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .collect()
}

#[derive(Default, Debug)]
struct Diff {
    values: usize,
    differ: usize,
    off_by_one: usize,
    max: u8,
    sum: u64,
}

impl Diff {
    fn of(a: &[u8], b: &[u8]) -> Diff {
        assert_eq!(a.len(), b.len());
        let mut d = Diff {
            values: a.len(),
            ..Default::default()
        };
        for (&x, &y) in a.iter().zip(b) {
            let e = x.abs_diff(y);
            if e > 0 {
                d.differ += 1;
                d.off_by_one += (e == 1) as usize;
            }
            d.max = d.max.max(e);
            d.sum += e as u64;
        }
        d
    }
    fn mean(&self) -> f64 {
        self.sum as f64 / self.values.max(1) as f64
    }
}

fn check(name: &str, got: &RgbImage, exp: &RgbImage, tol: Option<u8>) -> Diff {
    assert_eq!(got.dimensions(), exp.dimensions(), "{name}: size");
    let d = Diff::of(got.as_raw(), exp.as_raw());
    match tol {
        Some(0) | None if d.differ > 0 => panic!(
            "{name}: {} of {} values differ ({} by 1), max {}",
            d.differ, d.values, d.off_by_one, d.max
        ),
        Some(t) if t > 0 => {
            println!(
                "{name}: JPEG decode vs libjpeg-turbo: {} of {} values differ ({:.2}%), {} by 1, max {}, mean abs {:.4}",
                d.differ,
                d.values,
                100.0 * d.differ as f64 / d.values as f64,
                d.off_by_one,
                d.max,
                d.mean()
            );
            assert!(
                d.max <= t && d.mean() <= JPEG_MAX_MEAN,
                "{name}: JPEG difference too large: {d:?}"
            );
        }
        _ => {}
    }
    d
}

fn tol(s: &str) -> Option<u8> {
    if s == "JPEGTOL" {
        Some(JPEG_MAX_ABS)
    } else {
        Some(s.parse().unwrap())
    }
}

// ---- the cases ----

#[test]
fn resize_matches_opencv_exactly() {
    let mut n = 0;
    for c in manifest().iter().filter(|c| c[0] == "resize") {
        let (input, short, expected) = (&c[1], c[2].parse::<u32>().unwrap(), &c[3]);
        let img = read_png(input);
        let got = resize_short_side(&img, short);
        check(input, &got, &read_png(expected), Some(0));
        n += 1;
    }
    assert!(n >= 10, "only {n} resize cases");
}

#[test]
fn pipeline_matches_opencv_exactly_on_png() {
    let mut n = 0;
    for c in manifest()
        .iter()
        .filter(|c| c[0] == "pipeline" && c[6] != "JPEGTOL")
    {
        let cfg = PreprocessConfig {
            resize_short: c[2].parse().unwrap(),
            crop: c[3].parse().unwrap(),
            allow_upscale: c[4] == "1",
        };
        let img = load_image(&data_dir().join(&c[1])).unwrap();
        let mut out = vec![0u8; cfg.output_len()];
        preprocess_into(&img, &cfg, &mut out).unwrap();
        let got = RgbImage::from_raw(cfg.crop, cfg.crop, out).unwrap();
        check(&c[1], &got, &read_png(&c[5]), tol(&c[6]));
        // the fused resize+crop is the same as resize then crop
        let two_step = center_crop(&resize_short_side(&img, cfg.resize_short), cfg.crop).unwrap();
        assert_eq!(
            two_step, got,
            "{}: fused window differs from resize + crop",
            c[1]
        );
        n += 1;
    }
    assert!(n >= 10, "only {n} pipeline cases");
}

#[test]
fn decode_matches_opencv_imread_on_png() {
    for c in manifest()
        .iter()
        .filter(|c| c[0] == "decode" && c[3] != "JPEGTOL")
    {
        let got = load_image(&data_dir().join(&c[1])).unwrap();
        check(&c[1], &got, &read_png(&c[2]), tol(&c[3]));
    }
}

#[test]
fn jpeg_cases() {
    // Decoding and the whole pipeline on JPEGs: the image crate's decoder vs libjpeg-turbo.
    for c in manifest()
        .iter()
        .filter(|c| c.last().map(String::as_str) == Some("JPEGTOL"))
    {
        let img = load_image(&data_dir().join(&c[1])).unwrap();
        if c[0] == "decode" {
            check(
                &format!("decode {}", c[1]),
                &img,
                &read_png(&c[2]),
                tol(&c[3]),
            );
        } else {
            let cfg = PreprocessConfig {
                resize_short: c[2].parse().unwrap(),
                crop: c[3].parse().unwrap(),
                allow_upscale: c[4] == "1",
            };
            let mut out = vec![0u8; cfg.output_len()];
            preprocess_into(&img, &cfg, &mut out).unwrap();
            let got = RgbImage::from_raw(cfg.crop, cfg.crop, out).unwrap();
            check(
                &format!("pipeline {}", c[1]),
                &got,
                &read_png(&c[5]),
                tol(&c[6]),
            );
        }
    }
}

#[test]
fn exif_orientation_is_applied() {
    let mut n = 0;
    for c in manifest().iter().filter(|c| c[0] == "orient") {
        let got = load_image(&data_dir().join(&c[1])).unwrap();
        let plain = load_image(&data_dir().join(&c[2])).unwrap();
        let want = match c[3].as_str() {
            "3" => image::imageops::rotate180(&plain),
            "6" => image::imageops::rotate90(&plain),
            "8" => image::imageops::rotate270(&plain),
            o => panic!("orientation {o}"),
        };
        assert_eq!(got, want, "{}", c[1]);
        n += 1;
    }
    assert_eq!(n, 3);
}

#[test]
fn error_paths() {
    let mut n = 0;
    for c in manifest().iter().filter(|c| c[0] == "error") {
        let path = data_dir().join(&c[1]);
        let (r, peak) = peak_during(|| {
            load_image(&path).and_then(|img| {
                let cfg = PreprocessConfig::default();
                let mut out = vec![0u8; cfg.output_len()];
                preprocess_into(&img, &cfg, &mut out)
            })
        });
        let e = r.expect_err(&c[1]);
        let ok = matches!(
            (c[2].as_str(), &e),
            ("empty", PreprocessError::Empty)
                | ("decode", PreprocessError::Decode(_))
                | ("toolarge", PreprocessError::TooLarge { .. })
                | ("toosmall", PreprocessError::TooSmall { .. })
        );
        assert!(ok, "{}: expected {}, got {e:?}", c[1], c[2]);
        assert!(!e.to_string().is_empty());
        if c[2] == "toolarge" {
            assert!(
                peak < 16 << 20,
                "{}: refusing the bomb allocated {peak} bytes",
                c[1]
            );
        }
        n += 1;
    }
    assert!(n >= 6);
}

#[test]
fn missing_file_names_the_path() {
    let p = data_dir().join("does-not-exist.jpg");
    match load_image(&p) {
        Err(e @ PreprocessError::Io { .. }) => {
            assert!(e.to_string().contains("does-not-exist.jpg"), "{e}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn too_small_and_upscale() {
    let img = RgbImage::from_fn(200, 300, |x, y| image::Rgb([x as u8, y as u8, 7]));
    let mut out = vec![0u8; 224 * 224 * 3];
    let err = preprocess_into(&img, &PreprocessConfig::default(), &mut out).unwrap_err();
    assert!(
        matches!(
            err,
            PreprocessError::TooSmall {
                width: 200,
                height: 300,
                crop: 224
            }
        ),
        "{err:?}"
    );
    let up = PreprocessConfig {
        allow_upscale: true,
        ..Default::default()
    };
    preprocess_into(&img, &up, &mut out).unwrap();
    // center_crop on a too-small image
    assert!(matches!(
        center_crop(&img, 224),
        Err(PreprocessError::TooSmall { .. })
    ));
}

#[test]
fn truncated_jpeg_prefixes_never_panic() {
    // every prefix of a real JPEG either decodes or errors; none panics
    let bytes = std::fs::read(data_dir().join("photo_320x240.jpg")).unwrap();
    for len in (0..bytes.len()).step_by(97) {
        let _ = decode_image(&bytes[..len]);
    }
}

/// The real photos in ../shared/images (when present): JPEG decode differences vs libjpeg-turbo.
/// This only reports (the reference for these lives outside the repository).
#[test]
fn shared_photos_decode() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/images");
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        let img = load_image(&p).unwrap();
        let mut out = vec![0u8; 224 * 224 * 3];
        preprocess_into(&img, &PreprocessConfig::default(), &mut out).unwrap();
    }
}

#[test]
fn limited_decode_and_header_dimensions() {
    use pplcnet::preprocess::{decode_image_limited, image_dimensions, read_file_limited};
    let p = data_dir().join("photo_320x240.jpg");
    let bytes = read_file_limited(&p, 1 << 20).unwrap();
    assert_eq!(image_dimensions(&bytes).unwrap(), (320, 240));
    // At the limit it decodes, to exactly what decode_image gives; one pixel less is refused
    // from the header.
    let full = decode_image(&bytes).unwrap();
    assert_eq!(decode_image_limited(&bytes, 320 * 240).unwrap(), full);
    match decode_image_limited(&bytes, 320 * 240 - 1) {
        Err(PreprocessError::TooLarge {
            width: 320,
            height: 240,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // The bomb's header is read without decoding anything.
    let bomb = std::fs::read(data_dir().join("bomb_60000x60000.png")).unwrap();
    assert_eq!(image_dimensions(&bomb).unwrap(), (60000, 60000));
    // A file over the read limit is refused, not truncated.
    assert!(matches!(
        read_file_limited(&p, bytes.len() as u64 - 1),
        Err(PreprocessError::TooLarge { .. })
    ));
    assert_eq!(read_file_limited(&p, bytes.len() as u64).unwrap(), bytes);
}
