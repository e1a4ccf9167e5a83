use super::*;
use crate::kernels::{seeded_values, Identity, Relu};

/// Seeded values in [-2, 2).
fn values(n: usize, seed: u64) -> Vec<f32> {
    seeded_values(n, seed)
        .into_iter()
        .map(|v| 2.0 * v)
        .collect()
}

fn round(x: f32) -> f64 {
    f32::from_bits(u32::from(bf16_bits(x)) << 16) as f64
}

/// Packs `[N][K]` weights like `pplcnet-codegen`'s `variants::bf16_panels` (written again here as
/// the test's independent reference).
fn pack(n: usize, k: usize, w: &[f32]) -> Vec<f32> {
    let (kp, panels) = (k.div_ceil(2), n.div_ceil(NR));
    let mut out = vec![0.0f32; panels * kp * NR];
    for col in 0..n {
        for kk in 0..k {
            let word = &mut out[((col / NR) * kp + kk / 2) * NR + col % NR];
            let bits = word.to_bits() | (u32::from(bf16_bits(w[col * k + kk])) << (16 * (kk % 2)));
            *word = f32::from_bits(bits);
        }
    }
    out
}

/// Against a float64 sum of the same bf16-rounded products: the only difference is the f32
/// rounding of the kernel's running sums, at most K ulps of the sum of |products| (the bound
/// of sequential f32 summation). With `scaled`, input channel `k` is multiplied by a seeded
/// scale in f32 before the rounding.
fn check<const M: usize, const K: usize, const N: usize>(residual: bool, relu: bool, scaled: bool) {
    let (x, w) = (values(M * K, 1), values(N * K, 2));
    let bias = values(N, 3);
    let res = values(M * N, 4);
    let scale = values(K, 5);
    let mut bias_p = bias.clone();
    bias_p.resize(N.div_ceil(NR) * NR, 0.0);
    let wp = pack(N, K, &w);
    let mut got = vec![f32::NAN; M * N];
    let r = residual.then_some(&res[..]);
    let s = scaled.then_some(&scale[..]);
    if relu {
        pwconv_bf16::<M, K, N, N>(&x, s, &wp, &bias_p, Relu, r, &mut got);
    } else {
        pwconv_bf16::<M, K, N, N>(&x, s, &wp, &bias_p, Identity, r, &mut got);
    }
    for m in 0..M {
        for n in 0..N {
            let (mut sum, mut mag) = (bias[n] as f64, bias[n].abs() as f64);
            for k in 0..K {
                let xk = if scaled {
                    x[m * K + k] * scale[k]
                } else {
                    x[m * K + k]
                };
                let p = round(xk) * round(w[n * K + k]);
                sum += p;
                mag += p.abs();
            }
            if relu {
                sum = sum.max(0.0);
            }
            if residual {
                sum += res[m * N + n] as f64;
            }
            let err = (got[m * N + n] as f64 - sum).abs();
            let bound = (K as f64 + 2.0) * f32::EPSILON as f64 * (mag + 2.0);
            assert!(
                err <= bound,
                "{M}x{K}x{N} [{m}][{n}]: {} vs {sum} (bound {bound})",
                got[m * N + n]
            );
        }
    }
}

#[test]
fn matches_a_float64_sum_of_bf16_products() {
    check::<13, 64, 32>(false, false, false);
    check::<7, 33, 40>(true, true, false);
    check::<6, 96, 96>(true, false, false);
    check::<1, 7, 5>(false, true, false);
    // One pixel: a group of GEMV_PANELS panels and a short group of 3, a short last panel.
    check::<1, 1023, 216>(true, true, false);
    check::<1, 64, 40>(true, false, false);
    check::<20, 200, 72>(false, true, false);
    // Tiles of 7 (49 pixels), panel by panel over whole rows (M <= WHOLE_MAX_M).
    check::<49, 64, 40>(true, true, false);
    check::<13, 1100, 256>(true, true, false);
    // Row tiles over K in two chunks (550 pairs x 256 outputs > CHUNK_BYTES).
    check::<70, 1100, 256>(true, true, false);
    assert_eq!((mr_for(49, 64), chunk_pairs(1100, 256)), (7, 512));
    assert_eq!(
        (mr_for(196, 256), mr_for(12544, 32), mr_for(12, 64)),
        (7, 6, 6)
    );
    const { assert!(70 > WHOLE_MAX_M && 13 * 550 <= WHOLE_WORDS) };
}

#[test]
fn scales_input_channels_before_rounding() {
    // Whole 32-channel blocks and a tail (whole rows); K in two chunks; one pixel.
    check::<13, 70, 40>(false, true, true);
    check::<70, 1100, 256>(true, false, true);
    check::<1, 333, 100>(false, false, true);
}

#[test]
fn parallel_parts_are_bit_identical() {
    struct Two;
    impl Team for Two {
        fn parts(&self) -> usize {
            2
        }
        fn run(
            &self,
            parts: &mut [crate::kernels::par::Part<'_>],
            f: &(dyn Fn(&mut crate::kernels::par::Part<'_>) + Sync),
        ) {
            parts.iter_mut().for_each(f)
        }
    }
    const M: usize = 31;
    let (x, w) = (values(M * 48, 5), values(40 * 48, 6));
    let (wp, b) = (pack(40, 48, &w), vec![0.5; 64]);
    let mut one = vec![0.0; M * 40];
    let mut two = vec![1.0; M * 40];
    pwconv_bf16::<M, 48, 40, 40>(&x, None, &wp, &b, Identity, None, &mut one);
    pwconv_bf16_par::<M, 48, 40, 40>(&Two, &x, None, &wp, &b, Identity, None, &mut two);
    assert_eq!(one, two);
    // One pixel: split by panels (7 panels: 4 + 3).
    let (x, w) = (values(96, 7), values(200 * 96, 8));
    let (wp, b) = (pack(200, 96, &w), values(224, 9));
    let mut one = vec![0.0; 200];
    let mut two = vec![1.0; 200];
    pwconv_bf16::<1, 96, 200, 200>(&x, None, &wp, &b, Relu, None, &mut one);
    pwconv_bf16_par::<1, 96, 200, 200>(&Two, &x, None, &wp, &b, Relu, None, &mut two);
    assert_eq!(one, two);
}
