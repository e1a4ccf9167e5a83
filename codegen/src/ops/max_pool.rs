//! 2-D max pooling (PP-OCR's MobileNetV3 text direction classifier; ONNX `MaxPool`, Paddle
//! `pool2d` with `pooling_type = "max"`): the IR value, both front ends' attribute reading, its
//! shape rule, its scalar definition and its kernel call. Floor output size, explicit padding;
//! padded positions never win (as in both frameworks). Runtime kernel:
//! `pplcnet::kernels::pool::max_pool`.

use quote::quote;

use crate::error::Result;
use crate::ops::activation::Attrs;
use crate::ops::{KernelCall, Site};

/// A max pool over H and W.
#[derive(Debug, Clone, PartialEq)]
pub struct MaxPool {
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// `[top, left, bottom, right]`
    pub pads: [usize; 4],
}

/// Integer attributes as a front end reads them (`None` when absent).
pub trait IntAttrs: Attrs {
    fn ints(&self, name: &str) -> Result<Option<Vec<i64>>>;
    fn int(&self, name: &str) -> Result<Option<i64>>;
    fn string(&self, name: &str) -> Result<Option<String>>;
}

fn pair(v: &[i64], what: &str, a: &dyn IntAttrs) -> Result<[usize; 2]> {
    match v {
        [x, y] if *x >= 1 && *y >= 1 => Ok([*x as usize, *y as usize]),
        _ => Err(a.err(format!("{what} {v:?} is not two positive numbers"))),
    }
}

fn pads(v: Option<Vec<i64>>, a: &dyn IntAttrs) -> Result<[usize; 4]> {
    let v = v.unwrap_or_else(|| vec![0; 4]);
    if v.iter().any(|&p| !(0..=64).contains(&p)) {
        return Err(a.err(format!("paddings {v:?} out of range")));
    }
    let p: Vec<usize> = v.iter().map(|&p| p as usize).collect();
    match p[..] {
        [t, l] => Ok([t, l, t, l]),
        // ONNX: [top, left, bottom, right].
        [t, l, b, r] => Ok([t, l, b, r]),
        _ => Err(a.err(format!("paddings {v:?}: expected 2 or 4 values"))),
    }
}

impl MaxPool {
    /// ONNX `MaxPool` (opsets 1-22): `kernel_shape`, `strides`, `pads`; `ceil_mode`, dilations,
    /// `auto_pad` other than NOTSET and a second (indices) output are refused by name.
    pub fn from_onnx(a: &dyn IntAttrs, outputs: usize) -> Result<Self> {
        if outputs > 1 {
            return Err(a.err("MaxPool with an Indices output is not supported".into()));
        }
        if a.int("ceil_mode")?.unwrap_or(0) != 0 {
            return Err(a.err("MaxPool with ceil_mode = 1 is not supported".into()));
        }
        if a.ints("dilations")?
            .is_some_and(|d| d.iter().any(|&x| x != 1))
        {
            return Err(a.err("MaxPool with dilations is not supported".into()));
        }
        if let Some(p) = a.string("auto_pad")?.filter(|p| p != "NOTSET") {
            return Err(a.err(format!("MaxPool with auto_pad {p} is not supported")));
        }
        let kernel = a
            .ints("kernel_shape")?
            .ok_or_else(|| a.err("no kernel_shape".into()))?;
        let kernel = pair(&kernel, "kernel_shape", a)?;
        let stride = pair(&a.ints("strides")?.unwrap_or(vec![1, 1]), "strides", a)?;
        Ok(MaxPool {
            kernel,
            stride,
            pads: pads(a.ints("pads")?, a)?,
        })
    }

    /// Paddle `pool2d` / PIR `max_pool2d` with `pooling_type = "max"` (not global, not adaptive).
    pub fn from_paddle(a: &dyn IntAttrs, ksize: Vec<i64>) -> Result<Self> {
        if a.int("ceil_mode")?.unwrap_or(0) != 0 {
            return Err(a.err("max pool2d with ceil_mode is not supported".into()));
        }
        if let Some(p) = a.string("padding_algorithm")?.filter(|p| p != "EXPLICIT") {
            return Err(a.err(format!(
                "max pool2d with padding_algorithm {p} is not supported"
            )));
        }
        let kernel = pair(&ksize, "ksize", a)?;
        let stride = pair(&a.ints("strides")?.unwrap_or(vec![1, 1]), "strides", a)?;
        let p = pads(a.ints("paddings")?, a)?;
        // Paddle's four paddings are [top, bottom, left, right].
        let pads = match a.ints("paddings")?.map(|v| v.len()) {
            Some(4) => [p[0], p[2], p[1], p[3]],
            _ => p,
        };
        Ok(MaxPool {
            kernel,
            stride,
            pads,
        })
    }

    /// `[1, C, OH, OW]` for input `[1, C, H, W]`, or `None` when the window does not fit.
    pub fn out_shape(&self, s: &[usize]) -> Option<Vec<usize>> {
        if s.len() != 4 {
            return None;
        }
        let [kh, kw] = self.kernel;
        let [sh, sw] = self.stride;
        let (h, w) = (
            s[2] + self.pads[0] + self.pads[2],
            s[3] + self.pads[1] + self.pads[3],
        );
        if h < kh || w < kw || self.pads[0] >= kh || self.pads[1] >= kw {
            return None;
        }
        Some(vec![s[0], s[1], (h - kh) / sh + 1, (w - kw) / sw + 1])
    }

    /// [`MaxPool::out_shape`], or an error about the node (`a`) when the window does not fit.
    pub fn checked_out_shape(&self, s: &[usize], a: &dyn Attrs) -> Result<Vec<usize>> {
        self.out_shape(s).ok_or_else(|| {
            a.err(format!(
                "a {:?} window does not fit the input {s:?}",
                self.kernel
            ))
        })
    }

    /// The kernel call.
    pub fn call(&self, site: &Site) -> KernelCall {
        let (s, o) = (site.in_shape, site.out_shape);
        let (ih, iw, c, oh, ow) = (s[2], s[3], s[1], o[2], o[3]);
        let (ss, src) = (site.pixel_stride, site.src);
        let ([kh, kw], [sh, sw], [pt, pl, _, _]) = (self.kernel, self.stride, self.pads);
        KernelCall {
            kernel: "max_pool",
            summary: format!("{ih}x{iw}x{c} -> {oh}x{ow}x{c} k{kh}x{kw} s{sh}x{sw}"),
            call: quote! {
                k::pool::max_pool::<#ih, #iw, #c, #ss, #oh, #ow, #kh, #kw, #sh, #sw, #pt, #pl>(#src, dst);
            },
        }
    }

    /// The scalar definition over NCHW `x` of shape `s`.
    pub fn eval(&self, x: &[f32], s: &[usize]) -> Vec<f32> {
        let out = self.out_shape(s).expect("checked when loaded");
        let (c, h, w, oh, ow) = (s[1], s[2], s[3], out[2], out[3]);
        let mut y = vec![f32::NEG_INFINITY; c * oh * ow];
        for ch in 0..c {
            for oy in 0..oh {
                for ox in 0..ow {
                    let o = &mut y[(ch * oh + oy) * ow + ox];
                    for ky in 0..self.kernel[0] {
                        for kx in 0..self.kernel[1] {
                            let iy = (oy * self.stride[0] + ky).checked_sub(self.pads[0]);
                            let ix = (ox * self.stride[1] + kx).checked_sub(self.pads[1]);
                            if let (Some(iy), Some(ix)) = (iy, ix) {
                                if iy < h && ix < w {
                                    *o = o.max(x[(ch * h + iy) * w + ix]);
                                }
                            }
                        }
                    }
                }
            }
        }
        y
    }
}
