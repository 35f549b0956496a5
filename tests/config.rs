//! Configuration loading: presets, base layering, validation messages, and parser robustness.

use std::path::Path;

use proptest::prelude::*;
use spatten::config::{
    self, ArchConfig, ConfigKind, WorkloadConfig, load_arch, load_from_str, load_workload, presets,
};

#[test]
fn every_preset_loads_and_round_trips() {
    for (name, _) in presets::ARCH {
        let a = load_arch(name).unwrap();
        let text = config::to_toml(&a);
        let b: ArchConfig = load_from_str(&text, Path::new("rt.toml"), ConfigKind::Arch).unwrap();
        assert_eq!(a, b, "{name}");
        assert_eq!(text, config::to_toml(&b));
    }
    for (name, _) in presets::WORKLOAD {
        let a = load_workload(name).unwrap();
        let text = config::to_toml(&a);
        let b: WorkloadConfig =
            load_from_str(&text, Path::new("rt.toml"), ConfigKind::Workload).unwrap();
        assert_eq!(a, b, "{name}");
    }
}

#[test]
fn shipped_files_equal_embedded_presets() {
    let root = env!("CARGO_MANIFEST_DIR");
    for (name, text) in presets::ARCH {
        let on_disk = std::fs::read_to_string(format!("{root}/arch/{name}.toml")).unwrap();
        assert_eq!(&on_disk, text);
    }
    for (name, text) in presets::WORKLOAD {
        let on_disk = std::fs::read_to_string(format!("{root}/workloads/{name}.toml")).unwrap();
        assert_eq!(&on_disk, text);
    }
}

#[test]
fn spatten_1_8_overrides_only_what_it_says() {
    let full = load_arch("spatten").unwrap();
    let small = load_arch("spatten-1-8").unwrap();
    assert_eq!(small.qk.multipliers + small.pv.multipliers, 128);
    assert_eq!(small.hbm.channels, 2);
    assert!((small.hbm.total_bandwidth_gbps() - 64.0).abs() < 1e-9);
    assert!((full.hbm.total_bandwidth_gbps() - 512.0).abs() < 1e-9);
    // Softmax and top-k scale with the multipliers: one score per cycle at D = 64.
    assert_eq!(small.softmax.lanes, 1);
    assert_eq!(small.qk_scores_per_cycle(64), 1);
    assert_eq!(
        (small.topk_token.comparators, small.topk_value.comparators),
        (2, 2)
    );
    let same_latencies = |s: &spatten::config::arch::SoftmaxConfig| {
        (s.fifo_depth, s.exp_latency_cycles, s.divide_latency_cycles)
    };
    assert_eq!(
        same_latencies(&small.softmax),
        same_latencies(&full.softmax)
    );
    assert_eq!(small.qk.key_sram_bytes, full.qk.key_sram_bytes);
    assert_eq!(small.hbm.timing, full.hbm.timing);
    assert_eq!(small.base.as_deref(), Some("spatten"));
}

#[test]
fn paper_design_point_numbers() {
    let a = load_arch("spatten").unwrap();
    assert_eq!(a.qk_scores_per_cycle(64), 8);
    // 2 x 1024 keys x 64 dims x 12 bits.
    assert_eq!(a.qk.key_sram_bytes, 2 * 1024 * 64 * 12 / 8);
    assert_eq!(a.hbm.burst_bytes(), a.fetcher.transaction_bytes);
    let t = &a.hbm.timing;
    // Refresh-limited streaming efficiency from the DRAMsim3 / Ramulator 2.1 HBM2 configs and FGDRAM, O'Connor et al., MICRO 2017: 1 - 292 / 3900.
    let eff = 1.0 - (t.trtp + t.trp + t.trfc + t.trcd) as f64 / t.trefi as f64;
    assert!((eff - (1.0 - 292.0 / 3900.0)).abs() < 1e-12, "{eff}");
}

fn arch_err(text: &str) -> config::ConfigError {
    load_from_str::<ArchConfig>(text, Path::new("x.toml"), ConfigKind::Arch).unwrap_err()
}

fn workload_err(text: &str) -> config::ConfigError {
    load_from_str::<WorkloadConfig>(text, Path::new("w.toml"), ConfigKind::Workload).unwrap_err()
}

#[test]
fn errors_name_file_line_key_and_reason() {
    let e = arch_err("base = \"spatten\"\n\n[qk]\nmultipliers = 500\n");
    assert_eq!(
        e.to_string(),
        "x.toml:4: key `qk.multipliers`: must be a power of two (got 500)"
    );

    let e = arch_err("base = \"spatten\"\n[softmax]\nlanez = 8\n");
    assert_eq!(e.line, Some(3));
    assert_eq!(e.key.as_deref(), Some("softmax.lanez"));
    assert!(e.reason.contains("unknown field `lanez`"), "{}", e.reason);

    let e = arch_err("base = \"spatten\"\n[hbm.timing]\ntrefi = 100\n");
    assert_eq!(e.key.as_deref(), Some("hbm.timing.trefi"));
    assert_eq!(e.line, Some(3));

    let e = arch_err("base = \"spatten\"\n[qk]\nmultipliers = \"many\"\n");
    assert_eq!(e.key.as_deref(), Some("qk.multipliers"));
    assert!(e.reason.contains("invalid type"), "{}", e.reason);

    let e = arch_err("base = \"nope\"\n");
    assert_eq!(e.key.as_deref(), Some("base"));
    assert!(
        e.reason.contains("no such file and no architecture preset"),
        "{}",
        e.reason
    );

    let e = arch_err("[qk\n");
    assert_eq!(e.line, Some(1));
    assert!(e.reason.starts_with("invalid TOML"), "{}", e.reason);

    // A required key that is missing: no line to point at, but the key and reason are named.
    let e = arch_err("name = \"x\"\n");
    assert!(e.reason.contains("missing field"), "{}", e.reason);
}

#[test]
fn a_base_key_set_in_the_base_file_points_at_the_base() {
    let e = arch_err("base = \"spatten\"\nname = \"\"\n");
    assert_eq!(e.to_string(), "x.toml:2: key `name`: must not be empty");
}

#[test]
fn workload_validation() {
    let e = workload_err("base = \"gpt2-small\"\n[quant]\nmsb_bits = 10\n");
    assert_eq!(e.key.as_deref(), Some("quant.lsb_bits"));
    assert!(e.reason.contains("12-bit"), "{}", e.reason);

    let e = workload_err("base = \"gpt2-small\"\n[token_pruning]\naverage_ratio = 1.0\n");
    assert_eq!(e.key.as_deref(), Some("token_pruning.average_ratio"));

    let e = workload_err("base = \"gpt2-small\"\n[token_pruning]\nramp = 0.9\n");
    assert_eq!(e.key.as_deref(), Some("token_pruning.ramp"));

    let e = workload_err("base = \"bert-base\"\n[model]\nhidden = 100\n");
    assert_eq!(e.key.as_deref(), Some("model.hidden"));

    let e = workload_err("base = \"bert-base\"\n[stage]\ngenerated_tokens = 3\n");
    assert_eq!(e.key.as_deref(), Some("stage.generated_tokens"));

    let e = workload_err("base = \"gpt2-small\"\n[local_v]\nkeep_ratio = 0.0\n");
    assert_eq!(e.key.as_deref(), Some("local_v.keep_ratio"));

    // Regression: static 12 + 4 passed (the word check ran in progressive mode only).
    let e = workload_err(
        "base = \"bert-base\"\n[quant]\nmode = \"static\"\nmsb_bits = 12\nlsb_bits = 4\n",
    );
    assert_eq!(e.key.as_deref(), Some("quant.lsb_bits"));
    assert!(e.reason.contains("12-bit"), "{}", e.reason);
}

#[test]
fn a_local_v_batch_wider_than_the_softmax_fifos_is_refused() {
    // Regression: this passed `config check` and then deadlocked gpt2-small (watchdog).
    let e = arch_err(
        "base = \"spatten\"\n[softmax]\nfifo_depth = 16\n[topk_value]\ncomparators = 32\n",
    );
    assert_eq!(e.key.as_deref(), Some("topk_value.comparators"));
    assert_eq!(e.line, Some(5));
    assert!(e.reason.contains("softmax.fifo_depth = 16"), "{}", e.reason);
}

#[test]
fn producer_beats_wider_than_their_fifo_are_refused() {
    // Regression: each of these passed `config check` and then deadlocked (watchdog).
    let e = arch_err(
        "base = \"spatten\"\n[softmax]\nlanes = 16\nfifo_depth = 8\n[topk_value]\ncomparators = 8\n",
    );
    assert_eq!(e.key.as_deref(), Some("softmax.lanes"));
    assert!(e.reason.contains("softmax.fifo_depth = 8"), "{}", e.reason);
    let e = arch_err("base = \"spatten\"\n[topk_value]\ncomparators = 2\nfifo_depth = 4\n");
    assert_eq!(e.key.as_deref(), Some("topk_value.fifo_depth"));
    assert!(e.reason.contains("requant.tree_inputs = 8"), "{}", e.reason);
    // The boundary values pass: lanes equal to the depth, a top-k FIFO as deep as the beat.
    let ok = load_from_str::<ArchConfig>(
        "base = \"spatten\"\n[softmax]\nlanes = 16\nfifo_depth = 16\n[topk_value]\ncomparators = 8\nfifo_depth = 8\n[requant]\ntree_inputs = 8\n",
        Path::new("x.toml"),
        ConfigKind::Arch,
    )
    .unwrap();
    assert!(ok.fifo_beat_violations(Some(64)).is_empty());
    // spatten-1-8 (one softmax lane, two comparators) and the full design pass at D = 64.
    for name in ["spatten", "spatten-1-8"] {
        assert!(
            load_arch(name)
                .unwrap()
                .fifo_beat_violations(Some(64))
                .is_empty()
        );
    }
    // The QxK beat (multipliers / head_dim scores) depends on the trace's head_dim.
    let mut a = load_arch("spatten").unwrap();
    a.softmax.lanes = 4;
    a.softmax.fifo_depth = 4;
    a.topk_value.comparators = 4;
    assert!(a.fifo_beat_violations(None).is_empty());
    let v = a.fifo_beat_violations(Some(64));
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].0, "softmax.fifo_depth");
    assert!(v[0].1.contains("QxK beat of 8 scores"), "{}", v[0].1);
}

#[test]
fn base_chains_resolve_relative_paths_and_cycles_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.toml");
    let b = dir.path().join("b.toml");
    std::fs::write(&a, "base = \"b.toml\"\n[qk]\nmultipliers = 256\n").unwrap();
    std::fs::write(
        &b,
        "base = \"spatten\"\nname = \"b\"\n[hbm]\nchannels = 8\n",
    )
    .unwrap();
    let cfg = load_arch(a.to_str().unwrap()).unwrap();
    assert_eq!(
        (cfg.name.as_str(), cfg.qk.multipliers, cfg.hbm.channels),
        ("b", 256, 8)
    );

    std::fs::write(&b, "base = \"a.toml\"\n").unwrap();
    let e = load_arch(a.to_str().unwrap()).unwrap_err();
    assert!(e.reason.contains("a cycle?"), "{e}");
}

#[test]
fn pruning_schedule_interpolates_between_start_and_end() {
    let w = load_workload("gpt2-small").unwrap();
    let s = &w.token_pruning;
    let layers = w.model.layers;
    let first = s.unpruned_layers(layers);
    assert_eq!(first, 2); // ceil(0.15 x 12)
    assert_eq!(s.ratio_after_layer(0, layers), 0.0);
    assert_eq!(s.ratio_after_layer(1, layers), 0.0);
    assert!((s.ratio_after_layer(first, layers) - s.start_ratio()).abs() < 1e-12);
    assert!((s.ratio_after_layer(layers - 1, layers) - s.end_ratio()).abs() < 1e-12);
    let pruned: Vec<f64> = (first..layers)
        .map(|l| s.ratio_after_layer(l, layers))
        .collect();
    let mean = pruned.iter().sum::<f64>() / pruned.len() as f64;
    assert!((mean - s.average_ratio).abs() < 1e-12);
}

#[test]
fn pairs_are_checked() {
    let a = load_arch("spatten").unwrap();
    let mut w = load_workload("bert-base").unwrap();
    config::check_pair(&a, &w).unwrap();
    w.model.head_dim = 48;
    w.model.hidden = 48 * 12;
    let e = config::check_pair(&a, &w).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("qk.multipliers"));
}

#[test]
fn pair_errors_name_the_file_and_line_that_set_the_key() {
    // Regression: the error named the configuration (`spatten: key qk.multipliers`).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("my.toml");
    std::fs::write(&path, "base = \"spatten\"\n\n[qk]\nmultipliers = 32\n").unwrap();
    let a = load_arch(path.to_str().unwrap()).unwrap();
    let w = load_workload("bert-base").unwrap();
    let e = config::check_pair(&a, &w).unwrap_err();
    assert_eq!(e.file, path);
    assert_eq!(
        (e.line, e.key.as_deref()),
        (Some(4), Some("qk.multipliers"))
    );
    // pv.multipliers is inherited: the error points into the preset that sets it.
    let mut a = a;
    a.qk.multipliers = 512;
    a.pv.multipliers = 32;
    let e = config::check_pair(&a, &w).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("pv.multipliers"));
    assert_eq!(e.file, Path::new("<preset spatten>"));
}

#[test]
fn config_hash_is_stable_and_sensitive() {
    let a = load_arch("spatten").unwrap();
    let mut b = a.clone();
    assert_eq!(config::config_hash(&a), config::config_hash(&b));
    b.qk.multipliers = 256;
    assert_ne!(config::config_hash(&a), config::config_hash(&b));
    assert_eq!(config::config_hash(&a).len(), 16);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_text_gives_ok_or_a_typed_error(text in "\\PC{0,200}") {
        let _ = load_from_str::<ArchConfig>(&text, Path::new("p.toml"), ConfigKind::Arch);
        let _ = load_from_str::<WorkloadConfig>(&text, Path::new("p.toml"), ConfigKind::Workload);
    }

    #[test]
    fn any_bytes_give_ok_or_a_typed_error(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = load_from_str::<ArchConfig>(&text, Path::new("p.toml"), ConfigKind::Arch);
    }

    #[test]
    fn mutated_presets_give_ok_or_an_error_naming_a_line(
        line_pick in 0usize..200,
        value in prop_oneof![
            Just("0".to_string()), Just("-1".to_string()), Just("1e309".to_string()),
            Just("\"x\"".to_string()), Just("[]".to_string()), Just("nan".to_string()),
            (0u64..1u64 << 40).prop_map(|v| v.to_string()),
        ],
    ) {
        let text = presets::ARCH[0].1;
        let lines: Vec<&str> = text.lines().collect();
        let assigns: Vec<usize> =
            (0..lines.len()).filter(|&i| lines[i].contains(" = ") && !lines[i].starts_with('#')).collect();
        let target = assigns[line_pick % assigns.len()];
        let mut mutated: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        let key = lines[target].split(" = ").next().unwrap().to_string();
        mutated[target] = format!("{key} = {value}");
        let joined = mutated.join("\n");
        if let Err(e) = load_from_str::<ArchConfig>(&joined, Path::new("m.toml"), ConfigKind::Arch) {
            prop_assert!(!e.reason.is_empty());
            if e.key.is_some() {
                prop_assert!(e.line.is_some(), "{}", e);
            }
        }
    }
}

#[test]
fn interleaved_group_tiles_need_qk_to_run_on_past_requant() {
    let e = arch_err(
        "base = \"spatten\"\n[controller]\nqk_waits_for_requant = true\ninterleave_group_tiles = true\n",
    );
    assert_eq!(e.key.as_deref(), Some("controller.interleave_group_tiles"));
    assert!(
        e.reason.contains("qk_waits_for_requant = false"),
        "{}",
        e.reason
    );
}
