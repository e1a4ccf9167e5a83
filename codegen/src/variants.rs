//! The kernel variants the compiler chooses from, as data. A variant is named by operation,
//! precision, register tile and instruction set (XNNPACK style: `pwconv_bf16_32x32_amx`); it
//! carries its runtime module, how its weights are packed, which entry points it has and the
//! layout constants it shares with the runtime kernel (emitted as build-time assertions into the
//! generated module, so a disagreement fails the build instead of computing garbage).
//!
//! Adding a matrix-product kernel (a new precision or instruction set) is one entry in
//! [`GEMM_VARIANTS`] and its packing function here, its layout constants in `pplcnet-spec`, and its
//! runtime module in `src/kernels/`. [`gemm_variant`] picks it for its precision.

use pplcnet_spec::bf16_bits;
use pplcnet_spec::layout::{AMX_MAX_K, AMX_TILE_K, AMX_TILE_N, PW_BF16_MAX_K, PW_NR};

/// The arithmetic of a kernel variant.
pub use crate::Precision;

/// The instruction set a kernel variant is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isa {
    /// `wide`'s 16-lane f32 vectors: AVX-512, AVX2 + FMA or SSE2, whichever the target has.
    Wide,
    /// AVX512_BF16 dot products (`vdpbf16ps`); compiled only for targets with it.
    Avx512Bf16,
    /// AMX tiles (`tdpbf16ps`) through `asm!`, with run-time detection and a `wide` fallback, so
    /// any x86_64 target builds and runs it.
    Amx,
}

impl Isa {
    /// Lower-case name, as in variant names.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Wide => "wide",
            Isa::Avx512Bf16 => "avx512bf16",
            Isa::Amx => "amx",
        }
    }
}

/// Which instructions a bf16 build runs its matrix products on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Bf16Isa {
    /// `vdpbf16ps` (AMD Zen 4 / Zen 5, Intel without AMX); the target needs AVX512_BF16.
    #[default]
    Avx512Bf16,
    /// AMX tiles (Intel Xeon 4th generation and later), falling back at run time to `wide` FMAs
    /// over the same packed weights where AMX is missing or refused.
    Amx,
}

impl Bf16Isa {
    /// Parses `avx512bf16` or `amx` (the values of `PPLCNET_BF16_ISA`).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "avx512bf16" => Some(Bf16Isa::Avx512Bf16),
            "amx" => Some(Bf16Isa::Amx),
            _ => None,
        }
    }

    /// The instruction set of its kernel variants.
    pub fn isa(self) -> Isa {
        match self {
            Bf16Isa::Avx512Bf16 => Isa::Avx512Bf16,
            Bf16Isa::Amx => Isa::Amx,
        }
    }
}

/// A `[N][K]` weight matrix (output channel `col`, input channel `kk`) given by a function.
pub type MatrixAt<'a> = &'a dyn Fn(usize, usize) -> f32;

/// A matrix-product kernel: pointwise convolutions, fully connected layers, squeeze-excite gates.
#[derive(Debug)]
pub struct GemmVariant {
    /// `op_precision_tile_isa`, recorded in `MODEL.layers`.
    pub name: &'static str,
    /// The runtime module in `kernels::` (its entry points are `<module>` and `<module>_par`).
    pub module: &'static str,
    pub precision: Precision,
    pub isa: Isa,
    /// Appended to the layer's summary (`" bf16 amx"`): what a reader of `info` should know.
    pub note: &'static str,
    /// Most input channels it takes; wider layers fall back to the f32 variant.
    pub max_k: usize,
    /// Packs `n x k` weights into the order the kernel reads.
    pub pack: fn(usize, usize, MatrixAt) -> Vec<f32>,
    /// Takes a per-input-channel scale (a squeeze-excite gate applied on the fly).
    pub input_scale: bool,
    /// Has `_ahead` entry points that prefetch later layers' weights while it computes.
    pub prefetch_host: bool,
    /// Has a `_band` entry point (runs on a band of rows inside a banded chain): `(src, src_row0,
    /// w, bias, act, pixels, dst)`, then the weights to prefetch if it is a `prefetch_host`.
    pub band: bool,
    /// `(runtime constant, value)` pairs the packing assumes, asserted in the generated module.
    pub layout: &'static [(&'static str, usize)],
}

/// Every matrix-product variant; the first is the f32 one every layer can fall back to.
pub static GEMM_VARIANTS: [GemmVariant; 3] = [
    GemmVariant {
        name: "pwconv_f32_rx32_wide",
        module: "pwconv",
        precision: Precision::F32,
        isa: Isa::Wide,
        note: "",
        max_k: usize::MAX,
        pack: f32_panels,
        input_scale: false,
        prefetch_host: true,
        band: true,
        layout: &[("pwconv::NR", PW_NR)],
    },
    GemmVariant {
        name: "pwconv_bf16_rx32_avx512bf16",
        module: "pwconv_bf16",
        precision: Precision::Bf16,
        isa: Isa::Avx512Bf16,
        note: " bf16",
        max_k: PW_BF16_MAX_K,
        pack: bf16_panels,
        input_scale: true,
        prefetch_host: false,
        band: false,
        layout: &[
            ("pwconv_bf16::NR", PW_NR),
            ("pwconv_bf16::MAX_K", PW_BF16_MAX_K),
        ],
    },
    GemmVariant {
        name: "pwconv_bf16_32x32_amx",
        module: "pwconv_amx",
        precision: Precision::Bf16,
        isa: Isa::Amx,
        note: " bf16 amx",
        max_k: AMX_MAX_K,
        pack: amx_bf16,
        input_scale: true,
        prefetch_host: false,
        band: true,
        layout: &[
            ("pwconv_amx::TILE_N", AMX_TILE_N),
            ("pwconv_amx::TILE_K", AMX_TILE_K),
            ("pwconv_amx::BIAS_PAD", PW_NR),
            ("pwconv_amx::MAX_K", AMX_MAX_K),
        ],
    },
];

/// What a build compiles for: the precision of its matrix products and, in bf16, their
/// instructions; the L2 cache per core of the CPU it will run on, when known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Target {
    pub precision: Precision,
    pub bf16_isa: Bf16Isa,
    /// Bytes of L2 cache per core (`None`: unknown). Decides whether pointwise convs prefetch
    /// later layers' weights (`emit::prefetch`).
    pub l2_bytes: Option<usize>,
}

/// The variant running a matrix product with `k` input channels for `target`: the first of
/// [`GEMM_VARIANTS`] in the target's precision (in bf16: on the target's instruction set) that
/// takes `k` channels, else f32.
pub fn gemm_variant(target: Target, k: usize) -> &'static GemmVariant {
    let isa = match target.precision {
        Precision::Bf16 => Some(target.bf16_isa.isa()),
        _ => None,
    };
    let f32 = &GEMM_VARIANTS[0];
    GEMM_VARIANTS
        .iter()
        .find(|v| v.precision == target.precision && isa.is_none_or(|i| v.isa == i))
        .filter(|v| k <= v.max_k)
        .unwrap_or(f32)
}

/// f32 panels `[ceil(N/NR)][K][NR]` of `at(col, kk)`, zero-padded past N (`kernels::pwconv`).
pub fn f32_panels(n: usize, k: usize, at: MatrixAt) -> Vec<f32> {
    let panels = n.div_ceil(PW_NR);
    let mut out = vec![0.0; panels * k * PW_NR];
    for p in 0..panels {
        for kk in 0..k {
            for j in 0..PW_NR {
                let col = p * PW_NR + j;
                if col < n {
                    out[(p * k + kk) * PW_NR + j] = at(col, kk);
                }
            }
        }
    }
    out
}

/// bf16 panels `[ceil(N/NR)][ceil(K/2)][NR]` of 32-bit words (stored as `f32` bit patterns): word
/// `(p, j, c)` holds `bf16(at(p*NR + c, 2j))` in its low half and `bf16(at(p*NR + c, 2j + 1))` in
/// its high half, zero past N and K (`kernels::pwconv_bf16`).
pub fn bf16_panels(n: usize, k: usize, at: MatrixAt) -> Vec<f32> {
    let (kp, panels) = (k.div_ceil(2), n.div_ceil(PW_NR));
    let mut out = vec![0u32; panels * kp * PW_NR];
    for col in 0..n {
        for kk in 0..k {
            let bits = u32::from(bf16_bits(at(col, kk))) << (16 * (kk % 2));
            out[((col / PW_NR) * kp + kk / 2) * PW_NR + col % PW_NR] |= bits;
        }
    }
    out.into_iter().map(f32::from_bits).collect()
}

/// AMX weight tiles `[ceil(N/16)][ceil(K/32)][16][16]` of 32-bit words: word `(t, s, r, c)` holds
/// `bf16(at(16t + c, 32s + 2r))` in its low half and `bf16(at(16t + c, 32s + 2r + 1))` in its high
/// half ("VNNI-2" pairs), zero past N and K (`kernels::pwconv_amx`): each 1 KiB tile is one
/// `tileloadd` with a 64-byte stride. bf16 denormals are written as (signed) zero, which is how
/// `tdpbf16ps` reads them, so the kernel's FMA fallback needs no flushing of its own.
pub fn amx_bf16(n: usize, k: usize, at: MatrixAt) -> Vec<f32> {
    let (tiles, steps, rows) = (
        n.div_ceil(AMX_TILE_N),
        k.div_ceil(AMX_TILE_K),
        AMX_TILE_K / 2,
    );
    let mut out = vec![0u32; tiles * steps * rows * AMX_TILE_N];
    for col in 0..n {
        for kk in 0..k {
            let (t, c, s, r) = (
                col / AMX_TILE_N,
                col % AMX_TILE_N,
                kk / AMX_TILE_K,
                kk % AMX_TILE_K / 2,
            );
            let h = u32::from(bf16_bits(at(col, kk)));
            let h = if h & 0x7f80 == 0 { h & 0x8000 } else { h };
            out[((t * steps + s) * rows + r) * AMX_TILE_N + c] |= h << (16 * (kk % 2));
        }
    }
    out.into_iter().map(f32::from_bits).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_op_precision_tile_isa() {
        for v in &GEMM_VARIANTS {
            let parts: Vec<&str> = v.name.split('_').collect();
            assert_eq!(parts.len(), 4, "{}", v.name);
            assert_eq!(parts[0], "pwconv");
            assert_eq!(parts[1], v.precision.name());
            assert!(parts[2].contains('x'), "{}", v.name);
            assert_eq!(parts[3], v.isa.name());
        }
    }

    #[test]
    fn every_precision_has_a_variant_and_f32_comes_first() {
        assert_eq!(GEMM_VARIANTS[0].precision, Precision::F32);
        assert_eq!(GEMM_VARIANTS[0].max_k, usize::MAX);
        for p in Precision::ALL {
            assert!(GEMM_VARIANTS.iter().any(|v| v.precision == p), "{p}");
        }
    }

    #[test]
    fn wide_layers_fall_back_to_f32() {
        let amx = Target {
            precision: Precision::Bf16,
            bf16_isa: Bf16Isa::Amx,
            ..Target::default()
        };
        assert_eq!(gemm_variant(amx, 64).isa, Isa::Amx);
        assert_eq!(gemm_variant(amx, AMX_MAX_K + 1).isa, Isa::Wide);
        assert_eq!(gemm_variant(Target::default(), 64).isa, Isa::Wide);
        let dp = Target {
            precision: Precision::Bf16,
            bf16_isa: Bf16Isa::Avx512Bf16,
            ..Target::default()
        };
        assert_eq!(gemm_variant(dp, 64).isa, Isa::Avx512Bf16);
    }
}
