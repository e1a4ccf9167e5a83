//! The kernels alone, at PPLCNetV2_base's shapes: `cargo bench --bench kernels`.
//!
//! Throughput is in multiply-adds ("elements") per second: x2 for FLOP/s, against one core's
//! 117 GFLOP/s f32 FMA peak (231 GFLOP/s with AVX512_BF16) on the machine of BENCHMARKS.md.
//! Whole-model latency and the side-by-side comparison with other runtimes are `pplcnet bench` and
//! `tools/bench_peers.py`.

use criterion::measurement::WallTime;
use criterion::{
    black_box, criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput,
};
use pplcnet::kernels::{conv_u8, dwconv, pwconv, Relu};

/// A 64-byte aligned `f32` buffer, as the model's workspace and weight blob are: a large `Vec<f32>`
/// is only 16-byte aligned, so every 16-lane load would straddle two cache lines (this made the
/// depthwise rows 2-3x slower than the same layers inside the model).
struct Aligned {
    v: Vec<f32>,
    off: usize,
    n: usize,
}

impl Aligned {
    fn new(values: &[f32]) -> Self {
        let mut v = vec![0.0; values.len() + 16];
        let off = v.as_ptr().align_offset(64);
        v[off..off + values.len()].copy_from_slice(values);
        Aligned {
            v,
            off,
            n: values.len(),
        }
    }

    fn zeros(n: usize) -> Self {
        Self::new(&vec![0.0; n])
    }

    fn get(&self) -> &[f32] {
        &self.v[self.off..self.off + self.n]
    }

    fn get_mut(&mut self) -> &mut [f32] {
        &mut self.v[self.off..self.off + self.n]
    }
}

/// Seeded values in [-1, 1), 64-byte aligned.
fn aligned_values(n: usize) -> Aligned {
    Aligned::new(&values(n))
}

/// Seeded values in [-1, 1).
fn values(n: usize) -> Vec<f32> {
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (s >> 40) as f32 / (1u64 << 23) as f32 - 1.0
        })
        .collect()
}

fn pw<const M: usize, const K: usize, const N: usize>(g: &mut BenchmarkGroup<'_, WallTime>) {
    let panels = N.div_ceil(pwconv::NR);
    let (src, w, bias) = (
        aligned_values(M * K),
        aligned_values(panels * K * pwconv::NR),
        aligned_values(panels * pwconv::NR),
    );
    let (src, w, bias) = (src.get(), w.get(), bias.get());
    let mut dst = Aligned::zeros(M * N);
    let dst = dst.get_mut();
    g.throughput(Throughput::Elements((M * K * N) as u64));
    g.bench_function(format!("pwconv {M}x{K}->{N}"), |b| {
        b.iter(|| pwconv::pwconv::<M, K, N, N>(black_box(src), w, bias, Relu, None, dst))
    });
    {
        // The AMX kernel as it runs where AMX is missing (its FMA fallback), on bf16 pairs.
        use pplcnet::kernels::pwconv_amx;
        let words: Vec<f32> = values(2 * pwconv_amx::packed_len(K, N))
            .chunks_exact(2)
            .map(|p| f32::from_bits(p[0].to_bits() >> 16 | p[1].to_bits() & 0xffff_0000))
            .collect();
        let w = Aligned::new(&words);
        let bias = aligned_values(N.div_ceil(pwconv_amx::BIAS_PAD) * pwconv_amx::BIAS_PAD);
        let (w, bias) = (w.get(), bias.get());
        g.bench_function(format!("pwconv_amx {M}x{K}->{N}"), |b| {
            b.iter(|| {
                pwconv_amx::pwconv_amx::<M, K, N, N>(black_box(src), None, w, bias, Relu, None, dst)
            })
        });
    }
    #[cfg(all(target_arch = "x86_64", target_feature = "avx512bf16"))]
    if M > 1 {
        use pplcnet::kernels::pwconv_bf16;
        let w = aligned_values(panels * K.div_ceil(2) * pwconv_bf16::NR);
        let w = w.get();
        g.bench_function(format!("pwconv_bf16 {M}x{K}->{N}"), |b| {
            b.iter(|| {
                pwconv_bf16::pwconv_bf16::<M, K, N, N>(
                    black_box(src),
                    None,
                    w,
                    bias,
                    Relu,
                    None,
                    dst,
                )
            })
        });
    }
}

/// The AMX kernel's conversion of its input rows to bf16 pairs (the A tiles), `M` rows of `K`.
fn amx_convert<const M: usize, const K: usize>(g: &mut BenchmarkGroup<'_, WallTime>) {
    use pplcnet::kernels::pwconv_amx;
    let src = aligned_values(M * K);
    let src = src.get();
    let mut out = vec![0u32; pwconv_amx::row_words(K)];
    g.throughput(Throughput::Elements((M * K) as u64));
    g.bench_function(format!("amx bf16_pairs {M}x{K}"), |b| {
        b.iter(|| {
            for row in black_box(src).chunks_exact(K) {
                pwconv_amx::bf16_pairs(row, None, &mut out);
            }
            black_box(&out);
        })
    });
}

fn dw<const HW: usize, const C: usize, const K: usize, const S: usize>(
    g: &mut BenchmarkGroup<'_, WallTime>,
) {
    let (src, w, bias) = (
        aligned_values(HW * HW * C),
        aligned_values(K * K * C),
        aligned_values(C),
    );
    let (src, w, bias) = (src.get(), w.get(), bias.get());
    let o = HW.div_ceil(S);
    let mut dst = Aligned::zeros(o * o * C);
    let dst = dst.get_mut();
    g.throughput(Throughput::Elements((o * o * C * K * K) as u64));
    g.bench_function(format!("dwconv {HW}x{HW}x{C} k{K} s{S}"), |b| {
        b.iter(|| run_dw::<HW, C, K, S>(black_box(src), w, bias, dst))
    });
}

/// `dwconv` with "same" padding for odd `K` (the output side is `HW / S` rounded up).
fn run_dw<const HW: usize, const C: usize, const K: usize, const S: usize>(
    src: &[f32],
    w: &[f32],
    bias: &[f32],
    dst: &mut [f32],
) {
    match (HW, K, S) {
        (112, 3, 1) => {
            dwconv::dwconv::<112, 112, C, C, 112, 112, 3, 3, 1, 1, 1, 1>(src, w, bias, Relu, dst)
        }
        (14, 5, 1) => {
            dwconv::dwconv::<14, 14, C, C, 14, 14, 5, 5, 1, 1, 2, 2>(src, w, bias, Relu, dst)
        }
        (7, 5, 1) => dwconv::dwconv::<7, 7, C, C, 7, 7, 5, 5, 1, 1, 2, 2>(src, w, bias, Relu, dst),
        (28, 5, 2) => {
            dwconv::dwconv::<28, 28, C, C, 14, 14, 5, 5, 2, 2, 2, 2>(src, w, bias, Relu, dst)
        }
        _ => unreachable!("add the shape to run_dw"),
    }
}

fn stem(g: &mut BenchmarkGroup<'_, WallTime>) {
    const CO: usize = 32;
    let cop = CO.div_ceil(16) * 16;
    let src: Vec<u8> = values(224 * 224 * 3)
        .iter()
        .map(|v| ((v + 1.0) * 127.0) as u8)
        .collect();
    let (w, bias, pad) = (
        aligned_values(9 * 3 * cop),
        aligned_values(cop),
        aligned_values(3),
    );
    let (w, bias, pad) = (w.get(), bias.get(), pad.get());
    let mut dst = Aligned::zeros(112 * 112 * CO);
    let dst = dst.get_mut();
    g.throughput(Throughput::Elements((112 * 112 * CO * 27) as u64));
    g.bench_function("conv_u8 224x224x3->112x112x32 k3 s2", |b| {
        b.iter(|| {
            conv_u8::conv_u8::<224, 224, 3, 112, 112, CO, 3, 3, 2, 2, 1, 1>(
                black_box(&src),
                w,
                bias,
                pad,
                Relu,
                dst,
            )
        })
    });
}

fn kernels(c: &mut Criterion) {
    let mut g = c.benchmark_group("kernels");
    g.sample_size(30);
    stem(&mut g);
    pw::<12544, 32, 64>(&mut g);
    pw::<3136, 128, 128>(&mut g);
    pw::<784, 256, 256>(&mut g);
    pw::<196, 256, 512>(&mut g);
    pw::<196, 512, 256>(&mut g);
    pw::<49, 1024, 1024>(&mut g);
    pw::<1, 1280, 1000>(&mut g);
    amx_convert::<196, 512>(&mut g);
    dw::<112, 32, 3, 1>(&mut g);
    dw::<28, 256, 5, 2>(&mut g);
    dw::<14, 512, 5, 1>(&mut g);
    dw::<7, 1024, 5, 1>(&mut g);
    g.finish();
}

criterion_group!(benches, kernels);
criterion_main!(benches);
