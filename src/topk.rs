//! Top-k selection over model outputs.

/// The `K` highest scores as `(class id, score)`, best first; ties go to the lower class id.
/// NaN scores rank lowest. If there are fewer than `K` scores the rest is `(usize::MAX, -inf)`.
pub fn top_k<const K: usize>(scores: &[f32]) -> [(usize, f32); K] {
    let mut best = [(usize::MAX, f32::NEG_INFINITY); K];
    let mut filled = 0;
    for (i, &s) in scores.iter().enumerate() {
        let s = if s.is_nan() { f32::NEG_INFINITY } else { s };
        // Position where (i, s) goes: after every entry with a score >= s.
        let pos = best[..filled]
            .iter()
            .position(|&(_, b)| s > b)
            .unwrap_or(filled);
        if pos < K {
            let end = filled.min(K - 1);
            best.copy_within(pos..end, pos + 1);
            best[pos] = (i, s);
            filled = (filled + 1).min(K);
        }
    }
    best
}

/// Like [`top_k`] with `k` chosen at run time (at most `scores.len()` entries).
#[cfg(feature = "std")]
pub fn top_k_vec(scores: &[f32], k: usize) -> std::vec::Vec<(usize, f32)> {
    let mut idx: std::vec::Vec<(usize, f32)> = scores
        .iter()
        .map(|&s| if s.is_nan() { f32::NEG_INFINITY } else { s })
        .enumerate()
        .collect();
    idx.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    idx.truncate(k);
    idx
}

/// Every class scoring at least `threshold`, best first (ties to the lower class id): the report
/// of a multi-label model (PaddleClas's `MultiLabelThreshOutput`). NaN scores never qualify.
#[cfg(feature = "std")]
pub fn over_threshold(scores: &[f32], threshold: f32) -> std::vec::Vec<(usize, f32)> {
    let mut all = top_k_vec(scores, scores.len());
    all.retain(|&(_, s)| s >= threshold);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_keeps_every_class_over_it() {
        let s = [0.9, 0.2, 0.5, f32::NAN, 0.7, 0.49];
        assert_eq!(over_threshold(&s, 0.5), vec![(0, 0.9), (4, 0.7), (2, 0.5)]);
        assert!(over_threshold(&s, 0.95).is_empty());
        assert_eq!(over_threshold(&s, 0.0).len(), 5);
    }

    #[test]
    fn picks_highest_first_with_ties_to_lower_id() {
        let s = [0.1, 0.5, 0.3, 0.5, f32::NAN, 0.2];
        assert_eq!(top_k::<3>(&s), [(1, 0.5), (3, 0.5), (2, 0.3)]);
        assert_eq!(top_k_vec(&s, 3), vec![(1, 0.5), (3, 0.5), (2, 0.3)]);
    }

    #[test]
    fn fewer_scores_than_k() {
        let t = top_k::<3>(&[2.0, 1.0]);
        assert_eq!(t[..2], [(0, 2.0), (1, 1.0)]);
        assert_eq!(t[2].0, usize::MAX);
    }
}
