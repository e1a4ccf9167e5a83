//! Squeeze-and-excitation over HWC activations, fused: mean over pixels, two small fully connected
//! layers (the pointwise GEMM with one pixel, weights in its panel layout), a gate, then every pixel
//! scaled per channel.

use core::ops::Range;

use super::par::{even_cut, run_split, Team};
use super::pwconv::{pwconv, pwconv_par};
use super::simd::{for_blocks, load, load_n, store, store_n, L, V};
use super::Activation;

/// `dst[p][c] = src[p][c] * gate(W2 act(W1 mean(src) + b1) + b2)[c]`; `w1`, `w2` packed as panels,
/// `b1`, `b2` padded like the pointwise kernel's.
#[allow(clippy::too_many_arguments)]
pub fn squeeze_excite<const HW: usize, const C: usize, const R: usize>(
    src: &[f32],
    w1: &[f32],
    b1: &[f32],
    act: impl Activation,
    w2: &[f32],
    b2: &[f32],
    gate_act: impl Activation,
    dst: &mut [f32],
) {
    assert!(src.len() == HW * C && dst.len() == HW * C);
    let gate = gate::<HW, C, R>(src, w1, b1, act, w2, b2, gate_act);
    scale_rows::<C>(src, &gate, dst);
}

/// [`squeeze_excite`] split over `team`: the mean by 16-channel blocks, both fully connected layers
/// by weight panels, the scaling by pixels. Bit-identical (every value is computed by the same
/// operations in the same order as in [`squeeze_excite`]).
#[allow(clippy::too_many_arguments)]
pub fn squeeze_excite_par<const HW: usize, const C: usize, const R: usize>(
    team: &dyn Team,
    src: &[f32],
    w1: &[f32],
    b1: &[f32],
    act: impl Activation + Sync,
    w2: &[f32],
    b2: &[f32],
    gate_act: impl Activation + Sync,
    dst: &mut [f32],
) {
    assert!(src.len() == HW * C && dst.len() == HW * C);
    let mut mean = [0.0f32; C];
    mean_par::<HW, C>(team, src, &mut mean);
    let mut hidden = [0.0f32; R];
    pwconv_par::<1, C, R, R>(team, &mean, w1, b1, act, None, &mut hidden);
    let mut gate = [0.0f32; C];
    pwconv_par::<1, R, C, C>(team, &hidden, w2, b2, gate_act, None, &mut gate);
    let f =
        |r: Range<usize>, d: &mut [f32]| scale_rows::<C>(&src[r.start * C..r.end * C], &gate, d);
    run_split(team, dst, HW, C, |i, n| even_cut(HW, i, n), &f);
}

/// The per-channel mean of `src` (`HW` pixels of `C` channels), as the squeeze step computes it: for
/// a squeeze-excite whose gate is applied by the pointwise conv that follows (bf16 builds).
pub fn mean<const HW: usize, const C: usize>(src: &[f32], dst: &mut [f32; C]) {
    mean_channels::<HW, C>(src, 0, dst);
}

/// [`mean`] split over `team` by 16-channel blocks. Bit-identical to it.
pub fn mean_par<const HW: usize, const C: usize>(team: &dyn Team, src: &[f32], dst: &mut [f32; C]) {
    let blocks = C.div_ceil(L);
    let f = |b: Range<usize>, d: &mut [f32]| mean_channels::<HW, C>(src, b.start * L, d);
    run_split(team, dst, blocks, L, |i, n| even_cut(blocks, i, n), &f);
}

/// 16-channel blocks summed together by [`mean_channels`] (independent add chains in flight).
const MEAN_BLOCKS: usize = 8;

/// Channels `c0..c0 + dst.len()` (`c0` a multiple of 16) of the mean over the `HW` pixels, with
/// exactly [`global_avg_pool`](super::pool::global_avg_pool)'s arithmetic: per channel, the pixels summed in order from zero, then
/// multiplied by `1 / HW`. [`MEAN_BLOCKS`] blocks go down the pixels together, so the adds are
/// independent chains and the loads contiguous (one chain per block, as in `global_avg_pool`, is
/// latency-bound).
fn mean_channels<const HW: usize, const C: usize>(src: &[f32], c0: usize, dst: &mut [f32]) {
    assert!(src.len() == HW * C && c0 % L == 0 && c0 + dst.len() <= C);
    let inv = V::splat(1.0 / HW as f32);
    let mut groups = dst.chunks_exact_mut(MEAN_BLOCKS * L);
    let mut c = c0;
    for d in &mut groups {
        let mut acc = [V::ZERO; MEAN_BLOCKS];
        for p in 0..HW {
            let row = &src[p * C + c..p * C + c + MEAN_BLOCKS * L];
            for (a, x) in acc.iter_mut().zip(row.chunks_exact(L)) {
                *a += load(x);
            }
        }
        for (a, d) in acc.iter().zip(d.chunks_exact_mut(L)) {
            store(d, *a * inv);
        }
        c += MEAN_BLOCKS * L;
    }
    for d in groups.into_remainder().chunks_mut(L) {
        let n = d.len();
        let mut acc = V::ZERO;
        for p in 0..HW {
            acc += load_n(&src[p * C + c..], n);
        }
        store_n(d, acc * inv, n);
        c += L;
    }
}

/// The per-channel gate of [`squeeze_excite`].
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn gate<const HW: usize, const C: usize, const R: usize>(
    src: &[f32],
    w1: &[f32],
    b1: &[f32],
    act: impl Activation,
    w2: &[f32],
    b2: &[f32],
    gate_act: impl Activation,
) -> [f32; C] {
    let mut mean = [0.0f32; C];
    mean_channels::<HW, C>(src, 0, &mut mean);
    let mut hidden = [0.0f32; R];
    pwconv::<1, C, R, R>(&mean, w1, b1, act, None, &mut hidden);
    let mut gate = [0.0f32; C];
    pwconv::<1, R, C, C>(&hidden, w2, b2, gate_act, None, &mut gate);
    gate
}

/// `dst[p][c] = src[p][c] * gate[c]` for whole pixels.
#[inline(always)]
fn scale_rows<const C: usize>(src: &[f32], gate: &[f32; C], dst: &mut [f32]) {
    assert!(src.len() == dst.len());
    for (s, d) in src.chunks_exact(C).zip(dst.chunks_exact_mut(C)) {
        for_blocks(C, |c0, n| {
            store_n(
                &mut d[c0..],
                load_n(&s[c0..], n) * load_n(&gate[c0..], n),
                n,
            );
        });
    }
}
