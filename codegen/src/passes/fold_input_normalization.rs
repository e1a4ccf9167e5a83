//! The input normalization `(x * scale - mean[c]) / std[c]` goes into the first conv: its weights are
//! multiplied by `scale / std[c]`, its bias loses `sum W * mean[c] / std[c]`, and its padding reads the raw
//! pixel value `mean[c] / scale` (the value that normalizes to exactly the zero the original padding
//! added), so borders stay exact.

use super::{merge_into_consumer, sole_consumer};
use crate::ir::{Graph, Node, Op};

/// Folds the input normalization into the stem conv; returns whether anything changed.
pub fn fold_input_normalization(g: &mut Graph) -> bool {
    let Some(p) = g
        .nodes
        .iter()
        .position(|n| matches!(n.op, Op::Normalize { .. }))
    else {
        return false;
    };
    let Op::Normalize { scale, mean, std } = g.nodes[p].op.clone() else {
        unreachable!()
    };
    let Some(cn) = sole_consumer(g, g.nodes[p].output) else {
        return false;
    };
    let Op::Conv(mut c) = g.nodes[cn].op.clone() else {
        return false;
    };
    if c.groups != 1 || c.pad_value.is_some() {
        return false;
    }
    let (o, i) = (c.out_channels(), c.in_channels());
    let per_in = c.weight.shape[2] * c.weight.shape[3];
    let mut bias = c.bias.take().unwrap_or_else(|| vec![0.0; o]);
    for (co, b) in bias.iter_mut().enumerate() {
        let mut shift = 0.0f64;
        for ci in 0..i {
            let ws = &mut c.weight.data[(co * i + ci) * per_in..(co * i + ci + 1) * per_in];
            let sum: f64 = ws.iter().map(|&w| w as f64).sum();
            shift += sum * (mean[ci] / std[ci]) as f64;
            ws.iter_mut().for_each(|w| *w *= scale / std[ci]);
        }
        *b -= shift as f32;
    }
    c.bias = Some(bias);
    c.pad_value = Some(mean.iter().map(|m| m / scale).collect());
    let input = g.nodes[p].inputs[0];
    let fused = Node {
        name: String::new(),
        op: Op::Conv(c),
        inputs: vec![input],
        output: 0,
    };
    merge_into_consumer(g, p, cn, fused);
    true
}
