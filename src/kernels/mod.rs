//! Runtime kernels, one file per operation. Generated code calls them with every shape as a const
//! generic, so each call site is a shape-specialized instance; nothing is decided from shapes at run time.
//!
//! Layout: 4-D activations are HWC (channels last, batch 1); weights arrive pre-packed by
//! `pplcnet-codegen::pack` in exactly the order each kernel reads.

pub mod conv_u8;
pub mod dwconv;
pub mod eltwise;
pub mod fc;
pub mod pool;
pub mod pwconv;
pub mod simd;
pub mod softmax;
pub mod squeeze_excite;

use simd::V;

/// The activation fused into a kernel's epilogue.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Act {
    Identity,
    Relu,
    Sigmoid,
    /// `clamp(alpha * x + beta, 0, 1)`
    HardSigmoid { alpha: f32, beta: f32 },
    /// `x * clamp(x / 6 + 0.5, 0, 1)`
    HardSwish,
    Clip { min: f32, max: f32 },
}

impl Act {
    /// Applies the activation to a vector.
    #[inline(always)]
    pub fn apply(self, x: V) -> V {
        match self {
            Act::Identity => x,
            Act::Relu => x.max(V::ZERO),
            Act::Sigmoid => V::ONE / (V::ONE + (-x).exp()),
            Act::HardSigmoid { alpha, beta } => {
                x.mul_add(V::splat(alpha), V::splat(beta)).max(V::ZERO).min(V::ONE)
            }
            Act::HardSwish => {
                x * x.mul_add(V::splat(1.0 / 6.0), V::splat(0.5)).max(V::ZERO).min(V::ONE)
            }
            Act::Clip { min, max } => x.max(V::splat(min)).min(V::splat(max)),
        }
    }

    /// Applies the activation to one value (same arithmetic as the vector form).
    #[inline(always)]
    pub fn apply1(self, x: f32) -> f32 {
        self.apply(V::splat(x)).as_array()[0]
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
