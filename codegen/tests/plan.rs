//! The memory plan of real models: values alive at the same time never share storage, and a
//! layer's inputs and output start at different offsets within a 4 KiB page (see
//! `plan::PAGE_SKEW_F32`).

use std::path::{Path, PathBuf};

use pplcnet_codegen::ir::{Graph, Op};
use pplcnet_codegen::load::load_model;
use pplcnet_codegen::plan::{plan, Plan, PIXEL_PAD_F32};
use pplcnet_codegen::{passes, InputSpec};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn planned(path: &Path) -> (Graph, Plan) {
    let mut g = load_model(path, &InputSpec::default()).unwrap_or_else(|e| panic!("{e}"));
    passes::optimize(&mut g);
    let p = plan(&g).unwrap_or_else(|e| panic!("{e}"));
    (g, p)
}

/// Node index range over which each value is alive (defined .. last read), reshapes included.
fn lifetimes(g: &Graph) -> Vec<Option<Life>> {
    let mut life: Vec<Option<Life>> = vec![None; g.values.len()];
    for (i, n) in g.nodes.iter().enumerate() {
        life[n.output].get_or_insert((i, i));
        for &v in &n.inputs {
            if let Some(l) = life[v].as_mut() {
                l.1 = l.1.max(i);
            }
        }
    }
    if let Some(l) = life[g.output].as_mut() {
        l.1 = g.nodes.len();
    }
    life
}

/// `(offset, len)` of a value's storage, in f32.
type Slot = (usize, usize);
/// First and last node index at which a value is alive.
type Life = (usize, usize);

fn check(path: &Path) {
    let (g, p) = planned(path);
    let name = path.display();
    let life = lifetimes(&g);
    let slots: Vec<(usize, Slot, Life)> = (0..g.values.len())
        .filter_map(|v| Some((v, p.slots[v]?, life[v]?)))
        .collect();
    for (i, &(a, (ao, al), (af, at))) in slots.iter().enumerate() {
        assert!(
            ao + al <= p.workspace_len,
            "{name}: value {a} past the workspace"
        );
        for &(b, (bo, bl), (bf, bt)) in &slots[i + 1..] {
            let shared = ao == bo && al == bl; // a reshape aliases its input
            let overlap = ao < bo + bl && bo < ao + al;
            let together = af <= bt && bf <= at;
            assert!(
                shared || !(overlap && together),
                "{name}: values {a} and {b} are alive together in overlapping storage"
            );
        }
    }
    let page = 4096 / 4;
    for n in &g.nodes {
        if matches!(n.op, Op::Input | Op::Reshape) {
            continue;
        }
        let Some((out, _)) = p.slots[n.output] else {
            continue;
        };
        for &v in &n.inputs {
            if let Some((src, _)) = p.slots[v] {
                assert_ne!(
                    src % page,
                    out % page,
                    "{name}: `{}` reads and writes at the same offset within a page ({src}, {out})",
                    n.name
                );
            }
        }
    }
}

#[test]
fn default_model_plan() {
    check(&root().join("model_assets/pplcnetv2_base.onnx"));
}

/// The padded pixel stride (`plan::PIXEL_PAD_F32`) goes to the 128- to 1024-channel outputs of
/// pointwise convs that only depthwise convs read, and their storage holds the padded pixels.
#[test]
fn depthwise_inputs_with_power_of_two_channels_are_padded() {
    let (g, p) = planned(&root().join("model_assets/pplcnetv2_base.onnx"));
    let mut padded = 0;
    for (v, stride) in p.pixel_stride.iter().enumerate() {
        let Some(stride) = *stride else { continue };
        padded += 1;
        let s = &g.values[v].shape;
        assert_eq!(stride, s[1] + PIXEL_PAD_F32);
        assert_eq!(p.slots[v].map(|(_, len)| len), Some(s[2] * s[3] * stride));
        for i in g.consumers(v) {
            assert!(matches!(&g.nodes[i].op, Op::Conv(c) if c.is_depthwise()));
        }
    }
    // The two 56x56x128 depthwise inputs, the two 28x28x256 ones and the six 14x14x512 ones. Not
    // the 7x7x1024 one: the residual add of the block reads it too.
    assert_eq!(padded, 10);
}

#[test]
fn family_plans() {
    for stem in [
        "pplcnetv2_small_fused_logits",
        "pplcnetv2_large_fused_logits",
        "pplcnet_x2_5_logits",
        "mobilenetv3_large_x1_25_logits",
        "pplcnetv2_x0_25_c10_fused_softmax",
    ] {
        check(&root().join(format!("tests/data/models/{stem}.onnx")));
    }
}
