//! Lowering of one IR node onto its kernel: the stem (`conv_u8`), depthwise convs, pooling,
//! softmax and elementwise ops here; matrix products through their kernel variant (`gemm`).

use quote::quote;

use super::chains::{BandCall, BandKind};
use super::{gemm, io, seg, Lowered};
use crate::band;
use crate::error::{Error, Result};
use crate::ir::{Graph, Node, Op};
use crate::ops::Site;
use crate::pack::{self, Blob};
use crate::plan::Plan;
use crate::variants::Target;

pub(super) fn lower(
    g: &Graph,
    plan: &Plan,
    node: &Node,
    blob: &mut Blob,
    target: Target,
) -> Result<Lowered> {
    let unsupported = |why: String| Error::node(&g.source, &node.name, node.op.kind(), why);
    let in_shape = |i: usize| g.shape(node.inputs[i]).to_vec();
    let out_shape = g.shape(node.output).to_vec();
    match &node.op {
        Op::Conv(c) => {
            let s = in_shape(0);
            let (ih, iw, cin) = (s[2], s[3], s[1]);
            let (oh, ow, cout) = (out_shape[2], out_shape[3], out_shape[1]);
            let [kh, kw] = c.kernel();
            let [sh, sw] = c.stride;
            let (pt, pl) = (c.pads[0], c.pads[1]);
            let act = c.act.tokens();
            if node.inputs[0] == g.input {
                if c.groups != 1 || c.residual {
                    return Err(unsupported(
                        "a grouped or residual conv on the raw input has no kernel".into(),
                    ));
                }
                let wseg = seg(blob.push(&pack::direct(c)));
                let bseg = seg(blob.push(&pack::bias_padded(
                    c.bias.as_deref(),
                    cout,
                    pack::STEM_CO_BLOCK,
                )));
                let pads = c.pad_value.clone().unwrap_or_else(|| vec![0.0; cin]);
                let pseg = seg(blob.push(&pads));
                let (d0, dl) = plan.slots[node.output].expect("storage");
                let d1 = d0 + dl;
                let body = quote! {
                    let dst = &mut ws[#d0..#d1];
                    k::conv_u8::conv_u8::<#ih, #iw, #cin, #oh, #ow, #cout, #kh, #kw, #sh, #sw, #pt, #pl>(
                        &input[..], #wseg, #bseg, #pseg, #act, dst);
                };
                let par_body = quote! {
                    let dst = &mut ws[#d0..#d1];
                    k::conv_u8::conv_u8_par::<#ih, #iw, #cin, #oh, #ow, #cout, #kh, #kw, #sh, #sw, #pt, #pl>(
                        team, &input[..], #wseg, #bseg, #pseg, #act, dst);
                };
                return Ok(Lowered {
                    kernel: "conv_u8",
                    variant: "conv_u8_f32_16c_wide".into(),
                    summary: format!(
                        "{ih}x{iw}x{cin} -> {oh}x{ow}x{cout} k{kh}x{kw} s{sh}{}",
                        c.act.summary()
                    ),
                    body,
                    par_body: Some(par_body),
                    reads_pixels: true,
                    host: None,
                    band: Some(BandCall {
                        rows: band::Rows::conv(ih, oh, kh, sh, pt),
                        width: ow,
                        out_row: ow * cout,
                        kind: BandKind::Stem,
                        generics: quote!(<#ih, #iw, #cin, #oh, #ow, #cout, #kh, #kw, #sh, #sw, #pt, #pl>),
                        args: quote!(#wseg, #bseg, #pseg, #act),
                    }),
                    ahead: None,
                });
            }
            if c.pad_value.is_some() {
                return Err(unsupported(
                    "padding with non-zero values is only supported on the raw input".into(),
                ));
            }
            if c.is_depthwise() && cin == cout && !c.residual {
                // Pixel stride of the input (padded when the plan pads it).
                let ss = plan.pixel_stride[node.inputs[0]].unwrap_or(cin);
                let wseg = seg(blob.push(&pack::depthwise(&c.weight)));
                let bseg = seg(blob.push(&pack::bias_padded(c.bias.as_deref(), cout, 1)));
                let (split, src) = io(plan, &node.inputs, node.output);
                let s0 = &src[0];
                let body = quote! {
                    #split
                    k::dwconv::dwconv::<#ih, #iw, #cin, #ss, #oh, #ow, #kh, #kw, #sh, #sw, #pt, #pl>(#s0, #wseg, #bseg, #act, dst);
                };
                let par_body = quote! {
                    #split
                    k::dwconv::dwconv_par::<#ih, #iw, #cin, #ss, #oh, #ow, #kh, #kw, #sh, #sw, #pt, #pl>(
                        team, #s0, #wseg, #bseg, #act, dst);
                };
                return Ok(Lowered {
                    kernel: "dwconv",
                    variant: "dwconv_f32_16c_wide".into(),
                    summary: format!(
                        "{ih}x{iw}x{cin} -> {oh}x{ow}x{cout} k{kh}x{kw} s{sh}{}",
                        c.act.summary()
                    ),
                    body,
                    par_body: Some(par_body),
                    reads_pixels: false,
                    host: None,
                    band: Some(BandCall {
                        rows: band::Rows::conv(ih, oh, kh, sh, pt),
                        width: ow,
                        out_row: ow * cout,
                        kind: BandKind::Depthwise,
                        generics: quote!(<#ih, #iw, #cin, #ss, #oh, #ow, #kh, #kw, #sh, #sw, #pt, #pl>),
                        args: quote!(#wseg, #bseg, #act),
                    }),
                    ahead: None,
                });
            }
            if c.is_pointwise() {
                return gemm::lower_pointwise(g, plan, node, c, blob, target);
            }
            Err(unsupported(format!(
                "no kernel for a {kh}x{kw} conv with {} groups, stride {sh}x{sw} on {cin} channels \
                 (supported: depthwise, 1x1 pointwise, and any conv on the raw input image)",
                c.groups
            )))
        }
        Op::SqueezeExcite(se) => gemm::lower_squeeze(g, plan, node, se, blob, None),
        Op::SqueezeGate(se) => gemm::lower_squeeze(g, plan, node, se, blob, Some(target)),
        Op::MaxPool(p) => {
            let (split, src) = io(plan, &node.inputs, node.output);
            let call = p.call(&Site {
                in_shape: &in_shape(0),
                out_shape: &out_shape,
                pixel_stride: plan.pixel_stride[node.inputs[0]].unwrap_or(in_shape(0)[1]),
                src: &src[0],
            });
            let body = call.call;
            Ok(Lowered::plain(
                call.kernel,
                call.summary,
                quote! { #split #body },
                None,
            ))
        }
        Op::GlobalAvgPool => {
            let s = in_shape(0);
            let (c, hw) = (s[1], s[2] * s[3]);
            let (split, src) = io(plan, &node.inputs, node.output);
            let s0 = &src[0];
            Ok(Lowered::plain(
                "global_avg_pool",
                format!("{}x{}x{c} -> {c}", s[2], s[3]),
                quote! { #split k::pool::global_avg_pool::<#hw, #c>(#s0, dst); },
                None,
            ))
        }
        Op::MatMul { weight, bias, act } => Ok(gemm::lower_matmul(
            plan,
            node,
            weight,
            bias.as_deref(),
            *act,
            blob,
            target,
        )),
        Op::Softmax => {
            let n = out_shape.iter().product::<usize>();
            let (split, src) = io(plan, &node.inputs, node.output);
            let s0 = &src[0];
            Ok(Lowered::plain(
                "softmax",
                format!("{n}"),
                quote! { #split k::softmax::softmax::<#n>(#s0, dst); },
                None,
            ))
        }
        Op::Act(a) => {
            let n = out_shape.iter().product::<usize>();
            let at = a.tokens();
            let (split, src) = io(plan, &node.inputs, node.output);
            let s0 = &src[0];
            Ok(Lowered::plain(
                "activation",
                format!("{n}{}", a.summary()),
                quote! { #split k::eltwise::activation::<#n>(#s0, #at, dst); },
                None,
            ))
        }
        Op::Add | Op::Mul => {
            let (a, b) = (in_shape(0), in_shape(1));
            let n = out_shape.iter().product::<usize>();
            let (split, src) = io(plan, &node.inputs, node.output);
            let (s0, s1) = (&src[0], &src[1]);
            let is_add = matches!(node.op, Op::Add);
            if a == b {
                let f = if is_add { quote!(add) } else { quote!(mul) };
                return Ok(Lowered::plain(
                    if is_add { "add" } else { "mul" },
                    format!("{n}"),
                    quote! { #split k::eltwise::#f::<#n>(#s0, #s1, dst); },
                    None,
                ));
            }
            // Per-channel scale of a 4-D value: [1,C,H,W] * [1,C,1,1].
            let chan = |x: &[usize], y: &[usize]| x.len() == 4 && y == [1, x[1], 1, 1];
            if !is_add && (chan(&a, &b) || chan(&b, &a)) {
                let (x, s, shape) = if chan(&a, &b) {
                    (s0, s1, &a)
                } else {
                    (s1, s0, &b)
                };
                let (hw, c) = (shape[2] * shape[3], shape[1]);
                return Ok(Lowered::plain(
                    "scale_channels",
                    format!("{}x{}x{c}", shape[2], shape[3]),
                    quote! { #split k::eltwise::scale_channels::<#hw, #c>(#x, #s, dst); },
                    None,
                ));
            }
            Err(unsupported(format!(
                "broadcasting {a:?} with {b:?} has no kernel"
            )))
        }
        other => Err(unsupported(format!(
            "no kernel for a standalone {} (it could not be fused into a neighbouring op)",
            other.kind()
        ))),
    }
}
