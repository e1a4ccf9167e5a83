//! Squeeze-and-excitation over HWC activations, fused: mean over pixels, two small fully connected
//! layers, a gate, then every pixel scaled per channel. `w1` is `[C][R]`, `w2` is `[R][C]` (input-major).

use super::simd::{load, load_partial, store, store_partial, L};
use super::{fc::fully_connected, pool::global_avg_pool, Act};

/// `dst[p][c] = src[p][c] * gate(W2 act(W1 mean(src) + b1) + b2)[c]`.
#[allow(clippy::too_many_arguments)]
pub fn squeeze_excite<const HW: usize, const C: usize, const R: usize>(
    src: &[f32],
    w1: &[f32],
    b1: &[f32],
    act: Act,
    w2: &[f32],
    b2: &[f32],
    gate_act: Act,
    dst: &mut [f32],
) {
    assert!(src.len() == HW * C && dst.len() == HW * C);
    let mut mean = [0.0f32; C];
    global_avg_pool::<HW, C>(src, &mut mean);
    let mut hidden = [0.0f32; R];
    fully_connected::<C, R>(&mean, w1, b1, act, &mut hidden);
    let mut gate = [0.0f32; C];
    fully_connected::<R, C>(&hidden, w2, b2, gate_act, &mut gate);
    for (s, d) in src.chunks_exact(C).zip(dst.chunks_exact_mut(C)) {
        let mut c0 = 0;
        while c0 + L <= C {
            store(&mut d[c0..], load(&s[c0..]) * load(&gate[c0..]));
            c0 += L;
        }
        if c0 < C {
            store_partial(&mut d[c0..], load_partial(&s[c0..]) * load_partial(&gate[c0..]));
        }
    }
}
