//! Constant multiplications disappear into linear ops: `Conv -> Mul(c)` scales the conv's output
//! channels, and `Mul(c) -> MatMul` scales the matmul's input rows (the inference dropout x0.8 that
//! PaddleClas exports place before the classifier).

use super::fold_bias_add::per_channel;
use super::{bypass, sole_consumer};
use crate::ir::{Activation, Graph, Op};

/// Folds constant scales into neighbouring linear ops; returns whether anything changed.
pub fn fold_constant_scales(g: &mut Graph) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i < g.nodes.len() {
        if let Op::MulConst(t) = &g.nodes[i].op {
            let t = t.clone();
            let x = g.nodes[i].inputs[0];
            let y = g.nodes[i].output;
            let shape = g.shape(y).to_vec();
            // Into the producer: a conv without epilogue.
            if let Some(p) = g.producer(x).filter(|_| sole_consumer(g, x) == Some(i)) {
                if let Op::Conv(c) = &mut g.nodes[p].op {
                    if c.act == Activation::Identity && !c.residual {
                        if let Some(idx) = per_channel(&t.shape, &shape, 1) {
                            let per_out = c.weight.numel() / c.out_channels();
                            for ch in 0..c.out_channels() {
                                let s = t.data[idx(ch)];
                                c.weight.data[ch * per_out..(ch + 1) * per_out]
                                    .iter_mut()
                                    .for_each(|w| *w *= s);
                                if let Some(b) = &mut c.bias {
                                    b[ch] *= s;
                                }
                            }
                            bypass(g, i, x);
                            changed = true;
                            continue;
                        }
                    }
                }
            }
            // Into the consumer: a matmul reading this value as its input vector.
            if let Some(cn) = sole_consumer(g, y) {
                if let Op::MatMul { weight, .. } = &mut g.nodes[cn].op {
                    if let Some(idx) = per_channel(&t.shape, &shape, shape.len() - 1) {
                        let n = weight.shape[1];
                        for k in 0..weight.shape[0] {
                            let s = t.data[idx(k)];
                            weight.data[k * n..(k + 1) * n]
                                .iter_mut()
                                .for_each(|w| *w *= s);
                        }
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
