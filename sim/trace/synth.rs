//! Synthetic Q/K/V with controllable attention statistics, for any workload shape.
//!
//! Model (per layer l, head h; D = head_dim; u a random unit vector of the head):
//!   q_i = a * g_i + sqrt(D) * u,   k_j = a * g'_j + b_j * u,   v_j ~ N(0, value_std^2)
//! where g, g' are standard normal vectors projected orthogonally to u. The pre-softmax logit
//! q_i . k_j / sqrt(D) is then a^2 * (noise of std ~1) + b_j:
//! - Peakedness: a^2 = s_lh, the head's logit standard deviation, drawn as
//!   ln s_lh = ln(logit_std_median) + logit_std_layer_trend * (l / (layers - 1) - 1/2),
//!   plus logit_std_log_spread * N(0, 1).
//!   Larger s gives peakier softmax rows (higher max probability, more LSB-refetch-free rows).
//! - Concentration: b_j = heavy_bias * rank(j)^(-heavy_zipf_exponent) + [j = 0] * sink_bias,
//!   with rank a random permutation of the tokens (1 = heaviest) shared by all heads and
//!   layers, so a few tokens collect attention everywhere, as real models do; token 0 is an
//!   attention sink. Larger biases concentrate cumulative importance on fewer tokens.
//!
//! Grouped K/V heads (`model.kv_heads` < heads): the first query head of each group is
//! drawn as above and also gives the group's K and V; the other query heads of the group
//! share its a and u and draw their own g_i, so every query head sees the same biases b_j
//! through the shared keys. Without grouping the output is what it was before.
//!
//! Deterministic: every (layer, head) draws from its own ChaCha8 stream of `seed`, so the
//! result does not depend on the rayon thread count.

use ndarray::Array3;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::values::{LayerValues, ValueMeta, ValueTensors};
use crate::config::WorkloadConfig;

/// The generator's knobs; see the module documentation for the model. The defaults are fitted
/// to all-MiniLM-L6-v2 captures of 200 WikiText-2 paragraphs (`examples/fit_synth.rs`; the
/// fit is reported in traces/FORMAT.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SynthKnobs {
    /// Median over heads of the pre-softmax logit standard deviation.
    pub logit_std_median: f64,
    /// Standard deviation of ln(logit std) across heads.
    pub logit_std_log_spread: f64,
    /// Change of ln(logit std) from the first to the last layer.
    pub logit_std_layer_trend: f64,
    /// Logit bias of the heaviest token.
    pub heavy_bias: f64,
    /// Zipf exponent of the bias over token ranks.
    pub heavy_zipf_exponent: f64,
    /// Extra logit bias of token 0.
    pub sink_bias: f64,
    /// Standard deviation of V elements.
    pub value_std: f64,
}

impl Default for SynthKnobs {
    fn default() -> Self {
        Self {
            logit_std_median: 1.883,
            logit_std_log_spread: 0.716,
            logit_std_layer_trend: 0.445,
            heavy_bias: 4.859,
            heavy_zipf_exponent: 0.234,
            sink_bias: 3.844,
            value_std: 0.683,
        }
    }
}

impl SynthKnobs {
    /// Knobs for decoders (causal attention): the MiniLM knobs with sharpness and
    /// concentration refitted to the LSB refetches of the public SpAtten GPT-2-small trace
    /// (`examples/fit_synth_decoder.rs`; the fit is reported in traces/FORMAT.md). Decoder
    /// attention is flat in the first layers and far more peaked after them than MiniLM's,
    /// with weaker global heavy hitters.
    pub fn decoder() -> Self {
        Self {
            logit_std_median: 11.75,
            logit_std_layer_trend: 4.0,
            sink_bias: 0.5,
            heavy_bias: 1.625,
            ..Self::default()
        }
    }

    /// The knobs synthetic values of `w` use when none are given: [`Self::decoder`] for
    /// causal (decoder) models, the MiniLM fit otherwise.
    pub fn for_workload(w: &WorkloadConfig) -> Self {
        if w.model.causal {
            Self::decoder()
        } else {
            Self::default()
        }
    }

    /// Names the first knob outside its domain.
    pub fn check(&self) -> Result<(), String> {
        let finite = [
            ("logit_std_median", self.logit_std_median),
            ("logit_std_log_spread", self.logit_std_log_spread),
            ("logit_std_layer_trend", self.logit_std_layer_trend),
            ("heavy_bias", self.heavy_bias),
            ("heavy_zipf_exponent", self.heavy_zipf_exponent),
            ("sink_bias", self.sink_bias),
            ("value_std", self.value_std),
        ];
        for (name, v) in finite {
            if !v.is_finite() {
                return Err(format!("{name} must be finite (got {v})"));
            }
        }
        for (name, v) in [
            ("logit_std_median", self.logit_std_median),
            ("value_std", self.value_std),
        ] {
            if v <= 0.0 {
                return Err(format!("{name} must be positive (got {v})"));
            }
        }
        for (name, v) in [
            ("logit_std_log_spread", self.logit_std_log_spread),
            ("heavy_zipf_exponent", self.heavy_zipf_exponent),
        ] {
            if v < 0.0 {
                return Err(format!("{name} must not be negative (got {v})"));
            }
        }
        Ok(())
    }
}

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    // Box-Muller; 1 - u keeps the logarithm's argument in (0, 1].
    let u1: f64 = 1.0 - rng.r#gen::<f64>();
    let u2: f64 = rng.r#gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Per-token logit biases: Zipf over a random ranking, plus the sink on token 0.
pub fn token_biases(tokens: usize, knobs: &SynthKnobs, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(u64::MAX);
    let mut order: Vec<usize> = (0..tokens).collect();
    for i in (1..tokens).rev() {
        order.swap(i, rng.gen_range(0..=i));
    }
    let mut bias = vec![0.0; tokens];
    for (rank0, &t) in order.iter().enumerate() {
        bias[t] = knobs.heavy_bias * ((rank0 + 1) as f64).powf(-knobs.heavy_zipf_exponent);
    }
    if tokens > 0 {
        bias[0] += knobs.sink_bias;
    }
    bias
}

/// The logit standard deviation of head `head` of layer `layer`.
pub fn head_logit_std(
    knobs: &SynthKnobs,
    layers: usize,
    layer: usize,
    rng: &mut ChaCha8Rng,
) -> f64 {
    let depth = if layers > 1 {
        layer as f64 / (layers - 1) as f64 - 0.5
    } else {
        0.0
    };
    (knobs.logit_std_median.ln()
        + knobs.logit_std_layer_trend * depth
        + knobs.logit_std_log_spread * normal(rng))
    .exp()
}

/// A K/V group's query rows of its first head, and the logit scale `a` and unit direction `u`
/// it shares with the other query heads of the group.
struct HeadValues {
    q: Vec<f32>,
    a: f64,
    u: Vec<f64>,
}

/// Components of a standard normal vector orthogonal to the unit vector `u`.
fn orthogonal(u: &[f64], rng: &mut ChaCha8Rng) -> Vec<f64> {
    let mut g: Vec<f64> = u.iter().map(|_| normal(rng)).collect();
    let along: f64 = g.iter().zip(u).map(|(x, y)| x * y).sum();
    g.iter_mut().zip(u).for_each(|(x, y)| *x -= along * y);
    g
}

/// ChaCha8 words one [`normal`] consumes: two `f64` draws of one `u64` (two words) each.
const WORDS_PER_NORMAL: u128 = 4;

/// Query rows `q_i = a g_i + sqrt(D) u` of one head for `tokens` positions, keeping those from
/// position `keep_from` on. The earlier rows are skipped in the stream rather than drawn (every
/// row takes the same number of words), so every later value stays what it is when all are
/// kept, and a decode-only run of a long prompt does not pay for the prompt's queries.
fn query_rows(
    a: f64,
    u: &[f64],
    tokens: usize,
    keep_from: usize,
    rng: &mut ChaCha8Rng,
) -> Vec<f32> {
    let sqrt_d = (u.len() as f64).sqrt();
    let keep_from = keep_from.min(tokens);
    let skipped = keep_from as u128 * u.len() as u128 * WORDS_PER_NORMAL;
    rng.set_word_pos(rng.get_word_pos() + skipped);
    let mut q = Vec::with_capacity((tokens - keep_from) * u.len());
    for _ in keep_from..tokens {
        let g = orthogonal(u, rng);
        q.extend(g.iter().zip(u).map(|(x, y)| (a * x + sqrt_d * y) as f32));
    }
    q
}

/// One K/V group's values: the first query head's rows (returned) and the group's K and V
/// rows, written into `k` and `v` (`tokens x dim` each; the caller's slices of the layer's
/// tensors, so the values are drawn in place rather than copied into them).
#[allow(clippy::too_many_arguments)]
fn head_values(
    knobs: &SynthKnobs,
    layers: usize,
    layer: usize,
    q_from: usize,
    dim: usize,
    bias: &[f64],
    mut rng: ChaCha8Rng,
    k: &mut [f32],
    v: &mut [f32],
) -> HeadValues {
    let tokens = k.len() / dim.max(1);
    let s = head_logit_std(knobs, layers, layer, &mut rng);
    let a = s.sqrt();
    let mut u: Vec<f64> = (0..dim).map(|_| normal(&mut rng)).collect();
    let norm = u
        .iter()
        .map(|x| x * x)
        .sum::<f64>()
        .sqrt()
        .max(f64::MIN_POSITIVE);
    u.iter_mut().for_each(|x| *x /= norm);
    let q = query_rows(a, &u, tokens, q_from, &mut rng);
    for (row, b) in k.chunks_exact_mut(dim).zip(bias) {
        let g = orthogonal(&u, &mut rng);
        for ((dst, x), y) in row.iter_mut().zip(&g).zip(&u) {
            *dst = (a * x + b * y) as f32;
        }
    }
    for dst in v.iter_mut() {
        *dst = (knobs.value_std * normal(&mut rng)) as f32;
    }
    HeadValues { q, a, u }
}

/// The `source` that [`generate`] records for `workload_name`'s values: the values depend on
/// the shape, seed and knobs only, so a caller that reuses one workload's values for another
/// of the same shape labels them with this.
pub fn synth_source(workload_name: &str, knobs: &SynthKnobs) -> String {
    let knob_text = serde_json::to_string(knobs).expect("knobs serialize");
    format!("synth:{workload_name} {knob_text}")
}

/// Q, K and V for every layer of `workload` (prompt + generated tokens).
///
/// Panics if `knobs.check()` fails; callers holding user input check first.
pub fn generate(workload: &WorkloadConfig, knobs: &SynthKnobs, seed: u64) -> ValueTensors {
    let g = SynthLayers::new(workload, knobs, seed);
    ValueTensors {
        meta: g.meta(),
        layers: (0..g.layers).map(|l| g.layer(l, 0)).collect(),
    }
}

/// The synthetic values of a workload, one layer at a time: layer `l` of [`generate`]'s result
/// without holding the others, so a long-context run needs the memory of one layer.
#[derive(Debug, Clone)]
pub struct SynthLayers {
    knobs: SynthKnobs,
    seed: u64,
    meta: ValueMeta,
    layers: usize,
    heads: usize,
    kv_heads: usize,
    group: usize,
    dim: usize,
    tokens: usize,
    bias: Vec<f64>,
}

impl SynthLayers {
    /// Panics if `knobs.check()` fails; callers holding user input check first.
    pub fn new(workload: &WorkloadConfig, knobs: &SynthKnobs, seed: u64) -> Self {
        if let Err(e) = knobs.check() {
            panic!("invalid synthetic knobs: {e}");
        }
        let tokens = workload.final_tokens() as usize;
        Self {
            knobs: knobs.clone(),
            seed,
            meta: ValueMeta {
                model: "synthetic".into(),
                source: synth_source(&workload.name, knobs),
                seed,
                prompt_tokens: workload.stage.prompt_tokens,
                causal: workload.model.causal,
            },
            layers: workload.model.layers as usize,
            heads: workload.model.heads as usize,
            kv_heads: workload.model.kv_heads() as usize,
            group: workload.model.group_size() as usize,
            dim: workload.model.head_dim as usize,
            tokens,
            bias: token_biases(tokens, knobs, seed),
        }
    }

    pub fn meta(&self) -> ValueMeta {
        self.meta.clone()
    }

    /// Layer `layer`'s values: K and V of every token, and the query rows of the tokens from
    /// `q_from` on (Q is `[heads, tokens - q_from, D]`; a decode-only run needs only the
    /// generated tokens' queries).
    pub fn layer(&self, layer: usize, q_from: usize) -> LayerValues {
        let (heads, group, dim, tokens) = (self.heads, self.group, self.dim, self.tokens);
        let q_from = q_from.min(tokens);
        let stream = |i: usize| {
            let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
            rng.set_stream(i as u64);
            rng
        };
        // Query head i of the model draws from stream i. The first query head of each K/V
        // group also draws the group's K and V (so without grouping every head is what it
        // always was); the others share its scale and direction and draw only their queries.
        let per_head = tokens * dim;
        let mut k = vec![0f32; self.kv_heads * per_head];
        let mut v = vec![0f32; self.kv_heads * per_head];
        let per_kv: Vec<HeadValues> = k
            .par_chunks_mut(per_head.max(1))
            .zip(v.par_chunks_mut(per_head.max(1)))
            .enumerate()
            .map(|(g, (kg, vg))| {
                let first = layer * heads + g * group;
                let rng = stream(first);
                let (kn, l) = (&self.knobs, self.layers);
                head_values(kn, l, layer, q_from, dim, &self.bias, rng, kg, vg)
            })
            .collect();
        let followers: Vec<Vec<f32>> = (0..heads)
            .into_par_iter()
            .map(|h| {
                if h % group == 0 {
                    return Vec::new();
                }
                let lead = &per_kv[h / group];
                query_rows(
                    lead.a,
                    &lead.u,
                    tokens,
                    q_from,
                    &mut stream(layer * heads + h),
                )
            })
            .collect();
        let stack = |parts: Vec<&Vec<f32>>, rows: usize| {
            let n = parts.len();
            let flat: Vec<f32> = parts.into_iter().flatten().copied().collect();
            Array3::from_shape_vec((n, rows, dim), flat).expect("heads x tokens x dim values")
        };
        let q = (0..heads)
            .map(|h| match h % group {
                0 => &per_kv[h / group].q,
                _ => &followers[h],
            })
            .collect();
        let kv_shape = (self.kv_heads, tokens, dim);
        LayerValues {
            q: stack(q, tokens - q_from),
            k: Array3::from_shape_vec(kv_shape, k).expect("kv_heads x tokens x dim values"),
            v: Array3::from_shape_vec(kv_shape, v).expect("kv_heads x tokens x dim values"),
        }
    }
}
