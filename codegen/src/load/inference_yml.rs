//! PaddleX / PaddleOCR `inference.yml`: the pre- and post-processing a model directory describes.
//!
//! PaddleX writes one next to every exported model (`PreProcess.transform_ops`, `PostProcess` with
//! `Topk` or `MultiLabelThreshOutput` and their `label_list`); PaddleOCR's exports use the same
//! layout with `PostProcess.name` (`ClsPostProcess`). [`read`] turns it into an [`InferenceYml`]:
//! the input size, normalisation, resize mode, channel order, labels and output kind. Transform
//! ops it does not know fail with the file, the op and the reason.

use std::path::{Path, PathBuf};

use yaml_rust2::{Yaml, YamlLoader};

use crate::error::{Error, Result};
use crate::InputSpec;

/// How an image becomes the model's input before normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resize {
    /// `ResizeImage: resize_short` then `CropImage: size`: the short side to `short` (bilinear),
    /// then a centered `crop_height` x `crop_width` crop (PaddleClas's ImageNet pipeline).
    ShortSideCrop {
        short: u32,
        crop_height: u32,
        crop_width: u32,
    },
    /// `ResizeImage: size: [w, h]`: stretched to exactly `width` x `height` (bilinear).
    Exact { height: u32, width: u32 },
    /// PaddleOCR's `ClsResizeImg` (and PaddleX's text-line classifiers): resized to `height`
    /// keeping the aspect ratio, the width rounded up and capped at `width`, then padded on the
    /// right to `width`.
    HeightPadWidth { height: u32, width: u32 },
}

/// What the model's output means, from `PostProcess`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Postprocess {
    /// `Topk` (or PaddleOCR's `ClsPostProcess`): one class per image, best first.
    Topk { topk: usize },
    /// `MultiLabelThreshOutput`: every class scoring at least `threshold`.
    MultiLabel { threshold: f32 },
}

/// What an `inference.yml` says about a model.
#[derive(Debug, Clone, PartialEq)]
pub struct InferenceYml {
    /// The file read.
    pub path: PathBuf,
    /// `Global.model_name`, if given.
    pub model_name: Option<String>,
    /// The resize mode; its output size is the model's input size.
    pub resize: Option<Resize>,
    /// `NormalizeImage` (or `ClsResizeImg`'s fixed one): scale, mean, std per RGB channel.
    pub normalize: Option<([f32; 3], [f32; 3], f32)>,
    /// True when the model reads BGR images (`DecodeImage: img_mode: BGR` or `to_rgb: false`).
    pub bgr: bool,
    /// `label_list` of the post-processing, in class order.
    pub labels: Option<Vec<String>>,
    pub postprocess: Option<Postprocess>,
}

impl InferenceYml {
    /// Height and width of the model input the preprocessing produces.
    pub fn input_size(&self) -> Option<(usize, usize)> {
        Some(match self.resize? {
            Resize::ShortSideCrop {
                crop_height,
                crop_width,
                ..
            } => (crop_height as usize, crop_width as usize),
            Resize::Exact { height, width } | Resize::HeightPadWidth { height, width } => {
                (height as usize, width as usize)
            }
        })
    }
}

impl InferenceYml {
    /// `spec` with this file's input size (used when the graph's is dynamic) and normalisation.
    pub fn input_spec(&self, mut spec: InputSpec) -> InputSpec {
        if let Some((h, w)) = self.input_size() {
            (spec.height, spec.width) = (h, w);
        }
        if let Some((mean, std, scale)) = self.normalize {
            (spec.mean, spec.std, spec.scale) = (mean, std, scale);
        }
        spec
    }
}

/// `pplcnet::Preprocessing` as a Rust expression (with `Preprocessing` and `Resize` in scope): the
/// resize mode `resize` (else the file's, else PaddleClas's short side 256 scaled to the input
/// side), BGR when the file says so, and the padding bytes: the normalisation mean of `spec` in
/// pixel units, `round(mean / scale)` in f32 (127 for PaddleOCR's 0.5 and 1/255).
pub fn preprocessing_expr(
    yml: Option<&InferenceYml>,
    resize: Option<Resize>,
    spec: &InputSpec,
) -> String {
    let resize = match resize.or(yml.and_then(|y| y.resize)) {
        Some(Resize::ShortSideCrop { short, .. }) => {
            format!("Resize::ShortSideCrop {{ short: {short} }}")
        }
        Some(Resize::Exact { .. }) => "Resize::Exact".to_string(),
        Some(Resize::HeightPadWidth { .. }) => "Resize::HeightPadWidth".to_string(),
        None => {
            let side = spec.height.min(spec.width) as f64;
            let short = (side * 256.0 / 224.0).round() as u32;
            format!("Resize::ShortSideCrop {{ short: {short} }}")
        }
    };
    let bgr = yml.is_some_and(|y| y.bgr);
    let pad = [0, 1, 2].map(|c| (spec.mean[c] / spec.scale).round().clamp(0.0, 255.0) as u8);
    format!("Preprocessing {{ resize: {resize}, bgr: {bgr}, pad: {pad:?} }}")
}

/// The `inference.yml` that belongs to the model at `model`: inside a model directory, or next to
/// a model file (`inference.onnx`, `inference.json`, ...). `None` when there is none.
pub fn find(model: &Path) -> Option<PathBuf> {
    let dir = if model.is_dir() {
        model
    } else {
        model.parent()?
    };
    ["inference.yml", "inference.yaml"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// Reads and interprets an `inference.yml`.
pub fn read(path: &Path) -> Result<InferenceYml> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::file(path, format!("cannot read: {e}")))?;
    parse(path, &text)
}

/// Interprets the text of an `inference.yml` (`path` names it in errors).
pub fn parse(path: &Path, text: &str) -> Result<InferenceYml> {
    let docs = YamlLoader::load_from_str(text)
        .map_err(|e| Error::file(path, format!("not valid YAML: {e}")))?;
    let doc = docs.first().unwrap_or(&Yaml::Null);
    if !doc.is_hash() {
        return Err(Error::file(path, "expected a mapping at the top level"));
    }
    let mut out = InferenceYml {
        path: path.to_path_buf(),
        model_name: doc["Global"]["model_name"].as_str().map(str::to_string),
        resize: None,
        normalize: None,
        bgr: false,
        labels: None,
        postprocess: None,
    };
    let ops = &doc["PreProcess"]["transform_ops"];
    if !ops.is_badvalue() {
        let list = ops
            .as_vec()
            .ok_or_else(|| Error::file(path, "PreProcess.transform_ops: expected a list of ops"))?;
        let mut pre = Pre::default();
        for (i, op) in list.iter().enumerate() {
            let (name, args) = single_entry(op).ok_or_else(|| {
                Error::node(
                    path,
                    &format!("PreProcess.transform_ops[{i}]"),
                    "?",
                    "expected `- OpName: {arguments}`",
                )
            })?;
            let at = Op {
                path,
                index: i,
                name,
            };
            pre.apply(&at, args)?;
        }
        out.resize = pre.resize(path)?;
        out.normalize = pre.normalize;
        out.bgr = pre.bgr;
    }
    postprocess(path, &doc["PostProcess"], &mut out)?;
    Ok(out)
}

/// The one `key: value` entry of a mapping.
fn single_entry(y: &Yaml) -> Option<(&str, &Yaml)> {
    let h = y.as_hash()?;
    if h.len() != 1 {
        return None;
    }
    let (k, v) = h.iter().next()?;
    Some((k.as_str()?, v))
}

/// A transform op being read, for error messages.
struct Op<'a> {
    path: &'a Path,
    index: usize,
    name: &'a str,
}

impl Op<'_> {
    fn err(&self, reason: impl Into<String>) -> Error {
        Error::node(
            self.path,
            &format!("PreProcess.transform_ops[{}]", self.index),
            self.name,
            reason,
        )
    }

    /// A positive integer argument.
    fn side(&self, v: &Yaml, what: &str) -> Result<u32> {
        v.as_i64()
            .filter(|&n| (1..=16384).contains(&n))
            .map(|n| n as u32)
            .ok_or_else(|| self.err(format!("{what}: expected an integer from 1 to 16384")))
    }

    /// `size: N` (square) or `size: [w, h]`, as (height, width).
    fn size_hw(&self, v: &Yaml, what: &str) -> Result<(u32, u32)> {
        match v.as_vec().map(Vec::as_slice) {
            Some([w, h]) => Ok((self.side(h, what)?, self.side(w, what)?)),
            Some(_) => Err(self.err(format!("{what}: expected N or [width, height]"))),
            None => self.side(v, what).map(|n| (n, n)),
        }
    }

    /// Three numbers.
    fn triple(&self, v: &Yaml, what: &str, positive: bool) -> Result<[f32; 3]> {
        let vals: Option<Vec<f32>> = v
            .as_vec()
            .map(|l| l.iter().map(|x| number(x).map(|f| f as f32)).collect())
            .unwrap_or(None);
        match vals.as_deref() {
            Some(&[a, b, c])
                if [a, b, c]
                    .iter()
                    .all(|x| x.is_finite() && (!positive || *x > 0.0)) =>
            {
                Ok([a, b, c])
            }
            _ => Err(self.err(format!(
                "{what}: expected three {}numbers",
                if positive { "positive " } else { "" }
            ))),
        }
    }
}

/// A number: an integer, a float, or a quotient written as a string (`1.0/255.0`).
fn number(v: &Yaml) -> Option<f64> {
    match v {
        Yaml::Integer(i) => Some(*i as f64),
        Yaml::Real(_) => v.as_f64(),
        Yaml::String(s) => match s.split_once('/') {
            Some((a, b)) => {
                let (a, b): (f64, f64) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
                (b != 0.0).then_some(a / b)
            }
            None => s.trim().parse().ok(),
        },
        _ => None,
    }
}

/// The preprocessing read so far.
#[derive(Default)]
struct Pre {
    short: Option<u32>,
    exact: Option<(u32, u32)>,
    crop: Option<(u32, u32)>,
    pad: Option<(u32, u32)>,
    normalize: Option<([f32; 3], [f32; 3], f32)>,
    bgr: bool,
}

/// Ops that do not change the pixels the model sees (decoding aside, which is read for its
/// channel order): layout, bookkeeping, training-only label encoding.
const NEUTRAL_OPS: [&str; 4] = ["ToCHWImage", "KeepKeys", "ClsLabelEncode", "DecodeImage"];

impl Pre {
    fn apply(&mut self, op: &Op, args: &Yaml) -> Result<()> {
        let arg = |k: &str| &args[k];
        match op.name {
            "DecodeImage" => {
                let mode = arg("img_mode").as_str();
                self.bgr = mode.is_some_and(|m| m.eq_ignore_ascii_case("bgr"))
                    || arg("to_rgb").as_bool() == Some(false);
            }
            "ResizeImage" => {
                let interp = arg("interpolation");
                let bilinear = interp.is_badvalue()
                    || interp.is_null()
                    || interp.as_str().is_some_and(|s| {
                        ["bilinear", "linear"].contains(&s.to_lowercase().as_str())
                    });
                if !bilinear {
                    return Err(op.err(format!(
                        "interpolation {interp:?} is not supported (bilinear only)"
                    )));
                }
                match (arg("resize_short").is_badvalue(), arg("size").is_badvalue()) {
                    (false, true) => {
                        self.short = Some(op.side(arg("resize_short"), "resize_short")?)
                    }
                    (true, false) => self.exact = Some(op.size_hw(arg("size"), "size")?),
                    _ => return Err(op.err("expected exactly one of `resize_short` and `size`")),
                }
            }
            "CropImage" => self.crop = Some(op.size_hw(arg("size"), "size")?),
            "NormalizeImage" => {
                let order = arg("order").as_str().unwrap_or("hwc");
                if !(order.is_empty() || order == "hwc") {
                    return Err(op.err(format!("order {order:?} is not supported (hwc only)")));
                }
                if let Some(n) = arg("channel_num").as_i64() {
                    if n != 3 {
                        return Err(op.err(format!("channel_num {n}: only 3 channels")));
                    }
                }
                let scale = match arg("scale") {
                    y if y.is_badvalue() || y.is_null() => 1.0 / 255.0,
                    y => number(y)
                        .filter(|s| s.is_finite() && *s > 0.0)
                        .ok_or_else(|| op.err("scale: expected a positive number or `a/b`"))?,
                } as f32;
                let mean = match arg("mean") {
                    y if y.is_badvalue() => [0.485, 0.456, 0.406],
                    y => op.triple(y, "mean", false)?,
                };
                let std = match arg("std") {
                    y if y.is_badvalue() => [0.229, 0.224, 0.225],
                    y => op.triple(y, "std", true)?,
                };
                self.normalize = Some((mean, std, scale));
            }
            "ClsResizeImg" | "RecResizeImg" => {
                let shape = arg("image_shape").as_vec().map(Vec::as_slice);
                let Some([c, h, w]) = shape else {
                    return Err(op.err("image_shape: expected [3, height, width]"));
                };
                if c.as_i64() != Some(3) {
                    return Err(op.err("image_shape: only 3 channels"));
                }
                self.pad = Some((op.side(h, "height")?, op.side(w, "width")?));
                // PaddleOCR normalises inside the op: x / 255, - 0.5, / 0.5.
                self.normalize = Some(([0.5; 3], [0.5; 3], 1.0 / 255.0));
            }
            other if NEUTRAL_OPS.contains(&other) => {}
            _ => {
                return Err(op.err(
                    "unknown transform op (supported: DecodeImage, ResizeImage, CropImage, \
                     NormalizeImage, ToCHWImage, ClsResizeImg, KeepKeys, ClsLabelEncode)",
                ))
            }
        }
        Ok(())
    }

    fn resize(&self, path: &Path) -> Result<Option<Resize>> {
        let bad = |r: &str| Err(Error::file(path, format!("PreProcess.transform_ops: {r}")));
        Ok(match (self.short, self.exact, self.crop, self.pad) {
            (None, None, None, None) => None,
            (Some(short), None, Some((h, w)), None) if h.max(w) <= short => {
                Some(Resize::ShortSideCrop {
                    short,
                    crop_height: h,
                    crop_width: w,
                })
            }
            (Some(short), None, Some((h, w)), None) => {
                return bad(&format!(
                    "CropImage {w}x{h} is larger than the resized short side {short}"
                ))
            }
            (Some(_), None, None, None) => {
                return bad("ResizeImage resize_short without CropImage: the size varies per image")
            }
            (None, Some((height, width)), None, None) => Some(Resize::Exact { height, width }),
            (None, None, None, Some((height, width))) => {
                Some(Resize::HeightPadWidth { height, width })
            }
            _ => return bad("this combination of resize and crop ops is not supported"),
        })
    }
}

/// Reads `PostProcess` into `out` (labels and output kind).
fn postprocess(path: &Path, pp: &Yaml, out: &mut InferenceYml) -> Result<()> {
    if pp.is_badvalue() || pp.is_null() {
        return Ok(());
    }
    let Some(hash) = pp.as_hash() else {
        return Err(Error::file(path, "PostProcess: expected a mapping"));
    };
    let err = |op: &str, r: &str| Error::node(path, "PostProcess", op, r);
    // PaddleOCR: `name: ClsPostProcess` with `label_list` beside it.
    let entries: Vec<(&str, &Yaml)> = match pp["name"].as_str() {
        Some(name) => vec![(name, pp)],
        None => hash
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?, v)))
            .collect(),
    };
    for (name, args) in entries {
        match name {
            "Topk" | "ClsPostProcess" => {
                let topk = match &args["topk"] {
                    y if y.is_badvalue() => 1,
                    y => y
                        .as_i64()
                        .filter(|&k| k >= 1)
                        .ok_or_else(|| err(name, "topk: expected a positive integer"))?
                        as usize,
                };
                out.postprocess = Some(Postprocess::Topk { topk });
            }
            "MultiLabelThreshOutput" => {
                let threshold = match &args["threshold"] {
                    y if y.is_badvalue() => 0.5,
                    y => number(y)
                        .filter(|t| t.is_finite())
                        .ok_or_else(|| err(name, "threshold: expected a number"))?,
                } as f32;
                out.postprocess = Some(Postprocess::MultiLabel { threshold });
            }
            "main_indicator" | "SavePreLabel" => continue,
            other => return Err(err(
                other,
                "unknown post-processing (supported: Topk, MultiLabelThreshOutput, ClsPostProcess)",
            )),
        }
        let labels = &args["label_list"];
        if !labels.is_badvalue() && !labels.is_null() {
            let list = labels
                .as_vec()
                .ok_or_else(|| err(name, "label_list: expected a list"))?;
            out.labels = Some(
                list.iter()
                    .map(|l| match l {
                        Yaml::String(s) => Ok(s.clone()),
                        Yaml::Integer(i) => Ok(i.to_string()),
                        Yaml::Real(r) => Ok(r.clone()),
                        Yaml::Boolean(b) => Ok(b.to_string()),
                        _ => Err(err(name, "label_list: expected scalar labels")),
                    })
                    .collect::<Result<_>>()?,
            );
        }
    }
    Ok(())
}
