//! Fits the synthetic generator's knobs (`SynthKnobs`) to the attention statistics of real
//! all-MiniLM-L6-v2 captures of WikiText-2 paragraphs. Reproduces the table in
//! traces/FORMAT.md:
//!
//!   cargo run --release --example fit_synth -- \
//!       [--model DIR] [--data valid.txt] [--count 200] [--min-tokens 100] [--max-tokens 500]
//!
//! Real side: the first `count` paragraphs of the data file (headings and empty lines
//! skipped, WikiText's ` @-@ ` style escapes undone, `<unk>` read as `[UNK]`) whose token
//! count with `[CLS]`/`[SEP]` lies in [min, max] are captured with the Rust model;
//! `attention_stats` of each capture; the target is the mean over captures of each
//! statistic below. Synthetic side: 6 x 12 heads x D 32 values at the 8 token counts at the
//! 1/16, 3/16, ..., 15/16 quantiles of the real lengths, seeds 1..=8, same statistics, same
//! mean. Objective: sum of squared differences. Search: coordinate descent over the six
//! attention knobs, 8 sweeps, step sizes halved after each, from the previous defaults.
//! `value_std` does not move attention statistics; it is set to the real V element std.
//! Deterministic: same inputs, same output at any thread count.

use std::path::PathBuf;

use rayon::prelude::*;
use spatten::config::load_workload;
use spatten::data_dir::Dataset;
use spatten::model::{BertModel, capture};
use spatten::trace::stats::quantile;
use spatten::trace::synth::{SynthKnobs, generate};
use spatten::trace::{AttentionStats, ValueTensors, attention_stats};

const NAMES: [&str; 11] = [
    "max prob p10",
    "max prob p25",
    "max prob p50",
    "max prob p75",
    "max prob p90",
    "top 10% share (per layer)",
    "top 30% share (per layer)",
    "top 10% share (cumulative)",
    "token 0 share (cumulative)",
    "max prob median, last - first layer",
    "head median max prob, p75 - p25",
];

type Summary = [f64; 11];

fn summary(s: &AttentionStats) -> Summary {
    let q = s.max_prob_quantiles;
    let mut heads: Vec<f64> = s.head_max_prob_median.iter().flatten().copied().collect();
    heads.sort_by(f64::total_cmp);
    let trend = s.layers.last().unwrap().max_prob_median - s.layers[0].max_prob_median;
    [
        q[0],
        q[1],
        q[2],
        q[3],
        q[4],
        s.top10_share,
        s.top30_share,
        s.cumulative_top10_share,
        s.token0_share,
        trend,
        quantile(&heads, 0.75) - quantile(&heads, 0.25),
    ]
}

fn mean(xs: &[Summary]) -> Summary {
    let mut m = [0.0; 11];
    for x in xs {
        for (a, b) in m.iter_mut().zip(x) {
            *a += b / xs.len() as f64;
        }
    }
    m
}

fn loss(a: &Summary, b: &Summary) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum()
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// WikiText-2 paragraphs as plain text.
fn paragraphs(raw: &str) -> Vec<String> {
    raw.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('='))
        .map(|l| {
            l.replace(" @-@ ", "-")
                .replace(" @,@ ", ",")
                .replace(" @.@ ", ".")
                .replace("<unk>", "[UNK]")
        })
        .collect()
}

fn v_std(v: &ValueTensors) -> f64 {
    let (mut s, mut s2, mut n) = (0.0, 0.0, 0.0);
    for l in &v.layers {
        for &x in l.v.iter() {
            s += x as f64;
            s2 += (x as f64).powi(2);
            n += 1.0;
        }
    }
    (s2 / n - (s / n).powi(2)).sqrt()
}

struct Synth {
    lengths: Vec<u32>,
}

impl Synth {
    fn summary(&self, knobs: &SynthKnobs) -> Summary {
        let base = load_workload("minilm").expect("minilm preset");
        let per: Vec<Summary> = self
            .lengths
            .par_iter()
            .enumerate()
            .map(|(i, &t)| {
                let mut w = base.clone();
                w.stage.prompt_tokens = t;
                summary(&attention_stats(&generate(&w, knobs, i as u64 + 1)))
            })
            .collect();
        mean(&per)
    }
}

fn get(k: &SynthKnobs, i: usize) -> f64 {
    [
        k.logit_std_median,
        k.logit_std_log_spread,
        k.logit_std_layer_trend,
        k.heavy_bias,
        k.heavy_zipf_exponent,
        k.sink_bias,
    ][i]
}

fn set(k: &mut SynthKnobs, i: usize, x: f64) {
    match i {
        0 => k.logit_std_median = x,
        1 => k.logit_std_log_spread = x,
        2 => k.logit_std_layer_trend = x,
        3 => k.heavy_bias = x,
        4 => k.heavy_zipf_exponent = x,
        _ => k.sink_bias = x,
    }
}

const KNOB_NAMES: [&str; 6] = [
    "logit_std_median",
    "logit_std_log_spread",
    "logit_std_layer_trend",
    "heavy_bias",
    "heavy_zipf_exponent",
    "sink_bias",
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let model_dir = arg(&args, "--model")
        .map(PathBuf::from)
        .unwrap_or_else(|| Dataset::MiniLm.path());
    let data = arg(&args, "--data")
        .map(PathBuf::from)
        .unwrap_or_else(|| Dataset::Wikitext2.path());
    let num = |name: &str, default: usize| {
        arg(&args, name).map_or(default, |s| s.parse().expect("a number"))
    };
    let (count, min_t, max_t) = (
        num("--count", 200),
        num("--min-tokens", 100),
        num("--max-tokens", 500),
    );

    let model = BertModel::load(&model_dir).expect("model");
    let raw = std::fs::read_to_string(&data).expect("data file");
    let chosen: Vec<String> = paragraphs(&raw)
        .into_iter()
        .filter(|p| (min_t..=max_t).contains(&(model.tokenizer().tokenize(p).len() + 2)))
        .take(count)
        .collect();
    eprintln!(
        "capturing {} paragraphs of {}",
        chosen.len(),
        data.display()
    );
    let clock = std::time::Instant::now();
    let real: Vec<(u32, Summary, f64)> = chosen
        .par_iter()
        .map(|p| {
            let v = capture(&model, p).expect("capture");
            (
                v.meta.prompt_tokens,
                summary(&attention_stats(&v)),
                v_std(&v),
            )
        })
        .collect();
    let target = mean(&real.iter().map(|r| r.1).collect::<Vec<_>>());
    let value_std = real.iter().map(|r| r.2).sum::<f64>() / real.len() as f64;
    let mut lengths: Vec<u32> = real.iter().map(|r| r.0).collect();
    lengths.sort_unstable();
    let mean_len = lengths.iter().map(|&t| t as f64).sum::<f64>() / lengths.len() as f64;
    eprintln!(
        "real: {} captures, tokens min {} median {} max {} mean {mean_len:.1}",
        lengths.len(),
        lengths[0],
        lengths[lengths.len() / 2],
        lengths[lengths.len() - 1]
    );
    let synth = Synth {
        lengths: (0..8)
            .map(|i| {
                let level = (2 * i + 1) as f64 / 16.0;
                lengths[((level * (lengths.len() - 1) as f64).round()) as usize]
            })
            .collect(),
    };
    eprintln!(
        "synthetic lengths {:?} (real side took {:.0} s)",
        synth.lengths,
        clock.elapsed().as_secs_f64()
    );

    let start = SynthKnobs {
        logit_std_median: 1.5,
        logit_std_log_spread: 0.4,
        logit_std_layer_trend: 0.0,
        heavy_bias: 3.0,
        heavy_zipf_exponent: 1.0,
        sink_bias: 2.0,
        value_std: 1.0,
    };
    let start_summary = synth.summary(&start);
    let mut best = start.clone();
    let mut best_loss = loss(&start_summary, &target);
    let mut steps = [1.0, 0.4, 1.0, 2.0, 0.5, 2.0];
    let lower = [0.05, 0.0, f64::NEG_INFINITY, 0.0, 0.0, 0.0];
    for sweep in 0..8 {
        for i in 0..6 {
            loop {
                let mut moved = false;
                for dir in [1.0, -1.0] {
                    let x = get(&best, i) + dir * steps[i];
                    if x < lower[i] {
                        continue;
                    }
                    let mut k = best.clone();
                    set(&mut k, i, x);
                    let l = loss(&synth.summary(&k), &target);
                    if l < best_loss {
                        best = k;
                        best_loss = l;
                        moved = true;
                        break;
                    }
                }
                if !moved {
                    break;
                }
            }
        }
        eprintln!("sweep {sweep}: loss {best_loss:.6} {best:?}");
        steps.iter_mut().for_each(|s| *s /= 2.0);
    }
    best.value_std = (value_std * 1000.0).round() / 1000.0;
    // Report rounded knobs and the statistics those exact knobs give.
    for i in 0..6 {
        let x = (get(&best, i) * 1000.0).round() / 1000.0;
        set(&mut best, i, x);
    }
    let fitted = synth.summary(&best);

    println!(
        "real: {} WikiText-2 paragraphs, {}..{} tokens (mean {mean_len:.1}); synthetic: lengths {:?}, seeds 1..=8",
        lengths.len(),
        lengths[0],
        lengths[lengths.len() - 1],
        synth.lengths
    );
    println!();
    println!("| statistic | real MiniLM | synthetic, fitted | synthetic, previous defaults |");
    println!("|---|---|---|---|");
    for (i, name) in NAMES.iter().enumerate() {
        println!(
            "| {name} | {:.3} | {:.3} | {:.3} |",
            target[i], fitted[i], start_summary[i]
        );
    }
    println!(
        "| squared error (sum) | | {:.4} | {:.4} |",
        loss(&fitted, &target),
        loss(&start_summary, &target)
    );
    println!();
    println!("fitted knobs:");
    for (i, name) in KNOB_NAMES.iter().enumerate() {
        println!("  {name} = {}", get(&best, i));
    }
    println!("  value_std = {}", best.value_std);
}
