//! Splitting a layer into parts for several threads (no_std: the threads themselves are
//! [`crate::Parallel`], behind the `std` feature, or anything else implementing [`Team`]).
//!
//! A layer's destination is cut into contiguous, disjoint sub-slices, one per part, at "unit"
//! boundaries (rows of pixels, output rows, 32-wide weight panels, 16-channel blocks); every part
//! reads the shared,
//! read-only sources and writes only its own sub-slice. Each part computes exactly the values the
//! serial kernel computes for those outputs, in the same order, so the results are bit-identical.

use core::ops::Range;

/// The most parts a layer is cut into (threads beyond this many get no work).
pub const MAX_PARTS: usize = 64;

/// One part of a layer: a range of units and the destination elements they cover.
#[derive(Debug)]
pub struct Part<'a> {
    /// Units (rows, output rows or panels, depending on the kernel) this part computes.
    pub range: Range<usize>,
    /// The part's sub-slice of the layer's destination.
    pub dst: &'a mut [f32],
}

/// Something that runs the parts of a layer concurrently (a thread pool).
pub trait Team: Sync {
    /// Into how many parts to cut each layer (the number of threads; at most [`MAX_PARTS`]).
    fn parts(&self) -> usize;

    /// Runs `f` once on every element of `parts` (at most [`Team::parts`] of them), concurrently on
    /// the team's threads, and returns when all have finished. A panic in `f` propagates to the
    /// caller.
    fn run(&self, parts: &mut [Part<'_>], f: &(dyn Fn(&mut Part<'_>) + Sync));
}

/// Cuts `dst` (`units` units of `unit_len` elements; the last unit may be shorter) into
/// `team.parts()` contiguous parts at the unit boundaries `cut(i, n)` (`0 = cut(0, n) <= cut(1, n)
/// <= ... <= cut(n, n) = units`) and runs `f(units, dst part)` on every non-empty part concurrently.
#[inline]
pub fn run_split(
    team: &dyn Team,
    dst: &mut [f32],
    units: usize,
    unit_len: usize,
    cut: impl Fn(usize, usize) -> usize,
    f: &(dyn Fn(Range<usize>, &mut [f32]) + Sync),
) {
    let n = team.parts().clamp(1, MAX_PARTS);
    let len = dst.len();
    let mut rest = dst;
    let mut prev = 0;
    let mut parts: [Part<'_>; MAX_PARTS] = core::array::from_fn(|i| {
        if i >= n {
            return Part {
                range: 0..0,
                dst: &mut [],
            };
        }
        let end = if i + 1 == n { units } else { cut(i + 1, n) };
        assert!(
            prev <= end && end <= units,
            "part boundaries must be increasing"
        );
        let elems = (end * unit_len).min(len) - (prev * unit_len).min(len);
        let (mine, tail) = core::mem::take(&mut rest).split_at_mut(elems);
        rest = tail;
        let range = prev..end;
        prev = end;
        Part { range, dst: mine }
    });
    team.run(&mut parts[..n], &|p: &mut Part<'_>| {
        if !p.range.is_empty() {
            f(p.range.clone(), p.dst)
        }
    });
}

/// The `i`-th of `n` boundaries cutting `units` as evenly as possible.
#[inline]
pub fn even_cut(units: usize, i: usize, n: usize) -> usize {
    (units * i + n / 2) / n
}

/// The [`Team`] of one thread: runs every part in order on the calling thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct Serial;

impl Team for Serial {
    fn parts(&self) -> usize {
        1
    }

    fn run(&self, parts: &mut [Part<'_>], f: &(dyn Fn(&mut Part<'_>) + Sync)) {
        for p in parts {
            f(p);
        }
    }
}
