//! Fully connected layer (matrix-vector product), weights `[K][N]` (input-major), bias `[N]`.

use super::simd::{load_partial, store_partial, V, L};
use super::Act;

/// `dst[n] = act(bias[n] + sum_k src[k] * w[k][n])`.
pub fn fully_connected<const K: usize, const N: usize>(src: &[f32], w: &[f32], bias: &[f32], act: Act, dst: &mut [f32]) {
    assert!(src.len() == K && w.len() == K * N && bias.len() == N && dst.len() == N);
    let mut n0 = 0;
    while n0 < N {
        let n1 = (n0 + L).min(N);
        let mut acc = load_partial(&bias[n0..n1]);
        for (k, &x) in src.iter().enumerate() {
            acc = V::splat(x).mul_add(load_partial(&w[k * N + n0..k * N + n1]), acc);
        }
        store_partial(&mut dst[n0..n1], act.apply(acc));
        n0 = n1;
    }
}
