//! Depthwise KHxKW convolution over HWC activations, weights packed as taps `[KH][KW][C]`, bias `[C]`.
//!
//! Per output row and 16-channel block, interior pixels (all KW taps inside the image) run in groups
//! of [`PX`] so each weight vector is loaded once per group; only border pixels clamp their tap range.

use super::simd::{for_blocks, load_n, load_n_unchecked, store_n, L, V};
use super::Activation;

/// Interior output pixels computed together (independent accumulator chains sharing weight loads).
const PX: usize = 8;
/// Channel blocks computed together for a border pixel.
const CB: usize = 4;

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
    act: impl Activation,
    dst: &mut [f32],
) {
    assert!(src.len() == IH * IW * C && w.len() == KH * KW * C && bias.len() == C);
    assert!(dst.len() == OH * OW * C);
    // Interior columns: ox * SW >= PL and ox * SW + KW - 1 - PL < IW.
    let ox_lo = PL.div_ceil(SW).min(OW);
    let ox_hi = if IW + PL >= KW { ((IW + PL - KW) / SW + 1).min(OW) } else { 0 }.max(ox_lo);
    for oy in 0..OH {
        // Valid taps: 0 <= oy*SH + ky - PT < IH.
        let ky0 = PT.saturating_sub(oy * SH);
        let ky1 = KH.min((IH + PT).saturating_sub(oy * SH));
        let row = Row::<IW, C, KW, SW, PL> { src, w, ky0, ky1, iy: (oy * SH + ky0).wrapping_sub(PT) };
        let drow = &mut dst[oy * OW * C..(oy + 1) * OW * C];
        // Border pixels: clamped tap range, several channel blocks at once for independent chains.
        for ox in (0..ox_lo).chain(ox_hi..OW) {
            let kx0 = PL.saturating_sub(ox * SW);
            let kx1 = KW.min((IW + PL).saturating_sub(ox * SW));
            let mut c0 = 0;
            while c0 + CB * L <= C {
                let [acc] = row.taps::<1, CB>(bias, ox, kx0, kx1, c0, L);
                for (b, a) in acc.into_iter().enumerate() {
                    store_n(&mut drow[ox * C + c0 + b * L..], act.apply(a), L);
                }
                c0 += CB * L;
            }
            for_blocks(C - c0, |c, n| {
                let [[acc]] = row.taps::<1, 1>(bias, ox, kx0, kx1, c0 + c, n);
                store_n(&mut drow[ox * C + c0 + c..], act.apply(acc), n);
            });
        }
        // Interior pixels: the full tap range, several pixels at once so each weight loads once.
        for_blocks(C, |c0, n| {
            let mut ox = ox_lo;
            while ox + PX <= ox_hi {
                let acc = row.taps::<PX, 1>(bias, ox, 0, KW, c0, n);
                for (p, [a]) in acc.into_iter().enumerate() {
                    store_n(&mut drow[(ox + p) * C + c0..], act.apply(a), n);
                }
                ox += PX;
            }
            macro_rules! rest {
                ($p:literal) => {{
                    let acc = row.taps::<$p, 1>(bias, ox, 0, KW, c0, n);
                    for (p, [a]) in acc.into_iter().enumerate() {
                        store_n(&mut drow[(ox + p) * C + c0..], act.apply(a), n);
                    }
                }};
            }
            match ox_hi - ox {
                0 => {}
                1 => rest!(1),
                2 => rest!(2),
                3 => rest!(3),
                4 => rest!(4),
                5 => rest!(5),
                6 => rest!(6),
                _ => rest!(7),
            }
        });
    }
}

/// One output row's view of the input and weights.
struct Row<'a, const IW: usize, const C: usize, const KW: usize, const SW: usize, const PL: usize> {
    src: &'a [f32],
    w: &'a [f32],
    ky0: usize,
    ky1: usize,
    /// Input row of tap `ky0`.
    iy: usize,
}

impl<const IW: usize, const C: usize, const KW: usize, const SW: usize, const PL: usize> Row<'_, IW, C, KW, SW, PL> {
    /// Accumulates taps `ky0..ky1 x kx0..kx1` into `acc[p][b]` for output pixels `ox..ox+P` and
    /// channel blocks `c0 + b*16 ..` (`n` channels each; `n < 16` only with `B == 1`), from the bias.
    #[inline(always)]
    fn taps<const P: usize, const B: usize>(
        &self,
        bias: &[f32],
        ox: usize,
        kx0: usize,
        kx1: usize,
        c0: usize,
        n: usize,
    ) -> [[V; B]; P] {
        let b: [V; B] = core::array::from_fn(|b| load_n(&bias[c0 + b * L..], n));
        let mut acc = [b; P];
        // Bounds for the unchecked loads below (checked once per call): every tap reads an input
        // row in iy..iy + (ky1 - ky0) <= IH and a column in ox*SW + kx0 - PL ..= (ox+P-1)*SW + kx1-1 - PL
        // < IW, channels c0 + b*16 + n <= C, weight taps below ky1*KW.
        let rows = self.ky1.saturating_sub(self.ky0);
        assert!(self.ky1 * KW * C <= self.w.len() && (self.iy + rows) * IW * C <= self.src.len());
        assert!(c0 + (B - 1) * L + n <= C);
        assert!(kx1 <= KW && (kx0 >= kx1 || (ox * SW + kx0 >= PL && (ox + P - 1) * SW + kx1 - 1 - PL < IW)));
        for (dy, ky) in (self.ky0..self.ky1).enumerate() {
            let srow = (self.iy + dy) * IW * C;
            for kx in kx0..kx1 {
                let t = (ky * KW + kx) * C + c0;
                // SAFETY: ky < ky1, kx < KW, c0 + b*16 + n <= C (asserted above): in bounds.
                let wv: [V; B] = core::array::from_fn(|b| unsafe { load_n_unchecked(self.w, t + b * L, n) });
                for (p, a) in acc.iter_mut().enumerate() {
                    let s = srow + ((ox + p) * SW + kx - PL) * C + c0;
                    for (b, a) in a.iter_mut().enumerate() {
                        // SAFETY: row, column and channel range asserted above: in bounds.
                        *a = unsafe { load_n_unchecked(self.src, s + b * L, n) }.mul_add(wv[b], *a);
                    }
                }
            }
        }
        acc
    }
}
