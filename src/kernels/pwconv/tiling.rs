//! Register tiling of [`pwconv`](super): rows per tile by the layer's pixel count, and halves of
//! a weight panel per tile. Compile-time constants only (evaluated per layer shape, no code).

/// Pixels per register tile. With AVX-512 (32 registers, one per 16-lane vector): 6 (12
/// accumulators over the 32-wide panel), unless 7 or 5 divides the pixel count better (a remainder
/// of 1-3 rows has too few independent accumulator chains to hide FMA latency). With AVX2 a 16-lane
/// vector is two of its 16 registers, so the tile covers half a panel at a time ([`HALVES`]):
/// 6 rows (12 accumulator registers, 2 of weights, 1 broadcast), or 5 when that divides better.
/// With SSE2 (four registers per vector) 1 row of the whole panel. Measured on Zen 3 (criterion,
/// `cargo bench --bench kernels`, and the model in BENCHMARKS.md): AVX2 6 x 16 beats 2 x 32; 6 x 32
/// spills (17.9 ms, or 42-44 ms when the stack and the activations 4K-alias) as does 3 x 32 (24 ms);
/// SSE2 6 rows 42 ms, 2 rows 40.7, 1 row 33.1.
pub(super) const fn mr_for(m: usize) -> usize {
    if !cfg!(target_feature = "avx") {
        return 1;
    }
    if !cfg!(target_feature = "avx512f") {
        return if m % 6 == 0 || m % 6 >= 4 || (m % 5 != 0 && m % 5 < 3) {
            6
        } else {
            5
        };
    }
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

/// 16-channel halves of a panel in one register tile: both (AVX-512, SSE2), or one after the other
/// over the same rows (AVX2, whose 16 registers hold 6 rows of one half but not of both).
pub(super) const HALVES: usize =
    if cfg!(target_feature = "avx") && !cfg!(target_feature = "avx512f") {
        1
    } else {
        2
    };
