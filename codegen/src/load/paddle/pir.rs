//! Paddle 3 PIR `inference.json` -> [`Program`].
//!
//! Layout (`paddle/fluid/pir/serialize_deserialize`): `{"base_code": {"magic": "pir", ...}, "program":
//! {"regions": [{"blocks": [{"ops": [...]}]}]}}`. An op is `{"#": "<dialect>.<name>", "I": [{"%": id}],
//! "O": [{"%": id, "TT": type}], "A": [{"N": name, "AT": attr}]}`; dialect `1` is `pd_op`. Parameters
//! are `"#": "p"` ops whose `"A"` is `[is_distributed, is_parameter, need_clip, name]` and whose single
//! `"O"` object carries the dims. Operands are positional: they are given legacy slot names here.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::program_desc::var_type;
use super::{Attr, PaddleOp, ParamDecl, Program};
use crate::error::{Error, Result};

/// PIR op name (dialect `1.` and in-place `_` stripped) -> legacy op type, operand slots, result slots.
fn signature(
    name: &str,
) -> Option<(
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
)> {
    const X: &[&str] = &["X"];
    const OUT: &[&str] = &["Out"];
    const XY: &[&str] = &["X", "Y"];
    Some(match name {
        "conv2d" => ("conv2d", &["Input", "Filter"], &["Output"]),
        "depthwise_conv2d" => ("depthwise_conv2d", &["Input", "Filter"], &["Output"]),
        "batch_norm" => (
            "batch_norm",
            &["X", "Mean", "Variance", "Scale", "Bias"],
            &["Y"],
        ),
        "relu" => ("relu", X, OUT),
        "relu6" => ("relu6", X, OUT),
        "sigmoid" => ("sigmoid", X, OUT),
        "hardswish" => ("hard_swish", X, OUT),
        "hardsigmoid" => ("hard_sigmoid", X, OUT),
        "add" => ("elementwise_add", XY, OUT),
        "multiply" => ("elementwise_mul", XY, OUT),
        "subtract" => ("elementwise_sub", XY, OUT),
        "divide" => ("elementwise_div", XY, OUT),
        "pool2d" => ("pool2d", &["X", "KernelSize"], OUT),
        "dropout" => ("dropout", &["X", "Seed", "P"], &["Out", "Mask"]),
        "flatten" => ("flatten_contiguous_range", X, OUT),
        "reshape" => ("reshape2", &["X", "Shape"], OUT),
        "matmul" => ("matmul_v2", XY, OUT),
        "softmax" => ("softmax", X, OUT),
        "scale" => ("scale", &["X", "ScaleTensor"], OUT),
        "full" => ("full", &[], OUT),
        "full_int_array" => ("full_int_array", &[], OUT),
        "assign" => ("assign", X, OUT),
        "shape" => ("shape", &["Input"], OUT),
        "shape64" => ("shape64", &["Input"], OUT),
        "slice" => ("slice", &["Input", "StartsTensor", "EndsTensor"], OUT),
        "stack" => ("stack", X, &["Y"]),
        _ => return None,
    })
}

/// Parses an `inference.json` file.
pub(crate) fn parse(file: &Path, bytes: &[u8]) -> Result<Program> {
    let root: Value = serde_json::from_slice(bytes).map_err(|e| {
        Error::file(
            file,
            format!("not a Paddle PIR program: invalid JSON ({e})"),
        )
    })?;
    let magic = root.pointer("/base_code/magic").and_then(Value::as_str);
    if magic != Some("pir") {
        return Err(Error::file(
            file,
            "not a Paddle PIR program (no \"base_code\": {\"magic\": \"pir\"})",
        ));
    }
    let ops = root
        .pointer("/program/regions/0/blocks/0/ops")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            Error::file(
                file,
                "the PIR program has no program.regions[0].blocks[0].ops list",
            )
        })?;

    let mut names: BTreeMap<i64, String> = BTreeMap::new();
    let mut params = BTreeMap::new();
    let mut out_ops = Vec::new();
    let (mut input, mut output) = (Vec::new(), Vec::new());
    for (index, op) in ops.iter().enumerate() {
        let type_name = op
            .get("#")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        let err = |name: &str, reason: String| Error::node(file, name, &type_name, reason);
        let anon = format!("op #{index}");
        if type_name == "p" {
            let name = op
                .pointer("/A/3")
                .and_then(Value::as_str)
                .ok_or_else(|| err(&anon, "parameter without a name (A[3])".into()))?;
            let out = op
                .get("O")
                .ok_or_else(|| err(name, "parameter without a result (O)".into()))?;
            let id =
                value_id(out).ok_or_else(|| err(name, "parameter result without an id".into()))?;
            let (dtype, dims) = tensor_type(out.get("TT"))
                .ok_or_else(|| err(name, "parameter without a dense tensor type".into()))?;
            // OA = [persistable, stop_gradient, trainable] when present; only persistable values are saved.
            let persistable = op
                .pointer("/OA/0")
                .and_then(Value::as_i64)
                .is_none_or(|p| p != 0);
            names.insert(id, name.to_string());
            if persistable {
                params.insert(
                    name.to_string(),
                    ParamDecl {
                        name: name.to_string(),
                        dtype,
                        dims,
                    },
                );
            }
            continue;
        }
        let operands: Vec<Option<i64>> = match op.get("I") {
            Some(Value::Array(list)) => list.iter().map(value_id).collect(),
            Some(one @ Value::Object(_)) => vec![value_id(one)],
            _ => Vec::new(),
        };
        let results: Vec<(i64, Option<TensorType>)> = match op.get("O") {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|o| Some((value_id(o)?, tensor_type(o.get("TT")))))
                .collect(),
            Some(one @ Value::Object(_)) => value_id(one)
                .map(|id| vec![(id, tensor_type(one.get("TT")))])
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let attrs: Vec<(String, Attr)> = match op.get("A") {
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(|a| Some((a.get("N")?.as_str()?.to_string(), attr(a.get("AT")?))))
                .collect(),
            _ => Vec::new(),
        };
        // Named after the first result and, when the exporter recorded it, the layer (`struct_name`).
        let struct_name = attrs.iter().find_map(|(n, a)| match (n.as_str(), a) {
            ("struct_name", Attr::Str(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        });
        let node_name = results
            .first()
            .map_or(anon.clone(), |(id, _)| format!("%{id}"));
        let node_name = match struct_name {
            Some(s) => format!("{node_name} {s}"),
            None => node_name,
        };
        // Operand names (parameters by name, other values as `%id`), resolved before the results are defined.
        let mut operand_names = Vec::with_capacity(operands.len());
        for id in &operands {
            operand_names.push(match id {
                None | Some(0) => String::new(),
                Some(id) => names.get(id).cloned().ok_or_else(|| {
                    err(
                        &node_name,
                        format!("operand %{id} is not defined by an earlier op or parameter"),
                    )
                })?,
            });
        }
        for (id, _) in &results {
            names.insert(*id, format!("%{id}"));
        }
        // builtin.combine: a list of values, read by the next op (stack) as one operand.
        if type_name == "0.combine" {
            let out = results
                .first()
                .map(|(id, _)| format!("%{id}"))
                .ok_or_else(|| err(&node_name, "combine without a result".into()))?;
            out_ops.push(PaddleOp {
                kind: "combine".to_string(),
                type_name: type_name.clone(),
                name: node_name,
                inputs: vec![("X".to_string(), operand_names)],
                outputs: vec![("Out".to_string(), vec![out])],
                attrs,
            });
            continue;
        }
        let Some(short) = type_name.strip_prefix("1.") else {
            return Err(err(
                &node_name,
                format!("unsupported operator '{type_name}' (only pd_op operators, \"1.*\", are)"),
            ));
        };
        let short = short.strip_suffix('_').unwrap_or(short);
        match short {
            "data" => {
                let name = results
                    .first()
                    .map(|(id, _)| format!("%{id}"))
                    .ok_or_else(|| err(&node_name, "data op without a result".into()))?;
                let dims = results[0].1.as_ref().map(|(_, d)| d.clone());
                input.push((name, dims));
                continue;
            }
            "fetch" => {
                output.push(operand_names.first().cloned().unwrap_or_default());
                continue;
            }
            _ => {}
        }
        let (kind, in_slots, out_slots) = signature(short)
            .ok_or_else(|| err(&node_name, format!("unsupported operator '{type_name}'")))?;
        if operands.len() > in_slots.len() {
            return Err(err(
                &node_name,
                format!(
                    "{} operands, expected at most {}",
                    operands.len(),
                    in_slots.len()
                ),
            ));
        }
        let inputs = operand_names
            .into_iter()
            .zip(in_slots)
            .map(|(n, slot)| {
                (
                    slot.to_string(),
                    if n.is_empty() { vec![] } else { vec![n] },
                )
            })
            .collect();
        let outputs = results
            .iter()
            .zip(
                out_slots
                    .iter()
                    .map(|s| s.to_string())
                    .chain((1..).map(|i| format!("Out{i}"))),
            )
            .map(|((id, _), slot)| (slot, vec![format!("%{id}")]))
            .collect();
        out_ops.push(PaddleOp {
            kind: kind.to_string(),
            type_name: type_name.clone(),
            name: node_name,
            inputs,
            outputs,
            attrs,
        });
    }
    let (input_name, input_dims) = match input.len() {
        1 => input.remove(0),
        n => {
            return Err(Error::file(
                file,
                format!("the program has {n} data (input) ops; exactly one is supported"),
            ))
        }
    };
    let output_name = match output.len() {
        1 => output.remove(0),
        n => {
            return Err(Error::file(
                file,
                format!("the program has {n} fetch ops; exactly one is supported"),
            ))
        }
    };
    Ok(Program {
        ops: out_ops,
        params: params.into_values().collect(),
        input_name,
        input_dims,
        output_name,
    })
}

fn value_id(v: &Value) -> Option<i64> {
    v.get("%").and_then(Value::as_i64)
}

/// A dense tensor type: (`VarType.Type` dtype, dims).
type TensorType = (i32, Vec<i64>);

/// `{"#": "0.t_dtensor", "D": [{"#": "0.t_f32"}, [dims], layout, lod, offset]}` -> (dtype, dims).
fn tensor_type(tt: Option<&Value>) -> Option<TensorType> {
    let tt = tt?;
    if tt.get("#")?.as_str()? != "0.t_dtensor" {
        return None;
    }
    let d = tt.get("D")?.as_array()?;
    let dtype = match d.first()?.get("#")?.as_str()? {
        "0.t_f32" => var_type::FP32,
        "0.t_f64" => var_type::FP64,
        "0.t_f16" => var_type::FP16,
        "0.t_bf16" => var_type::BF16,
        "0.t_i64" => var_type::INT64,
        "0.t_i32" => var_type::INT32,
        "0.t_i16" => var_type::INT16,
        "0.t_i8" => var_type::INT8,
        "0.t_ui8" => var_type::UINT8,
        "0.t_bool" => var_type::BOOL,
        _ => -1,
    };
    let dims = d
        .get(1)?
        .as_array()?
        .iter()
        .map(Value::as_i64)
        .collect::<Option<Vec<_>>>()?;
    Some((dtype, dims))
}

/// An `"AT"` attribute value.
fn attr(at: &Value) -> Attr {
    let kind = at.get("#").and_then(Value::as_str).unwrap_or("");
    let d = at.get("D");
    let special = || match at.get("VD").and_then(Value::as_str) {
        Some("NaN") => Some(f64::NAN),
        Some("INF") => Some(f64::INFINITY),
        Some("-INF") => Some(f64::NEG_INFINITY),
        _ => None,
    };
    match kind {
        "0.a_bool" => d.and_then(Value::as_bool).map_or(Attr::Other, Attr::Bool),
        "0.a_i32" | "0.a_i64" | "0.a_index" => {
            d.and_then(Value::as_i64).map_or(Attr::Other, Attr::Int)
        }
        "0.a_f32" | "0.a_f64" => d
            .and_then(Value::as_f64)
            .or_else(special)
            .map_or(Attr::Other, Attr::Float),
        "0.a_str" | "1.a_dtype" => d
            .and_then(Value::as_str)
            .map_or(Attr::Other, |s| Attr::Str(s.to_string())),
        "1.a_intarray" => d
            .and_then(Value::as_array)
            .and_then(|l| l.iter().map(Value::as_i64).collect::<Option<Vec<_>>>())
            .map_or(Attr::Other, Attr::Ints),
        "1.a_scalar" => {
            // D = [dtype name, value]
            match d.and_then(|d| d.get(1)) {
                Some(Value::Bool(b)) => Attr::Bool(*b),
                Some(v) if v.is_i64() => Attr::Int(v.as_i64().unwrap_or(0)),
                Some(v) => v.as_f64().map_or(Attr::Other, Attr::Float),
                None => Attr::Other,
            }
        }
        "0.a_array" => {
            let items: Vec<Attr> = d
                .and_then(Value::as_array)
                .map(|l| l.iter().map(attr).collect())
                .unwrap_or_default();
            if items.iter().all(|a| matches!(a, Attr::Int(_))) {
                Attr::Ints(
                    items
                        .iter()
                        .map(|a| if let Attr::Int(v) = a { *v } else { 0 })
                        .collect(),
                )
            } else if items
                .iter()
                .all(|a| matches!(a, Attr::Float(_) | Attr::Int(_)))
            {
                Attr::Floats(
                    items
                        .iter()
                        .map(|a| match a {
                            Attr::Float(v) => *v,
                            Attr::Int(v) => *v as f64,
                            _ => 0.0,
                        })
                        .collect(),
                )
            } else if items.iter().all(|a| matches!(a, Attr::Bool(_))) {
                Attr::Bools(
                    items
                        .iter()
                        .map(|a| matches!(a, Attr::Bool(true)))
                        .collect(),
                )
            } else if items.iter().all(|a| matches!(a, Attr::Str(_))) {
                Attr::Strs(
                    items
                        .iter()
                        .map(|a| {
                            if let Attr::Str(s) = a {
                                s.clone()
                            } else {
                                String::new()
                            }
                        })
                        .collect(),
                )
            } else {
                Attr::Other
            }
        }
        _ => Attr::Other,
    }
}
