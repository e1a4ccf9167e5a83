//! `Conv -> activation` and `MatMul -> activation` become one op with the activation in its epilogue.

use super::{merge_into_consumer, sole_consumer};
use crate::ir::{Activation, Graph, Node, Op};

/// Fuses activations into their producer; returns whether anything changed.
pub fn fuse_activation(g: &mut Graph) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i < g.nodes.len() {
        if let Op::Act(a) = g.nodes[i].op {
            let x = g.nodes[i].inputs[0];
            if let Some(p) = g.producer(x).filter(|_| sole_consumer(g, x) == Some(i)) {
                let mut fused = g.nodes[p].clone();
                let ok = match &mut fused.op {
                    Op::Conv(c) if c.act == Activation::Identity && !c.residual => {
                        c.act = a;
                        true
                    }
                    Op::MatMul { act, .. } if *act == Activation::Identity => {
                        *act = a;
                        true
                    }
                    _ => false,
                };
                if ok {
                    merge_into_consumer(g, p, i, Node { ..fused });
                    changed = true;
                    continue;
                }
            }
        }
        i += 1;
    }
    changed
}
