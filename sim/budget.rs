//! Size and work estimates, made before any large allocation or long computation and refused
//! above limits (`--max-memory`, `--max-work`), so hostile or mistaken input fails in a
//! moment with the estimate instead of aborting on a failed allocation or running for hours.
//!
//! The estimates are upper bounds from the shapes alone (no pruning assumed): what the value
//! tensors, the reference's attention trace and the simulator's tables can take, and the
//! multiply-accumulates of Q x K and Prob x V. Validation already bounds every key; the limits
//! here bound their products. They are process-wide, like a thread pool: the command line sets
//! them once and every run, sweep point and reproduction step honours them.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::{ArchConfig, WorkloadConfig};
use crate::trace::AttentionTrace;

/// 8 GiB: well above the largest shipped workload (GPT-2 medium, about 0.5 GB), well below
/// a workstation's memory.
pub const DEFAULT_MAX_MEMORY_BYTES: u64 = 8 << 30;
/// 10^12 multiply-accumulates: about 20 times the largest shipped workload (GPT-2 medium,
/// 5 x 10^10), about a minute of reference time (it does 1.4 x 10^10 a second, README).
pub const DEFAULT_MAX_WORK_MACS: u64 = 1_000_000_000_000;

static MAX_MEMORY: AtomicU64 = AtomicU64::new(DEFAULT_MAX_MEMORY_BYTES);
static MAX_WORK: AtomicU64 = AtomicU64::new(DEFAULT_MAX_WORK_MACS);

/// The limits every estimate is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_memory_bytes: u64,
    pub max_work_macs: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_memory_bytes: DEFAULT_MAX_MEMORY_BYTES,
            max_work_macs: DEFAULT_MAX_WORK_MACS,
        }
    }
}

/// Sets the process-wide limits (the command line does, once, before any work).
pub fn set_limits(l: Limits) {
    MAX_MEMORY.store(l.max_memory_bytes, Ordering::Relaxed);
    MAX_WORK.store(l.max_work_macs, Ordering::Relaxed);
}

pub fn limits() -> Limits {
    Limits {
        max_memory_bytes: MAX_MEMORY.load(Ordering::Relaxed),
        max_work_macs: MAX_WORK.load(Ordering::Relaxed),
    }
}

/// Memory by part (bytes) and work (multiply-accumulates), each part naming the keys it
/// grows with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Estimate {
    pub parts: Vec<Part>,
    pub work_macs: u64,
    /// The keys the work grows with.
    pub work_keys: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub what: &'static str,
    pub bytes: u64,
    pub keys: &'static str,
}

impl Estimate {
    pub fn memory_bytes(&self) -> u64 {
        self.parts
            .iter()
            .fold(0u64, |a, p| a.saturating_add(p.bytes))
    }

    fn add(&mut self, what: &'static str, bytes: u64, keys: &'static str) {
        self.parts.push(Part { what, bytes, keys });
    }

    /// Both estimates together (a reference run followed by a simulation).
    pub fn and(mut self, other: Estimate) -> Estimate {
        self.parts.extend(other.parts);
        self.work_macs = self.work_macs.saturating_add(other.work_macs);
        if self.work_keys.is_empty() {
            self.work_keys = other.work_keys;
        }
        self
    }

    /// Refuses an estimate above the current limits; `subject` names the inputs.
    pub fn check(&self, subject: &str) -> Result<(), BudgetError> {
        let l = limits();
        let memory = self.memory_bytes();
        if memory > l.max_memory_bytes {
            let biggest = self
                .parts
                .iter()
                .max_by_key(|p| p.bytes)
                .map(|p| format!("; the largest part grows with {}", p.keys))
                .unwrap_or_default();
            let parts: Vec<String> = self
                .parts
                .iter()
                .map(|p| format!("{} {}", p.what, bytes_text(p.bytes)))
                .collect();
            return Err(BudgetError {
                subject: subject.to_string(),
                reason: format!(
                    "needs an estimated {} of memory ({}), above the limit of {} \
                     (--max-memory){biggest}",
                    bytes_text(memory),
                    parts.join(", "),
                    bytes_text(l.max_memory_bytes)
                ),
            });
        }
        if self.work_macs > l.max_work_macs {
            return Err(BudgetError {
                subject: subject.to_string(),
                reason: format!(
                    "needs an estimated {:.3e} multiply-accumulates, above the limit of {:.3e} \
                     (--max-work); the work grows with {}",
                    self.work_macs as f64, l.max_work_macs as f64, self.work_keys
                ),
            });
        }
        Ok(())
    }
}

/// An estimate above a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetError {
    pub subject: String,
    pub reason: String,
}

impl fmt::Display for BudgetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.subject, self.reason)
    }
}

impl std::error::Error for BudgetError {}

/// "1.50 GiB", "512 B".
pub fn bytes_text(b: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{b} B")
    } else {
        format!("{v:.2} {}", UNITS[u])
    }
}

/// Parses "8G", "512M", "1.5T", "4096" (bytes) for `--max-memory`.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => return Err(format!("{s:?}: unknown unit (use K, M, G or T)")),
            };
            (&t[..i], m)
        }
        _ => (t, 1),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size such as 8G or 512M"))?;
    if !(v.is_finite() && v > 0.0) {
        return Err(format!("{s:?} must be a positive size"));
    }
    Ok((v * mult as f64).min(u64::MAX as f64) as u64)
}

/// Parses "1e12" or "1000000" for `--max-work`.
pub fn parse_count(s: &str) -> Result<u64, String> {
    let v: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number such as 1e12"))?;
    if !(v.is_finite() && v >= 1.0) {
        return Err(format!("{s:?} must be at least 1"));
    }
    Ok(v.min(u64::MAX as f64) as u64)
}

fn mul(xs: &[u64]) -> u64 {
    xs.iter().fold(1u64, |a, &x| a.saturating_mul(x))
}

/// Sum over iterations of the tokens each sees: prompt in iteration 0 (unless the prefill is
/// cached), prompt + i in generation iteration i.
fn token_sum(w: &WorkloadConfig) -> u64 {
    let prompt_pass = if w.stage.runs_prompt() {
        w.stage.prompt_tokens as u64
    } else {
        0
    };
    prompt_pass.saturating_add(generation_token_sum(w))
}

/// Sum over generation iterations i = 1..=G of the prompt + i tokens each sees.
fn generation_token_sum(w: &WorkloadConfig) -> u64 {
    let p = w.stage.prompt_tokens as u64;
    let g = w.stage.generated_tokens as u64;
    p.saturating_mul(g)
        .saturating_add(g.saturating_mul(g + 1) / 2)
}

/// Synthetic values of more bytes than this are made one layer at a time while the reference
/// runs ([`crate::reference::run_workload_streamed`]) instead of all at once: 1 GiB, above
/// every BERT and GPT-2 preset (GPT-2 medium: 0.4 GB), below the long-context ones.
pub const STREAM_VALUES_ABOVE_BYTES: u64 = 1 << 30;

/// Bytes of every layer's f32 Q, K and V for `w` (Q per query head, K and V per K/V head).
pub fn value_bytes(w: &WorkloadConfig) -> u64 {
    let m = &w.model;
    let (l, d, tokens) = (m.layers as u64, m.head_dim as u64, w.final_tokens() as u64);
    let q = mul(&[l, m.heads as u64, tokens, d]);
    let kv = mul(&[l, m.kv_heads() as u64, tokens, d, 2]);
    mul(&[q.saturating_add(kv), 4])
}

/// Whether a run of `w` on synthetic values makes them one layer at a time.
pub fn streams_synthetic_values(w: &WorkloadConfig) -> bool {
    value_bytes(w) > STREAM_VALUES_ABOVE_BYTES
}

/// What the values and the reference of `w` take when they come from `values`: the f32 Q/K/V
/// tensors, their quantized levels, and the trace's key and value lists (one per head call).
pub fn reference_estimate_for(w: &WorkloadConfig, values: ValueSupply) -> Estimate {
    if values == ValueSupply::Synthetic && streams_synthetic_values(w) {
        streamed_reference_estimate(w)
    } else {
        reference_estimate(w)
    }
}

/// Where a run's values come from, for [`reference_estimate_for`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueSupply {
    /// Made by the synthetic generator (one layer at a time when large).
    Synthetic,
    /// Read whole from a value file or handed over by a caller.
    Whole,
}

/// [`reference_estimate`] with every layer's values in memory at once (a value file, or
/// synthetic values below [`STREAM_VALUES_ABOVE_BYTES`]).
pub fn reference_estimate(w: &WorkloadConfig) -> Estimate {
    let m = &w.model;
    let (l, h, d) = (m.layers as u64, m.heads as u64, m.head_dim as u64);
    let tokens = w.final_tokens() as u64;
    let elements = mul(&[l, h, tokens, d]);
    let mut e = Estimate::default();
    e.add("value tensors", value_bytes(w), SHAPE);
    e.add("quantized levels", mul(&[elements, 3, 2]), SHAPE);
    add_trace_and_work(&mut e, w);
    e
}

const SHAPE: &str = "model.layers x model.heads x model.head_dim x \
                     (stage.prompt_tokens + stage.generated_tokens)";

/// [`reference_estimate`] with the values made one layer at a time: one layer's K and V, the
/// query rows of that layer, and the quantized levels of the heads in flight (every query
/// head's K and V, an upper bound on what the thread pool holds at once).
fn streamed_reference_estimate(w: &WorkloadConfig) -> Estimate {
    let m = &w.model;
    let (h, d) = (m.heads as u64, m.head_dim as u64);
    let tokens = w.final_tokens() as u64;
    let query_rows = if w.stage.runs_prompt() {
        tokens
    } else {
        w.stage.generated_tokens as u64
    };
    let mut e = Estimate::default();
    const LAYER: &str = "model.kv_heads x model.head_dim x \
                         (stage.prompt_tokens + stage.generated_tokens), for one layer";
    let kv = mul(&[m.kv_heads() as u64, tokens, d, 2, 4]);
    e.add(
        "value tensors (one layer at a time)",
        kv.saturating_add(mul(&[h, query_rows, d, 4])),
        LAYER,
    );
    e.add(
        "quantized levels (one layer)",
        mul(&[h, tokens, d, 2, 2]),
        "model.heads x model.head_dim x (stage.prompt_tokens + stage.generated_tokens)",
    );
    add_trace_and_work(&mut e, w);
    e
}

fn add_trace_and_work(e: &mut Estimate, w: &WorkloadConfig) {
    let m = &w.model;
    let (l, d) = (m.layers as u64, m.head_dim as u64);
    // A batch's sequences run one after another (their values go with them), but the trace
    // and the work are every sequence's.
    let h = mul(&[m.heads as u64, w.stage.batch as u64]);
    // Each head call lists its keys and values (u32) plus a fixed record.
    let calls = mul(&[l, h, w.stage.generated_tokens as u64 + 1]);
    e.add(
        "attention trace",
        mul(&[l, h, token_sum(w), 8]).saturating_add(calls.saturating_mul(128)),
        "model.layers x model.heads x stage.batch x the tokens of every iteration \
         (stage.prompt_tokens, stage.generated_tokens)",
    );
    // Q x K and Prob x V: the prompt's P x P rows, then one row of P + i per generated token.
    let p = w.stage.prompt_tokens as u64;
    // A cached prefill (stage.prefill) has no prompt pass.
    let prompt_rows = if w.stage.runs_prompt() {
        p.saturating_mul(p)
    } else {
        0
    };
    let rows = prompt_rows.saturating_add(generation_token_sum(w));
    e.work_macs = mul(&[l, h, d, 2, rows]);
    e.work_keys = "model.layers x model.heads x stage.batch x model.head_dim x \
                   stage.prompt_tokens^2 (+ prompt + i per generated token)"
        .into();
}

/// The simulator's tables for `arch` (FIFOs with their occupancy histograms, DRAM queues per
/// bank) and one runtime record per head call.
pub fn simulator_estimate(arch: &ArchConfig, head_calls: u64) -> Estimate {
    let mut e = Estimate::default();
    // A FIFO slot: its histogram entry (8 B) plus the item when full (up to 32 B).
    let slot = 40u64;
    let f = &arch.fetcher;
    let fetcher = mul(&[
        f.address_fifos as u64,
        f.address_fifo_depth as u64 + 1,
        slot,
    ])
    .saturating_add(mul(&[
        f.data_fifos as u64,
        f.data_fifo_depth as u64 + 1,
        slot,
    ]));
    e.add(
        "fetcher FIFOs",
        fetcher,
        "fetcher.address_fifos x fetcher.address_fifo_depth and fetcher.data_fifos x \
         fetcher.data_fifo_depth",
    );
    let s = arch.softmax.fifo_depth as u64 + 1;
    let t = arch.topk_value.fifo_depth as u64 + 1;
    e.add(
        "unit FIFOs",
        mul(&[4, s, slot]).saturating_add(t.saturating_mul(slot)),
        "softmax.fifo_depth and topk_value.fifo_depth",
    );
    let hbm = &arch.hbm;
    let banks = mul(&[
        hbm.ranks as u64,
        hbm.bank_groups as u64,
        hbm.banks_per_group as u64,
    ]);
    // Per bank: its state and command queue (about 64 B per entry); per channel: read and
    // write queues and return queues (about 64 B per entry).
    let per_channel = mul(&[banks, hbm.bank_queue_depth as u64 + 4, 64])
        .saturating_add(mul(&[hbm.queue_depth as u64, 4, 64]))
        .saturating_add(64 << 10);
    e.add(
        "DRAM model",
        mul(&[hbm.channels as u64, per_channel]),
        "hbm.channels x hbm.ranks x hbm.bank_groups x hbm.banks_per_group x \
         hbm.bank_queue_depth",
    );
    e.add(
        "head-call records",
        head_calls.saturating_mul(256),
        "the head calls of the trace",
    );
    e
}

/// The simulator's estimate for a ready trace, with the work of its head calls
/// (queries x keys x head_dim, for Q x K and Prob x V).
pub fn trace_estimate(arch: &ArchConfig, trace: &AttentionTrace) -> Estimate {
    let mut e = simulator_estimate(arch, trace.head_calls.len() as u64);
    let d = trace.header.head_dim as u64;
    e.work_macs = trace.head_calls.iter().fold(0u64, |a, c| {
        let pairs = (c.queries as u64).saturating_mul(c.keys.len() as u64 + c.values.len() as u64);
        a.saturating_add(pairs.saturating_mul(d))
    });
    e.work_keys = "the trace's head calls (queries x keys x head_dim)".into();
    e
}

/// Everything a run of `w` through the reference and the simulator on `arch` will take.
pub fn run_estimate(arch: &ArchConfig, w: &WorkloadConfig, values: ValueSupply) -> Estimate {
    let calls = mul(&[
        w.model.layers as u64,
        w.model.heads as u64,
        w.stage.batch as u64,
        w.stage.generated_tokens as u64 + 1,
    ]);
    reference_estimate_for(w, values).and(simulator_estimate(arch, calls))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_configurations_fit_the_default_limits() {
        let arch = crate::config::load_arch("spatten").unwrap();
        for (name, _) in crate::config::presets::WORKLOAD {
            if crate::config::presets::LONG_CONTEXT_WORKLOADS.contains(name) {
                continue;
            }
            let w = crate::config::load_workload(name).unwrap();
            let e = run_estimate(&arch, &w, ValueSupply::Whole);
            assert!(
                e.memory_bytes() < DEFAULT_MAX_MEMORY_BYTES / 4,
                "{name}: {e:?}"
            );
            assert!(e.work_macs < DEFAULT_MAX_WORK_MACS / 4, "{name}: {e:?}");
        }
    }

    #[test]
    fn work_counts_the_prompt_square_and_each_generated_row() {
        let mut w = crate::config::load_workload("gpt2-small").unwrap();
        w.stage.prompt_tokens = 10;
        w.stage.generated_tokens = 2;
        // 10 x 10 prompt rows, then rows of 11 and 12 keys.
        let want = 12 * 12 * 64 * 2 * (100 + 11 + 12);
        assert_eq!(reference_estimate(&w).work_macs, want);
    }

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_bytes("8G").unwrap(), 8 << 30);
        assert_eq!(parse_bytes("1.5k").unwrap(), 1536);
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
        assert!(parse_bytes("-1G").is_err() && parse_bytes("8X").is_err());
        assert_eq!(parse_count("1e12").unwrap(), 1_000_000_000_000);
        assert_eq!(bytes_text(3 << 30), "3.00 GiB");
        assert_eq!(bytes_text(512), "512 B");
    }
}
