//! Pointwise (1x1) convolution as a register-blocked GEMM: `dst[M][N] = act(src[M][K] W[K][N] + b)
//! (+ residual)`, HWC activations (M pixels, K input channels) and weights packed in `NR`-wide panels
//! `[ceil(N/NR)][K][NR]`. The micro-kernel keeps an `MR x NR` tile of accumulators in registers.

use super::simd::{load, load_partial, store, store_n, store_partial, V, L};
use super::Activation;

/// Output channels per weight panel (the code generator packs with the same width).
pub const NR: usize = 32;
/// Pixels per register tile: 6 (12 accumulators), unless 7 or 5 divides the pixel count better
/// (a remainder of 1-3 rows has too few independent accumulator chains to hide FMA latency).
const fn mr_for(m: usize) -> usize {
    if m % 6 == 0 || m % 6 >= 4 {
        6
    } else if m % 7 == 0 || m % 7 >= 4 {
        7
    } else if m % 5 == 0 || m % 5 >= 3 {
        5
    } else {
        6
    }
}

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
    if M == 1 {
        return gemv::<K, N>(src, w, bias, act, residual, dst);
    }
    for p in 0..panels {
        let wp = &w[p * K * NR..(p + 1) * K * NR];
        let n0 = p * NR;
        let cols = NR.min(N - n0);
        let b = [load(&bias[n0..]), load(&bias[n0 + L..])];
        macro_rules! rows {
            ($mr:literal) => {{
                let mut m = 0;
                while m + $mr <= M {
                    tile::<$mr, K, N>(src, wp, b, act, residual, dst, m, n0, cols);
                    m += $mr;
                }
                match M - m {
                    0 => {}
                    1 => tile::<1, K, N>(src, wp, b, act, residual, dst, m, n0, cols),
                    2 => tile::<2, K, N>(src, wp, b, act, residual, dst, m, n0, cols),
                    3 => tile::<3, K, N>(src, wp, b, act, residual, dst, m, n0, cols),
                    4 => tile::<4, K, N>(src, wp, b, act, residual, dst, m, n0, cols),
                    5 => tile::<5, K, N>(src, wp, b, act, residual, dst, m, n0, cols),
                    _ => tile::<6, K, N>(src, wp, b, act, residual, dst, m, n0, cols),
                }
            }};
        }
        // Rows per register tile: 6, or 7 / 5 when that leaves no short (latency-bound) remainder.
        match mr_for(M) {
            7 => rows!(7),
            5 => rows!(5),
            _ => rows!(6),
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

/// Panels streamed at once by the one-pixel (matrix-vector) case.
const GEMV_PANELS: usize = 4;

/// The one-pixel case (fully connected layers, squeeze-excite): memory-bound on the weights, so
/// several panels are streamed at once (more independent loads in flight and accumulator chains).
fn gemv<const K: usize, const N: usize>(
    src: &[f32],
    w: &[f32],
    bias: &[f32],
    act: impl Activation,
    residual: Option<&[f32]>,
    dst: &mut [f32],
) {
    let panels = N.div_ceil(NR);
    let x = &src[..K];
    let mut p0 = 0;
    while p0 < panels {
        let np = GEMV_PANELS.min(panels - p0);
        let mut acc = [[V::ZERO; 2]; GEMV_PANELS];
        for (q, a) in acc.iter_mut().enumerate().take(np) {
            let n0 = (p0 + q) * NR;
            *a = [load(&bias[n0..]), load(&bias[n0 + L..])];
        }
        if np == GEMV_PANELS {
            let wps: [&[f32]; GEMV_PANELS] = core::array::from_fn(|q| &w[(p0 + q) * K * NR..(p0 + q + 1) * K * NR]);
            for (k, &xk) in x.iter().enumerate() {
                let xv = V::splat(xk);
                for (a, wp) in acc.iter_mut().zip(&wps) {
                    let wk = &wp[k * NR..(k + 1) * NR];
                    a[0] = xv.mul_add(load(wk), a[0]);
                    a[1] = xv.mul_add(load(&wk[L..]), a[1]);
                }
            }
        } else {
            for (q, a) in acc.iter_mut().enumerate().take(np) {
                let wp = &w[(p0 + q) * K * NR..(p0 + q + 1) * K * NR];
                for (&xk, wk) in x.iter().zip(wp.chunks_exact(NR)) {
                    let xv = V::splat(xk);
                    a[0] = xv.mul_add(load(wk), a[0]);
                    a[1] = xv.mul_add(load(&wk[L..]), a[1]);
                }
            }
        }
        for (q, a) in acc.iter().enumerate().take(np) {
            let n0 = (p0 + q) * NR;
            let cols = NR.min(N - n0);
            let mut v = [act.apply(a[0]), act.apply(a[1])];
            if let Some(res) = residual {
                for (h, vh) in v.iter_mut().enumerate() {
                    let (lo, hi) = ((h * L).min(cols), ((h + 1) * L).min(cols));
                    *vh += load_partial(&res[n0 + lo..n0 + hi]);
                }
            }
            let split = L.min(cols);
            store_n(&mut dst[n0..], v[0], split);
            if cols > L {
                store_n(&mut dst[n0 + L..], v[1], cols - L);
            }
        }
        p0 += np;
    }
}
