//! The weights of a GPT-2- or Llama-style decoder under their Hugging Face tensor names,
//! arranged for the forward pass: projections transposed to [in, out] (see [`Linear`]), the
//! Q/K/V projections fused into one product, and Llama's gate and up projections fused too.

use ndarray::{Array1, Array2, Axis, concatenate};

use super::decoder_config::{DecoderArch, DecoderConfig};
use super::error::ModelError;
use super::tensors::Tensors;
use super::weights::{LayerNorm, Linear};

#[derive(Debug, Clone)]
pub enum Norm {
    Layer(LayerNorm),
    Rms(Array1<f32>),
}

#[derive(Debug, Clone)]
pub struct DecoderLayer {
    pub attn_norm: Norm,
    /// [hidden, (heads + 2 kv_heads) head_dim]: Q, then K, then V.
    pub qkv: Linear,
    pub attn_out: Linear,
    pub mlp_norm: Norm,
    /// GPT-2: `c_fc`, [hidden, inner]. Llama: gate then up, [hidden, 2 inner].
    pub mlp_in: Linear,
    pub mlp_out: Linear,
}

#[derive(Debug, Clone)]
pub struct DecoderWeights {
    /// [vocab, hidden]
    pub embed: Array2<f32>,
    /// GPT-2's learned positions, [positions, hidden].
    pub positions: Option<Array2<f32>>,
    pub layers: Vec<DecoderLayer>,
    pub final_norm: Norm,
    /// [vocab, hidden]; None when tied to `embed`.
    pub lm_head: Option<Array2<f32>>,
}

impl DecoderWeights {
    pub fn load(t: &Tensors, cfg: &DecoderConfig) -> Result<Self, ModelError> {
        match cfg.arch {
            DecoderArch::Gpt2 => gpt2(t, cfg),
            DecoderArch::Llama => llama(t, cfg),
        }
    }

    /// Random weights of the right shapes (uniform, scaled by 1/sqrt(fan-in); norms at 1),
    /// seeded: for speed measurements of a model size nothing is shipped for.
    pub fn random(cfg: &DecoderConfig, seed: u64) -> Self {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut mat = |rows: usize, cols: usize, fan_in: usize| {
            let a = 1.0 / (fan_in as f32).sqrt();
            Array2::from_shape_fn((rows, cols), |_| rng.gen_range(-a..a))
        };
        let h = cfg.hidden_size;
        let (qw, kvw, inner) = (cfg.attn_width(), cfg.kv_width(), cfg.intermediate_size);
        let lin = |w: Array2<f32>| Linear {
            bias: Array1::zeros(w.ncols()),
            weight_t: w,
        };
        let norm = || match cfg.arch {
            DecoderArch::Gpt2 => Norm::Layer(LayerNorm {
                gamma: Array1::ones(h),
                beta: Array1::zeros(h),
            }),
            DecoderArch::Llama => Norm::Rms(Array1::ones(h)),
        };
        let mlp_in = match cfg.arch {
            DecoderArch::Gpt2 => inner,
            DecoderArch::Llama => 2 * inner,
        };
        let layers = (0..cfg.num_layers)
            .map(|_| DecoderLayer {
                attn_norm: norm(),
                qkv: lin(mat(h, qw + 2 * kvw, h)),
                attn_out: lin(mat(qw, h, qw)),
                mlp_norm: norm(),
                mlp_in: lin(mat(h, mlp_in, h)),
                mlp_out: lin(mat(inner, h, inner)),
            })
            .collect();
        Self {
            embed: mat(cfg.vocab_size, h, h),
            positions: (cfg.arch == DecoderArch::Gpt2).then(|| mat(cfg.max_positions, h, h)),
            layers,
            final_norm: norm(),
            lm_head: (!cfg.tie_word_embeddings).then(|| mat(cfg.vocab_size, h, h)),
        }
    }

    /// The output projection, [vocab, hidden].
    pub fn lm_head(&self) -> &Array2<f32> {
        self.lm_head.as_ref().unwrap_or(&self.embed)
    }
}

fn gpt2(t: &Tensors, cfg: &DecoderConfig) -> Result<DecoderWeights, ModelError> {
    // GPT2LMHeadModel saves `transformer.`-prefixed names; the original OpenAI conversion
    // (and GPT2Model) has none.
    let p = if t.contains("transformer.wte.weight") {
        "transformer."
    } else {
        ""
    };
    let (h, inner) = (cfg.hidden_size, cfg.intermediate_size);
    // Conv1D keeps its weight as [in, out], already the layout of `Linear::weight_t`.
    let conv = |name: &str, inp: usize, out: usize| -> Result<Linear, ModelError> {
        Ok(Linear {
            weight_t: t.matrix(&format!("{name}.weight"), inp, out)?,
            bias: t.vector(&format!("{name}.bias"), out)?,
        })
    };
    let ln = |name: &str| -> Result<Norm, ModelError> {
        Ok(Norm::Layer(LayerNorm {
            gamma: t.vector(&format!("{name}.weight"), h)?,
            beta: t.vector(&format!("{name}.bias"), h)?,
        }))
    };
    let layers = (0..cfg.num_layers)
        .map(|l| {
            let b = format!("{p}h.{l}.");
            Ok(DecoderLayer {
                attn_norm: ln(&format!("{b}ln_1"))?,
                qkv: conv(&format!("{b}attn.c_attn"), h, 3 * h)?,
                attn_out: conv(&format!("{b}attn.c_proj"), h, h)?,
                mlp_norm: ln(&format!("{b}ln_2"))?,
                mlp_in: conv(&format!("{b}mlp.c_fc"), h, inner)?,
                mlp_out: conv(&format!("{b}mlp.c_proj"), inner, h)?,
            })
        })
        .collect::<Result<Vec<_>, ModelError>>()?;
    Ok(DecoderWeights {
        embed: t.matrix(&format!("{p}wte.weight"), cfg.vocab_size, h)?,
        positions: Some(t.matrix(&format!("{p}wpe.weight"), cfg.max_positions, h)?),
        layers,
        final_norm: ln(&format!("{p}ln_f"))?,
        lm_head: head(t, cfg)?,
    })
}

fn llama(t: &Tensors, cfg: &DecoderConfig) -> Result<DecoderWeights, ModelError> {
    let (h, inner) = (cfg.hidden_size, cfg.intermediate_size);
    let (qw, kvw) = (cfg.attn_width(), cfg.kv_width());
    // nn.Linear keeps [out, in]; transposed once here.
    let lin = |name: &str, out: usize, inp: usize, bias: bool| -> Result<Linear, ModelError> {
        Ok(Linear {
            weight_t: t
                .matrix(&format!("{name}.weight"), out, inp)?
                .reversed_axes()
                .as_standard_layout()
                .into_owned(),
            bias: if bias {
                t.vector(&format!("{name}.bias"), out)?
            } else {
                Array1::zeros(out)
            },
        })
    };
    let rms = |name: &str| -> Result<Norm, ModelError> {
        Ok(Norm::Rms(t.vector(&format!("{name}.weight"), h)?))
    };
    let layers = (0..cfg.num_layers)
        .map(|l| {
            let b = format!("model.layers.{l}.");
            let ab = cfg.attention_bias;
            let q = lin(&format!("{b}self_attn.q_proj"), qw, h, ab)?;
            let k = lin(&format!("{b}self_attn.k_proj"), kvw, h, ab)?;
            let v = lin(&format!("{b}self_attn.v_proj"), kvw, h, ab)?;
            let mb = cfg.mlp_bias;
            let gate = lin(&format!("{b}mlp.gate_proj"), inner, h, mb)?;
            let up = lin(&format!("{b}mlp.up_proj"), inner, h, mb)?;
            Ok(DecoderLayer {
                attn_norm: rms(&format!("{b}input_layernorm"))?,
                qkv: fuse(&[q, k, v]),
                attn_out: lin(&format!("{b}self_attn.o_proj"), h, qw, ab)?,
                mlp_norm: rms(&format!("{b}post_attention_layernorm"))?,
                mlp_in: fuse(&[gate, up]),
                mlp_out: lin(&format!("{b}mlp.down_proj"), h, inner, mb)?,
            })
        })
        .collect::<Result<Vec<_>, ModelError>>()?;
    Ok(DecoderWeights {
        embed: t.matrix("model.embed_tokens.weight", cfg.vocab_size, h)?,
        positions: None,
        layers,
        final_norm: rms("model.norm")?,
        lm_head: head(t, cfg)?,
    })
}

/// `lm_head.weight`, unless the config ties it to the embedding.
fn head(t: &Tensors, cfg: &DecoderConfig) -> Result<Option<Array2<f32>>, ModelError> {
    if cfg.tie_word_embeddings {
        Ok(None)
    } else {
        Ok(Some(t.matrix(
            "lm_head.weight",
            cfg.vocab_size,
            cfg.hidden_size,
        )?))
    }
}

/// Side-by-side products: one matrix product instead of several.
fn fuse(parts: &[Linear]) -> Linear {
    let w: Vec<_> = parts.iter().map(|p| p.weight_t.view()).collect();
    let b: Vec<_> = parts.iter().map(|p| p.bias.view()).collect();
    Linear {
        weight_t: concatenate(Axis(1), &w).expect("same input width"),
        bias: concatenate(Axis(0), &b).expect("vectors"),
    }
}
