//! Pointwise (1x1) convolution as a register-blocked GEMM: `dst[M][N] = act(src[M][K] W[K][N] + b)
//! (+ residual)`, HWC activations (M pixels, K input channels) and weights packed in `NR`-wide panels
//! `[ceil(N/NR)][K][NR]`. The micro-kernel keeps an `MR x NR` tile of accumulators in registers.

use super::simd::{load, store, store_partial, V, L};
use super::Activation;

/// Output channels per weight panel (the code generator packs with the same width).
pub const NR: usize = 32;
/// Pixels per register tile.
const MR: usize = 6;

/// See the module docs. `bias` is padded to a multiple of `NR`.
pub fn pwconv<const M: usize, const K: usize, const N: usize>(
    src: &[f32],
    w: &[f32],
    bias: &[f32],
    act: impl Activation,
    residual: Option<&[f32]>,
    dst: &mut [f32],
) {
    let panels = N.div_ceil(NR);
    assert!(src.len() == M * K && w.len() == panels * K * NR && bias.len() == panels * NR);
    assert!(dst.len() == M * N && residual.is_none_or(|r| r.len() == M * N));
    for p in 0..panels {
        let wp = &w[p * K * NR..(p + 1) * K * NR];
        let n0 = p * NR;
        let cols = NR.min(N - n0);
        let b = [load(&bias[n0..]), load(&bias[n0 + L..])];
        let mut m = 0;
        while m + MR <= M {
            tile::<MR, K, N>(src, wp, b, act, residual, dst, m, n0, cols);
            m += MR;
        }
        while m < M {
            tile::<1, K, N>(src, wp, b, act, residual, dst, m, n0, cols);
            m += 1;
        }
    }
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn tile<const R: usize, const K: usize, const N: usize>(
    src: &[f32],
    wp: &[f32],
    b: [V; 2],
    act: impl Activation,
    residual: Option<&[f32]>,
    dst: &mut [f32],
    m: usize,
    n0: usize,
    cols: usize,
) {
    let rows = &src[m * K..(m + R) * K];
    let mut acc = [b; R];
    for (k, wk) in wp.chunks_exact(NR).enumerate().take(K) {
        let w0 = load(wk);
        let w1 = load(&wk[L..]);
        for r in 0..R {
            let a = V::splat(rows[r * K + k]);
            acc[r][0] = a.mul_add(w0, acc[r][0]);
            acc[r][1] = a.mul_add(w1, acc[r][1]);
        }
    }
    for (r, acc) in acc.iter().enumerate() {
        let row = (m + r) * N + n0;
        let out = &mut dst[row..row + cols];
        let mut v = [act.apply(acc[0]), act.apply(acc[1])];
        if let Some(res) = residual {
            let res = &res[row..row + cols];
            for (h, vh) in v.iter_mut().enumerate() {
                let lo = (h * L).min(cols);
                let hi = ((h + 1) * L).min(cols);
                *vh += V::from(&res[lo..hi]);
            }
        }
        if cols == NR {
            store(out, v[0]);
            store(&mut out[L..], v[1]);
        } else {
            let split = L.min(cols);
            store_partial(&mut out[..split], v[0]);
            store_partial(&mut out[split..], v[1]);
        }
    }
}
