//! The model as the KServe v2 protocol sees it, shared by REST and gRPC: metadata, the checks on
//! an inference request's tensors, and the output tensors (scores or classification strings).

use bytes::Bytes;
use pplcnet::{OutputKind, INPUT_HEIGHT, INPUT_LEN, INPUT_WIDTH, LABELS, MODEL, NUM_CLASSES};

use crate::limits::Limits;
use crate::pool::Images;

/// The one version the server serves.
pub const MODEL_VERSION: &str = "1";
/// The input tensor's name.
pub const INPUT_NAME: &str = "image";
/// The protocol extensions the server implements.
pub const EXTENSIONS: [&str; 2] = ["classification", "binary_tensor_data"];
/// The platform string of the model metadata.
pub const PLATFORM: &str = "pplcnet_native";

/// The output tensor's name: what the model's scores are.
pub fn output_name() -> &'static str {
    match MODEL.output {
        OutputKind::Logits => "logits",
        OutputKind::Probabilities | OutputKind::MultiLabel => "probabilities",
    }
}

/// The input shape the metadata announces (`-1`: any batch size).
pub fn input_shape() -> [i64; 4] {
    [-1, INPUT_HEIGHT as i64, INPUT_WIDTH as i64, 3]
}

/// The output shape the metadata announces.
pub fn output_shape() -> [i64; 2] {
    [-1, NUM_CLASSES as i64]
}

/// What kind of failure an error is; REST and gRPC map it to their status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// A malformed or unsupported request (HTTP 400, gRPC INVALID_ARGUMENT).
    BadRequest,
    /// No such model or version (HTTP 404, gRPC NOT_FOUND).
    NotFound,
    /// Over a size limit (HTTP 413, gRPC RESOURCE_EXHAUSTED).
    TooLarge,
    /// The queue is full or the server is shutting down (HTTP 503, gRPC UNAVAILABLE).
    Unavailable,
    /// The request's deadline passed (HTTP 504 or 408, gRPC DEADLINE_EXCEEDED).
    Deadline,
    /// A bug (HTTP 500, gRPC INTERNAL).
    Internal,
}

/// An error with the message the client sees.
#[derive(Debug, Clone)]
pub struct InferError {
    /// Its class.
    pub kind: ErrorKind,
    /// The message.
    pub message: String,
}

impl InferError {
    /// An error of `kind` saying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        InferError {
            kind,
            message: message.into(),
        }
    }

    /// A [`ErrorKind::BadRequest`] error.
    pub fn bad(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::BadRequest, message)
    }
}

/// Checks the model name and version of a request.
pub fn check_model(limits: &Limits, name: &str, version: &str) -> Result<(), InferError> {
    if name != limits.model_name {
        return Err(InferError::new(
            ErrorKind::NotFound,
            format!("Request for unknown model: '{name}' is not found"),
        ));
    }
    if !version.is_empty() && version != MODEL_VERSION {
        return Err(InferError::new(
            ErrorKind::NotFound,
            format!("Request for unknown model: '{name}' version {version} is not found"),
        ));
    }
    Ok(())
}

/// An input tensor's data as it arrived.
#[derive(Debug, Default)]
pub enum InputData {
    /// None given.
    #[default]
    Missing,
    /// Raw bytes in the protocol's binary layout (binary extension, gRPC raw contents).
    Raw(Bytes),
    /// Integers 0..=255 (JSON numbers, gRPC `uint_contents`).
    U8(Vec<u8>),
    /// BYTES elements (JSON strings or `{"b64": ...}` objects, gRPC `bytes_contents`).
    Elements(Vec<Bytes>),
    /// Data that cannot be what any datatype wants, and why.
    Invalid(String),
}

/// One input tensor of a request.
#[derive(Debug)]
pub struct InputTensor {
    /// Its name.
    pub name: String,
    /// Its datatype (`UINT8`, `BYTES`, ...).
    pub datatype: String,
    /// Its shape.
    pub shape: Vec<i64>,
    /// Its data.
    pub data: InputData,
}

/// The images of a request's inputs, checked against the model and the limits: the raw bytes
/// must be exactly `N` inputs of the model's size, encoded images must declare at most
/// `limits.max_pixels` pixels in their header (read without decoding).
pub fn images(inputs: Vec<InputTensor>, limits: &Limits) -> Result<Images, InferError> {
    let mut inputs = inputs.into_iter();
    let (Some(input), None) = (inputs.next(), inputs.next()) else {
        return Err(InferError::bad(format!(
            "expected 1 input ('{INPUT_NAME}'), got a different number"
        )));
    };
    if input.name != INPUT_NAME {
        return Err(InferError::bad(format!(
            "unexpected inference input '{}' for model, expected '{INPUT_NAME}'",
            input.name
        )));
    }
    let n = batch_size(&input)?;
    if n > limits.max_batch {
        return Err(InferError::new(
            ErrorKind::TooLarge,
            format!(
                "batch of {n} images is over the limit of {}",
                limits.max_batch
            ),
        ));
    }
    match (input.datatype.as_str(), input.data) {
        (_, InputData::Invalid(why)) => {
            Err(InferError::bad(format!("input '{INPUT_NAME}': {why}")))
        }
        (_, InputData::Missing) => {
            Err(InferError::bad(format!("input '{INPUT_NAME}' has no data")))
        }
        ("UINT8", InputData::Raw(data)) => raw_images(n, data),
        ("UINT8", InputData::U8(v)) => raw_images(n, Bytes::from(v)),
        ("BYTES", InputData::Raw(data)) => encoded_images(n, split_bytes_elements(&data)?, limits),
        ("BYTES", InputData::Elements(v)) => encoded_images(n, v, limits),
        (dt, _) => Err(InferError::bad(format!(
            "input '{INPUT_NAME}': the data do not match datatype {dt}"
        ))),
    }
}

/// The batch size from the shape: `[N, H, W, 3]` for UINT8, `[N]` or `[N, 1]` for BYTES.
fn batch_size(input: &InputTensor) -> Result<usize, InferError> {
    let s = &input.shape;
    let ok = match input.datatype.as_str() {
        "UINT8" => {
            s.len() == 4
                && s[1] == INPUT_HEIGHT as i64
                && s[2] == INPUT_WIDTH as i64
                && s[3] == 3
        }
        "BYTES" => s.len() == 1 || (s.len() == 2 && s[1] == 1),
        other => {
            return Err(InferError::bad(format!(
                "inference input '{INPUT_NAME}' data-type is '{other}', but model '{INPUT_NAME}' expects 'UINT8' \
                 ([N,{INPUT_HEIGHT},{INPUT_WIDTH},3] RGB) or 'BYTES' ([N] encoded JPEG/PNG images)"
            )))
        }
    };
    if !ok || s[0] < 1 {
        let want = if input.datatype == "UINT8" {
            format!("[N,{INPUT_HEIGHT},{INPUT_WIDTH},3]")
        } else {
            "[N] or [N,1]".to_string()
        };
        return Err(InferError::bad(format!(
            "unexpected shape for input '{INPUT_NAME}' of datatype {}: got {s:?}, expected {want} with N >= 1",
            input.datatype
        )));
    }
    usize::try_from(s[0]).map_err(|_| InferError::bad("batch size out of range"))
}

fn raw_images(n: usize, data: Bytes) -> Result<Images, InferError> {
    let want = n.checked_mul(INPUT_LEN);
    if want != Some(data.len()) {
        return Err(InferError::bad(format!(
            "input '{INPUT_NAME}' has {} bytes of data, shape [{n},{INPUT_HEIGHT},{INPUT_WIDTH},3] needs {}",
            data.len(),
            n * INPUT_LEN
        )));
    }
    Ok(Images::Raw { data, n })
}

fn encoded_images(n: usize, elems: Vec<Bytes>, limits: &Limits) -> Result<Images, InferError> {
    if elems.len() != n {
        return Err(InferError::bad(format!(
            "input '{INPUT_NAME}' has {} elements, its shape says {n}",
            elems.len()
        )));
    }
    for (i, e) in elems.iter().enumerate() {
        // The header only: a decompression bomb is refused here, before any decoding.
        let (w, h) = pplcnet::preprocess::image_dimensions(e)
            .map_err(|err| InferError::bad(format!("image {i}: {err}")))?;
        if w as u64 * h as u64 > limits.max_pixels {
            return Err(InferError::new(
                ErrorKind::TooLarge,
                format!(
                    "image {i} is {w}x{h}, more than the limit of {} pixels",
                    limits.max_pixels
                ),
            ));
        }
    }
    Ok(Images::Encoded(elems))
}

/// Splits the binary form of a BYTES tensor: each element is a 4-byte little-endian length
/// followed by that many bytes. No copies: the elements share `data`.
pub fn split_bytes_elements(data: &Bytes) -> Result<Vec<Bytes>, InferError> {
    let mut out = Vec::new();
    let mut at = 0usize;
    while at < data.len() {
        let Some(len) = data.get(at..at + 4) else {
            return Err(InferError::bad(
                "BYTES data ends inside an element's length prefix",
            ));
        };
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        at += 4;
        if len > data.len() - at {
            return Err(InferError::bad("BYTES element longer than the data left"));
        }
        out.push(data.slice(at..at + len));
        at += len;
    }
    Ok(out)
}

/// An output the client asked for.
#[derive(Debug, Clone, Default)]
pub struct OutputRequest {
    /// Its name.
    pub name: String,
    /// Triton's classification extension: the top `k` as `score:index:label` strings.
    pub classification: Option<i64>,
    /// REST only: whether to send it in binary (`Some` when the request said so).
    pub binary: Option<bool>,
}

/// The output to compute, after checking what the client asked for.
#[derive(Debug, Clone, Copy)]
pub struct OutputPlan {
    /// `Some(k)`: classification strings of the best `k`; `None`: all scores.
    pub classification: Option<usize>,
    /// REST: send in binary.
    pub binary: bool,
}

/// Checks the requested outputs (none: all of them, i.e. the scores) before any work is done.
pub fn plan_output(
    requested: &[OutputRequest],
    binary_default: bool,
) -> Result<OutputPlan, InferError> {
    let name = output_name();
    match requested {
        [] => Ok(OutputPlan {
            classification: None,
            binary: binary_default,
        }),
        [out] if out.name == name => {
            let classification = match out.classification {
                None => None,
                Some(k) if k >= 1 && k as u64 <= NUM_CLASSES as u64 => Some(k as usize),
                Some(k) => {
                    return Err(InferError::bad(format!(
                        "classification count {k} for output '{name}' is not in 1..={NUM_CLASSES} (the model has {NUM_CLASSES} classes)"
                    )))
                }
            };
            Ok(OutputPlan {
                classification,
                binary: out.binary.unwrap_or(binary_default),
            })
        }
        [out] => Err(InferError::bad(format!(
            "unexpected inference output '{}' for model, the output is '{name}'",
            out.name
        ))),
        _ => Err(InferError::bad(format!(
            "more than one output requested; the model has one: '{name}'"
        ))),
    }
}

/// An output tensor's data.
pub enum OutputData {
    /// FP32 scores, row-major `[N, classes]`.
    Fp32(Vec<f32>),
    /// BYTES classification strings, row-major `[N, k]`.
    Strings(Vec<String>),
}

/// An output tensor.
pub struct OutputTensor {
    /// Its name.
    pub name: &'static str,
    /// `FP32` or `BYTES`.
    pub datatype: &'static str,
    /// Its shape.
    pub shape: [i64; 2],
    /// Its data.
    pub data: OutputData,
}

impl OutputTensor {
    /// The protocol's binary layout: little-endian FP32 values, or BYTES elements each with a
    /// 4-byte little-endian length prefix.
    pub fn to_raw(&self) -> Vec<u8> {
        match &self.data {
            OutputData::Fp32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            OutputData::Strings(v) => {
                let mut out = Vec::with_capacity(v.iter().map(|s| s.len() + 4).sum());
                for s in v {
                    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
                    out.extend_from_slice(s.as_bytes());
                }
                out
            }
        }
    }
}

/// The output tensor for `n` images whose scores are `scores` (`n * NUM_CLASSES` values).
pub fn output(plan: &OutputPlan, n: usize, scores: Vec<f32>) -> OutputTensor {
    let name = output_name();
    match plan.classification {
        None => OutputTensor {
            name,
            datatype: "FP32",
            shape: [n as i64, NUM_CLASSES as i64],
            data: OutputData::Fp32(scores),
        },
        Some(k) => {
            let mut strings = Vec::with_capacity(n * k);
            for row in scores.chunks_exact(NUM_CLASSES) {
                for (index, score) in pplcnet::top_k_vec(row, k) {
                    // Triton formats the score with C++ std::to_string (six decimals).
                    strings.push(format!("{score:.6}:{index}:{}", LABELS[index]));
                }
            }
            OutputTensor {
                name,
                datatype: "BYTES",
                shape: [n as i64, k as i64],
                data: OutputData::Strings(strings),
            }
        }
    }
}
