//! ONNX front end: `ModelProto` -> IR. Shapes are fixed to batch 1 and the input size; shape arithmetic
//! (`Shape`/`Slice`/`Concat`/`Gather`/`Unsqueeze`/... on constants) is folded here, so the IR only holds
//! real computation.

use std::path::Path;

use prost::Message;

use super::builder::{broadcast_shapes, conv_out_dim, reshape_target, Builder, Const, Sym};
use super::onnx_proto::{data_type, AttributeProto, ModelProto, NodeProto, TensorProto};
use crate::error::{Error, Result};
use crate::ir::{Activation, Conv, Graph, Op, Tensor, ValueId};
use crate::ops::activation;
use crate::ops::binary::BinaryKind;
use crate::ops::max_pool::MaxPool;
use crate::InputSpec;

mod fold;
mod node;

use fold::{fold_constant, squeeze_axes, squeeze_shape};
use node::{NodeCtx, OnnxAttrs};

/// Parses an ONNX file's bytes into the IR.
pub fn load_onnx(file: &Path, bytes: &[u8], spec: &InputSpec) -> Result<Graph> {
    let model = ModelProto::decode(bytes)
        .map_err(|e| Error::file(file, format!("not a valid ONNX protobuf: {e}")))?;
    let graph = model
        .graph
        .as_ref()
        .ok_or_else(|| Error::file(file, "the ONNX model has no graph"))?;
    let opset = model
        .opset_import
        .iter()
        .find(|o| o.domain.is_empty() || o.domain == "ai.onnx")
        .map_or(1, |o| o.version);

    let initializer_names: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<_> = graph
        .input
        .iter()
        .filter(|i| !initializer_names.contains(i.name.as_str()))
        .collect();
    let input = match inputs.as_slice() {
        [one] => *one,
        [] => return Err(Error::file(file, "the graph has no input")),
        many => {
            return Err(Error::file(
                file,
                format!(
                    "the graph has {} inputs; exactly one image input is supported",
                    many.len()
                ),
            ))
        }
    };
    let spec = fix_input_shape(file, input, spec)?;
    let model_name = file
        .file_stem()
        .map_or("model".into(), |s| s.to_string_lossy().into_owned());
    let mut b = Builder::new(file, &model_name, &input.name, &spec);

    for t in &graph.initializer {
        let c = tensor_to_const(t)
            .map_err(|r| Error::file(file, format!("initializer '{}': {r}", t.name)))?;
        b.define_const(&t.name, c);
    }
    for node in &graph.node {
        let ctx = NodeCtx { file, node, opset };
        convert_node(&mut b, &ctx)?;
    }
    let output = graph
        .output
        .first()
        .ok_or_else(|| Error::file(file, "the graph has no output"))?;
    if graph.output.len() > 1 {
        return Err(Error::file(
            file,
            format!(
                "the graph has {} outputs; one is supported",
                graph.output.len()
            ),
        ));
    }
    b.finish(&output.name)
}

/// Largest input height or width accepted.
const MAX_INPUT_SIDE: usize = 1 << 14;

/// Checks the declared input shape against `[1, 3, H, W]`, filling dynamic dims from the spec.
fn fix_input_shape(
    file: &Path,
    input: &super::onnx_proto::ValueInfoProto,
    spec: &InputSpec,
) -> Result<InputSpec> {
    let mut spec = spec.clone();
    let dims = input
        .r#type
        .as_ref()
        .and_then(|t| t.tensor_type.as_ref())
        .and_then(|t| t.shape.as_ref())
        .map(|s| {
            s.dim
                .iter()
                .map(|d| d.dim_value.filter(|&v| v > 0))
                .collect::<Vec<_>>()
        });
    let Some(dims) = dims else { return Ok(spec) };
    let bad = |why: String| {
        Error::file(
            file,
            format!("input '{}' has an unsupported shape: {why}", input.name),
        )
    };
    if dims.len() != 4 {
        return Err(bad(format!("rank {}, expected 4 (N, C, H, W)", dims.len())));
    }
    if let Some(n) = dims[0] {
        if n != 1 {
            return Err(bad(format!(
                "batch {n}, only batch 1 (or dynamic) is supported"
            )));
        }
    }
    if let Some(c) = dims[1] {
        if c != 3 {
            return Err(bad(format!("{c} channels, expected 3 (RGB)")));
        }
    }
    if let Some(h) = dims[2] {
        spec.height = h as usize;
    }
    if let Some(w) = dims[3] {
        spec.width = w as usize;
    }
    // Bounds every activation size (channels come from weight tensors that exist in the file).
    if spec.height > MAX_INPUT_SIDE || spec.width > MAX_INPUT_SIDE {
        return Err(bad(format!(
            "{}x{} pixels, more than {MAX_INPUT_SIDE} on a side",
            spec.height, spec.width
        )));
    }
    Ok(spec)
}

fn tensor_to_const(t: &TensorProto) -> std::result::Result<Const, String> {
    if t.data_location == 1 {
        return Err(
            "external data is not supported (re-save the model with weights inside)".into(),
        );
    }
    let shape: Vec<usize> = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("negative dimension {d}")))
        .collect::<std::result::Result<_, _>>()?;
    let numel = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or_else(|| format!("shape {shape:?} has more elements than memory can hold"))?;
    let raw = &t.raw_data;
    let check = |n: usize| {
        if n == numel {
            Ok(())
        } else {
            Err(format!(
                "holds {n} values but its shape {shape:?} needs {numel}"
            ))
        }
    };
    match t.data_type {
        data_type::FLOAT => {
            let data: Vec<f32> = if !raw.is_empty() {
                if raw.len() % 4 != 0 {
                    return Err(format!(
                        "raw data of {} bytes is not a whole number of f32",
                        raw.len()
                    ));
                }
                raw.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect()
            } else {
                t.float_data.clone()
            };
            check(data.len())?;
            Ok(Const::F32(Tensor::new(shape, data)))
        }
        data_type::DOUBLE => {
            let data: Vec<f32> = if !raw.is_empty() {
                raw.chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")) as f32)
                    .collect()
            } else {
                t.double_data.iter().map(|&x| x as f32).collect()
            };
            check(data.len())?;
            Ok(Const::F32(Tensor::new(shape, data)))
        }
        data_type::INT64 | data_type::INT32 => {
            let data: Vec<i64> = if !raw.is_empty() {
                if t.data_type == data_type::INT64 {
                    raw.chunks_exact(8)
                        .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                        .collect()
                } else {
                    raw.chunks_exact(4)
                        .map(|c| i32::from_le_bytes(c.try_into().expect("4 bytes")) as i64)
                        .collect()
                }
            } else if t.data_type == data_type::INT64 {
                t.int64_data.clone()
            } else {
                t.int32_data.iter().map(|&x| x as i64).collect()
            };
            check(data.len())?;
            Ok(Const::I64 { shape, data })
        }
        other => Err(format!(
            "data type {other} is not supported (float32, float64, int32, int64 are)"
        )),
    }
}

fn convert_node(b: &mut Builder, ctx: &NodeCtx) -> Result<()> {
    let node = ctx.node;
    if !node.domain.is_empty() && node.domain != "ai.onnx" {
        return Err(ctx.err(format!(
            "operator domain '{}' is not supported",
            node.domain
        )));
    }
    let out = ctx.output_name()?.to_string();
    let name = ctx.name();

    // Shape arithmetic on constants folds away entirely.
    if let Some(c) = fold_constant(b, ctx)? {
        b.define_const(&out, c);
        return Ok(());
    }

    match node.op_type.as_str() {
        "Identity" | "Dropout" => {
            if node.op_type == "Dropout" && node.output.len() > 1 && !node.output[1].is_empty() {
                // The mask output is unused at inference; only alias the data output.
            }
            let s = ctx.sym(b, 0)?;
            b.define(&out, s);
        }
        "Conv" => {
            let x = ctx.value(b, 0)?;
            let weight = ctx.konst_f32(b, 1)?;
            if weight.shape.len() != 4 {
                return Err(ctx.err(format!(
                    "weight of rank {} (only 2-D convolutions are supported)",
                    weight.shape.len()
                )));
            }
            let bias = match ctx.input_name(2) {
                Some(_) => Some(ctx.konst_f32(b, 2)?.data),
                None => None,
            };
            if let Some(d) = ctx.attr_ints("dilations") {
                if d.iter().any(|&v| v != 1) {
                    return Err(ctx.err(format!("dilations {d:?} are not supported (only 1)")));
                }
            }
            let groups = ctx.attr_i("group", 1).max(1) as usize;
            let strides = ctx.attr_ints("strides").unwrap_or_else(|| vec![1, 1]);
            let in_shape = b.graph.shape(x).to_vec();
            if in_shape.len() != 4 {
                return Err(ctx.err(format!("input shape {in_shape:?} is not 4-D")));
            }
            let (kh, kw) = (weight.shape[2], weight.shape[3]);
            if let Some(ks) = ctx.attr_ints("kernel_shape") {
                if ks != [kh as i64, kw as i64] {
                    return Err(ctx.err(format!(
                        "kernel_shape {ks:?} disagrees with the weight shape {:?}",
                        weight.shape
                    )));
                }
            }
            if strides.len() != 2 || strides.iter().any(|&s| s < 1) {
                return Err(ctx.err(format!("strides {strides:?} are not supported")));
            }
            let stride = [strides[0] as usize, strides[1] as usize];
            let pads = match ctx.attr_s("auto_pad").as_deref() {
                None | Some("NOTSET") => {
                    let p = ctx.attr_ints("pads").unwrap_or_else(|| vec![0; 4]);
                    if p.len() != 4 || p.iter().any(|&v| v < 0) {
                        return Err(ctx.err(format!("pads {p:?} are not supported")));
                    }
                    [p[0] as usize, p[1] as usize, p[2] as usize, p[3] as usize]
                }
                Some("VALID") => [0; 4],
                Some(mode @ ("SAME_UPPER" | "SAME_LOWER")) => {
                    let same = |i: usize, k: usize, s: usize| {
                        let o = i.div_ceil(s);
                        let total = ((o - 1) * s + k).saturating_sub(i);
                        if mode == "SAME_UPPER" {
                            (total / 2, total - total / 2)
                        } else {
                            (total - total / 2, total / 2)
                        }
                    };
                    let (t, bt) = same(in_shape[2], kh, stride[0]);
                    let (l, r) = same(in_shape[3], kw, stride[1]);
                    [t, l, bt, r]
                }
                Some(other) => return Err(ctx.err(format!("auto_pad '{other}' is not supported"))),
            };
            let cin = in_shape[1];
            if groups == 0
                || cin % groups != 0
                || weight.shape[1] * groups != cin
                || weight.shape[0] % groups != 0
            {
                return Err(ctx.err(format!(
                    "shape mismatch: input has {cin} channels, weight {:?} with group {groups}",
                    weight.shape
                )));
            }
            if let Some(bias) = &bias {
                if bias.len() != weight.shape[0] {
                    return Err(ctx.err(format!(
                        "bias has {} values for {} output channels",
                        bias.len(),
                        weight.shape[0]
                    )));
                }
            }
            let oh = conv_out_dim(in_shape[2], kh, stride[0], pads[0], pads[2]);
            let ow = conv_out_dim(in_shape[3], kw, stride[1], pads[1], pads[3]);
            let (Some(oh), Some(ow)) = (oh, ow) else {
                return Err(ctx.err("kernel larger than the padded input"));
            };
            let cout = weight.shape[0];
            let conv = Conv {
                weight,
                bias,
                stride,
                pads,
                groups,
                pad_value: None,
                act: Activation::Identity,
                residual: false,
                input_scale: false,
            };
            b.push(&name, Op::Conv(conv), vec![x], &out, vec![1, cout, oh, ow]);
        }
        "BatchNormalization" => {
            let x = ctx.value(b, 0)?;
            let shape = b.graph.shape(x).to_vec();
            let c = *shape
                .get(1)
                .ok_or_else(|| ctx.err("input has no channel axis"))?;
            let get = |i: usize| -> Result<Vec<f32>> {
                let t = ctx.konst_f32(b, i)?;
                if t.numel() != c {
                    return Err(ctx.err(format!(
                        "parameter #{i} has {} values for {c} channels",
                        t.numel()
                    )));
                }
                Ok(t.data)
            };
            let op = Op::BatchNorm {
                scale: get(1)?,
                bias: get(2)?,
                mean: get(3)?,
                var: get(4)?,
                eps: ctx.attr_f("epsilon", 1e-5),
            };
            b.push(&name, op, vec![x], &out, shape);
        }
        op if activation::ONNX_OPS.contains(&op) => {
            let x = ctx.value(b, 0)?;
            let act = activation::from_onnx(op, &OnnxAttrs { ctx, b })?;
            let shape = b.graph.shape(x).to_vec();
            b.push(&name, Op::Act(act), vec![x], &out, shape);
        }
        "Add" | "Mul" | "Sub" | "Div" => convert_binary(b, ctx, &name, &out)?,
        "MaxPool" => {
            let x = ctx.value(b, 0)?;
            let s = b.graph.shape(x).to_vec();
            let attrs = OnnxAttrs { ctx, b };
            let p = MaxPool::from_onnx(
                &attrs,
                ctx.node.output.iter().filter(|o| !o.is_empty()).count(),
            )?;
            let shape = p.checked_out_shape(&s, &attrs)?;
            b.push(&name, Op::MaxPool(p), vec![x], &out, shape);
        }
        "GlobalAveragePool" => {
            let x = ctx.value(b, 0)?;
            let s = b.graph.shape(x).to_vec();
            if s.len() != 4 {
                return Err(ctx.err(format!("input shape {s:?} is not 4-D")));
            }
            b.push(&name, Op::GlobalAvgPool, vec![x], &out, vec![1, s[1], 1, 1]);
        }
        "AveragePool" | "ReduceMean" => {
            // Accept only the forms that are a global average over H and W.
            let x = ctx.value(b, 0)?;
            let s = b.graph.shape(x).to_vec();
            let global = if node.op_type == "AveragePool" {
                s.len() == 4
                    && ctx.attr_ints("kernel_shape") == Some(vec![s[2] as i64, s[3] as i64])
                    && ctx
                        .attr_ints("pads")
                        .is_none_or(|p| p.iter().all(|&v| v == 0))
            } else {
                // The axes are an attribute up to opset 17 and an optional input from opset 18
                // (torch's dynamo exporter); without them every axis is reduced (or none, with
                // `noop_with_empty_axes`), neither of which is an average over H and W.
                let mut axes = match ctx.attr_ints("axes") {
                    Some(a) => a,
                    None if ctx.input_name(1).is_some() => ctx.ints(b, 1)?,
                    None => Vec::new(),
                };
                axes.iter_mut().for_each(|a| {
                    if *a < 0 {
                        *a += s.len() as i64
                    }
                });
                axes.sort();
                s.len() == 4 && axes == [2, 3] && ctx.attr_i("keepdims", 1) == 1
            };
            if !global {
                return Err(ctx.err("only a global average over H and W is supported"));
            }
            b.push(&name, Op::GlobalAvgPool, vec![x], &out, vec![1, s[1], 1, 1]);
        }
        "Flatten" | "Reshape" | "Squeeze" | "Unsqueeze" => {
            let x = ctx.value(b, 0)?;
            let s = b.graph.shape(x).to_vec();
            let target = match node.op_type.as_str() {
                "Flatten" => {
                    let mut axis = ctx.attr_i("axis", 1);
                    if axis < 0 {
                        axis += s.len() as i64;
                    }
                    let axis = axis.clamp(0, s.len() as i64) as usize;
                    vec![s[..axis].iter().product(), s[axis..].iter().product()]
                }
                "Reshape" => {
                    let t = ctx.ints(b, 1)?;
                    // allowzero=1 (opset 14+) makes a 0 in the target a zero-sized dimension,
                    // not a copy of the input's: never meaningful in these networks.
                    if ctx.attr_i("allowzero", 0) != 0 && t.contains(&0) {
                        return Err(ctx.err(format!(
                            "allowzero=1 with a 0 in the target shape {t:?} (a zero-sized tensor) is not supported"
                        )));
                    }
                    reshape_target(&s, &t)
                        .ok_or_else(|| ctx.err(format!("cannot reshape {s:?} to {t:?}")))?
                }
                op => {
                    let axes = squeeze_axes(b, ctx)?;
                    squeeze_shape(op == "Squeeze", &s, axes.as_deref())
                        .ok_or_else(|| ctx.err(format!("bad axes for shape {s:?}")))?
                }
            };
            b.push(&name, Op::Reshape, vec![x], &out, target);
        }
        "MatMul" | "Gemm" => {
            let x = ctx.value(b, 0)?;
            let s = b.graph.shape(x).to_vec();
            let mut w = ctx.konst_f32(b, 1)?;
            if w.shape.len() != 2 {
                return Err(ctx.err(format!("weight shape {:?} is not 2-D", w.shape)));
            }
            let mut bias = None;
            if node.op_type == "Gemm" {
                if ctx.attr_i("transA", 0) != 0 {
                    return Err(ctx.err("transA=1 is not supported"));
                }
                if ctx.attr_i("transB", 0) != 0 {
                    w = w.transposed_2d();
                }
                let alpha = ctx.attr_f("alpha", 1.0);
                if alpha != 1.0 {
                    w.data.iter_mut().for_each(|v| *v *= alpha);
                }
                if ctx.input_name(2).is_some() {
                    let beta = ctx.attr_f("beta", 1.0);
                    let c = ctx.konst_f32(b, 2)?;
                    let n = w.shape[1];
                    let data: Vec<f32> = match c.numel() {
                        1 => vec![c.data[0] * beta; n],
                        len if len == n => c.data.iter().map(|v| v * beta).collect(),
                        _ => {
                            return Err(ctx.err(format!(
                                "bias shape {:?} does not match {n} outputs",
                                c.shape
                            )))
                        }
                    };
                    bias = Some(data);
                }
            }
            let k = *s.last().unwrap_or(&0);
            if s.len() != 2 || s[0] != 1 || k != w.shape[0] {
                return Err(ctx.err(format!(
                    "shape mismatch: input {s:?} times weight {:?}",
                    w.shape
                )));
            }
            let n = w.shape[1];
            b.push(
                &name,
                Op::MatMul {
                    weight: w,
                    bias,
                    act: Activation::Identity,
                },
                vec![x],
                &out,
                vec![1, n],
            );
        }
        "Softmax" => {
            let x = ctx.value(b, 0)?;
            let s = b.graph.shape(x).to_vec();
            let default_axis = if ctx.opset < 13 { 1 } else { -1 };
            let mut axis = ctx.attr_i("axis", default_axis);
            if axis < 0 {
                axis += s.len() as i64;
            }
            // Before opset 13 softmax flattens from `axis`; either way it must cover the last non-1 dims only.
            let covered: usize = s[(axis.max(0) as usize).min(s.len())..].iter().product();
            if covered != s.iter().product::<usize>() {
                return Err(ctx.err(format!("softmax over axis {axis} of shape {s:?} is not supported (only over all non-batch values)")));
            }
            b.push(&name, Op::Softmax, vec![x], &out, s);
        }
        other => return Err(ctx.err(format!("unsupported operator '{other}'"))),
    }
    Ok(())
}

fn convert_binary(b: &mut Builder, ctx: &NodeCtx, name: &str, out: &str) -> Result<()> {
    let kind =
        BinaryKind::from_onnx(&ctx.node.op_type).ok_or_else(|| ctx.err("not a binary op"))?;
    let (l, r) = (ctx.sym(b, 0)?, ctx.sym(b, 1)?);
    match (l, r) {
        (Sym::Value(x), Sym::Value(y)) => {
            let (sx, sy) = (b.graph.shape(x).to_vec(), b.graph.shape(y).to_vec());
            let shape = broadcast_shapes(&sx, &sy)
                .ok_or_else(|| ctx.err(format!("shapes {sx:?} and {sy:?} do not broadcast")))?;
            let op = kind.of_values().map_err(|e| ctx.err(e))?;
            b.push(name, op, vec![x, y], out, shape);
        }
        (Sym::Value(x), Sym::Const(c)) | (Sym::Const(c), Sym::Value(x)) => {
            let const_first = matches!(ctx.sym(b, 0)?, Sym::Const(_));
            let t = c.to_f32();
            let sx = b.graph.shape(x).to_vec();
            let shape = broadcast_shapes(&sx, &t.shape).ok_or_else(|| {
                ctx.err(format!("shapes {sx:?} and {:?} do not broadcast", t.shape))
            })?;
            if shape != sx {
                return Err(ctx.err(format!(
                    "the constant {:?} would grow the tensor {sx:?}",
                    t.shape
                )));
            }
            let op = kind.with_constant(const_first, t).map_err(|e| ctx.err(e))?;
            b.push(name, op, vec![x], out, sx);
        }
        (Sym::Const(_), Sym::Const(_)) => unreachable!("folded by fold_constant"),
    }
    Ok(())
}
