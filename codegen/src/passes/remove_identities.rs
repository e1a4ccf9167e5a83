//! Drops nodes that do nothing: reshapes that only add or remove unit dimensions (same memory order in
//! every layout we emit), multiplication by 1 and addition of 0.

use super::bypass;
use crate::ir::{Graph, Op};

/// Removes identity nodes; returns whether anything changed.
pub fn remove_identities(g: &mut Graph) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i < g.nodes.len() {
        let n = &g.nodes[i];
        let identity = match &n.op {
            Op::Reshape => {
                let squeeze =
                    |s: &[usize]| s.iter().copied().filter(|&d| d != 1).collect::<Vec<_>>();
                squeeze(g.shape(n.inputs[0])) == squeeze(g.shape(n.output)) && n.output != g.output
            }
            Op::MulConst(t) => t.data.iter().all(|&v| v == 1.0),
            Op::AddConst(t) => t.data.iter().all(|&v| v == 0.0),
            _ => false,
        };
        if identity {
            let src = n.inputs[0];
            bypass(g, i, src);
            changed = true;
        } else {
            i += 1;
        }
    }
    changed
}
