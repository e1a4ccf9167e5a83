//! `Conv -> Add(constant per channel)` and `MatMul -> Add(constant per output)` become the op's bias
//! (paddle2onnx writes conv and fc biases as separate Adds).

use super::{bypass, sole_consumer};
use crate::ir::{Graph, Op};

/// Folds constant bias additions into the producing conv / matmul; returns whether anything changed.
pub fn fold_bias_add(g: &mut Graph) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i < g.nodes.len() {
        if let Op::AddConst(t) = &g.nodes[i].op {
            let x = g.nodes[i].inputs[0];
            let p = g.producer(x);
            let ok = p.filter(|_| sole_consumer(g, x) == Some(i));
            if let Some(p) = ok {
                let t = t.clone();
                let out_shape = g.shape(g.nodes[i].output).to_vec();
                let folded = match &mut g.nodes[p].op {
                    Op::Conv(c) if !c.residual && c.act == crate::ir::Activation::Identity => {
                        per_channel(&t.shape, &out_shape, 1).map(|idx| {
                            let n = c.out_channels();
                            let bias = c.bias.get_or_insert_with(|| vec![0.0; n]);
                            for (ch, b) in bias.iter_mut().enumerate() {
                                *b += t.data[idx(ch)];
                            }
                        })
                    }
                    Op::MatMul {
                        bias,
                        act: crate::ir::Activation::Identity,
                        weight,
                    } => {
                        let n = weight.shape[1];
                        per_channel(&t.shape, &out_shape, out_shape.len() - 1).map(|idx| {
                            let bias = bias.get_or_insert_with(|| vec![0.0; n]);
                            for (ch, b) in bias.iter_mut().enumerate() {
                                *b += t.data[idx(ch)];
                            }
                        })
                    }
                    _ => None,
                };
                if folded.is_some() {
                    let name = g.nodes[i].name.clone();
                    g.nodes[p].name = format!("{} + {}", g.nodes[p].name, name);
                    bypass(g, i, x);
                    changed = true;
                    continue;
                }
            }
        }
        i += 1;
    }
    changed
}

/// If a constant of shape `t` broadcast against `out` varies only along `axis`, returns a function from
/// the index along that axis to the constant's flat index.
pub(crate) fn per_channel(
    t: &[usize],
    out: &[usize],
    axis: usize,
) -> Option<impl Fn(usize) -> usize> {
    if t.len() > out.len() {
        return None;
    }
    let lead = out.len() - t.len();
    let mut varying = None;
    for (d, &len) in t.iter().enumerate() {
        if len != 1 {
            if d + lead != axis || varying.is_some() {
                return None;
            }
            varying = Some(len);
        }
    }
    let n = varying.unwrap_or(1);
    if n != 1 && n != out[axis] {
        return None;
    }
    Some(move |ch: usize| if n == 1 { 0 } else { ch })
}
