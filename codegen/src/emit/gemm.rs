//! Lowering of the matrix products (pointwise convolutions, fully connected layers, squeeze-excite
//! and its gate) onto the kernel variant the target chooses ([`crate::variants`]): the variant
//! names the runtime module, packs the weights and says which entry points exist; nothing here
//! tests a precision.

use proc_macro2::{Ident, TokenStream};
use quote::{format_ident, quote};

use super::chains::{BandCall, BandKind};
use super::{io, seg, Lowered};
use crate::band;
use crate::error::{Error, Result};
use crate::ir::{Activation, Conv, Graph, Node, SqueezeExcite, Tensor};
use crate::pack::{self, Blob};
use crate::plan::Plan;
use crate::variants::{gemm_variant, GemmVariant, Target};

/// A pointwise conv call, re-emitted with an `ahead` weight range when it hosts a prefetch.
pub(super) struct PwCall {
    split: TokenStream,
    m: usize,
    cin: usize,
    cout: usize,
    /// Row stride of the output (more than `cout` when the plan pads it).
    ds: usize,
    s0: Ident,
    wseg: TokenStream,
    bseg: TokenStream,
    act: TokenStream,
    residual: TokenStream,
    variant: &'static GemmVariant,
    /// The per-input-channel scale argument (`None` or a squeeze-excite gate), for variants that
    /// take one.
    scale: TokenStream,
}

impl PwCall {
    /// The serial and the parallel body, prefetching the weights `ahead` (blob offsets) if given
    /// (only variants with `prefetch_host` are given a range).
    pub(super) fn bodies(
        &self,
        ahead: Option<std::ops::Range<usize>>,
    ) -> (TokenStream, TokenStream) {
        let PwCall {
            split,
            m,
            cin,
            cout,
            ds,
            s0,
            wseg,
            bseg,
            act,
            residual,
            variant,
            scale,
        } = self;
        let module = format_ident!("{}", variant.module);
        let (f, f_par) = match &ahead {
            None => (module.clone(), format_ident!("{module}_par")),
            Some(_) => (
                format_ident!("{module}_ahead"),
                format_ident!("{module}_par_ahead"),
            ),
        };
        let ahead = ahead.map(|r| {
            let (a0, a1) = (r.start, r.end);
            quote!(, &w[#a0..#a1])
        });
        let scale = variant.input_scale.then(|| quote!(#scale,));
        (
            quote! {
                #split
                k::#module::#f::<#m, #cin, #cout, #ds>(#s0, #scale #wseg, #bseg, #act, #residual, dst #ahead);
            },
            quote! {
                #split
                k::#module::#f_par::<#m, #cin, #cout, #ds>(team, #s0, #scale #wseg, #bseg, #act, #residual, dst #ahead);
            },
        )
    }
}

/// Weights of `n` outputs x `k` inputs packed for `v`.
fn push_matrix(
    blob: &mut Blob,
    v: &GemmVariant,
    n: usize,
    k: usize,
    at: crate::variants::MatrixAt,
) -> TokenStream {
    seg(blob.push(&(v.pack)(n, k, at)))
}

/// A 1x1 convolution `c` (node `node`) from `[1, cin, ih, iw]`.
pub(super) fn lower_pointwise(
    g: &Graph,
    plan: &Plan,
    node: &Node,
    c: &Conv,
    blob: &mut Blob,
    target: Target,
) -> Result<Lowered> {
    let s = g.shape(node.inputs[0]);
    let (ih, iw, cin) = (s[2], s[3], s[1]);
    let cout = g.shape(node.output)[1];
    let m = ih * iw;
    let variant = gemm_variant(target, cin);
    if c.input_scale && !variant.input_scale {
        return Err(Error::node(
            &g.source,
            &node.name,
            node.op.kind(),
            format!(
                "an input-scaled pointwise conv has no {} kernel",
                variant.name
            ),
        ));
    }
    let wseg = push_matrix(blob, variant, cout, cin, &pack::matrix_nk(&c.weight));
    let bseg = seg(blob.push(&pack::bias_padded(c.bias.as_deref(), cout, pack::PW_NR)));
    let (split, src) = io(plan, &node.inputs, node.output);
    // Inputs: the pixels, the residual if any, the scale (a gate) if any.
    let some = |v: Option<&Ident>| match v {
        Some(v) => quote!(Some(#v)),
        None => quote!(None),
    };
    let residual = some(c.residual.then(|| &src[1]));
    let scale = some(c.input_scale.then(|| src.last()).flatten());
    let ds = plan.pixel_stride[node.output].unwrap_or(cout);
    let call = PwCall {
        split,
        m,
        cin,
        cout,
        ds,
        s0: src[0].clone(),
        wseg,
        bseg,
        act: c.act.tokens(),
        residual,
        variant,
        scale,
    };
    let (body, par_body) = call.bodies(None);
    let band = (m > 1 && variant.band && !c.residual && !c.input_scale).then(|| BandCall {
        rows: band::Rows::pointwise(ih),
        width: iw,
        out_row: iw * ds,
        kind: BandKind::Pointwise {
            module: variant.module,
            ahead: variant.prefetch_host,
        },
        generics: quote!(<#m, #cin, #cout, #ds>),
        args: {
            let (w, b, a) = (&call.wseg, &call.bseg, &call.act);
            quote!(#w, #b, #a)
        },
    });
    Ok(Lowered {
        kernel: variant.module,
        variant: variant.name.into(),
        summary: format!(
            "{ih}x{iw}x{cin} -> {ih}x{iw}x{cout}{}{}{}{}",
            if c.input_scale { " x gate" } else { "" },
            c.act.summary(),
            if c.residual { " +residual" } else { "" },
            variant.note
        ),
        body,
        par_body: Some(par_body),
        reads_pixels: false,
        // bf16 layers host no prefetch: measured slower (6.85 -> 7.1 ms; they run twice as fast,
        // so the same weights would need twice the prefetch rate).
        host: (m > 1 && variant.prefetch_host).then_some(call),
        band,
        ahead: None,
    })
}

/// A fully connected layer: the pointwise GEMM with one pixel (same packed weights, streamed once).
#[allow(clippy::too_many_arguments)]
pub(super) fn lower_matmul(
    plan: &Plan,
    node: &Node,
    weight: &Tensor,
    bias: Option<&[f32]>,
    act: Activation,
    blob: &mut Blob,
    target: Target,
) -> Lowered {
    let (kk, n) = (weight.shape[0], weight.shape[1]);
    let variant = gemm_variant(target, kk);
    let wseg = push_matrix(blob, variant, n, kk, &pack::matrix_kn(n, &weight.data));
    let module = format_ident!("{}", variant.module);
    let f_par = format_ident!("{module}_par");
    let scale = variant.input_scale.then(|| quote!(None,));
    let bseg = seg(blob.push(&pack::bias_padded(bias, n, pack::PW_NR)));
    let a = act.tokens();
    let (split, src) = io(plan, &node.inputs, node.output);
    let s0 = &src[0];
    let mut l = Lowered::plain(
        "fully_connected",
        format!("{kk} -> {n}{}{}", act.summary(), variant.note),
        quote! { #split k::#module::#module::<1, #kk, #n, #n>(#s0, #scale #wseg, #bseg, #a, None, dst); },
        Some(quote! {
            #split k::#module::#f_par::<1, #kk, #n, #n>(team, #s0, #scale #wseg, #bseg, #a, None, dst);
        }),
    );
    l.variant = variant.name.into();
    l
}

/// A squeeze-excite's sizes and its operands in the blob.
struct SeOperands {
    /// Channels, pixels, reduced channels.
    c: usize,
    hw: usize,
    r: usize,
    w1: TokenStream,
    b1: TokenStream,
    w2: TokenStream,
    b2: TokenStream,
    a1: TokenStream,
    a2: TokenStream,
}

fn se_operands(
    se: &SqueezeExcite,
    in_shape: &[usize],
    blob: &mut Blob,
    v: &GemmVariant,
) -> SeOperands {
    let (c, hw, r) = (in_shape[1], in_shape[2] * in_shape[3], se.w1.shape[0]);
    SeOperands {
        c,
        hw,
        r,
        w1: push_matrix(blob, v, r, c, &pack::matrix_of_nk(c, &se.w1.data)),
        b1: seg(blob.push(&pack::bias_padded(Some(&se.b1), r, pack::PW_NR))),
        w2: push_matrix(blob, v, c, r, &pack::matrix_of_nk(r, &se.w2.data)),
        b2: seg(blob.push(&pack::bias_padded(Some(&se.b2), c, pack::PW_NR))),
        a1: se.act.tokens(),
        a2: se.gate.tokens(),
    }
}

/// A squeeze-excite: with `gate_of = None` the whole of it in f32 (`dst = src * gate`, its own
/// fused kernel); with `Some(target)` the gate alone (`dst` = one value per channel), made by
/// `passes::fuse_se_scale_into_pointwise` for variants that take an input scale: the mean, then
/// both fully connected layers on the target's variant (bf16: half the weight bytes of f32).
pub(super) fn lower_squeeze(
    g: &Graph,
    plan: &Plan,
    node: &Node,
    se: &SqueezeExcite,
    blob: &mut Blob,
    gate_of: Option<Target>,
) -> Result<Lowered> {
    let s = g.shape(node.inputs[0]);
    let v = gemm_variant(gate_of.unwrap_or_default(), s[1].max(se.w1.shape[0]));
    if gate_of.is_some() && !v.input_scale {
        return Err(Error::node(
            &g.source,
            &node.name,
            node.op.kind(),
            format!("a squeeze-excite gate alone has no {} kernel", v.name),
        ));
    }
    let SeOperands {
        c,
        hw,
        r,
        w1,
        b1,
        w2,
        b2,
        a1,
        a2,
    } = se_operands(se, s, blob, v);
    let (split, src) = io(plan, &node.inputs, node.output);
    let s0 = &src[0];
    if gate_of.is_none() {
        return Ok(Lowered::plain(
            "squeeze_excite",
            format!("{}x{}x{c} via {r}", s[2], s[3]),
            quote! {
                #split
                k::squeeze_excite::squeeze_excite::<#hw, #c, #r>(#s0, #w1, #b1, #a1, #w2, #b2, #a2, dst);
            },
            Some(quote! {
                #split
                k::squeeze_excite::squeeze_excite_par::<#hw, #c, #r>(team, #s0, #w1, #b1, #a1, #w2, #b2, #a2, dst);
            }),
        ));
    }
    let module = format_ident!("{}", v.module);
    let f_par = format_ident!("{module}_par");
    let mut l = Lowered::plain(
        "squeeze_gate",
        format!("{}x{}x{c} via {r}{}", s[2], s[3], v.note),
        quote! {
            #split
            let mut mean = [0.0f32; #c];
            k::squeeze_excite::mean::<#hw, #c>(#s0, &mut mean);
            let mut hidden = [0.0f32; #r];
            k::#module::#module::<1, #c, #r, #r>(&mean, None, #w1, #b1, #a1, None, &mut hidden);
            k::#module::#module::<1, #r, #c, #c>(&hidden, None, #w2, #b2, #a2, None, dst);
        },
        Some(quote! {
            #split
            let mut mean = [0.0f32; #c];
            k::squeeze_excite::mean_par::<#hw, #c>(team, #s0, &mut mean);
            let mut hidden = [0.0f32; #r];
            k::#module::#f_par::<1, #c, #r, #r>(team, &mean, None, #w1, #b1, #a1, None, &mut hidden);
            k::#module::#f_par::<1, #r, #c, #c>(team, &hidden, None, #w2, #b2, #a2, None, dst);
        }),
    );
    l.variant = v.name.into();
    Ok(l)
}
