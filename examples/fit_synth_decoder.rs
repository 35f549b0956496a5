//! Fits the synthetic generator's decoder knobs (`SynthKnobs::decoder()`) to the LSB refetch
//! behaviour of the public SpAtten GPT-2-small trace (summary-gpt2-small-wikitext2-per8.csv:
//! 6-bit MSB K/V, refetch below 0.05, 32 generation iterations at KV length 993 -> 1024).
//! Reproduces the table in traces/FORMAT.md:
//!
//!   cargo run --release --example fit_synth_decoder -- [--csv FILE] [--sweeps 4] \
//!       [--start median,trend,ratio,sink,heavy]
//!
//! Real side: the imported CSV trace; per layer group (the two layers before the trace's
//! first token pruning, and the rest), the fraction of head calls that refetched LSBs, and
//! the mean fraction of the KV length each head call fetched.
//! Synthetic side: GPT-2-small values from the generator, run through the bit-exact
//! reference with the trace's quantization (progressive, 6 MSB + 4 LSB bits, threshold 0.05)
//! and a token pruning schedule shaped like the trace's (nothing pruned after layer 0, then a
//! constant ratio after every layer: `per8_fit_workload`), generation iterations only.
//! Objective: squared relative error of the two refetch rates (the pruned group's relative
//! to at least 1 %, so its tiny rate does not dominate) and of the kept key fraction.
//! Search: coordinate descent over the knobs that set sharpness and concentration
//! (logit_std_median, logit_std_layer_trend, sink_bias, heavy_bias, from the MiniLM fit)
//! and the schedule's ratio, each moved while it
//! helps, its step halved each sweep. The other knobs keep their MiniLM values.
//! Deterministic: same inputs, same output at any thread count.

use std::path::PathBuf;

use spatten::data_dir::Dataset;
use spatten::trace::refetch::{RefetchProfile, per8_fit_workload};
use spatten::trace::synth::{SynthKnobs, generate};
use spatten::trace::{AttentionTrace, spatten_csv};

type Profile = (f64, f64, f64);

/// (early refetch rate, late refetch rate, kept fraction) of a trace.
fn profile(t: &AttentionTrace) -> Profile {
    let p = RefetchProfile::of(t).expect("generation head calls in both layer groups");
    (p.early_rate, p.late_rate, p.kept_fraction)
}

/// The fitted parameters: two generator knobs and the fit workload's pruning ratio.
#[derive(Clone)]
struct Params {
    knobs: SynthKnobs,
    ratio: f64,
}

impl Params {
    fn get(&self, i: usize) -> f64 {
        [
            self.knobs.logit_std_median,
            self.knobs.logit_std_layer_trend,
            self.ratio,
            self.knobs.sink_bias,
            self.knobs.heavy_bias,
        ][i]
    }

    fn with(&self, i: usize, x: f64) -> Self {
        let mut p = self.clone();
        match i {
            0 => p.knobs.logit_std_median = x.max(0.1),
            1 => p.knobs.logit_std_layer_trend = x,
            2 => p.ratio = x.clamp(0.0, 0.9),
            3 => p.knobs.sink_bias = x,
            _ => p.knobs.heavy_bias = x,
        }
        p
    }

    fn profile(&self) -> Profile {
        let w = per8_fit_workload(self.ratio).expect("gpt2-small preset");
        let values = generate(&w, &self.knobs, w.seed);
        profile(&spatten::reference::run_workload(&values, &w).expect("reference"))
    }
}

fn loss(got: Profile, want: Profile) -> f64 {
    ((got.0 - want.0) / want.0).powi(2)
        + ((got.1 - want.1) / want.1.max(0.01)).powi(2)
        + ((got.2 - want.2) / want.2).powi(2)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let csv = arg("--csv").map(PathBuf::from).unwrap_or_else(|| {
        Dataset::SpattenTraces
            .path()
            .join("summary-gpt2-small-wikitext2-per8.csv")
    });
    let sweeps: usize = arg("--sweeps").map_or(4, |s| s.parse().expect("a number"));
    let real = spatten_csv::import(&csv).expect("the public trace");
    let want = profile(&real);
    let mut p = Params {
        knobs: SynthKnobs::default(),
        ratio: 0.25,
    };
    // --start median,trend,ratio,sink,heavy: where the search begins. From the MiniLM knobs
    // it stalls (loss 0.67): their sink and heavy biases keep layers 0-1 too peaked whatever
    // the logit spread. The default is the best of a coarse manual probe of those five.
    if let Some(v) = arg("--start").or(Some("8,4,0.65,0,3".into())) {
        for (i, x) in v.split(',').enumerate() {
            p = p.with(i, x.parse().expect("five numbers"));
        }
    }
    let start = p.profile();
    let (mut best, mut best_loss) = (start, loss(start, want));
    eprintln!("start: {best:?}, loss {best_loss:.4}");
    let mut steps = [0.5, 1.0, 0.1, 1.0, 1.0];
    for sweep in 0..sweeps {
        for (i, step) in steps.iter_mut().enumerate() {
            // Move while it helps (at most 6 steps), then halve the step.
            'moves: for _ in 0..6 {
                for dir in [1.0, -1.0] {
                    let trial = p.with(i, p.get(i) + dir * *step);
                    let got = trial.profile();
                    let l = loss(got, want);
                    if l < best_loss {
                        (p, best, best_loss) = (trial, got, l);
                        continue 'moves;
                    }
                }
                break;
            }
            *step /= 2.0;
        }
        eprintln!(
            "sweep {}: median {:.3}, trend {:.3}, ratio {:.3}, sink {:.3}, heavy {:.3}: {best:?}, loss {best_loss:.4}",
            sweep + 1,
            p.knobs.logit_std_median,
            p.knobs.logit_std_layer_trend,
            p.ratio,
            p.knobs.sink_bias,
            p.knobs.heavy_bias
        );
    }
    // The MiniLM knobs at the fitted ratio: what the decoder knobs change.
    let minilm = Params {
        knobs: SynthKnobs::default(),
        ratio: p.ratio,
    }
    .profile();
    println!("| statistic | public trace | MiniLM knobs | decoder knobs |");
    println!("|---|---|---|---|");
    for (name, f) in [
        (
            "LSB refetch rate, layers 0-1",
            (|p: Profile| p.0) as fn(Profile) -> f64,
        ),
        ("LSB refetch rate, layers 2-11", |p| p.1),
        ("kept key fraction", |p| p.2),
    ] {
        println!(
            "| {name} | {:.4} | {:.4} | {:.4} |",
            f(want),
            f(minilm),
            f(best)
        );
    }
    println!(
        "\nlogit_std_median = {:.3}, logit_std_layer_trend = {:.3}, sink_bias = {:.3}, heavy_bias = {:.3} (fit workload: token_pruning.average_ratio = {:.3})",
        p.knobs.logit_std_median,
        p.knobs.logit_std_layer_trend,
        p.knobs.sink_bias,
        p.knobs.heavy_bias,
        p.ratio
    );
}
