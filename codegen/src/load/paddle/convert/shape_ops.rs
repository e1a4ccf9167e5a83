//! Shape arithmetic that Paddle programs compute at run time and that is constant here (batch 1,
//! static sizes): `shape` / `shape64`, `slice` of a shape, `combine` + `stack` of scalars. PaddleOCR's
//! `ClsHead` writes `reshape(x, [x.shape[0], x.shape[1]])`, which exports as exactly these.

use super::ctx::Ctx;
use super::layers::sym_shape;
use crate::error::Result;
use crate::load::builder::{Builder, Const, Sym};

/// Converts one shape op into a constant; `Ok(false)` when `kind` is not one of them.
pub(super) fn convert(b: &mut Builder, ctx: &Ctx, kind: &str) -> Result<bool> {
    match kind {
        "shape" | "shape64" => {
            let out = ctx.out("Out")?;
            let x = ctx.sym(b, "Input")?;
            let dims: Vec<i64> = sym_shape(b, &x).iter().map(|&d| d as i64).collect();
            b.define_const(
                &out,
                Const::I64 {
                    shape: vec![dims.len()],
                    data: dims,
                },
            );
        }
        "slice" => {
            let out = ctx.out("Out")?;
            let data = ctx.const_ints(b, "Input")?;
            let shape = ctx.konst(b, "Input")?.shape().to_vec();
            let bound = |slot: &str, attr: &str| -> Result<i64> {
                let v = match ctx.arg(slot) {
                    Some(_) => ctx.const_ints(b, slot)?,
                    None => ctx.ints(attr)?.unwrap_or_default(),
                };
                match v[..] {
                    [x] => Ok(x),
                    _ => Err(ctx.err(format!("{attr}: expected one value, got {v:?}"))),
                }
            };
            let axes = ctx.ints("axes")?.unwrap_or_default();
            if shape.len() != 1 || axes != [0] {
                return Err(ctx.err(format!(
                    "only a slice along axis 0 of a 1-D constant is supported (shape {shape:?}, axes {axes:?})"
                )));
            }
            let n = data.len() as i64;
            let clamp = |i: i64| if i < 0 { (i + n).max(0) } else { i.min(n) } as usize;
            let (start, end) = (
                clamp(bound("StartsTensor", "starts")?),
                clamp(bound("EndsTensor", "ends")?),
            );
            let data = data[start..end.max(start)].to_vec();
            let scalar = ctx.ints("decrease_axis")?.unwrap_or_default() == [0] && data.len() == 1;
            let shape = if scalar { vec![] } else { vec![data.len()] };
            b.define_const(&out, Const::I64 { shape, data });
        }
        "combine" | "stack" => {
            let out = ctx.out(if kind == "stack" { "Y" } else { "Out" })?;
            if kind == "stack" && ctx.int("axis", 0)? != 0 {
                return Err(ctx.err("only stacking along axis 0 is supported"));
            }
            let mut data = Vec::new();
            for name in ctx.args("X") {
                match ctx.sym_named(b, name)? {
                    Sym::Const(c)
                        if c.shape().iter().product::<usize>() == 1 || kind == "stack" =>
                    {
                        data.extend(
                            c.as_i64()
                                .ok_or_else(|| ctx.err(format!("'{name}' must hold integers")))?,
                        )
                    }
                    Sym::Const(c) => {
                        return Err(ctx.err(format!(
                            "only scalars can be combined ('{name}' has shape {:?})",
                            c.shape()
                        )))
                    }
                    Sym::Value(_) => {
                        return Err(ctx.err(format!(
                            "'{name}' is computed at run time: only constant shapes can be combined"
                        )))
                    }
                }
            }
            b.define_const(
                &out,
                Const::I64 {
                    shape: vec![data.len()],
                    data,
                },
            );
        }
        _ => return Ok(false),
    }
    Ok(true)
}
