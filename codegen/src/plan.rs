//! Static memory planning: every intermediate value gets an offset in one workspace, chosen by liveness
//! (greedy by size, TVM-style), so the workspace size is a constant of the model and nothing is
//! allocated at run time. Reshapes share their input's storage.

use crate::error::{Error, Result};
use crate::ir::{Graph, Op, ValueId};

/// Offsets are multiples of this many f32 (64 bytes: one cache line, one AVX-512 vector).
pub const ALIGN_F32: usize = 16;

/// Gap (in f32) left after every buffer another one is placed behind: 1088 bytes, so that buffers
/// used together do not start at the same offset within a 4 KiB page. The activations of these
/// models are whole pages, and without the gap a layer's source, residual and destination rows are
/// page-congruent: the CPU's store-to-load check (4 KiB aliasing) then stalls loads behind unrelated
/// stores. Measured (`bench --layers`, 4 interleaved rounds): sum of layers 11.42 -> 11.14 ms,
/// mostly in the 14x14 and 7x7 pointwise layers (7x7x1024->1024 with residual 1.025 -> 0.948 ms).
pub const PAGE_SKEW_F32: usize = 272;

/// Channels of padding after each pixel of the values depthwise convs read when their channel
/// count makes the pixel stride pathological for the L1 cache (see [`pads_channels`]): a pixel
/// stride of 512 f32 (2 KiB) maps every pixel of a 16-channel block to the same two of the 64 L1
/// sets, and a 5x5 window's lines evict each other (criterion, one depthwise 5x5 layer at 14x14:
/// 512 channels 44 us, 496 or 528 channels 22-24 us).
pub const PIXEL_PAD_F32: usize = 16;

/// Whether values of `c` channels read by depthwise convs get padded pixels: a pixel stride that is
/// a multiple of 1 KiB (a 16-channel block's pixels fall into at most 4 L1 sets), or a power of two
/// of at least 512 bytes. Measured on the default model (interleaved medians, 8 rounds, Zen 5):
/// padding multiples of 256 channels 5.30 ms, also 128 channels 5.22, also 64 channels 5.31 (the
/// 112x112x64 layer is bound by memory, and padding makes it 25% larger). Padding every multiple of
/// 128 made PPLCNet_x2_5 1.2% slower (its 640-channel layers; 8 sets per block).
pub fn pads_channels(c: usize) -> bool {
    c % 256 == 0 || (c.is_power_of_two() && c >= 128)
}

/// Where each value lives.
#[derive(Debug, Clone)]
pub struct Plan {
    /// `(offset, len)` in f32 for each value that has storage (`None` for the raw input).
    pub slots: Vec<Option<(usize, usize)>>,
    /// For the values stored with padding after each pixel: the pixel stride in f32 (more than
    /// the channel count; see [`PIXEL_PAD_F32`]).
    pub pixel_stride: Vec<Option<usize>>,
    /// Workspace length in f32.
    pub workspace_len: usize,
}

/// Assigns workspace offsets to the values of an optimized graph, with padded pixels (see
/// [`PIXEL_PAD_F32`]) for the outputs of pointwise convs that only depthwise convs read.
pub fn plan(g: &Graph) -> Result<Plan> {
    plan_with(g, &[])
}

/// A value whose storage or lifetime differs from what the graph implies: the values of a
/// row-banded chain (see [`crate::band`]) live in windows of a few rows, and all of the chain's
/// values are live while any of its layers runs.
#[derive(Debug, Clone, Copy)]
pub struct Override {
    pub value: ValueId,
    /// Storage in f32, if not the whole value.
    pub len: Option<usize>,
    /// Live at least over these node indices.
    pub live: (usize, usize),
}

/// [`plan`] with `overrides`.
pub fn plan_with(g: &Graph, overrides: &[Override]) -> Result<Plan> {
    let nv = g.values.len();
    let pixel_stride: Vec<Option<usize>> = (0..nv).map(|v| padded_stride(g, v)).collect();
    let mut len_override = vec![None; nv];
    for o in overrides {
        len_override[o.value] = o.len;
    }
    let storage = |v: ValueId| match (len_override[v], pixel_stride[v]) {
        (Some(len), _) => len,
        (None, Some(s)) => g.values[v].numel() / g.values[v].shape[1] * s,
        (None, None) => g.values[v].numel(),
    };
    // Storage root of each value: reshapes alias their input.
    let mut root: Vec<ValueId> = (0..nv).collect();
    for n in &g.nodes {
        if matches!(n.op, Op::Reshape) {
            check_reshape_keeps_order(g, n.inputs[0], n.output)
                .map_err(|r| Error::node(&g.source, &n.name, "Reshape", r))?;
            root[n.output] = root[n.inputs[0]];
        }
    }
    // Lifetime of each root: [defined at, last read at] in node indices.
    let end = g.nodes.len();
    let mut first = vec![usize::MAX; nv];
    let mut last = vec![0usize; nv];
    for (i, n) in g.nodes.iter().enumerate() {
        let r = root[n.output];
        first[r] = first[r].min(i);
        last[r] = last[r].max(i);
        for &v in &n.inputs {
            last[root[v]] = last[root[v]].max(i);
        }
    }
    last[root[g.output]] = end;
    for o in overrides {
        let r = root[o.value];
        first[r] = first[r].min(o.live.0);
        last[r] = last[r].max(o.live.1);
    }

    let input_root = root[g.input];
    let mut roots: Vec<ValueId> = (0..nv)
        .filter(|&v| root[v] == v && first[v] != usize::MAX && v != input_root)
        .collect();
    roots.sort_by_key(|&v| (std::cmp::Reverse(storage(v)), first[v]));

    let mut placed: Vec<(usize, usize, usize, usize)> = Vec::new(); // (offset, len, first, last)
    let mut offset_of = vec![None; nv];
    let mut workspace_len = 0;
    for v in roots {
        let len = storage(v);
        let mut conflicts: Vec<(usize, usize)> = placed
            .iter()
            .filter(|&&(_, _, f, l)| f <= last[v] && first[v] <= l)
            .map(|&(o, n, _, _)| (o, n))
            .collect();
        conflicts.sort();
        let mut off = 0;
        for (o, n) in conflicts {
            if off + len <= o {
                break;
            }
            off = off.max(align(o + n + PAGE_SKEW_F32));
        }
        placed.push((off, len, first[v], last[v]));
        offset_of[v] = Some(off);
        workspace_len = workspace_len.max(align(off + len));
    }
    let slots = (0..nv)
        .map(|v| offset_of[root[v]].map(|o| (o, storage(v))))
        .collect();
    Ok(Plan {
        slots,
        pixel_stride,
        workspace_len,
    })
}

/// The padded pixel stride of `v` when it is stored padded: 4-D with more than one pixel, a
/// channel count that [`pads_channels`], written by a pointwise conv without residual and
/// read only by depthwise convs (the kernels that take a pixel stride).
fn padded_stride(g: &Graph, v: ValueId) -> Option<usize> {
    let s = &g.values[v].shape;
    if s.len() != 4 || s[2] * s[3] <= 1 || !pads_channels(s[1]) || v == g.output {
        return None;
    }
    let producer = &g.nodes[g.producer(v)?];
    let Op::Conv(pw) = &producer.op else {
        return None;
    };
    if !pw.is_pointwise() || pw.residual || producer.inputs[0] == g.input {
        return None;
    }
    let consumers = g.consumers(v);
    let depthwise_only = consumers.iter().all(|&i| {
        let n = &g.nodes[i];
        matches!(&n.op, Op::Conv(c) if c.is_depthwise() && !c.residual && c.out_channels() == s[1])
            && n.inputs == [v]
    });
    (!consumers.is_empty() && depthwise_only).then_some(s[1] + PIXEL_PAD_F32)
}

fn align(x: usize) -> usize {
    x.div_ceil(ALIGN_F32) * ALIGN_F32
}

/// Values are stored HWC (channels last) when 4-D: a reshape keeps the bytes only if it moves unit
/// dimensions or the spatial size is 1.
fn check_reshape_keeps_order(
    g: &Graph,
    from: ValueId,
    to: ValueId,
) -> std::result::Result<(), String> {
    let (a, b) = (g.shape(from), g.shape(to));
    let spatial_one = |s: &[usize]| s.len() != 4 || s[2] * s[3] == 1;
    let squeeze = |s: &[usize]| s.iter().copied().filter(|&d| d != 1).collect::<Vec<_>>();
    if (spatial_one(a) && spatial_one(b))
        || squeeze(a) == squeeze(b) && a.len() != 4 && b.len() != 4
    {
        Ok(())
    } else {
        Err(format!(
            "reshape {a:?} -> {b:?} changes the element order of the channels-last layout (not supported)"
        ))
    }
}
