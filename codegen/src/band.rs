//! Row-banded schedules: a chain of layers (each reading only the one before) run a few output
//! rows at a time, so each intermediate value lives in a small window of rows instead of a
//! whole tensor. The windows stay in L2 between producer and consumer; whole early tensors
//! (1.6-3.2 MB at 112x112) go to L3 or DRAM and back.
//!
//! The schedule is computed here, at build time, and emitted as straight-line calls (see
//! `emit`): per step, each layer computes the rows the next one needs, after moving the rows its
//! consumer still needs to the front of its window when the window would overflow.

use std::ops::Range;

/// How a layer's output rows depend on its input rows: output row `r` reads input rows
/// `r * stride - pad .. r * stride - pad + kernel`, clamped to the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rows {
    pub in_rows: usize,
    pub out_rows: usize,
    pub kernel: usize,
    pub stride: usize,
    pub pad: usize,
}

impl Rows {
    /// A convolution's rows: `kernel` rows, `stride`, `pad` rows of padding on top.
    pub fn conv(in_rows: usize, out_rows: usize, kernel: usize, stride: usize, pad: usize) -> Self {
        Rows {
            in_rows,
            out_rows,
            kernel,
            stride,
            pad,
        }
    }

    /// A pointwise layer's rows: each output row reads its own input row.
    pub fn pointwise(rows: usize) -> Self {
        Rows::conv(rows, rows, 1, 1, 0)
    }

    /// Input rows read by output rows `out`.
    pub fn reads(&self, out: Range<usize>) -> Range<usize> {
        if out.is_empty() {
            return 0..0;
        }
        let lo = (out.start * self.stride)
            .saturating_sub(self.pad)
            .min(self.in_rows);
        let hi = ((out.end - 1) * self.stride + self.kernel)
            .saturating_sub(self.pad)
            .min(self.in_rows);
        lo..hi.max(lo)
    }
}

/// One step of a [`Schedule`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Window `window` (the output of layer `window`) now starts at row `base`: its rows
    /// `base..base + rows` move from `from` rows into the window to its front.
    Shift {
        window: usize,
        from: usize,
        rows: usize,
        base: usize,
    },
    /// Layer `layer` computes its output rows `rows`, reading its input window (starting at image
    /// row `src_base`; 0 for the first layer, whose input is whole) and writing its output window
    /// (starting at row `dst_base`; 0 for the last layer, whose output is whole).
    Run {
        layer: usize,
        rows: Range<usize>,
        src_base: usize,
        dst_base: usize,
    },
}

/// A banded schedule of a chain of layers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub steps: Vec<Step>,
    /// Rows of each intermediate window (one per layer but the last).
    pub window_rows: Vec<usize>,
}

/// The schedule of `layers` (each reading the previous one's output) computing `band` rows of the
/// last layer's output per step. Each window holds what its consumer needs in one step plus three
/// steps of production, so the kept rows move about every third step (with one step, the default
/// model's 112x112 chain copied 1.5 MB per image; with three, 0.66 MB).
pub fn schedule(layers: &[Rows], band: usize) -> Schedule {
    assert!(layers.len() >= 2 && band >= 1);
    assert!(layers.windows(2).all(|p| p[0].out_rows == p[1].in_rows));
    let (_, needed) = simulate(layers, band, None);
    let window_rows: Vec<usize> = needed.iter().map(|&(span, made)| span + 3 * made).collect();
    let (steps, _) = simulate(layers, band, Some(&window_rows));
    Schedule { steps, window_rows }
}

/// Runs the schedule, with windows of `window_rows` rows (if given). Returns the steps and, per
/// window, the most rows its consumer needed at once and the most rows made at once.
fn simulate(
    layers: &[Rows],
    band: usize,
    window_rows: Option<&[usize]>,
) -> (Vec<Step>, Vec<(usize, usize)>) {
    let n = layers.len();
    let mut steps = Vec::new();
    let mut produced = vec![0; n];
    let mut base = vec![0; n - 1];
    let mut needed = vec![(0, 0); n - 1];
    let last = layers[n - 1].out_rows;
    for start in (0..last).step_by(band) {
        // Backwards: what each layer makes this step, and the first row its consumer still reads.
        let mut make = vec![0..0; n];
        let mut keep = vec![0; n - 1];
        make[n - 1] = start..(start + band).min(last);
        for i in (1..n).rev() {
            if make[i].is_empty() {
                // Then the layer before makes nothing either.
                make[i - 1] = produced[i - 1]..produced[i - 1];
                continue;
            }
            let reads = layers[i].reads(make[i].clone());
            keep[i - 1] = reads.start;
            make[i - 1] = produced[i - 1]..reads.end.max(produced[i - 1]);
        }
        for i in 0..n {
            if make[i].is_empty() {
                continue;
            }
            if i < n - 1 {
                let span = make[i].end - keep[i];
                needed[i].0 = needed[i].0.max(span);
                needed[i].1 = needed[i].1.max(make[i].len());
                if let Some(rows) = window_rows {
                    if make[i].end - base[i] > rows[i] {
                        let new_base = keep[i].min(produced[i]);
                        steps.push(Step::Shift {
                            window: i,
                            from: new_base - base[i],
                            rows: produced[i] - new_base,
                            base: new_base,
                        });
                        base[i] = new_base;
                    }
                }
            }
            steps.push(Step::Run {
                layer: i,
                rows: make[i].clone(),
                src_base: if i > 0 { base[i - 1] } else { 0 },
                dst_base: if i < n - 1 { base[i] } else { 0 },
            });
            produced[i] = make[i].end;
        }
    }
    (steps, needed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(in_rows: usize, kernel: usize, stride: usize) -> Rows {
        let pad = kernel / 2;
        let out_rows = (in_rows + 2 * pad - kernel) / stride + 1;
        Rows::conv(in_rows, out_rows, kernel, stride, pad)
    }

    fn pointwise(rows: usize) -> Rows {
        Rows::pointwise(rows)
    }

    /// Replays `s` on windows that record which image row each slot holds: every run reads rows
    /// its window holds, writes inside its window, and each layer computes each of its rows once,
    /// in order (all of the last layer's).
    fn check(layers: &[Rows], band: usize) {
        let s = schedule(layers, band);
        let n = layers.len();
        let mut slots: Vec<Vec<Option<usize>>> =
            s.window_rows.iter().map(|&r| vec![None; r]).collect();
        let mut base = vec![0; n - 1];
        let mut next = vec![0; n];
        for step in &s.steps {
            match step {
                Step::Shift {
                    window,
                    from,
                    rows,
                    base: b,
                } => {
                    let w = &mut slots[*window];
                    let kept: Vec<_> = w[*from..from + rows].to_vec();
                    w[..*rows].copy_from_slice(&kept);
                    base[*window] = *b;
                    for (i, r) in kept.iter().enumerate() {
                        assert_eq!(*r, Some(b + i), "{step:?}");
                    }
                }
                Step::Run {
                    layer,
                    rows,
                    src_base,
                    dst_base,
                } => {
                    let i = *layer;
                    assert_eq!(rows.start, next[i], "layer {i} computes rows in order");
                    next[i] = rows.end;
                    if i > 0 {
                        assert_eq!(*src_base, base[i - 1]);
                        for r in layers[i].reads(rows.clone()) {
                            assert_eq!(slots[i - 1][r - src_base], Some(r), "layer {i} reads {r}");
                        }
                    }
                    if i < n - 1 {
                        assert_eq!(*dst_base, base[i]);
                        for r in rows.clone() {
                            slots[i][r - dst_base] = Some(r);
                        }
                    }
                }
            }
        }
        assert_eq!(next[n - 1], layers[n - 1].out_rows);
    }

    #[test]
    fn schedules_keep_every_row_read_in_its_window() {
        // The 112x112 chain of PPLCNetV2: stem, depthwise 3x3, pointwise, depthwise 3x3 stride 2.
        let stem = conv(224, 3, 2);
        let chain = [stem, conv(112, 3, 1), pointwise(112), conv(112, 3, 2)];
        for band in 1..=5 {
            check(&chain, band);
        }
        // 5x5 kernels, odd sizes, a chain ending in a pointwise conv.
        check(
            &[conv(15, 5, 1), pointwise(15), conv(15, 5, 2), pointwise(8)],
            1,
        );
        check(&[conv(7, 3, 2), conv(4, 5, 1)], 2);
        check(&[pointwise(9), conv(9, 3, 2), conv(5, 3, 1)], 3);
    }

    #[test]
    fn windows_are_a_few_rows() {
        let chain = [
            conv(224, 3, 2),
            conv(112, 3, 1),
            pointwise(112),
            conv(112, 3, 2),
        ];
        let s = schedule(&chain, 2);
        // Per step, two rows of the last layer need 5 of the pointwise conv's (4 new), 4 of the
        // depthwise's, 6 of the stem's; windows hold that plus three steps of production.
        assert_eq!(s.window_rows, [6 + 3 * 5, 4 + 3 * 4, 5 + 3 * 4]);
    }
}
