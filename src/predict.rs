//! Classify image files end to end, the Rust counterpart of PaddleClas's Python
//! `PaddleClas(...).predict(...)` generator and `deploy/python/predict_cls.py`: decode, preprocess
//! exactly like PaddleClas, run the embedded model, keep the top-k.
//!
//! ```no_run
//! for result in pplcnet::predict_paths(["cat.jpg", "dog.png"]) {
//!     match result {
//!         Ok(p) => println!("{}: {:?} {:?}", p.filename, p.class_ids, p.label_names),
//!         Err(e) => eprintln!("{e}"),
//!     }
//! }
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use image::{DynamicImage, RgbImage};

use crate::preprocess::{self, Pipeline, PreprocessConfig, PreprocessError};
use crate::{
    classify_with, over_threshold, top_k_vec, OutputKind, Preprocessing, Resize, Workspace,
    INPUT_HEIGHT, INPUT_LEN, INPUT_WIDTH, LABELS, MODEL, NUM_CLASSES, PREPROCESSING, THRESHOLD,
};

/// One image's result, with PaddleClas's field names.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// The image's path as given.
    pub filename: String,
    /// The top-k class ids, best first.
    pub class_ids: Vec<usize>,
    /// Their scores (probabilities when the model ends in softmax, else logits).
    pub scores: Vec<f32>,
    /// Their labels.
    pub label_names: Vec<&'static str>,
}

/// A file that could not be classified, and why.
#[derive(Debug)]
pub struct PredictError {
    /// The file.
    pub path: PathBuf,
    /// What went wrong reading, decoding or preprocessing it.
    pub error: PreprocessError,
}

impl fmt::Display for PredictError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `PreprocessError::Io` already names the file.
        match &self.error {
            PreprocessError::Io { .. } => write!(f, "{}", self.error),
            e => write!(f, "{}: {e}", self.path.display()),
        }
    }
}

impl std::error::Error for PredictError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// The preprocessing that fits the embedded model: PaddleClas's resize-short-256 / crop-224,
/// scaled to the model's input side when it is not 224 (`resize_short = round(side * 256 / 224)`).
pub fn model_preprocess_config() -> PreprocessConfig {
    let side = INPUT_WIDTH.min(INPUT_HEIGHT) as u32;
    PreprocessConfig {
        resize_short: ((side as f64) * 256.0 / 224.0).round() as u32,
        crop: side,
        ..PreprocessConfig::PADDLECLAS
    }
}

/// Preprocesses a decoded image for [`classify`](crate::classify) with the model's own
/// preprocessing ([`Pipeline::MODEL`]: its `inference.yml`'s, else PaddleClas's resize short side
/// and center crop): the exact `INPUT_LEN` bytes the network is fed, HWC.
pub fn preprocess_image(img: &DynamicImage) -> Result<Box<[u8; INPUT_LEN]>, PreprocessError> {
    let mut out = Box::new([0u8; INPUT_LEN]);
    let rgb = match img {
        DynamicImage::ImageRgb8(rgb) => std::borrow::Cow::Borrowed(rgb),
        other => std::borrow::Cow::Owned(other.to_rgb8()),
    };
    Pipeline::MODEL.run_into(&rgb, &mut out[..])?;
    Ok(out)
}

/// Classifies images one after another with one workspace and one input buffer, allocated once.
pub struct Predictor {
    workspace: Box<Workspace>,
    input: Box<[u8; INPUT_LEN]>,
    pipeline: Pipeline,
    top_k: usize,
}

impl Default for Predictor {
    fn default() -> Self {
        Self::new()
    }
}

impl Predictor {
    /// Top-5 (multi-label models: every class over [`THRESHOLD`]) with the model's preprocessing
    /// ([`Pipeline::MODEL`]).
    pub fn new() -> Self {
        Predictor {
            workspace: Workspace::new_boxed(),
            input: Box::new([0u8; INPUT_LEN]),
            pipeline: Pipeline::MODEL,
            top_k: 5,
        }
    }

    /// Keep the best `k` classes (at most `NUM_CLASSES`).
    pub fn with_top_k(mut self, k: usize) -> Self {
        self.top_k = k.min(NUM_CLASSES);
        self
    }

    /// Use PaddleClas's resize-short / center crop with these settings (the crop must still give
    /// `INPUT_LEN` bytes).
    pub fn with_config(mut self, config: PreprocessConfig) -> Self {
        self.pipeline = Pipeline {
            preprocessing: Preprocessing {
                resize: Resize::ShortSideCrop {
                    short: config.resize_short,
                },
                ..PREPROCESSING
            },
            height: config.crop,
            width: config.crop,
            allow_upscale: config.allow_upscale,
        };
        self
    }

    /// Use another preprocessing (its output must still be `INPUT_LEN` bytes).
    pub fn with_pipeline(mut self, pipeline: Pipeline) -> Self {
        self.pipeline = pipeline;
        self
    }

    /// Classifies an already decoded 8-bit RGB image.
    pub fn predict_image(
        &mut self,
        img: &RgbImage,
        filename: &str,
    ) -> Result<Prediction, PreprocessError> {
        self.pipeline.run_into(img, &mut self.input[..])?;
        let out = classify_with(&self.input, &mut self.workspace);
        let top = if MODEL.output == OutputKind::MultiLabel {
            over_threshold(&out, THRESHOLD)
        } else {
            top_k_vec(&out, self.top_k)
        };
        Ok(Prediction {
            filename: filename.to_owned(),
            class_ids: top.iter().map(|t| t.0).collect(),
            scores: top.iter().map(|t| t.1).collect(),
            label_names: top.iter().map(|t| LABELS[t.0]).collect(),
        })
    }

    /// Reads, decodes and classifies one image file.
    pub fn predict_path(&mut self, path: &Path) -> Result<Prediction, PredictError> {
        let err = |error| PredictError {
            path: path.to_path_buf(),
            error,
        };
        let img = preprocess::load_image(path).map_err(err)?;
        self.predict_image(&img, &path.display().to_string())
            .map_err(err)
    }
}

/// Classifies each path in turn (lazily, one workspace for all), yielding a result per path in
/// order; a file that cannot be read or decoded yields an error and the iteration goes on.
pub fn predict_paths<I>(paths: I) -> impl Iterator<Item = Result<Prediction, PredictError>>
where
    I: IntoIterator,
    I::Item: AsRef<Path>,
{
    let mut predictor: Option<Predictor> = None;
    paths.into_iter().map(move |p| {
        predictor
            .get_or_insert_with(Predictor::new)
            .predict_path(p.as_ref())
    })
}
