//! Language-model accuracy of a decoder on a text: perplexity over non-overlapping windows,
//! teacher-forced through the KV cache, and top-1 next-token agreement between two runs.
//!
//! Each window of W tokens runs as the hardware runs generation: its first P tokens are
//! the prompt (iteration 0, one pass; P = 1 by default), every further token one generation
//! iteration whose single query predicts the next. Every prediction of a one-token pass is
//! scored: those of the generation steps, which read the pruned KV cache, and the prompt's
//! when it is a single token. So with P = 1 all W - 1 next tokens are scored and the dense
//! result equals the plain full-window perplexity (scripts/train_decoders.py and
//! scripts/decoder_numpy.py use the same windows); with a longer prompt the W - P - 1
//! generation steps are, and a prompt pass that prunes its own last query (the cascade)
//! needs no prediction from it.

use rayon::prelude::*;

use super::decoder::{DecoderModel, KvCache, argmax};
use super::decoder_attention::DecoderKernel;
use super::error::ModelError;

/// The held-out part of a text as `scripts/train_decoders.py` splits it: the first 90 % of
/// the characters, extended to the end of their line, trained the shipped decoders; the rest,
/// returned here, is what their model cards' perplexities are measured on.
pub fn heldout_split(text: &str) -> &str {
    let chars = text.chars().count();
    // Python's int(len(text) * 0.9): the same double product, truncated.
    let at = (chars as f64 * 0.9) as usize;
    let byte = text.char_indices().nth(at).map_or(text.len(), |(b, _)| b);
    match text[byte..].find('\n') {
        Some(i) => &text[byte + i + 1..],
        None => "",
    }
}

/// Non-overlapping windows of `len` tokens; a tail shorter than 2 tokens (nothing to
/// predict) is dropped.
pub fn windows(ids: &[u32], len: usize) -> Vec<&[u32]> {
    ids.chunks(len.max(2)).filter(|w| w.len() >= 2).collect()
}

/// The scored predictions of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct LmReport {
    pub windows: usize,
    /// Natural-log probability of each scored next token, in text order.
    pub logprobs: Vec<f64>,
    /// The model's top-1 prediction at each scored position.
    pub top1: Vec<u32>,
    /// K/V rows kept by the last layer and sequence tokens, summed over generation steps
    /// (None for a kernel that never prunes).
    pub kv_kept: Option<(u64, u64)>,
}

impl LmReport {
    pub fn targets(&self) -> usize {
        self.logprobs.len()
    }

    /// Mean negative log-likelihood per scored token (nats).
    pub fn mean_nll(&self) -> f64 {
        -self.logprobs.iter().sum::<f64>() / self.logprobs.len().max(1) as f64
    }

    pub fn perplexity(&self) -> f64 {
        self.mean_nll().exp()
    }

    /// Fraction of positions where both runs predict the same next token.
    pub fn top1_agreement(&self, other: &LmReport) -> Option<f64> {
        (self.top1.len() == other.top1.len() && !self.top1.is_empty()).then(|| {
            let same = self
                .top1
                .iter()
                .zip(&other.top1)
                .filter(|(a, b)| a == b)
                .count();
            same as f64 / self.top1.len() as f64
        })
    }
}

/// Log-probabilities, top-1 predictions and K/V statistics of one window.
type WindowScore = (Vec<f64>, Vec<u32>, Option<(u64, u64)>);

/// Tokens scored in a window of `len` tokens whose prompt is `prompt` tokens long (see the
/// module comment); `prompt` is clamped to 1..len - 1.
pub fn scored_targets(len: usize, prompt: usize) -> usize {
    let prompt = prompt.clamp(1, len.saturating_sub(1).max(1));
    let from = if prompt == 1 { 1 } else { prompt + 1 };
    len.saturating_sub(from)
}

/// One window through the KV cache: its first `prompt` tokens (clamped to 1..len - 1) in one
/// pass, then one token per step. Returns, per scored token (see the module comment), its
/// log-probability and the top-1 prediction.
pub fn score_window(
    model: &DecoderModel,
    ids: &[u32],
    prompt: usize,
    kernel: &mut dyn DecoderKernel,
) -> Result<(Vec<f64>, Vec<u32>), ModelError> {
    let prompt = prompt.clamp(1, ids.len().saturating_sub(1).max(1));
    let scored = scored_targets(ids.len(), prompt);
    let mut cache = KvCache::new(model.config(), ids.len());
    let mut logprobs = Vec::with_capacity(scored);
    let mut top1 = Vec::with_capacity(scored);
    let mut fed = 0;
    for (t, &target) in ids.iter().enumerate().skip(prompt) {
        let step = model.forward(&ids[fed..t], &mut cache, kernel)?;
        let one_token_pass = t - fed == 1;
        fed = t;
        if !one_token_pass {
            continue;
        }
        if step.positions.last() != Some(&(t - 1)) {
            return Err(ModelError::Kernel {
                layer: model.config().num_layers - 1,
                reason: format!("the query at position {} was pruned", t - 1),
            });
        }
        let row = step.logits.row(step.logits.nrows() - 1);
        logprobs.push(log_softmax_at(row, target as usize));
        top1.push(argmax(row));
    }
    Ok((logprobs, top1))
}

/// Scores every window (`prompt` tokens first, as [`score_window`]), each with a fresh kernel from `factory`. Windows run in parallel
/// but independently and are reassembled in order, so the report is identical at any
/// thread count. `on_window` is called once per finished window (progress display).
pub fn evaluate_lm<F, K>(
    model: &DecoderModel,
    windows: &[&[u32]],
    prompt: usize,
    factory: F,
    on_window: &(dyn Fn() + Sync),
) -> Result<LmReport, ModelError>
where
    F: Fn() -> K + Sync,
    K: DecoderKernel,
{
    let parts: Vec<WindowScore> = windows
        .par_iter()
        .map(|w| {
            let mut kernel = factory();
            let (lp, top) = score_window(model, w, prompt, &mut kernel)?;
            on_window();
            Ok((lp, top, kernel.kv_kept()))
        })
        .collect::<Result<_, ModelError>>()?;
    let mut report = LmReport {
        windows: windows.len(),
        logprobs: Vec::new(),
        top1: Vec::new(),
        kv_kept: None,
    };
    for (lp, top, kept) in parts {
        report.logprobs.extend(lp);
        report.top1.extend(top);
        if let Some((a, b)) = kept {
            let (sa, sb) = report.kv_kept.unwrap_or((0, 0));
            report.kv_kept = Some((sa + a, sb + b));
        }
    }
    Ok(report)
}

/// log softmax(row)[target] in f64.
pub fn log_softmax_at(row: ndarray::ArrayView1<f32>, target: usize) -> f64 {
    let max = row.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
    let z: f64 = row.iter().map(|&x| (x as f64 - max).exp()).sum();
    row[target] as f64 - max - z.ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr1;

    #[test]
    fn windows_drop_only_a_tail_without_a_target() {
        let ids: Vec<u32> = (0..10).collect();
        let w = windows(&ids, 4);
        assert_eq!(scored_targets(4, 1), 3);
        assert_eq!(scored_targets(128, 96), 31);
        assert_eq!(scored_targets(4, 9), 0);
        assert_eq!(w, vec![&ids[0..4], &ids[4..8], &ids[8..10]]);
        assert_eq!(windows(&ids[..9], 4).len(), 2);
    }

    #[test]
    fn log_softmax_of_equal_logits_is_minus_log_n() {
        let lp = log_softmax_at(arr1(&[3.0f32, 3.0, 3.0, 3.0]).view(), 2);
        assert!((lp + 4f64.ln()).abs() < 1e-12);
    }
}
