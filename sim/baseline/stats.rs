//! Summary statistics of repeated timings.

/// Median (mean of the two middle values for an even count). `None` for no samples or a NaN.
pub fn median(samples: &[f64]) -> Option<f64> {
    let s = sorted(samples)?;
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

/// The paper's statistic: drop `floor(n x fraction)` samples from each end, average the rest.
/// `fraction` must be in [0, 0.5).
pub fn trimmed_mean(samples: &[f64], fraction: f64) -> Option<f64> {
    if !(0.0..0.5).contains(&fraction) {
        return None;
    }
    let s = sorted(samples)?;
    let cut = (s.len() as f64 * fraction).floor() as usize;
    let kept = &s[cut..s.len() - cut];
    Some(kept.iter().sum::<f64>() / kept.len() as f64)
}

fn sorted(samples: &[f64]) -> Option<Vec<f64>> {
    if samples.is_empty() || samples.iter().any(|x| x.is_nan()) {
        return None;
    }
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn trimmed_mean_drops_fifteen_percent_each_side() {
        // 1..=20: drop floor(3) from each end -> 4..=17, mean 10.5.
        let v: Vec<f64> = (1..=20).rev().map(f64::from).collect();
        assert_eq!(trimmed_mean(&v, 0.15), Some(10.5));
        // An outlier at either end does not move it.
        let mut w = v.clone();
        w[0] = 1e9;
        w[19] = -1e9;
        assert_eq!(trimmed_mean(&w, 0.15), Some(10.5));
        assert_eq!(trimmed_mean(&[1.0, 2.0], 0.0), Some(1.5));
        assert_eq!(trimmed_mean(&[1.0], 0.5), None);
    }
}
