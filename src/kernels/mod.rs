//! Runtime kernels, one file per operation. Generated code calls them with every shape as a const
//! generic, so each call site is a shape-specialized instance; nothing is decided from shapes at run time.
//!
//! Layout: 4-D activations are HWC (channels last, batch 1); weights arrive pre-packed by
//! `pplcnet-codegen::pack` in exactly the order each kernel reads.

pub mod activation;
pub mod amx;
pub mod conv_u8;
pub mod dwconv;
pub mod eltwise;
mod entry;
pub mod par;
pub mod pool;
pub mod pwconv;
pub mod pwconv_amx;
#[cfg(all(target_arch = "x86_64", target_feature = "avx512bf16"))]
pub mod pwconv_bf16;
pub mod simd;
pub mod softmax;
pub mod squeeze_excite;

pub use activation::{Activation, Clip, HardSigmoid, HardSwish, Identity, Relu, Sigmoid};

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
