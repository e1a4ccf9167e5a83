//! The REST protocol's JSON bodies: the inference request (with its tensor data parsed straight
//! into bytes, never into a tree of JSON values), the response, the binary tensor extension.

use std::fmt;

use base64::Engine;
use bytes::Bytes;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::protocol::{
    InferError, InputData, InputTensor, OutputData, OutputRequest, OutputTensor,
};

/// `POST /v2/models/{name}/infer` body (or its JSON header, with the binary extension).
#[derive(Deserialize)]
pub struct InferRequest {
    /// Echoed in the response.
    #[serde(default)]
    pub id: Option<String>,
    /// Request parameters (`binary_data_output`).
    #[serde(default)]
    pub parameters: Map<String, Value>,
    /// Input tensors.
    pub inputs: Vec<Input>,
    /// Requested outputs (none: all).
    #[serde(default)]
    pub outputs: Vec<Output>,
}

/// An input tensor in JSON.
#[derive(Deserialize)]
pub struct Input {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    #[serde(default)]
    parameters: Map<String, Value>,
    #[serde(default)]
    data: JsonData,
}

/// A requested output in JSON.
#[derive(Deserialize)]
pub struct Output {
    name: String,
    #[serde(default)]
    parameters: Map<String, Value>,
}

impl InferRequest {
    /// Whether outputs are binary unless they say otherwise.
    pub fn binary_default(&self) -> bool {
        self.parameters
            .get("binary_data_output")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// The requested outputs in the protocol's terms.
    pub fn outputs(&self) -> Result<Vec<OutputRequest>, InferError> {
        self.outputs
            .iter()
            .map(|o| {
                let classification = match o.parameters.get("classification") {
                    None => None,
                    Some(v) => Some(v.as_i64().ok_or_else(|| {
                        InferError::bad("output parameter 'classification' must be an integer")
                    })?),
                };
                Ok(OutputRequest {
                    name: o.name.clone(),
                    classification,
                    binary: o.parameters.get("binary_data").and_then(Value::as_bool),
                })
            })
            .collect()
    }

    /// The input tensors, taking the data of binary inputs from `binary` (what follows the
    /// JSON header) in order, as the binary tensor extension lays them out.
    pub fn inputs(self, binary: Bytes) -> Result<Vec<InputTensor>, InferError> {
        let mut at = 0usize;
        let mut out = Vec::with_capacity(self.inputs.len());
        for input in self.inputs {
            let data = match input.parameters.get("binary_data_size") {
                None => input.data,
                Some(v) => {
                    let size = v.as_u64().ok_or_else(|| {
                        InferError::bad("'binary_data_size' must be a non-negative integer")
                    })? as usize;
                    if size > binary.len() - at {
                        return Err(InferError::bad(format!(
                            "input '{}': binary_data_size {size} is more than the {} binary bytes left",
                            input.name,
                            binary.len() - at
                        )));
                    }
                    let d = binary.slice(at..at + size);
                    at += size;
                    JsonData(InputData::Raw(d))
                }
            };
            out.push(InputTensor {
                name: input.name,
                datatype: input.datatype,
                shape: input.shape,
                data: data.0,
            });
        }
        if at != binary.len() {
            return Err(InferError::bad(format!(
                "{} bytes of binary data after the inputs' binary_data_size",
                binary.len() - at
            )));
        }
        Ok(out)
    }
}

/// A tensor's `"data"`, flattened (nested arrays are row-major) into bytes as it is parsed.
#[derive(Default)]
struct JsonData(InputData);

impl<'de> Deserialize<'de> for JsonData {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut acc = Acc::default();
        Flatten(&mut acc).deserialize(d)?;
        let data = if let Some(why) = acc.invalid {
            InputData::Invalid(why)
        } else if !acc.elements.is_empty() && !acc.numbers.is_empty() {
            InputData::Invalid("mixes numbers and strings".into())
        } else if !acc.elements.is_empty() {
            InputData::Elements(acc.elements)
        } else {
            InputData::U8(acc.numbers)
        };
        Ok(JsonData(data))
    }
}

/// What the data held so far. Values no datatype accepts are recorded (the first reason) and
/// parsing goes on, so that a wrong datatype or shape is reported rather than the values.
#[derive(Default)]
struct Acc {
    numbers: Vec<u8>,
    elements: Vec<Bytes>,
    invalid: Option<String>,
}

impl Acc {
    fn invalid(&mut self, why: String) {
        self.invalid.get_or_insert(why);
    }
}

struct Flatten<'a>(&'a mut Acc);

impl<'de> DeserializeSeed<'de> for Flatten<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Flatten<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("tensor data: numbers, strings or {\"b64\": ...} objects, nested in arrays")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        match u8::try_from(v) {
            Ok(b) => self.0.numbers.push(b),
            Err(_) => self
                .0
                .invalid(format!("value {v} is out of range for UINT8")),
        }
        Ok(())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        match u8::try_from(v) {
            Ok(b) => self.0.numbers.push(b),
            Err(_) => self
                .0
                .invalid(format!("value {v} is out of range for UINT8")),
        }
        Ok(())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.0
            .invalid(format!("value {v} is not an integer (UINT8 data)"));
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.0.invalid("boolean values are not image data".into());
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.0.invalid("null values are not image data".into());
        Ok(())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.0.elements.push(Bytes::copy_from_slice(v.as_bytes()));
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if let Some(n) = seq.size_hint() {
            self.0.numbers.reserve(n.min(1 << 20));
        }
        while seq.next_element_seed(Flatten(self.0))?.is_some() {}
        Ok(())
    }

    /// `{"b64": "<base64>"}`: binary BYTES elements in JSON (KServe / OVMS convention).
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut got = None;
        while let Some(key) = map.next_key::<String>()? {
            let value: Value = map.next_value()?;
            match (key.as_str(), value) {
                ("b64", Value::String(s)) => got = Some(s),
                _ => self.0.invalid(format!(
                    "unexpected object key '{key}' in data (only {{\"b64\": \"...\"}})"
                )),
            }
        }
        if let Some(s) = got {
            match base64::engine::general_purpose::STANDARD.decode(s.as_bytes()) {
                Ok(b) => self.0.elements.push(Bytes::from(b)),
                Err(e) => self.0.invalid(format!("invalid base64 in data: {e}")),
            }
        }
        Ok(())
    }
}

/// The JSON of an inference response.
#[derive(Serialize)]
pub struct InferResponse<'a> {
    /// The model.
    pub model_name: &'a str,
    /// Its version.
    pub model_version: &'a str,
    /// The request's id, if it had one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'a str>,
    /// The outputs.
    pub outputs: [OutputJson<'a>; 1],
}

/// One output tensor in JSON: its data inline, or its size when it follows in binary.
#[derive(Serialize)]
pub struct OutputJson<'a> {
    name: &'a str,
    datatype: &'a str,
    shape: [i64; 2],
    #[serde(skip_serializing_if = "Option::is_none")]
    parameters: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a OutputDataJson>,
}

/// Serializes [`OutputData`] as a flat JSON array.
#[repr(transparent)]
pub struct OutputDataJson(OutputData);

impl Serialize for OutputDataJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            OutputData::Fp32(v) => v.serialize(s),
            OutputData::Strings(v) => v.serialize(s),
        }
    }
}

/// The response body and, with binary output, the length of its JSON header.
pub fn response_body(
    model_name: &str,
    id: Option<&str>,
    out: OutputTensor,
    binary: bool,
) -> Result<(Vec<u8>, Option<usize>), serde_json::Error> {
    let raw = binary.then(|| out.to_raw());
    let data = OutputDataJson(out.data);
    let output = OutputJson {
        name: out.name,
        datatype: out.datatype,
        shape: out.shape,
        parameters: raw
            .as_ref()
            .map(|r| serde_json::json!({ "binary_data_size": r.len() })),
        data: if binary { None } else { Some(&data) },
    };
    let resp = InferResponse {
        model_name,
        model_version: crate::protocol::MODEL_VERSION,
        id,
        outputs: [output],
    };
    let mut body = serde_json::to_vec(&resp)?;
    Ok(match raw {
        Some(raw) => {
            let header = body.len();
            body.extend_from_slice(&raw);
            (body, Some(header))
        }
        None => (body, None),
    })
}
