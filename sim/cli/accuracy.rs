//! `spatten accuracy`: sentence-similarity accuracy of a BERT model on an STS file, or the
//! perplexity of a decoder (GPT-2 / Llama `config.json`) on a text; either dense and with a
//! workload's pruning and quantization in the loop.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::config;
use crate::data_dir::Dataset;
use crate::model::{self, AccuracyReport, BertModel, DenseAttention, ReferenceAttention, StsPair};

#[derive(Debug, Args)]
pub struct AccuracyArgs {
    /// Model directory. A BERT encoder (config.json, vocab.txt, model.safetensors) is scored
    /// on STS; a decoder (config.json with model_type "gpt2" or "llama", tokenizer.json,
    /// model.safetensors or a sharded index) by perplexity on --text. Default: with --text,
    /// the shipped models/tiny-gpt2; else models/all-MiniLM-L6-v2 under $SPATTEN_DATA (else
    /// ./data), where scripts/fetch-model.sh puts it.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Decoders: the text to score (UTF-8), all of it. Default: the held-out last 10 % of
    /// data/wikitext-2/valid.txt under $SPATTEN_DATA (else ./data), the split the shipped
    /// models did not train on.
    #[arg(long)]
    pub text: Option<PathBuf>,
    /// Decoders: tokens per window; the text is cut into non-overlapping windows, each run
    /// as a --prompt-token prompt followed by one generation step per token.
    #[arg(long, default_value_t = 128)]
    pub window: usize,
    /// Decoders: prompt tokens per window (iteration 0, one pass; policies that fire after
    /// the prompt compress its KV cache). The generation steps' next tokens are scored, and
    /// with 1 the prompt's too, so 1 scores the whole window.
    #[arg(long, default_value_t = 1)]
    pub prompt: usize,
    /// Tab-separated STS file (genre, file, year, id, score, sentence1, sentence2).
    /// Default: data/stsb/sts-dev.tsv under $SPATTEN_DATA (else ./data).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Use only the first N pairs (decoders: the first N windows).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Also run with this workload's pruning and quantization settings in the loop (the
    /// bit-exact reference as the model's attention, on the model's own shape) and compare.
    #[arg(long)]
    pub workload: Option<String>,
}

pub fn run(args: AccuracyArgs) -> anyhow::Result<ExitCode> {
    let model_dir = match &args.model {
        Some(m) => Some(m.clone()),
        None if args.text.is_some() => Some(shipped_model("tiny-gpt2")?),
        None => None,
    };
    if let Some(dir) = &model_dir {
        let (is_decoder, kind) = model::decoder_dir(dir)?;
        if is_decoder {
            if args.data.is_some() {
                bail!("--data is an STS file for BERT models; a decoder takes --text FILE");
            }
            return super::accuracy_lm::run(dir, &args);
        }
        if args.text.is_some() {
            bail!(
                "--text needs a decoder model (config.json model_type \"gpt2\" or \"llama\"); {} is {}",
                dir.display(),
                kind.map_or("not one".to_string(), |k| format!("model_type \"{k}\""))
            );
        }
    }
    let data = or_default(args.data, Dataset::StsbDev, "--data FILE")?;
    let model_dir = or_default(model_dir, Dataset::MiniLm, "--model DIR")?;
    let mut pairs = model::read_sts(&data)?;
    if let Some(n) = args.limit {
        pairs.truncate(n);
    }
    let settings = args
        .workload
        .as_deref()
        .map(config::load_workload)
        .transpose()?;
    let bert = BertModel::load(&model_dir)
        .with_context(|| format!("loading model from {}", model_dir.display()))?;

    let dense = evaluate_with_progress(&bert, &pairs, "dense", || DenseAttention)?;
    println!("model: {} ({})", bert.name(), model_dir.display());
    println!("data: {} ({} pairs)", data.display(), pairs.len());
    println!("Spearman (dense): {:.4}", dense.spearman);
    if let Some(w) = settings {
        let cfg = bert.config().clone();
        let pruned =
            evaluate_with_progress(&bert, &pairs, &w.name, || ReferenceAttention::new(&w, &cfg))?;
        let drift = model::embedding_drift(&dense, &pruned)?;
        println!(
            "Spearman ({}: token pruning {:.2}, head pruning {:.2}, {:?} {}+{} bit): {:.4} ({:+.4})",
            w.name,
            w.token_pruning.average_ratio,
            w.head_pruning.average_ratio,
            w.quant.mode,
            w.quant.msb_bits,
            w.quant.lsb_bits,
            pruned.spearman,
            pruned.spearman - dense.spearman
        );
        println!(
            "tokens surviving the last layer: {:.1} % of {}",
            100.0 * pruned.surviving_tokens as f64 / pruned.tokens.max(1) as f64,
            pruned.tokens
        );
        println!(
            "embedding cosine drift vs dense: mean {:.4}, worst {:.4}",
            drift.mean_cosine, drift.min_cosine
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A model shipped in the repository's models/: from the current directory, else from the
/// source tree this binary was built from.
pub(super) fn shipped_model(name: &str) -> anyhow::Result<PathBuf> {
    let local = PathBuf::from("models").join(name);
    if local.is_dir() {
        return Ok(local);
    }
    let built = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models")
        .join(name);
    if built.is_dir() {
        return Ok(built);
    }
    bail!(
        "no --model given and the shipped models/{name} is not in the current directory; \
         run from the repository root or pass --model DIR"
    )
}

/// The path given on the command line, else the data set's place under the data root.
pub(super) fn or_default(
    given: Option<PathBuf>,
    dataset: Dataset,
    flag: &str,
) -> anyhow::Result<PathBuf> {
    match given {
        Some(p) => Ok(p),
        None if dataset.is_present() => Ok(dataset.path()),
        None => bail!("no {flag} given and {}", dataset.missing_message()),
    }
}

/// Runs [`model::evaluate`] with a progress bar on stderr (hidden when not a terminal).
fn evaluate_with_progress<F, K>(
    bert: &BertModel,
    pairs: &[StsPair],
    label: &str,
    factory: F,
) -> anyhow::Result<AccuracyReport>
where
    F: Fn() -> K + Sync,
    K: model::AttentionKernel,
{
    let bar = ProgressBar::new(pairs.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} pairs ({eta})")
            .expect("static template")
            .progress_chars("=> "),
    );
    bar.set_message(label.to_string());
    let report = model::evaluate(bert, pairs, factory, &|| bar.inc(1));
    bar.finish_and_clear();
    Ok(report?)
}
