//! `Mul(Clip(Add(x, b), 0, m), s)` with `m * s = 1` (torch's `clip(x + 3, 0, 6) / 6`) becomes the
//! activation `HardSigmoid { alpha: s, beta: b * s }`, which then fuses like any activation.

use super::sole_consumer;
use crate::ir::{Activation, Graph, Node, Op};

/// Rewrites hard-sigmoid arithmetic into the activation; returns whether anything changed.
pub fn fuse_hard_sigmoid(g: &mut Graph) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i < g.nodes.len() {
        if let Some((add, mul, act)) = pattern(g, i) {
            let x = g.nodes[add].inputs[0];
            let name = format!(
                "{} + {} + {}",
                g.nodes[add].name, g.nodes[i].name, g.nodes[mul].name
            );
            g.nodes[mul] = Node {
                name,
                op: Op::Act(act),
                inputs: vec![x],
                output: g.nodes[mul].output,
            };
            // The clip and the add (earlier in order: `add < i < mul`) are now dead.
            g.nodes.remove(i);
            g.nodes.remove(add);
            changed = true;
            i = add;
            continue;
        }
        i += 1;
    }
    changed
}

/// For the clip node `i`: its add and multiply nodes and the equivalent activation.
fn pattern(g: &Graph, i: usize) -> Option<(usize, usize, Activation)> {
    let Op::Act(Activation::Clip { min, max }) = g.nodes[i].op else {
        return None;
    };
    let x = g.nodes[i].inputs[0];
    let add = g.producer(x).filter(|_| sole_consumer(g, x) == Some(i))?;
    let mul = sole_consumer(g, g.nodes[i].output)?;
    let (Op::AddConst(b), Op::MulConst(s)) = (&g.nodes[add].op, &g.nodes[mul].op) else {
        return None;
    };
    let (&[b], &[s]) = (&b.data[..], &s.data[..]) else {
        return None;
    };
    // clip(x + b, 0, m) * s = clip(s x + s b, 0, m s) for s > 0; a hard-sigmoid when m s = 1.
    let unit = ((max as f64) * (s as f64) - 1.0).abs() < 1e-6;
    (min == 0.0 && s > 0.0 && unit && add < i && i < mul).then_some((
        add,
        mul,
        Activation::HardSigmoid {
            alpha: s,
            beta: b * s,
        },
    ))
}
