//! [`PaddleOp`]s -> IR, through the same [`Builder`] as the ONNX front end.
//!
//! Conv biases arrive as `elementwise_add(axis=1)` of a `[C]` parameter (Paddle <= 2.4), as
//! `reshape2` + `elementwise_add(axis=-1)` (2.5+), or as PIR `reshape` + `add`: the reshape of a parameter
//! folds to a constant here and the add becomes `AddConst`, which the `fold_bias_add` pass merges into the
//! conv exactly as for paddle2onnx's ONNX. Inference dropout (`downgrade_in_infer`) is a multiplication
//! by `1 - p`, as in Paddle's kernel.

use std::path::Path;

use super::{Attr, ModelFiles, PaddleOp, Program};
use crate::error::{Error, Result};
use crate::ir::{Activation, Conv, Graph, Op, Tensor, ValueId};
use crate::load::builder::{broadcast_shapes, conv_out_dim, reshape_target, Builder, Const, Sym};
use crate::ops::activation;
use crate::ops::binary::BinaryKind;
use crate::ops::max_pool::MaxPool;
use crate::InputSpec;

mod ctx;
mod layers;
mod shape_ops;

use ctx::{Ctx, PaddleAttrs};
use layers::{binary, conv, reshape, sym_shape};

/// Builds the IR graph of a parsed program whose parameters have been read.
pub(crate) fn build(
    files: &ModelFiles,
    program: &Program,
    params: Vec<(String, Const)>,
    spec: &InputSpec,
) -> Result<Graph> {
    let file = files.model_path.as_path();
    let spec = input_spec(
        file,
        &program.input_name,
        program.input_dims.as_deref(),
        spec,
    )?;
    let mut b = Builder::new(file, &files.name, &program.input_name, &spec);
    for (name, c) in params {
        b.define_const(&name, c);
    }
    for op in &program.ops {
        convert(&mut b, &Ctx { file, op })?;
    }
    if program.output_name.is_empty() {
        return Err(Error::file(file, "the fetch op has no input"));
    }
    b.finish(&program.output_name)
}

/// Checks the declared input dims against `[N, 3, H, W]` (N dynamic or 1), filling H and W.
fn input_spec(
    file: &Path,
    name: &str,
    dims: Option<&[i64]>,
    spec: &InputSpec,
) -> Result<InputSpec> {
    let mut spec = spec.clone();
    let Some(dims) = dims else { return Ok(spec) };
    let bad = |why: String| {
        Error::file(
            file,
            format!("input '{name}' has an unsupported shape {dims:?}: {why}"),
        )
    };
    if dims.len() != 4 {
        return Err(bad(format!("rank {}, expected 4 (N, C, H, W)", dims.len())));
    }
    if dims[0] > 1 {
        return Err(bad("only batch 1 (or dynamic) is supported".into()));
    }
    if dims[1] > 0 && dims[1] != 3 {
        return Err(bad("expected 3 channels (RGB)".into()));
    }
    if dims[2] > 0 {
        spec.height = dims[2] as usize;
    }
    if dims[3] > 0 {
        spec.width = dims[3] as usize;
    }
    Ok(spec)
}

/// A Paddle op's attributes, as [`activation::from_paddle`] reads them.
fn convert(b: &mut Builder, ctx: &Ctx) -> Result<()> {
    let op = ctx.op;
    let name = op.name.clone();
    match op.kind.as_str() {
        "conv2d" | "depthwise_conv2d" => {
            let out = ctx.out("Output")?;
            let x = ctx.value(b, "Input")?;
            let weight = ctx.konst(b, "Filter")?.to_f32();
            let conv = conv(ctx, b.graph.shape(x), weight)?;
            let (conv, shape) = conv;
            b.push(&name, Op::Conv(conv), vec![x], &out, shape);
        }
        "batch_norm" => {
            ctx.check_nchw()?;
            let out = ctx.out("Y")?;
            let x = ctx.value(b, "X")?;
            let shape = b.graph.shape(x).to_vec();
            let c = *shape
                .get(1)
                .ok_or_else(|| ctx.err("input has no channel axis"))?;
            let get = |slot: &str| -> Result<Vec<f32>> {
                let t = ctx.konst(b, slot)?.to_f32();
                if t.numel() != c {
                    return Err(ctx.err(format!(
                        "'{slot}' has {} values for {c} channels",
                        t.numel()
                    )));
                }
                Ok(t.data)
            };
            let eps = ctx.float("epsilon")?.unwrap_or(1e-5) as f32;
            let op = Op::BatchNorm {
                scale: get("Scale")?,
                bias: get("Bias")?,
                mean: get("Mean")?,
                var: get("Variance")?,
                eps,
            };
            b.push(&name, op, vec![x], &out, shape);
        }
        kind if activation::PADDLE_OPS.contains(&kind) => {
            let out = ctx.out("Out")?;
            let x = ctx.value(b, "X")?;
            let act = activation::from_paddle(kind, &PaddleAttrs(ctx))?;
            let shape = b.graph.shape(x).to_vec();
            b.push(&name, Op::Act(act), vec![x], &out, shape);
        }
        "elementwise_add" | "elementwise_mul" | "elementwise_sub" | "elementwise_div" => {
            binary(b, ctx)?
        }
        "pool2d" => {
            ctx.check_nchw()?;
            let out = ctx.out("Out")?;
            let x = ctx.value(b, "X")?;
            let s = b.graph.shape(x).to_vec();
            if s.len() != 4 {
                return Err(ctx.err(format!("input shape {s:?} is not 4-D")));
            }
            let kind = ctx.string("pooling_type").unwrap_or("avg");
            let ksize = match ctx.arg("KernelSize") {
                Some(_) => Some(ctx.const_ints(b, "KernelSize")?),
                None => ctx.ints("ksize")?,
            };
            let pads_zero = ctx
                .ints("paddings")?
                .is_none_or(|p| p.iter().all(|&v| v == 0));
            let hw = vec![s[2] as i64, s[3] as i64];
            let global = ctx.boolean("global_pooling", false)?
                || (ctx.boolean("adaptive", false)? && ksize.as_deref() == Some(&[1, 1][..]))
                || (!ctx.boolean("adaptive", false)? && ksize.as_ref() == Some(&hw) && pads_zero);
            if kind == "max" && !global && !ctx.boolean("adaptive", false)? {
                let ksize = ksize.ok_or_else(|| ctx.err("max pool2d without ksize"))?;
                let p = MaxPool::from_paddle(&PaddleAttrs(ctx), ksize)?;
                let shape = p.checked_out_shape(&s, &PaddleAttrs(ctx))?;
                b.push(&name, Op::MaxPool(p), vec![x], &out, shape);
                return Ok(());
            }
            if kind != "avg" || !global {
                return Err(ctx.err(format!(
                    "only global average and windowed max pools are supported (got pooling_type '{kind}', ksize {ksize:?}, adaptive {}, \
                     global_pooling {}, input {s:?})",
                    ctx.boolean("adaptive", false)?,
                    ctx.boolean("global_pooling", false)?
                )));
            }
            b.push(&name, Op::GlobalAvgPool, vec![x], &out, vec![1, s[1], 1, 1]);
        }
        "dropout" => {
            let out = ctx.out("Out")?;
            let x = ctx.sym(b, "X")?;
            let mode = ctx
                .string("dropout_implementation")
                .or(ctx.string("mode"))
                .unwrap_or("downgrade_in_infer");
            let p = match ctx.arg("P") {
                Some(_) => {
                    let t = ctx.konst(b, "P")?.to_f32();
                    f64::from(
                        *t.data
                            .first()
                            .ok_or_else(|| ctx.err("empty dropout probability"))?,
                    )
                }
                None => ctx
                    .float("dropout_prob")?
                    .or(ctx.float("p")?)
                    .unwrap_or(0.5),
            };
            match mode {
                "upscale_in_train" => b.define(&out, x),
                "downgrade_in_infer" => {
                    // Paddle's kernel: out = x * (1.0f - p), in f32.
                    let keep = 1.0f32 - p as f32;
                    match x {
                        _ if keep == 1.0 => b.define(&out, x),
                        Sym::Value(v) => {
                            let shape = b.graph.shape(v).to_vec();
                            b.push(
                                &name,
                                Op::MulConst(Tensor::new(vec![1], vec![keep])),
                                vec![v],
                                &out,
                                shape,
                            );
                        }
                        Sym::Const(c) => {
                            let mut t = c.to_f32();
                            t.data.iter_mut().for_each(|v| *v *= keep);
                            b.define_const(&out, Const::F32(t));
                        }
                    }
                }
                other => {
                    return Err(
                        ctx.err(format!("dropout implementation '{other}' is not supported"))
                    )
                }
            }
        }
        "flatten_contiguous_range" => {
            let out = ctx.out("Out")?;
            let x = ctx.sym(b, "X")?;
            let s = sym_shape(b, &x);
            let rank = s.len() as i64;
            let norm = |a: i64| if a < 0 { a + rank } else { a };
            let (start, stop) = (
                norm(ctx.int("start_axis", 1)?),
                norm(ctx.int("stop_axis", -1)?),
            );
            if rank == 0 || start < 0 || stop >= rank || start > stop {
                return Err(ctx.err(format!(
                    "cannot flatten axes {start}..={stop} of shape {s:?}"
                )));
            }
            let (start, stop) = (start as usize, stop as usize);
            let mut target = s[..start].to_vec();
            target.push(s[start..=stop].iter().product());
            target.extend_from_slice(&s[stop + 1..]);
            reshape(b, &name, x, &out, target);
        }
        "reshape2" | "reshape" => {
            let out = ctx.out("Out")?;
            let x = ctx.sym(b, "X")?;
            let s = sym_shape(b, &x);
            let tensors = ctx.args("ShapeTensor");
            let t = if !tensors.is_empty() {
                let mut t = Vec::new();
                for n in tensors {
                    match ctx.sym_named(b, n)? {
                        Sym::Const(c) => t.extend(
                            c.as_i64()
                                .ok_or_else(|| ctx.err("ShapeTensor must hold integers"))?,
                        ),
                        Sym::Value(_) => {
                            return Err(ctx.err("a shape computed at run time is not supported"))
                        }
                    }
                }
                t
            } else if ctx.arg("Shape").is_some() {
                ctx.const_ints(b, "Shape")?
            } else {
                ctx.ints("shape")?.ok_or_else(|| {
                    ctx.err("no target shape (attribute 'shape' or input 'Shape')")
                })?
            };
            let target = reshape_target(&s, &t)
                .ok_or_else(|| ctx.err(format!("cannot reshape {s:?} to {t:?}")))?;
            reshape(b, &name, x, &out, target);
        }
        "matmul_v2" | "matmul" => {
            let out = ctx.out("Out")?;
            let x = ctx.value(b, "X")?;
            let s = b.graph.shape(x).to_vec();
            let mut w = ctx.konst(b, "Y")?.to_f32();
            let flag = |names: [&str; 3]| -> Result<bool> {
                let mut v = false;
                for n in names {
                    v |= ctx.boolean(n, false)?;
                }
                Ok(v)
            };
            if flag(["trans_x", "transpose_x", "transpose_X"])? {
                return Err(ctx.err("a transposed input (trans_x) is not supported"));
            }
            if w.shape.len() != 2 {
                return Err(ctx.err(format!("weight shape {:?} is not 2-D", w.shape)));
            }
            if flag(["trans_y", "transpose_y", "transpose_Y"])? {
                w = w.transposed_2d();
            }
            let alpha = ctx.float("alpha")?.unwrap_or(1.0) as f32;
            if alpha != 1.0 {
                w.data.iter_mut().for_each(|v| *v *= alpha);
            }
            if s.len() != 2 || s[0] != 1 || s[1] != w.shape[0] {
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
                    bias: None,
                    act: Activation::Identity,
                },
                vec![x],
                &out,
                vec![1, n],
            );
        }
        "softmax" => {
            let out = ctx.out("Out")?;
            let x = ctx.value(b, "X")?;
            let s = b.graph.shape(x).to_vec();
            let mut axis = ctx.int("axis", -1)?;
            if axis < 0 {
                axis += s.len() as i64;
            }
            let covered: usize = s[(axis.max(0) as usize).min(s.len())..].iter().product();
            let ones_after = s
                .get(axis.max(0) as usize + 1..)
                .is_some_and(|r| r.iter().all(|&d| d == 1));
            if axis < 0 || covered != s.iter().product::<usize>() || !ones_after {
                return Err(ctx.err(format!("softmax over axis {axis} of shape {s:?} is not supported (only over all values)")));
            }
            b.push(&name, Op::Softmax, vec![x], &out, s);
        }
        "scale" => {
            let out = ctx.out("Out")?;
            let x = ctx.sym(b, "X")?;
            let scale = match ctx.arg("ScaleTensor") {
                Some(_) => *ctx
                    .konst(b, "ScaleTensor")?
                    .to_f32()
                    .data
                    .first()
                    .ok_or_else(|| ctx.err("empty ScaleTensor"))?,
                None => ctx.float("scale")?.unwrap_or(1.0) as f32,
            };
            let bias = ctx.float("bias")?.unwrap_or(0.0) as f32;
            let after = ctx.boolean("bias_after_scale", true)?;
            match x {
                _ if scale == 1.0 && bias == 0.0 => b.define(&out, x),
                Sym::Const(c) => {
                    let mut t = c.to_f32();
                    let f = |v: f32| {
                        if after {
                            v * scale + bias
                        } else {
                            (v + bias) * scale
                        }
                    };
                    t.data.iter_mut().for_each(|v| *v = f(*v));
                    b.define_const(&out, Const::F32(t));
                }
                Sym::Value(v) => {
                    let shape = b.graph.shape(v).to_vec();
                    let mul =
                        (scale != 1.0).then(|| Op::MulConst(Tensor::new(vec![1], vec![scale])));
                    let add = (bias != 0.0).then(|| Op::AddConst(Tensor::new(vec![1], vec![bias])));
                    let steps: Vec<Op> = if after { [mul, add] } else { [add, mul] }
                        .into_iter()
                        .flatten()
                        .collect();
                    let last = steps.len() - 1;
                    let mut cur = v;
                    for (i, step) in steps.into_iter().enumerate() {
                        let target = if i == last {
                            out.clone()
                        } else {
                            format!("{out}/scaled")
                        };
                        cur = b.push(&name, step, vec![cur], &target, shape.clone());
                    }
                }
            }
        }
        "full" | "fill_constant" => {
            let out = ctx.out("Out")?;
            let shape: Vec<usize> = ctx
                .ints("shape")?
                .unwrap_or_default()
                .iter()
                .map(|&d| {
                    usize::try_from(d).map_err(|_| ctx.err(format!("negative dimension {d}")))
                })
                .collect::<Result<_>>()?;
            let value = match (ctx.float("value")?, ctx.string("str_value")) {
                (_, Some(s)) if !s.is_empty() => s
                    .parse::<f64>()
                    .map_err(|_| ctx.err(format!("str_value '{s}' is not a number")))?,
                (v, _) => v.unwrap_or(0.0),
            };
            let integer = match ctx.attr("dtype") {
                Some(Attr::Str(s)) => s.contains("int") || s == "bool",
                // VarType.Type: BOOL 0, INT16 1, INT32 2, INT64 3
                Some(Attr::Int(t)) => (0..=3).contains(t),
                _ => false,
            };
            let n: usize = shape.iter().product();
            let c = if integer {
                Const::I64 {
                    shape,
                    data: vec![value as i64; n],
                }
            } else {
                Const::F32(Tensor::new(shape, vec![value as f32; n]))
            };
            b.define_const(&out, c);
        }
        "full_int_array" => {
            let out = ctx.out("Out")?;
            let data = ctx.ints("value")?.unwrap_or_default();
            b.define_const(
                &out,
                Const::I64 {
                    shape: vec![data.len()],
                    data,
                },
            );
        }
        "assign" => {
            let out = ctx.out("Out")?;
            let x = ctx.sym(b, "X")?;
            b.define(&out, x);
        }
        other => {
            if !shape_ops::convert(b, ctx, other)? {
                return Err(ctx.err(format!("unsupported operator '{}'", op.type_name)));
            }
        }
    }
    Ok(())
}
