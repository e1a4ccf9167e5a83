//! `inference.yml` (PaddleX / PaddleOCR): what the compiler reads from it, and errors that name
//! the file, the op and the reason.

use std::path::Path;

use pplcnet_codegen::load::inference_yml::{self, Postprocess, Resize};

fn parse(text: &str) -> Result<inference_yml::InferenceYml, String> {
    inference_yml::parse(Path::new("m/inference.yml"), text).map_err(|e| e.to_string())
}

fn data(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/paddlex")
        .join(name)
}

#[test]
fn paddlex_imagenet_style() {
    let y = inference_yml::read(&data("pplcnet_doc_ori/inference.yml")).unwrap();
    assert_eq!(y.model_name.as_deref(), Some("PP-LCNet_x1_0_doc_ori"));
    assert_eq!(
        y.resize,
        Some(Resize::ShortSideCrop {
            short: 256,
            crop_height: 224,
            crop_width: 224
        })
    );
    assert_eq!(y.input_size(), Some((224, 224)));
    let (mean, std, scale) = y.normalize.unwrap();
    assert_eq!((mean, std), ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]));
    assert_eq!(scale, (1.0f64 / 255.0) as f32);
    assert_eq!(y.labels.unwrap(), ["0", "90", "180", "270"]);
    assert_eq!(y.postprocess, Some(Postprocess::Topk { topk: 1 }));
    assert!(!y.bgr);
}

#[test]
fn exact_size_is_width_then_height() {
    let y = inference_yml::read(&data("pplcnet_pedestrian_attribute/inference.yml")).unwrap();
    assert_eq!(
        y.resize,
        Some(Resize::Exact {
            height: 256,
            width: 192
        })
    );
    assert_eq!(
        y.postprocess,
        Some(Postprocess::MultiLabel { threshold: 0.5 })
    );
    let labels = y.labels.unwrap();
    assert_eq!((labels.len(), labels[13].as_str()), (26, "Skirt&Dress"));
    let y = inference_yml::read(&data("pplcnet_textline_ori/inference.yml")).unwrap();
    assert_eq!(y.input_size(), Some((80, 160)));
}

#[test]
fn paddleocr_cls_layout() {
    let y = inference_yml::read(&data("ppocr_mobilenetv3_cls/inference.yml")).unwrap();
    assert_eq!(
        y.resize,
        Some(Resize::HeightPadWidth {
            height: 48,
            width: 192
        })
    );
    assert_eq!(
        y.normalize,
        Some(([0.5; 3], [0.5; 3], (1.0f64 / 255.0) as f32))
    );
    assert!(y.bgr);
    assert_eq!(y.labels.unwrap(), ["0", "180"]);
    assert_eq!(y.postprocess, Some(Postprocess::Topk { topk: 1 }));
}

#[test]
fn paddleclas_config_spellings() {
    let y = parse(
        "PreProcess:\n  transform_ops:\n  - DecodeImage: {to_rgb: true, channel_first: false}\n  \
         - ResizeImage: {size: 96}\n  - NormalizeImage:\n      scale: 1.0/255.0\n      \
         mean: [0.5, 0.5, 0.5]\n      std: [0.5, 0.5, 0.5]\n      order: ''\n  - ToCHWImage:\n",
    )
    .unwrap();
    assert_eq!(
        y.resize,
        Some(Resize::Exact {
            height: 96,
            width: 96
        })
    );
    assert_eq!(y.normalize.unwrap().2, (1.0f64 / 255.0) as f32);
    assert_eq!((y.labels, y.postprocess), (None, None));
}

#[test]
fn unknown_ops_fail_by_name() {
    let e = parse("PreProcess:\n  transform_ops:\n  - ResizeImage: {size: 96}\n  - RandCropImage: {size: 8}\n")
        .unwrap_err();
    assert!(
        e.contains("m/inference.yml") && e.contains("RandCropImage"),
        "{e}"
    );
    assert!(
        e.contains("transform_ops[1]") && e.contains("unknown transform op"),
        "{e}"
    );
    let e = parse("PostProcess:\n  PersonAttribute: {threshold: 0.5}\n").unwrap_err();
    assert!(
        e.contains("PersonAttribute") && e.contains("unknown post-processing"),
        "{e}"
    );
}

#[test]
fn bad_arguments_fail_with_the_reason() {
    for (text, want) in [
        ("PreProcess:\n  transform_ops:\n  - ResizeImage: {resize_short: 0}\n", "resize_short"),
        ("PreProcess:\n  transform_ops:\n  - ResizeImage: {size: 9, interpolation: bicubic}\n", "interpolation"),
        ("PreProcess:\n  transform_ops:\n  - ResizeImage: {resize_short: 256}\n", "without CropImage"),
        ("PreProcess:\n  transform_ops:\n  - ResizeImage: {resize_short: 100}\n  - CropImage: {size: 224}\n", "larger"),
        ("PreProcess:\n  transform_ops:\n  - NormalizeImage: {std: [0, 1, 1]}\n", "std"),
        ("PreProcess:\n  transform_ops:\n  - NormalizeImage: {order: chw}\n", "order"),
        ("PreProcess:\n  transform_ops:\n  - ClsResizeImg: {image_shape: [1, 48, 192]}\n", "3 channels"),
        ("PostProcess:\n  Topk: {topk: 0}\n", "topk"),
        ("PostProcess:\n  Topk: {label_list: 5}\n", "label_list"),
        ("- a\n- b\n", "mapping"),
        ("PreProcess: [unclosed\n", "not valid YAML"),
    ] {
        let e = parse(text).unwrap_err();
        assert!(e.contains(want), "{text:?}: {e}");
    }
}

#[test]
fn found_beside_a_model_file_or_in_its_directory() {
    let dir = data("pplcnet_doc_ori");
    assert_eq!(inference_yml::find(&dir), Some(dir.join("inference.yml")));
    assert_eq!(
        inference_yml::find(&dir.join("inference.onnx")),
        Some(dir.join("inference.yml"))
    );
    assert_eq!(
        inference_yml::find(Path::new("/nonexistent/model.onnx")),
        None
    );
}
