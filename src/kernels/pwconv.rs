//! Pointwise (1x1) convolution as a register-blocked GEMM: `dst[M][N] = act(src[M][K] W[K][N] + b)
//! (+ residual)`, HWC activations (M pixels, K input channels) and weights packed in `NR`-wide panels
//! `[ceil(N/NR)][K][NR]`. The micro-kernel keeps an `MR x NR` tile of accumulators in registers.
//! Output rows are `DS >= N` values apart: more than `N` when a depthwise conv reads them (padded
//! pixels, see `pplcnet-codegen::plan::PIXEL_PAD_F32`); `src` and `residual` are dense. The
//! register tiling (rows per tile, halves of a panel) is in the submodule `tiling`.

mod tiling;

use core::ops::Range;

use super::par::{even_cut, run_split, Team};
use super::simd::{load, load_n, load_partial, store_n, L, V};
use super::Activation;
use tiling::{mr_for, HALVES};

/// Output channels per weight panel (the code generator packs with the same width).
pub const NR: usize = pplcnet_spec::layout::PW_NR;

/// Register tiling of a layer of `M` pixels.
struct Tiles<const M: usize>;

impl<const M: usize> Tiles<M> {
    /// Rows per register tile.
    const MR: usize = mr_for(M);
    /// Few tiles (`M` under 16 tiles): [`pwconv_par`] cuts anywhere, evening out the parts' costs
    /// (every remainder tile is compiled in). Otherwise only at whole tiles, so that the only
    /// remainder is the layer's own (`M % MR` rows) and the instance has the serial one's code.
    const CUT_ANYWHERE: bool = M / Self::MR < 16;
}

/// Estimated cost, in row-equivalents, of `rows` pixels in register tiles of `mr` rows: a short
/// last tile (under 4 rows) costs 4 rows.
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

/// See the module docs. `bias` is padded to a multiple of `NR`.
#[inline(always)]
pub fn pwconv<const M: usize, const K: usize, const N: usize, const DS: usize>(
    src: &[f32],
    w: &[f32],
    bias: &[f32],
    act: impl Activation,
    residual: Option<&[f32]>,
    dst: &mut [f32],
) {
    if M == 1 {
        // One pixel: one row, nothing to pad.
        assert!(DS == N);
        gemv_panels::<K, N>(src, w, bias, act, residual, 0..N.div_ceil(NR), dst)
    } else {
        pwconv_rows::<M, K, N, DS>(src, w, bias, act, residual, 0..M, dst)
    }
}

/// [`pwconv`] split over `team`: by rows of pixels, or by weight panels when there is one pixel.
/// Bit-identical to [`pwconv`] (each output is summed in the same order whatever the split).
#[allow(clippy::too_many_arguments)]
pub fn pwconv_par<const M: usize, const K: usize, const N: usize, const DS: usize>(
    team: &dyn Team,
    src: &[f32],
    w: &[f32],
    bias: &[f32],
    act: impl Activation + Sync,
    residual: Option<&[f32]>,
    dst: &mut [f32],
) {
    if M == 1 {
        assert!(DS == N);
        let panels = N.div_ceil(NR);
        let f =
            |p: Range<usize>, d: &mut [f32]| gemv_panels::<K, N>(src, w, bias, act, residual, p, d);
        run_split(team, dst, panels, NR, |i, n| even_cut(panels, i, n), &f);
    } else {
        let f = |r: Range<usize>, d: &mut [f32]| {
            pwconv_rows::<M, K, N, DS>(src, w, bias, act, residual, r, d)
        };
        run_split(team, dst, M, DS, row_cut::<M>, &f);
    }
}

/// [`pwconv`] (`M > 1`) that also prefetches `ahead`, the weights of a later memory-bound layer
/// (see [`pwconv_rows_ahead`]). Same results as [`pwconv`].
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn pwconv_ahead<const M: usize, const K: usize, const N: usize, const DS: usize>(
    src: &[f32],
    w: &[f32],
    bias: &[f32],
    act: impl Activation,
    residual: Option<&[f32]>,
    dst: &mut [f32],
    ahead: &[f32],
) {
    pwconv_rows_ahead::<M, K, N, DS>(src, w, bias, act, residual, 0..M, dst, ahead)
}

/// [`pwconv_par`] (`M > 1`) that also prefetches `ahead`, every part all of it: each row part of
/// a following pointwise conv needs all of its weights, so they are best in every core's L2 (measured
/// faster than a share per part). Bit-identical to [`pwconv`].
#[allow(clippy::too_many_arguments)]
pub fn pwconv_par_ahead<const M: usize, const K: usize, const N: usize, const DS: usize>(
    team: &dyn Team,
    src: &[f32],
    w: &[f32],
    bias: &[f32],
    act: impl Activation + Sync,
    residual: Option<&[f32]>,
    dst: &mut [f32],
    ahead: &[f32],
) {
    let f = |r: Range<usize>, d: &mut [f32]| {
        pwconv_rows_ahead::<M, K, N, DS>(src, w, bias, act, residual, r, d, ahead)
    };
    run_split(team, dst, M, DS, row_cut::<M>, &f);
}

/// The `i`-th of `n` row boundaries for [`pwconv_par`]: the parts' estimated costs as even as
/// possible, cut at whole tiles (the remainder in the last part) unless `CUT_ANYWHERE`.
fn row_cut<const M: usize>(i: usize, n: usize) -> usize {
    let mr = Tiles::<M>::MR;
    if !Tiles::<M>::CUT_ANYWHERE {
        return ((i * rows_cost(M, mr) + n * mr / 2) / (n * mr)).min(M / mr) * mr;
    }
    let ideal = even_cut(M, i, n);
    let start = even_cut(M, i - 1, n);
    let (lo, hi) = (ideal.saturating_sub(mr).max(start), (ideal + mr).min(M));
    // The part ending here against the parts still to come (the rest split evenly).
    let worst = |b: usize| rows_cost(b - start, mr).max(rows_cost((M - b).div_ceil(n - i), mr));
    (lo..=hi)
        .min_by_key(|&b| (worst(b), b.abs_diff(ideal)))
        .unwrap_or(ideal)
}

/// Rows `rows` of [`pwconv`]: `src` and `residual` are the whole layer's, `dst` holds just those
/// rows (`rows.len() * DS` values). Not inlined: the serial and parallel paths share one instance.
#[inline(never)]
pub fn pwconv_rows<const M: usize, const K: usize, const N: usize, const DS: usize>(
    src: &[f32],
    w: &[f32],
    bias: &[f32],
    act: impl Activation,
    residual: Option<&[f32]>,
    rows: Range<usize>,
    dst: &mut [f32],
) {
    assert!(src.len() == M * K);
    rows_impl::<M, K, N, DS, false, false>(src, 0, w, bias, act, residual, rows, dst, &[])
}

/// [`pwconv_rows`] that also pulls `ahead` (weights of a later, memory-bound layer) into the caches,
/// spread evenly over its multiply-add loop (one prefetch per step of K), so they come from L2 or L3
/// instead of DRAM when that layer runs. The arithmetic is that of [`pwconv_rows`].
#[inline(never)]
#[allow(clippy::too_many_arguments)]
pub fn pwconv_rows_ahead<const M: usize, const K: usize, const N: usize, const DS: usize>(
    src: &[f32],
    w: &[f32],
    bias: &[f32],
    act: impl Activation,
    residual: Option<&[f32]>,
    rows: Range<usize>,
    dst: &mut [f32],
    ahead: &[f32],
) {
    assert!(src.len() == M * K);
    rows_impl::<M, K, N, DS, true, false>(src, 0, w, bias, act, residual, rows, dst, ahead)
}

/// Rows `rows` of [`pwconv`] (no residual) from a band of input rows: `src` holds whole input
/// pixels starting at pixel `src_row0` (at least `rows`), `dst` just the output rows. Prefetches
/// `ahead` (may be empty) like [`pwconv_rows_ahead`]. For row-banded execution (see
/// `pplcnet-codegen`'s `band`): any number of rows, every remainder tile compiled in. Same
/// results as [`pwconv`].
#[inline(never)]
#[allow(clippy::too_many_arguments)]
pub fn pwconv_band<const M: usize, const K: usize, const N: usize, const DS: usize>(
    src: &[f32],
    src_row0: usize,
    w: &[f32],
    bias: &[f32],
    act: impl Activation,
    rows: Range<usize>,
    dst: &mut [f32],
    ahead: &[f32],
) {
    // One instance whether or not `ahead` is empty (with nothing to prefetch, its per-step check
    // never fires).
    rows_impl::<M, K, N, DS, true, true>(src, src_row0, w, bias, act, None, rows, dst, ahead)
}

#[inline(always)]
// `for_tiles!(1, ..)` (the SSE2 tile) spells `m + 1 <= len` and `M % 1` like the other tile sizes.
#[allow(clippy::too_many_arguments, clippy::int_plus_one, clippy::modulo_one)]
fn rows_impl<
    const M: usize,
    const K: usize,
    const N: usize,
    const DS: usize,
    const PF: bool,
    const BAND: bool,
>(
    src: &[f32],
    src_row0: usize,
    w: &[f32],
    bias: &[f32],
    act: impl Activation,
    residual: Option<&[f32]>,
    rows: Range<usize>,
    dst: &mut [f32],
    ahead: &[f32],
) {
    let panels = N.div_ceil(NR);
    assert!(src.len() % K == 0 && w.len() == panels * K * NR && bias.len() == panels * NR);
    assert!(rows.start <= rows.end && rows.end <= M && residual.is_none_or(|r| r.len() == M * N));
    assert!(rows.start >= src_row0 && (rows.end - src_row0) * K <= src.len());
    let len = rows.len();
    assert!(N <= DS && dst.len() == len * DS);
    let src = &src[(rows.start - src_row0) * K..(rows.end - src_row0) * K];
    let residual = residual.map(|r| &r[rows.start * N..rows.end * N]);
    // Prefetch: one cache line of `ahead` every `2^pf_shift` multiply-add steps (the longest such
    // period that still covers it); steps are counted over panels, K chunks and row tiles in loop
    // order.
    let tiles = len.div_ceil(Tiles::<M>::MR);
    let pf_shift = if PF {
        let (lines, steps) = (ahead.len().div_ceil(LINE), (panels * tiles * K).max(1));
        (steps / lines.max(1)).max(1).ilog2()
    } else {
        0
    };
    // The weights after a chunk: `tiles * (k1 - k0)` steps cover `(k1 - k0) * NR / LINE` lines, so
    // one line every `tiles * LINE / NR` steps (rounded down to a power of two), whatever the chunk.
    let next_shift = (tiles * LINE / NR).max(1).ilog2();
    // Calls `$run!(R, m, tile)` for every register tile of `R` rows starting at row `m`: tiles of
    // `$mr` rows, then the remainder: the layer's own (`M % MR` rows; with constant guards, the
    // other arms are compiled out) unless `pwconv_par` may cut anywhere. A part cut elsewhere (not
    // by `pwconv_par`) takes single rows.
    macro_rules! for_tiles {
        ($mr:literal, $run:ident) => {{
            let mut m = 0;
            while m + $mr <= len {
                $run!($mr, m, m / $mr);
                m += $mr;
            }
            let (tail, any) = (M % $mr, Tiles::<M>::CUT_ANYWHERE || BAND);
            match len - m {
                0 => {}
                1 if any || tail == 1 => $run!(1, m, m / $mr),
                2 if any || tail == 2 => $run!(2, m, m / $mr),
                3 if any || tail == 3 => $run!(3, m, m / $mr),
                4 if any || tail == 4 => $run!(4, m, m / $mr),
                5 if any || tail == 5 => $run!(5, m, m / $mr),
                6 if any || tail == 6 => $run!(6, m, m / $mr),
                _ => {
                    for m in m..len {
                        $run!(1, m, m / $mr);
                    }
                }
            }
        }};
    }
    // Rows per register tile (see `tiling::mr_for`).
    macro_rules! each_tile {
        ($run:ident) => {
            match Tiles::<M>::MR {
                7 => for_tiles!(7, $run),
                2 => for_tiles!(2, $run),
                1 => for_tiles!(1, $run),
                5 => for_tiles!(5, $run),
                _ => for_tiles!(6, $run),
            }
        };
    }
    // Panel `p`, K chunk `k0..k1`.
    let tile = |p: usize, k0: usize, k1: usize| {
        let n0 = p * NR;
        Tile {
            src,
            wp: &w[p * K * NR..(p + 1) * K * NR],
            next: &w[((p * K + k1) * NR).min(w.len())..],
            next_shift,
            b: [load(&bias[n0..]), load(&bias[n0 + L..])],
            residual,
            n0,
            cols: NR.min(N - n0),
            k0,
            k1,
            first: k0 == 0,
            last: k1 == K,
            ahead,
            pf_shift,
            pf_base: (p * K + k0) * tiles,
        }
    };
    if K * N <= SMALL_WEIGHTS && panels <= SMALL_PANELS {
        // All the weights stay in L1: every panel per row tile, so each input row is read once
        // (from L2/L3: such layers have few channels and many pixels).
        macro_rules! all_panels {
            ($r:literal, $m:expr, $tile:expr) => {
                for p in 0..panels {
                    tile(p, 0, K).run::<$r, K, N, DS, PF>(act, dst, $m, $tile);
                }
            };
        }
        each_tile!(all_panels);
        return;
    }
    for p in 0..panels {
        // K in chunks of KC so the panel's chunk stays in cache across all row tiles; partial sums
        // go through `dst` between chunks.
        let mut next = 0;
        while next < K {
            // With a single chunk, the K range is the constant 0..K (fully known to the optimizer).
            let (k0, k1) = if K <= KC {
                (0, K)
            } else {
                (next, (next + KC).min(K))
            };
            let t = tile(p, k0, k1);
            macro_rules! one_panel {
                ($r:literal, $m:expr, $tile:expr) => {
                    t.run::<$r, K, N, DS, PF>(act, dst, $m, $tile)
                };
            }
            each_tile!(one_panel);
            next = k1;
        }
    }
}

/// Layers with at most this many weights (`K * N`: 16 KiB, half of L1) run every weight panel per
/// row tile instead of every row tile per panel (measured in the model, `bench --layers`:
/// 112x112x32->64 0.518 -> 0.457 ms; criterion, with its input hot in cache, sees no difference).
const SMALL_WEIGHTS: usize = 4096;
/// ... and at most this many weight panels (`N <= 256`).
const SMALL_PANELS: usize = 8;

/// Input channels per cache block (a `KC x NR` weight chunk is 128 KiB, in L2). Measured on Zen 4
/// with `cargo bench --bench kernels`: 512 beat 256 on the layers with K = 512 and 1024 (196x512->256:
/// 454 -> 445 us, 49x1024->1024: 945 -> 903 us) and 1024 was no better; 128 is worse. On Zen 5, in
/// the model (`bench --layers`, 4 interleaved rounds), 1024 instead of 512: 7x7x1024->1024 0.484 ->
/// 0.439 ms, whole model 5.37 -> 5.31 ms. Chunking does not change the order of the sums (partial
/// sums round-trip exactly through `dst`).
const KC: usize = 1024;

/// One weight panel's K chunk, applied to row tiles.
struct Tile<'a> {
    src: &'a [f32],
    wp: &'a [f32],
    /// The weights after this chunk (the next chunk or panel), prefetched along the way (one line
    /// every `2^next_shift` steps) so they arrive from L3 before the chunk starts: measured with
    /// `bench --layers`, 7x7x1024->1024 0.976 -> 0.938 ms and the classifier tail after it
    /// 0.357 -> 0.254 ms, whole model ~0.15 ms faster.
    next: &'a [f32],
    next_shift: u32,
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
    /// Prefetched along (see [`pwconv_rows_ahead`]): line `s >> pf_shift` at every step `s` that is
    /// a multiple of `2^pf_shift`, where this tile starts at step `pf_base + tile * (k1 - k0)`.
    ahead: &'a [f32],
    pf_shift: u32,
    pf_base: usize,
}

impl Tile<'_> {
    #[inline(always)]
    fn run<const R: usize, const K: usize, const N: usize, const DS: usize, const PF: bool>(
        &self,
        act: impl Activation,
        dst: &mut [f32],
        m: usize,
        tile: usize,
    ) {
        for part in 0..NR / (HALVES * L) {
            let c0 = part * HALVES * L;
            if c0 < self.cols {
                self.run_part::<R, K, N, DS, PF>(act, dst, m, tile, c0, part == 0);
            }
        }
    }

    /// Rows `m..m + R`, the panel's channels from `c0` ([`HALVES`] vectors of them); prefetches
    /// along when `prefetch` (once per row tile).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn run_part<const R: usize, const K: usize, const N: usize, const DS: usize, const PF: bool>(
        &self,
        act: impl Activation,
        dst: &mut [f32],
        m: usize,
        tile: usize,
        c0: usize,
        prefetch: bool,
    ) {
        let rows = &self.src[m * K..(m + R) * K];
        let n0 = self.n0 + c0;
        let cols = (self.cols - c0).min(HALVES * L);
        // Channels of half `h` of this part (0 past the panel's last channel).
        let width = |h: usize| cols.saturating_sub(h * L).min(L);
        let mut acc: [[V; HALVES]; R] = [core::array::from_fn(|h| self.b[c0 / L + h]); R];
        if !self.first {
            for (r, a) in acc.iter_mut().enumerate() {
                let row = (m + r) * DS + n0;
                for (h, a) in a.iter_mut().enumerate() {
                    *a = match width(h) {
                        0 => V::ZERO,
                        w => load_n(&dst[row + h * L..], w),
                    };
                }
            }
        }
        let wp = &self.wp[self.k0 * NR..self.k1 * NR];
        assert!(self.k1 <= K && rows.len() == R * K);
        let step0 = self.pf_base + tile * (self.k1 - self.k0);
        let next_step0 = tile * (self.k1 - self.k0);
        for (k, wk) in (self.k0..self.k1).zip(wp.chunks_exact(NR)) {
            if prefetch {
                prefetch_step(self.next, next_step0 + (k - self.k0), self.next_shift);
                if PF {
                    prefetch_step(self.ahead, step0 + (k - self.k0), self.pf_shift);
                }
            }
            let w: [V; HALVES] = core::array::from_fn(|h| load(&wk[c0 + h * L..]));
            for (r, acc_r) in acc.iter_mut().enumerate() {
                // Checked indexing: with r < R, k < K and rows.len() == R * K asserted, the check
                // is optimized out (criterion: same speed as get_unchecked).
                let a = V::splat(rows[r * K + k]);
                for (acc, w) in acc_r.iter_mut().zip(w) {
                    *acc = a.mul_add(w, *acc);
                }
            }
        }
        for (r, acc) in acc.iter().enumerate() {
            let row = (m + r) * DS + n0;
            for (h, &v) in acc.iter().enumerate() {
                let w = width(h);
                if w == 0 {
                    continue;
                }
                let mut v = v;
                if self.last {
                    v = act.apply(v);
                    if let Some(res) = self.residual {
                        v += load_n(&res[(m + r) * N + n0 + h * L..], w);
                    }
                }
                store_n(&mut dst[row + h * L..], v, w);
            }
        }
    }
}

/// `f32` per cache line.
const LINE: usize = 16;

/// At every step that is a multiple of `2^shift`, prefetches line `step >> shift` of `s` (if
/// inside `s`).
#[inline(always)]
fn prefetch_step(s: &[f32], step: usize, shift: u32) {
    if step & ((1usize << shift) - 1) == 0 {
        let p = s.as_ptr().wrapping_add((step >> shift) * LINE);
        if p < s.as_ptr_range().end {
            prefetch(p);
        }
    }
}

/// Hints the CPU to bring the cache line of `p` into L2 (a no-op where unsupported). Never faults,
/// whatever `p` is.
#[inline(always)]
fn prefetch(p: *const f32) {
    #[cfg(all(target_arch = "x86_64", target_feature = "sse"))]
    // SAFETY: a prefetch has no architectural effect (no fault even for an invalid address).
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T1 }>(p.cast());
    }
    #[cfg(not(all(target_arch = "x86_64", target_feature = "sse")))]
    let _ = p;
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

#[cfg(test)]
mod tests;
