//! Measures this core's f32 multiply-add peak (the denominator of the GFLOP/s figures in
//! BENCHMARKS.md): independent chains of 16-lane FMAs, enough to cover the FMA latency on every
//! pipe, no memory traffic.
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
}
