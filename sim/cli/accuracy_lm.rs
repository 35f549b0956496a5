//! `spatten accuracy --model DECODER`: perplexity of a GPT-2- or Llama-style decoder on a
//! text, dense and with a workload's pruning, quantization and policy in the loop, and the
//! top-1 next-token agreement between the two.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};

use super::accuracy::{AccuracyArgs, or_default};
use super::progress;
use crate::config;
use crate::data_dir::Dataset;
use crate::model::{
    DecoderKernel, DecoderModel, DenseCausal, LmReport, ReferenceDecoder, evaluate_lm,
    heldout_split, windows,
};

pub fn run(dir: &Path, args: &AccuracyArgs) -> anyhow::Result<ExitCode> {
    let settings = args
        .workload
        .as_deref()
        .map(config::load_workload)
        .transpose()?;
    let model =
        DecoderModel::load(dir).with_context(|| format!("loading model from {}", dir.display()))?;
    let cfg = model.config().clone();
    if args.window < 2 || args.window > cfg.max_positions {
        bail!(
            "--window {} must lie in 2..={} (the model's positions)",
            args.window,
            cfg.max_positions
        );
    }
    if args.prompt == 0 || args.prompt >= args.window {
        bail!(
            "--prompt {} must lie in 1..{} (below --window, so one token is left to score)",
            args.prompt,
            args.window
        );
    }
    let (text_path, text) = read_text(args.text.as_deref())?;
    let ids = model.encode(&text)?;
    let mut wins = windows(&ids, args.window);
    if let Some(n) = args.limit {
        wins.truncate(n);
    }
    if wins.is_empty() {
        bail!(
            "{}: the text has {} tokens, fewer than the 2 a prediction needs",
            text_path,
            ids.len()
        );
    }
    let window = args.window;
    let dense = score(&model, &wins, args.prompt, "dense", || DenseCausal)?;
    println!(
        "model: {} ({}; {:?}, {} layers, {} heads / {} K/V heads, vocab {})",
        model.name(),
        dir.display(),
        cfg.arch,
        cfg.num_layers,
        cfg.num_heads,
        cfg.num_kv_heads,
        cfg.vocab_size
    );
    println!(
        "text: {} ({} tokens; {} windows of up to {window}, each a {}-token prompt then \
         generation steps; {} next tokens scored)",
        text_path,
        ids.len(),
        wins.len(),
        args.prompt,
        dense.targets()
    );
    println!("perplexity (dense): {:.3}", dense.perplexity());
    if let Some(w) = settings {
        let pruned = score(&model, &wins, args.prompt, &w.name, || {
            ReferenceDecoder::new(&w, &cfg, window)
        })?;
        let (ppl, base) = (pruned.perplexity(), dense.perplexity());
        let quant = format!(
            "{:?} {}+{} bit",
            w.quant.mode, w.quant.msb_bits, w.quant.lsb_bits
        );
        // A [policy] decides which keys each head reads instead of the cascade's token and
        // head pruning, so only its name describes the pruning.
        let what = if w.policy.is_default() {
            format!(
                "token pruning {:.2}, head pruning {:.2}, local V keep {:.2}, {quant}",
                w.token_pruning.average_ratio, w.head_pruning.average_ratio, w.local_v.keep_ratio
            )
        } else {
            format!("policy {}, {quant}", w.policy.kind.label())
        };
        println!(
            "perplexity ({}: {what}): {ppl:.3} ({:+.2} %)",
            w.name,
            100.0 * (ppl / base - 1.0)
        );
        if let Some(a) = dense.top1_agreement(&pruned) {
            println!("top-1 next-token agreement with dense: {:.2} %", 100.0 * a);
        }
        if let Some((kept, seq)) = pruned.kv_kept.filter(|_| w.policy.is_default()) {
            println!(
                "K/V rows alive after the last layer: {:.1} % of the sequence (mean over generation steps)",
                100.0 * kept as f64 / seq.max(1) as f64
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The text to score and how to name it: `given`, else the held-out split of the data
/// root's WikiText-2 validation file.
pub(super) fn read_text(given: Option<&Path>) -> anyhow::Result<(String, String)> {
    match given {
        Some(p) => Ok((
            p.display().to_string(),
            std::fs::read_to_string(p)
                .with_context(|| format!("reading --text {}", p.display()))?,
        )),
        None => {
            let valid = or_default(None, Dataset::Wikitext2, "--text FILE")?;
            let all = std::fs::read_to_string(&valid)
                .with_context(|| format!("reading {}", valid.display()))?;
            Ok((
                format!("{}, held-out last 10 %", valid.display()),
                heldout_split(&all).to_string(),
            ))
        }
    }
}

pub(super) fn score<F, K>(
    model: &DecoderModel,
    wins: &[&[u32]],
    prompt: usize,
    label: &str,
    factory: F,
) -> anyhow::Result<LmReport>
where
    F: Fn() -> K + Sync,
    K: DecoderKernel,
{
    let bar = progress::bar(label.to_string(), wins.len() as u64, "windows");
    let report = evaluate_lm(model, wins, prompt, factory, &|| bar.inc(1));
    bar.finish_and_clear();
    Ok(report?)
}
