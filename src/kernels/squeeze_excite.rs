//! Squeeze-and-excitation over HWC activations, fused: mean over pixels, two small fully connected
//! layers (the pointwise GEMM with one pixel, weights in its panel layout), a gate, then every pixel
//! scaled per channel.

use core::ops::Range;

use super::par::{even_cut, run_split, Team};
use super::simd::{for_blocks, load_n, store_n};
use super::{pool::global_avg_pool, pwconv::pwconv, Activation};

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

/// [`squeeze_excite`] with the scaling pass split over `team` by pixels (the gate is computed on
/// the calling thread). Bit-identical.
#[allow(clippy::too_many_arguments)]
pub fn squeeze_excite_par<const HW: usize, const C: usize, const R: usize>(
    team: &dyn Team,
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
    let f =
        |r: Range<usize>, d: &mut [f32]| scale_rows::<C>(&src[r.start * C..r.end * C], &gate, d);
    run_split(team, dst, HW, C, |i, n| even_cut(HW, i, n), &f);
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
    global_avg_pool::<HW, C>(src, &mut mean);
    let mut hidden = [0.0f32; R];
    pwconv::<1, C, R>(&mean, w1, b1, act, None, &mut hidden);
    let mut gate = [0.0f32; C];
    pwconv::<1, R, C>(&hidden, w2, b2, gate_act, None, &mut gate);
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
