//! The kernel variants the compiler chooses from, as data. A variant is named by operation,
//! precision, register tile and instruction set (XNNPACK style: `pwconv_bf16_32x32_amx`); it
//! carries its runtime module, how its weights are packed, which entry points it has and the
//! layout constants it shares with the runtime kernel (emitted as build-time assertions into the
//! generated module, so a disagreement fails the build instead of computing garbage).
//!
//! Adding a matrix-product kernel (a new precision or instruction set) is one entry in
//! [`GEMM_VARIANTS`], its packing function in [`crate::pack`], its runtime module in
//! `src/kernels/`, and its case in [`gemm_variant`].

use crate::pack;

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
    /// Most input channels it takes; wider layers fall back to the f32 variant.
    pub max_k: usize,
    /// Packs `n x k` weights into the order the kernel reads.
    pub pack: fn(usize, usize, MatrixAt) -> Vec<f32>,
    /// Takes a per-input-channel scale (a squeeze-excite gate applied on the fly).
    pub input_scale: bool,
    /// Has `_ahead` entry points that prefetch later layers' weights while it computes.
    pub prefetch_host: bool,
    /// Has a `_band` entry point (runs on a band of rows inside a banded chain).
    pub band: bool,
    /// `(runtime constant, value)` pairs the packing assumes, asserted in the generated module.
    pub layout: &'static [(&'static str, usize)],
}

/// Every matrix-product variant.
pub static GEMM_VARIANTS: [GemmVariant; 3] = [
    GemmVariant {
        name: "pwconv_f32_rx32_wide",
        module: "pwconv",
        precision: Precision::F32,
        isa: Isa::Wide,
        max_k: usize::MAX,
        pack: pack::f32_panels,
        input_scale: false,
        prefetch_host: true,
        band: true,
        layout: &[("pwconv::NR", pack::PW_NR)],
    },
    GemmVariant {
        name: "pwconv_bf16_rx32_avx512bf16",
        module: "pwconv_bf16",
        precision: Precision::Bf16,
        isa: Isa::Avx512Bf16,
        max_k: pack::PW_BF16_MAX_K,
        pack: pack::bf16_panels,
        input_scale: true,
        prefetch_host: false,
        band: false,
        layout: &[
            ("pwconv_bf16::NR", pack::PW_NR),
            ("pwconv_bf16::MAX_K", pack::PW_BF16_MAX_K),
        ],
    },
    GemmVariant {
        name: "pwconv_bf16_32x32_amx",
        module: "pwconv_amx",
        precision: Precision::Bf16,
        isa: Isa::Amx,
        max_k: pack::AMX_MAX_K,
        pack: pack::amx_bf16,
        input_scale: true,
        prefetch_host: false,
        band: false,
        layout: &[
            ("pwconv_amx::TILE_N", pack::AMX_TILE_N),
            ("pwconv_amx::TILE_K", pack::AMX_TILE_K),
            ("pwconv_amx::BIAS_PAD", pack::PW_NR),
            ("pwconv_amx::MAX_K", pack::AMX_MAX_K),
        ],
    },
];

/// What a build compiles for: the precision of its matrix products and, in bf16, their
/// instructions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Target {
    pub precision: Precision,
    pub bf16_isa: Bf16Isa,
}

/// The variant running a matrix product with `k` input channels for `target`: the bf16 one of the
/// target's instruction set when it takes `k` channels, else f32.
pub fn gemm_variant(target: Target, k: usize) -> &'static GemmVariant {
    let by_name = |isa: Isa| {
        GEMM_VARIANTS
            .iter()
            .find(|v| v.isa == isa)
            .expect("every Isa has a variant")
    };
    let f32 = by_name(Isa::Wide);
    let v = match (target.precision, target.bf16_isa) {
        (Precision::F32, _) => f32,
        (Precision::Bf16, Bf16Isa::Avx512Bf16) => by_name(Isa::Avx512Bf16),
        (Precision::Bf16, Bf16Isa::Amx) => by_name(Isa::Amx),
    };
    if k <= v.max_k {
        v
    } else {
        f32
    }
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
    fn wide_layers_fall_back_to_f32() {
        let amx = Target {
            precision: Precision::Bf16,
            bf16_isa: Bf16Isa::Amx,
        };
        assert_eq!(gemm_variant(amx, 64).isa, Isa::Amx);
        assert_eq!(gemm_variant(amx, pack::AMX_MAX_K + 1).isa, Isa::Wide);
        assert_eq!(gemm_variant(Target::default(), 64).isa, Isa::Wide);
        let dp = Target {
            precision: Precision::Bf16,
            bf16_isa: Bf16Isa::Avx512Bf16,
        };
        assert_eq!(gemm_variant(dp, 64).isa, Isa::Avx512Bf16);
    }
}
