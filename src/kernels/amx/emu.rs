//! Scalar emulation of the AMX tile instructions (palette 1), one value at a time, as Intel's
//! pseudo-code specifies them. It runs the same tile programs as the hardware on any CPU, so the
//! AMX kernels' packing, tile schedule and epilogues are tested everywhere.

use super::{bf16_daz, ftz, Config, Tiles, MAX_ROWS, MAX_ROW_BYTES, TILES};

/// Eight tiles of 16 rows x 64 bytes and their configuration.
#[derive(Clone)]
pub struct Emu {
    cfg: Config,
    tiles: [[u8; MAX_ROWS * MAX_ROW_BYTES]; TILES],
}

impl Default for Emu {
    fn default() -> Self {
        Emu {
            cfg: Config {
                rows: [0; TILES],
                colsb: [0; TILES],
            },
            tiles: [[0; MAX_ROWS * MAX_ROW_BYTES]; TILES],
        }
    }
}

impl Emu {
    /// Unconfigured tiles (every instruction but `configure` panics until configured).
    pub fn new() -> Self {
        Self::default()
    }

    fn shape(&self, t: usize) -> (usize, usize) {
        let (r, c) = (self.cfg.rows[t], self.cfg.colsb[t]);
        assert!(r > 0 && c > 0, "tile {t} is not configured");
        (usize::from(r), usize::from(c))
    }

    fn u16_at(&self, t: usize, row: usize, i: usize) -> u16 {
        let o = row * MAX_ROW_BYTES + 2 * i;
        u16::from_le_bytes([self.tiles[t][o], self.tiles[t][o + 1]])
    }

    fn f32_at(&self, t: usize, row: usize, i: usize) -> f32 {
        let o = row * MAX_ROW_BYTES + 4 * i;
        f32::from_le_bytes(self.tiles[t][o..o + 4].try_into().expect("4 bytes"))
    }
}

impl Tiles for Emu {
    fn configure(&mut self, cfg: &Config) {
        for t in 0..TILES {
            let (r, c) = (usize::from(cfg.rows[t]), usize::from(cfg.colsb[t]));
            assert!(
                r <= MAX_ROWS && c <= MAX_ROW_BYTES,
                "tile {t}: {r} x {c} bytes"
            );
            assert!((r == 0) == (c == 0), "tile {t}: {r} x {c} bytes");
        }
        self.cfg = *cfg;
        self.tiles = [[0; MAX_ROWS * MAX_ROW_BYTES]; TILES];
    }

    fn zero(&mut self, t: usize) {
        self.shape(t);
        self.tiles[t] = [0; MAX_ROWS * MAX_ROW_BYTES];
    }

    fn load(&mut self, t: usize, src: &[u8], stride: usize) {
        let (rows, colsb) = self.shape(t);
        assert!(
            src.len() >= self.cfg.span(t, stride),
            "tile {t} load past the slice"
        );
        let tile = &mut self.tiles[t];
        *tile = [0; MAX_ROWS * MAX_ROW_BYTES];
        for r in 0..rows {
            tile[r * MAX_ROW_BYTES..r * MAX_ROW_BYTES + colsb]
                .copy_from_slice(&src[r * stride..r * stride + colsb]);
        }
    }

    fn dp_bf16(&mut self, c: usize, a: usize, b: usize) {
        let ((cr, cc), (ar, ac), (br, bc)) = (self.shape(c), self.shape(a), self.shape(b));
        // Intel's #UD conditions: C is M x N f32, A is M x K pairs, B is K x N pairs.
        assert!(cr == ar && cc == bc && br * 4 == ac, "tdpbf16ps shapes");
        assert!(c != a && c != b && a != b, "tdpbf16ps tiles must differ");
        let (m_rows, n_cols, k_pairs) = (cr, cc / 4, ac / 4);
        for m in 0..m_rows {
            for n in 0..n_cols {
                let mut acc = self.f32_at(c, m, n);
                for k in 0..k_pairs {
                    let a0 = bf16_daz(self.u16_at(a, m, 2 * k));
                    let a1 = bf16_daz(self.u16_at(a, m, 2 * k + 1));
                    let b0 = bf16_daz(self.u16_at(b, k, 2 * n));
                    let b1 = bf16_daz(self.u16_at(b, k, 2 * n + 1));
                    // Products of two bf16 values are exact in f32; each sum rounds.
                    acc += a0 * b0;
                    acc += a1 * b1;
                }
                let o = m * MAX_ROW_BYTES + 4 * n;
                self.tiles[c][o..o + 4].copy_from_slice(&ftz(acc).to_le_bytes());
            }
        }
    }

    fn store(&mut self, t: usize, dst: &mut [u8], stride: usize) {
        let (rows, colsb) = self.shape(t);
        assert!(
            dst.len() >= self.cfg.span(t, stride),
            "tile {t} store past the slice"
        );
        for r in 0..rows {
            dst[r * stride..r * stride + colsb]
                .copy_from_slice(&self.tiles[t][r * MAX_ROW_BYTES..r * MAX_ROW_BYTES + colsb]);
        }
    }
}
