//! Weight prefetching: compute-bound pointwise convs ("hosts") pull later layers' weights into the
//! caches while they run.

use super::LoweredLayer;
use crate::ir::Graph;
use crate::variants::Target;

/// Multiply-adds of a host per byte it prefetches: low enough that the prefetches keep up, high
/// enough that they do not crowd out the host's own memory traffic (measured on Zen 4).
const PREFETCH_MACS_PER_BYTE: u64 = 10;

/// The least L2 per core with which hosts prefetch: the stream they pull passes through L2, and a
/// smaller one loses the host's own weights to it. On Zen 3 (512 KiB), interleaved `bench`, 4-5
/// rounds, per-round minimum: 15.1-15.5 ms with, 14.05-14.1 without at one thread, 8.0-8.2 / 7.3-7.6
/// at two; on Zen 4 (1 MiB) it gained 11.75 -> 11.55 ms (BENCHMARKS-history.md).
const PREFETCH_MIN_L2: usize = 1 << 20;

/// Whether hosts prefetch later layers for `target`: unless its L2 is known to be too small.
fn prefetches_ahead(target: Target) -> bool {
    target.l2_bytes.is_none_or(|b| b >= PREFETCH_MIN_L2)
}

/// Arranges for the weights of every layer to be prefetched by the compute-bound pointwise convs
/// ("hosts") before it, so they come from L2 / L3 instead of DRAM when it runs (the weights are
/// read once per image and, all together, do not stay in the caches from one image to the next).
/// The blob is in execution order; from its end backwards, each layer's weights go to the nearest
/// earlier hosts with capacity left (`PREFETCH_MACS_PER_BYTE` multiply-adds per byte), so each host
/// prefetches one contiguous range, as late as its capacity allows. Nothing for a target with a
/// small L2 ([`prefetches_ahead`]).
pub(super) fn prefetch_ahead(g: &Graph, layers: &mut [LoweredLayer], target: Target) {
    if !prefetches_ahead(target) {
        return;
    }
    let mut left: Vec<u64> = layers
        .iter()
        .map(|l| {
            if l.2.host.is_some() {
                g.node_macs(l.1) as u64 / PREFETCH_MACS_PER_BYTE
            } else {
                0
            }
        })
        .collect();
    // Per host: the blob range it prefetches and the layers it serves.
    let mut ranges: Vec<Option<(std::ops::Range<usize>, usize, usize)>> = vec![None; layers.len()];
    let mut h = layers.len();
    for j in (0..layers.len()).rev() {
        let w = layers[j].3.clone();
        let mut end = w.end;
        h = h.min(j);
        while end > w.start {
            // The nearest host before `j` with capacity left (hosts only fill up from the back).
            while h > 0 && left[h - 1] == 0 {
                h -= 1;
            }
            if h == 0 {
                break;
            }
            let host = h - 1;
            let take = ((end - w.start) as u64).min(left[host] / 4) as usize;
            if take == 0 {
                left[host] = 0;
                continue;
            }
            let start = end - take;
            let r = ranges[host].get_or_insert((start..end, j, j));
            r.0.start = r.0.start.min(start);
            r.1 = r.1.min(j);
            left[host] -= take as u64 * 4;
            end = start;
        }
    }
    for (host, r) in ranges.into_iter().enumerate() {
        let Some((range, first, last)) = r else {
            continue;
        };
        let l = &mut layers[host].2;
        let (body, par_body) = l.host.as_ref().expect("a host").bodies(Some(range.clone()));
        l.ahead = Some(range);
        l.body = body;
        l.par_body = Some(par_body);
        l.summary += &if first == last {
            format!(" +prefetch #{first}")
        } else {
            format!(" +prefetch #{first}-{last}")
        };
    }
}
