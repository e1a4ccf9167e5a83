//! Runtime kernels, one file per operation. Generated code calls them with every shape as a const
//! generic, so each call site is a shape-specialized instance; nothing is decided from shapes at run time.
//!
//! Layout: 4-D activations are HWC (channels last, batch 1); weights arrive pre-packed by
//! `pplcnet-codegen::pack` in exactly the order each kernel reads.

pub mod amx;
pub mod conv_u8;
pub mod dwconv;
pub mod eltwise;
pub mod par;
pub mod pool;
pub mod pwconv;
pub mod pwconv_amx;
#[cfg(all(target_arch = "x86_64", target_feature = "avx512bf16"))]
pub mod pwconv_bf16;
pub mod simd;
pub mod softmax;
pub mod squeeze_excite;

use simd::V;

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

/// Splits the workspace into `N` read-only source ranges and one disjoint destination range,
/// each given as `(offset, len)` in `f32`. The code generator plans them not to overlap.
#[inline(always)]
pub fn split<const N: usize>(
    ws: &mut [f32],
    srcs: [(usize, usize); N],
    dst: (usize, usize),
) -> ([&[f32]; N], &mut [f32]) {
    let (lo, rest) = ws.split_at_mut(dst.0);
    let (out, hi) = rest.split_at_mut(dst.1);
    let hi_start = dst.0 + dst.1;
    let (lo, hi) = (&*lo, &*hi);
    let srcs = srcs.map(|(o, l)| {
        if o + l <= dst.0 {
            &lo[o..o + l]
        } else {
            assert!(o >= hi_start, "planned source overlaps the destination");
            &hi[o - hi_start..o - hi_start + l]
        }
    });
    (srcs, out)
}

/// Seeded pseudo-random values in [-1, 1) for the kernels' unit tests.
#[cfg(test)]
pub(crate) fn seeded_values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}
