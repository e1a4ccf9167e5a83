//! Elementwise kernels for ops that could not be fused into a neighbour.

use super::simd::{for_blocks, load_n, store_n};
use super::Activation;

/// `dst = act(src)`.
pub fn activation<const N: usize>(src: &[f32], act: impl Activation, dst: &mut [f32]) {
    assert!(src.len() == N && dst.len() == N);
    for_blocks(N, |i, n| {
        store_n(&mut dst[i..], act.apply(load_n(&src[i..], n)), n)
    });
}

/// `dst = a + b`.
pub fn add<const N: usize>(a: &[f32], b: &[f32], dst: &mut [f32]) {
    assert!(a.len() == N && b.len() == N && dst.len() == N);
    for_blocks(N, |i, n| {
        store_n(&mut dst[i..], load_n(&a[i..], n) + load_n(&b[i..], n), n)
    });
}

/// `dst = a * b`.
pub fn mul<const N: usize>(a: &[f32], b: &[f32], dst: &mut [f32]) {
    assert!(a.len() == N && b.len() == N && dst.len() == N);
    for_blocks(N, |i, n| {
        store_n(&mut dst[i..], load_n(&a[i..], n) * load_n(&b[i..], n), n)
    });
}

/// `dst[p][c] = src[p][c] * scale[c]` (HWC).
pub fn scale_channels<const HW: usize, const C: usize>(
    src: &[f32],
    scale: &[f32],
    dst: &mut [f32],
) {
    assert!(src.len() == HW * C && scale.len() == C && dst.len() == HW * C);
    for (s, d) in src.chunks_exact(C).zip(dst.chunks_exact_mut(C)) {
        for_blocks(C, |c0, n| {
            store_n(
                &mut d[c0..],
                load_n(&s[c0..], n) * load_n(&scale[c0..], n),
                n,
            );
        });
    }
}
