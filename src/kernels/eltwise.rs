//! Elementwise kernels for ops that could not be fused into a neighbour.

use super::simd::{load_partial, store_partial, L};
use super::Act;

/// `dst = act(src)`.
pub fn activation<const N: usize>(src: &[f32], act: Act, dst: &mut [f32]) {
    assert!(src.len() == N && dst.len() == N);
    for (s, d) in src.chunks(L).zip(dst.chunks_mut(L)) {
        store_partial(d, act.apply(load_partial(s)));
    }
}

/// `dst = a + b`.
pub fn add<const N: usize>(a: &[f32], b: &[f32], dst: &mut [f32]) {
    assert!(a.len() == N && b.len() == N && dst.len() == N);
    for ((x, y), d) in a.chunks(L).zip(b.chunks(L)).zip(dst.chunks_mut(L)) {
        store_partial(d, load_partial(x) + load_partial(y));
    }
}

/// `dst = a * b`.
pub fn mul<const N: usize>(a: &[f32], b: &[f32], dst: &mut [f32]) {
    assert!(a.len() == N && b.len() == N && dst.len() == N);
    for ((x, y), d) in a.chunks(L).zip(b.chunks(L)).zip(dst.chunks_mut(L)) {
        store_partial(d, load_partial(x) * load_partial(y));
    }
}

/// `dst[p][c] = src[p][c] * scale[c]` (HWC).
pub fn scale_channels<const HW: usize, const C: usize>(src: &[f32], scale: &[f32], dst: &mut [f32]) {
    assert!(src.len() == HW * C && scale.len() == C && dst.len() == HW * C);
    for (s, d) in src.chunks_exact(C).zip(dst.chunks_exact_mut(C)) {
        for ((x, g), o) in s.chunks(L).zip(scale.chunks(L)).zip(d.chunks_mut(L)) {
            store_partial(o, load_partial(x) * load_partial(g));
        }
    }
}
