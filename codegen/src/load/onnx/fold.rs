//! Constant folding of shape arithmetic (Shape, Gather, Concat, Squeeze, ...) while loading.

use super::*;

pub(super) fn squeeze_axes(b: &Builder, ctx: &NodeCtx) -> Result<Option<Vec<i64>>> {
    if let Some(a) = ctx.attr_ints("axes") {
        return Ok(Some(a));
    }
    match ctx.input_name(1) {
        Some(_) => Ok(Some(ctx.ints(b, 1)?)),
        None => Ok(None),
    }
}

pub(super) fn squeeze_shape(
    squeeze: bool,
    s: &[usize],
    axes: Option<&[i64]>,
) -> Option<Vec<usize>> {
    if squeeze {
        let rank = s.len() as i64;
        let axes: Vec<usize> = match axes {
            Some(a) => a
                .iter()
                .map(|&x| {
                    if x < 0 {
                        (x + rank) as usize
                    } else {
                        x as usize
                    }
                })
                .collect(),
            None => (0..s.len()).filter(|&i| s[i] == 1).collect(),
        };
        if axes.iter().any(|&a| a >= s.len() || s[a] != 1) {
            return None;
        }
        Some(
            s.iter()
                .enumerate()
                .filter(|(i, _)| !axes.contains(i))
                .map(|(_, &d)| d)
                .collect(),
        )
    } else {
        let axes = axes?;
        let rank = (s.len() + axes.len()) as i64;
        let mut norm: Vec<usize> = axes
            .iter()
            .map(|&x| {
                if x < 0 {
                    (x + rank) as usize
                } else {
                    x as usize
                }
            })
            .collect();
        norm.sort();
        let mut out = s.to_vec();
        for a in norm {
            if a > out.len() {
                return None;
            }
            out.insert(a, 1);
        }
        Some(out)
    }
}

/// Evaluates a node whose inputs are all constants (or whose result depends only on static shapes).
pub(super) fn fold_constant(b: &Builder, ctx: &NodeCtx) -> Result<Option<Const>> {
    let node = ctx.node;
    let op = node.op_type.as_str();
    if op == "Constant" {
        let a = ctx
            .attr("value")
            .and_then(|a| a.t.as_ref())
            .ok_or_else(|| ctx.err("Constant without a tensor 'value'"))?;
        return tensor_to_const(a).map(Some).map_err(|r| ctx.err(r));
    }
    if op == "Shape" {
        // Static shapes make Shape a constant.
        let s = match ctx.sym(b, 0)? {
            Sym::Value(v) => b.graph.shape(v).to_vec(),
            Sym::Const(c) => c.shape().to_vec(),
        };
        let data: Vec<i64> = s.iter().map(|&d| d as i64).collect();
        return Ok(Some(Const::I64 {
            shape: vec![data.len()],
            data,
        }));
    }
    let all_const = node
        .input
        .iter()
        .filter(|n| !n.is_empty())
        .all(|n| matches!(b.lookup(n), Some(Sym::Const(_))));
    if !all_const || node.input.is_empty() {
        return Ok(None);
    }
    let folded = match op {
        "Identity" | "Cast" => ctx.konst(b, 0)?,
        "Unsqueeze" | "Squeeze" | "Reshape" | "Flatten" => {
            let c = ctx.konst(b, 0)?;
            let s = c.shape().to_vec();
            let shape = match op {
                "Reshape" => reshape_target(&s, &ctx.ints(b, 1)?),
                "Flatten" => {
                    let axis = ctx.attr_i("axis", 1).clamp(0, s.len() as i64) as usize;
                    Some(vec![s[..axis].iter().product(), s[axis..].iter().product()])
                }
                _ => squeeze_shape(op == "Squeeze", &s, squeeze_axes(b, ctx)?.as_deref()),
            }
            .ok_or_else(|| ctx.err(format!("cannot reshape constant of shape {s:?}")))?;
            with_shape(c, shape)
        }
        "Concat" => {
            let parts: Vec<Vec<i64>> = (0..node.input.len())
                .map(|i| ctx.ints(b, i))
                .collect::<Result<_>>()?;
            let data: Vec<i64> = parts.concat();
            Const::I64 {
                shape: vec![data.len()],
                data,
            }
        }
        "Gather" => {
            let data = ctx.ints(b, 0)?;
            let idx = ctx.konst(b, 1)?;
            let ids = idx.as_i64().ok_or_else(|| ctx.err("non-integer indices"))?;
            let n = data.len() as i64;
            let out: Vec<i64> = ids
                .iter()
                .map(|&i| data.get((if i < 0 { i + n } else { i }) as usize).copied())
                .collect::<Option<_>>()
                .ok_or_else(|| ctx.err("index out of range"))?;
            Const::I64 {
                shape: idx.shape().to_vec(),
                data: out,
            }
        }
        "Slice" => {
            let data = ctx.ints(b, 0)?;
            let (starts, ends) = if ctx.opset < 10 {
                (
                    ctx.attr_ints("starts").unwrap_or_default(),
                    ctx.attr_ints("ends").unwrap_or_default(),
                )
            } else {
                (ctx.ints(b, 1)?, ctx.ints(b, 2)?)
            };
            let steps = if ctx.opset >= 10 && ctx.input_name(4).is_some() {
                ctx.ints(b, 4)?
            } else {
                vec![1]
            };
            if starts.len() != 1 || ends.len() != 1 || steps != [1] {
                return Err(ctx.err("only 1-D unit-step slices of shape constants are supported"));
            }
            let n = data.len() as i64;
            let clampi = |v: i64| (if v < 0 { v + n } else { v }).clamp(0, n) as usize;
            let (s, e) = (clampi(starts[0]), clampi(ends[0]));
            let out = if s < e { data[s..e].to_vec() } else { vec![] };
            Const::I64 {
                shape: vec![out.len()],
                data: out,
            }
        }
        "Add" | "Mul" | "Sub" | "Div" => {
            let (x, y) = (ctx.konst_f32(b, 0)?, ctx.konst_f32(b, 1)?);
            if x.shape != y.shape && y.numel() != 1 {
                return Err(ctx.err("arithmetic on constants of different shapes is not supported"));
            }
            let f = |a: f32, c: f32| match op {
                "Add" => a + c,
                "Mul" => a * c,
                "Sub" => a - c,
                _ => a / c,
            };
            let data = x
                .data
                .iter()
                .enumerate()
                .map(|(i, &a)| f(a, y.data[if y.numel() == 1 { 0 } else { i }]))
                .collect();
            Const::F32(Tensor::new(x.shape.clone(), data))
        }
        _ => return Ok(None),
    };
    Ok(Some(folded))
}

pub(super) fn with_shape(c: Const, shape: Vec<usize>) -> Const {
    match c {
        Const::F32(t) => Const::F32(Tensor::new(shape, t.data)),
        Const::I64 { data, .. } => Const::I64 { shape, data },
    }
}
