//! KV-cache / token pruning policies end to end through the reference: kept sets known in
//! closed form (sinks + window, heavy hitters on a crafted sequence, DuoAttention's mask,
//! Quest's pages), traces that pass the format's checks and round-trip, and `[policy]`
//! errors that exit 2 naming the key.

mod common;

use ndarray::Array3;
use spatten::config::WorkloadConfig;
use spatten::config::load_workload;
use spatten::config::policy::{PolicyConfig, PolicyKind};
use spatten::config::workload::StageKind;
use spatten::reference::run_workload;
use spatten::trace::trace_check::check_trace;
use spatten::trace::{
    AttentionTrace, LayerValues, SynthKnobs, TopkPurpose, ValueMeta, ValueTensors, generate,
    read_trace, write_trace,
};

/// GPT-2-like generation, small: 2 layers x 2 heads x 8 dims, 24 prompt + 4 generated.
fn tiny_generation(policy: PolicyConfig) -> WorkloadConfig {
    let mut w = load_workload("gpt2-small").unwrap();
    w.model.layers = 2;
    w.model.heads = 2;
    w.model.head_dim = 8;
    w.model.hidden = 16;
    w.stage.prompt_tokens = 24;
    w.stage.generated_tokens = 4;
    w.policy = policy;
    w
}

fn run(w: &WorkloadConfig) -> AttentionTrace {
    let values = generate(w, &SynthKnobs::default(), w.seed);
    let t = run_workload(&values, w).unwrap();
    check_trace(&t).unwrap();
    t
}

fn policy(kind: PolicyKind) -> PolicyConfig {
    PolicyConfig {
        kind,
        ..Default::default()
    }
}

#[test]
fn token_counts_sized_for_a_longer_prompt_are_scaled_to_the_one_run() {
    // A budget of 16 chosen for a 48-token prompt is 8 on this 24-token one; the sinks stay.
    let keys = |p: PolicyConfig| -> Vec<Vec<u32>> {
        run(&tiny_generation(p))
            .head_calls
            .iter()
            .map(|c| c.keys.clone())
            .collect()
    };
    let eight = keys(PolicyConfig {
        budget: Some(8),
        sinks: Some(2),
        ..policy(PolicyKind::StreamingLlm)
    });
    let sized = |prompt| PolicyConfig {
        budget: Some(16),
        sinks: Some(2),
        sized_for_prompt: Some(prompt),
        ..policy(PolicyKind::StreamingLlm)
    };
    assert_eq!(keys(sized(48)), eight);
    assert_ne!(keys(sized(24)), eight);
}

#[test]
fn streaming_llm_attends_sinks_plus_the_recent_window() {
    let w = tiny_generation(PolicyConfig {
        budget: Some(8),
        sinks: Some(2),
        ..policy(PolicyKind::StreamingLlm)
    });
    let t = run(&w);
    let p = w.stage.prompt_tokens;
    for c in t.head_calls.iter().filter(|c| c.iteration > 0) {
        // The cache after the last eviction (sinks + 6 most recent) plus the new token.
        let seq = p + c.iteration;
        let mut want: Vec<u32> = vec![0, 1];
        want.extend(seq - 7..seq);
        assert_eq!(c.keys, want, "iteration {} layer {}", c.iteration, c.layer);
        assert_eq!(c.values, c.keys);
        assert!(c.value_topk.is_none() && !c.accumulate_importance);
    }
    for r in &t.layers {
        let seq = p + r.iteration;
        let mut want: Vec<u32> = vec![0, 1];
        want.extend(seq - 6..seq);
        assert_eq!(r.tokens_kept, want);
        assert!(r.token_topk.is_none());
    }
    assert!(t.topk_calls.is_empty());
    // The prompt itself runs dense.
    assert!(
        t.head_calls
            .iter()
            .filter(|c| c.iteration == 0)
            .all(|c| c.keys.len() == 24)
    );
}

/// One layer x one head, 16 tokens, D = 4: every query is u, keys 5 and 9 are 8u (the heavy
/// hitters), every other key is orthogonal to u.
fn crafted(tokens: usize, causal: bool) -> ValueTensors {
    let d = 4;
    let mut q = Array3::<f32>::zeros((1, tokens, d));
    let mut k = Array3::<f32>::zeros((1, tokens, d));
    let mut v = Array3::<f32>::zeros((1, tokens, d));
    for t in 0..tokens {
        q[[0, t, 0]] = 1.0;
        k[[0, t, 1]] = ((t % 3) as f32 - 1.0) * 0.1;
        k[[0, t, 0]] = if t == 5 || t == 9 { 8.0 } else { 0.0 };
        v[[0, t, 2]] = t as f32;
    }
    ValueTensors {
        meta: ValueMeta {
            model: "crafted".into(),
            source: "tests/policy.rs".into(),
            seed: 0,
            prompt_tokens: tokens as u32,
            causal,
        },
        layers: vec![
            LayerValues {
                q: q.clone(),
                k: k.clone(),
                v: v.clone(),
            },
            LayerValues { q, k, v },
        ],
    }
}

fn tiny_summarization(tokens: u32, policy: PolicyConfig) -> WorkloadConfig {
    let mut w = load_workload("bert-base").unwrap();
    w.model.layers = 2;
    w.model.heads = 1;
    w.model.head_dim = 4;
    w.model.hidden = 4;
    w.stage.prompt_tokens = tokens;
    w.policy = policy;
    w
}

#[test]
fn h2o_keeps_the_heavy_hitters_and_the_recent_window() {
    let w = tiny_summarization(
        16,
        PolicyConfig {
            budget: Some(4),
            window: Some(2),
            ..policy(PolicyKind::H2o)
        },
    );
    let t = run_workload(&crafted(16, false), &w).unwrap();
    check_trace(&t).unwrap();
    assert_eq!(t.layers[0].tokens_kept, vec![5, 9, 14, 15]);
    let call = &t.topk_calls[t.layers[0].token_topk.unwrap() as usize];
    assert_eq!((call.purpose, call.n, call.k), (TopkPurpose::Token, 16, 4));
    assert_eq!(call.rounds[0], 16);
    // Cascade in summarization: the second layer sees only the survivors.
    assert_eq!(t.head_calls[1].keys, vec![5, 9, 14, 15]);
    assert_eq!(t.head_calls[1].queries, 4);
    assert!(t.head_calls.iter().all(|c| c.accumulate_importance));
}

#[test]
fn tova_and_random_keep_the_budget_and_random_is_seeded() {
    let w = tiny_summarization(
        16,
        PolicyConfig {
            budget: Some(3),
            ..policy(PolicyKind::Tova)
        },
    );
    let t = run_workload(&crafted(16, false), &w).unwrap();
    // The newest query's attention ranks: the two heavy hitters, then the earliest tie.
    assert_eq!(t.layers[0].tokens_kept, vec![0, 5, 9]);

    let mut w = tiny_generation(PolicyConfig {
        budget: Some(10),
        ..policy(PolicyKind::Random)
    });
    let a = run(&w);
    assert_eq!(a, run(&w));
    for r in &a.layers {
        assert_eq!(r.tokens_kept.len(), 10);
    }
    w.seed += 1;
    assert_ne!(a.layers[0].tokens_kept, run(&w).layers[0].tokens_kept);
}

#[test]
fn snapkv_keeps_its_observation_window_and_pyramidkv_budgets_fall_with_depth() {
    let w = tiny_generation(PolicyConfig {
        budget: Some(12),
        observation_window: Some(4),
        ..policy(PolicyKind::Snapkv)
    });
    let t = run(&w);
    for r in t.layers.iter().filter(|r| r.iteration == 0) {
        assert_eq!(r.tokens_kept.len(), 12);
        assert!(r.tokens_kept.ends_with(&[20, 21, 22, 23]));
    }
    // Once after the prompt: the cache only grows afterwards.
    for r in t.layers.iter().filter(|r| r.iteration > 0) {
        assert_eq!(r.tokens_kept.len(), 12 + r.iteration as usize);
        assert!(r.token_topk.is_none());
    }
    let mut w = tiny_generation(PolicyConfig {
        budget: Some(12),
        observation_window: Some(2),
        pyramid_beta: Some(4.0),
        ..policy(PolicyKind::Pyramidkv)
    });
    w.model.layers = 3;
    let t = run(&w);
    let kept: Vec<usize> = t
        .layers
        .iter()
        .filter(|r| r.iteration == 0)
        .map(|r| r.tokens_kept.len())
        .collect();
    assert_eq!(kept, vec![21, 12, 3]);
}

#[test]
fn duo_attention_streaming_heads_see_sinks_and_window_retrieval_heads_everything() {
    let w = tiny_generation(PolicyConfig {
        sinks: Some(1),
        window: Some(3),
        retrieval_heads: Some(vec![vec![0], vec![]]),
        ..policy(PolicyKind::DuoAttention)
    });
    let t = run(&w);
    for c in t.head_calls.iter().filter(|c| c.iteration > 0) {
        let seq = w.stage.prompt_tokens + c.iteration;
        if c.layer == 0 && c.head == 0 {
            assert_eq!(c.keys.len() as u32, seq);
        } else {
            let mut want = vec![0];
            want.extend(seq - 3..seq);
            assert_eq!(c.keys, want);
        }
    }
    // The score rule keeps half the heads of each layer whole.
    let w = tiny_generation(PolicyConfig {
        sinks: Some(1),
        window: Some(3),
        ..policy(PolicyKind::DuoAttention)
    });
    let t = run(&w);
    for layer in 0..2 {
        let full = t
            .head_calls
            .iter()
            .filter(|c| c.iteration == 1 && c.layer == layer && c.keys.len() == 25)
            .count();
        assert_eq!(full, 1, "layer {layer}");
    }
}

#[test]
fn quest_loads_whole_pages_after_its_dense_layers() {
    let mut w = tiny_generation(PolicyConfig {
        budget: Some(8),
        page_size: Some(4),
        dense_layers: Some(1),
        ..policy(PolicyKind::Quest)
    });
    w.model.layers = 3;
    let t = run(&w);
    let pages = t
        .topk_calls
        .iter()
        .filter(|c| c.purpose == TopkPurpose::Page)
        .count();
    // Two layers past the dense one, two heads, four steps.
    assert_eq!(pages, 2 * 2 * 4);
    for c in t.head_calls.iter().filter(|c| c.iteration > 0) {
        let seq = w.stage.prompt_tokens + c.iteration;
        if c.layer == 0 {
            assert_eq!(c.keys.len() as u32, seq);
            continue;
        }
        // Two pages: the query's own and the best other one.
        let mut pages: Vec<u32> = c.keys.iter().map(|&t| t / 4).collect();
        pages.dedup();
        assert_eq!(pages.len(), 2);
        assert_eq!(*pages.last().unwrap(), (seq - 1) / 4);
        for p in &pages {
            let full: Vec<u32> = (p * 4..((p + 1) * 4).min(seq)).collect();
            assert!(full.iter().all(|t| c.keys.contains(t)));
        }
    }
    // The new record kind survives the file format.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quest.safetensors");
    write_trace(&path, &t).unwrap();
    assert_eq!(read_trace(&path).unwrap(), t);
}

#[test]
fn the_spatten_preset_is_the_default_and_dense_prunes_nothing() {
    let mut w = tiny_generation(PolicyConfig::default());
    let default = run(&w);
    w.policy = policy(PolicyKind::Spatten);
    assert_eq!(run(&w), default);
    w.policy = policy(PolicyKind::Dense);
    let t = run(&w);
    for c in &t.head_calls {
        let seq = w.stage.prompt_tokens + c.iteration;
        assert_eq!(c.keys.len() as u32, seq);
        assert_eq!(c.values, c.keys);
    }
    assert!(t.topk_calls.is_empty());
    assert_eq!(w.stage.kind, StageKind::Generation);
}

#[test]
fn bad_policy_settings_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (table, key) in [
        ("kind = \"h2o\"\nbudget = 5000", "policy.budget"),
        (
            "kind = \"h2o\"\nbudget = 16\nsinks = 4\nwindow = 16",
            "policy.budget",
        ),
        ("kind = \"streaming-llm\"\nwindow = 0", "policy.window"),
        ("kind = \"quest\"\npage_size = 12", "policy.page_size"),
        ("kind = \"h2o\"\npage_size = 16", "policy.page_size"),
        ("kind = \"snapkv\"\npool_kernel = 4", "policy.pool_kernel"),
        (
            "kind = \"duo-attention\"\nretrieval_heads = [[0]]",
            "policy.retrieval_heads",
        ),
        ("kind = \"lru\"", "kind"),
        ("kind = \"h2o\"\nbudgett = 3", "budgett"),
    ] {
        let f = dir.path().join("w.toml");
        std::fs::write(&f, format!("base = \"gpt2-small\"\n[policy]\n{table}\n")).unwrap();
        let (code, out, err) = common::spatten(&["config", "check", f.to_str().unwrap()]);
        assert_eq!(code, 2, "{table}: {out}{err}");
        assert!(format!("{out}{err}").contains(key), "{table}: {out}{err}");
    }
    let f = dir.path().join("ok.toml");
    std::fs::write(
        &f,
        "base = \"gpt2-small\"\n[policy]\nkind = \"h2o\"\nbudget = 256\nwindow = 64\n",
    )
    .unwrap();
    let (code, out, err) = common::spatten(&["config", "check", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn compare_writes_one_table_and_refuses_bad_arguments() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cmp");
    let o = out.to_str().unwrap();
    let (code, stdout, err) = common::spatten(&[
        "compare",
        "--workload",
        "bert-base",
        "--policies",
        "dense,spatten,h2o,streaming-llm",
        "--budget",
        "0.5",
        "--accuracy-pairs",
        "0",
        "--out",
        o,
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    let table = std::fs::read_to_string(out.join("compare.md")).unwrap();
    assert_eq!(stdout.lines().next(), table.lines().next());
    for p in ["| dense |", "| spatten |", "| h2o |", "| streaming-llm |"] {
        assert!(table.contains(p), "{table}");
    }
    let rows: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    let kept = |i: usize| rows[i]["kept_fraction"].as_f64().unwrap();
    assert_eq!(kept(0), 1.0);
    // Half the tokens after the first layer: 1/12 + 11/12 x 1/2 of the K rows, and fewer
    // query rows too.
    assert!(
        (kept(2) - (1.0 + 11.0 * 0.5) / 12.0).abs() < 1e-9,
        "{}",
        kept(2)
    );
    assert!(rows[2]["cycles"].as_u64() < rows[0]["cycles"].as_u64());
    assert!(out.join("figures/energy_by_action.png").is_file());
    for (args, what) in [
        (vec!["--policies", "dense,lru"], "lru"),
        (vec!["--budget", "0"], "--budget"),
        (vec!["--budget", "1.5"], "--budget"),
        (vec!["--budget", "4000"], "policy.budget"),
    ] {
        let mut a = vec![
            "compare",
            "--workload",
            "bert-base",
            "--accuracy-pairs",
            "0",
        ];
        a.extend(args.iter());
        let bad = dir.path().join("bad");
        a.extend(["--out", bad.to_str().unwrap()]);
        let (code, stdout, err) = common::spatten(&a);
        assert_eq!(code, 2, "{args:?}: {stdout}{err}");
        assert!(err.contains(what), "{args:?}: {err}");
        assert!(!bad.exists());
    }
}

#[test]
fn dense_keeps_everything_on_a_decode_only_run() {
    // No prompt pass (prefill = "cached"): the kept fraction counts the iterations run.
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("decode.toml");
    std::fs::write(
        &w,
        "base = \"gpt2-small\"\nname = \"decode\"\n[model]\nlayers = 2\n[stage]\n\
         kind = \"generation\"\nprompt_tokens = 96\ngenerated_tokens = 3\nprefill = \"cached\"\n",
    )
    .unwrap();
    let out = dir.path().join("cmp");
    let (code, stdout, err) = common::spatten(&[
        "compare",
        "--workload",
        w.to_str().unwrap(),
        "--policies",
        "dense,streaming-llm",
        "--budget",
        "32",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    let rows: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    assert_eq!(rows[0]["kept_fraction"].as_f64().unwrap(), 1.0);
    // The first step reads the whole cached cache (there was no prompt pass to compress
    // after), then each step reads the 32 kept plus the newest token.
    let want = (97.0 + 33.0 + 33.0) / (97.0 + 98.0 + 99.0);
    let got = rows[1]["kept_fraction"].as_f64().unwrap();
    assert!((got - want).abs() < 1e-9, "{got} vs {want}");
}
