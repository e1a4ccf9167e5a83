//! Softmax over a vector (numerically stable: the maximum is subtracted first).

use super::simd::{load_partial, store_partial, L, V};

/// `dst = exp(src - max) / sum(exp(src - max))`.
pub fn softmax<const N: usize>(src: &[f32], dst: &mut [f32]) {
    assert!(src.len() == N && dst.len() == N);
    let max = src.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    let mut i = 0;
    while i < N {
        let j = (i + L).min(N);
        let e = (load_partial(&src[i..j]) - V::splat(max)).exp();
        store_partial(&mut dst[i..j], e);
        i = j;
    }
    for v in dst.iter() {
        sum += v;
    }
    let inv = 1.0 / sum;
    for v in dst.iter_mut() {
        *v *= inv;
    }
}
