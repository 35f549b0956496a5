//! Sentence-similarity accuracy: embed both sides of every STS pair with a given attention
//! kernel, correlate cosine similarity with the gold score, and compare embeddings between
//! two runs (dense vs pruned) as cosine drift.

use ndarray::Array1;
use rayon::prelude::*;

use super::attention::AttentionKernel;
use super::bert::{BertModel, Embedding};
use super::error::ModelError;
use super::stats::{cosine, spearman};
use super::stsb::StsPair;

#[derive(Debug, Clone, PartialEq)]
pub struct AccuracyReport {
    /// Spearman's rho between cosine similarity and the gold scores.
    pub spearman: f64,
    /// Cosine similarity of each pair, in pair order.
    pub cosines: Vec<f64>,
    /// Both embeddings of each pair, in pair order.
    pub embeddings: Vec<[Array1<f32>; 2]>,
    /// Tokens the sentences entered with, summed over both sides of every pair.
    pub tokens: usize,
    /// Tokens alive after the last layer, summed likewise (equals `tokens` when dense).
    pub surviving_tokens: usize,
}

impl AccuracyReport {
    pub fn pairs(&self) -> usize {
        self.cosines.len()
    }
}

/// Pairs per [`BertModel::forward_batch`] call: enough stacked rows (about 300 on STS-B) that
/// packing the weights is a small part of each product, and enough batches (about 60 for the
/// reproduction's 500 pairs) to keep every thread busy.
const PAIRS_PER_BATCH: usize = 8;

/// Evaluates `model` on `pairs`, each sentence with a fresh kernel from `kernel_factory`.
/// Batches of pairs run in parallel; a sentence's embedding does not depend on its batch, so
/// the report is identical at any thread count. `on_pair` is called once per finished pair
/// (progress display).
pub fn evaluate<F, K>(
    model: &BertModel,
    pairs: &[StsPair],
    kernel_factory: F,
    on_pair: &(dyn Fn() + Sync),
) -> Result<AccuracyReport, ModelError>
where
    F: Fn() -> K + Sync,
    K: AttentionKernel,
{
    let batches: Vec<Vec<[Embedding; 2]>> = pairs
        .par_chunks(PAIRS_PER_BATCH)
        .map(|batch| {
            let ids = batch
                .iter()
                .flat_map(|p| [&p.sentence1, &p.sentence2])
                .map(|text| model.encode(text))
                .collect::<Result<Vec<_>, _>>()?;
            let sentences: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
            let mut kernels: Vec<K> = sentences.iter().map(|_| kernel_factory()).collect();
            let mut embedded = model.forward_batch(&sentences, &mut kernels)?.into_iter();
            let mut out = Vec::with_capacity(batch.len());
            while let (Some(a), Some(b)) = (embedded.next(), embedded.next()) {
                out.push([a, b]);
                on_pair();
            }
            Ok(out)
        })
        .collect::<Result<_, ModelError>>()?;
    let embedded: Vec<[Embedding; 2]> = batches.into_iter().flatten().collect();

    let cosines: Vec<f64> = embedded
        .iter()
        .map(|[a, b]| cosine(a.vector.as_slice().unwrap(), b.vector.as_slice().unwrap()))
        .collect();
    let gold: Vec<f64> = pairs.iter().map(|p| p.score).collect();
    let spearman = spearman(&cosines, &gold).ok_or_else(|| ModelError::Statistic {
        reason: format!(
            "Spearman correlation is undefined for these {} pairs (need at least 2, and \
             neither the gold scores nor the similarities may all be equal)",
            pairs.len()
        ),
    })?;
    let tokens = embedded.iter().flatten().map(|e| e.tokens).sum();
    let surviving_tokens = embedded.iter().flatten().map(|e| e.surviving.len()).sum();
    Ok(AccuracyReport {
        spearman,
        cosines,
        embeddings: embedded
            .into_iter()
            .map(|[a, b]| [a.vector, b.vector])
            .collect(),
        tokens,
        surviving_tokens,
    })
}

/// How far one run's embeddings moved from a baseline run's, sentence by sentence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Drift {
    /// Mean cosine similarity between matching embeddings (1 = unchanged).
    pub mean_cosine: f64,
    /// The worst sentence.
    pub min_cosine: f64,
}

/// Compares two reports over the same pairs (e.g. dense vs a pruning workload).
pub fn embedding_drift(
    baseline: &AccuracyReport,
    other: &AccuracyReport,
) -> Result<Drift, ModelError> {
    if baseline.pairs() != other.pairs() || baseline.pairs() == 0 {
        return Err(ModelError::Statistic {
            reason: format!(
                "cannot compare embeddings of {} and {} pairs",
                baseline.pairs(),
                other.pairs()
            ),
        });
    }
    let cos: Vec<f64> = baseline
        .embeddings
        .iter()
        .flatten()
        .zip(other.embeddings.iter().flatten())
        .map(|(a, b)| cosine(a.as_slice().unwrap(), b.as_slice().unwrap()))
        .collect();
    Ok(Drift {
        mean_cosine: cos.iter().sum::<f64>() / cos.len() as f64,
        min_cosine: cos.iter().cloned().fold(f64::INFINITY, f64::min),
    })
}
