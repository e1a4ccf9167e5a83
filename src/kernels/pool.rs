//! Pooling over HWC activations: global average and windowed max.

use super::entry::shape_fns;
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

shape_fns! {
    [IH, IW, C, SS, OH, OW, KH, KW, SH, SW, PT, PL]
    /// Max pooling over HWC activations: `dst[oy][ox][c]` = the max of `src[iy][ix][c]` over the
    /// `KH x KW` window at `(oy * SH - PT, ox * SW - PL)`; padded positions never win (a window
    /// with no pixel in the image, which the compiler refuses, would give -inf). Input pixels are
    /// `SS >= C` values apart.
    #[allow(clippy::too_many_arguments)]
    pub fn max_pool(src: &[f32], dst: &mut [f32]) {
        assert!(C <= SS && src.len() >= (IH * IW - 1) * SS + C && dst.len() == OH * OW * C);
        for oy in 0..OH {
            // The window's rows inside the image.
            let y0 = (oy * SH).saturating_sub(PT);
            let y1 = (oy * SH + KH).saturating_sub(PT).min(IH);
            for ox in 0..OW {
                let x0 = (ox * SW).saturating_sub(PL);
                let x1 = (ox * SW + KW).saturating_sub(PL).min(IW);
                let d = (oy * OW + ox) * C;
                for_blocks(C, |c0, n| {
                    let mut m = V::splat(f32::NEG_INFINITY);
                    for iy in y0..y1 {
                        for ix in x0..x1 {
                            m = m.max(load_n(&src[(iy * IW + ix) * SS + c0..], n));
                        }
                    }
                    store_n(&mut dst[d + c0..], m, n);
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against a scalar loop over the padded window, odd channel counts, asymmetric strides.
    #[test]
    fn max_pool_matches_a_scalar_window() {
        fn check<
            const IH: usize,
            const IW: usize,
            const C: usize,
            const OH: usize,
            const OW: usize,
            const KH: usize,
            const KW: usize,
            const SH: usize,
            const SW: usize,
            const PT: usize,
            const PL: usize,
        >() {
            let src = crate::kernels::seeded_values(IH * IW * C, (IH * 31 + C) as u64);
            let mut dst = vec![0.0; OH * OW * C];
            max_pool::<IH, IW, C, C, OH, OW, KH, KW, SH, SW, PT, PL>(&src, &mut dst);
            for oy in 0..OH {
                for ox in 0..OW {
                    for c in 0..C {
                        let mut m = f32::NEG_INFINITY;
                        for ky in 0..KH {
                            for kx in 0..KW {
                                let (y, x) = (
                                    (oy * SH + ky) as isize - PT as isize,
                                    (ox * SW + kx) as isize - PL as isize,
                                );
                                if y >= 0 && x >= 0 && (y as usize) < IH && (x as usize) < IW {
                                    m = m.max(src[(y as usize * IW + x as usize) * C + c]);
                                }
                            }
                        }
                        assert_eq!(dst[(oy * OW + ox) * C + c], m, "({oy}, {ox}, {c})");
                    }
                }
            }
        }
        check::<8, 8, 3, 4, 4, 2, 2, 2, 2, 0, 0>();
        check::<7, 9, 20, 4, 5, 3, 3, 2, 2, 1, 1>();
        check::<6, 5, 17, 3, 5, 2, 1, 2, 1, 0, 0>();
        check::<5, 5, 16, 5, 5, 3, 3, 1, 1, 1, 1>();
    }
}
