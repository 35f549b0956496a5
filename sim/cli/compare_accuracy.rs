//! The accuracy column of `spatten compare`: each policy in a real model's loop on the same
//! inputs. Summarization workloads: STS-B Spearman of MiniLM, each sentence its own prompt.
//! Generation workloads: perplexity of a shipped decoder, each text window a prompt and the
//! workload's generation steps. Both loops run prompts shorter than the workload's, so the
//! policy's token counts are scaled to them (`PolicyConfig::sized_for_prompt`).

use std::path::PathBuf;

use anyhow::Context;

use super::accuracy::shipped_model;
use super::accuracy_lm::{read_text, score};
use super::compare::Row;
use crate::config::WorkloadConfig;
use crate::config::workload::{Positional, StageKind};
use crate::data_dir::Dataset;
use crate::model::{
    self, BertModel, DecoderModel, DenseCausal, ReferenceAttention, ReferenceDecoder, windows,
};

/// Decoder windows are this long, or the model's positions where fewer.
const DECODER_WINDOW: usize = 128;

/// What the accuracy loops read (the compare command's flags).
#[derive(Debug, Clone)]
pub struct AccuracyInputs {
    pub sts_pairs: usize,
    pub decoder: Option<PathBuf>,
    pub text: Option<PathBuf>,
    pub windows: usize,
}

/// The column's header and the footnote that says how it was measured.
#[derive(Debug, Clone)]
pub struct AccuracyColumn {
    pub header: String,
    pub axis: String,
    pub higher_is_better: bool,
    pub footnote: String,
}

/// Refuses a --decoder or --text the perplexity column could not read, before any
/// simulation runs.
pub fn check_inputs(base: &WorkloadConfig, inputs: &AccuracyInputs) -> anyhow::Result<()> {
    if base.stage.kind != StageKind::Generation || inputs.windows == 0 {
        return Ok(());
    }
    if let Some(t) = &inputs.text {
        std::fs::File::open(t).with_context(|| format!("reading --text {}", t.display()))?;
    }
    if let Some(d) = &inputs.decoder
        && !model::decoder_dir(d)?.0
    {
        anyhow::bail!(
            "--decoder {}: not a decoder folder (config.json with model_type \"gpt2\" or \"llama\", \
             tokenizer.json, model.safetensors)",
            d.display()
        );
    }
    Ok(())
}

/// Fills `row.accuracy` for every policy, or returns why the column is left out.
pub fn fill(
    base: &WorkloadConfig,
    workloads: &[WorkloadConfig],
    inputs: &AccuracyInputs,
    rows: &mut [Row],
) -> anyhow::Result<Result<AccuracyColumn, String>> {
    match base.stage.kind {
        StageKind::Summarization => sts(workloads, inputs.sts_pairs, rows),
        StageKind::Generation => perplexity(base, workloads, inputs, rows),
    }
}

/// The workload's policy with its token counts scaled to the prompts the loop runs.
fn sized(w: &WorkloadConfig) -> WorkloadConfig {
    let mut w = w.clone();
    w.policy.sized_for_prompt = Some(w.stage.prompt_tokens);
    w
}

fn sts(
    workloads: &[WorkloadConfig],
    pairs_wanted: usize,
    rows: &mut [Row],
) -> anyhow::Result<Result<AccuracyColumn, String>> {
    if pairs_wanted == 0 {
        return Ok(Err("accuracy skipped (--accuracy-pairs 0)".into()));
    }
    for d in [Dataset::MiniLm, Dataset::StsbDev] {
        if !d.is_present() {
            return Ok(Err(format!("accuracy left out: {}", d.missing_message())));
        }
    }
    let bert = BertModel::load(&Dataset::MiniLm.path())?;
    let mut pairs = model::read_sts(&Dataset::StsbDev.path())?;
    pairs.truncate(pairs_wanted);
    let cfg = bert.config().clone();
    for (row, w) in rows.iter_mut().zip(workloads) {
        let w = &sized(w);
        let r = model::evaluate(&bert, &pairs, || ReferenceAttention::new(w, &cfg), &|| {})
            .with_context(|| format!("policy {}: accuracy", row.policy))?;
        row.accuracy = Some(r.spearman);
    }
    Ok(Ok(AccuracyColumn {
        header: "STS-B Spearman".into(),
        axis: "STS-B Spearman (MiniLM)".into(),
        higher_is_better: true,
        footnote: format!(
            "STS-B Spearman: all-MiniLM-L6-v2 on the first {} pairs of STS-B dev with the \
             policy in the loop, each sentence its own prompt (the policy's token counts \
             scaled to it).",
            pairs.len()
        ),
    }))
}

fn perplexity(
    base: &WorkloadConfig,
    workloads: &[WorkloadConfig],
    inputs: &AccuracyInputs,
    rows: &mut [Row],
) -> anyhow::Result<Result<AccuracyColumn, String>> {
    if inputs.windows == 0 {
        return Ok(Err("accuracy skipped (--accuracy-windows 0)".into()));
    }
    let text = match &inputs.text {
        Some(p) => read_text(Some(p))?,
        None if !Dataset::Wikitext2.is_present() => {
            return Ok(Err(format!(
                "accuracy left out: {} (or give --text FILE)",
                Dataset::Wikitext2.missing_message()
            )));
        }
        None => read_text(None)?,
    };
    let dir = match &inputs.decoder {
        Some(d) => d.clone(),
        None if base.model.positional == Some(Positional::Rope) => shipped_model("tiny-llama")?,
        None => shipped_model("tiny-gpt2")?,
    };
    let decoder = DecoderModel::load(&dir)
        .with_context(|| format!("loading the decoder from {}", dir.display()))?;
    let cfg = decoder.config().clone();
    let window = DECODER_WINDOW.min(cfg.max_positions);
    let generated = (base.stage.generated_tokens as usize).clamp(1, window / 2);
    let prompt = window - generated;
    let ids = decoder.encode(&text.1)?;
    let wins: Vec<&[u32]> = windows(&ids, window)
        .into_iter()
        .filter(|w| w.len() == window)
        .take(inputs.windows)
        .collect();
    if wins.is_empty() {
        anyhow::bail!(
            "{}: {} tokens, not one window of {window} for the accuracy column",
            text.0,
            ids.len()
        );
    }
    let float = score(&decoder, &wins, prompt, "float dense", || DenseCausal)?;
    for (row, w) in rows.iter_mut().zip(workloads) {
        let w = &sized(w);
        let r = score(&decoder, &wins, prompt, &row.policy, || {
            ReferenceDecoder::new(w, &cfg, window)
        })
        .with_context(|| format!("policy {}: accuracy", row.policy))?;
        row.accuracy = Some(r.perplexity());
    }
    Ok(Ok(AccuracyColumn {
        header: format!("perplexity ({})", decoder.name()),
        axis: format!("perplexity ({})", decoder.name()),
        higher_is_better: false,
        footnote: format!(
            "perplexity: {} ({}) with the policy and the workload's quantization in the loop, \
             on {} windows of {window} tokens of {}: each a {prompt}-token prompt and \
             {generated} generated tokens, the {} predicted by generation steps scored (the \
             policy's token counts scaled from the workload's {}-token prompt to {prompt}). \
             Float dense attention: {:.3}.",
            decoder.name(),
            dir.display(),
            wins.len(),
            text.0,
            float.targets(),
            base.stage.prompt_tokens,
            float.perplexity()
        ),
    }))
}
