//! Pointwise (1x1) convolution as a register-blocked GEMM: `dst[M][N] = act(src[M][K] W[K][N] + b)
//! (+ residual)`, HWC activations (M pixels, K input channels) and weights packed in `NR`-wide panels
//! `[ceil(N/NR)][K][NR]`. The micro-kernel keeps an `MR x NR` tile of accumulators in registers.

use core::ops::Range;

use super::par::{even_cut, run_split, Team};
use super::simd::{load, load_n, load_partial, store, store_n, L, V};
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
#[inline(always)]
pub fn pwconv<const M: usize, const K: usize, const N: usize>(
    src: &[f32],
    w: &[f32],
    bias: &[f32],
    act: impl Activation,
    residual: Option<&[f32]>,
    dst: &mut [f32],
) {
    if M == 1 {
        gemv_panels::<K, N>(src, w, bias, act, residual, 0..N.div_ceil(NR), dst)
    } else {
        pwconv_rows::<M, K, N>(src, w, bias, act, residual, 0..M, dst)
    }
}

/// [`pwconv`] split over `team`: by rows of pixels, or by weight panels when there is one pixel.
/// Bit-identical to [`pwconv`] (each output is summed in the same order whatever the split).
#[allow(clippy::too_many_arguments)]
pub fn pwconv_par<const M: usize, const K: usize, const N: usize>(
    team: &dyn Team,
    src: &[f32],
    w: &[f32],
    bias: &[f32],
    act: impl Activation + Sync,
    residual: Option<&[f32]>,
    dst: &mut [f32],
) {
    if M == 1 {
        let panels = N.div_ceil(NR);
        let f =
            |p: Range<usize>, d: &mut [f32]| gemv_panels::<K, N>(src, w, bias, act, residual, p, d);
        run_split(team, dst, panels, NR, |i, n| even_cut(panels, i, n), &f);
    } else {
        let f = |r: Range<usize>, d: &mut [f32]| {
            pwconv_rows::<M, K, N>(src, w, bias, act, residual, r, d)
        };
        run_split(team, dst, M, N, row_cut::<M>, &f);
    }
}

/// Estimated cost, in row-equivalents, of `rows` pixels in register tiles of `mr` rows: a short
/// last tile (under 4 rows: too few accumulator chains to hide the FMA latency) costs 4 rows.
const fn rows_cost(rows: usize, mr: usize) -> usize {
    let tail = rows % mr;
    rows - tail
        + if tail == 0 {
            0
        } else if tail < 4 {
            4
        } else {
            tail
        }
}

/// The `i`-th of `n` row boundaries for [`pwconv_par`]: near `i * M / n`, chosen within one tile
/// height so that the parts' estimated costs are as even as possible.
fn row_cut<const M: usize>(i: usize, n: usize) -> usize {
    let mr = mr_for(M);
    let ideal = even_cut(M, i, n);
    let start = even_cut(M, i - 1, n);
    let (lo, hi) = (ideal.saturating_sub(mr).max(start), (ideal + mr).min(M));
    // The part ending here against the parts still to come (the remainder split evenly).
    let worst = |b: usize| {
        let rest = (M - b).div_ceil(n - i).max(1);
        rows_cost(b - start, mr).max(if i == n { 0 } else { rows_cost(rest, mr) })
    };
    (lo..=hi)
        .min_by_key(|&b| (worst(b), b.abs_diff(ideal)))
        .unwrap_or(ideal)
}

/// Rows `rows` of [`pwconv`]: `src` and `residual` are the whole layer's, `dst` holds just those
/// rows (`rows.len() * N` values). Not inlined: the serial and parallel paths share one instance.
#[inline(never)]
pub fn pwconv_rows<const M: usize, const K: usize, const N: usize>(
    src: &[f32],
    w: &[f32],
    bias: &[f32],
    act: impl Activation,
    residual: Option<&[f32]>,
    rows: Range<usize>,
    dst: &mut [f32],
) {
    let panels = N.div_ceil(NR);
    assert!(src.len() == M * K && w.len() == panels * K * NR && bias.len() == panels * NR);
    assert!(rows.start <= rows.end && rows.end <= M && residual.is_none_or(|r| r.len() == M * N));
    let len = rows.len();
    assert!(dst.len() == len * N);
    let src = &src[rows.start * K..rows.end * K];
    let residual = residual.map(|r| &r[rows.start * N..rows.end * N]);
    for p in 0..panels {
        let wp = &w[p * K * NR..(p + 1) * K * NR];
        let n0 = p * NR;
        let cols = NR.min(N - n0);
        let b = [load(&bias[n0..]), load(&bias[n0 + L..])];
        // K in chunks of KC so the panel's chunk stays in L1 across all row tiles; partial sums
        // go through `dst` between chunks.
        let mut next = 0;
        while next < K {
            // With a single chunk, the K range is the constant 0..K (fully known to the optimizer).
            let (k0, k1) = if K <= KC {
                (0, K)
            } else {
                (next, (next + KC).min(K))
            };
            let t = Tile {
                src,
                wp,
                b,
                residual,
                n0,
                cols,
                k0,
                k1,
                first: k0 == 0,
                last: k1 == K,
            };
            macro_rules! rows {
                ($mr:literal) => {{
                    let mut m = 0;
                    while m + $mr <= len {
                        t.run::<$mr, K, N>(act, dst, m);
                        m += $mr;
                    }
                    match len - m {
                        0 => {}
                        1 => t.run::<1, K, N>(act, dst, m),
                        2 => t.run::<2, K, N>(act, dst, m),
                        3 => t.run::<3, K, N>(act, dst, m),
                        4 => t.run::<4, K, N>(act, dst, m),
                        5 => t.run::<5, K, N>(act, dst, m),
                        _ => t.run::<6, K, N>(act, dst, m),
                    }
                }};
            }
            // Rows per register tile: 6, or 7 / 5 when that leaves no short (latency-bound) remainder.
            match mr_for(M) {
                7 => rows!(7),
                5 => rows!(5),
                _ => rows!(6),
            }
            next = k1;
        }
    }
}

/// Input channels per cache block: a `KC x NR` weight chunk is 32 KiB.
const KC: usize = 256;

/// One weight panel's K chunk, applied to row tiles.
struct Tile<'a> {
    src: &'a [f32],
    wp: &'a [f32],
    b: [V; 2],
    residual: Option<&'a [f32]>,
    n0: usize,
    cols: usize,
    k0: usize,
    k1: usize,
    /// The first chunk starts from the bias, later ones from the partial sums in `dst`.
    first: bool,
    /// The last chunk applies the epilogue (activation, residual).
    last: bool,
}

impl Tile<'_> {
    #[inline(always)]
    fn run<const R: usize, const K: usize, const N: usize>(
        &self,
        act: impl Activation,
        dst: &mut [f32],
        m: usize,
    ) {
        let rows = &self.src[m * K..(m + R) * K];
        let (n0, cols) = (self.n0, self.cols);
        let lo = L.min(cols);
        let mut acc = [self.b; R];
        if !self.first {
            for (r, a) in acc.iter_mut().enumerate() {
                let row = (m + r) * N + n0;
                *a = [
                    load_n(&dst[row..], lo),
                    if cols > L {
                        load_n(&dst[row + L..], cols - L)
                    } else {
                        V::ZERO
                    },
                ];
            }
        }
        let wp = &self.wp[self.k0 * NR..self.k1 * NR];
        assert!(self.k1 <= K && rows.len() == R * K);
        for (k, wk) in (self.k0..self.k1).zip(wp.chunks_exact(NR)) {
            let w0 = load(wk);
            let w1 = load(&wk[L..]);
            for r in 0..R {
                // SAFETY: r < R and k < k1 <= K (asserted above), so r*K + k < R*K == rows.len().
                let a = V::splat(unsafe { *rows.get_unchecked(r * K + k) });
                acc[r][0] = a.mul_add(w0, acc[r][0]);
                acc[r][1] = a.mul_add(w1, acc[r][1]);
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            let row = (m + r) * N + n0;
            let mut v = *acc;
            if self.last {
                v = [act.apply(v[0]), act.apply(v[1])];
                if let Some(res) = self.residual {
                    v[0] += load_n(&res[row..], lo);
                    if cols > L {
                        v[1] += load_n(&res[row + L..], cols - L);
                    }
                }
            }
            if cols == NR {
                store(&mut dst[row..], v[0]);
                store(&mut dst[row + L..], v[1]);
            } else {
                store_n(&mut dst[row..], v[0], lo);
                if cols > L {
                    store_n(&mut dst[row + L..], v[1], cols - L);
                }
            }
        }
    }
}

/// Panels streamed at once by the one-pixel (matrix-vector) case.
const GEMV_PANELS: usize = 4;

/// The one-pixel case (fully connected layers, squeeze-excite), weight panels `panels`: `dst` holds
/// outputs `panels.start * NR..min(panels.end * NR, N)`, `residual` (if any) all `N`. Memory-bound on
/// the weights, so several panels are streamed at once (more independent loads in flight and
/// accumulator chains). Not inlined: the serial and parallel paths share one instance.
#[inline(never)]
pub fn gemv_panels<const K: usize, const N: usize>(
    src: &[f32],
    w: &[f32],
    bias: &[f32],
    act: impl Activation,
    residual: Option<&[f32]>,
    panels: Range<usize>,
    dst: &mut [f32],
) {
    let all = N.div_ceil(NR);
    assert!(src.len() == K && w.len() == all * K * NR && bias.len() == all * NR);
    assert!(
        panels.start <= panels.end && panels.end <= all && residual.is_none_or(|r| r.len() == N)
    );
    let base = panels.start * NR;
    assert!(dst.len() == (panels.end * NR).min(N) - base.min(N));
    let x = &src[..K];
    let mut p0 = panels.start;
    while p0 < panels.end {
        let np = GEMV_PANELS.min(panels.end - p0);
        let mut acc = [[V::ZERO; 2]; GEMV_PANELS];
        for (q, a) in acc.iter_mut().enumerate().take(np) {
            let n0 = (p0 + q) * NR;
            *a = [load(&bias[n0..]), load(&bias[n0 + L..])];
        }
        if np == GEMV_PANELS {
            let wps: [&[f32]; GEMV_PANELS] =
                core::array::from_fn(|q| &w[(p0 + q) * K * NR..(p0 + q + 1) * K * NR]);
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
            let (d, split) = (n0 - base, L.min(cols));
            store_n(&mut dst[d..], v[0], split);
            if cols > L {
                store_n(&mut dst[d + L..], v[1], cols - L);
            }
        }
        p0 += np;
    }
}
