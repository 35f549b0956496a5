//! Cosine similarity and Spearman rank correlation, in f64.

/// Cosine of two vectors, in f64 so the f32 embeddings' rounding does not leak into ranks.
pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum();
    let na: f64 = a.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb)
}

/// 1-based ranks; tied values share the average of the ranks they span.
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && x[order[end]] == x[order[start]] {
            end += 1;
        }
        // Positions start..end hold ranks start+1..=end; their mean is (start+1+end)/2.
        let rank = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = rank;
        }
        start = end;
    }
    ranks
}

pub fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.len() != y.len() || x.len() < 2 {
        return None;
    }
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (&a, &b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        return None;
    }
    Some(sxy / (sxx * syy).sqrt())
}

/// Spearman's rho as Pearson's r of average ranks (what scipy's `spearmanr` computes). `None`
/// when undefined: fewer than two points, different lengths, a constant side, or a NaN.
pub fn spearman(x: &[f64], y: &[f64]) -> Option<f64> {
    if x.iter().chain(y).any(|v| v.is_nan()) {
        return None;
    }
    pearson(&average_ranks(x), &average_ranks(y))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ranks_average_ties() {
        assert_eq!(
            average_ranks(&[10.0, 20.0, 20.0, 5.0, 20.0]),
            vec![2.0, 4.0, 4.0, 1.0, 4.0]
        );
    }

    #[test]
    fn hand_checked_spearman_with_ties() {
        // x ranks 1..5; y = [5, 6, 7, 8, 7] ranks [1, 2, 3.5, 5, 3.5].
        // d = x - y ranks: mean of both is 3; sxy = (-2)(-2) + (-1)(-1) + 0(0.5) + 1(2)
        // + 2(0.5) = 8; sxx = 10; syy = 4 + 1 + 0.25 + 4 + 0.25 = 9.5; rho = 8 / sqrt(95).
        let rho = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[5.0, 6.0, 7.0, 8.0, 7.0]).unwrap();
        assert!((rho - 8.0 / 95f64.sqrt()).abs() < 1e-12, "{rho}");
    }

    #[test]
    fn undefined_cases_are_none() {
        assert_eq!(spearman(&[1.0], &[2.0]), None);
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), None);
        assert_eq!(spearman(&[1.0, f64::NAN], &[1.0, 2.0]), None);
    }

    #[test]
    fn cosine_of_known_vectors() {
        assert!((cosine(&[1.0, 0.0], &[1.0, 1.0]) - 0.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(cosine(&[2.0, 0.0], &[-1.0, 0.0]), -1.0);
    }

    proptest! {
        /// Without ties, rho = 1 - 6 sum(d^2) / (n (n^2 - 1)), an independent closed form.
        #[test]
        fn matches_closed_form_without_ties(perm in Just((0..12).collect::<Vec<u32>>()).prop_shuffle(),
                                             scale in 0.1f64..10.0) {
            let x: Vec<f64> = (0..12).map(|i| i as f64 * scale).collect();
            let y: Vec<f64> = perm.iter().map(|&p| (p as f64).powi(3) - 7.0).collect();
            let n = 12.0;
            let d2: f64 = (0..12).map(|i| (i as f64 - perm[i] as f64).powi(2)).sum();
            let want = 1.0 - 6.0 * d2 / (n * (n * n - 1.0));
            prop_assert!((spearman(&x, &y).unwrap() - want).abs() < 1e-12);
        }
    }
}
