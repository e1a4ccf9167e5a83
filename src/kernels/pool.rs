//! Global average pooling over HWC activations.

use super::simd::{load_partial, store_partial, V, L};

/// `dst[c] = mean over the HW pixels of src[p][c]`.
pub fn global_avg_pool<const HW: usize, const C: usize>(src: &[f32], dst: &mut [f32]) {
    assert!(src.len() == HW * C && dst.len() == C);
    let inv = V::splat(1.0 / HW as f32);
    let mut c0 = 0;
    while c0 < C {
        let c1 = (c0 + L).min(C);
        let mut acc = V::ZERO;
        for p in 0..HW {
            acc += load_partial(&src[p * C + c0..p * C + c1]);
        }
        store_partial(&mut dst[c0..c1], acc * inv);
        c0 = c1;
    }
}
