//! The tile instructions computed with `wide` f32 vectors: the AMX kernels' run-time fallback on CPUs
//! (or OSes) without AMX. Bit-identical to [`super::emu::Emu`] unless a product falls below f32's
//! normal range (`|a * b| < 2^-126`): the product of two bf16 values is otherwise exact in f32, so
//! a fused or unfused multiply-add rounds exactly like the emulation's `acc += a * b`, done in the
//! same order (k ascending, the even element of each pair first); bf16 denormal inputs and f32
//! denormal results are flushed the same way.

use wide::u32x16;

use super::{Config, Tiles, MAX_ROWS, MAX_ROW_BYTES, TILES};
use crate::kernels::simd::{L, V};

/// `u32` words per tile.
const WORDS: usize = MAX_ROWS * MAX_ROW_BYTES / 4;

/// Eight tiles and their configuration, in `u32` words (a bf16 pair or an f32 each).
#[derive(Clone)]
pub struct SimdTiles {
    cfg: Config,
    tiles: [[u32; WORDS]; TILES],
}

impl Default for SimdTiles {
    fn default() -> Self {
        SimdTiles {
            cfg: Config {
                rows: [0; TILES],
                colsb: [0; TILES],
            },
            tiles: [[0; WORDS]; TILES],
        }
    }
}

impl SimdTiles {
    /// Unconfigured tiles.
    pub fn new() -> Self {
        Self::default()
    }

    fn shape(&self, t: usize) -> (usize, usize) {
        let (r, c) = (self.cfg.rows[t], self.cfg.colsb[t]);
        assert!(r > 0 && c > 0, "tile {t} is not configured");
        (usize::from(r), usize::from(c))
    }
}

/// `x` with denormal lanes flushed to (signed) zero.
#[inline(always)]
fn flush(x: V) -> V {
    let sign = V::from_bits(x.to_bits() & u32x16::splat(0x8000_0000));
    x.abs().simd_lt(V::splat(f32::MIN_POSITIVE)).select(sign, x)
}

/// The even (low half) and odd (high half) bf16 of each word of `row` as f32, denormals flushed.
#[inline(always)]
fn widen_pairs(row: &[u32]) -> (V, V) {
    let w = u32x16::new(row[..L].try_into().expect("16 words"));
    let even = V::from_bits(w << 16);
    let odd = V::from_bits(w & u32x16::splat(0xffff_0000));
    (flush(even), flush(odd))
}

impl SimdTiles {
    /// `R` rows from `m` of `c += a * b`, with `b`'s rows widened in `bw`; stores `words` columns.
    #[inline(always)]
    fn rows<const R: usize>(&mut self, c: usize, a: usize, m: usize, bw: &[(V, V)], words: usize) {
        let mut ae = [[0.0f32; L]; R];
        let mut ao = [[0.0f32; L]; R];
        let mut acc = [V::ZERO; R];
        for r in 0..R {
            let (e, o) = widen_pairs(&self.tiles[a][(m + r) * L..(m + r + 1) * L]);
            (ae[r], ao[r]) = (e.to_array(), o.to_array());
            let row = &self.tiles[c][(m + r) * L..(m + r + 1) * L];
            acc[r] = V::from_bits(u32x16::new(row.try_into().expect("a row")));
        }
        for (k, &(even, odd)) in bw.iter().enumerate() {
            for r in 0..R {
                // Exact products: a fused and an unfused multiply-add round the same.
                acc[r] = V::splat(ae[r][k]).mul_add(even, acc[r]);
                acc[r] = V::splat(ao[r][k]).mul_add(odd, acc[r]);
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            let out = flush(*acc).to_bits().to_array();
            self.tiles[c][(m + r) * L..(m + r) * L + words].copy_from_slice(&out[..words]);
        }
    }
}

impl Tiles for SimdTiles {
    fn configure(&mut self, cfg: &Config) {
        for t in 0..TILES {
            let (r, c) = (usize::from(cfg.rows[t]), usize::from(cfg.colsb[t]));
            assert!(
                r <= MAX_ROWS && c <= MAX_ROW_BYTES,
                "tile {t}: {r} x {c} bytes"
            );
            assert!(
                (r == 0) == (c == 0) && c % 4 == 0,
                "tile {t}: {r} x {c} bytes"
            );
        }
        self.cfg = *cfg;
        self.tiles = [[0; WORDS]; TILES];
    }

    fn zero(&mut self, t: usize) {
        self.shape(t);
        self.tiles[t] = [0; WORDS];
    }

    fn load(&mut self, t: usize, src: &[u8], stride: usize) {
        let (rows, colsb) = self.shape(t);
        assert!(
            src.len() >= self.cfg.span(t, stride),
            "tile {t} load past the slice"
        );
        let words = colsb / 4;
        let tile = &mut self.tiles[t];
        *tile = [0; WORDS];
        for r in 0..rows {
            let s = &src[r * stride..r * stride + colsb];
            for (d, b) in tile[r * L..r * L + words].iter_mut().zip(s.chunks_exact(4)) {
                *d = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            }
        }
    }

    fn dp_bf16(&mut self, c: usize, a: usize, b: usize) {
        let ((cr, cc), (ar, ac), (br, bc)) = (self.shape(c), self.shape(a), self.shape(b));
        assert!(cr == ar && cc == bc && br * 4 == ac, "tdpbf16ps shapes");
        assert!(c != a && c != b && a != b, "tdpbf16ps tiles must differ");
        let k_pairs = ac / 4;
        // B's rows widened once: row k's even and odd elements of every column (zero past N).
        let mut bw = [(V::ZERO, V::ZERO); MAX_ROWS];
        for (k, w) in bw.iter_mut().enumerate().take(k_pairs) {
            *w = widen_pairs(&self.tiles[b][k * L..(k + 1) * L]);
        }
        // Rows in groups of 4: independent accumulator chains, so the FMAs overlap (each row's
        // own sum stays in the emulation's order).
        let mut m = 0;
        while m < cr {
            if cr - m >= 4 {
                self.rows::<4>(c, a, m, &bw[..k_pairs], cc / 4);
                m += 4;
            } else {
                self.rows::<1>(c, a, m, &bw[..k_pairs], cc / 4);
                m += 1;
            }
        }
    }

    fn store(&mut self, t: usize, dst: &mut [u8], stride: usize) {
        let (rows, colsb) = self.shape(t);
        assert!(
            dst.len() >= self.cfg.span(t, stride),
            "tile {t} store past the slice"
        );
        let words = colsb / 4;
        for r in 0..rows {
            let d = &mut dst[r * stride..r * stride + colsb];
            for (out, w) in d
                .chunks_exact_mut(4)
                .zip(&self.tiles[t][r * L..r * L + words])
            {
                out.copy_from_slice(&w.to_le_bytes());
            }
        }
    }
}
