//! Depthwise KHxKW convolution over HWC activations, weights packed as taps `[KH][KW][C]`, bias `[C]`.
//!
//! Each output row is cut into segments of [`SEG`] pixels, computed per 16-channel block with one
//! accumulator per pixel (independent FMA chains; each weight vector loaded once per segment).
//! Segments whose taps all fall inside the image run unmasked; the few that touch the left/right
//! padding (or run past the row end) skip the missing taps. Rows near the top/bottom clamp their
//! tap rows, so padding is never read or materialized.

use core::ops::Range;

use super::par::{even_cut, run_split, Team};
use super::simd::{for_blocks, load_n, load_n_unchecked, store_n, V};
use super::Activation;

/// Output pixels per segment: 8 accumulators with AVX-512 (32 vector registers), 4 otherwise.
const SEG: usize = if cfg!(target_feature = "avx512f") {
    8
} else {
    4
};

/// `dst[OH][OW][C] = act(bias + sum over taps of src * w)`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
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
    dwconv_rows::<IH, IW, C, OH, OW, KH, KW, SH, SW, PT, PL>(src, w, bias, act, 0..OH, dst)
}

/// [`dwconv`] split over `team` by output rows (bit-identical).
#[allow(clippy::too_many_arguments)]
pub fn dwconv_par<
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
    team: &dyn Team,
    src: &[f32],
    w: &[f32],
    bias: &[f32],
    act: impl Activation + Sync,
    dst: &mut [f32],
) {
    let f = |r: Range<usize>, d: &mut [f32]| {
        dwconv_rows::<IH, IW, C, OH, OW, KH, KW, SH, SW, PT, PL>(src, w, bias, act, r, d)
    };
    run_split(team, dst, OH, OW * C, |i, n| even_cut(OH, i, n), &f);
}

/// Output rows `rows` of [`dwconv`]: `dst` holds just those rows (`rows.len() * OW * C` values).
/// Not inlined: the serial and parallel paths share one instance.
#[allow(clippy::too_many_arguments)]
#[inline(never)]
pub fn dwconv_rows<
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
    rows: Range<usize>,
    dst: &mut [f32],
) {
    assert!(src.len() == IH * IW * C && w.len() == KH * KW * C && bias.len() == C);
    assert!(rows.start <= rows.end && rows.end <= OH && dst.len() == rows.len() * OW * C);
    // Output columns whose every tap is inside the image: ox * SW >= PL and ox * SW + KW - 1 - PL < IW.
    let ox_lo = PL.div_ceil(SW).min(OW);
    let ox_hi = if IW + PL >= KW {
        ((IW + PL - KW) / SW + 1).min(OW)
    } else {
        0
    }
    .max(ox_lo);
    for oy in rows.clone() {
        let drow = &mut dst[(oy - rows.start) * OW * C..(oy - rows.start + 1) * OW * C];
        // Valid tap rows: 0 <= oy*SH + ky - PT < IH.
        let ky0 = PT.saturating_sub(oy * SH);
        let ky1 = KH.min((IH + PT).saturating_sub(oy * SH));
        if ky0 >= ky1 {
            // The whole window is padding: the output is the activated bias.
            for ox in 0..OW {
                for_blocks(C, |c0, n| {
                    store_n(
                        &mut drow[ox * C + c0..],
                        act.apply(load_n(&bias[c0..], n)),
                        n,
                    )
                });
            }
            continue;
        }
        let row = Row::<IH, IW, C, KW, SW, PL> {
            src,
            w,
            ky0,
            ky1,
            iy: oy * SH + ky0 - PT,
        };
        for_blocks(C, |c0, n| {
            let mut x0 = 0;
            while x0 < OW {
                let acc = if x0 >= ox_lo && x0 + SEG <= ox_hi {
                    row.segment::<false>(bias, x0, c0, n)
                } else {
                    row.segment::<true>(bias, x0, c0, n)
                };
                for (p, a) in acc.into_iter().enumerate().take(OW - x0) {
                    store_n(&mut drow[(x0 + p) * C + c0..], act.apply(a), n);
                }
                x0 += SEG;
            }
        });
    }
}

/// One output row's view of the input and weights.
struct Row<
    'a,
    const IH: usize,
    const IW: usize,
    const C: usize,
    const KW: usize,
    const SW: usize,
    const PL: usize,
> {
    src: &'a [f32],
    w: &'a [f32],
    /// Tap rows `ky0..ky1` are inside the image.
    ky0: usize,
    ky1: usize,
    /// Input row of tap `ky0`.
    iy: usize,
}

impl<
        const IH: usize,
        const IW: usize,
        const C: usize,
        const KW: usize,
        const SW: usize,
        const PL: usize,
    > Row<'_, IH, IW, C, KW, SW, PL>
{
    /// Output pixels `x0..x0 + SEG` of channels `c0..c0 + n`, from the bias. With `MASKED`, taps
    /// outside the image and pixels past the row end are skipped; without, the caller guarantees
    /// every tap of every pixel is inside.
    #[inline(always)]
    fn segment<const MASKED: bool>(
        &self,
        bias: &[f32],
        x0: usize,
        c0: usize,
        n: usize,
    ) -> [V; SEG] {
        let mut acc = [load_n(&bias[c0..], n); SEG];
        // Bounds for the unchecked loads, checked once per call: rows, channels, and (unmasked) the
        // leftmost and rightmost column read.
        assert!(
            self.ky0 < self.ky1
                && self.iy + (self.ky1 - self.ky0) <= IH
                && self.ky1 * KW * C <= self.w.len()
        );
        assert!(c0 + n <= C && self.src.len() == IH * IW * C);
        assert!(MASKED || (x0 * SW >= PL && (x0 + SEG - 1) * SW + KW - 1 - PL < IW));
        for (dy, ky) in (self.ky0..self.ky1).enumerate() {
            let srow = (self.iy + dy) * IW * C + c0;
            for kx in 0..KW {
                // SAFETY: ky < ky1, kx < KW and c0 + n <= C, asserted above.
                let wv = unsafe { load_n_unchecked(self.w, (ky * KW + kx) * C + c0, n) };
                for (p, a) in acc.iter_mut().enumerate() {
                    let ix = ((x0 + p) * SW + kx).wrapping_sub(PL);
                    if MASKED && ix >= IW {
                        continue;
                    }
                    // SAFETY: the row is inside the image (asserted), and the column ix < IW either
                    // by the mask or by the unmasked column assertion above.
                    *a = unsafe { load_n_unchecked(self.src, srow + ix * C, n) }.mul_add(wv, *a);
                }
            }
        }
        acc
    }
}
