//! Graph rewrites that preserve the model's outputs (checked against [`crate::interpret`] in tests).
//! Each pass is one file; [`optimize`] runs them in the order that lets each find its pattern.

mod fold_batch_norm;
mod fold_bias_add;
mod fold_constant_scales;
mod fold_input_normalization;
mod fuse_activation;
mod fuse_hard_sigmoid;
mod fuse_hard_swish;
mod fuse_rep_branches;
mod fuse_residual_add;
mod fuse_se_scale_into_pointwise;
mod fuse_squeeze_excite;
mod remove_identities;

pub use fold_batch_norm::fold_batch_norm;
pub use fold_bias_add::fold_bias_add;
pub use fold_constant_scales::fold_constant_scales;
pub use fold_input_normalization::fold_input_normalization;
pub use fuse_activation::fuse_activation;
pub use fuse_hard_sigmoid::fuse_hard_sigmoid;
pub use fuse_hard_swish::fuse_hard_swish;
pub use fuse_rep_branches::fuse_rep_branches;
pub use fuse_residual_add::fuse_residual_add;
pub use fuse_se_scale_into_pointwise::fuse_se_scale_into_pointwise;
pub use fuse_squeeze_excite::fuse_squeeze_excite;
pub use remove_identities::remove_identities;

use crate::ir::{Graph, Node, ValueId};

/// Runs every pass, in order, until the graph stops changing.
pub fn optimize(graph: &mut Graph) {
    let passes: [fn(&mut Graph) -> bool; 11] = [
        remove_identities,
        // before fold_bias_add, which would take its `+ b` into a producing conv's bias
        fuse_hard_sigmoid,
        fold_bias_add,
        fold_batch_norm,
        fuse_rep_branches,
        fold_constant_scales,
        fold_input_normalization,
        fuse_hard_swish,
        fuse_activation,
        fuse_squeeze_excite,
        fuse_residual_add,
    ];
    loop {
        let mut changed = false;
        for pass in passes {
            changed |= pass(graph);
        }
        graph.remove_dead_nodes();
        if !changed {
            break;
        }
    }
}

/// The node that is the only reader of `v` (and `v` is not the graph output), if there is one.
pub(crate) fn sole_consumer(g: &Graph, v: ValueId) -> Option<usize> {
    if g.use_count(v) != 1 {
        return None;
    }
    g.consumers(v).first().copied()
}

/// Replaces the consumer node `consumer` with `fused` (keeping its position and output) and removes
/// the producer node `producer`, whose output only `consumer` read.
pub(crate) fn merge_into_consumer(
    g: &mut Graph,
    producer: usize,
    consumer: usize,
    mut fused: Node,
) {
    fused.output = g.nodes[consumer].output;
    fused.name = format!("{} + {}", g.nodes[producer].name, g.nodes[consumer].name);
    g.nodes[consumer] = fused;
    g.nodes.remove(producer);
}

/// Makes every reader of node `i`'s output read `to` instead and removes node `i`.
pub(crate) fn bypass(g: &mut Graph, i: usize, to: ValueId) {
    let out = g.nodes[i].output;
    g.replace_uses(out, to);
    g.nodes.remove(i);
}
