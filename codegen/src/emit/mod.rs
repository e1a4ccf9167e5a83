//! Code emission: an optimized, planned graph -> one Rust module of straight-line calls to
//! shape-specialized kernels (one function per layer), plus the packed weight blob it embeds.
//! The serial entry point runs the model's first, full-resolution layers as banded chains
//! (`chains`, under a plan of its own); the parallel one runs every layer whole.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

mod chains;
mod gemm;
mod lower;
mod prefetch;

use crate::error::{Error, Result};
use crate::ir::{Graph, Node, Op};
use crate::pack::{self, Blob, Segment};
use crate::plan::{self, Plan};
use crate::variants::Target;
use chains::{chain_name, chain_overrides, emit_chain, find_chains, BandCall};
use gemm::PwCall;
use lower::lower;
use prefetch::prefetch_ahead;

/// What the generated module is told about the model.
pub struct ModuleInfo<'a> {
    /// Path prefix of the runtime crate in generated code (`crate` inside pplcnet, `::pplcnet` elsewhere).
    pub runtime: &'a str,
    /// Absolute path of the weight blob for `include_bytes!`.
    pub weights_path: &'a str,
    pub labels: &'a [String],
    /// Parameters and multiply-adds of the model as loaded (before passes).
    pub params: usize,
    pub macs: usize,
    pub output_is_probabilities: bool,
    /// The graph ends in a sigmoid: one independent probability per class.
    pub output_is_multilabel: bool,
    pub seeded_default: bool,
    /// The precision and instruction set of the matrix products.
    pub target: Target,
}

/// The generated source and weights.
pub struct Emitted {
    pub code: String,
    pub weights: Vec<u8>,
    /// One line per kernel call, for `info` and docs.
    pub layers: Vec<String>,
}

/// Emits the module for `g` (optimized) with buffers from `plan`.
pub fn emit(g: &Graph, plan: &Plan, info: &ModuleInfo) -> Result<Emitted> {
    let rt: TokenStream = info
        .runtime
        .parse()
        .map_err(|_| Error::file(&g.source, "bad runtime path"))?;
    let mut blob = Blob::default();
    let mut fns = Vec::new();
    let mut calls = Vec::new();
    let mut par_calls = Vec::new();
    let mut layers = Vec::new();
    let mut layer_infos = Vec::new();
    let mut lowered_layers = lower_all(g, plan, &mut blob, info.target)?;
    prefetch_ahead(g, &mut lowered_layers, info.target);
    // The serial path runs banded chains; its plan then differs from the parallel path's (the
    // chains' values live in windows), and its layers are lowered again under it.
    let chains = find_chains(g, &lowered_layers);
    let banded_plan;
    let (serial_plan, mut serial_layers) = if chains.is_empty() {
        (plan, None)
    } else {
        banded_plan = plan::plan_with(g, &chain_overrides(&lowered_layers, &chains))?;
        let mut same_blob = Blob::default();
        let mut relowered = lower_all(g, &banded_plan, &mut same_blob, info.target)?;
        let bits = |b: &Blob| b.data.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert!(bits(&same_blob) == bits(&blob), "lowering is deterministic");
        prefetch_ahead(g, &mut relowered, info.target);
        (&banded_plan, Some(relowered))
    };
    let mut chain_of = vec![None; lowered_layers.len()];
    for (c, chain) in chains.iter().enumerate() {
        let range = &chain.layers;
        let note = format!(" +band #{}-{}", range.start, range.end - 1);
        for l in range.clone() {
            chain_of[l] = Some(c);
            lowered_layers[l].2.summary += &note;
        }
        let serial = serial_layers.as_deref().expect("relowered");
        fns.push(emit_chain(serial_plan, serial, chain));
    }
    // Without chains both paths share one plan, so a layer that is not split over the team runs
    // the serial path's function in the parallel path too.
    let same_plan = serial_layers.is_none();
    let mut used = std::collections::BTreeSet::new();
    for (li, (_, node, lowered, _)) in lowered_layers.into_iter().enumerate() {
        let fname = format_ident!("layer_{:03}_{}", li, lowered.kernel);
        let doc = format!(" Layer {li}, node `{}`: {}", node.name, lowered.summary);
        let uses_input = lowered.reads_pixels;
        let input_param = if uses_input {
            quote!(input: &[u8; INPUT_LEN],)
        } else {
            quote!()
        };
        let input_arg = if uses_input { quote!(input,) } else { quote!() };
        let idx = layers.len();
        // The serial path: the layer's own function, or its chain's (called at the chain's start).
        let serial_body = match serial_layers.as_mut() {
            Some(s) => std::mem::take(&mut s[li].2.body),
            None => lowered.body.clone(),
        };
        match chain_of[li].map(|c| &chains[c].layers) {
            None => {
                fns.push(quote! {
                    #[doc = #doc]
                    #[inline(never)]
                    #[allow(unused_variables)]
                    fn #fname(#input_param ws: &mut [f32], w: &[f32]) {
                        #serial_body
                    }
                });
                calls.push(quote!(#fname(#input_arg ws, w); after_layer(#idx);));
            }
            Some(chain) if chain.start == li => {
                let chain_fn = chain_name(chain.clone());
                let idxs = chain.clone();
                calls.push(quote!(#chain_fn(#input_arg ws, w); #(after_layer(#idxs);)*));
            }
            Some(_) => {}
        }
        // The parallel path (under the parallel plan): heavy layers split over the team.
        let par_fn = match lowered.par_body {
            Some(par_body) => Some((
                format_ident!("par_{:03}_{}", li, lowered.kernel),
                par_body,
                quote!(, team: &dyn k::par::Team),
                quote!(, team),
            )),
            None if same_plan => None,
            None => Some((
                format_ident!("seq_{:03}_{}", li, lowered.kernel),
                lowered.body,
                quote!(),
                quote!(),
            )),
        };
        match par_fn {
            Some((par_name, par_body, team_param, team_arg)) => {
                let par_doc = format!(
                    " Layer {li}, node `{}`, in the parallel path: {}",
                    node.name, lowered.summary
                );
                fns.push(quote! {
                    #[doc = #par_doc]
                    #[inline(never)]
                    #[allow(unused_variables)]
                    fn #par_name(#input_param ws: &mut [f32], w: &[f32] #team_param) {
                        #par_body
                    }
                });
                par_calls.push(quote!(#par_name(#input_arg ws, w #team_arg); after_layer(#idx);));
            }
            None => par_calls.push(quote!(#fname(#input_arg ws, w); after_layer(#idx);)),
        }
        used.insert(lowered.variant.clone());
        let (kernel, variant, summary, macs) = (
            lowered.kernel,
            lowered.variant.clone(),
            lowered.summary.clone(),
            g.node_macs(node) as u64,
        );
        let chain = match chain_of[li].map(|c| &chains[c].layers) {
            Some(c) => {
                let (first, last) = (c.start, c.end - 1);
                quote!(Some((#first, #last)))
            }
            None => quote!(None),
        };
        layer_infos
            .push(quote!(#rt::LayerInfo { kernel: #kernel, variant: #variant, summary: #summary, macs: #macs, chain: #chain }));
        layers.push(format!("{:<14} {}", lowered.kernel, lowered.summary));
    }
    let ws_len = plan.workspace_len.max(serial_plan.workspace_len).max(16);
    let layout_checks = layout_checks(&used);

    let in_shape = g.shape(g.input);
    let (h, w) = (in_shape[2], in_shape[3]);
    let input_len = 3 * h * w;
    let (out_off, out_len) = plan.slots[g.output]
        .ok_or_else(|| Error::file(&g.source, "the output is the raw input"))?;
    let out_end = out_off + out_len;
    let (serial_out_off, _) = serial_plan.slots[g.output].expect("the output has storage");
    let serial_out_end = serial_out_off + out_len;
    if info.labels.len() != out_len {
        return Err(Error::file(
            &g.source,
            format!(
                "{} labels given for a model with {out_len} outputs",
                info.labels.len()
            ),
        ));
    }
    let weights = blob.to_bytes();
    let weight_bytes = weights.len();
    let ws_bytes = ws_len * 4;
    let name = &g.name;
    // The enum's variant as written in Rust (`F32`, `Bf16`): its derived `Debug`.
    let precision = format_ident!("{}", format!("{:?}", info.target.precision));
    // The file name only: an absolute build path would make the binary depend on where it was built.
    let source = g.source.file_name().map_or_else(
        || g.source.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let (params, macs) = (info.params as u64, info.macs as u64);
    let output = if info.output_is_probabilities {
        quote!(Probabilities)
    } else if info.output_is_multilabel {
        quote!(MultiLabel)
    } else {
        quote!(Logits)
    };
    let seeded = info.seeded_default;
    let weights_path = info.weights_path;
    let labels = info.labels;

    let tokens = quote! {
        #[allow(unused_imports)]
        use #rt::kernels as k;

        // The layouts the weights were packed for, as the kernels define them.
        const _: () = { #layout_checks };

        /// Image height the model takes.
        pub const INPUT_HEIGHT: usize = #h;
        /// Image width the model takes.
        pub const INPUT_WIDTH: usize = #w;
        /// Bytes of one input image: `INPUT_HEIGHT * INPUT_WIDTH * 3`, RGB, row-major (HWC).
        pub const INPUT_LEN: usize = #input_len;
        /// Number of model outputs (classes).
        pub const NUM_CLASSES: usize = #out_len;
        /// Length of [`Workspace`] in `f32`.
        pub const WORKSPACE_LEN: usize = #ws_len;

        /// What was compiled into this module.
        pub const MODEL: #rt::ModelInfo = #rt::ModelInfo {
            name: #name,
            source: #source,
            params: #params,
            macs: #macs,
            output: #rt::OutputKind::#output,
            workspace_bytes: #ws_bytes,
            weight_bytes: #weight_bytes,
            seeded_default: #seeded,
            precision: #rt::Precision::#precision,
            layers: &[#(#layer_infos),*],
        };

        /// Class names, index = class id.
        pub static LABELS: [&str; NUM_CLASSES] = [#(#labels),*];

        #[repr(C, align(64))]
        struct Aligned<T: ?Sized>(T);

        static WEIGHT_BYTES: &Aligned<[u8; #weight_bytes]> = &Aligned(*include_bytes!(#weights_path));

        /// Activation memory for one inference: a fixed-size, 64-byte aligned buffer that can live in a
        /// `static`, in a `Box` made once ([`Workspace::new_boxed`]), or on a large enough stack.
        #[repr(C, align(64))]
        pub struct Workspace {
            buf: [f32; WORKSPACE_LEN],
        }

        impl Workspace {
            /// A zeroed workspace (usable in `static` initializers).
            pub const fn new() -> Self {
                Workspace { buf: [0.0; WORKSPACE_LEN] }
            }
        }

        impl Default for Workspace {
            fn default() -> Self {
                Self::new()
            }
        }

        // SAFETY: `Workspace` is a `repr(C)` wrapper of an `f32` array, for which all-zero bytes are valid.
        unsafe impl #rt::__private::bytemuck::Zeroable for Workspace {}

        /// Runs the model on one image (`INPUT_LEN` bytes of RGB, HWC) using `ws` for all intermediate
        /// values. Performs no heap allocation.
        #[inline]
        pub fn classify_with(input: &[u8; INPUT_LEN], ws: &mut Workspace) -> [f32; NUM_CLASSES] {
            classify_with_hook(input, ws, |_| {})
        }

        /// [`classify_with`], calling `after_layer(i)` after the `i`-th entry of `MODEL.layers` ran
        /// (for per-layer profiling; a no-op closure compiles away).
        pub fn classify_with_hook(
            input: &[u8; INPUT_LEN],
            ws: &mut Workspace,
            mut after_layer: impl FnMut(usize),
        ) -> [f32; NUM_CLASSES] {
            let w: &[f32] = #rt::__private::bytemuck::cast_slice(&WEIGHT_BYTES.0[..]);
            let ws = &mut ws.buf[..];
            #(#calls)*
            let mut out = [0.0f32; NUM_CLASSES];
            out.copy_from_slice(&ws[#serial_out_off..#serial_out_end]);
            out
        }

        /// [`classify_with`] with every heavy layer split over `team`'s threads (normally a
        /// `Parallel` pool: use its `classify`). Bit-identical to [`classify_with`]; allocates nothing.
        #[inline]
        pub fn classify_parallel_with(
            input: &[u8; INPUT_LEN],
            ws: &mut Workspace,
            team: &dyn k::par::Team,
        ) -> [f32; NUM_CLASSES] {
            classify_parallel_with_hook(input, ws, team, |_| {})
        }

        /// [`classify_parallel_with`], calling `after_layer(i)` after the `i`-th entry of
        /// `MODEL.layers` ran (on all threads).
        pub fn classify_parallel_with_hook(
            input: &[u8; INPUT_LEN],
            ws: &mut Workspace,
            team: &dyn k::par::Team,
            mut after_layer: impl FnMut(usize),
        ) -> [f32; NUM_CLASSES] {
            let w: &[f32] = #rt::__private::bytemuck::cast_slice(&WEIGHT_BYTES.0[..]);
            let ws = &mut ws.buf[..];
            #(#par_calls)*
            let mut out = [0.0f32; NUM_CLASSES];
            out.copy_from_slice(&ws[#out_off..#out_end]);
            out
        }

        #(#fns)*
    };
    let header = format!(
        "// @generated by pplcnet-codegen from {}. Do not edit.\n// {} layers, workspace {} bytes, weights {} bytes.\n",
        source,
        layers.len(),
        ws_bytes,
        weight_bytes
    );
    Ok(Emitted {
        code: header + &pretty(g, tokens)?,
        weights,
        layers,
    })
}

/// The module's tokens as formatted Rust (`prettyplease`), so a user can read what the build made.
fn pretty(g: &Graph, tokens: TokenStream) -> Result<String> {
    let file: syn::File = syn::parse2(tokens).map_err(|e| {
        Error::file(
            &g.source,
            format!("internal error: the generated code does not parse: {e}"),
        )
    })?;
    Ok(prettyplease::unparse(&file))
}

/// Build-time assertions that the kernels of the variants in `used` (and the stem's) agree with
/// the layout constants their weights were packed with (`variants::GemmVariant::layout`).
fn layout_checks(used: &std::collections::BTreeSet<String>) -> TokenStream {
    let mut pairs: Vec<(&str, usize)> = crate::variants::GEMM_VARIANTS
        .iter()
        .filter(|v| used.contains(v.name))
        .flat_map(|v| v.layout.iter().copied())
        .collect();
    if used.iter().any(|v| v.starts_with("conv_u8")) {
        pairs.push(("conv_u8::CO_BLOCK", pack::STEM_CO_BLOCK));
    }
    let checks = pairs.into_iter().map(|(path, value)| {
        let p: TokenStream = path.parse().expect("a path");
        let msg = format!("kernels::{path} is not {value}, the value the weights were packed for");
        quote!(assert!(k::#p == #value, #msg);)
    });
    quote!(#(#checks)*)
}

pub(super) struct Lowered {
    kernel: &'static str,
    /// The kernel variant (`op_precision_tile_isa`, see [`crate::variants`]).
    variant: String,
    summary: String,
    body: TokenStream,
    /// The same layer cut into parts over `team: &dyn k::par::Team` (bit-identical), for the
    /// layers worth splitting.
    par_body: Option<TokenStream>,
    reads_pixels: bool,
    /// A compute-bound pointwise conv, which can prefetch a later layer's weights meanwhile.
    host: Option<PwCall>,
    /// How to run the layer on a band of rows, for the layers that can join a banded chain.
    band: Option<BandCall>,
    /// The weights it prefetches for later layers (blob offsets), when a host.
    ahead: Option<std::ops::Range<usize>>,
}

impl Lowered {
    /// A layer that reads no pixels, hosts no prefetch and joins no banded chain.
    pub(super) fn plain(
        kernel: &'static str,
        summary: String,
        body: TokenStream,
        par_body: Option<TokenStream>,
    ) -> Self {
        Lowered {
            kernel,
            variant: format!("{kernel}_f32_wide"),
            summary,
            body,
            par_body,
            reads_pixels: false,
            host: None,
            band: None,
            ahead: None,
        }
    }
}

/// A lowered layer: its node index, node, lowering and weight range in the blob.
pub(super) type LoweredLayer<'g> = (usize, &'g Node, Lowered, std::ops::Range<usize>);

/// Lowers every layer of `g` under `plan`, its weights into `blob`.
fn lower_all<'g>(
    g: &'g Graph,
    plan: &Plan,
    blob: &mut Blob,
    target: Target,
) -> Result<Vec<LoweredLayer<'g>>> {
    let mut lowered = Vec::new();
    for (i, node) in g.nodes.iter().enumerate() {
        if matches!(node.op, Op::Input | Op::Reshape) {
            continue;
        }
        let start = blob.data.len().div_ceil(16) * 16;
        let l = lower(g, plan, node, blob, target)?;
        lowered.push((i, node, l, start..blob.data.len()));
    }
    Ok(lowered)
}

pub(super) fn seg(s: Segment) -> TokenStream {
    let (a, b) = (s.offset, s.offset + s.len);
    quote!(&w[#a..#b])
}

/// `let (src.., dst) = k::split(...)` for the node's inputs and output.
pub(super) fn io(plan: &Plan, inputs: &[usize], output: usize) -> (TokenStream, Vec<Ident>) {
    let (d0, dl) = plan.slots[output].expect("outputs have storage");
    let names: Vec<Ident> = (0..inputs.len())
        .map(|i| format_ident!("src{}", i))
        .collect();
    let ranges: Vec<TokenStream> = inputs
        .iter()
        .map(|&v| {
            let (o, l) = plan.slots[v].expect("inputs have storage");
            quote!((#o, #l))
        })
        .collect();
    let n = inputs.len();
    let split = quote! {
        let ([#(#names),*], dst) = k::split::<#n>(ws, [#(#ranges),*], (#d0, #dl));
    };
    (split, names)
}
