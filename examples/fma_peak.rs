//! Measures this core's f32 multiply-add peak (the denominator of the GFLOP/s figures in
//! BENCHMARKS.md): independent chains of 16-lane FMAs, enough to cover the FMA latency on every
//! pipe, no memory traffic. On targets with AVX512_BF16, also the `vdpbf16ps` peak (the bf16
//! build's pointwise convs): 32 multiply-adds per instruction.
//!
//! `cargo run --release --example fma_peak`

use std::hint::black_box;
use std::time::Instant;

use wide::f32x16;

/// Independent accumulator chains (latency x pipes: 4 x 2 on Zen 4/5, 4 x 2 on recent Intel).
const CHAINS: usize = 16;
const STEPS: usize = 20_000_000;

/// GFLOP/s of `STEPS` rounds of `step` over `CHAINS` accumulators starting at `init`, each step
/// `flops_per_step` per accumulator: the best of 5 timings.
fn best_of_5<T: Copy>(init: T, flops_per_step: usize, step: impl Fn(T) -> T) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let mut acc = [init; CHAINS];
        let t = Instant::now();
        for _ in 0..STEPS {
            for x in acc.iter_mut() {
                *x = step(*x);
            }
        }
        best = best.min(t.elapsed().as_secs_f64());
        black_box(acc);
    }
    (STEPS * CHAINS * flops_per_step) as f64 / best / 1e9
}

fn main() {
    let a = black_box(f32x16::splat(0.999_999));
    let b = black_box(f32x16::splat(1e-7));
    let gflops = best_of_5(f32x16::splat(1.0), 16 * 2, |x| x.mul_add(a, b));
    println!(
        "f32 FMA peak, one thread: {gflops:.1} GFLOP/s ({CHAINS} chains of 16 lanes, best of 5)"
    );
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512bf16"))]
    bf16_peak();
}

/// The same with `vdpbf16ps` (two bf16 multiply-adds per f32 lane). Its intrinsics need Rust 1.89,
/// as in `kernels::pwconv_bf16`.
#[cfg(all(target_arch = "x86_64", target_feature = "avx512bf16"))]
#[allow(clippy::incompatible_msrv)]
fn bf16_peak() {
    use core::arch::x86_64::{__m512, __m512bh, _mm512_dpbf16_ps, _mm512_set1_ps};
    // SAFETY: register-only intrinsics on a target with AVX-512F; `__m512` and `__m512bh` are both
    // 64-byte vectors and every bit pattern is valid for either.
    let (x, one): (__m512bh, __m512) = unsafe {
        let x: __m512bh = core::mem::transmute(_mm512_set1_ps(1e-20));
        (black_box(x), _mm512_set1_ps(1.0))
    };
    // SAFETY: register-only intrinsic; the target has AVX512_BF16.
    let gflops = best_of_5(one, 32 * 2, |a| unsafe { _mm512_dpbf16_ps(a, x, x) });
    println!(
        "bf16 dot-product (vdpbf16ps) peak, one thread: {gflops:.1} GFLOP/s ({CHAINS} chains, best of 5)"
    );
}
