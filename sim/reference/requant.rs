//! The requant decision: a row is too flat when its largest probability is below the
//! threshold register (SPEC.md section 5).

use super::softmax::PROB_ONE;

/// Threshold register in probability units: round_half_away(threshold x 4095).
pub fn threshold_register(threshold: f64) -> u16 {
    (threshold.clamp(0.0, 1.0) * PROB_ONE as f64).round() as u16
}

/// Largest probability of a row (the 8->1 max tree plus running max); 0 for an empty row.
pub fn row_max(probs: &[u16]) -> u16 {
    probs.iter().copied().max().unwrap_or(0)
}

/// True when the row must be recomputed with the merged MSB+LSB values.
pub fn needs_refetch(probs: &[u16], threshold: u16) -> bool {
    !probs.is_empty() && row_max(probs) < threshold
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::softmax::{multiplier, softmax_row};

    fn probs(scores: &[i32]) -> Vec<u16> {
        let (mut e, mut p) = (Vec::new(), Vec::new());
        softmax_row(scores, multiplier(1e-4), &mut e, &mut p);
        p
    }

    #[test]
    fn flat_rows_refetch_and_peaked_rows_do_not() {
        let t = threshold_register(0.1);
        assert_eq!(t, 410);
        let flat: Vec<i32> = (0..64).map(|i| i * 50).collect();
        assert!(needs_refetch(&probs(&flat), t));
        let mut peaked = flat.clone();
        peaked[17] = 80_000;
        assert!(!needs_refetch(&probs(&peaked), t));
        assert!(!needs_refetch(&[], t));
    }
}
