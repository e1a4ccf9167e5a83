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

fn main() {
    let a = black_box(f32x16::splat(0.999_999));
    let b = black_box(f32x16::splat(1e-7));
    let mut best = f64::MAX;
    for _ in 0..5 {
        let mut acc = [f32x16::splat(1.0); CHAINS];
        let t = Instant::now();
        for _ in 0..STEPS {
            for x in acc.iter_mut() {
                *x = x.mul_add(a, b);
            }
        }
        let s = t.elapsed().as_secs_f64();
        black_box(acc);
        best = best.min(s);
    }
    let flops = (STEPS * CHAINS * 16 * 2) as f64;
    println!(
        "f32 FMA peak, one thread: {:.1} GFLOP/s ({CHAINS} chains of 16 lanes, best of 5)",
        flops / best / 1e9
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
    let (x, one) = unsafe {
        let x: __m512bh = core::mem::transmute(_mm512_set1_ps(1e-20));
        (black_box(x), _mm512_set1_ps(1.0))
    };
    let mut best = f64::MAX;
    for _ in 0..5 {
        let mut acc: [__m512; CHAINS] = [one; CHAINS];
        let t = Instant::now();
        for _ in 0..STEPS {
            for a in acc.iter_mut() {
                // SAFETY: register-only intrinsic; the target has AVX512_BF16.
                *a = unsafe { _mm512_dpbf16_ps(*a, x, x) };
            }
        }
        let s = t.elapsed().as_secs_f64();
        black_box(acc);
        best = best.min(s);
    }
    let flops = (STEPS * CHAINS * 32 * 2) as f64;
    println!(
        "bf16 dot-product (vdpbf16ps) peak, one thread: {:.1} GFLOP/s ({CHAINS} chains, best of 5)",
        flops / best / 1e9
    );
}
