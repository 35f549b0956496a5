//! `spatten trace`: inspect, synthesize and import value files and attention traces.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::Subcommand;

use super::progress;
use crate::config::{self, WorkloadConfig};
use crate::data_dir::Dataset;
use crate::model::{self, BertModel};
use crate::reference::{check_values, run_workload_with_progress};
use crate::trace::container;
use crate::trace::stats::{QUANTILE_LEVELS, attention_stats};
use crate::trace::synth::{SynthKnobs, generate};
use crate::trace::totals::totals;
use crate::trace::trace_file::{TRACE_FORMAT, decode_trace, write_trace};
use crate::trace::values_file::{VALUES_FORMAT, decode_values, read_values, write_values};
use crate::trace::{AttentionTrace, ValueTensors, spatten_csv};

#[derive(Debug, Subcommand)]
pub enum TraceCommand {
    /// Describe a value file (spatten-values) or an attention trace (spatten-trace).
    ///
    /// Value files: model, source, seed, shape. Traces: header, totals (head calls, keys and
    /// values fetched, LSB refetches, top-k calls by purpose) and tokens / heads kept per
    /// layer (min / mean / max over iterations). The file is fully read and checked.
    Info {
        /// A .safetensors value or trace file.
        file: PathBuf,
        /// Value files only: also compute attention statistics (max probability quantiles,
        /// importance concentration). Costs layers x heads x tokens^2 x head_dim operations.
        #[arg(long)]
        stats: bool,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Generate synthetic Q/K/V for a workload's shape (prompt + generated tokens).
    ///
    /// Attention statistics are set by knobs (see traces/FORMAT.md): per-head logit spread
    /// (peakedness) and Zipf-distributed heavy tokens plus an attention sink (concentration).
    Synth {
        /// Workload preset name or TOML file.
        #[arg(long)]
        workload: String,
        /// Output value file (.safetensors); written atomically.
        #[arg(long)]
        out: PathBuf,
        /// Seed; defaults to the workload's seed.
        #[arg(long)]
        seed: Option<u64>,
        /// TOML file overriding some generator knobs (keys as in traces/FORMAT.md).
        #[arg(long)]
        knobs: Option<PathBuf>,
    },
    /// Capture Q/K/V of every layer of a BERT model or a decoder (dense forward pass) on a
    /// text file.
    ///
    /// BERT: the text is tokenized as the Hugging Face tokenizer does (`[CLS] ... [SEP]`,
    /// truncated to the model's positions with a warning), one summarization prompt.
    /// Decoders (config.json model_type "gpt2" or "llama"): the text's tokens (truncated to
    /// the model's positions with a warning) are a prompt followed by --generated
    /// teacher-forced generation steps, causal, K/V per K/V head, Q and K after RoPE. The
    /// value file's `source` is the text file's name.
    Capture {
        /// Model directory: a BERT encoder (config.json, vocab.txt, model.safetensors) or a
        /// decoder (config.json, tokenizer.json, model.safetensors). Default:
        /// models/all-MiniLM-L6-v2 under $SPATTEN_DATA (else ./data), where
        /// scripts/fetch-model.sh puts it.
        #[arg(long)]
        model: Option<PathBuf>,
        /// UTF-8 text file.
        #[arg(long)]
        text: PathBuf,
        /// Output value file (.safetensors); written atomically.
        #[arg(long)]
        out: PathBuf,
        /// Decoders: the last N tokens are generated (the rest the prompt).
        #[arg(long, default_value_t = 32)]
        generated: usize,
    },
    /// Run the bit-exact reference model over values and write the attention trace.
    Reference {
        /// Workload preset name or TOML file; its shape must match the value file.
        #[arg(long)]
        workload: String,
        /// Value file (.safetensors), e.g. from `spatten trace capture` or `synth`. Without
        /// it, the synthetic values `spatten run` draws (for a batch, `stage.batch`, one
        /// seed per sequence; a value file holds one sequence).
        #[arg(long)]
        values: Option<PathBuf>,
        /// Output trace file (.safetensors); written atomically.
        #[arg(long)]
        out: PathBuf,
        /// Design point (preset or TOML) whose arithmetic the trace follows: a design with
        /// `softmax.tiled_summarization = "two-pass"` changes it (its prompt rows over more
        /// keys than a key tile are summed online, SPEC.md 9b), one with
        /// `topk_value.candidate_entries` records its hierarchical local-V selections
        /// (SPEC.md 6.4); each replays only traces made for it. Default: exact sums, and
        /// selections ranked in place.
        #[arg(long)]
        arch: Option<String>,
    },
    /// Convert a public SpAtten CSV trace (17 columns) into an attention trace.
    ///
    /// Keeps every decision in the CSV (fetch counts, bit widths, LSB refetches, top-k calls);
    /// token indices and quick-select round sizes follow the rules in traces/FORMAT.md.
    ImportSpattenCsv {
        /// The CSV file.
        input: PathBuf,
        /// Output trace file (.safetensors); written atomically.
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(cmd: TraceCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        TraceCommand::Info { file, stats, json } => info(&file, stats, json),
        TraceCommand::Synth {
            workload,
            out,
            seed,
            knobs,
        } => {
            let w = config::load_workload(&workload)?;
            let knobs = match knobs {
                Some(p) => load_knobs(&p)?,
                None => SynthKnobs::for_workload(&w),
            };
            let seed = seed.unwrap_or(w.seed);
            crate::budget::reference_estimate(&w).check(&format!("workload {workload}"))?;
            let spin = progress::spinner(format!("synthesizing values for {}", w.name));
            let values = generate(&w, &knobs, seed);
            spin.set_message(format!("writing {}", out.display()));
            write_values(&out, &values)?;
            spin.finish_and_clear();
            println!(
                "wrote {}: {} layers x {} heads x {} tokens x {} dims (seed {seed})",
                out.display(),
                values.layers.len(),
                values.heads(),
                values.tokens(),
                values.head_dim()
            );
            Ok(ExitCode::SUCCESS)
        }
        TraceCommand::Capture {
            model,
            text,
            out,
            generated,
        } => {
            let dir = match model {
                Some(d) => d,
                None => default_model()?,
            };
            if model::decoder_dir(&dir)?.0 {
                check_output_dir(&out)?;
                super::trace_capture_decoder::run(&dir, &text, &out, generated)
            } else {
                capture(dir, &text, &out)
            }
        }
        TraceCommand::Reference {
            workload,
            values,
            out,
            arch,
        } => match values {
            Some(values) => reference(&workload, &values, &out, arch.as_deref()),
            None => reference_synthetic(&workload, &out, arch.as_deref()),
        },
        TraceCommand::ImportSpattenCsv { input, out } => {
            let trace = spatten_csv::import(&input)?;
            write_trace(&out, &trace)?;
            let t = totals(&trace);
            println!(
                "wrote {}: {} head calls over {} iterations, {} top-k calls",
                out.display(),
                t.head_calls,
                t.iterations,
                trace.topk_calls.len()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The default model: all-MiniLM-L6-v2 under the data root, or an error saying how to get it.
fn default_model() -> anyhow::Result<PathBuf> {
    let model = Dataset::MiniLm;
    if model.is_present() {
        Ok(model.path())
    } else {
        bail!("no --model given and {}", model.missing_message())
    }
}

/// Fails before the (slow) model run when the output cannot be created at all.
fn check_output_dir(out: &Path) -> anyhow::Result<()> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        bail!(
            "{}: cannot write output: directory {} does not exist",
            out.display(),
            parent.display()
        );
    }
    if out.is_dir() {
        bail!("{}: cannot write output: it is a directory", out.display());
    }
    Ok(())
}

fn capture(dir: PathBuf, text_path: &Path, out: &Path) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(text_path)
        .with_context(|| format!("{}: cannot read text file", text_path.display()))?;
    check_output_dir(out)?;
    let bert =
        BertModel::load(&dir).with_context(|| format!("loading model from {}", dir.display()))?;
    let pieces = bert.tokenizer().tokenize(&text).len();
    if pieces == 0 {
        bail!(
            "{}: text is empty: it holds no token after normalisation",
            text_path.display()
        );
    }
    let max = bert.config().max_position_embeddings;
    if pieces + 2 > max {
        eprintln!(
            "warning: {}: {} tokens with [CLS] and [SEP] exceed the model's {max} positions; \
             truncated to the first {max}, as the Hugging Face tokenizer does",
            text_path.display(),
            pieces + 2
        );
    }
    let values = model::capture(&bert, &text)
        .with_context(|| format!("{}: capturing with {}", text_path.display(), dir.display()))?;
    let values = write_captured(values, text_path, out)?;
    println!(
        "wrote {}: {} ({}) on {}: {} layers x {} heads x {} tokens x {} dims",
        out.display(),
        values.meta.model,
        dir.display(),
        values.meta.source,
        values.layers.len(),
        values.heads(),
        values.tokens(),
        values.head_dim()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes captured values with the text file's name as their `source`.
pub(super) fn write_captured(
    mut values: ValueTensors,
    text_path: &Path,
    out: &Path,
) -> anyhow::Result<ValueTensors> {
    values.meta.source = text_path.file_name().map_or_else(
        || text_path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    write_values(out, &values)?;
    Ok(values)
}

/// "6 layers x 12 heads x 32 dims x 120 tokens (prompt 120, causal false)".
fn values_shape(v: &ValueTensors) -> String {
    format!(
        "{} layers x {} heads{} x {} dims x {} tokens (prompt {}, causal {})",
        v.layers.len(),
        v.heads(),
        kv_text(v.heads() as u32, v.kv_heads() as u32),
        v.head_dim(),
        v.tokens(),
        v.meta.prompt_tokens,
        v.meta.causal
    )
}

/// " (8 K/V heads)" under grouped-query attention, nothing otherwise.
fn kv_text(heads: u32, kv_heads: u32) -> String {
    if kv_heads == heads {
        String::new()
    } else {
        format!(" ({kv_heads} K/V heads)")
    }
}

fn workload_shape(w: &WorkloadConfig) -> String {
    format!(
        "{} layers x {} heads{} x {} dims x {} tokens (prompt {}, causal {})",
        w.model.layers,
        w.model.heads,
        kv_text(w.model.heads, w.model.kv_heads()),
        w.model.head_dim,
        w.final_tokens(),
        w.stage.prompt_tokens,
        w.model.causal
    )
}

fn reference(
    workload: &str,
    values_path: &Path,
    out: &Path,
    arch: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let w = config::load_workload(workload)?;
    let design = match arch {
        Some(a) => {
            let arch = config::load_arch(a)?;
            config::tiles::reference_design(&arch, w.model.head_dim)
        }
        None => crate::trace::ReferenceDesign::default(),
    };
    let values = read_values(values_path)?;
    check_output_dir(out)?;
    if let Err(e) = check_values(&values, &w) {
        bail!(
            "{}: values have {}, workload {} wants {}: {e}",
            values_path.display(),
            values_shape(&values),
            w.name,
            workload_shape(&w)
        );
    }
    if values.meta.causal != w.model.causal {
        eprintln!(
            "warning: {}: values were captured with causal = {}, workload {} runs causal = {}",
            values_path.display(),
            values.meta.causal,
            w.name,
            w.model.causal
        );
    }
    crate::budget::reference_estimate(&w).check(&format!("workload {}", w.name))?;
    let bar = progress::bar(format!("reference {}", w.name), 0, "layer passes");
    let trace = run_workload_with_progress(&values, &w, design, &|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    })
    .with_context(|| format!("{}: reference run of {}", values_path.display(), w.name));
    bar.finish_and_clear();
    let trace = trace?;
    write_reported(out, &trace, &w.name, &values_path.display().to_string())?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the trace the reference made of `workload` on `values`, and says what it holds.
fn write_reported(
    out: &Path,
    trace: &AttentionTrace,
    workload: &str,
    values: &str,
) -> anyhow::Result<()> {
    let spin = progress::spinner(format!("writing {}", out.display()));
    write_trace(out, trace)?;
    spin.finish_and_clear();
    println!("wrote {}: workload {workload} on {values}", out.display());
    let t = totals(trace);
    println!(
        "  head calls     {} over {} iterations ({} query rows)",
        t.head_calls, t.iterations, t.queries
    );
    println!(
        "  keys fetched   {} (values {})",
        t.keys_fetched, t.values_fetched
    );
    println!(
        "  LSB refetches  {} head calls ({} requant rows)",
        t.lsb_refetches, t.requant_rows
    );
    println!(
        "  top-k calls    {} token, {} head, {} local-V",
        t.topk_token_calls, t.topk_head_calls, t.topk_local_value_calls
    );
    Ok(())
}

/// `trace reference` without a value file: the trace `spatten run --workload` replays.
fn reference_synthetic(workload: &str, out: &Path, arch: Option<&str>) -> anyhow::Result<ExitCode> {
    let w = config::load_workload(workload)?;
    check_output_dir(out)?;
    let e = crate::experiment::Experiment {
        name: w.name.clone(),
        // The arch only decides its reference design (key tile, local-V engine); the preset
        // has neither.
        arch: config::load_arch(arch.unwrap_or("spatten"))?,
        workload: Some(w.clone()),
        input: crate::experiment::Input::Synthetic,
        dram: crate::experiment::DramKind::Native,
        timeline: false,
    };
    // Every sequence's trace is held until the batch's is written.
    crate::budget::run_estimate(&e.arch, &w, crate::budget::ValueSupply::Synthetic)
        .check(&format!("workload {}", w.name))?;
    let spin = progress::spinner(format!("reference {}", w.name));
    let trace = e.build_trace(&mut |phase| spin.set_message(phase.to_string()));
    spin.finish_and_clear();
    let trace = trace?;
    write_reported(out, &trace, &w.name, "synthetic values")?;
    Ok(ExitCode::SUCCESS)
}

fn load_knobs(path: &Path) -> anyhow::Result<SynthKnobs> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read knobs file", path.display()))?;
    let knobs: SynthKnobs =
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    if let Err(e) = knobs.check() {
        bail!("{}: {e}", path.display());
    }
    Ok(knobs)
}

fn info(path: &Path, stats: bool, json: bool) -> anyhow::Result<ExitCode> {
    let c = container::read(path)?;
    match c.meta(path, "format")? {
        VALUES_FORMAT => value_info(&decode_values(path, &c)?, path, stats, json),
        TRACE_FORMAT => {
            if stats {
                bail!(
                    "{}: --stats applies to value files, not traces",
                    path.display()
                );
            }
            trace_info(&decode_trace(path, &c)?, path, json)
        }
        other => bail!(
            "{}: metadata key `format` is {other:?}, expected {VALUES_FORMAT:?} or {TRACE_FORMAT:?}",
            path.display()
        ),
    }
}

fn value_info(v: &ValueTensors, path: &Path, stats: bool, json: bool) -> anyhow::Result<ExitCode> {
    let s = stats.then(|| {
        let spin = progress::spinner(format!("attention statistics of {}", path.display()));
        let s = attention_stats(v);
        spin.finish_and_clear();
        s
    });
    if json {
        let out = serde_json::json!({
            "format": VALUES_FORMAT,
            "meta": v.meta,
            "layers": v.layers.len(),
            "heads": v.heads(),
            "tokens": v.tokens(),
            "head_dim": v.head_dim(),
            "stats": s,
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    let m = &v.meta;
    println!("{}: value tensors ({VALUES_FORMAT})", path.display());
    println!("  model          {}", m.model);
    println!("  source         {}", m.source);
    println!("  seed           {}", m.seed);
    println!(
        "  prompt tokens  {} (causal: {})",
        m.prompt_tokens, m.causal
    );
    println!(
        "  shape          {} layers x [{} heads, {} tokens, {} dims] for each of Q, K, V{}",
        v.layers.len(),
        v.heads(),
        v.tokens(),
        v.head_dim(),
        match v.kv_heads() {
            kv if kv != v.heads() => format!(" (K and V: {kv} heads)"),
            _ => String::new(),
        }
    );
    if let Some(s) = s {
        println!("  softmax rows   {}", s.rows);
        let q: Vec<String> = QUANTILE_LEVELS
            .iter()
            .zip(s.max_prob_quantiles)
            .map(|(l, x)| format!("p{:.0}={x:.4}", l * 100.0))
            .collect();
        println!(
            "  max prob       mean {:.4}; {}",
            s.max_prob_mean,
            q.join(" ")
        );
        println!(
            "  importance     top 10% {:.4}, top 30% {:.4} (per layer, mean); cumulative {:.4} / {:.4}; token 0 {:.4}",
            s.top10_share,
            s.top30_share,
            s.cumulative_top10_share,
            s.cumulative_top30_share,
            s.token0_share
        );
        println!("  layer  max-prob median  top10%  top30%");
        for (i, l) in s.layers.iter().enumerate() {
            println!(
                "  {i:>5}  {:>15.4}  {:>6.4}  {:>6.4}",
                l.max_prob_median, l.top10_share, l.top30_share
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn trace_info(t: &AttentionTrace, path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let tot = totals(t);
    if json {
        let out = serde_json::json!({ "format": TRACE_FORMAT, "header": t.header, "totals": tot });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    let h = &t.header;
    println!("{}: attention trace ({TRACE_FORMAT})", path.display());
    println!("  workload       {}", h.workload);
    println!("  source         {}", h.source);
    println!(
        "  shape          {} layers x {} heads{}, D = {}, {}, {} + {} tokens, seed {}",
        h.layers,
        h.heads,
        kv_text(h.heads, h.kv_heads()),
        h.head_dim,
        h.stage.label(),
        h.prompt_tokens,
        h.generated_tokens,
        h.seed
    );
    if let Some(b) = h.batch {
        println!(
            "  batch          {b} independent sequences (sequence 0 seeded {}, the others \
             derived from it)",
            h.seed
        );
    }
    if let Some(e) = h.value_topk_entries {
        let tiled: Vec<_> = t
            .topk_calls
            .iter()
            .filter(|c| !c.stages.is_empty())
            .collect();
        println!(
            "  local V top-k  an engine of {e} candidates: {} selections over more candidates than it holds ran \
             hierarchically, in {} stages (SPEC.md 6.4)",
            tiled.len(),
            tiled.iter().map(|c| c.stages.len()).sum::<usize>()
        );
    }
    if let Some(t) = h.softmax_key_tile_rows {
        println!(
            "  softmax sums   online over key tiles of {t} rows in calls of many query rows \
             (a two-pass design, SPEC.md 9b)"
        );
    }
    println!(
        "  head calls     {} over {} iterations ({} query rows)",
        tot.head_calls, tot.iterations, tot.queries
    );
    println!("  keys fetched   {}", tot.keys_fetched);
    println!("  values fetched {}", tot.values_fetched);
    println!(
        "  LSB refetches  {} head calls ({} requant rows)",
        tot.lsb_refetches, tot.requant_rows
    );
    println!(
        "  top-k calls    {} token, {} head, {} local-V ({} elements streamed in rounds)",
        tot.topk_token_calls,
        tot.topk_head_calls,
        tot.topk_local_value_calls,
        tot.topk_round_elements
    );
    println!("  layer  records  tokens kept min/mean/max  heads kept min/mean/max");
    for l in &tot.per_layer {
        println!(
            "  {:>5}  {:>7}  {:>6} / {:>8.1} / {:>6}  {:>4} / {:>5.1} / {:>4}",
            l.layer,
            l.records,
            l.tokens_kept_min,
            l.tokens_kept_mean,
            l.tokens_kept_max,
            l.heads_kept_min,
            l.heads_kept_mean,
            l.heads_kept_max
        );
    }
    Ok(ExitCode::SUCCESS)
}
