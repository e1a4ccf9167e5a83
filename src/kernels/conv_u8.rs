//! Direct convolution reading u8 HWC pixels (the stem): the input normalization is already folded into
//! the weights, and padded positions read the per-channel value `pad[ci]` instead of 0. Weights are
//! packed `[KH][KW][CI][COP]` with `COP = CO` rounded up to [`CO_BLOCK`].
//!
//! Interior pixels (every tap inside the image) run `PX` at a time over two channel blocks, so each
//! weight vector is loaded once per group and the accumulator chains are independent; the few
//! border pixels take the general path with pad values.

use core::ops::Range;

use super::entry::row_entries;
use super::simd::{load, store_n, L, V};
use super::Activation;

/// Output-channel block (the code generator pads with the same width): one vector.
pub const CO_BLOCK: usize = pplcnet_spec::layout::STEM_CO_BLOCK;
const _: () = assert!(CO_BLOCK == L);
/// Interior output pixels computed together, over two 16-channel blocks: 8 with AVX-512 (16
/// accumulators of its 32 registers), 2 with AVX2 (a 16-lane vector takes two of its 16
/// registers), 1 with SSE2. Measured, stem `bench --layers` (Zen 5): AVX-512 4 pixels converting a
/// byte per tap 0.135 ms, 8 pixels 0.122; x86-64-v3 build 8 pixels 0.280, 4 0.383, 2 0.189.
const PX: usize = if cfg!(target_feature = "avx512f") {
    8
} else if cfg!(target_feature = "avx") {
    2
} else {
    1
};
/// With AVX-512 and at most two channel blocks (32 output channels), groups of 10 (20
/// accumulators; the 224 stem's 110 interior columns are 11 groups). Measured (Zen 5, minimum over
/// 3-6 interleaved rounds of `bench --layers`): 32 channels 0.121 -> 0.113 ms, 16 channels 0.071 ->
/// 0.069, 24 channels equal (PPLCNetV2_small) or 0.131 -> 0.129 (MobileNetV3); 40 channels (three
/// blocks) were slower with 10 (0.177 -> 0.196), so they keep 8. 12 pixels spill (0.136 ms at 32
/// channels).
const PX_WIDE: usize = if cfg!(target_feature = "avx512f") {
    10
} else {
    PX
};
/// The group size for the interior pixels left after the groups of [`PX`].
const MID: usize = if PX > 4 { 4 } else { 1 };

row_entries! {
    shape: [IH, IW, CI, OH, OW, CO, KH, KW, SH, SW, PT, PL];
    args: (src: &[u8], w: &[f32], bias: &[f32], pad: &[f32]);
    core: conv_u8_rows(src, w, bias, pad);
    rows: OH of OW * CO;
    /// `dst[OH][OW][CO] = act(bias + sum over taps and input channels of x * w)`.
    serial: conv_u8;
    /// [`conv_u8`] split over `team` by output rows (bit-identical).
    parallel: conv_u8_par;

    /// Output rows `rows` of [`conv_u8`]: `dst` holds just those rows (`rows.len() * OW * CO`
    /// values). Not inlined: the serial and parallel paths share one instance.
    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    pub fn conv_u8_rows(
        src: &[u8],
        w: &[f32],
        bias: &[f32],
        pad: &[f32],
        act: impl Activation,
        rows: Range<usize>,
        dst: &mut [f32],
    ) {
        let cop = CO.div_ceil(CO_BLOCK) * CO_BLOCK;
        assert!(src.len() == IH * IW * CI && w.len() == KH * KW * CI * cop && bias.len() == cop);
        assert!(
            pad.len() == CI
                && rows.start <= rows.end
                && rows.end <= OH
                && dst.len() == rows.len() * OW * CO
        );
        // Interior range of an output coordinate: o * S >= P and o * S + K - 1 - P < I.
        let interior = |p: usize, s: usize, k: usize, i: usize, o: usize| {
            let lo = p.div_ceil(s).min(o);
            let hi = if i + p >= k {
                ((i + p - k) / s + 1).min(o)
            } else {
                0
            }
            .max(lo);
            (lo, hi)
        };
        let (oy_lo, oy_hi) = interior(PT, SH, KH, IH, OH);
        let (ox_lo, ox_hi) = interior(PL, SW, KW, IW, OW);
        let tap = Taps::<IW, CI, KH, KW, SW> { src, w, cop };
        // Groups of PX_WIDE pixels for stems of at most two channel blocks.
        let wide = PX_WIDE > PX && cop <= 2 * L;
        for oy in rows.clone() {
            // Row `oy` of the image is row `ly` of `dst`.
            let ly = oy - rows.start;
            let mut ox = 0;
            while ox < OW {
                let inside = (oy_lo..oy_hi).contains(&oy) && ox >= ox_lo;
                // Interior groups of PX pixels, then of MID and of 1 up to the right border.
                macro_rules! group {
                    ($p:expr) => {{
                        let (iy, ix) = (oy * SH - PT, ox * SW - PL);
                        let patch = tap.patch::<{ $p }>(iy, ix);
                        let mut cb = 0;
                        while cb + 2 * L <= cop {
                            let acc = tap.interior::<{ $p }, 2>(&patch, bias, cb);
                            store_pixels::<CO, { $p }, 2>(dst, (ly * OW + ox) * CO, cb, acc, act);
                            cb += 2 * L;
                        }
                        if cb < cop {
                            let acc = tap.interior::<{ $p }, 1>(&patch, bias, cb);
                            store_pixels::<CO, { $p }, 1>(dst, (ly * OW + ox) * CO, cb, acc, act);
                        }
                        ox += $p;
                    }};
                }
                if wide
                    && inside
                    && ox + PX_WIDE <= ox_hi
                    && Taps::<IW, CI, KH, KW, SW>::fits(PX_WIDE)
                {
                    group!(PX_WIDE);
                } else if inside && ox + PX <= ox_hi && Taps::<IW, CI, KH, KW, SW>::fits(PX) {
                    group!(PX);
                } else if inside && ox + MID <= ox_hi && Taps::<IW, CI, KH, KW, SW>::fits(MID) {
                    group!(MID);
                } else if inside && ox < ox_hi && Taps::<IW, CI, KH, KW, SW>::fits(1) {
                    group!(1);
                } else {
                    let out = &mut dst[(ly * OW + ox) * CO..(ly * OW + ox + 1) * CO];
                    border_pixel::<IH, IW, CI, CO, KH, KW, SH, SW, PT, PL>(
                        src, w, bias, pad, act, out, oy, ox,
                    );
                    ox += 1;
                }
            }
        }
    }
}

/// Stores `acc[p][b]` (activation applied) for pixels starting at `base` and blocks `cb + b*16`.
#[inline(always)]
fn store_pixels<const CO: usize, const P: usize, const B: usize>(
    dst: &mut [f32],
    base: usize,
    cb: usize,
    acc: [[V; B]; P],
    act: impl Activation,
) {
    for (p, blocks) in acc.into_iter().enumerate() {
        for (b, a) in blocks.into_iter().enumerate() {
            let c = cb + b * L;
            store_n(&mut dst[base + p * CO + c..], act.apply(a), L.min(CO - c));
        }
    }
}

struct Taps<'a, const IW: usize, const CI: usize, const KH: usize, const KW: usize, const SW: usize>
{
    src: &'a [u8],
    w: &'a [f32],
    cop: usize,
}

impl<const IW: usize, const CI: usize, const KH: usize, const KW: usize, const SW: usize>
    Taps<'_, IW, CI, KH, KW, SW>
{
    /// Whether the input patch of `p` interior pixels fits a [`Patch`] row.
    const fn fits(p: usize) -> bool {
        ((p - 1) * SW + KW) * CI <= PATCH
    }

    /// The input under `P` pixels whose top-left input is `(iy, ix)` (then every `SW` columns), as
    /// f32: row `ky` holds columns `ix..ix + (P - 1) * SW + KW`, all channels. Converting once per
    /// group (vectorized) lets every tap broadcast its value straight from memory instead of
    /// converting a byte per tap and pixel (three uops, two on the FP pipes that the FMAs need).
    #[inline(always)]
    fn patch<const P: usize>(&self, iy: usize, ix: usize) -> Patch<KH> {
        let n = ((P - 1) * SW + KW) * CI;
        assert!(n <= PATCH);
        let mut patch = [[0.0; PATCH]; KH];
        for (ky, prow) in patch.iter_mut().enumerate() {
            let start = ((iy + ky) * IW + ix) * CI;
            let mut bytes = [0u8; PATCH];
            bytes[..n].copy_from_slice(&self.src[start..start + n]);
            let n16 = n.div_ceil(16) * 16;
            for (d, &b) in prow[..n16].iter_mut().zip(&bytes[..n16]) {
                *d = b as f32;
            }
        }
        patch
    }

    /// All taps for the `P` pixels of `patch`, channel blocks `cb..cb + B*16`.
    #[inline(always)]
    fn interior<const P: usize, const B: usize>(
        &self,
        patch: &Patch<KH>,
        bias: &[f32],
        cb: usize,
    ) -> [[V; B]; P] {
        let b: [V; B] = core::array::from_fn(|b| load(&bias[cb + b * L..]));
        let mut acc = [b; P];
        for (ky, row) in patch.iter().enumerate() {
            for kx in 0..KW {
                for ci in 0..CI {
                    let t = ((ky * KW + kx) * CI + ci) * self.cop + cb;
                    let wv: [V; B] = core::array::from_fn(|b| load(&self.w[t + b * L..]));
                    for (p, a) in acc.iter_mut().enumerate() {
                        let x = V::splat(row[(p * SW + kx) * CI + ci]);
                        for (b, a) in a.iter_mut().enumerate() {
                            *a = x.mul_add(wv[b], *a);
                        }
                    }
                }
            }
        }
        acc
    }
}

/// Values per row of a [`Patch`]: [`PX_WIDE`] = 10 pixels of a 3x3 stride-2 RGB stem take 63.
const PATCH: usize = 64;
const _: () = assert!(PATCH % 16 == 0);

/// The f32 input under a group of pixels, one row per kernel row (see [`Taps::patch`]).
type Patch<const KH: usize> = [[f32; PATCH]; KH];

/// One output pixel (`out`, `CO` values) with any taps in the padding (which reads `pad[ci]`).
#[allow(clippy::too_many_arguments)]
#[inline(never)]
fn border_pixel<
    const IH: usize,
    const IW: usize,
    const CI: usize,
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
    out: &mut [f32],
    oy: usize,
    ox: usize,
) {
    let cop = bias.len();
    for cb in (0..cop).step_by(CO_BLOCK) {
        let mut acc = load(&bias[cb..]);
        for ky in 0..KH {
            let iy = (oy * SH + ky).wrapping_sub(PT);
            for kx in 0..KW {
                let ix = (ox * SW + kx).wrapping_sub(PL);
                let inside = iy < IH && ix < IW;
                for ci in 0..CI {
                    let x = if inside {
                        src[(iy * IW + ix) * CI + ci] as f32
                    } else {
                        pad[ci]
                    };
                    let t = ((ky * KW + kx) * CI + ci) * cop + cb;
                    acc = V::splat(x).mul_add(load(&w[t..]), acc);
                }
            }
        }
        store_n(&mut out[cb..], act.apply(acc), L.min(CO - cb));
    }
}
