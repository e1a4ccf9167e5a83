//! The activations kernels apply in their epilogues, one zero-sized (or two-float) type each, so
//! every kernel instance is specialized for its activation: no branch per store. The compiler's
//! side of each (front ends, scalar definition, emitted tokens) is `pplcnet-codegen`'s
//! `ops::activation`; the two must compute the same function.

use super::simd::V;

/// An activation fused into a kernel's epilogue. Each is its own type, so every kernel instance is
/// specialized for its activation: no branch per store.
pub trait Activation: Copy {
    /// Applies the activation to a vector.
    fn apply(self, x: V) -> V;

    /// Applies the activation to one value (same arithmetic as the vector form).
    #[inline(always)]
    fn apply1(self, x: f32) -> f32 {
        self.apply(V::splat(x)).as_array()[0]
    }
}

/// `x`
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Identity;
/// `max(x, 0)` (NaN stays NaN)
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Relu;
/// `1 / (1 + exp(-x))`
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sigmoid;
/// `x * clamp(x / 6 + 0.5, 0, 1)`
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HardSwish;
/// `clamp(alpha * x + beta, 0, 1)`
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HardSigmoid {
    pub alpha: f32,
    pub beta: f32,
}
/// `clamp(x, min, max)`
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clip {
    pub min: f32,
    pub max: f32,
}

impl Activation for Identity {
    #[inline(always)]
    fn apply(self, x: V) -> V {
        x
    }
}

impl Activation for Relu {
    #[inline(always)]
    fn apply(self, x: V) -> V {
        // `max(0, x)` returns its second operand when either is NaN.
        V::ZERO.fast_max(x)
    }
}

impl Activation for Sigmoid {
    #[inline(always)]
    fn apply(self, x: V) -> V {
        V::ONE / (V::ONE + (-x).exp())
    }
}

impl Activation for HardSwish {
    #[inline(always)]
    fn apply(self, x: V) -> V {
        x * x
            .mul_add(V::splat(1.0 / 6.0), V::splat(0.5))
            .max(V::ZERO)
            .min(V::ONE)
    }
}

impl Activation for HardSigmoid {
    #[inline(always)]
    fn apply(self, x: V) -> V {
        x.mul_add(V::splat(self.alpha), V::splat(self.beta))
            .max(V::ZERO)
            .min(V::ONE)
    }
}

impl Activation for Clip {
    #[inline(always)]
    fn apply(self, x: V) -> V {
        x.max(V::splat(self.min)).min(V::splat(self.max))
    }
}
