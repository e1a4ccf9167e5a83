//! Elementwise activations, everything the compiler knows about them: the IR value, which ONNX
//! and Paddle ops produce one (and how they read their attributes), the scalar definition the
//! interpreter and every kernel must match, and the runtime type emitted for the kernels'
//! epilogues (`pplcnet::kernels::Activation` implementations, in `src/kernels/activation.rs`).
//!
//! Adding one: a variant here (and its arms below), its runtime type in
//! `src/kernels/activation.rs`. The fusion passes pick it up unchanged.

use proc_macro2::TokenStream;
use quote::quote;

use crate::error::{Error, Result};

/// An activation function, standalone or fused into a producer's epilogue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Activation {
    /// No activation.
    Identity,
    Relu,
    Sigmoid,
    /// `max(0, min(1, alpha*x + beta))`
    HardSigmoid {
        alpha: f32,
        beta: f32,
    },
    /// `x * max(0, min(1, x/6 + 1/2))`
    HardSwish,
    /// `min(max(x, min), max)`
    Clip {
        min: f32,
        max: f32,
    },
}

/// A front end's view of the node being converted, as an activation reads it.
pub trait Attrs {
    /// A numeric attribute, `None` when absent.
    fn float(&self, name: &str) -> Result<Option<f32>>;
    /// Input `i` as a constant scalar, `None` when the input is absent (ONNX `Clip` bounds).
    fn scalar_input(&self, i: usize) -> Result<Option<f32>>;
    /// The model's opset (ONNX; Paddle reports 0).
    fn opset(&self) -> i64;
    /// An error about this node.
    fn err(&self, why: String) -> Error;
}

/// The ONNX op types that are activations.
pub const ONNX_OPS: [&str; 5] = ["Relu", "Sigmoid", "HardSigmoid", "HardSwish", "Clip"];

/// The Paddle op types that are activations.
pub const PADDLE_OPS: [&str; 5] = ["relu", "sigmoid", "relu6", "hard_sigmoid", "hard_swish"];

/// The activation of ONNX op `op_type` (one of [`ONNX_OPS`]).
pub fn from_onnx(op_type: &str, a: &dyn Attrs) -> Result<Activation> {
    let f = |name: &str, default: f32| a.float(name).map(|v| v.unwrap_or(default));
    Ok(match op_type {
        "Relu" => Activation::Relu,
        "Sigmoid" => Activation::Sigmoid,
        "HardSigmoid" => Activation::HardSigmoid {
            alpha: f("alpha", 0.2)?,
            beta: f("beta", 0.5)?,
        },
        "HardSwish" => Activation::HardSwish,
        "Clip" if a.opset() < 11 => Activation::Clip {
            min: f("min", f32::MIN)?,
            max: f("max", f32::MAX)?,
        },
        "Clip" => Activation::Clip {
            min: a.scalar_input(1)?.unwrap_or(f32::MIN),
            max: a.scalar_input(2)?.unwrap_or(f32::MAX),
        },
        other => return Err(a.err(format!("'{other}' is not an activation"))),
    })
}

/// The activation of Paddle op `kind` (one of [`PADDLE_OPS`]).
pub fn from_paddle(kind: &str, a: &dyn Attrs) -> Result<Activation> {
    let f = |name: &str, default: f32| a.float(name).map(|v| v.unwrap_or(default));
    Ok(match kind {
        "relu" => Activation::Relu,
        "sigmoid" => Activation::Sigmoid,
        "relu6" => Activation::Clip {
            min: 0.0,
            max: f("threshold", 6.0)?,
        },
        "hard_sigmoid" => Activation::HardSigmoid {
            alpha: f("slope", 0.2)?,
            beta: f("offset", 0.5)?,
        },
        "hard_swish" => {
            let (t, s, o) = (f("threshold", 6.0)?, f("scale", 6.0)?, f("offset", 3.0)?);
            if (t, s, o) != (6.0, 6.0, 3.0) {
                return Err(a.err(format!(
                    "hard_swish with threshold {t}, scale {s}, offset {o} is not supported (only 6, 6, 3)"
                )));
            }
            Activation::HardSwish
        }
        other => return Err(a.err(format!("'{other}' is not an activation"))),
    })
}

impl Activation {
    /// Applies the activation to one value (the scalar definition every kernel must match).
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Identity => x,
            Activation::Relu => x.max(0.0),
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Activation::HardSigmoid { alpha, beta } => (alpha * x + beta).clamp(0.0, 1.0),
            Activation::HardSwish => x * (x / 6.0 + 0.5).clamp(0.0, 1.0),
            Activation::Clip { min, max } => x.max(min).min(max),
        }
    }

    /// The runtime value generated code passes to a kernel (`k` is the kernels module).
    pub fn tokens(self) -> TokenStream {
        match self {
            Activation::Identity => quote!(k::Identity),
            Activation::Relu => quote!(k::Relu),
            Activation::Sigmoid => quote!(k::Sigmoid),
            Activation::HardSwish => quote!(k::HardSwish),
            Activation::HardSigmoid { alpha, beta } => {
                quote!(k::HardSigmoid { alpha: #alpha, beta: #beta })
            }
            Activation::Clip { min, max } => quote!(k::Clip { min: #min, max: #max }),
        }
    }

    /// The suffix of a layer summary (`" +relu"`; empty for `Identity`).
    pub fn summary(self) -> &'static str {
        match self {
            Activation::Identity => "",
            Activation::Relu => " +relu",
            Activation::Sigmoid => " +sigmoid",
            Activation::HardSwish => " +hardswish",
            Activation::HardSigmoid { .. } => " +hardsigmoid",
            Activation::Clip { .. } => " +clip",
        }
    }
}
