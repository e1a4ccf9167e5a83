//! The AMX tile program on the emulation and the hardware, and the FMA fallback, over swept shapes,
//! against a float64 reference of the same bf16 operands.

/// Writes past the test harness's output capture, so CI logs show what did not run and why.
macro_rules! skip_notice {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

use super::*;
use crate::kernels::amx::{bf16_daz, Support};
use crate::kernels::par::{Part, Team};
use crate::kernels::simd::V;
use crate::kernels::{seeded_values, HardSwish, Identity, Relu};
use std::vec::Vec;

/// The packing `pplcnet-codegen`'s `variants::amx_bf16` does, written again from the module docs.
fn pack(n: usize, k: usize, w_nk: &[f32]) -> Vec<f32> {
    let (nt, ks) = (n.div_ceil(TILE_N), k.div_ceil(TILE_K));
    let mut out = vec![0u32; packed_len(k, n)];
    for t in 0..nt {
        for s in 0..ks {
            for r in 0..TILE_K / 2 {
                for c in 0..TILE_N {
                    let (col, k0) = (t * TILE_N + c, s * TILE_K + 2 * r);
                    let at = |kk: usize| {
                        if col < n && kk < k {
                            bf16_daz(bf16_bits(w_nk[col * k + kk])).to_bits() >> 16
                        } else {
                            0
                        }
                    };
                    out[((t * ks + s) * (TILE_K / 2) + r) * TILE_N + c] = at(k0) | at(k0 + 1) << 16;
                }
            }
        }
    }
    out.into_iter().map(f32::from_bits).collect()
}

fn bf16(x: f32) -> f64 {
    f64::from(bf16_daz(bf16_bits(x)))
}

struct Case {
    src: Vec<f32>,
    scale: Option<Vec<f32>>,
    w_nk: Vec<f32>,
    packed: Vec<f32>,
    bias: Vec<f32>,
    residual: Option<Vec<f32>>,
}

fn case<const M: usize, const K: usize, const N: usize>(seed: u64, extras: bool) -> Case {
    let w_nk = seeded_values(N * K, seed + 1);
    let mut bias = seeded_values(N.div_ceil(BIAS_PAD) * BIAS_PAD, seed + 2);
    bias[N..].fill(0.0);
    Case {
        src: seeded_values(M * K, seed),
        scale: extras.then(|| seeded_values(K, seed + 3)),
        packed: pack(N, K, &w_nk),
        w_nk,
        bias,
        residual: extras.then(|| seeded_values(M * N, seed + 4)),
    }
}

/// Float64 reference of the bf16 operands, and the sum of |products| per output (the bound).
fn reference<const M: usize, const K: usize, const N: usize>(c: &Case) -> Vec<(f64, f64)> {
    let mut out = Vec::new();
    for m in 0..M {
        for n in 0..N {
            let (mut acc, mut mag) = (0.0f64, 0.0f64);
            for kk in 0..K {
                let x = c.src[m * K + kk] * c.scale.as_ref().map_or(1.0, |s| s[kk]);
                let p = bf16(x) * bf16(c.w_nk[n * K + kk]);
                acc += p;
                mag += p.abs();
            }
            out.push((acc + f64::from(c.bias[n]), mag));
        }
    }
    out
}

fn run<T: Tiles, const M: usize, const K: usize, const N: usize, const DS: usize>(
    t: &mut T,
    c: &Case,
    act: impl Activation,
) -> Vec<f32> {
    let l = layer::<M, K, N, DS>(
        M,
        &c.src,
        c.scale.as_deref(),
        &c.packed,
        &c.bias,
        c.residual.as_deref(),
    );
    let mut dst = vec![f32::NAN; M * DS];
    let mut abuf = vec![0u32; 2 * TILE_M * row_words(K)];
    let at = Origin { row: 0, col: 0 };
    l.run(t, act, 0..M, 0..N.div_ceil(TILE_N), &mut dst, at, &mut abuf);
    dst
}

/// The FMA fallback, with a buffer of `rows` converted rows.
fn run_direct<const M: usize, const K: usize, const N: usize, const DS: usize>(
    c: &Case,
    act: impl Activation,
    rows: usize,
) -> Vec<f32> {
    let l = layer::<M, K, N, DS>(
        M,
        &c.src,
        c.scale.as_deref(),
        &c.packed,
        &c.bias,
        c.residual.as_deref(),
    );
    let mut dst = vec![f32::NAN; M * DS];
    let mut abuf = vec![0.0f32; rows * K.div_ceil(TILE_K) * TILE_K];
    let at = Origin { row: 0, col: 0 };
    l.run_direct(act, 0..M, 0..N.div_ceil(TILE_N), &mut dst, at, &mut abuf);
    dst
}

/// The emulation against float64 (within f32 summation error), the FMA fallback against the
/// emulation (bit for bit, with row blocks of several sizes), and the hardware against the
/// emulation where it exists.
fn check<const M: usize, const K: usize, const N: usize, const DS: usize>(seed: u64, extras: bool) {
    let c = case::<M, K, N>(seed, extras);
    let emu = run::<_, M, K, N, DS>(&mut Emu::new(), &c, Identity);
    let fallbacks = [8, 16, 48].map(|rows| run_direct::<M, K, N, DS>(&c, Identity, rows));
    let want = reference::<M, K, N>(&c);
    for m in 0..M {
        for n in 0..N {
            let (r, mag) = want[m * N + n];
            let res = c.residual.as_ref().map_or(0.0, |r| f64::from(r[m * N + n]));
            let got = emu[m * DS + n];
            let bound = (mag + r.abs()) * (K as f64 + 2.0) * f64::from(f32::EPSILON) + 1e-30;
            assert!(
                (f64::from(got) - (r + res)).abs() <= bound,
                "{M}x{K}x{N} ({m}, {n}): {got} vs {}",
                r + res
            );
            for (f, rows) in fallbacks.iter().zip([8, 16, 48]) {
                assert_eq!(
                    got.to_bits(),
                    f[m * DS + n].to_bits(),
                    "{M}x{K}x{N} ({m}, {n}), blocks of {rows} rows"
                );
            }
        }
        // The padding between rows is not written.
        for n in N..DS {
            assert!(emu[m * DS + n].is_nan());
        }
    }
    #[cfg(target_arch = "x86_64")]
    if let Some(mut hw) = amx::hw::Hw::new() {
        let got = run::<_, M, K, N, DS>(&mut hw, &c, Identity);
        // docs/amx.md: the hardware sums in another order, within a few units of 2^-24 of the
        // magnitude sum per K step of the emulation.
        for m in 0..M {
            for n in 0..N {
                let (r, mag) = want[m * N + n];
                let bound = 4.0 * (mag + r.abs()) * (K.div_ceil(TILE_K) as f64) * 2f64.powi(-24);
                let d = (f64::from(got[m * DS + n]) - f64::from(emu[m * DS + n])).abs();
                assert!(d <= bound + 1e-30, "hardware {M}x{K}x{N} ({m}, {n}): {d:e}");
            }
        }
    }
}

#[test]
fn tile_program_matches_float64_on_swept_shapes() {
    // Pixels under, at and over one and two tiles (the moved-back last tile), odd channel counts,
    // K under, at and over a step, N under, at and over a tile and an odd number of tiles.
    check::<1, 7, 5, 5>(1, false);
    check::<1, 64, 48, 48>(2, true);
    check::<3, 33, 17, 20>(3, true);
    check::<16, 32, 16, 16>(4, false);
    check::<17, 31, 33, 40>(5, true);
    check::<32, 96, 64, 64>(6, false);
    check::<49, 70, 40, 48>(7, true);
    check::<100, 16, 8, 8>(8, true);
    check::<196, 130, 36, 36>(9, false);
}

#[test]
fn hardware_tiles_run_where_available() {
    match amx::support() {
        Support::Available => eprintln!("AMX present: every check above also ran on the hardware"),
        other => skip_notice!("skipped: {other} (the emulations ran instead)"),
    }
}

#[test]
fn activations_and_layouts_reach_the_epilogue() {
    let c = case::<20, 40, 24>(11, true);
    let relu = run::<_, 20, 40, 24, 32>(&mut Emu::new(), &c, Relu);
    let hs = run::<_, 20, 40, 24, 32>(&mut Emu::new(), &c, HardSwish);
    let plain = run::<_, 20, 40, 24, 32>(&mut Emu::new(), &c, Identity);
    let res = c.residual.as_ref().unwrap();
    for m in 0..20 {
        for n in 0..24 {
            let x = plain[m * 32 + n] - res[m * 24 + n];
            let r = res[m * 24 + n];
            assert_eq!(relu[m * 32 + n], Relu.apply1(x) + r);
            assert!((hs[m * 32 + n] - (HardSwish.apply1(x) + r)).abs() < 1e-6);
        }
    }
}

#[test]
fn row_tiles_cover_each_row_once_inside_the_layer() {
    for m in [1, 5, 16, 17, 31, 32, 49, 196] {
        for (a, b) in [(0, m), (0, m / 2), (m / 2, m), (m / 3, m - m / 3)] {
            let mut seen = vec![0; m];
            let h = tile_rows(m);
            assert!(
                h <= TILE_M && m.div_ceil(h) == m.div_ceil(TILE_M),
                "m {m}: {h} rows"
            );
            for t in row_tiles(m, a..b) {
                assert!(t.start + h <= m && t.start <= t.store.start && t.store.end <= t.start + h);
                for r in t.store {
                    seen[r] += 1;
                }
            }
            for (r, &s) in seen.iter().enumerate() {
                assert_eq!(
                    s,
                    usize::from((a..b).contains(&r)),
                    "m {m}, rows {a}..{b}, row {r}"
                );
            }
        }
    }
}

/// Runs the parts one after another, `n` of them.
struct Parts(usize);

impl Team for Parts {
    fn parts(&self) -> usize {
        self.0
    }

    fn run(&self, parts: &mut [Part<'_>], f: &(dyn Fn(&mut Part<'_>) + Sync)) {
        for p in parts {
            f(p);
        }
    }
}

#[test]
fn parallel_parts_are_bit_identical() {
    fn same<const M: usize, const K: usize, const N: usize, const DS: usize>(seed: u64) {
        let c = case::<M, K, N>(seed, true);
        let mut serial = vec![0.0; M * DS];
        let args = (
            c.scale.as_deref(),
            &c.packed[..],
            &c.bias[..],
            c.residual.as_deref(),
        );
        pwconv_amx::<M, K, N, DS>(&c.src, args.0, args.1, args.2, Relu, args.3, &mut serial);
        for parts in [2, 3, 5] {
            let mut par = vec![0.0; M * DS];
            let team = Parts(parts);
            pwconv_amx_par::<M, K, N, DS>(
                &team, &c.src, args.0, args.1, args.2, Relu, args.3, &mut par,
            );
            assert_eq!(
                serial.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                par.iter().map(|x| x.to_bits()).collect::<Vec<_>>(),
                "{M}x{K}x{N}, {parts} parts"
            );
        }
    }
    same::<1, 100, 70, 70>(21);
    same::<49, 64, 40, 48>(22);
    same::<70, 33, 16, 16>(23);
}

#[test]
fn bands_are_bit_identical_to_the_whole_layer() {
    fn same<const M: usize, const K: usize, const N: usize, const DS: usize>(seed: u64) {
        let c = case::<M, K, N>(seed, false);
        let mut whole = vec![0.0; M * DS];
        pwconv_amx::<M, K, N, DS>(&c.src, None, &c.packed, &c.bias, Relu, None, &mut whole);
        // Bands under, at and over a tile, from the first pixel or inside the window, the last
        // ending at the layer's end, and an empty one.
        for (row0, rows) in [
            (0, 0..5),
            (0, 3..19),
            (2, 5..45),
            (10, 16..32),
            (M - 7, M - 7..M),
            (4, 4..4),
        ] {
            let src = &c.src[row0 * K..];
            let mut got = vec![f32::NAN; rows.len() * DS];
            pwconv_amx_band::<M, K, N, DS>(
                src,
                row0,
                &c.packed,
                &c.bias,
                Relu,
                rows.clone(),
                &mut got,
            );
            for (r, row) in rows.clone().zip(got.chunks(DS)) {
                let want = &whole[r * DS..r * DS + N];
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(
                    bits(&row[..N]),
                    bits(want),
                    "{M}x{K}x{N}, band {rows:?}, row {r}"
                );
            }
        }
    }
    same::<49, 64, 40, 48>(31);
    same::<112, 33, 64, 64>(32);
}

#[test]
fn fallback_rounds_like_the_scalar_conversion() {
    let specials = [
        0.0,
        -0.0,
        1.0,
        1.0 + 1.0 / 256.0,
        1.0 + 3.0 / 256.0,
        -2.5,
        f32::MAX,
        f32::MIN_POSITIVE,
        f32::MIN_POSITIVE * 0.99,
        -1e-40,
        f32::from_bits(0x007f_ffff),
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        f32::from_bits(0x7f80_0001),
        f32::from_bits(0xffff_ffff),
    ];
    let mut xs: Vec<f32> = specials.to_vec();
    xs.extend(seeded_values(4096, 99).iter().map(|x| x * 1e3));
    xs.extend((0..4096u32).map(|i| f32::from_bits(i.wrapping_mul(0x9e37_79b9))));
    for chunk in xs.chunks(L) {
        let mut v = [0.0f32; L];
        v[..chunk.len()].copy_from_slice(chunk);
        let got = direct::round_bf16(V::new(v)).to_array();
        for (x, g) in chunk.iter().zip(got) {
            let want = bf16_daz(bf16_bits(*x));
            assert!(
                want.to_bits() == g.to_bits() || (want.is_nan() && g.is_nan()),
                "{x:e} ({:#x}): {g:e} vs {want:e}",
                x.to_bits()
            );
        }
    }
    // The tile path's conversion into bf16 pairs reads back the same values, for K of whole
    // vectors and with an odd tail, with and without a scale.
    let read = |w: u32, hi: bool| bf16_daz(if hi { (w >> 16) as u16 } else { w as u16 });
    for k in [MAX_K, 37] {
        let src = &xs[..k];
        let ones = vec![1.0f32; k];
        for scale in [None, Some(&ones[..])] {
            let l = Layer {
                m: 1,
                k,
                n: 1,
                ds: 1,
                src,
                scale,
                w: &[],
                bias: &[],
                residual: None,
            };
            let mut out = vec![u32::MAX; row_words(k) + 3];
            l.convert(0, &mut out[..row_words(k)]);
            for (i, x) in src.iter().enumerate() {
                let (got, want) = (read(out[i / 2], i % 2 == 1), bf16_daz(bf16_bits(*x)));
                assert!(
                    want.to_bits() == got.to_bits() || (want.is_nan() && got.is_nan()),
                    "convert, K {k}, element {i}: {got:e} vs {want:e}"
                );
            }
            assert!(
                out[k.div_ceil(2)..row_words(k)].iter().all(|&w| w == 0),
                "K {k}: zero past K"
            );
        }
    }
}
