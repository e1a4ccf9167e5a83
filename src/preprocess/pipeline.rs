//! A model's own preprocessing ([`crate::Preprocessing`], from its `inference.yml`) applied to a
//! decoded image: PaddleClas's short-side resize and center crop, PaddleX's exact resize, or
//! PaddleOCR's `ClsResizeImg` (height kept, width padded), all with OpenCV `INTER_LINEAR` pixels.

use image::RgbImage;

use super::{preprocess_into, resize_window, PreprocessConfig, PreprocessError};
use crate::pipeline::{Preprocessing, Resize};

/// A [`Preprocessing`] for a `height` x `width` model input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pipeline {
    pub preprocessing: Preprocessing,
    pub height: u32,
    pub width: u32,
    /// [`Resize::ShortSideCrop`]: accept images whose short side is smaller than the crop by
    /// upscaling them (PaddleClas always does); otherwise they are refused as too small.
    pub allow_upscale: bool,
}

impl Pipeline {
    /// The embedded model's: [`crate::PREPROCESSING`] at `INPUT_HEIGHT` x `INPUT_WIDTH`.
    pub const MODEL: Pipeline = Pipeline {
        preprocessing: crate::PREPROCESSING,
        height: crate::INPUT_HEIGHT as u32,
        width: crate::INPUT_WIDTH as u32,
        allow_upscale: false,
    };

    /// Bytes of the output: `height * width * 3`.
    pub fn output_len(&self) -> usize {
        self.height as usize * self.width as usize * 3
    }

    /// Writes the `height * width * 3` input bytes (HWC; RGB, or BGR when the model reads BGR)
    /// for `img` into `out`.
    pub fn run_into(&self, img: &RgbImage, out: &mut [u8]) -> Result<(), PreprocessError> {
        let (h, w) = (self.height, self.width);
        if h == 0 || w == 0 {
            return Err(PreprocessError::InvalidConfig("input size 0".into()));
        }
        if out.len() != self.output_len() {
            return Err(PreprocessError::OutputSize {
                expected: self.output_len(),
                got: out.len(),
            });
        }
        let (iw, ih) = img.dimensions();
        if iw == 0 || ih == 0 {
            return Err(PreprocessError::TooSmall {
                width: iw,
                height: ih,
                crop: h.max(w),
            });
        }
        match self.preprocessing.resize {
            Resize::ShortSideCrop { short } if h == w => {
                let cfg = PreprocessConfig {
                    resize_short: short,
                    crop: h,
                    allow_upscale: self.allow_upscale,
                };
                preprocess_into(img, &cfg, out)?;
            }
            Resize::ShortSideCrop { short } => self.short_side_crop(img, short, out)?,
            Resize::Exact => resize_window(img, w, h, 0, 0, w, h, out),
            Resize::HeightPadWidth => {
                let rw = padded_width(iw, ih, h, w);
                let mut tmp = vec![0u8; rw as usize * h as usize * 3];
                resize_window(img, rw, h, 0, 0, rw, h, &mut tmp);
                let pad = self.preprocessing.pad;
                for (row, src) in out
                    .chunks_exact_mut(w as usize * 3)
                    .zip(tmp.chunks_exact(rw as usize * 3))
                {
                    row[..src.len()].copy_from_slice(src);
                    for px in row[src.len()..].chunks_exact_mut(3) {
                        px.copy_from_slice(&pad);
                    }
                }
            }
        }
        if self.preprocessing.bgr {
            for px in out.chunks_exact_mut(3) {
                px.swap(0, 2);
            }
        }
        Ok(())
    }

    /// Non-square crops: the short side to `short`, then the centered `width` x `height` window.
    fn short_side_crop(
        &self,
        img: &RgbImage,
        short: u32,
        out: &mut [u8],
    ) -> Result<(), PreprocessError> {
        let (h, w) = (self.height, self.width);
        if h.max(w) > short {
            return Err(PreprocessError::InvalidConfig(format!(
                "crop {w}x{h} is larger than the resized short side {short}"
            )));
        }
        let (iw, ih) = img.dimensions();
        if !self.allow_upscale && iw.min(ih) < h.max(w) {
            return Err(PreprocessError::TooSmall {
                width: iw,
                height: ih,
                crop: h.max(w),
            });
        }
        let (dw, dh) = super::resized_size(iw, ih, short);
        if dw < w || dh < h {
            return Err(PreprocessError::TooSmall {
                width: dw,
                height: dh,
                crop: h.max(w),
            });
        }
        resize_window(img, dw, dh, (dw - w) / 2, (dh - h) / 2, w, h, out);
        Ok(())
    }
}

/// PaddleOCR `ClsResizeImg`'s width for an `iw` x `ih` image resized to height `h`:
/// `ceil(h * iw / ih)` (in f64, as Python), at most `w`, at least 1.
pub fn padded_width(iw: u32, ih: u32, h: u32, w: u32) -> u32 {
    let ratio = iw as f64 / ih as f64;
    let rw = (h as f64 * ratio).ceil();
    if rw > w as f64 {
        w
    } else {
        (rw as u32).max(1)
    }
}
