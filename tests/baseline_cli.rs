//! `spatten baseline` end to end: list, show, model -> read, measure-cpu on a small workload,
//! and bad input exiting 2 with a message naming the problem.

mod common;

use common::spatten;

use spatten::baseline::result::BaselineResult;
use spatten::baseline::{Precision, Provenance, StageKindLabel, attention_work};
use spatten::config::load_workload;

#[test]
fn list_and_show() {
    let (code, out, _) = spatten(&["baseline", "list"]);
    assert_eq!(code, 0);
    for name in [
        "titan-xp",
        "xeon-e5-2640-v4",
        "jetson-nano",
        "raspberry-pi-4",
        "a100",
        "h100",
        "generic-host",
        "a3",
        "mnnfast",
    ] {
        assert!(out.contains(name), "{name} missing from:\n{out}");
    }
    let (code, out, _) = spatten(&["baseline", "show", "raspberry-pi-4"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("source = ") && out.contains("# dynamic power: 3.700 W"),
        "{out}"
    );
}

#[test]
fn model_then_read() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("a3.json");
    let (code, out, err) = spatten(&[
        "baseline",
        "model",
        "--device",
        "a3",
        "--workload",
        "bert-base",
        "--out",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("modelled") && out.contains("221.00 GOP/s"),
        "{out}"
    );
    let (code, out, err) = spatten(&["baseline", "read", f.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("a3 (accelerator, modelled)"), "{out}");
}

#[test]
fn model_all_writes_results_and_figures() {
    let dir = tempfile::tempdir().unwrap();
    let (res, fig) = (dir.path().join("res"), dir.path().join("fig"));
    let (code, out, err) = spatten(&[
        "baseline",
        "model",
        "--device",
        "all",
        "--workload",
        "gpt2-small",
        "--out",
        res.to_str().unwrap(),
        "--figures",
        fig.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("wrote 9 result files"), "{out}");
    for name in ["titan-xp", "a3", "generic-host"] {
        let r = BaselineResult::read(&res.join(format!("{name}.json"))).unwrap();
        assert_eq!(r.provenance, Provenance::Modelled);
    }
    for f in ["gpt2-small-baseline-latency", "gpt2-small-baseline-energy"] {
        assert!(
            fig.join(format!("{f}.svg")).is_file() && fig.join(format!("{f}.png")).is_file(),
            "{f}"
        );
    }
    // A second process draws the same bytes.
    let fig2 = dir.path().join("fig2");
    let (code, _, err) = spatten(&[
        "baseline",
        "model",
        "--device",
        "all",
        "--workload",
        "gpt2-small",
        "--figures",
        fig2.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    for f in [
        "gpt2-small-baseline-latency.png",
        "gpt2-small-baseline-energy.svg",
    ] {
        assert!(
            std::fs::read(fig.join(f)).unwrap() == std::fs::read(fig2.join(f)).unwrap(),
            "{f} differs between processes"
        );
    }
    let (code, _, err) = spatten(&[
        "baseline",
        "model",
        "--device",
        "a3",
        "--workload",
        "bert-base",
        "--figures",
        fig.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--figures needs --device all"), "{err}");
}

#[test]
fn measure_cpu_on_a_small_workload() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("tiny.toml");
    std::fs::write(
        &w,
        "base = \"gpt2-small\"\nname = \"tiny\"\n[model]\nlayers = 2\nheads = 2\nhidden = 128\n[stage]\nprompt_tokens = 24\ngenerated_tokens = 3\n",
    )
    .unwrap();
    let f = dir.path().join("cpu.json");
    let (code, out, err) = spatten(&[
        "baseline",
        "measure-cpu",
        "--workload",
        w.to_str().unwrap(),
        "--repeats",
        "7",
        "--warmup",
        "1",
        "--threads",
        "2",
        "--out",
        f.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("host-cpu (cpu, measured)"), "{out}");
    let r = BaselineResult::read(&f).unwrap();
    assert_eq!(r.provenance, Provenance::Measured);
    let work = attention_work(
        &load_workload(w.to_str().unwrap()).unwrap(),
        Precision::Fp32,
    );
    assert_eq!(r.stages.len(), 2);
    for (s, want) in r.stages.iter().zip(&work) {
        assert_eq!(s.ops, want.ops());
        let t = s.timing.as_ref().unwrap();
        assert_eq!((t.runs, t.warmup, t.threads), (7, 1, Some(2)));
        assert_eq!(s.latency_s, t.median_s);
        assert!(t.min_s <= t.median_s && t.median_s <= t.max_s);
        // Energy = power x median latency, whichever way the power was obtained.
        assert!((s.energy_j - s.power_w * s.latency_s).abs() <= 1e-12 * s.energy_j.max(1.0));
    }
    assert!(r.stage(StageKindLabel::Generation).is_some());
    assert!(
        r.energy_method.contains("RAPL") || r.energy_method.contains("generic-host"),
        "{}",
        r.energy_method
    );
}

#[test]
fn bad_input_exits_2_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"b\"\ndescription = \"d\"\nkind = \"accelerator\"\n[published]\nthroughput_gops = { value = -1.0, source = \"x\" }\nenergy_efficiency_gops_per_j = { value = 1.0, source = \"x\" }\n").unwrap();
    let (code, _, err) = spatten(&["baseline", "show", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "bad.toml:5: key `published.throughput_gops.value`: must be a finite number > 0"
        ),
        "{err}"
    );
    let (code, _, err) = spatten(&[
        "baseline",
        "model",
        "--device",
        "titan-xp",
        "--workload",
        "bert-base",
        "--precision",
        "fp16",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("no fp16 peak"), "{err}");
    let (code, _, err) = spatten(&[
        "baseline",
        "measure-cpu",
        "--workload",
        "bert-base",
        "--host-profile",
        "a3",
    ]);
    if !std::path::Path::new(spatten::baseline::rapl::DEFAULT_DOMAIN).exists() {
        assert_eq!(code, 2);
        assert!(err.contains("not a CPU profile"), "{err}");
    }
    let (code, _, err) = spatten(&[
        "baseline",
        "read",
        dir.path().join("none.json").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("none.json"), "{err}");
}
