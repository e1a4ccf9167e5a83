//! Pointwise (1x1) convolution in bf16 (`PPLCNET_PRECISION=bf16`):
//! `dst[M][N] = act(src[M][K] W[K][N] + b) (+ residual)` with the inputs and weights rounded to bf16
//! (round to nearest even) and the products summed in f32 by AVX512_BF16's `vdpbf16ps`, which does
//! two multiply-adds per f32 lane: twice the f32 FMA peak on CPUs that have it (measured 231 vs
//! 117 GFLOP/s on one Zen 4 core).
//!
//! Weights arrive packed by `pplcnet-codegen::pack::pointwise_bf16` in panels
//! `[ceil(N/NR)][ceil(K/2)][NR]` of 32-bit words, each holding the bf16 weights of input channels
//! `2k` (low half) and `2k + 1` (high half) for one output channel. A tile of `R <= MR` pixels is
//! converted to the same pairs once (on the stack), then every panel runs over it with `2 x R`
//! accumulators.
//!
//! Only compiled for targets with AVX512_BF16, whose intrinsics need Rust 1.89 (the crate's MSRV
//! holds for every other build).
#![allow(clippy::incompatible_msrv)]

use core::arch::x86_64::{
    __m512, __m512bh, _mm512_castsi512_ps, _mm512_cvtne2ps_pbh, _mm512_dpbf16_ps, _mm512_loadu_ps,
    _mm512_mul_ps, _mm512_set1_epi32, _mm512_storeu_ps, _mm_prefetch, _MM_HINT_T1,
};
use core::ops::Range;

use super::par::{even_cut, run_split, Team};
use super::simd::{load_n, store_n, L, V};
use super::Activation;
use pplcnet_spec::bf16_bits;

/// Output channels per weight panel (as the code generator packs them).
pub const NR: usize = pplcnet_spec::layout::PW_NR;
/// Largest input channel count the kernel takes (its stack buffer holds `MR` rows of it); the code
/// generator keeps wider layers in f32.
pub const MAX_K: usize = pplcnet_spec::layout::PW_BF16_MAX_K;
/// `f32` words per cache line.
const LINE: usize = 16;

/// Most pixels per register tile (2 accumulators per pixel, 2 weight registers, 1 broadcast input).
const MR: usize = 7;

/// Pixels per register tile for a layer of `m` pixels and `k` input channels: 7 (14 accumulator
/// chains, more than the 12 that 2 `vdpbf16ps` per cycle at their latency need) when 7 divides `m`
/// or leaves no short last tile where 6 would (49 pixels: 7 tiles of 7 instead of 8 of 6 and one
/// pixel alone, which runs at the latency of its two accumulator chains); otherwise 6. Measured
/// (Zen 5, `bench --layers`): 14x14 layers 0.116-0.120 -> 0.108-0.112 ms with 7, 28x28 and 56x56
/// layers 4-8% faster, but 112x112x32->64 (16 pairs per row) 0.142 -> 0.147-0.163 ms, so 6 below
/// 64 input channels. 14-row tiles (28 accumulators) are 10% slower than 7.
const fn mr_for(m: usize, k: usize) -> usize {
    if (m % 7 == 0 && k >= 64) || (m % 6 != 0 && m % 6 < 4 && m % 7 >= 4) {
        7
    } else {
        6
    }
}

/// Weight bytes (all panels) of one K chunk: the chunk stays in L2 (1 MiB on Zen 4/5) while every
/// row tile runs over it. Layers with more weights go through K in chunks (partial sums round-trip
/// exactly through `dst`), so the weights are not streamed again from L3 / DRAM for every row tile.
const CHUNK_BYTES: usize = 512 * 1024;

/// Layers of at most this many pixels whose rows, as bf16 pairs, fit in [`WHOLE_WORDS`] run panel
/// by panel over all their rows (converted once) instead of row tile by row tile over K chunks:
/// the 7x7 layers, whose 7 row tiles would each stream the weights from L2 (measured, one thread,
/// Zen 5: 7x7x512->1024 0.154 -> 0.124 ms, 7x7x1024->1024 0.301 -> 0.243 ms). The 14x14 layers
/// (196 pixels) are slightly slower that way (0.116 -> 0.120 ms).
const WHOLE_MAX_M: usize = 64;
/// Words (bf16 pairs) of the stack buffer that holds those rows: 128 KiB.
const WHOLE_WORDS: usize = 32 * 1024;

/// Input-channel pairs per K chunk for a layer of `K` inputs and `N` outputs (a multiple of 16
/// pairs, so every chunk but the last converts whole vectors).
const fn chunk_pairs(k: usize, n: usize) -> usize {
    let kp = k.div_ceil(2);
    let per_pair = n.div_ceil(NR) * NR * 4;
    if kp * per_pair <= CHUNK_BYTES {
        kp
    } else {
        let c = CHUNK_BYTES / per_pair / 16 * 16;
        if c < 16 {
            16
        } else {
            c
        }
    }
}

/// See the module docs. `w` holds the packed bf16 pairs as `f32` bit patterns (the weight blob is
/// one `f32` array); `bias` is padded to a multiple of `NR`; `dst` rows are `DS >= N` values apart
/// (padded for a depthwise conv that reads them, see `pplcnet-codegen::plan::PIXEL_PAD_F32`).
#[inline(always)]
pub fn pwconv_bf16<const M: usize, const K: usize, const N: usize, const DS: usize>(
    src: &[f32],
    scale: Option<&[f32]>,
    w: &[f32],
    bias: &[f32],
    act: impl Activation,
    residual: Option<&[f32]>,
    dst: &mut [f32],
) {
    if M == 1 {
        // One pixel: one row, nothing to pad.
        assert!(DS == N);
        gemv_bf16_panels::<K, N>(src, scale, w, bias, act, residual, 0..N.div_ceil(NR), dst)
    } else {
        pwconv_bf16_rows::<M, K, N, DS>(src, scale, w, bias, act, residual, 0..M, dst)
    }
}

/// [`pwconv_bf16`] split over `team` by rows of pixels (cut at whole tiles), or by weight panels
/// when there is one pixel. Bit-identical to it.
#[allow(clippy::too_many_arguments)]
pub fn pwconv_bf16_par<const M: usize, const K: usize, const N: usize, const DS: usize>(
    team: &dyn Team,
    src: &[f32],
    scale: Option<&[f32]>,
    w: &[f32],
    bias: &[f32],
    act: impl Activation + Sync,
    residual: Option<&[f32]>,
    dst: &mut [f32],
) {
    if M == 1 {
        assert!(DS == N);
        let panels = N.div_ceil(NR);
        let f = |p: Range<usize>, d: &mut [f32]| {
            gemv_bf16_panels::<K, N>(src, scale, w, bias, act, residual, p, d)
        };
        run_split(team, dst, panels, NR, |i, n| even_cut(panels, i, n), &f);
        return;
    }
    let f = |r: Range<usize>, d: &mut [f32]| {
        pwconv_bf16_rows::<M, K, N, DS>(src, scale, w, bias, act, residual, r, d)
    };
    run_split(
        team,
        dst,
        M,
        DS,
        |i, n| even_cut(M, i, n) / mr_for(M, K) * mr_for(M, K),
        &f,
    );
}

/// Rows `rows` of [`pwconv_bf16`]: `src` and `residual` are the whole layer's, `dst` holds just
/// those rows. Not inlined: the serial and parallel paths share one instance.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
pub fn pwconv_bf16_rows<const M: usize, const K: usize, const N: usize, const DS: usize>(
    src: &[f32],
    scale: Option<&[f32]>,
    w: &[f32],
    bias: &[f32],
    act: impl Activation,
    residual: Option<&[f32]>,
    rows: Range<usize>,
    dst: &mut [f32],
) {
    let (kp, panels) = (K.div_ceil(2), N.div_ceil(NR));
    assert!(K <= MAX_K && src.len() == M * K);
    assert!(w.len() == panels * kp * NR && bias.len() == panels * NR);
    assert!(rows.start <= rows.end && rows.end <= M && residual.is_none_or(|r| r.len() == M * N));
    assert!(N <= DS && dst.len() == rows.len() * DS);
    assert!(scale.is_none_or(|s| s.len() == K));
    let t = Tile {
        src,
        scale,
        w,
        bias,
        residual,
        start: rows.start,
    };
    let (mr, kcp) = (mr_for(M, K), chunk_pairs(K, N));
    if M <= WHOLE_MAX_M && rows.len() * kp <= WHOLE_WORDS {
        return t.whole_rows::<K, N, DS>(act, mr, rows, dst);
    }
    let mut pairs = [[0u32; MAX_K / 2]; MR];
    let tiles = rows.len().div_ceil(mr);
    let mut c0 = 0;
    while c0 < kp {
        let c1 = (c0 + kcp).min(kp);
        let mut m = rows.start;
        while m < rows.end {
            let r = mr.min(rows.end - m);
            // The next chunk's weights, prefetched by this chunk's row tiles (a share each).
            let pf = Prefetch {
                next: c1..(c1 + kcp).min(kp),
                tiles,
                tile: (m - rows.start) / mr,
            };
            match r {
                7 => t.run::<7, K, N, DS>(act, &mut pairs, m, dst, c0..c1, pf),
                6 => t.run::<6, K, N, DS>(act, &mut pairs, m, dst, c0..c1, pf),
                5 => t.run::<5, K, N, DS>(act, &mut pairs, m, dst, c0..c1, pf),
                4 => t.run::<4, K, N, DS>(act, &mut pairs, m, dst, c0..c1, pf),
                3 => t.run::<3, K, N, DS>(act, &mut pairs, m, dst, c0..c1, pf),
                2 => t.run::<2, K, N, DS>(act, &mut pairs, m, dst, c0..c1, pf),
                _ => t.run::<1, K, N, DS>(act, &mut pairs, m, dst, c0..c1, pf),
            }
            m += r;
        }
        c0 = c1;
    }
}

/// The next K chunk's weights (pairs `next` of every panel), which row tile `tile` of `tiles`
/// prefetches its share of while it runs the current chunk, so the chunk arrives from DRAM before
/// it is needed (weights are not prefetched by earlier layers in bf16).
struct Prefetch {
    next: Range<usize>,
    tiles: usize,
    tile: usize,
}

/// The layer's operands, shared by its row tiles.
struct Tile<'a> {
    src: &'a [f32],
    /// Multiplies each input channel before the conversion to bf16 (a squeeze-excite gate).
    scale: Option<&'a [f32]>,
    w: &'a [f32],
    bias: &'a [f32],
    residual: Option<&'a [f32]>,
    /// The first row of `dst`.
    start: usize,
}

impl Tile<'_> {
    /// Rows `m..m + R`, input-channel pairs `chunk`: converts them to bf16 pairs, then runs every
    /// weight panel's chunk over them.
    #[inline(always)]
    fn run<const R: usize, const K: usize, const N: usize, const DS: usize>(
        &self,
        act: impl Activation,
        pairs: &mut [[u32; MAX_K / 2]; MR],
        m: usize,
        dst: &mut [f32],
        chunk: Range<usize>,
        pf: Prefetch,
    ) {
        for (r, p) in pairs.iter_mut().enumerate().take(R) {
            self.convert::<K>(m + r, chunk.clone(), &mut p[..chunk.len()]);
        }
        let x: [&[u32]; R] = core::array::from_fn(|r| &pairs[r][..chunk.len()]);
        for p in 0..N.div_ceil(NR) {
            self.panel::<R, K, N, DS>(act, x, m, dst, p, chunk.clone(), &pf);
        }
    }

    /// Rows `rows` in register tiles of `mr`, every row converted once (into a stack buffer of
    /// [`WHOLE_WORDS`]), then panel by panel over all row tiles: each panel's weights come from
    /// memory once and stay in L1 / L2 for the tiles; no K chunks. Not inlined, so the buffer is
    /// not part of the caller's stack frame.
    #[inline(never)]
    fn whole_rows<const K: usize, const N: usize, const DS: usize>(
        &self,
        act: impl Activation,
        mr: usize,
        rows: Range<usize>,
        dst: &mut [f32],
    ) {
        let (kp, panels) = (K.div_ceil(2), N.div_ceil(NR));
        assert!(rows.len() * kp <= WHOLE_WORDS);
        let mut all = [0u32; WHOLE_WORDS];
        for (i, out) in all.chunks_exact_mut(kp).take(rows.len()).enumerate() {
            self.convert::<K>(rows.start + i, 0..kp, out);
        }
        let none = Prefetch {
            next: kp..kp,
            tiles: 1,
            tile: 0,
        };
        for p in 0..panels {
            let mut m = rows.start;
            while m < rows.end {
                let r = mr.min(rows.end - m);
                let at = |i: usize| &all[(m - rows.start + i) * kp..(m - rows.start + i + 1) * kp];
                macro_rules! go {
                    ($r:literal) => {
                        self.panel::<$r, K, N, DS>(
                            act,
                            core::array::from_fn(at),
                            m,
                            dst,
                            p,
                            0..kp,
                            &none,
                        )
                    };
                }
                match r {
                    7 => go!(7),
                    6 => go!(6),
                    5 => go!(5),
                    4 => go!(4),
                    3 => go!(3),
                    2 => go!(2),
                    _ => go!(1),
                }
                m += r;
            }
        }
    }

    /// Input-channel pairs `chunk` of row `m` as bf16 pairs (times the input scale, if any).
    #[inline(always)]
    fn convert<const K: usize>(&self, m: usize, chunk: Range<usize>, out: &mut [u32]) {
        let (k0, k1) = (2 * chunk.start, (2 * chunk.end).min(K));
        let row = &self.src[m * K..(m + 1) * K];
        let scale = self.scale.map(|s| &s[k0..k1]);
        to_bf16_pairs(&row[k0..k1], scale, out);
    }

    /// Weight panel `p`, pairs `chunk`, over rows `m..m + R` whose bf16 pairs of that chunk are
    /// `x`. The first chunk starts from the bias, later ones from the partial sums in `dst`; the
    /// last applies the epilogue (activation, residual).
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn panel<const R: usize, const K: usize, const N: usize, const DS: usize>(
        &self,
        act: impl Activation,
        x: [&[u32]; R],
        m: usize,
        dst: &mut [f32],
        p: usize,
        chunk: Range<usize>,
        pf: &Prefetch,
    ) {
        let kp = K.div_ceil(2);
        let (first, last) = (chunk.start == 0, chunk.end == kp);
        let wp = &self.w[(p * kp + chunk.start) * NR..(p * kp + chunk.end) * NR];
        let n0 = p * NR;
        let cols = NR.min(N - n0);
        let lo = L.min(cols);
        let mut acc = if first {
            let b = &self.bias[n0..n0 + NR];
            // SAFETY: `b` holds NR = 32 values; unaligned loads are allowed.
            let b = unsafe {
                [
                    _mm512_loadu_ps(b.as_ptr()),
                    _mm512_loadu_ps(b[L..].as_ptr()),
                ]
            };
            [b; R]
        } else {
            core::array::from_fn(|r| {
                let d = (m + r - self.start) * DS + n0;
                let hi = if cols > L {
                    load_n(&dst[d + L..], cols - L)
                } else {
                    V::ZERO
                };
                [from_v(load_n(&dst[d..], lo)), from_v(hi)]
            })
        };
        // This tile's share of the panel's next chunk: `lines` cache lines from `next`.
        let next = &self.w[(p * kp + pf.next.start) * NR..(p * kp + pf.next.end) * NR];
        let per_tile = (next.len() / LINE).div_ceil(pf.tiles);
        let next = next.get(pf.tile * per_tile * LINE..).unwrap_or(&[]);
        let lines = per_tile.min(next.len() / LINE);
        for (k, wk) in wp.chunks_exact(NR).enumerate() {
            if k < lines {
                // SAFETY: a prefetch has no architectural effect; the address is in `next`.
                unsafe { _mm_prefetch::<_MM_HINT_T1>(next.as_ptr().add(k * LINE).cast()) };
            }
            // SAFETY: `wk` holds NR = 32 words; unaligned loads are allowed.
            let (w0, w1) = unsafe {
                (
                    _mm512_loadu_ps(wk.as_ptr()),
                    _mm512_loadu_ps(wk[L..].as_ptr()),
                )
            };
            let (w0, w1) = (as_bh(w0), as_bh(w1));
            for (a, x) in acc.iter_mut().zip(x.iter()) {
                // SAFETY: register-only intrinsics; this module is compiled only when the
                // target has AVX512_BF16 (and so AVX-512F), see `kernels/mod.rs`.
                unsafe {
                    let x = as_bh(_mm512_castsi512_ps(_mm512_set1_epi32(x[k] as i32)));
                    a[0] = _mm512_dpbf16_ps(a[0], x, w0);
                    a[1] = _mm512_dpbf16_ps(a[1], x, w1);
                }
            }
        }
        for (r, a) in acc.iter().enumerate() {
            let row = (m + r) * N + n0;
            let mut v = [to_v(a[0]), to_v(a[1])];
            if last {
                v = [act.apply(v[0]), act.apply(v[1])];
                if let Some(res) = self.residual {
                    v[0] += load_n(&res[row..], lo);
                    if cols > L {
                        v[1] += load_n(&res[row + L..], cols - L);
                    }
                }
            }
            let d = (m + r - self.start) * DS + n0;
            store_n(&mut dst[d..], v[0], lo);
            if cols > L {
                store_n(&mut dst[d + L..], v[1], cols - L);
            }
        }
    }
}

/// Panels streamed at once by the one-pixel (matrix-vector) case.
const GEMV_PANELS: usize = 4;

/// The one-pixel case (fully connected layers, squeeze-excite), weight panels `panels`: `dst` holds
/// outputs `panels.start * NR..min(panels.end * NR, N)`, `residual` (if any) all `N`. Bound by
/// streaming the weights (half the bytes of the f32 kernel's), so several panels go at once: more
/// loads in flight and independent accumulator chains. Not inlined: the serial and parallel paths
/// share one instance.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
pub fn gemv_bf16_panels<const K: usize, const N: usize>(
    src: &[f32],
    scale: Option<&[f32]>,
    w: &[f32],
    bias: &[f32],
    act: impl Activation,
    residual: Option<&[f32]>,
    panels: Range<usize>,
    dst: &mut [f32],
) {
    let (kp, all) = (K.div_ceil(2), N.div_ceil(NR));
    assert!(K <= MAX_K && src.len() == K);
    assert!(w.len() == all * kp * NR && bias.len() == all * NR);
    assert!(
        panels.start <= panels.end && panels.end <= all && residual.is_none_or(|r| r.len() == N)
    );
    let base = panels.start * NR;
    assert!(dst.len() == (panels.end * NR).min(N) - base.min(N));
    let mut pairs = [0u32; MAX_K / 2];
    let x = &mut pairs[..kp];
    assert!(scale.is_none_or(|s| s.len() == K));
    to_bf16_pairs(src, scale, x);
    let mut p0 = panels.start;
    while p0 < panels.end {
        let np = GEMV_PANELS.min(panels.end - p0);
        let wps: [&[f32]; GEMV_PANELS] = core::array::from_fn(|q| {
            let p = (p0 + q).min(p0 + np - 1);
            &w[p * kp * NR..(p + 1) * kp * NR]
        });
        let mut acc: [[__m512; 2]; GEMV_PANELS] = core::array::from_fn(|q| {
            let b = &bias[(p0 + q.min(np - 1)) * NR..][..NR];
            // SAFETY: `b` holds NR = 32 values; unaligned loads are allowed.
            unsafe {
                [
                    _mm512_loadu_ps(b.as_ptr()),
                    _mm512_loadu_ps(b[L..].as_ptr()),
                ]
            }
        });
        if np == GEMV_PANELS {
            for (k, &xk) in x.iter().enumerate() {
                // SAFETY: register-only intrinsic.
                let xv = as_bh(unsafe { _mm512_castsi512_ps(_mm512_set1_epi32(xk as i32)) });
                for (a, wp) in acc.iter_mut().zip(&wps) {
                    let wk = &wp[k * NR..(k + 1) * NR];
                    // SAFETY: `wk` holds NR = 32 words (unaligned loads are allowed); the rest is
                    // register-only, on a target with AVX512_BF16 (see `kernels/mod.rs`).
                    unsafe {
                        let w0 = as_bh(_mm512_loadu_ps(wk.as_ptr()));
                        let w1 = as_bh(_mm512_loadu_ps(wk[L..].as_ptr()));
                        a[0] = _mm512_dpbf16_ps(a[0], xv, w0);
                        a[1] = _mm512_dpbf16_ps(a[1], xv, w1);
                    }
                }
            }
        } else {
            for (a, wp) in acc.iter_mut().zip(&wps).take(np) {
                for (&xk, wk) in x.iter().zip(wp.chunks_exact(NR)) {
                    // SAFETY: as above.
                    unsafe {
                        let xv = as_bh(_mm512_castsi512_ps(_mm512_set1_epi32(xk as i32)));
                        let w0 = as_bh(_mm512_loadu_ps(wk.as_ptr()));
                        let w1 = as_bh(_mm512_loadu_ps(wk[L..].as_ptr()));
                        a[0] = _mm512_dpbf16_ps(a[0], xv, w0);
                        a[1] = _mm512_dpbf16_ps(a[1], xv, w1);
                    }
                }
            }
        }
        for (q, a) in acc.iter().enumerate().take(np) {
            let n0 = (p0 + q) * NR;
            let cols = NR.min(N - n0);
            let lo = L.min(cols);
            let mut v = [act.apply(to_v(a[0])), act.apply(to_v(a[1]))];
            if let Some(res) = residual {
                v[0] += load_n(&res[n0..], lo);
                if cols > L {
                    v[1] += load_n(&res[n0 + L..], cols - L);
                }
            }
            let d = n0 - base;
            store_n(&mut dst[d..], v[0], lo);
            if cols > L {
                store_n(&mut dst[d + L..], v[1], cols - L);
            }
        }
        p0 += np;
    }
}

/// `x` (times `scale`, if given) as bf16 pairs: word `j` holds `bf16(x[2j])` in its low half and
/// `bf16(x[2j + 1])` (0 past the end) in its high half, rounded to nearest even.
#[inline(always)]
fn to_bf16_pairs(x: &[f32], scale: Option<&[f32]>, out: &mut [u32]) {
    debug_assert_eq!(out.len(), x.len().div_ceil(2));
    debug_assert!(scale.is_none_or(|s| s.len() == x.len()));
    let whole = x.len() / 32 * 32;
    for (i, o) in out[..whole / 2].chunks_exact_mut(16).enumerate() {
        let c = &x[i * 32..i * 32 + 32];
        // SAFETY: `c` (and `s`) hold 32 values and `o` 16 words; unaligned accesses are allowed.
        unsafe {
            let (mut lo, mut hi) = (
                _mm512_loadu_ps(c.as_ptr()),
                _mm512_loadu_ps(c[L..].as_ptr()),
            );
            if let Some(s) = scale {
                let s = &s[i * 32..i * 32 + 32];
                lo = _mm512_mul_ps(lo, _mm512_loadu_ps(s.as_ptr()));
                hi = _mm512_mul_ps(hi, _mm512_loadu_ps(s[L..].as_ptr()));
            }
            // Lanes 0..16 of the result come from the second operand.
            let bh = _mm512_cvtne2ps_pbh(hi, lo);
            _mm512_storeu_ps(o.as_mut_ptr().cast(), as_ps(bh));
        }
    }
    let at = |j: usize| x.get(j).map_or(0.0, |&v| scale.map_or(v, |s| v * s[j]));
    for (j, o) in out.iter_mut().enumerate().skip(whole / 2) {
        *o = u32::from(bf16_bits(at(2 * j))) | (u32::from(bf16_bits(at(2 * j + 1))) << 16);
    }
}

#[inline(always)]
fn as_bh(x: __m512) -> __m512bh {
    // SAFETY: both are 64-byte vectors; every bit pattern is a valid value of either.
    unsafe { core::mem::transmute::<__m512, __m512bh>(x) }
}

#[inline(always)]
fn as_ps(x: __m512bh) -> __m512 {
    // SAFETY: both are 64-byte vectors; every bit pattern is a valid value of either.
    unsafe { core::mem::transmute::<__m512bh, __m512>(x) }
}

#[inline(always)]
fn from_v(x: V) -> __m512 {
    let a = x.to_array();
    // SAFETY: `a` holds 16 values; unaligned loads are allowed.
    unsafe { _mm512_loadu_ps(a.as_ptr()) }
}

#[inline(always)]
fn to_v(x: __m512) -> V {
    let mut a = [0.0f32; L];
    // SAFETY: `a` holds 16 values; unaligned stores are allowed.
    unsafe { _mm512_storeu_ps(a.as_mut_ptr(), x) };
    V::new(a)
}

#[cfg(test)]
mod tests;
