//! Re-parameterization at build time: `Add(Conv_k5(x), Conv_k3(x))` (and `+ Conv_k1(x)`) over the same
//! input, stride and groups, each with centred ("same") padding, becomes one conv with the largest kernel:
//! smaller kernels are zero-padded to the centre and added, biases summed. Run after BatchNorm folding.

use super::sole_consumer;
use crate::ir::{Activation, Conv, Graph, Node, Op, Tensor};

/// Fuses parallel conv branches that are summed; returns whether anything changed.
pub fn fuse_rep_branches(g: &mut Graph) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i < g.nodes.len() {
        if let Some((pa, pb, fused)) = match_branches(g, i) {
            let name = format!(
                "{} + {} + {}",
                g.nodes[pa].name, g.nodes[pb].name, g.nodes[i].name
            );
            let input = g.nodes[pa].inputs[0];
            g.nodes[i] = Node {
                name,
                op: Op::Conv(fused),
                inputs: vec![input],
                output: g.nodes[i].output,
            };
            let (first, second) = if pa > pb { (pa, pb) } else { (pb, pa) };
            g.nodes.remove(first);
            g.nodes.remove(second);
            changed = true;
            i = 0;
            continue;
        }
        i += 1;
    }
    changed
}

fn match_branches(g: &Graph, add: usize) -> Option<(usize, usize, Conv)> {
    let n = &g.nodes[add];
    if !matches!(n.op, Op::Add) || n.inputs[0] == n.inputs[1] {
        return None;
    }
    let conv_of = |v| -> Option<(usize, &Conv)> {
        let p = g.producer(v)?;
        sole_consumer(g, v).filter(|&c| c == add)?;
        match &g.nodes[p].op {
            Op::Conv(c)
                if c.act == Activation::Identity
                    && !c.residual
                    && c.pad_value.is_none()
                    && centred(c) =>
            {
                Some((p, c))
            }
            _ => None,
        }
    };
    let (pa, a) = conv_of(n.inputs[0])?;
    let (pb, b) = conv_of(n.inputs[1])?;
    let same_input = g.nodes[pa].inputs[0] == g.nodes[pb].inputs[0];
    if !same_input
        || a.stride != b.stride
        || a.groups != b.groups
        || a.weight.shape[..2] != b.weight.shape[..2]
    {
        return None;
    }
    Some((pa, pb, merge(a, b)))
}

/// Odd square-or-not kernel with padding (k-1)/2 on every side: the output grid does not depend on k.
fn centred(c: &Conv) -> bool {
    let [kh, kw] = c.kernel();
    kh % 2 == 1 && kw % 2 == 1 && c.pads == [(kh - 1) / 2, (kw - 1) / 2, (kh - 1) / 2, (kw - 1) / 2]
}

fn merge(a: &Conv, b: &Conv) -> Conv {
    let [ah, aw] = a.kernel();
    let [bh, bw] = b.kernel();
    let (kh, kw) = (ah.max(bh), aw.max(bw));
    let (o, i) = (a.weight.shape[0], a.weight.shape[1]);
    let mut w = vec![0.0; o * i * kh * kw];
    for c in [a, b] {
        let [ch, cw] = c.kernel();
        let (dy, dx) = ((kh - ch) / 2, (kw - cw) / 2);
        for oi in 0..o * i {
            for y in 0..ch {
                for x in 0..cw {
                    w[(oi * kh + y + dy) * kw + x + dx] += c.weight.data[(oi * ch + y) * cw + x];
                }
            }
        }
    }
    let bias = match (&a.bias, &b.bias) {
        (None, None) => None,
        (x, y) => Some(
            (0..o)
                .map(|k| x.as_ref().map_or(0.0, |v| v[k]) + y.as_ref().map_or(0.0, |v| v[k]))
                .collect(),
        ),
    };
    Conv {
        weight: Tensor::new(vec![o, i, kh, kw], w),
        bias,
        stride: a.stride,
        pads: [(kh - 1) / 2, (kw - 1) / 2, (kh - 1) / 2, (kw - 1) / 2],
        groups: a.groups,
        pad_value: None,
        act: Activation::Identity,
        residual: false,
        input_scale: false,
    }
}
