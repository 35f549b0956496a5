//! Long-context decoders: the Llama-class presets (shapes from their config.json), grouped
//! K/V heads (`model.kv_heads`) through values, reference and trace, and feasibility errors
//! that come before any heavy work.

mod common;

use std::path::Path;

use ndarray::{Array3, Axis};
use spatten::config::workload::Positional;
use spatten::config::{self, ConfigKind, WorkloadConfig, load_workload, presets};
use spatten::reference::{run_workload, run_workload_streamed};
use spatten::trace::{
    LayerValues, SynthKnobs, SynthLayers, ValueTensors, generate, read_trace, read_values,
    write_trace, write_values,
};

use common::small_gqa;

#[test]
fn presets_have_the_published_shapes() {
    // (preset, layers, query heads, K/V heads, head_dim, hidden, max context): the
    // config.json facts in the project's llm-workloads spec.
    let facts = [
        ("llama-2-7b", 32, 32, 32, 128, 4096, 4096),
        ("llama-3-8b", 32, 32, 8, 128, 4096, 8192),
        ("llama-3-8b-decode", 32, 32, 8, 128, 4096, 8192),
        ("llama-3.1-8b-32k", 32, 32, 8, 128, 4096, 131_072),
        ("llama-3.1-8b-128k", 32, 32, 8, 128, 4096, 131_072),
        ("llama-3.1-8b-128k-decode", 32, 32, 8, 128, 4096, 131_072),
        ("mistral-7b", 32, 32, 8, 128, 4096, 4096),
        ("qwen2.5-7b", 28, 28, 4, 128, 3584, 32_768),
    ];
    assert_eq!(facts.len(), presets::LONG_CONTEXT_WORKLOADS.len());
    for (name, layers, heads, kv, d, hidden, context) in facts {
        assert!(presets::LONG_CONTEXT_WORKLOADS.contains(&name), "{name}");
        let w = load_workload(name).unwrap();
        let m = &w.model;
        assert_eq!(
            (m.layers, m.heads, m.kv_heads(), m.head_dim, m.hidden),
            (layers, heads, kv, d, hidden),
            "{name}"
        );
        assert_eq!(m.positional, Some(Positional::Rope), "{name}");
        assert!(m.causal, "{name}");
        assert!(w.final_tokens() <= context, "{name}");
        assert!(w.stage.generated_tokens >= 1, "{name}");
    }
    let w = load_workload("llama-3.1-8b-128k").unwrap();
    assert_eq!(w.final_tokens(), 131_072);
}

#[test]
fn the_older_presets_do_not_name_the_new_keys() {
    // Absent keys keep their canonical TOML, and so the hashes in every report, unchanged.
    for name in [
        "bert-base",
        "bert-large",
        "minilm",
        "gpt2-small",
        "gpt2-medium",
    ] {
        let w = load_workload(name).unwrap();
        assert_eq!(w.model.kv_heads, None, "{name}");
        assert_eq!(w.model.kv_heads(), w.model.heads, "{name}");
        let text = config::to_toml(&w);
        assert!(!text.contains("kv_heads") && !text.contains("positional"));
    }
}

#[test]
fn kv_heads_must_divide_heads() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("bad.toml");
    std::fs::write(
        &w,
        "base = \"llama-3-8b\"\nname = \"bad\"\n[model]\nkv_heads = 5\n",
    )
    .unwrap();
    let (code, _, err) = common::spatten(&["config", "check", w.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("model.kv_heads") && err.contains("divide"),
        "{err}"
    );
    std::fs::write(
        &w,
        "base = \"llama-3-8b\"\nname = \"bad\"\n[model]\nkv_heads = 0\n",
    )
    .unwrap();
    let (code, _, err) = common::spatten(&["config", "check", w.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("model.kv_heads"), "{err}");
    std::fs::write(
        &w,
        "base = \"llama-3-8b\"\nname = \"bad\"\n[model]\npositional = \"alibi\"\n",
    )
    .unwrap();
    let (code, _, err) = common::spatten(&["config", "check", w.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("positional"), "{err}");
}

#[test]
fn long_context_presets_are_refused_before_any_work() {
    // Each needs more importance entries (or softmax entries for its tiled prompt pass) than
    // the paper's design point has: the pair check names the key and the run stops before
    // values are made (the reference at these sizes would take hours and hundreds of GB).
    for name in presets::LONG_CONTEXT_WORKLOADS {
        let out = tempfile::tempdir().unwrap();
        let o = out.path().join("r");
        let (code, _, err) = common::spatten(&[
            "run",
            "--workload",
            name,
            "--out",
            o.to_str().unwrap(),
            "--quiet",
        ]);
        assert_eq!(code, 2, "{name}: {err}");
        assert!(
            err.contains("softmax.score_buffer_entries")
                || err.contains("importance.token_entries"),
            "{name}: {err}"
        );
        // The refusal points at the shipped long-context design point, whose buffer holds
        // what was missing.
        assert!(
            err.contains("(--arch spatten-long-context holds 131072 token scores"),
            "{name}: {err}"
        );
        // ... and says so when only the generation steps would run there: the 128k prompt
        // pass would re-stream K and V 65,532 times per head.
        assert_eq!(
            err.contains("with stage.prefill = \"cached\", whose prompt pass it cannot run"),
            *name == "llama-3.1-8b-128k",
            "{name}: {err}"
        );
        assert!(!o.exists(), "{name}: no partial report");
    }
    // The hint names the long-context design point only where it would help.
    let (code, _, err) = common::spatten(&[
        "run",
        "--arch",
        "spatten-long-context",
        "--workload",
        "llama-3.1-8b-128k",
        "--quiet",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("softmax.score_buffer_entries"), "{err}");
    assert!(!err.contains("spatten-long-context holds"), "{err}");
}

/// The values with each K/V head repeated for every query head of its group (what
/// reference code without grouped attention does).
fn repeat_kv(values: &ValueTensors, group: usize) -> ValueTensors {
    let rep = |a: &Array3<f32>| {
        let views: Vec<_> = (0..a.shape()[0] * group)
            .map(|h| a.index_axis(Axis(0), h / group))
            .collect();
        ndarray::stack(Axis(0), &views).unwrap()
    };
    ValueTensors {
        meta: values.meta.clone(),
        layers: values
            .layers
            .iter()
            .map(|l| LayerValues {
                q: l.q.clone(),
                k: rep(&l.k),
                v: rep(&l.v),
            })
            .collect(),
    }
}

#[test]
fn grouped_heads_compute_what_repeated_kv_heads_compute() {
    let gqa = small_gqa(8, 2);
    let values = generate(&gqa, &SynthKnobs::default(), gqa.seed);
    assert_eq!(values.heads(), 8);
    assert_eq!(values.kv_heads(), 2);
    let grouped = run_workload(&values, &gqa).unwrap();
    assert_eq!(grouped.header.kv_heads, Some(2));

    let mut mha = gqa.clone();
    mha.model.kv_heads = None;
    let repeated = run_workload(&repeat_kv(&values, 4), &mha).unwrap();
    assert_eq!(repeated.header.kv_heads, None);
    // Every decision is the same: one K/V head read by its group equals that head copied.
    assert_eq!(grouped.head_calls, repeated.head_calls);
    assert_eq!(grouped.layers, repeated.layers);
    assert_eq!(grouped.topk_calls, repeated.topk_calls);
    // The query heads of a group share K but see it through their own queries.
    let calls: Vec<_> = grouped
        .head_calls
        .iter()
        .filter(|c| c.iteration == 1 && c.layer == 0)
        .collect();
    assert!(calls.iter().any(|c| c.values != calls[0].values));
}

#[test]
fn grouped_heads_under_a_kv_policy_compute_what_repeated_kv_heads_compute() {
    use spatten::config::policy::{PolicyConfig, PolicyKind};
    // Under a policy the query heads of a group that attend the same keys share one
    // quantization of their K/V head (a layer's H2O cache), and heads whose keys differ
    // quantize their own (Quest's pages per head, DuoAttention's streaming heads): either way
    // every decision is that of K/V repeated per query head.
    let policies = [
        PolicyConfig {
            kind: PolicyKind::H2o,
            budget: Some(16),
            ..Default::default()
        },
        PolicyConfig {
            kind: PolicyKind::Quest,
            budget: Some(8),
            page_size: Some(4),
            dense_layers: Some(1),
            ..Default::default()
        },
        PolicyConfig {
            kind: PolicyKind::DuoAttention,
            sinks: Some(1),
            window: Some(3),
            retrieval_heads: Some(vec![vec![0, 5], vec![2]]),
            ..Default::default()
        },
        PolicyConfig {
            kind: PolicyKind::Snapkv,
            budget: Some(16),
            observation_window: Some(8),
            ..Default::default()
        },
    ];
    for policy in policies {
        let mut gqa = small_gqa(8, 2);
        gqa.policy = policy;
        let values = generate(&gqa, &SynthKnobs::default(), gqa.seed);
        let grouped = run_workload(&values, &gqa).unwrap();
        let mut mha = gqa.clone();
        mha.model.kv_heads = None;
        let repeated = run_workload(&repeat_kv(&values, 4), &mha).unwrap();
        let kind = &gqa.policy.kind;
        assert_eq!(grouped.head_calls, repeated.head_calls, "{kind:?}");
        assert_eq!(grouped.layers, repeated.layers, "{kind:?}");
        assert_eq!(grouped.topk_calls, repeated.topk_calls, "{kind:?}");
        // The policy narrows the keys: some generation call sees fewer than all tokens.
        assert!(
            grouped
                .head_calls
                .iter()
                .any(|c| c.iteration > 0 && (c.keys.len() as u32) < 40 + c.iteration),
            "{kind:?}"
        );
        // Quest and DuoAttention give the heads of one group different keys.
        let split = grouped.head_calls.iter().any(|a| {
            grouped.head_calls.iter().any(|b| {
                (a.iteration, a.layer, a.head / 4) == (b.iteration, b.layer, b.head / 4)
                    && a.keys != b.keys
            })
        });
        let want_split = matches!(kind, PolicyKind::Quest | PolicyKind::DuoAttention);
        assert_eq!(split, want_split, "{kind:?}");
    }
}

#[test]
fn grouped_synthetic_values_share_the_group_leaders_stream() {
    // The first query head of each group draws exactly what an ungrouped head with the same
    // index draws, K and V included; the other query heads draw their own queries.
    let gqa = small_gqa(8, 2);
    let mut mha = gqa.clone();
    mha.model.kv_heads = None;
    let g = generate(&gqa, &SynthKnobs::default(), 7);
    let m = generate(&mha, &SynthKnobs::default(), 7);
    for (lg, lm) in g.layers.iter().zip(&m.layers) {
        for kv in 0..2 {
            let lead = kv * 4;
            assert_eq!(
                lg.q.index_axis(Axis(0), lead),
                lm.q.index_axis(Axis(0), lead)
            );
            assert_eq!(lg.k.index_axis(Axis(0), kv), lm.k.index_axis(Axis(0), lead));
            assert_eq!(lg.v.index_axis(Axis(0), kv), lm.v.index_axis(Axis(0), lead));
            assert_ne!(
                lg.q.index_axis(Axis(0), lead + 1),
                lg.q.index_axis(Axis(0), lead)
            );
        }
    }
}

#[test]
fn grouped_values_and_traces_round_trip() {
    let gqa = small_gqa(4, 1);
    let values = generate(&gqa, &SynthKnobs::default(), gqa.seed);
    let dir = tempfile::tempdir().unwrap();
    let vp = dir.path().join("v.safetensors");
    write_values(&vp, &values).unwrap();
    assert_eq!(read_values(&vp).unwrap(), values);

    let trace = run_workload(&values, &gqa).unwrap();
    let tp = dir.path().join("t.safetensors");
    write_trace(&tp, &trace).unwrap();
    let back = read_trace(&tp).unwrap();
    assert_eq!(back, trace);
    let meta = spatten::trace::container::read(&tp).unwrap().metadata;
    assert_eq!(meta["version"], "2", "kv_heads needs version 2");

    // An ungrouped trace is still written as version 1.
    let mut mha = gqa.clone();
    mha.model.kv_heads = None;
    let t1 = run_workload(&repeat_kv(&values, 4), &mha).unwrap();
    let p1 = dir.path().join("t1.safetensors");
    write_trace(&p1, &t1).unwrap();
    assert_eq!(
        spatten::trace::container::read(&p1).unwrap().metadata["version"],
        "1"
    );
}

#[test]
fn values_with_the_wrong_kv_shape_are_refused() {
    let gqa = small_gqa(4, 2);
    let values = generate(&gqa, &SynthKnobs::default(), 1);
    // K/V of 3 heads cannot serve 4 query heads.
    let mut bad = values.clone();
    let k = bad.layers[0].k.clone();
    bad.layers[0].k =
        ndarray::concatenate(Axis(0), &[k.view(), k.slice(ndarray::s![0..1, .., ..])]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let err = write_values(&dir.path().join("x"), &bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("layers.0.k"), "{err}");
    // Values of the right shape for another kv_heads are refused by the reference.
    let other = small_gqa(4, 1);
    let err = run_workload(&values, &other).unwrap_err().to_string();
    assert!(err.contains("layer 0 k"), "{err}");
}

fn simulate_trace(
    trace: &spatten::trace::AttentionTrace,
    fast_forward: bool,
) -> spatten::hw::SimStats {
    let arch = config::load_arch("spatten").unwrap();
    let mut dram =
        spatten::dram::simple::SimpleDram::from_config(&arch.hbm, arch.fetcher.transaction_bytes);
    let options = spatten::hw::SimOptions {
        fast_forward,
        ..spatten::hw::SimOptions::default()
    };
    spatten::hw::simulate(&arch, trace, &mut dram, &options).unwrap()
}

#[test]
fn a_group_fetches_its_kv_head_once() {
    let gqa = small_gqa(8, 2);
    let values = generate(&gqa, &SynthKnobs::default(), gqa.seed);
    let grouped = run_workload(&values, &gqa).unwrap();
    let mut mha = gqa.clone();
    mha.model.kv_heads = None;
    let repeated = run_workload(&repeat_kv(&values, 4), &mha).unwrap();

    let g = simulate_trace(&grouped, true);
    let m = simulate_trace(&repeated, true);
    let s = g.gqa.clone().expect("grouped traces report sharing");
    assert_eq!((s.kv_heads, s.group_size), (2, 4));
    assert!(m.gqa.is_none());
    // Cascade pruning keeps one token set for all heads: the union is each head's own set.
    assert_eq!(
        s.key_rows_per_query_head_union,
        s.key_rows_per_query_head_own
    );
    // Closed form: the K MSB plane comes from DRAM once per group, exactly the union's
    // transactions; one K/V head per query head fetches it once per query head.
    assert_eq!(g.dram.bytes_by_tensor.k_msb, s.key_msb_bytes_per_kv_head);
    assert_eq!(g.dram.bytes_by_tensor.k_msb, s.key_msb_bytes_fetched);
    assert_eq!(m.dram.bytes_by_tensor.k_msb, s.key_msb_bytes_unshared);
    assert!(s.key_msb_bytes_unshared >= 3 * s.key_msb_bytes_per_kv_head);
    // Same arithmetic, same queries: the shared datapath computes what the copies do.
    assert_eq!(g.qk_macs, m.qk_macs);
    assert_eq!(g.pv_macs, m.pv_macs);
    assert!(g.cycles <= m.cycles, "{} > {}", g.cycles, m.cycles);
    // Fast-forward is exact with sharing too.
    let off = simulate_trace(&grouped, false);
    assert_eq!(
        serde_json::to_string(&g).unwrap(),
        serde_json::to_string(&off).unwrap()
    );
}

#[test]
fn per_query_head_selection_pays_for_the_union() {
    // Each query head of a group keeps a different half of the keys (a per-head policy such
    // as SnapKV): the group still fetches its K/V head once, but the union of the halves,
    // and every query head is scored against that union.
    let gqa = small_gqa(4, 1);
    let values = generate(&gqa, &SynthKnobs::default(), gqa.seed);
    let mut trace = run_workload(&values, &gqa).unwrap();
    for c in trace.head_calls.iter_mut().filter(|c| c.iteration > 0) {
        let newest = *c.keys.last().unwrap();
        let head = c.head;
        c.keys.retain(|&k| k == newest || (k + head) % 2 == 0);
        c.values.retain(|v| c.keys.contains(v));
        if c.values.is_empty() {
            c.values.push(newest);
        }
    }
    // Keep the local V top-k calls consistent with the fewer values.
    for c in trace.head_calls.clone() {
        if let Some(t) = c.value_topk {
            let call = &mut trace.topk_calls[t as usize];
            call.n = c.keys.len() as u32;
            call.k = c.values.len() as u32;
            call.rounds.clear();
        }
    }
    let stats = simulate_trace(&trace, true);
    let s = stats.gqa.unwrap();
    assert!(
        s.key_rows_per_query_head_union > s.key_rows_per_query_head_own,
        "{s:?}"
    );
    assert_eq!(
        stats.dram.bytes_by_tensor.k_msb,
        s.key_msb_bytes_per_kv_head
    );
    // Every query head scores the union: more QxK work than scoring only its own rows, as
    // the same per-head selection on ungrouped heads does.
    let mut ungrouped = trace.clone();
    ungrouped.header.kv_heads = None;
    let own = simulate_trace(&ungrouped, true);
    assert!(
        stats.qk_macs > own.qk_macs,
        "{} <= {}",
        stats.qk_macs,
        own.qk_macs
    );
    assert_eq!(
        own.dram.bytes_by_tensor.k_msb, s.key_msb_bytes_unshared,
        "without grouping each query head fetches its own rows"
    );
}

/// The two-layer Llama-3-8B decode workload at `prompt` tokens with the prompt's KV cache
/// taken as filled (`stage.prefill = "cached"`).
fn decode_only(prompt: u32) -> WorkloadConfig {
    let text = format!(
        "base = \"llama-3-8b\"\nname = \"decode\"\n[model]\nlayers = 2\n[stage]\n\
         kind = \"generation\"\nprompt_tokens = {prompt}\ngenerated_tokens = 2\n\
         prefill = \"cached\"\n"
    );
    config::load_from_str(&text, Path::new("decode.toml"), ConfigKind::Workload).unwrap()
}

#[test]
fn a_cached_prefill_runs_generation_only() {
    let w = decode_only(60);
    let values = generate(&w, &SynthKnobs::default(), w.seed);
    let t = run_workload(&values, &w).unwrap();
    assert!(
        t.head_calls
            .iter()
            .all(|c| c.iteration >= 1 && c.queries == 1)
    );
    assert!(t.layers.iter().all(|r| r.iteration >= 1));
    // Iteration 1 sees every prompt token plus the new one.
    let first = &t.head_calls[0];
    assert_eq!(first.keys, (0..61).collect::<Vec<u32>>());
    // Without the key the prompt pass is there, and its head pruning (cascade) leaves at
    // most as many generation calls.
    let mut full = w.clone();
    full.stage.prefill = None;
    let tf = run_workload(&values, &full).unwrap();
    assert!(tf.head_calls.iter().any(|c| c.iteration == 0));
    assert!(tf.head_calls.iter().filter(|c| c.iteration > 0).count() <= t.head_calls.len());
    // Summarization with a cached prefill is a contradiction.
    let err = config::load_from_str::<WorkloadConfig>(
        "base = \"bert-base\"\nname = \"x\"\n[stage]\nkind = \"summarization\"\n\
         prompt_tokens = 8\ngenerated_tokens = 0\nprefill = \"cached\"\n",
        Path::new("x.toml"),
        ConfigKind::Workload,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("stage.prefill"), "{err}");
}

#[test]
fn an_8k_decode_step_runs_with_tiles_and_groups() {
    // Llama-3-8B shape at 8k tokens: 8161 keys of D = 128 are 16 banks of the paper's key
    // SRAM; the run goes through the CLI like any other.
    let dir = tempfile::tempdir().unwrap();
    let wl = dir.path().join("decode.toml");
    std::fs::write(&wl, config::to_toml(&decode_only(8160))).unwrap();
    let arch = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/arch/spatten-long-context.toml"
    );
    let out = dir.path().join("r");
    let (code, stdout, err) = common::spatten(&[
        "run",
        "--arch",
        arch,
        "--workload",
        wl.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(stdout.contains("cycles"), "{stdout}");
    let summary = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(summary.contains("### Grouped K/V heads"), "{summary}");
    let stats: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("stats.json")).unwrap()).unwrap();
    let g = &stats["gqa"];
    assert_eq!(g["kv_heads"], 8);
    assert_eq!(g["tiled_groups"], g["groups"]);
    // The long-context design point interleaves a tiled group's query heads: one K stream.
    assert_eq!(g["key_msb_bytes_fetched"], g["key_msb_bytes_per_kv_head"]);
    // The paper's arch cannot hold 8k importance entries: refused, naming the key.
    let (code, _, err) = common::spatten(&[
        "run",
        "--workload",
        wl.to_str().unwrap(),
        "--out",
        dir.path().join("r2").to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("importance.token_entries"), "{err}");
}

#[test]
fn values_made_layer_by_layer_give_the_trace_of_values_made_at_once() {
    // With a prompt pass (every token queries), GQA and cascade pruning across layers and
    // iterations; and decode-only (only the generated tokens' queries are kept).
    let h2o = config::load_from_str::<WorkloadConfig>(
        "base = \"llama-3-8b\"\nname = \"h2o\"\n[model]\nlayers = 3\nheads = 8\nkv_heads = 2\n\
         head_dim = 16\nhidden = 128\n[stage]\nkind = \"generation\"\nprompt_tokens = 48\n\
         generated_tokens = 4\n[policy]\nkind = \"h2o\"\n",
        Path::new("h2o.toml"),
        ConfigKind::Workload,
    )
    .unwrap();
    for w in [small_gqa(8, 2), small_gqa(4, 4), decode_only(70), h2o] {
        let knobs = SynthKnobs::for_workload(&w);
        let whole = run_workload(&generate(&w, &knobs, w.seed), &w).unwrap();
        let layers = SynthLayers::new(&w, &knobs, w.seed);
        let calls = std::cell::Cell::new(0u64);
        let streamed = run_workload_streamed(&layers, &w, Default::default(), &|done, total| {
            assert!(done <= total);
            calls.set(done);
        })
        .unwrap();
        assert_eq!(streamed, whole, "{}", w.name);
        assert!(calls.get() > 0);
    }
    // Layer l of the generator is layer l of `generate`, and Q from a later token is its tail.
    let w = decode_only(30);
    let knobs = SynthKnobs::for_workload(&w);
    let all = generate(&w, &knobs, w.seed);
    let layers = SynthLayers::new(&w, &knobs, w.seed);
    assert_eq!(layers.layer(1, 0), all.layers[1]);
    let tail = layers.layer(1, 30);
    assert_eq!(tail.k, all.layers[1].k);
    assert_eq!(tail.q.shape(), &[32, 2, 128]);
    assert_eq!(
        tail.q,
        all.layers[1].q.slice(ndarray::s![.., 30.., ..]).to_owned()
    );
}

#[test]
fn long_synthetic_runs_are_estimated_and_run_layer_by_layer() {
    use spatten::budget::{self, ValueSupply};
    // The 128k preset's values (103 GB) are made one layer at a time, within the default
    // memory limit; a value file of them would be refused.
    let mut w = load_workload("llama-3.1-8b-128k").unwrap();
    w.stage.prefill = Some(spatten::config::workload::Prefill::Cached);
    w.stage.generated_tokens = 1;
    w.stage.prompt_tokens = 131_071;
    assert!(budget::value_bytes(&w) > 90 << 30);
    assert!(budget::streams_synthetic_values(&w));
    let streamed = budget::reference_estimate_for(&w, ValueSupply::Synthetic);
    assert!(streamed.check("128k").is_ok(), "{streamed:?}");
    assert!(streamed.memory_bytes() < 5 << 30);
    let whole = budget::reference_estimate_for(&w, ValueSupply::Whole);
    assert!(
        whole
            .check("128k")
            .unwrap_err()
            .to_string()
            .contains("--max-memory")
    );
    // Shipped BERT and GPT-2 presets keep making their values at once.
    for name in ["bert-base", "gpt2-small", "gpt2-medium"] {
        assert!(
            !budget::streams_synthetic_values(&load_workload(name).unwrap()),
            "{name}"
        );
    }
}

#[test]
fn compare_makes_large_synthetic_values_layer_by_layer() {
    use spatten::budget::{self, ValueSupply};
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.toml");
    std::fs::write(
        &w,
        "base = \"llama-3-8b-decode\"\nname = \"stream\"\n[model]\nlayers = 1\nheads = 32\n\
         kv_heads = 32\n[stage]\nprompt_tokens = 22000\ngenerated_tokens = 2\n",
    )
    .unwrap();
    let workload = spatten::config::load_workload(w.to_str().unwrap()).unwrap();
    assert!(budget::streams_synthetic_values(&workload));
    // Held whole, the values alone would not fit the limit given below.
    let whole = budget::reference_estimate_for(&workload, ValueSupply::Whole);
    assert!(whole.memory_bytes() > 1_500_000_000, "{whole:?}");
    let out = dir.path().join("cmp");
    let (code, stdout, err) = common::spatten(&[
        "compare",
        "--workload",
        w.to_str().unwrap(),
        "--arch",
        "arch/spatten-long-context.toml",
        "--policies",
        "dense,streaming-llm",
        "--budget",
        "512",
        "--accuracy-windows",
        "0",
        "--max-memory",
        "1500M",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{err}");
    let rows: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("compare.json")).unwrap()).unwrap();
    let kept = |i: usize| rows[i]["kept_fraction"].as_f64().unwrap();
    assert_eq!(kept(0), 1.0);
    // The first step reads the whole cached cache, the second 512 rows plus the new token.
    let want = (22_000.0 + 513.0) / (22_000.0 + 22_001.0);
    assert!((kept(1) - want).abs() < 1e-3, "{} vs {want}", kept(1));
}

#[test]
fn a_pair_the_up_front_check_accepts_is_one_the_simulator_runs() {
    use spatten::config::workload::{QuantMode, StageKind};
    // `config::check_feasible` applies the simulator's tiling rules (config/tiles.rs) at their
    // worst for the workload before the reference runs: whatever it lets through must not be
    // refused by the simulator on the real trace.
    let (mut accepted, mut refused) = (0, 0);
    for summarization in [false, true] {
        let mut w = small_gqa(4, 2);
        if summarization {
            w.stage.kind = StageKind::Summarization;
            w.stage.prompt_tokens = 48;
            w.stage.generated_tokens = 0;
            w.model.causal = false;
            w.quant.mode = QuantMode::Static;
        }
        let trace = run_workload(&generate(&w, &SynthKnobs::default(), w.seed), &w).unwrap();
        // Rows of D = 16 at 12 bits are 24 B: banks of 5 to 50 rows.
        for entries in [48, 96, 100, 200, 4096] {
            for (key_bytes, value_bytes, double) in [
                (240, 240, false),
                (480, 480, true),
                (1200, 1200, false),
                (480, 960, true),
                (4800, 4800, true),
            ] {
                let mut a = config::load_arch("spatten").unwrap();
                a.softmax.score_buffer_entries = entries;
                a.qk.key_sram_bytes = key_bytes;
                a.pv.value_sram_bytes = value_bytes;
                a.qk.double_buffered = double;
                a.pv.double_buffered = double;
                let what = format!("{} {entries} {key_bytes} {value_bytes} {double}", w.name);
                if config::check_feasible(&a, &w).is_err() {
                    refused += 1;
                    continue;
                }
                accepted += 1;
                let mut dram = spatten::dram::simple::SimpleDram::from_config(
                    &a.hbm,
                    a.fetcher.transaction_bytes,
                );
                let o = spatten::hw::SimOptions::default();
                let on = match spatten::hw::simulate(&a, &trace, &mut dram, &o) {
                    Ok(s) => s,
                    Err(e) => panic!("{what}: accepted up front, refused by the simulator: {e}"),
                };
                // Tiles of fewer rows than a beat, or not a multiple of it, included.
                let mut dram = spatten::dram::simple::SimpleDram::from_config(
                    &a.hbm,
                    a.fetcher.transaction_bytes,
                );
                let off = spatten::hw::SimOptions {
                    fast_forward: false,
                    ..o
                };
                let off = spatten::hw::simulate(&a, &trace, &mut dram, &off).unwrap();
                assert_eq!(on.cycles, off.cycles, "{what}");
                assert_eq!(on.dram, off.dram, "{what}");
            }
        }
    }
    assert!(
        accepted > 0 && refused > 0,
        "{accepted} accepted, {refused} refused"
    );
}
