//! Direct convolution reading u8 HWC pixels (the stem): the input normalization is already folded into
//! the weights, and padded positions read the per-channel value `pad[ci]` instead of 0. Weights are
//! packed `[KH][KW][CI][COP]` with `COP = CO` rounded up to [`CO_BLOCK`].

use super::simd::{load, store_partial, L};
use super::Activation;

/// Output-channel block (the code generator pads with the same width).
pub const CO_BLOCK: usize = L;

/// `dst[OH][OW][CO] = act(bias + sum over taps and input channels of x * w)`.
#[allow(clippy::too_many_arguments)]
pub fn conv_u8<
    const IH: usize,
    const IW: usize,
    const CI: usize,
    const OH: usize,
    const OW: usize,
    const CO: usize,
    const KH: usize,
    const KW: usize,
    const SH: usize,
    const SW: usize,
    const PT: usize,
    const PL: usize,
>(
    src: &[u8],
    w: &[f32],
    bias: &[f32],
    pad: &[f32],
    act: impl Activation,
    dst: &mut [f32],
) {
    let cop = CO.div_ceil(CO_BLOCK) * CO_BLOCK;
    assert!(src.len() == IH * IW * CI && w.len() == KH * KW * CI * cop && bias.len() == cop);
    assert!(pad.len() == CI && dst.len() == OH * OW * CO);
    for oy in 0..OH {
        for ox in 0..OW {
            let out = &mut dst[(oy * OW + ox) * CO..(oy * OW + ox + 1) * CO];
            for cb in (0..cop).step_by(CO_BLOCK) {
                let mut acc = load(&bias[cb..]);
                for ky in 0..KH {
                    let iy = (oy * SH + ky).wrapping_sub(PT);
                    for kx in 0..KW {
                        let ix = (ox * SW + kx).wrapping_sub(PL);
                        let inside = iy < IH && ix < IW;
                        for ci in 0..CI {
                            let x = if inside { src[(iy * IW + ix) * CI + ci] as f32 } else { pad[ci] };
                            let t = ((ky * KW + kx) * CI + ci) * cop + cb;
                            acc = super::simd::V::splat(x).mul_add(load(&w[t..]), acc);
                        }
                    }
                }
                let end = (cb + CO_BLOCK).min(CO);
                store_partial(&mut out[cb..end], act.apply(acc));
            }
        }
    }
}
