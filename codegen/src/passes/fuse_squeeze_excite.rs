//! `Mul(x, gate(Conv1x1(act(Conv1x1(GlobalAvgPool(x))))))` becomes one SqueezeExcite op (run after
//! activation fusion, so the two convs already carry their activations).

use crate::ir::{Graph, Node, Op, SqueezeExcite, Tensor};

/// Fuses squeeze-and-excitation blocks; returns whether anything changed.
pub fn fuse_squeeze_excite(g: &mut Graph) -> bool {
    let mut changed = false;
    let mut i = 0;
    while i < g.nodes.len() {
        if let Some((x, se, remove)) = match_se(g, i) {
            let name = format!("squeeze-excite {}", g.nodes[i].name);
            g.nodes[i] = Node {
                name,
                op: Op::SqueezeExcite(se),
                inputs: vec![x],
                output: g.nodes[i].output,
            };
            let mut remove = remove;
            remove.sort_unstable_by(|a, b| b.cmp(a));
            for r in remove {
                g.nodes.remove(r);
            }
            changed = true;
            i = 0;
            continue;
        }
        i += 1;
    }
    changed
}

fn match_se(g: &Graph, mul: usize) -> Option<(usize, SqueezeExcite, Vec<usize>)> {
    let n = &g.nodes[mul];
    if !matches!(n.op, Op::Mul) {
        return None;
    }
    let only =
        |v: usize, reader: usize| (g.use_count(v) == 1 && g.consumers(v) == [reader]).then_some(());
    for (x, gate_v) in [(n.inputs[0], n.inputs[1]), (n.inputs[1], n.inputs[0])] {
        let Some(found) = (|| {
            let shape = g.shape(x);
            if shape.len() != 4 || g.shape(gate_v) != [1, shape[1], 1, 1] {
                return None;
            }
            let p2 = g.producer(gate_v)?;
            only(gate_v, mul)?;
            let Op::Conv(c2) = &g.nodes[p2].op else {
                return None;
            };
            let h = g.nodes[p2].inputs[0];
            let p1 = g.producer(h)?;
            only(h, p2)?;
            let Op::Conv(c1) = &g.nodes[p1].op else {
                return None;
            };
            let pooled = g.nodes[p1].inputs[0];
            let p0 = g.producer(pooled)?;
            only(pooled, p1)?;
            if !matches!(g.nodes[p0].op, Op::GlobalAvgPool) || g.nodes[p0].inputs[0] != x {
                return None;
            }
            let pointwise =
                |c: &crate::ir::Conv| c.is_pointwise() && !c.residual && c.pad_value.is_none();
            if !pointwise(c1) || !pointwise(c2) {
                return None;
            }
            let (r, ch) = (c1.out_channels(), shape[1]);
            let flat = |c: &crate::ir::Conv, o, i| Tensor::new(vec![o, i], c.weight.data.clone());
            let se = SqueezeExcite {
                w1: flat(c1, r, ch),
                b1: c1.bias.clone().unwrap_or_else(|| vec![0.0; r]),
                act: c1.act,
                w2: flat(c2, ch, r),
                b2: c2.bias.clone().unwrap_or_else(|| vec![0.0; ch]),
                gate: c2.act,
            };
            Some((x, se, vec![p0, p1, p2]))
        })() else {
            continue;
        };
        return Some(found);
    }
    None
}
