//! The decoder shape read from a Hugging Face `config.json`: GPT-2 (`model_type = "gpt2"`) or
//! Llama (`model_type = "llama"`). Unknown keys are ignored (real configs carry dozens the
//! forward pass does not need); settings that would change the computation in a way this
//! forward pass does not implement are refused by name rather than silently ignored.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::error::ModelError;

/// Which family of decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecoderArch {
    /// Learned positions, pre-LayerNorm, GELU MLP, multi-head attention, Conv1D weights.
    Gpt2,
    /// RoPE, RMSNorm, SwiGLU MLP, grouped-query attention.
    Llama,
}

/// The MLP's activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Exact erf GELU (`gelu`).
    Gelu,
    /// tanh-approximate GELU (`gelu_new`, `gelu_pytorch_tanh`), GPT-2's.
    GeluTanh,
    /// SiLU gate of SwiGLU (`silu`), Llama's.
    Silu,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DecoderConfig {
    pub arch: DecoderArch,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub num_kv_heads: usize,
    pub head_dim: usize,
    pub intermediate_size: usize,
    pub max_positions: usize,
    pub norm_eps: f64,
    pub activation: Activation,
    /// RoPE base (Llama only).
    pub rope_theta: f64,
    /// lm_head shares the token embedding matrix.
    pub tie_word_embeddings: bool,
    /// q/k/v/o projections carry biases (always for GPT-2; `attention_bias` for Llama).
    pub attention_bias: bool,
    /// MLP projections carry biases (always for GPT-2; `mlp_bias` for Llama).
    pub mlp_bias: bool,
}

/// Whether the model folder `dir` holds a decoder: its config.json's `model_type` is
/// "gpt2" or "llama". Also returns that `model_type` (None without a config.json).
pub fn decoder_dir(dir: &Path) -> Result<(bool, Option<String>), ModelError> {
    let config = dir.join("config.json");
    let kind = if config.is_file() {
        model_type(&config)?
    } else {
        None
    };
    Ok((matches!(kind.as_deref(), Some("gpt2" | "llama")), kind))
}

/// `model_type` of a config.json, for dispatching between the encoder and the decoders.
pub fn model_type(path: &Path) -> Result<Option<String>, ModelError> {
    let value = read_json(path)?;
    Ok(value
        .get("model_type")
        .and_then(Value::as_str)
        .map(str::to_string))
}

fn read_json(path: &Path) -> Result<Value, ModelError> {
    let text = std::fs::read_to_string(path).map_err(|error| ModelError::Io {
        path: path.to_path_buf(),
        error,
    })?;
    serde_json::from_str(&text).map_err(|e| ModelError::Config {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn parse<T: serde::de::DeserializeOwned>(path: &Path, v: Value) -> Result<T, ModelError> {
    serde_path_to_error::deserialize(v).map_err(|e| ModelError::Config {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

#[derive(Deserialize)]
struct Gpt2Json {
    vocab_size: usize,
    n_embd: usize,
    n_layer: usize,
    n_head: usize,
    n_positions: usize,
    #[serde(default)]
    n_inner: Option<usize>,
    #[serde(default = "gpt2_eps")]
    layer_norm_epsilon: f64,
    #[serde(default = "gpt2_act")]
    activation_function: String,
    #[serde(default = "yes")]
    tie_word_embeddings: bool,
    #[serde(default = "yes")]
    scale_attn_weights: bool,
    #[serde(default)]
    scale_attn_by_inverse_layer_idx: bool,
}

fn gpt2_eps() -> f64 {
    1e-5
}
fn gpt2_act() -> String {
    "gelu_new".into()
}
fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct LlamaJson {
    vocab_size: usize,
    hidden_size: usize,
    num_hidden_layers: usize,
    num_attention_heads: usize,
    #[serde(default)]
    num_key_value_heads: Option<usize>,
    #[serde(default)]
    head_dim: Option<usize>,
    intermediate_size: usize,
    max_position_embeddings: usize,
    #[serde(default = "llama_eps")]
    rms_norm_eps: f64,
    #[serde(default = "llama_act")]
    hidden_act: String,
    /// transformers < 5 writes `rope_theta` and `rope_scaling`; 5 writes `rope_parameters`.
    #[serde(default)]
    rope_theta: Option<f64>,
    #[serde(default)]
    rope_scaling: Option<Value>,
    #[serde(default)]
    rope_parameters: Option<Value>,
    #[serde(default)]
    tie_word_embeddings: bool,
    #[serde(default)]
    attention_bias: bool,
    #[serde(default)]
    mlp_bias: bool,
    #[serde(default)]
    pretraining_tp: Option<usize>,
}

fn llama_eps() -> f64 {
    1e-6
}
fn llama_act() -> String {
    "silu".into()
}

impl DecoderConfig {
    pub fn from_file(path: &Path) -> Result<Self, ModelError> {
        let bad = |reason: String| ModelError::Config {
            path: path.to_path_buf(),
            reason,
        };
        let value = read_json(path)?;
        let kind = value
            .get("model_type")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("no `model_type` (expected \"gpt2\" or \"llama\")".into()))?
            .to_string();
        let cfg = match kind.as_str() {
            "gpt2" => Self::from_gpt2(parse(path, value)?).map_err(bad)?,
            "llama" => Self::from_llama(parse(path, value)?).map_err(bad)?,
            other => {
                return Err(bad(format!(
                    "model_type `{other}` is not a supported decoder (gpt2, llama)"
                )));
            }
        };
        cfg.validate().map_err(bad)?;
        Ok(cfg)
    }

    fn from_gpt2(j: Gpt2Json) -> Result<Self, String> {
        let activation = match j.activation_function.as_str() {
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Activation::GeluTanh,
            "gelu" => Activation::Gelu,
            other => return Err(format!("activation_function `{other}` is not supported")),
        };
        if !j.scale_attn_weights || j.scale_attn_by_inverse_layer_idx {
            return Err(
                "only the standard 1/sqrt(head_dim) attention scale is supported \
                 (scale_attn_weights = true, scale_attn_by_inverse_layer_idx = false)"
                    .into(),
            );
        }
        if j.n_head == 0 || !j.n_embd.is_multiple_of(j.n_head) {
            return Err(format!(
                "n_embd {} is not divisible by n_head {}",
                j.n_embd, j.n_head
            ));
        }
        Ok(Self {
            arch: DecoderArch::Gpt2,
            vocab_size: j.vocab_size,
            hidden_size: j.n_embd,
            num_layers: j.n_layer,
            num_heads: j.n_head,
            num_kv_heads: j.n_head,
            head_dim: j.n_embd / j.n_head,
            intermediate_size: j.n_inner.unwrap_or(4 * j.n_embd),
            max_positions: j.n_positions,
            norm_eps: j.layer_norm_epsilon,
            activation,
            rope_theta: 0.0,
            tie_word_embeddings: j.tie_word_embeddings,
            attention_bias: true,
            mlp_bias: true,
        })
    }

    fn from_llama(j: LlamaJson) -> Result<Self, String> {
        if j.hidden_act != "silu" {
            return Err(format!(
                "hidden_act `{}` is not supported (only `silu`)",
                j.hidden_act
            ));
        }
        if j.pretraining_tp.is_some_and(|tp| tp != 1) {
            return Err("pretraining_tp other than 1 is not supported".into());
        }
        // RoPE variants that rescale frequencies (llama3, linear, dynamic, yarn) would give
        // different Q/K; refuse them instead of running the plain rotation.
        let mut theta = j.rope_theta;
        for (key, v) in [
            ("rope_scaling", &j.rope_scaling),
            ("rope_parameters", &j.rope_parameters),
        ] {
            let Some(v) = v.as_ref().filter(|v| !v.is_null()) else {
                continue;
            };
            let kind = v
                .get("rope_type")
                .or_else(|| v.get("type"))
                .and_then(Value::as_str)
                .unwrap_or("default");
            if kind != "default" {
                return Err(format!(
                    "{key}.rope_type `{kind}` is not supported (only the default rotation)"
                ));
            }
            if let Some(t) = v.get("rope_theta").and_then(Value::as_f64) {
                theta = Some(t);
            }
        }
        let heads = j.num_attention_heads;
        if heads == 0 {
            return Err("num_attention_heads must be positive".into());
        }
        let head_dim = j.head_dim.unwrap_or(j.hidden_size / heads);
        Ok(Self {
            arch: DecoderArch::Llama,
            vocab_size: j.vocab_size,
            hidden_size: j.hidden_size,
            num_layers: j.num_hidden_layers,
            num_heads: heads,
            num_kv_heads: j.num_key_value_heads.unwrap_or(heads),
            head_dim,
            intermediate_size: j.intermediate_size,
            max_positions: j.max_position_embeddings,
            norm_eps: j.rms_norm_eps,
            activation: Activation::Silu,
            rope_theta: theta.unwrap_or(10000.0),
            tie_word_embeddings: j.tie_word_embeddings,
            attention_bias: j.attention_bias,
            mlp_bias: j.mlp_bias,
        })
    }

    fn validate(&self) -> Result<(), String> {
        for (name, v) in [
            ("vocab_size", self.vocab_size),
            ("hidden size", self.hidden_size),
            ("layers", self.num_layers),
            ("kv heads", self.num_kv_heads),
            ("head_dim", self.head_dim),
            ("intermediate size", self.intermediate_size),
            ("positions", self.max_positions),
        ] {
            if v == 0 {
                return Err(format!("{name} must be positive"));
            }
        }
        if !self.num_heads.is_multiple_of(self.num_kv_heads) {
            return Err(format!(
                "num_attention_heads {} is not a multiple of num_key_value_heads {}",
                self.num_heads, self.num_kv_heads
            ));
        }
        if self.arch == DecoderArch::Llama && !self.head_dim.is_multiple_of(2) {
            return Err(format!(
                "RoPE needs an even head_dim, got {}",
                self.head_dim
            ));
        }
        if !(self.norm_eps.is_finite() && self.norm_eps > 0.0) {
            return Err(format!("norm epsilon {} must be positive", self.norm_eps));
        }
        if self.arch == DecoderArch::Llama
            && !(self.rope_theta.is_finite() && self.rope_theta > 1.0)
        {
            return Err(format!("rope_theta {} must exceed 1", self.rope_theta));
        }
        Ok(())
    }

    /// Query heads per K/V head.
    pub fn group_size(&self) -> usize {
        self.num_heads / self.num_kv_heads
    }

    /// Width of the attention context (heads x head_dim), the input of the output projection.
    pub fn attn_width(&self) -> usize {
        self.num_heads * self.head_dim
    }

    pub fn kv_width(&self) -> usize {
        self.num_kv_heads * self.head_dim
    }
}
