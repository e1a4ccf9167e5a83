//! Weight packing: each kernel's constants rearranged offline into exactly the order it reads, and laid
//! out in one little-endian f32 blob with every segment 64-byte aligned.

use crate::ir::{Conv, Tensor};

pub use pplcnet_spec::layout::{PW_NR, STEM_CO_BLOCK};

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
