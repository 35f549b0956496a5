//! `spatten run` end to end: the report a user gets, determinism, and bad input.

mod common;

use common::spatten_in as spatten;

/// A small BERT-like workload so the test runs in a second even in debug builds.
const TINY: &str = r#"
base = "bert-base"
name = "tiny"
[model]
layers = 3
heads = 4
hidden = 256
[stage]
prompt_tokens = 48
"#;

const TINY_GEN: &str = r#"
base = "gpt2-small"
name = "tiny-gen"
[model]
layers = 3
heads = 4
hidden = 256
[stage]
prompt_tokens = 40
generated_tokens = 3
"#;

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tiny.toml"), TINY).unwrap();
    std::fs::write(dir.path().join("tiny-gen.toml"), TINY_GEN).unwrap();
    dir
}

#[test]
fn run_writes_a_complete_report() {
    let dir = setup();
    let (code, out, err) = spatten(
        &[
            "run",
            "--workload",
            "tiny-gen.toml",
            "--out",
            "r",
            "--timeline",
            "--quiet",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("r/summary.md"), "{out}");
    let r = dir.path().join("r");
    for f in [
        "summary.md",
        "stats.json",
        "baselines.csv",
        "energy.csv",
        "modules.csv",
        "traffic.csv",
        "timeline.json",
    ] {
        assert!(r.join(f).is_file(), "{f} missing");
    }
    for fig in [
        "speedup",
        "energy_saving",
        "energy_by_module",
        "energy_by_cause",
        "traffic_breakdown",
        "utilisation",
        "roofline",
    ] {
        assert!(
            r.join("figures").join(format!("{fig}.png")).is_file(),
            "{fig}.png missing"
        );
        assert!(
            r.join("figures").join(format!("{fig}.svg")).is_file(),
            "{fig}.svg missing"
        );
    }
    let text = std::fs::read_to_string(r.join("stats.json")).unwrap();
    let stats: serde_json::Value = serde_json::from_str(&text).unwrap();
    // Flattened sections must not repeat a key (JSON readers would keep only one).
    let top_keys: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  \"") && !l.starts_with("   "))
        .filter_map(|l| l.trim().strip_prefix('"')?.split('"').next())
        .collect();
    let mut unique = top_keys.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique.len(),
        top_keys.len(),
        "duplicate top-level keys in stats.json"
    );
    assert_eq!(stats["dram_model"], "native");
    for key in [
        "cycles",
        "seconds",
        "ops",
        "gops",
        "effective_ops",
        "effective_gops",
        "lsb_refetches",
        "seed",
        "arch_hash",
        "workload_hash",
    ] {
        assert!(stats.get(key).is_some(), "stats.json lacks {key}");
    }
    assert!(stats["dram"]["bytes_read"].as_u64().unwrap() > 0);
    for t in ["q", "k_msb", "k_lsb", "v_msb", "v_lsb"] {
        assert!(
            stats["dram"]["bytes_by_tensor"].get(t).is_some(),
            "bytes_by_tensor.{t}"
        );
    }
    assert!(stats["modules"]["qk"]["busy_cycles"].as_u64().unwrap() > 0);
    assert!(stats["topk"]["cycles"].as_u64().is_some());
    // The numbers the summary prints are the ones in stats.json.
    let summary = std::fs::read_to_string(r.join("summary.md")).unwrap();
    assert!(
        summary.contains(&format!("| cycles | {} |", stats["cycles"])),
        "{summary}"
    );
    let seconds = stats["seconds"].as_f64().unwrap();
    let cycles = stats["cycles"].as_f64().unwrap();
    assert!((seconds - cycles / 1e9).abs() < 1e-15);
    let energy = stats["energy"]["total_j"].as_f64().unwrap();
    let power = stats["energy"]["average_power_w"].as_f64().unwrap();
    assert!((power * seconds - energy).abs() / energy < 1e-12);
}

#[test]
fn same_inputs_give_identical_bytes() {
    let dir = setup();
    for out in ["a", "b"] {
        let (code, _, err) = spatten(
            &["run", "--workload", "tiny.toml", "--out", out, "--quiet"],
            dir.path(),
        );
        assert_eq!(code, 0, "{err}");
    }
    for f in [
        "stats.json",
        "summary.md",
        "baselines.csv",
        "figures/speedup.png",
        "figures/roofline.svg",
        "figures/utilisation.png",
    ] {
        let a = std::fs::read(dir.path().join("a").join(f)).unwrap();
        let b = std::fs::read(dir.path().join("b").join(f)).unwrap();
        assert!(a == b, "{f} differs between identical runs");
    }
}

#[test]
fn bad_input_exits_2_and_leaves_no_report() {
    let dir = setup();
    std::fs::write(
        dir.path().join("bad.toml"),
        "base = \"bert-base\"\n[quant]\nmsb_bits = 5\n",
    )
    .unwrap();
    let (code, _, err) = spatten(&["run", "--workload", "bad.toml", "--out", "r"], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("bad.toml:3: key `quant.msb_bits`"), "{err}");
    assert!(!dir.path().join("r").exists());

    std::fs::write(dir.path().join("junk.trace"), b"not a trace").unwrap();
    let (code, _, err) = spatten(
        &["run", "--trace", "junk.trace", "--out", "r", "--quiet"],
        dir.path(),
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("junk.trace"), "{err}");
    assert!(!dir.path().join("r").exists());

    let (code, _, err) = spatten(&["run", "--out", "r"], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("--workload"), "{err}");

    let (code, _, err) = spatten(
        &[
            "run",
            "--workload",
            "tiny.toml",
            "--values",
            "missing.safetensors",
            "--out",
            "r",
        ],
        dir.path(),
    );
    assert_eq!(code, 2);
    assert!(err.contains("missing.safetensors"), "{err}");
    assert!(!dir.path().join("r").exists());
}

#[test]
fn measured_baselines_join_the_report_and_must_match_the_shape() {
    let dir = setup();
    let (code, _, err) = spatten(
        &[
            "baseline",
            "measure-cpu",
            "--workload",
            "tiny.toml",
            "--repeats",
            "3",
            "--warmup",
            "1",
            "--out",
            "cpu.json",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = spatten(
        &[
            "run",
            "--workload",
            "tiny.toml",
            "--baseline",
            "cpu.json",
            "--out",
            "r",
            "--quiet",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let summary = std::fs::read_to_string(dir.path().join("r/summary.md")).unwrap();
    assert!(
        summary.lines().any(|l| l.contains("| measured |")),
        "{summary}"
    );
    let (code, _, err) = spatten(
        &[
            "run",
            "--workload",
            "tiny-gen.toml",
            "--baseline",
            "cpu.json",
            "--out",
            "r2",
            "--quiet",
        ],
        dir.path(),
    );
    assert_eq!(code, 2);
    assert!(err.contains("cpu.json: baseline measured tiny"), "{err}");
    assert!(!dir.path().join("r2").exists());
}

#[test]
fn plot_overlays_saved_reports() {
    let dir = setup();
    for (w, out) in [("tiny.toml", "a"), ("tiny-gen.toml", "b")] {
        let (code, _, err) = spatten(
            &["run", "--workload", w, "--out", out, "--quiet"],
            dir.path(),
        );
        assert_eq!(code, 0, "{err}");
    }
    let (code, out, err) = spatten(&["plot", "a", "b", "--out", "ov"], dir.path());
    assert_eq!(code, 0, "{err}");
    for fig in [
        "throughput",
        "efficiency",
        "energy",
        "traffic",
        "speedup",
        "energy_saving",
    ] {
        assert!(out.contains(&format!("ov/{fig}.png")), "{out}");
        assert!(dir.path().join("ov").join(format!("{fig}.svg")).is_file());
    }
    let first = std::fs::read(dir.path().join("ov/speedup.png")).unwrap();
    let (code, _, _) = spatten(&["plot", "a", "b", "--out", "ov"], dir.path());
    assert_eq!(code, 0);
    assert!(first == std::fs::read(dir.path().join("ov/speedup.png")).unwrap());
    let (code, _, err) = spatten(&["plot", "a", "nowhere"], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("nowhere/stats.json"), "{err}");
}
