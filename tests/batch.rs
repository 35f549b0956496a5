//! Batches of independent sequences (`stage.batch`): the merged trace, its file form, and
//! what the simulator makes of sequences sharing the datapath.

mod common;

use std::path::Path;

use spatten::config::{self, ArchConfig, WorkloadConfig};
use spatten::experiment::{DramKind, Experiment, Input};
use spatten::trace::trace_file::{decode_trace, encode_trace};
use spatten::trace::{AttentionTrace, batch};

fn workload(batch: u32) -> WorkloadConfig {
    let mut w = config::load_workload("gpt2-small").unwrap();
    w.name = format!("gpt2-batch{batch}");
    w.model.layers = 3;
    w.stage.prompt_tokens = 96;
    w.stage.generated_tokens = 3;
    w.stage.batch = batch;
    w
}

fn arch() -> ArchConfig {
    config::load_arch("spatten").unwrap()
}

fn trace_of(w: &WorkloadConfig) -> AttentionTrace {
    Experiment {
        name: w.name.clone(),
        arch: arch(),
        workload: Some(w.clone()),
        input: Input::Synthetic,
        dram: DramKind::Simple,
        timeline: false,
    }
    .build_trace(&mut |_| {})
    .unwrap()
}

/// Sequence `s` of a batched trace, as a one-sequence trace (top-k indices renumbered).
fn sequence(t: &AttentionTrace, s: u32) -> AttentionTrace {
    let offset = t
        .head_calls
        .iter()
        .filter(|c| c.sequence == s)
        .filter_map(|c| c.value_topk)
        .chain(
            t.layers
                .iter()
                .filter(|r| r.sequence == s)
                .flat_map(|r| [r.token_topk, r.head_topk].into_iter().flatten()),
        )
        .min()
        .unwrap_or(0);
    let shift = |i: Option<u32>| i.map(|i| i - offset);
    let mut header = t.header.clone();
    header.batch = None;
    let head_calls: Vec<_> = t
        .head_calls
        .iter()
        .filter(|c| c.sequence == s)
        .map(|c| spatten::trace::HeadCall {
            sequence: 0,
            value_topk: shift(c.value_topk),
            ..c.clone()
        })
        .collect();
    let layers: Vec<_> = t
        .layers
        .iter()
        .filter(|r| r.sequence == s)
        .map(|r| spatten::trace::LayerRecord {
            sequence: 0,
            token_topk: shift(r.token_topk),
            head_topk: shift(r.head_topk),
            ..r.clone()
        })
        .collect();
    let used = head_calls
        .iter()
        .filter_map(|c| c.value_topk)
        .chain(
            layers
                .iter()
                .flat_map(|r| [r.token_topk, r.head_topk].into_iter().flatten()),
        )
        .max()
        .map_or(0, |m| m + 1);
    AttentionTrace {
        header,
        head_calls,
        layers,
        topk_calls: t.topk_calls[offset as usize..(offset + used) as usize].to_vec(),
    }
}

#[test]
fn sequence_zero_is_the_unbatched_run_and_the_others_differ() {
    let batched = trace_of(&workload(3));
    let single = trace_of(&workload(1));
    assert_eq!(batched.header.batch, Some(3));
    let s0 = sequence(&batched, 0);
    assert_eq!(s0.head_calls, single.head_calls);
    assert_eq!(s0.layers, single.layers);
    assert_eq!(s0.topk_calls, single.topk_calls);
    // The others are the one-sequence runs of their own seeds, and those are other values.
    for s in 1..3 {
        let own = trace_of(&batch::sequence_workload(&workload(3), s));
        let got = sequence(&batched, s);
        assert_eq!(got.head_calls, own.head_calls, "sequence {s}");
        assert_eq!(got.layers, own.layers, "sequence {s}");
        assert_ne!(
            got.layers, single.layers,
            "sequence {s} has its own pruning"
        );
    }
    // Calls interleave layer by layer: (iteration, layer, sequence, head) order.
    let keys: Vec<_> = batched
        .head_calls
        .iter()
        .map(|c| (c.iteration, c.layer, c.sequence, c.head))
        .collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(keys[0].2, 0);
    let first_of_seq1 = keys.iter().position(|k| k.2 == 1).unwrap();
    assert!(keys[..first_of_seq1].iter().all(|k| k.1 == 0));
}

#[test]
fn per_sequence_volumes_add_up_to_the_batch() {
    use spatten::trace::savings::TrafficSteps;
    let t = trace_of(&workload(3));
    let all = TrafficSteps::of(&t, 12);
    let parts: Vec<_> = (0..3)
        .map(|s| TrafficSteps::of_sequences(&t, 12, Some(s)))
        .collect();
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    let sum = |f: fn(&TrafficSteps) -> f64| parts.iter().map(f).sum::<f64>();
    assert!(close(sum(|p| p.dense_bits), all.dense_bits));
    assert!(close(
        sum(|p| p.after_quantization_bits),
        all.after_quantization_bits
    ));
    // Each part is its sequence's own run, as it would be reported unbatched.
    let own = trace_of(&batch::sequence_workload(&workload(3), 1));
    let alone = TrafficSteps::of(&own, 12);
    assert!(close(parts[1].after_local_v_bits, alone.after_local_v_bits));
    assert!(close(parts[1].dense_bits, alone.dense_bits));
}

#[test]
fn the_dense_trace_of_a_batch_has_every_sequence() {
    let one = spatten::hw::dense_trace(&workload(1));
    let three = spatten::hw::dense_trace(&workload(3));
    assert_eq!(three.header.batch, Some(3));
    assert_eq!(three.head_calls.len(), 3 * one.head_calls.len());
    encode_trace(Path::new("dense.trace"), &three).unwrap();
    let stats = common::simulate_simple_both(&arch(), &three);
    assert_eq!(stats.sequence_end_cycles.as_ref().map(Vec::len), Some(3));
}

#[test]
fn sequence_seeds_are_distinct_and_toml_integers() {
    let seeds: Vec<u64> = (0..256).map(|s| batch::sequence_seed(7, s)).collect();
    assert_eq!(seeds[0], 7);
    let mut sorted = seeds.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), 256);
    assert!(seeds.iter().all(|&s| s <= i64::MAX as u64));
}

#[test]
fn a_batched_trace_round_trips_as_version_5_and_older_versions_refuse_it() {
    let t = trace_of(&workload(2));
    let p = Path::new("batch.trace");
    let c = encode_trace(p, &t).unwrap();
    assert_eq!(c.metadata["version"], "5");
    assert!(c.tensors.contains_key("head_calls.sequence"));
    assert_eq!(decode_trace(p, &c).unwrap(), t);
    let mut old = c.clone();
    old.metadata.insert("version".into(), "4".into());
    let e = decode_trace(p, &old).unwrap_err().to_string();
    assert!(e.contains("batch 5"), "{e}");
    // A sequence id beyond the batch, or a batch of one spelled out, is refused.
    let mut bad = t.clone();
    bad.head_calls.last_mut().unwrap().sequence = 2;
    let e = encode_trace(p, &bad).unwrap_err().to_string();
    assert!(
        e.contains("sequence 2 not below the header's batch of 2"),
        "{e}"
    );
    let mut one = t.clone();
    one.header.batch = Some(1);
    let e = encode_trace(p, &one).unwrap_err().to_string();
    assert!(e.contains("header.batch = 1"), "{e}");
    // One-sequence traces keep their old bytes: no sequence columns.
    let single = trace_of(&workload(1));
    let c = encode_trace(p, &single).unwrap();
    assert_ne!(c.metadata["version"], "5");
    assert!(!c.tensors.contains_key("head_calls.sequence"));
}

#[test]
fn sequences_share_the_datapath_and_overlap_their_layer_barriers() {
    let arch = arch();
    let batched = trace_of(&workload(3));
    let together = common::simulate_simple_both(&arch, &batched);
    let alone: Vec<_> = (0..3)
        .map(|s| common::simulate_simple(&arch, &sequence(&batched, s), true).unwrap())
        .collect();
    let sum = |f: &dyn Fn(&spatten::hw::SimStats) -> u64| alone.iter().map(f).sum::<u64>();
    // The same work and the same data, from three KV caches.
    assert_eq!(together.qk_macs, sum(&|s| s.qk_macs));
    assert_eq!(together.pv_macs, sum(&|s| s.pv_macs));
    assert_eq!(together.head_calls, sum(&|s| s.head_calls));
    assert_eq!(together.lsb_refetches, sum(&|s| s.lsb_refetches));
    assert_eq!(
        together.dram.backend.bytes_read,
        sum(&|s| s.dram.backend.bytes_read)
    );
    assert_eq!(
        together.effective_ops,
        sum(&|s| s.effective_ops),
        "effective work counts every sequence"
    );
    // Run back to back, each sequence waits at every layer end for its token top-k; in a
    // batch the next sequence's heads fill that wait, so the batch takes less than the sum.
    let serial = sum(&|s| s.cycles);
    assert!(together.cycles < serial, "{} vs {serial}", together.cycles);
    // Throughput is shared, so is latency: every sequence is done later than it would be
    // alone, the last one when the batch is.
    let ends = together.sequence_end_cycles.as_ref().unwrap();
    assert_eq!(ends.len(), 3);
    assert!(alone.iter().all(|s| s.sequence_end_cycles.is_none()));
    for (s, (&end, a)) in ends.iter().zip(&alone).enumerate() {
        assert!(
            end > a.cycles,
            "sequence {s}: done at {end}, alone {}",
            a.cycles
        );
        assert!(end <= together.cycles, "sequence {s}: {end}");
    }
    assert!(
        *ends.iter().max().unwrap() + 16 > together.cycles,
        "{ends:?}"
    );
    // Step by step: each iteration is done after the one before, the last when the
    // sequence is; the batch's prompts all come before its first generated token (the
    // trace's order), so sequence s's prompt is done before sequence s + 1's.
    let steps = together.sequence_step_end_cycles.as_ref().unwrap();
    assert_eq!(steps.len(), 3);
    for (s, st) in steps.iter().enumerate() {
        assert_eq!(st.len(), 4, "prompt + 3 generated");
        assert!(st.windows(2).all(|w| w[0] < w[1]), "sequence {s}: {st:?}");
        assert_eq!(*st.last().unwrap(), ends[s]);
    }
    assert!(steps.windows(2).all(|w| w[0][0] < w[1][0]), "{steps:?}");
    assert!(steps.iter().all(|st| st[0] < steps[2][1]), "{steps:?}");
}

#[test]
fn a_slow_token_engine_is_hidden_behind_the_other_sequences() {
    // A token engine slow enough to dominate: each layer-end top-k call costs about as much
    // as a layer of one sequence's heads. Back to back, every call stalls the next layer;
    // in a batch the engine runs one sequence's call while the others compute, so the batch
    // approaches its floor, the one engine's busy time (every sequence's calls, serially).
    let mut arch = arch();
    arch.topk_token.round_overhead_cycles = 3000;
    let batched = trace_of(&workload(3));
    let together = common::simulate_simple_both(&arch, &batched);
    let alone: Vec<_> = (0..3)
        .map(|s| common::simulate_simple(&arch, &sequence(&batched, s), true).unwrap())
        .collect();
    let serial: u64 = alone.iter().map(|s| s.cycles).sum();
    let engine: u64 = alone.iter().map(|s| s.topk.token_engine_cycles).sum();
    assert_eq!(together.topk.token_engine_cycles, engine);
    let compute = serial - engine;
    assert!(together.cycles >= engine);
    // Measured: 53,687 of the 114,422 cycles beside the engine overlap it (47 %); what
    // cannot is each sequence's first layer and the steps where the engine is the queue.
    assert!(
        serial - together.cycles > compute / 3,
        "batch {} vs back to back {serial}: less than a third of the {compute} cycles beside \
         the engine's {engine} overlapped it",
        together.cycles
    );
}

#[test]
fn grouped_heads_share_within_a_sequence_only() {
    let mut w = common::small_gqa(8, 2);
    w.stage.batch = 2;
    let batched = trace_of(&w);
    let arch = arch();
    let together = common::simulate_simple_both(&arch, &batched);
    let alone: Vec<_> = (0..2)
        .map(|s| common::simulate_simple(&arch, &sequence(&batched, s), true).unwrap())
        .collect();
    let bytes = |s: &spatten::hw::SimStats| s.dram.backend.bytes_read;
    assert_eq!(bytes(&together), alone.iter().map(bytes).sum::<u64>());
    let g = together.gqa.as_ref().unwrap();
    let sum = |f: fn(&spatten::hw::gqa::GqaStats) -> u64| -> u64 {
        alone.iter().map(|s| f(s.gqa.as_ref().unwrap())).sum()
    };
    // Groups are (iteration, layer, sequence, K/V head): a K/V head serves the query heads
    // of its own sequence, never another sequence's.
    assert_eq!(g.groups, sum(|g| g.groups));
    assert_eq!(
        g.key_msb_bytes_per_kv_head,
        sum(|g| g.key_msb_bytes_per_kv_head)
    );
    assert_eq!(g.key_msb_bytes_unshared, sum(|g| g.key_msb_bytes_unshared));
}

#[test]
fn batch_estimates_and_baselines_count_every_sequence() {
    let arch = arch();
    let supply = spatten::budget::ValueSupply::Synthetic;
    let one = spatten::budget::run_estimate(&arch, &workload(1), supply);
    let four = spatten::budget::run_estimate(&arch, &workload(4), supply);
    assert_eq!(four.work_macs, 4 * one.work_macs);
    assert!(four.memory_bytes() > one.memory_bytes());
    let p = spatten::baseline::Precision::Fp32;
    let ops = |w: &WorkloadConfig| -> u64 {
        spatten::baseline::attention_work(w, p)
            .iter()
            .flat_map(|s| &s.steps)
            .flat_map(|st| st.kernels.iter().map(move |k| k.ops * st.repeats))
            .sum()
    };
    assert_eq!(ops(&workload(4)), 4 * ops(&workload(1)));
    // Every modelled device runs the batch as batched kernels: more time than one sequence,
    // at most the sequences' time back to back (the launches are shared).
    let latency = |w: &WorkloadConfig| -> Vec<(String, f64)> {
        let (results, _) = spatten::baseline::roofline::model_presets(w, p).unwrap();
        results
            .iter()
            .map(|r| (r.device.clone(), r.stages.iter().map(|s| s.latency_s).sum()))
            .collect()
    };
    let (l1, l4) = (latency(&workload(1)), latency(&workload(4)));
    assert!(!l1.is_empty());
    for ((device, one), (_, four)) in l1.iter().zip(&l4) {
        assert!(*four > *one, "{device}: {four} vs {one}");
        assert!(
            *four <= 4.0 * one * (1.0 + 1e-12),
            "{device}: {four} vs {one}"
        );
    }
}

#[test]
fn bad_batches_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (value, says) in [("0", "stage.batch"), ("257", "stage.batch")] {
        let p = dir.path().join(format!("b{value}.toml"));
        std::fs::write(
            &p,
            format!("name = \"b\"\nbase = \"gpt2-small\"\n[stage]\nbatch = {value}\n"),
        )
        .unwrap();
        let (code, _, err) = common::spatten(&["run", "--workload", p.to_str().unwrap()]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(says), "{err}");
    }
    // A value file is one sequence: a batch needs synthetic values.
    let w = dir.path().join("b2.toml");
    std::fs::write(
        &w,
        "name = \"b2\"\nbase = \"bert-base\"\n[model]\nlayers = 1\n[stage]\nprompt_tokens = 16\nbatch = 2\n",
    )
    .unwrap();
    let v = dir.path().join("v.safetensors");
    let (code, _, err) = common::spatten(&[
        "trace",
        "synth",
        "--workload",
        "bert-base",
        "--out",
        v.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let out = dir.path().join("out");
    let (code, _, err) = common::spatten(&[
        "run",
        "--workload",
        w.to_str().unwrap(),
        "--values",
        v.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("stage.batch"), "{err}");
    assert!(!out.exists());
    let (code, _, err) = common::spatten(&[
        "compare",
        "--workload",
        w.to_str().unwrap(),
        "--policies",
        "spatten",
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("stage.batch"), "{err}");
}

#[test]
fn trace_reference_without_values_writes_the_trace_run_replays() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w.toml");
    std::fs::write(
        &w,
        "name = \"wb\"\nbase = \"gpt2-small\"\n[model]\nlayers = 2\n[stage]\nprompt_tokens = 64\ngenerated_tokens = 2\nbatch = 2\n",
    )
    .unwrap();
    let t = dir.path().join("t.trace");
    let ws = w.to_str().unwrap();
    let (code, _, err) = common::spatten(&[
        "trace",
        "reference",
        "--workload",
        ws,
        "--out",
        t.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let (_, info, _) = common::spatten(&["trace", "info", t.to_str().unwrap()]);
    assert!(
        info.contains("batch          2 independent sequences"),
        "{info}"
    );
    let run = |args: &[&str], out: &str| {
        let o = dir.path().join(out);
        let mut a = vec!["run", "--dram", "simple", "--out", o.to_str().unwrap()];
        a.extend_from_slice(args);
        let (code, stdout, err) = common::spatten(&a);
        assert_eq!(code, 0, "{err}");
        let stats: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(o.join("stats.json")).unwrap()).unwrap();
        (stats["cycles"].clone(), stdout)
    };
    let (from_workload, _) = run(&["--workload", ws], "a");
    let (from_trace, _) = run(&["--trace", t.to_str().unwrap(), "--workload", ws], "b");
    assert_eq!(from_workload, from_trace);
    let summary = std::fs::read_to_string(dir.path().join("a/summary.md")).unwrap();
    assert!(summary.contains("a batch of 2 sequences"), "{summary}");
    // The per-sequence table names the seed that runs sequence 1 alone.
    let seed1 = batch::sequence_seed(1, 1);
    assert!(summary.contains("## Sequences of the batch"), "{summary}");
    assert!(summary.contains(&format!("| 1 | {seed1} |")), "{summary}");
}
