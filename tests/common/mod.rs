//! Helpers shared by integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A path under the data root (`$SPATTEN_DATA`, else `data/` in the repository root): the
/// same lookup the commands use. Tests that need data are `#[cfg_attr(not(data_...), ignore)]`
/// so they are reported as ignored, never as passed, when it is missing (see build.rs).
pub fn data(rel: &str) -> PathBuf {
    spatten::data_dir::data_root().join(rel)
}

/// Runs the `spatten` binary in `cwd`; returns (exit code, stdout, stderr).
pub fn spatten_in(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_spatten"))
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs the `spatten` binary in the repository root.
pub fn spatten(args: &[&str]) -> (i32, String, String) {
    spatten_in(args, Path::new(env!("CARGO_MANIFEST_DIR")))
}

/// Runs the `spatten` binary in the repository root and returns its whole output.
pub fn spatten_output(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_spatten"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

/// Standard output followed by standard error.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs `python3 -c code` in the repository root and returns its stdout, or `None` (saying
/// why) when python3 or one of the `modules` is missing. CI sets SPATTEN_REQUIRE_PYTHON so a
/// missing interpreter fails there instead; SPATTEN_SKIP_PYTHON=1 skips outright.
pub fn python(code: &str, modules: &[&str]) -> Option<String> {
    if std::env::var_os("SPATTEN_SKIP_PYTHON").is_some() {
        return None;
    }
    let probe = format!(
        "import sys{}",
        modules.iter().map(|m| format!(", {m}")).collect::<String>()
    );
    let available = Command::new("python3")
        .args(["-c", &probe])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        assert!(
            std::env::var_os("SPATTEN_REQUIRE_PYTHON").is_none(),
            "SPATTEN_REQUIRE_PYTHON is set but python3 with {modules:?} is missing"
        );
        eprintln!("skipped: python3 with {modules:?} not found");
        return None;
    }
    let out = Command::new("python3")
        .args(["-c", code])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8(out.stdout).unwrap())
}

/// Appends to `out` each path in `golden` whose value differs from `actual` or is missing
/// from it, and with `new_keys` each key `actual` has and `golden` lacks (long values
/// shortened). Golden files written before a field existed pass `new_keys = false`.
pub fn golden_diff(
    path: &str,
    golden: &serde_json::Value,
    actual: &serde_json::Value,
    new_keys: bool,
    out: &mut Vec<String>,
) {
    use serde_json::Value;
    match (golden, actual) {
        (Value::Object(g), Value::Object(a)) => {
            for (k, gv) in g {
                match a.get(k) {
                    Some(av) => golden_diff(&format!("{path}.{k}"), gv, av, new_keys, out),
                    None => out.push(format!("{path}.{k}: missing now")),
                }
            }
            for k in a.keys().filter(|k| new_keys && !g.contains_key(*k)) {
                out.push(format!("{path}.{k}: not in the golden file"));
            }
        }
        (g, a) if g == a => {}
        (g, a) => {
            let show = |v: &Value| {
                let s = v.to_string();
                match s.char_indices().nth(200) {
                    Some((cut, _)) => format!("{}...", &s[..cut]),
                    None => s,
                }
            };
            out.push(format!("{path}: golden {} != now {}", show(g), show(a)));
        }
    }
}

/// A two-layer grouped-query workload small enough for the reference in a test.
pub fn small_gqa(heads: u32, kv_heads: u32) -> spatten::config::WorkloadConfig {
    let text = format!(
        r#"
base = "llama-3-8b"
name = "gqa-test"
[model]
layers = 2
heads = {heads}
kv_heads = {kv_heads}
head_dim = 16
hidden = {hidden}
[stage]
kind = "generation"
prompt_tokens = 40
generated_tokens = 3
[token_pruning]
average_ratio = 0.3
unpruned_leading_fraction = 0.0
ramp = 0.0
"#,
        hidden = heads * 16
    );
    spatten::config::load_from_str(
        &text,
        Path::new("gqa-test.toml"),
        spatten::config::ConfigKind::Workload,
    )
    .unwrap()
}

/// One dense generation iteration of `heads` GPT-2-shaped heads (D = 64, 8-bit K/V) over
/// `prompt + 1` keys: with 4000, about four SRAM banks of the paper's design point, so every
/// head streams its K/V in tiles.
pub fn dense_decode(prompt: u32, heads: u32) -> spatten::trace::AttentionTrace {
    let mut w = spatten::config::load_workload("gpt2-small").unwrap();
    w.model.layers = 1;
    w.model.heads = heads;
    w.model.hidden = heads * 64;
    w.stage.prompt_tokens = prompt;
    w.stage.generated_tokens = 1;
    let mut t = spatten::hw::dense_trace(&w);
    t.head_calls.retain(|c| c.iteration == 1);
    t.layers.retain(|r| r.iteration == 1);
    t
}

/// One generation head (D = 64, 8-bit K/V) over `keys` keys fetching the V rows `values`,
/// chosen by the local-V top-k call `topk` (made for an engine of `value_topk_entries`).
pub fn local_v_head(
    keys: u32,
    values: Vec<u32>,
    topk: spatten::trace::TopkCall,
    value_topk_entries: Option<u32>,
) -> spatten::trace::AttentionTrace {
    use spatten::trace::{AttentionTrace, HeadCall, LayerRecord, TraceHeader};
    let all: Vec<u32> = (0..keys).collect();
    AttentionTrace {
        header: TraceHeader {
            workload: "local-v".into(),
            source: "test".into(),
            layers: 1,
            heads: 1,
            head_dim: 64,
            stage: spatten::config::workload::StageKind::Generation,
            prompt_tokens: keys - 1,
            generated_tokens: 1,
            seed: 0,
            kv_heads: None,
            softmax_key_tile_rows: None,
            batch: None,
            value_topk_entries,
        },
        head_calls: vec![HeadCall {
            sequence: 0,
            iteration: 1,
            layer: 0,
            head: 0,
            queries: 1,
            query_bits: 12,
            keys: all.clone(),
            values,
            key_msb_bits: 8,
            value_msb_bits: 8,
            lsb_bits: 0,
            requant_rows: 0,
            lsb_refetch: false,
            accumulate_importance: true,
            value_topk: Some(0),
        }],
        layers: vec![LayerRecord {
            sequence: 0,
            iteration: 1,
            layer: 0,
            tokens_kept: all,
            heads_kept: vec![0],
            token_topk: None,
            head_topk: None,
        }],
        topk_calls: vec![topk],
    }
}

/// Simulates `trace` on `arch` over the bandwidth/latency DRAM model.
pub fn simulate_simple(
    arch: &spatten::config::ArchConfig,
    trace: &spatten::trace::AttentionTrace,
    fast_forward: bool,
) -> Result<spatten::hw::SimStats, spatten::hw::SimError> {
    let mut dram =
        spatten::dram::simple::SimpleDram::from_config(&arch.hbm, arch.fetcher.transaction_bytes);
    let o = spatten::hw::SimOptions {
        fast_forward,
        ..spatten::hw::SimOptions::default()
    };
    spatten::hw::simulate(arch, trace, &mut dram, &o)
}

/// [`simulate_simple`] with fast-forward on and off: checks both give the same statistics
/// and returns them.
pub fn simulate_simple_both(
    arch: &spatten::config::ArchConfig,
    trace: &spatten::trace::AttentionTrace,
) -> spatten::hw::SimStats {
    let on = simulate_simple(arch, trace, true).unwrap();
    let off = simulate_simple(arch, trace, false).unwrap();
    assert_eq!(
        serde_json::to_string(&on).unwrap(),
        serde_json::to_string(&off).unwrap()
    );
    on
}

/// A one-layer GPT-2-shaped summarization workload of `heads` heads over `prompt` tokens,
/// static 8-bit K/V.
pub fn gpt2_prompt(prompt: u32, heads: u32) -> spatten::config::WorkloadConfig {
    use spatten::config::workload::{QuantMode, StageKind};
    let mut w = spatten::config::load_workload("gpt2-small").unwrap();
    w.model.layers = 1;
    w.model.heads = heads;
    w.model.hidden = heads * 64;
    w.stage.kind = StageKind::Summarization;
    w.stage.prompt_tokens = prompt;
    w.stage.generated_tokens = 0;
    w.quant.mode = QuantMode::Static;
    w.quant.lsb_bits = 0;
    w
}

/// Asserts `bound <= cycles < (1 + margin) x bound`.
pub fn assert_near_bound(cycles: u64, bound: u64, margin: f64) {
    assert!(cycles >= bound, "{cycles} < {bound}");
    assert!(
        (cycles as f64) < (1.0 + margin) * bound as f64,
        "{cycles} vs {bound}"
    );
}
