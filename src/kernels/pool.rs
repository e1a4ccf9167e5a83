//! Global average pooling over HWC activations.

use super::simd::{for_blocks, load_n, store_n, V};

/// `dst[c] = mean over the HW pixels of src[p][c]`.
pub fn global_avg_pool<const HW: usize, const C: usize>(src: &[f32], dst: &mut [f32]) {
    assert!(src.len() == HW * C && dst.len() == C);
    let inv = V::splat(1.0 / HW as f32);
    for_blocks(C, |c0, n| {
        let mut acc = V::ZERO;
        for p in 0..HW {
            acc += load_n(&src[p * C + c0..], n);
        }
        store_n(&mut dst[c0..], acc * inv, n);
    });
}
