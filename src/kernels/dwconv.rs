//! Depthwise KHxKW convolution over HWC activations, weights packed as taps `[KH][KW][C]`, bias `[C]`.
//! Taps that fall into the zero padding are skipped by clamping the tap range per output pixel.

use super::simd::{load_partial, store_partial, L};
use super::Act;

/// `dst[OH][OW][C] = act(bias + sum over taps of src * w)`.
#[allow(clippy::too_many_arguments)]
pub fn dwconv<
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
>(
    src: &[f32],
    w: &[f32],
    bias: &[f32],
    act: Act,
    dst: &mut [f32],
) {
    assert!(src.len() == IH * IW * C && w.len() == KH * KW * C && bias.len() == C);
    assert!(dst.len() == OH * OW * C);
    for oy in 0..OH {
        // Valid taps: 0 <= oy*SH + ky - PT < IH.
        let ky0 = PT.saturating_sub(oy * SH);
        let ky1 = KH.min((IH + PT).saturating_sub(oy * SH));
        for ox in 0..OW {
            let kx0 = PL.saturating_sub(ox * SW);
            let kx1 = KW.min((IW + PL).saturating_sub(ox * SW));
            let out = &mut dst[(oy * OW + ox) * C..(oy * OW + ox + 1) * C];
            let mut c0 = 0;
            while c0 < C {
                let c1 = (c0 + L).min(C);
                let mut acc = load_partial(&bias[c0..c1]);
                for ky in ky0..ky1 {
                    let iy = oy * SH + ky - PT;
                    for kx in kx0..kx1 {
                        let ix = ox * SW + kx - PL;
                        let s = (iy * IW + ix) * C;
                        let t = (ky * KW + kx) * C;
                        acc = load_partial(&src[s + c0..s + c1]).mul_add(load_partial(&w[t + c0..t + c1]), acc);
                    }
                }
                store_partial(&mut out[c0..c1], act.apply(acc));
                c0 = c1;
            }
        }
    }
}
