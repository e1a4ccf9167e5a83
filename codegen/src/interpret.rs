//! A plain scalar interpreter of the IR (NCHW, batch 1): the oracle every pass is checked against.
//! Slow and obvious on purpose.

use crate::ir::{Conv, Graph, Op, SqueezeExcite, Tensor};

/// Runs `graph` on an HWC RGB u8 image and returns the output values.
///
/// Panics if `pixels` does not match the graph's input size (a test-only tool).
pub fn run(graph: &Graph, pixels: &[u8]) -> Vec<f32> {
    let mut vals: Vec<Option<Vec<f32>>> = vec![None; graph.values.len()];
    for node in &graph.nodes {
        let get = |i: usize| {
            vals[node.inputs[i]]
                .as_ref()
                .expect("input computed before use")
        };
        let shape = |i: usize| graph.values[node.inputs[i]].shape.as_slice();
        let out_shape = &graph.values[node.output].shape;
        let out = match &node.op {
            Op::Input => {
                let [_, c, h, w] = out_shape[..] else {
                    panic!("input must be 4-D")
                };
                assert_eq!(pixels.len(), c * h * w, "image size");
                let mut x = vec![0.0; c * h * w];
                for ch in 0..c {
                    for i in 0..h * w {
                        x[ch * h * w + i] = pixels[i * c + ch] as f32;
                    }
                }
                x
            }
            Op::Normalize { scale, mean, std } => {
                let hw = out_shape[2] * out_shape[3];
                get(0)
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| (x * scale - mean[i / hw]) / std[i / hw])
                    .collect()
            }
            Op::Conv(c) => {
                let scaled;
                let x = if c.input_scale {
                    let (s, hw) = (get(node.inputs.len() - 1), shape(0)[2] * shape(0)[3]);
                    scaled = get(0)
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| v * s[i / hw])
                        .collect::<Vec<f32>>();
                    &scaled
                } else {
                    get(0)
                };
                let mut y = conv(c, x, shape(0), out_shape);
                if c.residual {
                    y.iter_mut().zip(get(1)).for_each(|(a, b)| *a += b);
                }
                y
            }
            Op::BatchNorm {
                scale,
                bias,
                mean,
                var,
                eps,
            } => {
                let s = shape(0);
                let hw: usize = s[2..].iter().product();
                get(0)
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| {
                        let c = i / hw;
                        (x - mean[c]) / (var[c] + eps).sqrt() * scale[c] + bias[c]
                    })
                    .collect()
            }
            Op::Act(a) => get(0).iter().map(|&x| a.apply(x)).collect(),
            Op::Add | Op::Mul => {
                let t = Tensor::new(shape(1).to_vec(), get(1).clone());
                broadcast(get(0), out_shape, &t, matches!(node.op, Op::Mul))
            }
            Op::AddConst(t) => broadcast(get(0), out_shape, t, false),
            Op::MulConst(t) => broadcast(get(0), out_shape, t, true),
            Op::MaxPool(p) => p.eval(get(0), shape(0)),
            Op::GlobalAvgPool => {
                let s = shape(0);
                let hw = s[2] * s[3];
                get(0)
                    .chunks(hw)
                    .map(|c| c.iter().sum::<f32>() / hw as f32)
                    .collect()
            }
            Op::Reshape => get(0).clone(),
            Op::MatMul { weight, bias, act } => {
                let (k, n) = (weight.shape[0], weight.shape[1]);
                let x = get(0);
                (0..n)
                    .map(|j| {
                        let mut acc = bias.as_ref().map_or(0.0, |b| b[j]);
                        for (i, &xi) in x.iter().enumerate().take(k) {
                            acc += xi * weight.data[i * n + j];
                        }
                        act.apply(acc)
                    })
                    .collect()
            }
            Op::Softmax => {
                let x = get(0);
                let m = x.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let e: Vec<f32> = x.iter().map(|&v| (v - m).exp()).collect();
                let s: f32 = e.iter().sum();
                e.iter().map(|v| v / s).collect()
            }
            Op::SqueezeExcite(se) => {
                let hw = shape(0)[2] * shape(0)[3];
                let gate = squeeze_gate(se, get(0), shape(0));
                get(0)
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| v * gate[i / hw])
                    .collect()
            }
            Op::SqueezeGate(se) => squeeze_gate(se, get(0), shape(0)),
        };
        debug_assert_eq!(
            out.len(),
            graph.values[node.output].numel(),
            "{}",
            node.name
        );
        vals[node.output] = Some(out);
    }
    vals[graph.output].take().expect("graph output computed")
}

/// Direct convolution, NCHW.
fn conv(c: &Conv, x: &[f32], in_shape: &[usize], out_shape: &[usize]) -> Vec<f32> {
    let (cin, ih, iw) = (in_shape[1], in_shape[2], in_shape[3]);
    let (cout, oh, ow) = (out_shape[1], out_shape[2], out_shape[3]);
    let [kh, kw] = c.kernel();
    let cin_g = cin / c.groups;
    let cout_g = cout / c.groups;
    let mut y = vec![0.0; cout * oh * ow];
    for co in 0..cout {
        let g = co / cout_g;
        for oy in 0..oh {
            for ox in 0..ow {
                let mut acc = c.bias.as_ref().map_or(0.0, |b| b[co]);
                for ci in 0..cin_g {
                    let cin_abs = g * cin_g + ci;
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy = (oy * c.stride[0] + ky) as isize - c.pads[0] as isize;
                            let ix = (ox * c.stride[1] + kx) as isize - c.pads[1] as isize;
                            let v =
                                if iy >= 0 && ix >= 0 && (iy as usize) < ih && (ix as usize) < iw {
                                    x[(cin_abs * ih + iy as usize) * iw + ix as usize]
                                } else {
                                    c.pad_value.as_ref().map_or(0.0, |p| p[cin_abs])
                                };
                            acc += v * c.weight.data[((co * cin_g + ci) * kh + ky) * kw + kx];
                        }
                    }
                }
                y[(co * oh + oy) * ow + ox] = c.act.apply(acc);
            }
        }
    }
    y
}

/// `x (op) t` with numpy broadcasting of `t` against `x`'s shape (which is the output shape).
fn broadcast(x: &[f32], shape: &[usize], t: &Tensor, mul: bool) -> Vec<f32> {
    let rank = shape.len();
    let mut tshape = vec![1; rank];
    tshape[rank - t.shape.len()..].copy_from_slice(&t.shape);
    let mut out = Vec::with_capacity(x.len());
    let mut idx = vec![0usize; rank];
    for &xv in x {
        let mut ti = 0;
        for d in 0..rank {
            ti = ti * tshape[d] + if tshape[d] == 1 { 0 } else { idx[d] };
        }
        let tv = t.data[ti];
        out.push(if mul { xv * tv } else { xv + tv });
        for d in (0..rank).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    out
}

/// The per-channel gate of a squeeze-excite over `x` (NCHW).
fn squeeze_gate(se: &SqueezeExcite, x: &[f32], shape: &[usize]) -> Vec<f32> {
    let (c, hw) = (shape[1], shape[2] * shape[3]);
    let r = se.w1.shape[0];
    let mean: Vec<f32> = x
        .chunks(hw)
        .map(|ch| ch.iter().sum::<f32>() / hw as f32)
        .collect();
    let hidden: Vec<f32> = (0..r)
        .map(|j| {
            se.act
                .apply(se.b1[j] + (0..c).map(|i| se.w1.data[j * c + i] * mean[i]).sum::<f32>())
        })
        .collect();
    (0..c)
        .map(|i| {
            se.gate.apply(
                se.b2[i]
                    + (0..r)
                        .map(|j| se.w2.data[i * r + j] * hidden[j])
                        .sum::<f32>(),
            )
        })
        .collect()
}
