//! The AMX kernel's run-time fallback where AMX is missing or refused ([`Backend::Simd`]): the very
//! sums of the tile program computed straight from the packed weight tiles with f32 vector FMAs,
//! accumulators in registers across the whole K (no tile buffers, no stores between K steps).
//!
//! Bit-identical to the scalar emulation of `tdpbf16ps` ([`super::amx::emu::Emu`]): inputs are
//! rounded to bf16 and bf16 denormals read as zero (the packer writes weights that way), a product
//! of two bf16 values is exact in f32 so a fused multiply-add rounds like the emulation's
//! `acc += a * b`, done in the same order (k ascending, the even element of each pair first), and
//! the sums are flushed to zero where denormal before the epilogue. The exceptions: products, or
//! partial sums at the end of a K step of 32 (where each instruction flushes its tile), below f32's
//! normal range. Flushing after every step as the emulation does cost 17% (784x256->256 on Zen 3)
//! for sums that no model reaches; the hardware sums in its own order anyway (`docs/amx.md`).
//!
//! [`Backend::Simd`]: super::amx::Backend::Simd

use core::ops::Range;

use wide::u32x16;

use super::{Layer, Origin, TILE_K, TILE_N};
use crate::kernels::simd::{load, load_n, store_n, L, V};
use crate::kernels::Activation;

/// Rows per register tile: with AVX-512 a 16-lane vector is one of 32 registers (8 accumulators),
/// with AVX2 two of 16: 5 rows (10 accumulator registers, 4 for the even and odd weights, 1
/// broadcast). Criterion on Zen 3, 784x256->256: 4 rows 1.22 ms, 5 rows 1.19, 6 rows 1.99 (spills).
const MR: usize = if cfg!(target_feature = "avx512f") {
    8
} else if cfg!(target_feature = "avx") {
    5
} else {
    2
};
/// Weight tiles per register tile when the layer has one pixel (the classifier, squeeze-excite):
/// independent accumulator chains across output channels instead of rows.
const NT1: usize = 4;

/// `x` with denormal lanes flushed to (signed) zero.
#[inline(always)]
fn flush(x: V) -> V {
    let sign = V::from_bits(x.to_bits() & u32x16::splat(0x8000_0000));
    x.abs().simd_lt(V::splat(f32::MIN_POSITIVE)).select(sign, x)
}

/// `x` rounded to the nearest bf16 (ties to even; NaN stays a quiet NaN) and read back as AMX
/// reads it (denormals as zero): `bf16_daz(bf16_bits(x))` of every lane.
#[inline(always)]
pub(super) fn round_bf16(x: V) -> V {
    flush(bf16_lanes(x))
}

/// `bf16_bits(x) << 16` of every lane (ties to even; NaN stays a quiet NaN), as f32.
#[inline(always)]
pub(super) fn bf16_lanes(x: V) -> V {
    let b = x.to_bits();
    let high = u32x16::splat(0xffff_0000);
    let lsb = (b >> 16) & u32x16::splat(1);
    let rounded = V::from_bits((b + u32x16::splat(0x7fff) + lsb) & high);
    let quiet = V::from_bits((b | u32x16::splat(0x0040_0000)) & high);
    x.is_nan().select(quiet, rounded)
}

impl Layer<'_> {
    /// Row `r` rounded to bf16 as f32 (times the input scale, if any), zero past K.
    #[inline(always)]
    fn convert_f32(&self, r: usize, out: &mut [f32]) {
        let k = self.k;
        let row = &self.src[r * k..(r + 1) * k];
        let mut c = 0;
        while c < k {
            let n = L.min(k - c);
            let mut x = load_n(&row[c..], n);
            if let Some(s) = self.scale {
                x *= load_n(&s[c..], n);
            }
            store_n(&mut out[c..], round_bf16(x), n);
            c += n;
        }
        out[k..].fill(0.0);
    }

    /// Rows `rows` and weight tiles `ntiles` with FMAs; `dst` starts at `at`. `abuf` holds the
    /// converted rows of a block (at least [`MR`] rows of K rounded up to a K step).
    pub(super) fn run_direct(
        &self,
        act: impl Activation,
        rows: Range<usize>,
        ntiles: Range<usize>,
        dst: &mut [f32],
        at: Origin,
        abuf: &mut [f32],
    ) {
        let kp = self.k.div_ceil(TILE_K) * TILE_K;
        let block = abuf.len() / kp / MR * MR;
        assert!(block >= MR);
        let mut b0 = rows.start;
        while b0 < rows.end {
            let b1 = (b0 + block).min(rows.end);
            for r in b0..b1 {
                let o = (r - b0) * kp;
                self.convert_f32(r, &mut abuf[o..o + kp]);
            }
            let a = &abuf[..(b1 - b0) * kp];
            if b1 - b0 == 1 {
                let mut nt = ntiles.start;
                while nt + NT1 <= ntiles.end {
                    self.tile::<1, NT1>(act, a, b0, nt, dst, at);
                    nt += NT1;
                }
                for nt in nt..ntiles.end {
                    self.tile::<1, 1>(act, a, b0, nt, dst, at);
                }
            } else {
                for nt in ntiles.clone() {
                    let mut m = b0;
                    while m + MR <= b1 {
                        self.tile::<MR, 1>(act, &a[(m - b0) * kp..], m, nt, dst, at);
                        m += MR;
                    }
                    let rest = &a[(m - b0) * kp..];
                    match b1 - m {
                        0 => {}
                        1 => self.tile::<1, 1>(act, rest, m, nt, dst, at),
                        2 => self.tile::<2, 1>(act, rest, m, nt, dst, at),
                        3 => self.tile::<3, 1>(act, rest, m, nt, dst, at),
                        4 => self.tile::<4, 1>(act, rest, m, nt, dst, at),
                        5 => self.tile::<5, 1>(act, rest, m, nt, dst, at),
                        6 => self.tile::<6, 1>(act, rest, m, nt, dst, at),
                        _ => self.tile::<7, 1>(act, rest, m, nt, dst, at),
                    }
                }
            }
            b0 = b1;
        }
    }

    /// Rows `m..m + R` (converted in `a`, K rounded up to a step apart) times weight tiles
    /// `nt..nt + NT`, with the epilogue.
    #[inline(always)]
    fn tile<const R: usize, const NT: usize>(
        &self,
        act: impl Activation,
        a: &[f32],
        m: usize,
        nt: usize,
        dst: &mut [f32],
        at: Origin,
    ) {
        const PAIRS: usize = TILE_K / 2;
        let kp = self.k.div_ceil(TILE_K) * TILE_K;
        let steps = kp / TILE_K;
        // A weight tile's rows of bf16 pairs, and the rows' pairs of inputs.
        let pairs: &[[u32; TILE_N]] = bytemuck::cast_slice(self.w);
        let w: [&[[u32; TILE_N]]; NT] = core::array::from_fn(|j| {
            &pairs[(nt + j) * steps * PAIRS..(nt + j + 1) * steps * PAIRS]
        });
        let rows: [&[[f32; 2]]; R] =
            core::array::from_fn(|r| bytemuck::cast_slice(&a[r * kp..(r + 1) * kp]));
        let mut acc = [[V::ZERO; NT]; R];
        let high = u32x16::splat(0xffff_0000);
        for step in 0..steps {
            let ks = step * PAIRS..(step + 1) * PAIRS;
            let ws: [&[[u32; TILE_N]; PAIRS]; NT] =
                core::array::from_fn(|j| w[j][ks.clone()].try_into().unwrap());
            let xs: [&[[f32; 2]; PAIRS]; R] =
                core::array::from_fn(|r| rows[r][ks.clone()].try_into().unwrap());
            for q in 0..PAIRS {
                for j in 0..NT {
                    let wv = u32x16::new(ws[j][q]);
                    let even = V::from_bits(wv << 16);
                    let odd = V::from_bits(wv & high);
                    for r in 0..R {
                        // Exact products: a fused and an unfused multiply-add round the same.
                        acc[r][j] = V::splat(xs[r][q][0]).mul_add(even, acc[r][j]);
                        acc[r][j] = V::splat(xs[r][q][1]).mul_add(odd, acc[r][j]);
                    }
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            let row = m + r;
            for (j, &c) in acc.iter().enumerate() {
                let n0 = (nt + j) * TILE_N;
                let cols = TILE_N.min(self.n - n0);
                let mut v = act.apply(flush(c) + load(&self.bias[n0..]));
                if let Some(res) = self.residual {
                    v += load_n(&res[row * self.n + n0..], cols);
                }
                let o = (row - at.row) * self.ds + n0 - at.col;
                store_n(&mut dst[o..], v, cols);
            }
        }
    }
}
