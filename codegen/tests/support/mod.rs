//! Small IR graphs with seeded random weights, built the way a loader builds them (raw-pixel input,
//! optional PaddleClas normalization, then ops with their shapes). Shared by the pass tests here and
//! by `testmodels/build.rs`, which compiles such graphs and checks the kernels against the interpreter.
#![allow(dead_code)]

pub mod references;

use std::path::PathBuf;

use pplcnet_codegen::ir::{Activation, Conv, Graph, Node, Op, Tensor, ValueId};
use pplcnet_codegen::InputSpec;

/// SplitMix64: a tiny deterministic generator (the same sequence on every machine).
pub struct Rng(pub u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        let unit = (self.next() >> 40) as f32 / (1u64 << 24) as f32;
        lo + (hi - lo) * unit
    }
    pub fn vec(&mut self, n: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() >> 56) as u8).collect()
    }
}

/// Builds an IR graph the way a loader does: raw-pixel input, then ops with their shapes.
pub struct GraphBuilder {
    pub g: Graph,
    pub rng: Rng,
    /// Derived from the graph name: every graph gets its own weights.
    pub seed: u64,
}

impl GraphBuilder {
    /// A graph over an `h x w` RGB image; returns the builder and the image value, normalized like
    /// PaddleClas (`normalize`) or raw pixel values 0..=255 (`!normalize`).
    pub fn new(name: &str, h: usize, w: usize, normalize: bool) -> (Self, ValueId) {
        // Every case gets its own seed, derived from its name.
        let seed = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |a, b| {
            (a ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        });
        let mut g = Graph {
            name: name.to_string(),
            source: PathBuf::from(format!("synthetic/{name}")),
            values: Vec::new(),
            nodes: Vec::new(),
            input: 0,
            output: 0,
        };
        let pixels = g.add_value("pixels", vec![1, 3, h, w]);
        g.nodes.push(Node {
            name: "input".into(),
            op: Op::Input,
            inputs: vec![],
            output: pixels,
        });
        g.input = pixels;
        let mut b = GraphBuilder {
            g,
            rng: Rng::new(seed),
            seed,
        };
        let x = if normalize {
            let s = InputSpec::default();
            b.push(
                "normalize",
                Op::Normalize {
                    scale: s.scale,
                    mean: s.mean.to_vec(),
                    std: s.std.to_vec(),
                },
                vec![pixels],
                vec![1, 3, h, w],
            )
        } else {
            pixels
        };
        (b, x)
    }

    pub fn shape(&self, v: ValueId) -> Vec<usize> {
        self.g.values[v].shape.clone()
    }

    pub fn push(&mut self, kind: &str, op: Op, inputs: Vec<ValueId>, shape: Vec<usize>) -> ValueId {
        let name = format!("{kind}_{}", self.g.nodes.len());
        let v = self.g.add_value(name.clone(), shape);
        self.g.nodes.push(Node {
            name,
            op,
            inputs,
            output: v,
        });
        v
    }

    /// Weights with unit output variance for unit-variance inputs (uniform, `fan_in` terms).
    pub fn weights(&mut self, shape: Vec<usize>, fan_in: usize) -> Tensor {
        let a = (3.0 / fan_in as f32).sqrt();
        let n = shape.iter().product();
        Tensor::new(shape, self.rng.vec(n, -a, a))
    }

    /// A `k x k` conv with centred padding `(k-1)/2`, random bias.
    pub fn conv(
        &mut self,
        x: ValueId,
        cout: usize,
        k: usize,
        stride: usize,
        groups: usize,
    ) -> ValueId {
        self.conv_with(x, cout, k, stride, groups, true)
    }

    /// [`GraphBuilder::conv`], with a random bias or none (as before a BatchNorm in PaddleClas).
    pub fn conv_with(
        &mut self,
        x: ValueId,
        cout: usize,
        k: usize,
        stride: usize,
        groups: usize,
        bias: bool,
    ) -> ValueId {
        let s = self.shape(x);
        let cin = s[1];
        let weight = self.weights(vec![cout, cin / groups, k, k], cin / groups * k * k);
        let bias = bias.then(|| self.rng.vec(cout, -0.2, 0.2));
        let p = (k - 1) / 2;
        let out = |i: usize| (i + 2 * p - k) / stride + 1;
        let shape = vec![1, cout, out(s[2]), out(s[3])];
        let conv = Conv {
            weight,
            bias,
            stride: [stride, stride],
            pads: [p; 4],
            groups,
            pad_value: None,
            act: Activation::Identity,
            residual: false,
            input_scale: false,
        };
        self.push("conv", Op::Conv(conv), vec![x], shape)
    }

    /// Inference BatchNorm with non-trivial statistics and affine parameters.
    pub fn bn(&mut self, x: ValueId) -> ValueId {
        let s = self.shape(x);
        let c = s[1];
        let op = Op::BatchNorm {
            scale: self.rng.vec(c, 0.5, 1.5),
            bias: self.rng.vec(c, -0.2, 0.2),
            mean: self.rng.vec(c, -0.3, 0.3),
            var: self.rng.vec(c, 0.5, 2.0),
            eps: 1e-5,
        };
        self.push("bn", op, vec![x], s)
    }

    pub fn act(&mut self, x: ValueId, a: Activation) -> ValueId {
        if a == Activation::Identity {
            return x;
        }
        let s = self.shape(x);
        self.push("act", Op::Act(a), vec![x], s)
    }

    pub fn binary(&mut self, op: Op, a: ValueId, b: ValueId) -> ValueId {
        let (sa, sb) = (self.shape(a), self.shape(b));
        let shape = if sa.iter().product::<usize>() >= sb.iter().product::<usize>() {
            sa
        } else {
            sb
        };
        self.push(op.kind(), op, vec![a, b], shape)
    }

    pub fn global_pool(&mut self, x: ValueId) -> ValueId {
        let c = self.shape(x)[1];
        self.push("pool", Op::GlobalAvgPool, vec![x], vec![1, c, 1, 1])
    }

    pub fn reshape(&mut self, x: ValueId, shape: Vec<usize>) -> ValueId {
        self.push("reshape", Op::Reshape, vec![x], shape)
    }

    pub fn mul_const(&mut self, x: ValueId, t: Tensor) -> ValueId {
        let s = self.shape(x);
        self.push("mulconst", Op::MulConst(t), vec![x], s)
    }

    pub fn add_const(&mut self, x: ValueId, t: Tensor) -> ValueId {
        let s = self.shape(x);
        self.push("addconst", Op::AddConst(t), vec![x], s)
    }

    /// `[1, K] x [K, N]` without bias (the bias comes as a separate constant add, as in paddle2onnx
    /// exports).
    pub fn matmul(&mut self, x: ValueId, n: usize) -> ValueId {
        let k = self.shape(x)[1];
        let weight = self.weights(vec![k, n], k);
        self.push(
            "matmul",
            Op::MatMul {
                weight,
                bias: None,
                act: Activation::Identity,
            },
            vec![x],
            vec![1, n],
        )
    }

    pub fn softmax(&mut self, x: ValueId) -> ValueId {
        let s = self.shape(x);
        self.push("softmax", Op::Softmax, vec![x], s)
    }

    /// The graph, ending at `out`.
    pub fn finish(mut self, out: ValueId) -> Graph {
        self.g.output = out;
        self.g
    }
}
