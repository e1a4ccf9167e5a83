//! Depthwise KHxKW convolution over HWC activations, weights packed as taps `[KH][KW][C]`, bias `[C]`.
//!
//! Each output row is cut into equal segments of at most `seg_max` pixels (the last may overlap the
//! one before), computed per 16-channel block with one accumulator per pixel (independent FMA
//! chains; each weight vector loaded once per segment). Segments whose taps all fall inside the
//! image run unmasked; the first and last, which touch the left/right padding, are compiled for
//! their constant position so their masks fold away. Rows near the top/bottom clamp their tap rows,
//! so padding is never read or materialized. With AVX-512, interior rows of 5-row kernels go in
//! pairs that share every input load.

use core::ops::Range;

use super::entry::row_entries;
use super::simd::{for_blocks, load_n, load_n_unchecked, store_n, L, V};
use super::Activation;

/// Most output pixels per segment (accumulators per output row), by kernel width: with AVX-512's 32
/// vector registers, 7 for 5x5 kernels (whose interior rows go in pairs, see [`pair_rows`]: 14
/// accumulators) and 8 for 3x3 (measured per layer, `bench --layers`); 4 with 16 registers.
const fn seg_max(kw: usize) -> usize {
    if !cfg!(target_feature = "avx512f") {
        4
    } else if kw >= 5 {
        7
    } else {
        8
    }
}

/// Size of the accumulator array (the largest [`seg_max`]).
const SEG: usize = 8;

row_entries! {
    shape: [IH, IW, C, SS, OH, OW, KH, KW, SH, SW, PT, PL];
    args: (src: &[f32], w: &[f32], bias: &[f32]);
    check: { assert!(src.len() == IH * IW * SS); };
    core: dwconv_band(src, 0, w, bias);
    rows: OH of OW * C;
    /// `dst[OH][OW][C] = act(bias + sum over taps of src * w)`; `src` pixels are `SS >= C` values
    /// apart (the channels, then unused padding).
    serial: dwconv;
    /// [`dwconv`] split over `team` by output rows (bit-identical).
    parallel: dwconv_par;

    /// Output rows `rows` of [`dwconv`] from a band of input rows: `src` holds whole input rows
    /// starting at row `src_row0` (at least those the output rows read), `dst` just the output rows
    /// (`rows.len() * OW * C` values). Row-banded execution (see `pplcnet-codegen`'s `band`) keeps
    /// only such bands in a small window. Not inlined: the serial, parallel and banded paths share
    /// one instance.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    pub fn dwconv_band(
        src: &[f32],
        src_row0: usize,
        w: &[f32],
        bias: &[f32],
        act: impl Activation,
        rows: Range<usize>,
        dst: &mut [f32],
    ) {
        assert!(C <= SS && src.len() % (IW * SS) == 0 && w.len() == KH * KW * C && bias.len() == C);
        assert!(rows.start <= rows.end && rows.end <= OH && dst.len() == rows.len() * OW * C);
        // Output columns whose every tap is inside the image: ox * SW >= PL and
        // ox * SW + KW - 1 - PL < IW.
        let ox_lo = PL.div_ceil(SW).min(OW);
        let ox_hi = if IW + PL >= KW {
            ((IW + PL - KW) / SW + 1).min(OW)
        } else {
            0
        }
        .max(ox_lo);
        // Whether every tap row of output row `oy` is inside the image.
        let full = |oy: usize| oy * SH >= PT && oy * SH + KH <= IH + PT;
        let mut oy = rows.start;
        while oy < rows.end {
            let pair = pair_rows(KH) && oy + 1 < rows.end && full(oy) && full(oy + 1);
            // This output row and the next (used when `pair`).
            let (drow, drow2) = dst[(oy - rows.start) * OW * C..].split_at_mut(OW * C);
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
                oy += 1;
                continue;
            }
            let row = Row::<IH, IW, C, SS, KW, SW, PL> {
                src,
                row0: src_row0,
                w,
                ky0,
                ky1,
                iy: oy * SH + ky0 - PT,
            };
            // Segment length: the fewest segments of at most `seg_max` pixels, evened out (the
            // model's widths 7..112 all cut exactly into 7, 8 or 14).
            let len = OW.div_ceil(OW.div_ceil(seg_max(KW)));
            // Segments along the row, each over all channel blocks (consecutive loads then walk
            // consecutive cache lines instead of striding by a whole pixel).
            // One 16-channel block (`n` channels) of the segment at `x0`, one output row.
            macro_rules! block {
                ($x0:expr, $unmasked:expr, $c0:expr, $n:expr) => {{
                    let (x0, c0, n) = ($x0, $c0, $n);
                    let acc = if $unmasked {
                        row.segment::<false>(bias, x0, len, c0, n)
                    } else {
                        row.segment::<true>(bias, x0, len, c0, n)
                    };
                    for (p, a) in acc.into_iter().enumerate().take(len) {
                        store_n(&mut drow[(x0 + p) * C + c0..], act.apply(a), n);
                    }
                }};
            }
            // The same for output rows `oy` and `oy + 1` together.
            macro_rules! block2 {
                ($x0:expr, $unmasked:expr, $c0:expr, $n:expr) => {{
                    let (x0, c0, n) = ($x0, $c0, $n);
                    let [acc, acc2] = if $unmasked {
                        row.segment2::<KH, SH, false>(bias, x0, len, c0, n)
                    } else {
                        row.segment2::<KH, SH, true>(bias, x0, len, c0, n)
                    };
                    for (p, a) in acc.into_iter().enumerate().take(len) {
                        store_n(&mut drow[(x0 + p) * C + c0..], act.apply(a), n);
                    }
                    for (p, a) in acc2.into_iter().enumerate().take(len) {
                        store_n(&mut drow2[(x0 + p) * C + c0..], act.apply(a), n);
                    }
                }};
            }
            // All channel blocks of the segment at `x0`: full blocks, then the tail, each spelled
            // out so `n` is a constant (through a closure it was not when the tail exists: a
            // 112x112x24 layer ran 8x slower).
            macro_rules! segment {
                ($block:ident, $x0:expr) => {{
                    let x0: usize = $x0;
                    let unmasked = x0 >= ox_lo && x0 + len <= ox_hi;
                    let full = C / L * L;
                    let mut c0 = 0;
                    while c0 < full {
                        $block!(x0, unmasked, c0, L);
                        c0 += L;
                    }
                    if full < C {
                        $block!(x0, unmasked, full, C - full);
                    }
                }};
            }
            macro_rules! segments {
                ($block:ident) => {{
                    segment!($block, 0);
                    let last = OW - len;
                    let mut x0 = len;
                    while x0 < last {
                        // The last middle segment may overlap the one before it (recomputing,
                        // not changing, its outputs) so that none runs into the final one's
                        // masked zone.
                        segment!($block, x0.min(last - len));
                        x0 += len;
                    }
                    if last > 0 {
                        segment!($block, last);
                    }
                }};
            }
            if pair {
                segments!(block2);
                oy += 2;
            } else {
                segments!(block);
                oy += 1;
            }
        }
    }
}

/// Whether interior output rows are computed two at a time, each input vector loaded once for the
/// taps of both rows that read it: with AVX-512 (twice the accumulators) for kernels of 5 rows and
/// more (`bench --layers` on Zen 5, with 7-pixel segments: 14x14x512 5x5 0.033 -> 0.028 ms,
/// 28x28x256 5x5/2 0.028 -> 0.024; 3x3 kernels, 8-pixel segments: slower, 112x112x32 0.08 -> 0.11).
const fn pair_rows(kh: usize) -> bool {
    cfg!(target_feature = "avx512f") && kh >= 5
}

/// One output row's view of the input and weights.
struct Row<
    'a,
    const IH: usize,
    const IW: usize,
    const C: usize,
    const SS: usize,
    const KW: usize,
    const SW: usize,
    const PL: usize,
> {
    /// Whole input rows from `row0` on.
    src: &'a [f32],
    row0: usize,
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
        const SS: usize,
        const KW: usize,
        const SW: usize,
        const PL: usize,
    > Row<'_, IH, IW, C, SS, KW, SW, PL>
{
    /// Bounds for the unchecked loads of a segment's columns, checked once per call: at most `SEG`
    /// pixels and, unmasked, the leftmost and rightmost column read inside the image.
    #[inline(always)]
    fn assert_columns<const MASKED: bool>(x0: usize, len: usize) {
        assert!(
            len <= SEG && (MASKED || (x0 * SW >= PL && (x0 + len - 1) * SW + KW - 1 - PL < IW))
        );
    }

    /// Bounds for the unchecked loads: input rows `iy..iy + n` are in `src` (whole rows from
    /// `row0`).
    #[inline(always)]
    fn assert_band(&self, n: usize) {
        assert!(
            self.iy >= self.row0
                && (self.iy - self.row0 + n) * IW * SS <= self.src.len()
                && self.src.len() % (IW * SS) == 0
        );
    }

    /// Output pixels `x0..x0 + len` (`len <= SEG`) of channels `c0..c0 + n`, from the bias. With
    /// `MASKED`, taps outside the image are skipped; without, the caller guarantees every tap of
    /// every pixel is inside.
    #[inline(always)]
    fn segment<const MASKED: bool>(
        &self,
        bias: &[f32],
        x0: usize,
        len: usize,
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
        self.assert_band(self.ky1 - self.ky0);
        assert!(c0 + n <= C);
        Self::assert_columns::<MASKED>(x0, len);
        for (dy, ky) in (self.ky0..self.ky1).enumerate() {
            let srow = (self.iy - self.row0 + dy) * IW * SS + c0;
            for kx in 0..KW {
                // SAFETY: ky < ky1, kx < KW and c0 + n <= C, asserted above.
                let wv = unsafe { load_n_unchecked(self.w, (ky * KW + kx) * C + c0, n) };
                for (p, a) in acc.iter_mut().enumerate().take(len) {
                    let ix = ((x0 + p) * SW + kx).wrapping_sub(PL);
                    if MASKED && ix >= IW {
                        continue;
                    }
                    // SAFETY: the row is inside `src` (`assert_band`), and the column ix < IW either
                    // by the mask or by the unmasked column assertion above.
                    *a = unsafe { load_n_unchecked(self.src, srow + ix * SS, n) }.mul_add(wv, *a);
                }
            }
        }
        acc
    }

    /// [`segment`](Self::segment) for this row (every tap row inside the image) and the next
    /// output row together: input row `dy` of the `KH + SH` rows serves tap row `dy` of the first
    /// and tap row `dy - SH` of the second, with one load per input vector. Per output the
    /// multiply-adds run in the same order as in `segment` (bit-identical).
    #[inline(always)]
    fn segment2<const KH: usize, const SH: usize, const MASKED: bool>(
        &self,
        bias: &[f32],
        x0: usize,
        len: usize,
        c0: usize,
        n: usize,
    ) -> [[V; SEG]; 2] {
        let mut acc = [[load_n(&bias[c0..], n); SEG]; 2];
        assert!(self.ky0 == 0 && self.ky1 == KH && self.iy + KH + SH <= IH);
        assert!(KH * KW * C <= self.w.len() && c0 + n <= C);
        self.assert_band(KH + SH);
        Self::assert_columns::<MASKED>(x0, len);
        for dy in 0..KH + SH {
            let srow = (self.iy - self.row0 + dy) * IW * SS + c0;
            let (top, bottom) = (dy < KH, dy >= SH && dy - SH < KH);
            for kx in 0..KW {
                // SAFETY: tap rows dy (top) and dy - SH (bottom) are < KH, kx < KW and
                // c0 + n <= C, asserted above.
                let wt = if top {
                    unsafe { load_n_unchecked(self.w, (dy * KW + kx) * C + c0, n) }
                } else {
                    V::ZERO
                };
                let wb = if bottom {
                    unsafe { load_n_unchecked(self.w, ((dy - SH) * KW + kx) * C + c0, n) }
                } else {
                    V::ZERO
                };
                // Indexed, not zipped: both rows' accumulators by pixel index (the zipped
                // iterators measured 4% slower on the 5x5 layers).
                #[allow(clippy::needless_range_loop)]
                for p in 0..len {
                    let ix = ((x0 + p) * SW + kx).wrapping_sub(PL);
                    if MASKED && ix >= IW {
                        continue;
                    }
                    // SAFETY: the rows are inside `src` (`assert_band`), and the column ix < IW
                    // either by the mask or by the unmasked column assertion above.
                    let x = unsafe { load_n_unchecked(self.src, srow + ix * SS, n) };
                    if top {
                        acc[0][p] = x.mul_add(wt, acc[0][p]);
                    }
                    if bottom {
                        acc[1][p] = x.mul_add(wb, acc[1][p]);
                    }
                }
            }
        }
        acc
    }
}
