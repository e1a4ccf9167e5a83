//! `Conv1x1(SqueezeExcite(x))` becomes `Conv1x1(x, scale = SqueezeGate(x))`: the gate (one value per
//! channel) is computed alone and the pointwise conv multiplies its input by it as it reads it, so
//! the scaled activation is never written and read back.
//!
//! Not part of [`optimize`](super::optimize): only the bf16 build runs it. The bf16 pointwise kernel
//! converts each input row to bf16 before use, and the multiply joins that conversion for free; the
//! f32 kernel reads its input with broadcasts and would pay a multiply per broadcast.

use super::sole_consumer;
use crate::ir::{Graph, Op};

/// Fuses every squeeze-excite read only by pointwise convs of at most `max_k` input channels (the
/// kernel's limit) into its reader; returns whether anything changed.
pub fn fuse_se_scale_into_pointwise(g: &mut Graph, max_k: usize) -> bool {
    let mut changed = false;
    for i in 0..g.nodes.len() {
        let Op::SqueezeExcite(se) = &g.nodes[i].op else {
            continue;
        };
        let v = g.nodes[i].output;
        let Some(p) = sole_consumer(g, v) else {
            continue;
        };
        let fits = matches!(&g.nodes[p].op, Op::Conv(c)
            if c.is_pointwise() && !c.input_scale && c.in_channels() <= max_k)
            && g.nodes[p].inputs[0] == v;
        if !fits {
            continue;
        }
        let (x, se) = (g.nodes[i].inputs[0], se.clone());
        let c = g.values[x].shape[1];
        g.nodes[i].op = Op::SqueezeGate(se);
        g.values[v].shape = vec![1, c, 1, 1];
        let reader = &mut g.nodes[p];
        reader.inputs[0] = x;
        reader.inputs.push(v);
        if let Op::Conv(conv) = &mut reader.op {
            conv.input_scale = true;
        }
        changed = true;
    }
    changed
}
