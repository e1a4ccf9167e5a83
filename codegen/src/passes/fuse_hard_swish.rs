//! `Mul(x, HardSigmoid { alpha: 1/6, beta: 1/2 }(x))` (how paddle2onnx below opset 14 and torch
//! write hard-swish) becomes the activation `HardSwish`, which then fuses into the producing conv.

use super::sole_consumer;
use crate::ir::{Activation, Graph, Node, Op};

/// Rewrites `x * hard_sigmoid(x)` into hard-swish; returns whether anything changed.
pub fn fuse_hard_swish(g: &mut Graph) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i < g.nodes.len() {
        if let Some((gate, x)) = pattern(g, i) {
            g.nodes[i] = Node {
                name: format!("{} + {}", g.nodes[gate].name, g.nodes[i].name),
                op: Op::Act(Activation::HardSwish),
                inputs: vec![x],
                output: g.nodes[i].output,
            };
            g.nodes.remove(gate);
            changed = true;
            continue;
        }
        i += 1;
    }
    changed
}

/// For the multiply node `i`: the hard-sigmoid node before it and the value both read.
fn pattern(g: &Graph, i: usize) -> Option<(usize, usize)> {
    let n = &g.nodes[i];
    if !matches!(n.op, Op::Mul) || g.shape(n.inputs[0]) != g.shape(n.inputs[1]) {
        return None;
    }
    for (a, b) in [(0, 1), (1, 0)] {
        let (x, y) = (n.inputs[a], n.inputs[b]);
        let Some(gate) = g.producer(y).filter(|_| sole_consumer(g, y) == Some(i)) else {
            continue;
        };
        let gn = &g.nodes[gate];
        if let Op::Act(Activation::HardSigmoid { alpha, beta }) = gn.op {
            let sixth = ((alpha as f64) - 1.0 / 6.0).abs() < 1e-6;
            if gn.inputs[0] == x && sixth && beta == 0.5 && gate < i {
                return Some((gate, x));
            }
        }
    }
    None
}
