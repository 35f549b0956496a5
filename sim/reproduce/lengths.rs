//! Input lengths of the BERT benchmarks that can be computed from data on this machine: the
//! STS-B dev pairs, encoded as a BERT cross-encoder sees them (`[CLS] s1 [SEP] s2 [SEP]`).

use crate::model::{StsPair, WordPieceTokenizer};

/// WordPiece lengths of `[CLS] s1 [SEP] s2 [SEP]` for every pair, in pair order.
pub fn pair_lengths(tokenizer: &WordPieceTokenizer, pairs: &[StsPair]) -> Vec<usize> {
    pairs
        .iter()
        .map(|p| {
            tokenizer.tokenize(&p.sentence1).len() + tokenizer.tokenize(&p.sentence2).len() + 3
        })
        .collect()
}

/// (mean, median) of lengths; the median of an even count is the mean of the middle two.
pub fn mean_median(lengths: &[usize]) -> Option<(f64, f64)> {
    if lengths.is_empty() {
        return None;
    }
    let mean = lengths.iter().sum::<usize>() as f64 / lengths.len() as f64;
    let mut sorted = lengths.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2] as f64
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0
    };
    Some((mean, median))
}
