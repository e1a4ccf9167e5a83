//! What every front end shares: a symbol table from tensor names to IR values or folded constants, the
//! graph input (raw pixels + normalization), and shape rules for the ops they map.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ir::{Graph, Node, Op, Tensor, ValueId};
use crate::InputSpec;

/// A constant known at build time (weights, or shape arithmetic folded by the loader).
#[derive(Debug, Clone, PartialEq)]
pub enum Const {
    F32(Tensor),
    I64 { shape: Vec<usize>, data: Vec<i64> },
}

impl Const {
    pub fn shape(&self) -> &[usize] {
        match self {
            Const::F32(t) => &t.shape,
            Const::I64 { shape, .. } => shape,
        }
    }
    /// The values as integers (floats are truncated only if they are whole numbers).
    pub fn as_i64(&self) -> Option<Vec<i64>> {
        match self {
            Const::I64 { data, .. } => Some(data.clone()),
            Const::F32(t) => t
                .data
                .iter()
                .map(|&x| (x.fract() == 0.0).then_some(x as i64))
                .collect(),
        }
    }
    /// The values as a float tensor.
    pub fn to_f32(&self) -> Tensor {
        match self {
            Const::F32(t) => t.clone(),
            Const::I64 { shape, data } => {
                Tensor::new(shape.clone(), data.iter().map(|&x| x as f32).collect())
            }
        }
    }
}

/// A name in the source graph: either a run-time value or a constant.
#[derive(Debug, Clone)]
pub enum Sym {
    Value(ValueId),
    Const(Const),
}

/// Builds a [`Graph`] node by node, resolving names.
pub struct Builder {
    pub graph: Graph,
    syms: HashMap<String, Sym>,
}

impl Builder {
    /// Starts a graph whose input `input_name` is the normalized image (`spec` gives size and
    /// normalization); the raw-pixel input node and the normalization node are created here.
    pub fn new(file: &Path, model_name: &str, input_name: &str, spec: &InputSpec) -> Self {
        let shape = vec![1, 3, spec.height, spec.width];
        let mut graph = Graph {
            name: model_name.to_string(),
            source: file.to_path_buf(),
            values: Vec::new(),
            nodes: Vec::new(),
            input: 0,
            output: 0,
        };
        let raw = graph.add_value("pixels", shape.clone());
        graph.nodes.push(Node {
            name: "input".into(),
            op: Op::Input,
            inputs: vec![],
            output: raw,
        });
        let normalized = graph.add_value(input_name, shape);
        graph.nodes.push(Node {
            name: "normalize".into(),
            op: Op::Normalize {
                scale: spec.scale,
                mean: spec.mean.to_vec(),
                std: spec.std.to_vec(),
            },
            inputs: vec![raw],
            output: normalized,
        });
        graph.input = raw;
        let mut syms = HashMap::new();
        syms.insert(input_name.to_string(), Sym::Value(normalized));
        Builder { graph, syms }
    }

    pub fn file(&self) -> PathBuf {
        self.graph.source.clone()
    }

    pub fn lookup(&self, name: &str) -> Option<&Sym> {
        self.syms.get(name)
    }

    pub fn define(&mut self, name: &str, sym: Sym) {
        self.syms.insert(name.to_string(), sym);
    }

    pub fn define_const(&mut self, name: &str, c: Const) {
        self.define(name, Sym::Const(c));
    }

    /// Appends a node computing `op` from `inputs` into a new value named `out`.
    pub fn push(
        &mut self,
        node_name: &str,
        op: Op,
        inputs: Vec<ValueId>,
        out: &str,
        shape: Vec<usize>,
    ) -> ValueId {
        let v = self.graph.add_value(out, shape);
        self.graph.nodes.push(Node {
            name: node_name.to_string(),
            op,
            inputs,
            output: v,
        });
        self.define(out, Sym::Value(v));
        v
    }

    /// Ends the graph at the value named `output`.
    pub fn finish(mut self, output: &str) -> Result<Graph> {
        match self.syms.get(output) {
            Some(Sym::Value(v)) => {
                self.graph.output = *v;
                self.graph.remove_dead_nodes();
                Ok(self.graph)
            }
            Some(Sym::Const(_)) => Err(Error::file(
                &self.graph.source,
                format!("graph output '{output}' is a constant, not computed from the input"),
            )),
            None => Err(Error::file(
                &self.graph.source,
                format!("graph output '{output}' is never produced by any node"),
            )),
        }
    }
}

/// Output spatial size of a convolution or pooling window.
pub fn conv_out_dim(
    input: usize,
    kernel: usize,
    stride: usize,
    pad_begin: usize,
    pad_end: usize,
) -> Option<usize> {
    let padded = input + pad_begin + pad_end;
    if stride == 0 || padded < kernel {
        return None;
    }
    Some((padded - kernel) / stride + 1)
}

/// Numpy-style broadcast of two shapes, or `None` when they do not broadcast.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// Resolves a reshape target (`0` copies the input dim, `-1` is inferred) against the input shape.
pub fn reshape_target(input: &[usize], target: &[i64]) -> Option<Vec<usize>> {
    let numel: usize = input.iter().product();
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &d) in target.iter().enumerate() {
        match d {
            0 => out.push(*input.get(i)?),
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            d if d > 0 => out.push(d as usize),
            _ => return None,
        }
    }
    let known = out.iter().try_fold(1usize, |n, &d| n.checked_mul(d))?;
    if let Some(i) = infer {
        if known == 0 || numel % known != 0 {
            return None;
        }
        out[i] = numel / known;
    }
    (out.iter().try_fold(1usize, |n, &d| n.checked_mul(d)) == Some(numel)).then_some(out)
}
