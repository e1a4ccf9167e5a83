//! The intermediate representation: a topologically ordered list of typed ops over values with static
//! NCHW shapes (batch 1) and constant tensors for weights.
//!
//! Every front end (`load::*`) produces this IR; every pass rewrites it; the interpreter runs it; `plan`,
//! `pack` and `emit` turn it into code. Shapes are the model's logical shapes (`[1, C, H, W]` or `[1, N]`);
//! the memory layout at run time (HWC) is an emit-time concern.

use std::path::PathBuf;

/// Index of a [`Value`] in [`Graph::values`].
pub type ValueId = usize;

/// A constant tensor (weights, biases), row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Tensor { shape, data }
    }
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// A 2-D `[r, c]` tensor transposed to `[c, r]`.
    pub fn transposed_2d(&self) -> Tensor {
        let (r, c) = (self.shape[0], self.shape[1]);
        let mut data = vec![0.0; r * c];
        for i in 0..r {
            for j in 0..c {
                data[j * r + i] = self.data[i * c + j];
            }
        }
        Tensor::new(vec![c, r], data)
    }
}

pub use crate::ops::activation::Activation;

/// A 2-D convolution (NCHW semantics, batch 1), possibly with fused epilogue.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv {
    /// `[out_channels, in_channels / groups, kh, kw]`
    pub weight: Tensor,
    /// One value per output channel, if any.
    pub bias: Option<Vec<f32>>,
    pub stride: [usize; 2],
    /// `[top, left, bottom, right]`
    pub pads: [usize; 4],
    pub groups: usize,
    /// Value read for padded input positions, per input channel (zero when `None`). Set when input
    /// normalization is folded in: the padded zeros of the normalized input are these raw pixel values.
    pub pad_value: Option<Vec<f32>>,
    /// Applied after bias.
    pub act: Activation,
    /// When true the node has a second input that is added after the activation (residual shortcut).
    pub residual: bool,
    /// When true the node's last input is a `[1, C_in, 1, 1]` scale that multiplies each input
    /// channel before the conv (a squeeze-excite gate, see
    /// [`fuse_se_scale_into_pointwise`](crate::passes::fuse_se_scale_into_pointwise)).
    pub input_scale: bool,
}

impl Conv {
    pub fn out_channels(&self) -> usize {
        self.weight.shape[0]
    }
    pub fn in_channels(&self) -> usize {
        self.weight.shape[1] * self.groups
    }
    pub fn kernel(&self) -> [usize; 2] {
        [self.weight.shape[2], self.weight.shape[3]]
    }
    /// True for a depthwise conv: one filter per channel (including a single-channel conv, group 1).
    pub fn is_depthwise(&self) -> bool {
        self.weight.shape[1] == 1 && self.groups == self.out_channels()
    }
    /// True for a 1x1, stride 1, unpadded, ungrouped conv (a matrix multiply per pixel).
    pub fn is_pointwise(&self) -> bool {
        self.groups == 1
            && self.kernel() == [1, 1]
            && self.stride == [1, 1]
            && self.pads == [0, 0, 0, 0]
    }
}

/// Squeeze-and-excitation, fused: `x * gate(W2 act(W1 mean_hw(x) + b1) + b2)`.
#[derive(Debug, Clone, PartialEq)]
pub struct SqueezeExcite {
    /// `[reduced, channels]`
    pub w1: Tensor,
    pub b1: Vec<f32>,
    pub act: Activation,
    /// `[channels, reduced]`
    pub w2: Tensor,
    pub b2: Vec<f32>,
    pub gate: Activation,
}

/// The operations the compiler understands. Anything else is rejected by the loader.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// The graph input: `[1, C, H, W]` raw pixel values (0..=255) in NCHW order.
    Input,
    /// `(x * scale - mean[c]) / std[c]`: the input normalization, before it is folded into the stem.
    Normalize {
        scale: f32,
        mean: Vec<f32>,
        std: Vec<f32>,
    },
    Conv(Conv),
    /// Inference BatchNorm over channel axis 1.
    BatchNorm {
        scale: Vec<f32>,
        bias: Vec<f32>,
        mean: Vec<f32>,
        var: Vec<f32>,
        eps: f32,
    },
    Act(Activation),
    /// Elementwise sum of two values, numpy broadcasting.
    Add,
    /// Elementwise product of two values, numpy broadcasting.
    Mul,
    /// Add a constant, numpy broadcasting.
    AddConst(Tensor),
    /// Multiply by a constant, numpy broadcasting.
    MulConst(Tensor),
    /// Mean over H and W, keeping `[1, C, 1, 1]`.
    GlobalAvgPool,
    /// Max over windows of H and W.
    MaxPool(crate::ops::max_pool::MaxPool),
    /// Same data, new shape (flatten, reshape, squeeze): only legal where the memory order is unchanged.
    Reshape,
    /// `y = x W (+ bias)` over the last axis; `weight` is `[in, out]`.
    MatMul {
        weight: Tensor,
        bias: Option<Vec<f32>>,
        act: Activation,
    },
    /// Softmax over the last axis.
    Softmax,
    SqueezeExcite(SqueezeExcite),
    /// The gate of a [`SqueezeExcite`] alone, `[1, C, 1, 1]`: the pointwise conv that reads it
    /// applies it to its input (`Conv::input_scale`).
    SqueezeGate(SqueezeExcite),
}

impl Op {
    /// Short name for messages and plans.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Input => "Input",
            Op::Normalize { .. } => "Normalize",
            Op::Conv(_) => "Conv",
            Op::BatchNorm { .. } => "BatchNorm",
            Op::Act(_) => "Activation",
            Op::Add => "Add",
            Op::Mul => "Mul",
            Op::AddConst(_) => "AddConst",
            Op::MulConst(_) => "MulConst",
            Op::GlobalAvgPool => "GlobalAvgPool",
            Op::MaxPool(_) => "MaxPool",
            Op::Reshape => "Reshape",
            Op::MatMul { .. } => "MatMul",
            Op::Softmax => "Softmax",
            Op::SqueezeExcite(_) => "SqueezeExcite",
            Op::SqueezeGate(_) => "SqueezeGate",
        }
    }
}

/// A value flowing between nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub name: String,
    pub shape: Vec<usize>,
}

impl Value {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// One operation: reads `inputs`, writes `output`.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Names of the source nodes this node stands for (several after fusion), for messages and comments.
    pub name: String,
    pub op: Op,
    pub inputs: Vec<ValueId>,
    pub output: ValueId,
}

/// A whole model: nodes in execution order, the first being [`Op::Input`].
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    /// Model name for reports (e.g. the file stem).
    pub name: String,
    /// Where it came from.
    pub source: PathBuf,
    pub values: Vec<Value>,
    pub nodes: Vec<Node>,
    pub input: ValueId,
    pub output: ValueId,
}

impl Graph {
    /// Adds a value and returns its id.
    pub fn add_value(&mut self, name: impl Into<String>, shape: Vec<usize>) -> ValueId {
        self.values.push(Value {
            name: name.into(),
            shape,
        });
        self.values.len() - 1
    }

    /// The shape of a value.
    pub fn shape(&self, v: ValueId) -> &[usize] {
        &self.values[v].shape
    }

    /// Index of the node that produces `v`.
    pub fn producer(&self, v: ValueId) -> Option<usize> {
        self.nodes.iter().position(|n| n.output == v)
    }

    /// Indices of the nodes that read `v`.
    pub fn consumers(&self, v: ValueId) -> Vec<usize> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.inputs.contains(&v))
            .map(|(i, _)| i)
            .collect()
    }

    /// Number of reads of `v`, counting the graph output as one.
    pub fn use_count(&self, v: ValueId) -> usize {
        let reads: usize = self
            .nodes
            .iter()
            .map(|n| n.inputs.iter().filter(|&&i| i == v).count())
            .sum();
        reads + usize::from(v == self.output)
    }

    /// Replaces every read of `from` with `to` (including the graph output).
    pub fn replace_uses(&mut self, from: ValueId, to: ValueId) {
        for n in &mut self.nodes {
            for i in &mut n.inputs {
                if *i == from {
                    *i = to;
                }
            }
        }
        if self.output == from {
            self.output = to;
        }
    }

    /// Drops nodes whose output nobody reads (except the input node).
    pub fn remove_dead_nodes(&mut self) {
        loop {
            let dead = self
                .nodes
                .iter()
                .position(|n| !matches!(n.op, Op::Input) && self.use_count(n.output) == 0);
            match dead {
                Some(i) => {
                    self.nodes.remove(i);
                }
                None => break,
            }
        }
    }

    /// Number of constant parameters (weights and biases).
    pub fn parameter_count(&self) -> usize {
        self.nodes.iter().map(|n| op_parameters(&n.op)).sum()
    }

    /// Multiply-accumulate count of convolutions and matrix products (the usual "MACs"/"FLOPs/2").
    pub fn mac_count(&self) -> usize {
        self.nodes.iter().map(|n| self.node_macs(n)).sum()
    }

    /// Multiply-accumulates of one node (convolutions, fully connected, squeeze-excite).
    pub fn node_macs(&self, n: &Node) -> usize {
        match &n.op {
            Op::Conv(c) => {
                let out = self.values[n.output].numel();
                out * c.weight.shape[1] * c.weight.shape[2] * c.weight.shape[3]
            }
            Op::MatMul { weight, .. } => weight.numel(),
            Op::SqueezeExcite(se) | Op::SqueezeGate(se) => se.w1.numel() + se.w2.numel(),
            _ => 0,
        }
    }
}

fn op_parameters(op: &Op) -> usize {
    let opt = |b: &Option<Vec<f32>>| b.as_ref().map_or(0, Vec::len);
    match op {
        Op::Conv(c) => c.weight.numel() + opt(&c.bias),
        Op::BatchNorm { scale, .. } => 4 * scale.len(),
        Op::AddConst(t) | Op::MulConst(t) => t.numel(),
        Op::MatMul { weight, bias, .. } => weight.numel() + opt(bias),
        Op::SqueezeExcite(se) | Op::SqueezeGate(se) => {
            se.w1.numel() + se.b1.len() + se.w2.numel() + se.b2.len()
        }
        _ => 0,
    }
}
