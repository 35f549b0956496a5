//! Attention statistics of a value set, in f64: how peaked the softmax rows are and how
//! importance concentrates on few tokens. Used to fit the synthetic generator to real captures.

use rayon::prelude::*;
use serde::Serialize;

use super::values::ValueTensors;

/// Quantile levels of [`AttentionStats::max_prob_quantiles`].
pub const QUANTILE_LEVELS: [f64; 5] = [0.1, 0.25, 0.5, 0.75, 0.9];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayerAttentionStats {
    pub max_prob_median: f64,
    /// Share of the layer's importance (attention received, summed over heads and queries)
    /// held by the top 10 % / 30 % of tokens.
    pub top10_share: f64,
    pub top30_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttentionStats {
    /// Softmax rows analysed (every query row of every head and layer).
    pub rows: u64,
    /// Nearest-rank quantiles, at [`QUANTILE_LEVELS`], of each row's largest probability.
    pub max_prob_quantiles: [f64; 5],
    pub max_prob_mean: f64,
    /// Median of the row maxima per head, [layer][head]: the spread of peakedness.
    pub head_max_prob_median: Vec<Vec<f64>>,
    pub layers: Vec<LayerAttentionStats>,
    /// Means over layers of the per-layer shares.
    pub top10_share: f64,
    pub top30_share: f64,
    /// Shares of the importance accumulated over all layers (what cascade pruning ranks by).
    pub cumulative_top10_share: f64,
    pub cumulative_top30_share: f64,
    /// Share of the accumulated importance held by token 0.
    pub token0_share: f64,
}

/// Nearest-rank quantile of sorted values.
pub fn quantile(sorted: &[f64], level: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((level * (sorted.len() - 1) as f64).round() as usize).min(sorted.len() - 1)]
}

/// Share of the total held by the ceil(fraction x n) largest entries.
pub fn top_share(importance: &[f64], fraction: f64) -> f64 {
    let total: f64 = importance.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    let mut v = importance.to_vec();
    v.sort_by(|a, b| b.total_cmp(a));
    let take = ((fraction * v.len() as f64).ceil() as usize).min(v.len());
    v[..take].iter().sum::<f64>() / total
}

struct HeadResult {
    row_max: Vec<f64>,
    importance: Vec<f64>,
}

fn head_stats(vals: &ValueTensors, layer: usize, head: usize) -> HeadResult {
    let l = &vals.layers[layer];
    let (tokens, dim) = (vals.tokens(), vals.head_dim());
    let scale = 1.0 / (dim as f64).sqrt();
    let q = l.q.index_axis(ndarray::Axis(0), head);
    let k = l.k.index_axis(ndarray::Axis(0), head);
    let kf: Vec<Vec<f64>> = (0..tokens)
        .map(|j| k.row(j).iter().map(|&x| x as f64).collect())
        .collect();
    let mut row_max = Vec::with_capacity(tokens);
    let mut importance = vec![0.0; tokens];
    let mut logits = vec![0.0; tokens];
    for i in 0..tokens {
        let qi: Vec<f64> = q.row(i).iter().map(|&x| x as f64).collect();
        let seen = if vals.meta.causal { i + 1 } else { tokens };
        for j in 0..seen {
            logits[j] = qi.iter().zip(&kf[j]).map(|(a, b)| a * b).sum::<f64>() * scale;
        }
        let m = logits[..seen]
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for x in &mut logits[..seen] {
            *x = (*x - m).exp();
            sum += *x;
        }
        let mut best: f64 = 0.0;
        for j in 0..seen {
            let p = logits[j] / sum;
            importance[j] += p;
            best = best.max(p);
        }
        row_max.push(best);
    }
    HeadResult {
        row_max,
        importance,
    }
}

/// Analyses every softmax row of every head (causal masking per `vals.meta.causal`).
pub fn attention_stats(vals: &ValueTensors) -> AttentionStats {
    let (layers, heads, tokens) = (vals.layers.len(), vals.heads(), vals.tokens());
    let results: Vec<HeadResult> = (0..layers * heads)
        .into_par_iter()
        .map(|i| head_stats(vals, i / heads, i % heads))
        .collect();
    let mut all_max = Vec::with_capacity(layers * heads * tokens);
    let mut cumulative = vec![0.0; tokens];
    let mut layer_stats = Vec::with_capacity(layers);
    let mut head_medians = Vec::with_capacity(layers);
    for per_layer in results.chunks(heads.max(1)) {
        let mut importance = vec![0.0; tokens];
        let mut layer_max = Vec::new();
        let mut medians = Vec::with_capacity(heads);
        for r in per_layer {
            importance
                .iter_mut()
                .zip(&r.importance)
                .for_each(|(a, b)| *a += b);
            let mut m = r.row_max.clone();
            m.sort_by(f64::total_cmp);
            medians.push(quantile(&m, 0.5));
            layer_max.extend_from_slice(&r.row_max);
        }
        cumulative
            .iter_mut()
            .zip(&importance)
            .for_each(|(a, b)| *a += b);
        layer_max.sort_by(f64::total_cmp);
        layer_stats.push(LayerAttentionStats {
            max_prob_median: quantile(&layer_max, 0.5),
            top10_share: top_share(&importance, 0.1),
            top30_share: top_share(&importance, 0.3),
        });
        all_max.extend(layer_max);
        head_medians.push(medians);
    }
    all_max.sort_by(f64::total_cmp);
    let n_layers = layer_stats.len().max(1) as f64;
    let total: f64 = cumulative.iter().sum();
    AttentionStats {
        rows: all_max.len() as u64,
        max_prob_quantiles: QUANTILE_LEVELS.map(|q| quantile(&all_max, q)),
        max_prob_mean: all_max.iter().sum::<f64>() / all_max.len().max(1) as f64,
        head_max_prob_median: head_medians,
        top10_share: layer_stats.iter().map(|l| l.top10_share).sum::<f64>() / n_layers,
        top30_share: layer_stats.iter().map(|l| l.top30_share).sum::<f64>() / n_layers,
        layers: layer_stats,
        cumulative_top10_share: top_share(&cumulative, 0.1),
        cumulative_top30_share: top_share(&cumulative, 0.3),
        token0_share: if total > 0.0 {
            cumulative.first().copied().unwrap_or(0.0) / total
        } else {
            0.0
        },
    }
}
