//! `Conv -> BatchNorm` becomes one conv: `W' = W * s`, `b' = (b - mean) * s + beta` with
//! `s = gamma / sqrt(var + eps)` per output channel.

use super::{bypass, sole_consumer};
use crate::ir::{Activation, Graph, Op};

/// Folds inference BatchNorms into the conv that produces their input; returns whether anything changed.
pub fn fold_batch_norm(g: &mut Graph) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i < g.nodes.len() {
        if let Op::BatchNorm {
            scale,
            bias,
            mean,
            var,
            eps,
        } = &g.nodes[i].op
        {
            let x = g.nodes[i].inputs[0];
            if let Some(p) = g.producer(x).filter(|_| sole_consumer(g, x) == Some(i)) {
                let (scale, bias, mean, var, eps) =
                    (scale.clone(), bias.clone(), mean.clone(), var.clone(), *eps);
                if let Op::Conv(c) = &mut g.nodes[p].op {
                    if c.act == Activation::Identity && !c.residual {
                        let per_out = c.weight.numel() / c.out_channels();
                        let b = c.bias.get_or_insert_with(|| vec![0.0; scale.len()]);
                        for ch in 0..scale.len() {
                            let s = scale[ch] / (var[ch] + eps).sqrt();
                            for w in &mut c.weight.data[ch * per_out..(ch + 1) * per_out] {
                                *w *= s;
                            }
                            b[ch] = (b[ch] - mean[ch]) * s + bias[ch];
                        }
                        let name = g.nodes[i].name.clone();
                        g.nodes[p].name = format!("{} + {}", g.nodes[p].name, name);
                        bypass(g, i, x);
                        changed = true;
                        continue;
                    }
                }
            }
        }
        i += 1;
    }
    changed
}
