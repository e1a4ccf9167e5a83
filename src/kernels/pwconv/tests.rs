use super::*;
use crate::kernels::{seeded_values as values, Relu};

/// `pwconv` against a float64 reference from the packed panels: `K` over several cache chunks
/// (`KC`) with a short last one, `N` not a multiple of `NR`, row remainders, residual.
fn check<const M: usize, const K: usize, const N: usize>(residual: bool) {
    let panels = N.div_ceil(NR);
    let (src, w, bias) = (
        values(M * K, 1),
        values(panels * K * NR, 2),
        values(panels * NR, 3),
    );
    let res = values(M * N, 4);
    let mut dst = vec![f32::NAN; M * N];
    pwconv::<M, K, N, N>(
        &src,
        &w,
        &bias,
        Relu,
        residual.then_some(&res[..]),
        &mut dst,
    );
    for m in 0..M {
        for n in 0..N {
            let (p, j) = (n / NR, n % NR);
            let mut sum = bias[n] as f64;
            let mut mag = bias[n].abs() as f64;
            for k in 0..K {
                let prod = src[m * K + k] as f64 * w[(p * K + k) * NR + j] as f64;
                sum += prod;
                mag += prod.abs();
            }
            let mut want = sum.max(0.0);
            if residual {
                want += res[m * N + n] as f64;
            }
            let bound = (K as f64 + 2.0) * f32::EPSILON as f64 * (mag + 2.0);
            let got = dst[m * N + n] as f64;
            assert!(
                (got - want).abs() <= bound,
                "{M}x{K}x{N} [{m}][{n}]: {got} vs {want}"
            );
        }
    }
}

#[test]
fn matches_a_float64_reference() {
    check::<13, 1100, 40>(true);
    check::<49, 64, 32>(false);
    // Small weights (every panel per row tile), several panels, a short last panel.
    check::<50, 32, 64>(true);
    check::<44, 16, 200>(false);
    check::<7, 513, 96>(false);
    check::<1, 300, 70>(true);
}

#[test]
fn row_cuts_are_increasing_and_whole_tiles_unless_few() {
    fn check<const M: usize>() {
        let mr = Tiles::<M>::MR;
        for n in 1..=8 {
            let cuts: Vec<usize> = (0..n).map(|i| row_cut::<M>(i, n)).chain([M]).collect();
            assert_eq!(cuts[0], 0);
            for w in cuts.windows(2) {
                assert!(w[0] <= w[1], "{M} rows, {n} parts: {cuts:?}");
                assert!(
                    Tiles::<M>::CUT_ANYWHERE || w[0] % mr == 0,
                    "{M} rows, {n} parts: {cuts:?}"
                );
            }
            // No part costs more than an even share plus a tile.
            let worst = cuts
                .windows(2)
                .map(|w| rows_cost(w[1] - w[0], mr))
                .max()
                .unwrap_or(0);
            assert!(
                worst * n <= rows_cost(M, mr) + n * (mr + 4),
                "{M} rows, {n} parts: {cuts:?}"
            );
        }
    }
    check::<12544>();
    check::<3136>();
    check::<784>();
    check::<196>();
    check::<49>();
    // The cut between two threads, per register tiling (AVX-512: 7 rows for 49 pixels, cut
    // anywhere; 6 for 196; AVX2: 5 rows for 49, cut anywhere, 6 for 196; SSE2: 1 row).
    let (cut49, cut196) = match (Tiles::<49>::MR, Tiles::<196>::MR) {
        (7, 6) => (25, 96),
        (5, 6) => (25, 96),
        (1, 1) => (25, 98),
        other => panic!("no expected cuts for register tiles {other:?}"),
    };
    assert_eq!(row_cut::<49>(1, 2), cut49);
    assert_eq!(row_cut::<196>(1, 2), cut196);
    check::<7>();
    check::<1>();
}
