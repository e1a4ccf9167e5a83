//! PaddleClas-exact image preprocessing: decode, resize the short side, center crop.
//!
//! PaddleClas's deploy pipeline (`deploy/python/predict_cls.py`, `deploy/configs/inference_cls.yaml`)
//! does, for every image:
//!
//! 1. `cv2.imread(path)` (IMREAD_COLOR: 8-bit, 3 channels, EXIF orientation applied), then BGR → RGB;
//! 2. `percent = 256 / min(W, H)`, `w = round(W * percent)`, `h = round(H * percent)` (Python's
//!    round: half to even) and `cv2.resize(img, (w, h))`, i.e. OpenCV's `INTER_LINEAR` on `u8`;
//! 3. a 224×224 center crop at `((w - 224) // 2, (h - 224) // 2)`.
//!
//! This module reproduces steps 2 and 3 bit for bit: [`resize_short_side`] is a re-implementation of
//! OpenCV's fixed-point bilinear resize (11-bit coefficients, half-pixel centres, border clamping,
//! and the exact rounding of its vertical pass), checked against opencv-python by
//! `tests/preprocess.rs` with data made by `tools/make_preprocess_reference.py`.
//!
//! Step 1 uses the `image` crate. PNG, BMP, GIF, TIFF and WebP decode to the same pixels as OpenCV
//! (alpha dropped without blending, grey replicated, 16-bit reduced with `>> 8` like libpng's
//! `png_set_strip_16`). JPEG decoding differs slightly from libjpeg-turbo's (IDCT and chroma
//! upsampling rounding): typically a few units on a small fraction of pixels, see the tests.
//!
//! The resize and crop are fused: [`preprocess_into`] only computes the pixels inside the crop,
//! which are identical to the corresponding pixels of the full resized image.

use std::fmt;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageDecoder, ImageReader, RgbImage};

/// The largest image [`decode_image`] accepts, in pixels (width × height).
pub const MAX_PIXELS: u64 = 100_000_000;
/// The most memory an image decoder may allocate, in bytes.
pub const MAX_DECODER_ALLOC: u64 = 1 << 30;
/// The largest file [`load_image`] reads, in bytes.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// Errors from decoding and preprocessing. Nothing in this module panics on user input.
#[derive(Debug)]
#[non_exhaustive]
pub enum PreprocessError {
    /// The file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The input is empty (zero bytes).
    Empty,
    /// The bytes are not an image in a supported format, or are corrupt or truncated.
    Decode(image::ImageError),
    /// The image is smaller than the crop and upscaling was not allowed.
    TooSmall {
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
        /// The crop size.
        crop: u32,
    },
    /// The image (or file) is larger than the limits, which bound memory use: at most
    /// [`MAX_PIXELS`] pixels, [`MAX_DECODER_ALLOC`] bytes of decoder memory, [`MAX_FILE_BYTES`].
    TooLarge {
        /// Image width (0 if unknown).
        width: u32,
        /// Image height (0 if unknown).
        height: u32,
        /// Which limit.
        limit: String,
    },
    /// The configuration cannot work (a zero size, or a crop larger than the resized short side).
    InvalidConfig(String),
    /// The output buffer does not have `crop * crop * 3` bytes.
    OutputSize {
        /// `crop * crop * 3`.
        expected: usize,
        /// The buffer's length.
        got: usize,
    },
}

impl fmt::Display for PreprocessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PreprocessError::Io { path, source } => write!(f, "cannot read {}: {}", path.display(), source),
            PreprocessError::Empty => write!(f, "the file is empty (0 bytes)"),
            PreprocessError::Decode(e) => write!(f, "cannot decode the image: {e}"),
            PreprocessError::TooSmall { width, height, crop } => write!(
                f,
                "the image is {width}x{height}, smaller than the {crop}x{crop} crop (allow upscaling to accept it)"
            ),
            PreprocessError::TooLarge { width, height, limit } => {
                if *width > 0 && *height > 0 {
                    write!(f, "the image is too large ({width}x{height}): {limit}")
                } else {
                    write!(f, "the image is too large: {limit}")
                }
            }
            PreprocessError::InvalidConfig(m) => write!(f, "invalid preprocessing configuration: {m}"),
            PreprocessError::OutputSize { expected, got } => {
                write!(f, "output buffer has {got} bytes, expected {expected}")
            }
        }
    }
}

impl std::error::Error for PreprocessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PreprocessError::Io { source, .. } => Some(source),
            PreprocessError::Decode(e) => Some(e),
            _ => None,
        }
    }
}

/// Resize-and-crop settings. [`Default`] is PaddleClas's: short side 256, crop 224.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreprocessConfig {
    /// The short side after resizing (PaddleClas `ResizeImage.resize_short`, 256).
    pub resize_short: u32,
    /// The side of the square center crop (PaddleClas `CropImage.size`, 224).
    pub crop: u32,
    /// Accept images whose short side is smaller than `crop` (they are upscaled, as PaddleClas
    /// does unconditionally). When false they are rejected with [`PreprocessError::TooSmall`].
    pub allow_upscale: bool,
}

impl PreprocessConfig {
    /// PaddleClas's deploy settings: resize short side to 256, center crop 224, no tiny images.
    pub const PADDLECLAS: PreprocessConfig = PreprocessConfig {
        resize_short: 256,
        crop: 224,
        allow_upscale: false,
    };

    /// Bytes of the output: `crop * crop * 3`.
    pub fn output_len(&self) -> usize {
        self.crop as usize * self.crop as usize * 3
    }
}

impl Default for PreprocessConfig {
    fn default() -> Self {
        Self::PADDLECLAS
    }
}

fn decode_err(e: image::ImageError, width: u32, height: u32) -> PreprocessError {
    match e {
        image::ImageError::Limits(l) => PreprocessError::TooLarge {
            width,
            height,
            limit: l.to_string(),
        },
        other => PreprocessError::Decode(other),
    }
}

/// Decodes an image file's bytes (JPEG, PNG, BMP, GIF, TIFF, WebP; the format is sniffed from the
/// content) to 8-bit RGB the way OpenCV's `imread(IMREAD_COLOR)` followed by BGR→RGB does:
/// EXIF orientation applied, grey replicated, alpha dropped (not blended), 16-bit samples reduced
/// with `>> 8`. Memory is bounded: images over [`MAX_PIXELS`] are refused from their header,
/// and decoders may not allocate more than [`MAX_DECODER_ALLOC`]. A JPEG without its end-of-image
/// marker (a truncated file) is refused rather than decoded with grey where data is missing.
pub fn decode_image(bytes: &[u8]) -> Result<RgbImage, PreprocessError> {
    decode_image_limited(bytes, MAX_PIXELS)
}

/// [`decode_image`] refusing images of more than `max_pixels` pixels (width × height, at most
/// [`MAX_PIXELS`]) from their header, before anything is decoded.
pub fn decode_image_limited(bytes: &[u8], max_pixels: u64) -> Result<RgbImage, PreprocessError> {
    let max_pixels = max_pixels.min(MAX_PIXELS);
    let (mut decoder, width, height) = open_decoder(bytes)?;
    if width as u64 * height as u64 > max_pixels {
        return Err(PreprocessError::TooLarge {
            width,
            height,
            limit: format!("more than {max_pixels} pixels"),
        });
    }
    if width == 0 || height == 0 {
        return Err(PreprocessError::Decode(image::ImageError::Limits(
            image::error::LimitError::from_kind(image::error::LimitErrorKind::DimensionError),
        )));
    }
    // EXIF orientation (JPEG, PNG eXIf, WebP, TIFF); a broken EXIF block is ignored like OpenCV.
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let img = DynamicImage::from_decoder(decoder).map_err(|e| decode_err(e, width, height))?;
    let rgb = to_rgb8_like_opencv(img);
    let mut dynimg = DynamicImage::ImageRgb8(rgb);
    dynimg.apply_orientation(orientation);
    match dynimg {
        DynamicImage::ImageRgb8(rgb) => Ok(rgb),
        other => Ok(other.to_rgb8()),
    }
}

/// The width and height an encoded image declares in its header, read without decoding any
/// pixels (milliseconds even for a decompression bomb). The same checks as [`decode_image`]
/// (format, truncated JPEG) apply.
pub fn image_dimensions(bytes: &[u8]) -> Result<(u32, u32), PreprocessError> {
    let (_, width, height) = open_decoder(bytes)?;
    Ok((width, height))
}

/// The decoder for `bytes` (format sniffed, memory limited) and the image's declared size.
fn open_decoder(bytes: &[u8]) -> Result<(impl ImageDecoder + use<'_>, u32, u32), PreprocessError> {
    if bytes.is_empty() {
        return Err(PreprocessError::Empty);
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| PreprocessError::Decode(image::ImageError::IoError(e)))?;
    if reader.format() == Some(image::ImageFormat::Jpeg) && !jpeg_has_end(bytes) {
        return Err(PreprocessError::Decode(image::ImageError::Decoding(
            image::error::DecodingError::new(
                image::ImageFormat::Jpeg.into(),
                "the JPEG is truncated (no end-of-image marker after its last scan)",
            ),
        )));
    }
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODER_ALLOC);
    reader.limits(limits);
    let decoder = reader.into_decoder().map_err(|e| decode_err(e, 0, 0))?;
    let (width, height) = decoder.dimensions();
    Ok((decoder, width, height))
}

/// Whether a JPEG stream has an end-of-image marker (`FF D9`) after its last start-of-scan
/// (`FF DA`). Entropy-coded data stuffs every `FF` byte with `00`, so neither marker can occur
/// inside it; the last scan is the main image's (an EXIF thumbnail comes before it), and a file
/// cut anywhere in or after its header lacks the end marker behind it. Trailing bytes after the
/// end marker (some cameras append data) are accepted.
fn jpeg_has_end(bytes: &[u8]) -> bool {
    let last_sos = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]);
    let from = last_sos.unwrap_or(0);
    bytes[from..].windows(2).any(|w| w == [0xFF, 0xD9])
}

/// 8-bit RGB exactly as OpenCV's IMREAD_COLOR produces it (then flipped to RGB).
fn to_rgb8_like_opencv(img: DynamicImage) -> RgbImage {
    let (w, h) = (img.width(), img.height());
    fn build(w: u32, h: u32, src: &[u8], step: usize, f: impl Fn(&[u8]) -> [u8; 3]) -> RgbImage {
        let mut out = Vec::with_capacity(w as usize * h as usize * 3);
        for px in src.chunks_exact(step) {
            out.extend_from_slice(&f(px));
        }
        RgbImage::from_raw(w, h, out).expect("size matches")
    }
    fn build16(
        w: u32,
        h: u32,
        src: &[u16],
        step: usize,
        f: impl Fn(&[u16]) -> [u8; 3],
    ) -> RgbImage {
        let mut out = Vec::with_capacity(w as usize * h as usize * 3);
        for px in src.chunks_exact(step) {
            out.extend_from_slice(&f(px));
        }
        RgbImage::from_raw(w, h, out).expect("size matches")
    }
    // libpng's png_set_strip_16 keeps the high byte.
    let hi = |v: u16| (v >> 8) as u8;
    match img {
        DynamicImage::ImageRgb8(b) => b,
        DynamicImage::ImageRgba8(b) => build(w, h, b.as_raw(), 4, |p| [p[0], p[1], p[2]]),
        DynamicImage::ImageLuma8(b) => build(w, h, b.as_raw(), 1, |p| [p[0]; 3]),
        DynamicImage::ImageLumaA8(b) => build(w, h, b.as_raw(), 2, |p| [p[0]; 3]),
        DynamicImage::ImageRgb16(b) => {
            build16(w, h, b.as_raw(), 3, |p| [hi(p[0]), hi(p[1]), hi(p[2])])
        }
        DynamicImage::ImageRgba16(b) => {
            build16(w, h, b.as_raw(), 4, |p| [hi(p[0]), hi(p[1]), hi(p[2])])
        }
        DynamicImage::ImageLuma16(b) => build16(w, h, b.as_raw(), 1, |p| [hi(p[0]); 3]),
        DynamicImage::ImageLumaA16(b) => build16(w, h, b.as_raw(), 2, |p| [hi(p[0]); 3]),
        // Float images (TIFF): clamp and scale, alpha dropped.
        other => other.to_rgb8(),
    }
}

/// Reads and decodes an image file (see [`decode_image`]; the file is read with
/// [`read_file_limited`] and at most [`MAX_FILE_BYTES`]).
pub fn load_image(path: &Path) -> Result<RgbImage, PreprocessError> {
    let bytes = read_file_limited(path, MAX_FILE_BYTES)?;
    decode_image(&bytes)
}

/// Reads a whole regular file of at most `limit` bytes. Directories, FIFOs, sockets and devices
/// are refused before they are opened (opening a FIFO waits for a writer; `/dev/zero` never
/// ends), and the read itself stops after `limit + 1` bytes, so a file that grows while it is
/// read cannot exhaust memory either.
pub fn read_file_limited(path: &Path, limit: u64) -> Result<Vec<u8>, PreprocessError> {
    use std::io::Read;
    let io = |source| PreprocessError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        return Err(io(std::io::Error::other("is a directory")));
    }
    if !meta.is_file() {
        return Err(io(std::io::Error::other(
            "not a regular file (a FIFO, socket or device); only regular files are read",
        )));
    }
    let too_large = |len: u64| PreprocessError::TooLarge {
        width: 0,
        height: 0,
        limit: format!("the file has {len} bytes, more than {limit}"),
    };
    if meta.len() > limit {
        return Err(too_large(meta.len()));
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(PreprocessError::TooLarge {
            width: 0,
            height: 0,
            limit: format!("the file has more than {limit} bytes"),
        });
    }
    Ok(bytes)
}

/// The size PaddleClas resizes a `width`×`height` image to: the short side becomes `short`,
/// the other `round(side * short / min(width, height))` computed in `f64` and rounded half to
/// even like Python's `round`.
pub fn resized_size(width: u32, height: u32, short: u32) -> (u32, u32) {
    if width == 0 || height == 0 {
        return (0, 0);
    }
    let percent = short as f64 / width.min(height) as f64;
    let w = (width as f64 * percent).round_ties_even();
    let h = (height as f64 * percent).round_ties_even();
    (w as u32, h as u32) // `as` saturates
}

/// Resizes so that the short side is `short` (see [`resized_size`]) with bilinear interpolation
/// identical to OpenCV's `cv2.resize(..., INTER_LINEAR)` on 8-bit images.
///
/// An empty image, or `short == 0`, gives an empty image.
pub fn resize_short_side(img: &RgbImage, short: u32) -> RgbImage {
    let (dw, dh) = resized_size(img.width(), img.height(), short);
    if dw == 0 || dh == 0 {
        return RgbImage::new(0, 0);
    }
    let mut out = vec![0u8; dw as usize * dh as usize * 3];
    resize_window(img, dw, dh, 0, 0, dw, dh, &mut out);
    RgbImage::from_raw(dw, dh, out).expect("size matches")
}

/// Resizes to exactly `width`×`height` with OpenCV `INTER_LINEAR` semantics (an empty image for a
/// zero size or an empty input).
pub fn resize_exact(img: &RgbImage, width: u32, height: u32) -> RgbImage {
    if width == 0 || height == 0 || img.width() == 0 || img.height() == 0 {
        return RgbImage::new(0, 0);
    }
    let mut out = vec![0u8; width as usize * height as usize * 3];
    resize_window(img, width, height, 0, 0, width, height, &mut out);
    RgbImage::from_raw(width, height, out).expect("size matches")
}

/// The square center crop of side `size` at `((w - size) / 2, (h - size) / 2)` (floor).
pub fn center_crop(img: &RgbImage, size: u32) -> Result<RgbImage, PreprocessError> {
    let (w, h) = img.dimensions();
    if size == 0 {
        return Err(PreprocessError::InvalidConfig("crop size 0".into()));
    }
    if w < size || h < size {
        return Err(PreprocessError::TooSmall {
            width: w,
            height: h,
            crop: size,
        });
    }
    let (x0, y0) = ((w - size) / 2, (h - size) / 2);
    Ok(image::imageops::crop_imm(img, x0, y0, size, size).to_image())
}

/// Resizes the short side to `cfg.resize_short` and center-crops `cfg.crop`, writing
/// `crop * crop * 3` bytes of HWC RGB into `out`: exactly what PaddleClas feeds its normalizer.
/// Only the pixels inside the crop are computed.
pub fn preprocess_into(
    img: &RgbImage,
    cfg: &PreprocessConfig,
    out: &mut [u8],
) -> Result<(), PreprocessError> {
    if cfg.resize_short == 0 || cfg.crop == 0 {
        return Err(PreprocessError::InvalidConfig(
            "resize_short and crop must be positive".into(),
        ));
    }
    if cfg.crop > cfg.resize_short {
        return Err(PreprocessError::InvalidConfig(format!(
            "crop {} is larger than the resized short side {}",
            cfg.crop, cfg.resize_short
        )));
    }
    let expected = cfg.output_len();
    if out.len() != expected {
        return Err(PreprocessError::OutputSize {
            expected,
            got: out.len(),
        });
    }
    let (w, h) = img.dimensions();
    if w == 0 || h == 0 || (!cfg.allow_upscale && w.min(h) < cfg.crop) {
        return Err(PreprocessError::TooSmall {
            width: w,
            height: h,
            crop: cfg.crop,
        });
    }
    let (dw, dh) = resized_size(w, h, cfg.resize_short);
    if dw < cfg.crop || dh < cfg.crop {
        return Err(PreprocessError::TooSmall {
            width: dw,
            height: dh,
            crop: cfg.crop,
        });
    }
    let (x0, y0) = ((dw - cfg.crop) / 2, (dh - cfg.crop) / 2);
    resize_window(img, dw, dh, x0, y0, cfg.crop, cfg.crop, out);
    Ok(())
}

/// [`load_image`] then [`preprocess_into`] into a new `crop * crop * 3` vector.
pub fn preprocess_path(path: &Path, cfg: &PreprocessConfig) -> Result<Vec<u8>, PreprocessError> {
    let img = load_image(path)?;
    let mut out = vec![0u8; cfg.output_len()];
    preprocess_into(&img, cfg, &mut out)?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// OpenCV INTER_LINEAR on u8 (modules/imgproc/src/resize.cpp, cv::hal::resize + resizeGeneric_)
//
// Coefficients: for each destination index d, with scale = 1 / (dst / src) in f64,
//   f = (float)((d + 0.5) * scale - 0.5); s = floor(f); f -= s;
//   weights (1 - f, f) in f32, each scaled by 2048 and rounded to nearest even into i16.
// Horizontally, s < 0 is clamped to (s = 0, f = 0), and from the first d with s + 1 >= src on
// the output is src[last] * 2048. Vertically nothing is clamped except the row indices
// (rows s and s + 1 are clipped into [0, src)), so the border rows keep their raw weights.
// Horizontal pass: i32 = a0 * p[s] + a1 * p[s + 1] (exact).
// Vertical pass (the SIMD `VResizeLinearVec_32s8u` and, in OpenCV >= 4.x, the matching scalar
// tail): u8 = (((b0 * (r0 >> 4)) >> 16) + ((b1 * (r1 >> 4)) >> 16) + 2) >> 2.
// The exact-2x downscale that OpenCV routes to INTER_AREA's fast path ((a+b+c+d+2)>>2) gives the
// same numbers with these formulas, so it needs no special case; neither does the same-size copy.

const COEF_SCALE: f32 = 2048.0;

#[inline]
fn coef(v: f32) -> i32 {
    // saturate_cast<short>(float): round to nearest, ties to even, then clamp.
    (v * COEF_SCALE)
        .round_ties_even()
        .clamp(i16::MIN as f32, i16::MAX as f32) as i32
}

/// Source index (clamped) and fixed-point weights for each destination index along one axis.
struct AxisTable {
    /// First source index.
    src: Vec<u32>,
    /// Second source index (already clamped into the image).
    src1: Vec<u32>,
    /// Weights (w0, w1), scaled by 2048.
    w: Vec<(i32, i32)>,
}

/// `horizontal`: OpenCV's x rules (clamp s and f at both borders, "xmax" copy rule);
/// otherwise the y rules (raw weights, clipped row indices).
fn axis_table(src_len: u32, dst_len: u32, start: u32, count: u32, horizontal: bool) -> AxisTable {
    let inv_scale = dst_len as f64 / src_len as f64;
    let scale = 1.0 / inv_scale;
    let n = count as usize;
    let mut t = AxisTable {
        src: Vec::with_capacity(n),
        src1: Vec::with_capacity(n),
        w: Vec::with_capacity(n),
    };
    let last = src_len as i64 - 1;
    for d in start..start + count {
        let mut f = ((d as f64 + 0.5) * scale - 0.5) as f32;
        let mut s = f.floor() as i64;
        f -= s as f32;
        if horizontal {
            if s < 0 {
                s = 0;
                f = 0.0;
            }
            if s + 1 >= src_len as i64 {
                // OpenCV: dx >= xmax -> D = S[sx] * 2048 with sx clamped to the last pixel.
                // (xmax is the first such dx; s is non-decreasing in d.)
                let s = s.min(last).max(0) as u32;
                t.src.push(s);
                t.src1.push(s);
                t.w.push((2048, 0));
                continue;
            }
            t.src.push(s as u32);
            t.src1.push(s as u32 + 1);
            t.w.push((coef(1.0 - f), coef(f)));
        } else {
            let s0 = s.clamp(0, last) as u32;
            let s1 = (s + 1).clamp(0, last) as u32;
            t.src.push(s0);
            t.src1.push(s1);
            t.w.push((coef(1.0 - f), coef(f)));
        }
    }
    t
}

/// Horizontal pass of one source row into `buf` (`xt.len() * 3` values).
fn hpass(row: &[u8], xt: &AxisTable, buf: &mut [i32]) {
    for (i, ((&s0, &s1), &(a0, a1))) in xt.src.iter().zip(&xt.src1).zip(&xt.w).enumerate() {
        let p0 = &row[s0 as usize * 3..s0 as usize * 3 + 3];
        let p1 = &row[s1 as usize * 3..s1 as usize * 3 + 3];
        let o = &mut buf[i * 3..i * 3 + 3];
        if a1 == 0 && a0 == 2048 {
            o[0] = p0[0] as i32 * 2048;
            o[1] = p0[1] as i32 * 2048;
            o[2] = p0[2] as i32 * 2048;
        } else {
            o[0] = p0[0] as i32 * a0 + p1[0] as i32 * a1;
            o[1] = p0[1] as i32 * a0 + p1[1] as i32 * a1;
            o[2] = p0[2] as i32 * a0 + p1[2] as i32 * a1;
        }
    }
}

#[inline]
fn vpass(r0: &[i32], r1: &[i32], b0: i32, b1: i32, out: &mut [u8]) {
    for ((o, &t0), &t1) in out.iter_mut().zip(r0).zip(r1) {
        let v = ((b0 * (t0 >> 4)) >> 16) + ((b1 * (t1 >> 4)) >> 16);
        *o = ((v + 2) >> 2).clamp(0, 255) as u8;
    }
}

/// Computes the window `[x0, x0 + cw) × [y0, y0 + ch)` of `img` resized to `dw`×`dh` into `out`
/// (`cw * ch * 3` bytes, row-major RGB).
#[allow(clippy::too_many_arguments)]
fn resize_window(
    img: &RgbImage,
    dw: u32,
    dh: u32,
    x0: u32,
    y0: u32,
    cw: u32,
    ch: u32,
    out: &mut [u8],
) {
    let (sw, sh) = img.dimensions();
    debug_assert!(sw > 0 && sh > 0 && x0 + cw <= dw && y0 + ch <= dh);
    debug_assert_eq!(out.len(), cw as usize * ch as usize * 3);
    let xt = axis_table(sw, dw, x0, cw, true);
    let yt = axis_table(sh, dh, y0, ch, false);
    let raw = img.as_raw();
    let stride = sw as usize * 3;
    let row = |y: u32| &raw[y as usize * stride..(y as usize + 1) * stride];
    let n = cw as usize * 3;
    // Two cached horizontally-resized rows, keyed by source row.
    let mut bufs = [vec![0i32; n], vec![0i32; n]];
    let mut keys: [Option<u32>; 2] = [None, None];
    for (j, o) in out.chunks_exact_mut(n).enumerate() {
        let (s0, s1) = (yt.src[j], yt.src1[j]);
        let (b0, b1) = yt.w[j];
        // Make sure rows s0 and s1 are in the cache; prefer evicting a row that is not needed.
        let mut slot_of = |s: u32, keep: Option<usize>, bufs: &mut [Vec<i32>; 2]| -> usize {
            if let Some(i) = keys.iter().position(|&k| k == Some(s)) {
                return i;
            }
            let i = match keep {
                Some(k) => 1 - k,
                None => keys.iter().position(|&k| k != Some(s1)).unwrap_or(0),
            };
            hpass(row(s), &xt, &mut bufs[i]);
            keys[i] = Some(s);
            i
        };
        let i0 = slot_of(s0, None, &mut bufs);
        let i1 = slot_of(s1, Some(i0), &mut bufs);
        vpass(&bufs[i0], &bufs[i1], b0, b1, o);
    }
}

mod pipeline;
pub use pipeline::{padded_width, Pipeline};

#[cfg(test)]
mod tests;
