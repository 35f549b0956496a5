//! `spatten run` end to end on tiny shapes: the input is an architecture TOML; the workload is
//! a 3-layer, 4-head, 28-token generation, so every accepted design point simulates in
//! milliseconds. Tight memory and work limits stand in for the command line's.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use spatten::budget::{self, Limits};
use spatten::config::{self, ArchConfig, ConfigKind, WorkloadConfig};
use spatten::experiment::{DramKind, Experiment, Input};

const TINY: &str = "name = \"tiny\"\nbase = \"gpt2-small\"\nseed = 5\n[model]\nlayers = 3\n\
heads = 4\nhead_dim = 16\nhidden = 64\n[stage]\nprompt_tokens = 24\ngenerated_tokens = 4\n";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    budget::set_limits(Limits {
        max_memory_bytes: 1 << 30,
        max_work_macs: 200_000_000,
    });
    let Ok(arch) = config::load_from_str::<ArchConfig>(text, Path::new("fuzz.toml"), ConfigKind::Arch)
    else {
        return;
    };
    let tiny: WorkloadConfig =
        config::load_from_str(TINY, Path::new("tiny.toml"), ConfigKind::Workload).unwrap();
    let e = Experiment {
        name: "fuzz".into(),
        arch,
        workload: Some(tiny),
        input: Input::Synthetic,
        dram: DramKind::Native,
        timeline: false,
    };
    let _ = e.run();
});
