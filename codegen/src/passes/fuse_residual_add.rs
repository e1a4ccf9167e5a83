//! `Add(Conv1x1(x), shortcut)` becomes a pointwise conv whose epilogue adds `shortcut` after its
//! activation, so the sum is written once instead of read and written again.

use super::{merge_into_consumer, sole_consumer};
use crate::ir::{Graph, Op};

/// Fuses same-shape residual additions into the producing conv; returns whether anything changed.
pub fn fuse_residual_add(g: &mut Graph) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i < g.nodes.len() {
        if matches!(g.nodes[i].op, Op::Add) {
            let [a, b] = [g.nodes[i].inputs[0], g.nodes[i].inputs[1]];
            let same = g.shape(a) == g.shape(b);
            let pick = [(a, b), (b, a)].into_iter().find_map(|(conv_out, other)| {
                let p = g.producer(conv_out)?;
                sole_consumer(g, conv_out).filter(|&c| c == i)?;
                match &g.nodes[p].op {
                    // Only the pointwise kernel has a residual epilogue.
                    Op::Conv(c) if !c.residual && c.is_pointwise() && conv_out != other => {
                        Some((p, other))
                    }
                    _ => None,
                }
            });
            if let (true, Some((p, other))) = (same, pick) {
                let mut fused = g.nodes[p].clone();
                if let Op::Conv(c) = &mut fused.op {
                    c.residual = true;
                }
                fused.inputs.push(other);
                merge_into_consumer(g, p, i, fused);
                changed = true;
                continue;
            }
        }
        i += 1;
    }
    changed
}
