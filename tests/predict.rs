//! `predict_paths` / `Predictor`: file -> PaddleClas preprocessing -> classify -> top-k, checked
//! against the same steps done by hand, plus error reporting that names the file and goes on.
#![cfg(feature = "image")]

use std::path::{Path, PathBuf};

fn demo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("model_assets/chelsea.png")
}

#[test]
fn predict_paths_matches_manual_pipeline() {
    let img = pplcnet::preprocess::load_image(&demo()).unwrap();
    let mut input = [0u8; pplcnet::INPUT_LEN];
    pplcnet::preprocess::preprocess_into(&img, &Default::default(), &mut input).unwrap();
    let out = pplcnet::classify(&input);
    let want = pplcnet::top_k::<5>(&out);

    let results: Vec<_> = pplcnet::predict_paths([demo(), demo()]).collect();
    assert_eq!(results.len(), 2);
    for r in results {
        let p = r.unwrap();
        assert_eq!(p.filename, demo().display().to_string());
        assert_eq!(p.class_ids, want.iter().map(|t| t.0).collect::<Vec<_>>());
        assert_eq!(p.scores, want.iter().map(|t| t.1).collect::<Vec<_>>());
        assert_eq!(
            p.label_names,
            want.iter()
                .map(|t| pplcnet::LABELS[t.0])
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn preprocess_image_matches_preprocess_into() {
    let img = pplcnet::preprocess::load_image(&demo()).unwrap();
    let mut want = [0u8; pplcnet::INPUT_LEN];
    pplcnet::preprocess::preprocess_into(&img, &Default::default(), &mut want).unwrap();
    let got = pplcnet::preprocess_image(&pplcnet::image::DynamicImage::ImageRgb8(img)).unwrap();
    assert!(got[..] == want[..]);
}

#[test]
fn errors_name_the_file_and_iteration_continues() {
    let dir = std::env::temp_dir().join(format!("pplcnet-predict-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("not-an-image.jpg");
    std::fs::write(&bad, b"this is text").unwrap();
    let missing = dir.join("missing.png");
    let results: Vec<_> = pplcnet::predict_paths([bad.clone(), missing.clone(), demo()]).collect();
    let e0 = results[0].as_ref().unwrap_err().to_string();
    assert!(e0.contains("not-an-image.jpg"), "{e0}");
    let e1 = results[1].as_ref().unwrap_err().to_string();
    assert!(e1.contains("missing.png"), "{e1}");
    assert!(results[2].is_ok());
    let top3 = pplcnet::Predictor::new()
        .with_top_k(3)
        .predict_path(&demo())
        .unwrap();
    assert_eq!(top3.class_ids.len(), 3);
    std::fs::remove_dir_all(&dir).ok();
}
