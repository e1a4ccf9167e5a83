//! Converting convolutions, reshapes and elementwise arithmetic (Paddle's `axis` alignment).

use super::*;

/// The IR convolution for `conv2d` / `depthwise_conv2d` attributes, and its output shape.
pub(super) fn conv(ctx: &Ctx, in_shape: &[usize], weight: Tensor) -> Result<(Conv, Vec<usize>)> {
    ctx.check_nchw()?;
    if weight.shape.len() != 4 {
        return Err(ctx.err(format!(
            "filter of rank {} (only 2-D convolutions are supported)",
            weight.shape.len()
        )));
    }
    if in_shape.len() != 4 {
        return Err(ctx.err(format!("input shape {in_shape:?} is not 4-D")));
    }
    if let Some(d) = ctx.ints("dilations")? {
        if d.iter().any(|&v| v != 1) {
            return Err(ctx.err(format!("dilations {d:?} are not supported (only 1)")));
        }
    }
    let groups = ctx.int("groups", 1)?;
    let strides = ctx.ints("strides")?.unwrap_or_else(|| vec![1, 1]);
    if strides.len() != 2 || strides.iter().any(|&s| s < 1) {
        return Err(ctx.err(format!("strides {strides:?} are not supported")));
    }
    let stride = [strides[0] as usize, strides[1] as usize];
    let (kh, kw) = (weight.shape[2], weight.shape[3]);
    let pads = match ctx.string("padding_algorithm").unwrap_or("EXPLICIT") {
        "EXPLICIT" => {
            let p = ctx.ints("paddings")?.unwrap_or_else(|| vec![0, 0]);
            if p.iter().any(|&v| v < 0) {
                return Err(ctx.err(format!("paddings {p:?} are negative")));
            }
            let p: Vec<usize> = p.iter().map(|&v| v as usize).collect();
            match p.len() {
                // [pad_h, pad_w]
                2 => [p[0], p[1], p[0], p[1]],
                // [top, bottom, left, right]
                4 => [p[0], p[2], p[1], p[3]],
                _ => return Err(ctx.err(format!("paddings {p:?} are not supported"))),
            }
        }
        "VALID" => [0; 4],
        "SAME" => {
            let same = |i: usize, k: usize, s: usize| {
                let o = i.div_ceil(s);
                let total = ((o.max(1) - 1) * s + k).saturating_sub(i);
                (total / 2, total - total / 2)
            };
            let (t, bt) = same(in_shape[2], kh, stride[0]);
            let (l, r) = same(in_shape[3], kw, stride[1]);
            [t, l, bt, r]
        }
        other => return Err(ctx.err(format!("padding_algorithm '{other}' is not supported"))),
    };
    let cin = in_shape[1];
    let groups = usize::try_from(groups)
        .ok()
        .filter(|&g| g >= 1)
        .ok_or_else(|| ctx.err(format!("groups {groups}")))?;
    if cin % groups != 0 || weight.shape[1] * groups != cin || weight.shape[0] % groups != 0 {
        return Err(ctx.err(format!(
            "shape mismatch: input has {cin} channels, filter {:?} with groups {groups}",
            weight.shape
        )));
    }
    let oh = conv_out_dim(in_shape[2], kh, stride[0], pads[0], pads[2]);
    let ow = conv_out_dim(in_shape[3], kw, stride[1], pads[1], pads[3]);
    let (Some(oh), Some(ow)) = (oh, ow) else {
        return Err(ctx.err("kernel larger than the padded input"));
    };
    let cout = weight.shape[0];
    let conv = Conv {
        weight,
        bias: None,
        stride,
        pads,
        groups,
        pad_value: None,
        act: Activation::Identity,
        residual: false,
        input_scale: false,
    };
    Ok((conv, vec![1, cout, oh, ow]))
}

pub(super) fn sym_shape(b: &Builder, s: &Sym) -> Vec<usize> {
    match s {
        Sym::Value(v) => b.graph.shape(*v).to_vec(),
        Sym::Const(c) => c.shape().to_vec(),
    }
}

/// Reshapes a value (an IR `Reshape` node) or a constant (folded).
pub(super) fn reshape(b: &mut Builder, name: &str, x: Sym, out: &str, target: Vec<usize>) {
    match x {
        Sym::Value(v) => {
            b.push(name, Op::Reshape, vec![v], out, target);
        }
        Sym::Const(Const::F32(t)) => b.define_const(out, Const::F32(Tensor::new(target, t.data))),
        Sym::Const(Const::I64 { data, .. }) => b.define_const(
            out,
            Const::I64 {
                shape: target,
                data,
            },
        ),
    }
}

/// Paddle's `axis` broadcast: `y` is aligned with `x`'s dims starting at `axis` (`-1`: numpy's right
/// alignment). Returns `y`'s shape padded to `rank` with ones.
pub(super) fn align(rank: usize, y: &[usize], axis: i64) -> Option<Vec<usize>> {
    if y.len() >= rank || axis == -1 {
        return Some(y.to_vec());
    }
    let axis = if axis < 0 { axis + rank as i64 } else { axis };
    let axis = usize::try_from(axis).ok()?;
    let mut y = y.to_vec();
    while axis + y.len() > rank && y.last() == Some(&1) {
        y.pop();
    }
    if axis + y.len() > rank {
        return None;
    }
    let mut out = vec![1; axis];
    out.extend(y);
    out.resize(rank, 1);
    Some(out)
}

pub(super) fn binary(b: &mut Builder, ctx: &Ctx) -> Result<()> {
    let out = ctx.out("Out")?;
    let name = ctx.op.name.clone();
    let kind = BinaryKind::from_paddle(&ctx.op.kind).ok_or_else(|| ctx.err("not a binary op"))?;
    let axis = ctx.int("axis", -1)?;
    let (l, r) = (ctx.sym(b, "X")?, ctx.sym(b, "Y")?);
    match (l, r) {
        (Sym::Value(x), Sym::Value(y)) => {
            let sx = b.graph.shape(x).to_vec();
            let mut sy = b.graph.shape(y).to_vec();
            let mut y = y;
            if sy.len() < sx.len() && axis != -1 {
                let aligned = align(sx.len(), &sy, axis).ok_or_else(|| {
                    ctx.err(format!("{sy:?} does not align with {sx:?} at axis {axis}"))
                })?;
                y = b.push(
                    &format!("{name}/align"),
                    Op::Reshape,
                    vec![y],
                    &format!("{out}/aligned_y"),
                    aligned.clone(),
                );
                sy = aligned;
            }
            let shape = broadcast_shapes(&sx, &sy)
                .ok_or_else(|| ctx.err(format!("shapes {sx:?} and {sy:?} do not broadcast")))?;
            let op = kind.of_values().map_err(|e| ctx.err(e))?;
            b.push(&name, op, vec![x, y], &out, shape);
        }
        (Sym::Value(x), Sym::Const(c)) | (Sym::Const(c), Sym::Value(x)) => {
            let const_first = matches!(ctx.sym(b, "X")?, Sym::Const(_));
            let mut t = c.to_f32();
            let sx = b.graph.shape(x).to_vec();
            t.shape = align(sx.len(), &t.shape, axis).ok_or_else(|| {
                ctx.err(format!(
                    "{:?} does not align with {sx:?} at axis {axis}",
                    t.shape
                ))
            })?;
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
            b.push(&name, op, vec![x], &out, sx);
        }
        (Sym::Const(x), Sym::Const(y)) => {
            let (x, mut y) = (x.to_f32(), y.to_f32());
            if let Some(s) = align(x.shape.len(), &y.shape, axis) {
                y.shape = s;
            }
            if x.shape != y.shape && y.numel() != 1 {
                return Err(ctx.err("arithmetic on constants of different shapes is not supported"));
            }
            let f = |a: f32, c: f32| match kind {
                BinaryKind::Add => a + c,
                BinaryKind::Mul => a * c,
                BinaryKind::Sub => a - c,
                BinaryKind::Div => a / c,
            };
            let data = x
                .data
                .iter()
                .enumerate()
                .map(|(i, &a)| f(a, y.data[if y.numel() == 1 { 0 } else { i }]))
                .collect();
            b.define_const(&out, Const::F32(Tensor::new(x.shape.clone(), data)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::align;

    #[test]
    fn paddle_axis_broadcast() {
        assert_eq!(align(4, &[8], 1), Some(vec![1, 8, 1, 1]));
        assert_eq!(align(4, &[1, 8, 1, 1], -1), Some(vec![1, 8, 1, 1]));
        assert_eq!(align(2, &[10], 1), Some(vec![1, 10]));
        assert_eq!(align(4, &[8, 1], 1), Some(vec![1, 8, 1, 1]));
        assert_eq!(align(4, &[8], -1), Some(vec![8]));
        assert_eq!(align(4, &[8, 3], 3), None);
    }
}
