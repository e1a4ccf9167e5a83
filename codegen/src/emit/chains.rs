//! Banded chains in the serial path: which layers run banded (see [`crate::band`]), the serial
//! plan's windows for them, and the function that runs each chain.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::LoweredLayer;
use crate::band;
use crate::ir::Graph;
use crate::plan::{self, Plan};

/// A layer's call on a band of rows (see [`crate::band`]).
pub(super) struct BandCall {
    pub(super) rows: band::Rows,
    /// Image width (pixels per row).
    pub(super) width: usize,
    /// Values per output row, as planned (the pixel stride times the width).
    pub(super) out_row: usize,
    pub(super) kind: BandKind,
    /// Generic arguments, and the weight, bias (, pad) and activation arguments.
    pub(super) generics: TokenStream,
    pub(super) args: TokenStream,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum BandKind {
    Stem,
    Depthwise,
    /// A matrix-product variant's `<module>_band` entry point; `ahead`: it takes the weights to
    /// prefetch.
    Pointwise {
        module: &'static str,
        ahead: bool,
    },
}

/// A banded chain: its layers (a range of the lowered layers) and their schedule.
pub(super) struct Chain {
    pub(super) layers: std::ops::Range<usize>,
    schedule: band::Schedule,
}

/// The serial plan's changes for banded `chains`: the values between a chain's layers take their
/// windows, and the chain's input, output and windows are live while any of its layers runs.
pub(super) fn chain_overrides(layers: &[LoweredLayer], chains: &[Chain]) -> Vec<plan::Override> {
    let mut out = Vec::new();
    for Chain {
        layers: chain,
        schedule: sched,
    } in chains
    {
        let live = (layers[chain.start].0, layers[chain.end - 1].0);
        for (k, l) in chain.clone().enumerate() {
            let window =
                (l + 1 < chain.end).then(|| sched.window_rows[k] * band_call(layers, l).out_row);
            out.push(plan::Override {
                value: layers[l].1.output,
                len: window,
                live,
            });
        }
        if let Some(&input) = layers[chain.start].1.inputs.first() {
            out.push(plan::Override {
                value: input,
                len: None,
                live,
            });
        }
    }
    out
}

/// Most bytes of a chain's windows (60% of a 1 MiB L2, leaving room for the weights and the
/// chain's output; the default model's chain takes 546 KiB).
const BAND_WINDOW_BYTES: usize = 640 * 1024;
/// Fewest pixels a pointwise conv of a chain computes per step (a call with fewer keeps its
/// register tiles too short and reloads its weights too often).
const BAND_MIN_PIXELS: usize = 224;

/// The banded chains (ranges of `layers`): runs of layers with band calls (the stem, depthwise
/// and f32 pointwise convs without residual or gate), each reading only the one before, with a
/// pointwise conv among them, and windows that fit [`BAND_WINDOW_BYTES`].
///
/// Chains run only through values of the model's largest image size: the stem's output and the
/// layers after it up to the first stride (at 112x112, 1.6-3.2 MB each, which do not fit L2).
/// Measured on Zen 5 (`bench --layers`, 3-4 interleaved rounds), default model: the 112x112
/// layers 0.488 -> 0.437 ms, whole model 5.342 -> 5.280 ms (8 rounds). Banding the 56x56 layers
/// as well (1.6 MB values) made them slower (pointwise + depthwise 0.264 -> 0.309 ms), although
/// each kernel alone runs as fast on bands as on the whole image.
pub(super) fn find_chains(g: &Graph, layers: &[LoweredLayer]) -> Vec<Chain> {
    let mut readers = vec![0usize; g.values.len()];
    for n in &g.nodes {
        for &v in &n.inputs {
            readers[v] += 1;
        }
    }
    let pixels = |v: usize| {
        let s = g.shape(v);
        if s.len() == 4 {
            s[2] * s[3]
        } else {
            0
        }
    };
    let largest = layers.iter().map(|l| pixels(l.1.output)).max().unwrap_or(0);
    let links = |a: usize, b: usize| {
        let (na, nb) = (layers[a].1, layers[b].1);
        layers[b].2.band.is_some()
            && nb.inputs == [na.output]
            && readers[na.output] == 1
            && na.output != g.output
            && pixels(na.output) >= largest
    };
    let fits = |chain: std::ops::Range<usize>| {
        let s = chain_schedule(layers, chain.clone());
        let bytes: usize = (chain.start..chain.end - 1)
            .zip(&s.window_rows)
            .map(|(l, r)| r * band_call(layers, l).out_row * 4)
            .sum();
        bytes <= BAND_WINDOW_BYTES
    };
    let mut chains = Vec::new();
    let mut a = 0;
    while a < layers.len() {
        let mut b = a + 1;
        if layers[a].2.band.is_some() {
            while b < layers.len() && links(b - 1, b) && fits(a..b + 1) {
                b += 1;
            }
        }
        // Only chains with a pointwise conv: its (wider) output is the value worth keeping out of
        // memory. The AVX512_BF16 build's stem + depthwise pair alone (its pointwise convs have no
        // band calls) measured no faster.
        let pointwise = (a..b).any(|l| {
            let band = layers[l].2.band.as_ref();
            band.is_some_and(|c| matches!(c.kind, BandKind::Pointwise { .. }))
        });
        if b - a >= 2 && pointwise {
            chains.push(Chain {
                layers: a..b,
                schedule: chain_schedule(layers, a..b),
            });
        }
        a = b;
    }
    chains
}

/// The schedule of `chain` with the fewest output rows per step that gives each pointwise conv at
/// least [`BAND_MIN_PIXELS`] pixels per step (but its last).
fn chain_schedule(layers: &[LoweredLayer], chain: std::ops::Range<usize>) -> band::Schedule {
    let calls: Vec<&BandCall> = chain.map(|l| band_call(layers, l)).collect();
    let rows: Vec<band::Rows> = calls.iter().map(|c| c.rows).collect();
    let last = rows[rows.len() - 1].out_rows;
    let mut band_rows = 1;
    loop {
        let s = band::schedule(&rows, band_rows);
        let mut fewest = vec![usize::MAX; calls.len()];
        let mut last_run = vec![None; calls.len()];
        for step in &s.steps {
            if let band::Step::Run { layer, rows, .. } = step {
                // Every run but the last of each layer.
                if let Some(prev) = last_run[*layer].replace(rows.len()) {
                    fewest[*layer] = fewest[*layer].min(prev);
                }
            }
        }
        let enough = calls.iter().zip(&fewest).all(|(c, &f)| {
            !matches!(c.kind, BandKind::Pointwise { .. })
                || f == usize::MAX
                || f * c.width >= BAND_MIN_PIXELS
        });
        if enough || band_rows >= last {
            return s;
        }
        band_rows += 1;
    }
}

fn band_call<'a>(layers: &'a [LoweredLayer], l: usize) -> &'a BandCall {
    layers[l].2.band.as_ref().expect("a banded layer")
}

pub(super) fn chain_name(chain: std::ops::Range<usize>) -> Ident {
    format_ident!("band_{:03}_{:03}", chain.start, chain.end - 1)
}

/// The function running `chain` banded (see [`crate::band`]), under the serial `plan` (which gives
/// each value between the chain's layers its window, see [`chain_overrides`]).
pub(super) fn emit_chain(plan: &Plan, layers: &[LoweredLayer], chain: &Chain) -> TokenStream {
    let Chain {
        layers: chain,
        schedule: sched,
    } = chain;
    let calls: Vec<&BandCall> = chain.clone().map(|l| band_call(layers, l)).collect();
    let n = calls.len();
    // The windows: the planned storage of the values between the chain's layers (see
    // `chain_overrides`).
    let win: Vec<(usize, usize)> = chain
        .clone()
        .take(n - 1)
        .map(|l| plan.slots[layers[l].1.output].expect("storage"))
        .collect();
    // Each pointwise host prefetches its share of `ahead` per run.
    let runs: Vec<usize> = (0..n)
        .map(|i| {
            sched
                .steps
                .iter()
                .filter(|s| matches!(s, band::Step::Run { layer, .. } if *layer == i))
                .count()
        })
        .collect();
    let mut run_no = vec![0usize; n];
    let mut body = Vec::new();
    for step in &sched.steps {
        match step {
            band::Step::Shift {
                window, from, rows, ..
            } => {
                let row = calls[*window].out_row;
                let (o, _) = win[*window];
                let (a, b) = (o + from * row, o + (from + rows) * row);
                if *rows > 0 && *from > 0 {
                    body.push(quote!(ws.copy_within(#a..#b, #o);));
                }
            }
            band::Step::Run {
                layer,
                rows,
                src_base,
                dst_base,
            } => {
                let i = *layer;
                let c = calls[i];
                let node = layers[chain.start + i].1;
                let d0 = if i == n - 1 {
                    plan.slots[node.output].expect("storage").0 + rows.start * c.out_row
                } else {
                    win[i].0 + (rows.start - dst_base) * c.out_row
                };
                let ahead = match &layers[chain.start + i].2.ahead {
                    Some(r) => {
                        let cut = |j: usize| {
                            if j == runs[i] {
                                r.end
                            } else {
                                r.start + (r.len() * j / runs[i]) / 16 * 16
                            }
                        };
                        (cut(run_no[i]), cut(run_no[i] + 1))
                    }
                    None => (0, 0),
                };
                run_no[i] += 1;
                let f = step_name(chain, i);
                let input = (c.kind == BandKind::Stem).then(|| quote!(input,));
                let (r0, r1, a0, a1) = (rows.start, rows.end, ahead.0, ahead.1);
                body.push(quote!(#f(#input ws, w, #r0..#r1, #src_base, #d0, #a0..#a1);));
            }
        }
    }
    // One function per layer, called by the steps (the rows, the input window's first row, where the
    // output rows go and the prefetch share vary): straight-line steps of a few instructions each.
    let mut helpers = Vec::new();
    for (i, c) in calls.iter().enumerate() {
        let node = layers[chain.start + i].1;
        let f = step_name(chain, i);
        let (generics, args, row) = (&c.generics, &c.args, c.out_row);
        let src = if i == 0 {
            plan.slots[node.inputs[0]]
        } else {
            Some(win[i - 1])
        };
        let split = match src {
            Some((so, sl)) => {
                quote!(let ([src], dst) = k::split::<1>(ws, [(#so, #sl)], (d0, rows.len() * #row));)
            }
            None => quote!(let dst = &mut ws[d0..d0 + rows.len() * #row];),
        };
        let (input_param, call) = match c.kind {
            BandKind::Stem => (
                quote!(input: &[u8; INPUT_LEN],),
                quote!(k::conv_u8::conv_u8_rows::#generics(&input[..], #args, rows, dst);),
            ),
            BandKind::Depthwise => (
                quote!(),
                quote!(k::dwconv::dwconv_band::#generics(src, row0, #args, rows, dst);),
            ),
            BandKind::Pointwise { module, ahead } => {
                let width = c.width;
                let m = format_ident!("{module}");
                let f = format_ident!("{module}_band");
                let ahead = ahead.then(|| quote!(, &w[ahead]));
                (
                    quote!(),
                    quote! {
                        let pixels = rows.start * #width..rows.end * #width;
                        k::#m::#f::#generics(src, row0 * #width, #args, pixels, dst #ahead);
                    },
                )
            }
        };
        let doc = format!(" Rows of layer #{} in its chain.", chain.start + i);
        helpers.push(quote! {
            #[doc = #doc]
            #[inline(never)]
            // A width or row of 1 multiplies by 1.
            #[allow(unused_variables, clippy::identity_op)]
            fn #f(
                #input_param
                ws: &mut [f32],
                w: &[f32],
                rows: core::ops::Range<usize>,
                row0: usize,
                d0: usize,
                ahead: core::ops::Range<usize>,
            ) {
                #split
                #call
            }
        });
    }
    let name = chain_name(chain.clone());
    let input_param = if calls[0].kind == BandKind::Stem {
        quote!(input: &[u8; INPUT_LEN],)
    } else {
        quote!()
    };
    let doc = format!(
        " Layers #{}-{} banded: {} steps, windows {} bytes.",
        chain.start,
        chain.end - 1,
        sched.steps.len(),
        win.iter().map(|w| w.1 * 4).sum::<usize>()
    );
    quote! {
        #[doc = #doc]
        #[inline(never)]
        fn #name(#input_param ws: &mut [f32], w: &[f32]) {
            #(#body)*
        }

        #(#helpers)*
    }
}

fn step_name(chain: &std::ops::Range<usize>, i: usize) -> Ident {
    format_ident!(
        "band_{:03}_{:03}_layer_{:03}",
        chain.start,
        chain.end - 1,
        chain.start + i
    )
}
