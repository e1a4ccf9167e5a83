//! Weight packing: each kernel's constants rearranged offline into exactly the order it reads, and laid
//! out in one little-endian f32 blob with every segment 64-byte aligned.

use crate::ir::{Conv, Tensor};
use crate::variants::MatrixAt;

/// Output-channel panel width of the pointwise GEMM kernel (`kernels::pwconv::NR` must agree).
pub const PW_NR: usize = 32;
/// Most input channels of a bf16 pointwise conv (`kernels::pwconv_bf16::MAX_K` must agree).
pub const PW_BF16_MAX_K: usize = 2048;
/// Output channels per AMX weight tile (`kernels::pwconv_amx::TILE_N`).
pub const AMX_TILE_N: usize = 16;
/// Input channels per AMX weight tile (`kernels::pwconv_amx::TILE_K`).
pub const AMX_TILE_K: usize = 32;
/// Most input channels of an AMX pointwise conv (`kernels::pwconv_amx::MAX_K`).
pub const AMX_MAX_K: usize = 2048;
/// Channel block of the direct convolution from u8 pixels (`kernels::conv_u8::CO_BLOCK` must agree).
pub const STEM_CO_BLOCK: usize = 16;

/// The weight blob under construction.
#[derive(Debug, Default)]
pub struct Blob {
    pub data: Vec<f32>,
}

/// A range of the blob, in f32.
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    pub offset: usize,
    pub len: usize,
}

impl Blob {
    /// Appends `values` at the next 64-byte boundary.
    pub fn push(&mut self, values: &[f32]) -> Segment {
        let offset = self.data.len().div_ceil(16) * 16;
        self.data.resize(offset, 0.0);
        self.data.extend_from_slice(values);
        Segment {
            offset,
            len: values.len(),
        }
    }

    /// The blob as little-endian bytes, padded to a multiple of 64.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out: Vec<u8> = self.data.iter().flat_map(|v| v.to_le_bytes()).collect();
        out.resize(out.len().div_ceil(64) * 64, 0);
        out
    }
}

fn round_up(x: usize, m: usize) -> usize {
    x.div_ceil(m) * m
}

/// A weight matrix as the matrix-product kernels see it: `[N][K]`, output channel `col`, input
/// channel `kk`, whatever the source layout.
pub fn matrix_nk(w: &Tensor) -> impl Fn(usize, usize) -> f32 + '_ {
    let k = w.shape[1..].iter().product::<usize>();
    move |col, kk| w.data[col * k + kk]
}

/// A `[K][N]` (input-major) matrix, e.g. a fully connected layer's, as `[N][K]`.
pub fn matrix_kn(n: usize, data: &[f32]) -> impl Fn(usize, usize) -> f32 + '_ {
    move |col, kk| data[kk * n + col]
}

/// An `[N][K]` (output-major) matrix, e.g. a squeeze-excite layer's.
pub fn matrix_of_nk(k: usize, data: &[f32]) -> impl Fn(usize, usize) -> f32 + '_ {
    move |col, kk| data[col * k + kk]
}

/// f32 panels `[ceil(N/NR)][K][NR]` of `at(col, kk)`, zero-padded past N (`kernels::pwconv`).
pub fn f32_panels(n: usize, k: usize, at: MatrixAt) -> Vec<f32> {
    let panels = n.div_ceil(PW_NR);
    let mut out = vec![0.0; panels * k * PW_NR];
    for p in 0..panels {
        for kk in 0..k {
            for j in 0..PW_NR {
                let col = p * PW_NR + j;
                if col < n {
                    out[(p * k + kk) * PW_NR + j] = at(col, kk);
                }
            }
        }
    }
    out
}

/// bf16 panels `[ceil(N/NR)][ceil(K/2)][NR]` of 32-bit words (stored as `f32` bit patterns): word
/// `(p, j, c)` holds `bf16(at(p*NR + c, 2j))` in its low half and `bf16(at(p*NR + c, 2j + 1))` in
/// its high half, zero past N and K (`kernels::pwconv_bf16`).
pub fn bf16_panels(n: usize, k: usize, at: MatrixAt) -> Vec<f32> {
    let (kp, panels) = (k.div_ceil(2), n.div_ceil(PW_NR));
    let mut out = vec![0u32; panels * kp * PW_NR];
    for col in 0..n {
        for kk in 0..k {
            let bits = bf16_bits(at(col, kk)) << (16 * (kk % 2));
            out[((col / PW_NR) * kp + kk / 2) * PW_NR + col % PW_NR] |= bits;
        }
    }
    out.into_iter().map(f32::from_bits).collect()
}

/// AMX weight tiles `[ceil(N/16)][ceil(K/32)][16][16]` of 32-bit words: word `(t, s, r, c)` holds
/// `bf16(at(16t + c, 32s + 2r))` in its low half and `bf16(at(16t + c, 32s + 2r + 1))` in its high
/// half ("VNNI-2" pairs), zero past N and K (`kernels::pwconv_amx`): each 1 KiB tile is one
/// `tileloadd` with a 64-byte stride. bf16 denormals are written as (signed) zero, which is how
/// `tdpbf16ps` reads them, so the kernel's FMA fallback needs no flushing of its own.
pub fn amx_bf16(n: usize, k: usize, at: MatrixAt) -> Vec<f32> {
    let (tiles, steps, rows) = (
        n.div_ceil(AMX_TILE_N),
        k.div_ceil(AMX_TILE_K),
        AMX_TILE_K / 2,
    );
    let mut out = vec![0u32; tiles * steps * rows * AMX_TILE_N];
    for col in 0..n {
        for kk in 0..k {
            let (t, c, s, r) = (
                col / AMX_TILE_N,
                col % AMX_TILE_N,
                kk / AMX_TILE_K,
                kk % AMX_TILE_K / 2,
            );
            let h = bf16_bits(at(col, kk));
            let h = if h & 0x7f80 == 0 { h & 0x8000 } else { h };
            out[((t * steps + s) * rows + r) * AMX_TILE_N + c] |= h << (16 * (kk % 2));
        }
    }
    out.into_iter().map(f32::from_bits).collect()
}

/// The bf16 bits of `x`, rounded to nearest even (quiet NaN stays NaN).
pub fn bf16_bits(x: f32) -> u32 {
    let b = x.to_bits();
    if x.is_nan() {
        return (b >> 16) | 0x40;
    }
    (b + 0x7fff + ((b >> 16) & 1)) >> 16
}

/// A bias padded with zeros to a multiple of `m`.
pub fn bias_padded(bias: Option<&[f32]>, n: usize, m: usize) -> Vec<f32> {
    let mut out = vec![0.0; round_up(n, m)];
    if let Some(b) = bias {
        out[..n].copy_from_slice(b);
    }
    out
}

/// Depthwise weights `[C, 1, KH, KW]` -> taps `[KH][KW][C]`.
pub fn depthwise(w: &Tensor) -> Vec<f32> {
    let (c, kh, kw) = (w.shape[0], w.shape[2], w.shape[3]);
    let mut out = vec![0.0; kh * kw * c];
    for ch in 0..c {
        for t in 0..kh * kw {
            out[t * c + ch] = w.data[ch * kh * kw + t];
        }
    }
    out
}

/// Direct-conv weights `[CO, CI, KH, KW]` -> `[KH][KW][CI][round_up(CO, STEM_CO_BLOCK)]`.
pub fn direct(c: &Conv) -> Vec<f32> {
    let (co, ci, kh, kw) = (
        c.weight.shape[0],
        c.weight.shape[1],
        c.weight.shape[2],
        c.weight.shape[3],
    );
    let cop = round_up(co, STEM_CO_BLOCK);
    let mut out = vec![0.0; kh * kw * ci * cop];
    for o in 0..co {
        for i in 0..ci {
            for y in 0..kh {
                for x in 0..kw {
                    out[((y * kw + x) * ci + i) * cop + o] =
                        c.weight.data[((o * ci + i) * kh + y) * kw + x];
                }
            }
        }
    }
    out
}
