//! Pointwise (1x1) convolution and fully connected layers as AMX bf16 tile programs
//! (`PPLCNET_PRECISION=bf16` built with the AMX kernels):
//! `dst[M][N] = act(src[M][K] W[K][N] + b) (+ residual)`, inputs and weights rounded to bf16, sums
//! in f32 by `tdpbf16ps`.
//!
//! Register plan (one tile configuration per call, released at its end): accumulators C in tiles
//! 0-3 as a 2 x 2 block of 16 pixels x 16 output channels, input tiles A in 4-5 (16 pixels x 32
//! bf16 input channels), weight tiles B in 6-7 (16 pairs of input channels x 16 output channels,
//! "VNNI-2" pairs). A block of 32 pixels is converted to bf16 once (into a stack buffer), then
//! every block of 32 output channels runs over it, K in steps of 32.
//!
//! Weights arrive packed by `pplcnet-codegen`'s `variants::amx_bf16` as 1 KiB B tiles
//! `[ceil(N/16)][ceil(K/32)][16][16]` of 32-bit words, word `(t, s, r, c)` holding
//! `bf16(w[16t + c][32s + 2r])` in its low half and `bf16(w[16t + c][32s + 2r + 1])` in its high
//! half, zero past N and K, bf16 denormals as zero. The bias is padded to a multiple of 32.
//!
//! Rows: tiles of at most 16 rows, as few as cover the layer and evened out ([`tile_rows`]: 13 for
//! the 49-pixel layers); when they do not divide the layer, the last tile is moved back to end at
//! the layer's last row (its first rows are recomputed, to the same bits, and stored once), so
//! every tile reads real rows and the configuration stays one per call. What runs
//! ([`amx::backend`]): the hardware; where AMX is missing or refused, the bit-identical FMA
//! fallback of `pwconv_amx/direct.rs` (no tiles); the scalar emulation in tests.

use core::ops::Range;

use super::amx::{self, bf16_bits, emu::Emu, Backend, Config, Tiles};
use super::par::{even_cut, run_split, Team};
use super::simd::{load, load_n, store_n, L};
use super::Activation;

/// Output channels per weight tile.
pub const TILE_N: usize = pplcnet_spec::layout::AMX_TILE_N;
/// Input channels per weight tile and K step.
pub const TILE_K: usize = pplcnet_spec::layout::AMX_TILE_K;
/// Largest input channel count (the stack buffer holds 32 rows of it).
pub const MAX_K: usize = pplcnet_spec::layout::AMX_MAX_K;
/// The bias's padding.
pub const BIAS_PAD: usize = pplcnet_spec::layout::PW_NR;

/// Pixels per tile.
const TILE_M: usize = 16;
/// Tile numbers: accumulators `C + 2i + j`, inputs `A + i`, weights `B + j`.
const C: usize = 0;
const A: usize = 4;
const B: usize = 6;
/// Bytes of one weight tile.
const B_TILE_BYTES: usize = TILE_K / 2 * TILE_N * 4;

/// bf16 pairs per converted input row: K rounded up to a K step.
pub const fn row_words(k: usize) -> usize {
    k.div_ceil(TILE_K) * TILE_K / 2
}

/// `f32` words of the packed weights of a `K x N` layer.
pub const fn packed_len(k: usize, n: usize) -> usize {
    n.div_ceil(TILE_N) * k.div_ceil(TILE_K) * B_TILE_BYTES / 4
}

/// The configuration of every call: C and A tiles of `rows` rows ([`tile_rows`]), B tiles of 16;
/// all 64 bytes wide.
pub fn config(rows: usize) -> Config {
    let r = rows as u8;
    Config {
        rows: [r, r, r, r, r, r, TILE_M as u8, TILE_M as u8],
        colsb: [64; amx::TILES],
    }
}

/// A tile of rows: it computes rows `start..start + height` and stores `store`.
#[derive(Debug, Clone, PartialEq)]
struct RowTile {
    start: usize,
    store: Range<usize>,
}

/// Rows per tile of an `m`-pixel layer: the fewest tiles of at most 16 rows, evened out. A 49-pixel
/// layer (the 7x7 stage) gets 4 tiles of 13 rows, 52 rows of work, where 16-row tiles need the same
/// 4 tiles (the last moved back to end at row 49) but 64 rows of work; layers of whole tiles (196,
/// 784, ... pixels) keep 16.
pub const fn tile_rows(m: usize) -> usize {
    m.div_ceil(m.div_ceil(TILE_M))
}

/// The row tiles storing `rows` of an `m`-pixel layer: [`tile_rows`] rows each, the last moved back
/// to end inside the layer.
fn row_tiles(m: usize, rows: Range<usize>) -> impl Iterator<Item = RowTile> {
    let h = tile_rows(m);
    let mut s = rows.start;
    core::iter::from_fn(move || {
        if s >= rows.end {
            return None;
        }
        let start = s.min(m - h);
        let end = (start + h).min(rows.end);
        let t = RowTile {
            start,
            store: s..end,
        };
        s = end;
        Some(t)
    })
}

/// A layer's operands.
struct Layer<'a> {
    m: usize,
    k: usize,
    n: usize,
    ds: usize,
    src: &'a [f32],
    scale: Option<&'a [f32]>,
    w: &'a [u8],
    bias: &'a [f32],
    residual: Option<&'a [f32]>,
}

/// Where a part's `dst` starts: its first row and first column.
#[derive(Clone, Copy)]
struct Origin {
    row: usize,
    col: usize,
}

impl Layer<'_> {
    /// Row `r` as bf16 pairs (times the input scale, if any), zero past K ([`bf16_pairs`]).
    #[inline(always)]
    fn convert(&self, r: usize, out: &mut [u32]) {
        bf16_pairs(&self.src[r * self.k..(r + 1) * self.k], self.scale, out);
    }

    /// Rows `rows` and weight tiles `ntiles` on tile machine `t`; `dst` starts at `at`.
    #[allow(clippy::too_many_arguments)]
    fn run<T: Tiles>(
        &self,
        t: &mut T,
        act: impl Activation,
        rows: Range<usize>,
        ntiles: Range<usize>,
        dst: &mut [f32],
        at: Origin,
        abuf: &mut [u32],
    ) {
        let kw = row_words(self.k);
        let ksteps = kw * 2 / TILE_K;
        let h = tile_rows(self.m);
        assert!(abuf.len() >= 2 * TILE_M * kw);
        t.configure(&config(h));
        let mut cbuf = [[0.0f32; TILE_M * TILE_N]; 4];
        let mut tiles = row_tiles(self.m, rows);
        while let Some(first) = tiles.next() {
            let block = [Some(first), tiles.next()];
            let mt = if block[1].is_some() { 2 } else { 1 };
            for (i, rt) in block.iter().flatten().enumerate() {
                for r in 0..h {
                    let o = (i * TILE_M + r) * kw;
                    self.convert(rt.start + r, &mut abuf[o..o + kw]);
                }
            }
            let a_bytes: &[u8] = bytemuck::cast_slice(&abuf[..]);
            let mut nt = ntiles.start;
            while nt < ntiles.end {
                let nn = (ntiles.end - nt).min(2);
                for i in 0..mt {
                    for j in 0..nn {
                        t.zero(C + 2 * i + j);
                    }
                }
                for ks in 0..ksteps {
                    for i in 0..mt {
                        let o = (i * TILE_M * kw + ks * TILE_K / 2) * 4;
                        t.load(A + i, &a_bytes[o..], kw * 4);
                    }
                    for j in 0..nn {
                        let o = ((nt + j) * ksteps + ks) * B_TILE_BYTES;
                        t.load(B + j, &self.w[o..], TILE_N * 4);
                    }
                    for i in 0..mt {
                        for j in 0..nn {
                            t.dp_bf16(C + 2 * i + j, A + i, B + j);
                        }
                    }
                }
                for (i, rt) in block.iter().flatten().enumerate() {
                    for j in 0..nn {
                        let c = &mut cbuf[2 * i + j];
                        t.store(
                            C + 2 * i + j,
                            bytemuck::cast_slice_mut(&mut c[..]),
                            TILE_N * 4,
                        );
                        self.epilogue(act, rt, nt + j, c, dst, at);
                    }
                }
                nt += nn;
            }
        }
    }

    /// Bias, activation and residual of accumulator tile `c` (rows of `rt`, weight tile `nt`).
    #[inline(always)]
    fn epilogue(
        &self,
        act: impl Activation,
        rt: &RowTile,
        nt: usize,
        c: &[f32; TILE_M * TILE_N],
        dst: &mut [f32],
        at: Origin,
    ) {
        let n0 = nt * TILE_N;
        let cols = TILE_N.min(self.n - n0);
        let bias = load(&self.bias[n0..]);
        for r in rt.store.clone() {
            let cr = r - rt.start;
            let mut v = act.apply(load(&c[cr * L..]) + bias);
            if let Some(res) = self.residual {
                v += load_n(&res[r * self.n + n0..], cols);
            }
            let o = (r - at.row) * self.ds + n0 - at.col;
            store_n(&mut dst[o..], v, cols);
        }
    }

    /// [`Layer::run`] on the current [`amx::backend`], with an input buffer sized for K.
    fn dispatch(
        &self,
        act: impl Activation,
        rows: Range<usize>,
        ntiles: Range<usize>,
        dst: &mut [f32],
        at: Origin,
    ) {
        let kw = row_words(self.k);
        if kw <= 64 {
            self.with_buf::<{ 2 * TILE_M * 64 }>(act, rows, ntiles, dst, at)
        } else if kw <= 256 {
            self.with_buf::<{ 2 * TILE_M * 256 }>(act, rows, ntiles, dst, at)
        } else {
            self.with_buf::<{ 2 * TILE_M * MAX_K / 2 }>(act, rows, ntiles, dst, at)
        }
    }

    /// The input buffer of `W` words on the stack (not inlined: only this frame holds it).
    #[inline(never)]
    fn with_buf<const W: usize>(
        &self,
        act: impl Activation,
        rows: Range<usize>,
        ntiles: Range<usize>,
        dst: &mut [f32],
        at: Origin,
    ) {
        let mut abuf = [0u32; W];
        match amx::backend() {
            #[cfg(target_arch = "x86_64")]
            Backend::Hardware => {
                if let Some(mut t) = amx::hw::Hw::new() {
                    return self.run(&mut t, act, rows, ntiles, dst, at, &mut abuf);
                }
            }
            Backend::Emulated => {
                return self.run(&mut Emu::new(), act, rows, ntiles, dst, at, &mut abuf);
            }
            _ => {}
        }
        self.run_direct(
            act,
            rows,
            ntiles,
            dst,
            at,
            bytemuck::cast_slice_mut(&mut abuf),
        );
    }
}

/// `row` (times `scale`, if any) as the A operand of the tiles: word `j` holds `bf16(row[2j])` in
/// its low half and `bf16(row[2j + 1])` in its high half (rounded as `bf16_bits`: ties to even,
/// NaN quiet), zero past the row's end. Sixteen values at a time, the high halves of the rounded
/// values picked with one shuffle (1.6x faster than shifting and merging pairs: 0.23 -> 0.14 ns
/// per value on Zen 3).
#[inline(always)]
pub fn bf16_pairs(row: &[f32], scale: Option<&[f32]>, out: &mut [u32]) {
    let k = row.len();
    assert!(out.len() >= k.div_ceil(2) && scale.is_none_or(|s| s.len() == k));
    let full = k / L * L;
    for (c, o) in (0..full).step_by(L).zip(out.chunks_exact_mut(L / 2)) {
        let mut x = load(&row[c..]);
        if let Some(s) = scale {
            x *= load(&s[c..]);
        }
        let b = direct::bf16_lanes(x).to_bits().to_array();
        if cfg!(target_endian = "little") {
            let h: [u16; 2 * L] = bytemuck::cast(b);
            let o: &mut [u16] = bytemuck::cast_slice_mut(o);
            for (j, o) in o.iter_mut().enumerate() {
                *o = h[2 * j + 1];
            }
        } else {
            for (j, o) in o.iter_mut().enumerate() {
                *o = b[2 * j] >> 16 | b[2 * j + 1];
            }
        }
    }
    let pair = |x0: f32, x1: f32| u32::from(bf16_bits(x0)) | u32::from(bf16_bits(x1)) << 16;
    let at = |c: usize| row.get(c).map_or(0.0, |x| x * scale.map_or(1.0, |s| s[c]));
    let mut j = full / 2;
    for c in (full..k).step_by(2) {
        out[j] = pair(at(c), at(c + 1));
        j += 1;
    }
    out[j..].fill(0);
}

/// The operands of `m <= M` pixels checked against the shape.
#[allow(clippy::too_many_arguments)]
fn layer<'a, const M: usize, const K: usize, const N: usize, const DS: usize>(
    m: usize,
    src: &'a [f32],
    scale: Option<&'a [f32]>,
    w: &'a [f32],
    bias: &'a [f32],
    residual: Option<&'a [f32]>,
) -> Layer<'a> {
    assert!(1 <= m && m <= M && K >= 1 && N >= 1 && K <= MAX_K && N <= DS);
    assert!(src.len() == m * K && w.len() == packed_len(K, N));
    assert!(bias.len() == N.div_ceil(BIAS_PAD) * BIAS_PAD);
    assert!(residual.is_none_or(|r| r.len() == m * N) && scale.is_none_or(|s| s.len() == K));
    Layer {
        m,
        k: K,
        n: N,
        ds: DS,
        src,
        scale,
        w: bytemuck::cast_slice(w),
        bias,
        residual,
    }
}

/// See the module docs. `scale` multiplies each input channel before the rounding (a
/// squeeze-excite gate); `dst` rows are `DS >= N` values apart.
#[inline]
pub fn pwconv_amx<const M: usize, const K: usize, const N: usize, const DS: usize>(
    src: &[f32],
    scale: Option<&[f32]>,
    w: &[f32],
    bias: &[f32],
    act: impl Activation,
    residual: Option<&[f32]>,
    dst: &mut [f32],
) {
    let l = layer::<M, K, N, DS>(M, src, scale, w, bias, residual);
    assert!(dst.len() == M * DS);
    l.dispatch(
        act,
        0..M,
        0..N.div_ceil(TILE_N),
        dst,
        Origin { row: 0, col: 0 },
    );
}

/// Rows `rows` of [`pwconv_amx`] (no residual, no scale) from a band of input pixels: `src` holds
/// whole input pixels starting at pixel `src_row0` (at least `rows`), `dst` just the output rows.
/// For row-banded execution (see `pplcnet-codegen`'s `band`): the band is a layer of its own
/// ([`tile_rows`] of its pixel count, the last tile moved back inside it), with the same results
/// as [`pwconv_amx`] (each output depends only on its row, its column and the K order).
#[inline(never)]
#[allow(clippy::too_many_arguments)]
pub fn pwconv_amx_band<const M: usize, const K: usize, const N: usize, const DS: usize>(
    src: &[f32],
    src_row0: usize,
    w: &[f32],
    bias: &[f32],
    act: impl Activation,
    rows: Range<usize>,
    dst: &mut [f32],
) {
    assert!(src_row0 <= rows.start && rows.start <= rows.end && rows.end <= M);
    assert!(src.len() % K == 0 && (rows.end - src_row0) * K <= src.len());
    if rows.is_empty() {
        return;
    }
    let band = &src[(rows.start - src_row0) * K..(rows.end - src_row0) * K];
    let l = layer::<M, K, N, DS>(rows.len(), band, None, w, bias, None);
    assert!(dst.len() == rows.len() * DS);
    l.dispatch(
        act,
        0..rows.len(),
        0..N.div_ceil(TILE_N),
        dst,
        Origin { row: 0, col: 0 },
    );
}

/// [`pwconv_amx`] split over `team`: by 16-row tiles (by rows on the FMA fallback), or by weight
/// tiles when there is one pixel.
/// Bit-identical to it (each output depends only on its row, its column and the K order).
#[allow(clippy::too_many_arguments)]
pub fn pwconv_amx_par<const M: usize, const K: usize, const N: usize, const DS: usize>(
    team: &dyn Team,
    src: &[f32],
    scale: Option<&[f32]>,
    w: &[f32],
    bias: &[f32],
    act: impl Activation + Sync,
    residual: Option<&[f32]>,
    dst: &mut [f32],
) {
    let l = layer::<M, K, N, DS>(M, src, scale, w, bias, residual);
    let ntiles = N.div_ceil(TILE_N);
    if M == 1 {
        assert!(DS == N && dst.len() == N);
        let f = |t: Range<usize>, d: &mut [f32]| {
            let at = Origin {
                row: 0,
                col: t.start * TILE_N,
            };
            l.dispatch(act, 0..1, t, d, at)
        };
        run_split(team, dst, ntiles, TILE_N, |i, n| even_cut(ntiles, i, n), &f);
        return;
    }
    assert!(dst.len() == M * DS);
    let f = |r: Range<usize>, d: &mut [f32]| {
        let at = Origin {
            row: r.start,
            col: 0,
        };
        l.dispatch(act, r, 0..ntiles, d, at)
    };
    // Whole tiles for the tile machines (49 rows: 26 and 23, two tiles of 13 each); anywhere for
    // the FMA fallback (25 and 24).
    let unit = match amx::backend() {
        Backend::Simd => 1,
        _ => tile_rows(M),
    };
    let cut = |i, n| ((even_cut(M, i, n) + unit / 2) / unit * unit).min(M);
    run_split(team, dst, M, DS, cut, &f);
}

mod direct;
#[cfg(test)]
mod tests;
