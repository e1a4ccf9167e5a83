//! How an image becomes the embedded model's input, and how its outputs are reported: what the
//! model's `inference.yml` (PaddleX / PaddleOCR) says, or PaddleClas's ImageNet defaults, as
//! overridden by the `PPLCNET_*` variables at build time. `no_std`: the image code that applies it
//! is [`preprocess::Pipeline`](crate::preprocess::Pipeline) (feature `image`).

/// How an image is resized to the model's `INPUT_HEIGHT` x `INPUT_WIDTH` (bilinear, as OpenCV's
/// `INTER_LINEAR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resize {
    /// The short side to `short`, then the centered crop (PaddleClas `ResizeImage: resize_short`
    /// + `CropImage`).
    ShortSideCrop {
        /// The short side after resizing.
        short: u32,
    },
    /// Stretched to exactly the input size (`ResizeImage: size`, PaddleX's text-line and
    /// attribute models).
    Exact,
    /// Resized to the input height keeping the aspect ratio (the width rounded up, at most the
    /// input width), then padded on the right (PaddleOCR's `ClsResizeImg`).
    HeightPadWidth,
}

/// The preprocessing the embedded model expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preprocessing {
    pub resize: Resize,
    /// The model reads BGR (PaddleOCR's `DecodeImage: img_mode: BGR`): channels are swapped
    /// after resizing, so the input bytes are B, G, R.
    pub bgr: bool,
    /// The bytes [`Resize::HeightPadWidth`] pads with, per input channel: the normalisation mean
    /// in pixel units, rounded (PaddleOCR pads the normalised image with 0, i.e. exactly the mean).
    pub pad: [u8; 3],
}

impl Preprocessing {
    /// PaddleClas's ImageNet pipeline: short side 256, center crop.
    pub const PADDLECLAS: Preprocessing = Preprocessing {
        resize: Resize::ShortSideCrop { short: 256 },
        bgr: false,
        pad: [124, 116, 104],
    };
}

mod generated {
    use super::{Preprocessing, Resize};
    include!(concat!(env!("OUT_DIR"), "/pplcnet_pipeline.rs"));
}

pub use generated::{PREPROCESSING, THRESHOLD};
