//! Every design point the configuration accepts either is refused with a configuration error
//! before any work (exit 2, naming the key: on load or by `config::check_feasible`) or runs to
//! the end: never refused by the simulator after the reference ran, never a stall (watchdog)
//! or a broken internal invariant. One knob of the paper's design point at a time, at values far from its own
//! (tiny FIFOs, one lane, odd widths, small SRAMs), and some pairs of them, on small
//! workloads of every kind the pipeline has paths for: grouped K/V generation with progressive
//! quantization and local V pruning, tiled and untiled; summarization; KV policies (H2O,
//! and Quest's pages on multi-query attention). Each run
//! with fast-forward on and off must agree.

mod common;

use std::path::Path;

use spatten::config::{self, ArchConfig, ConfigKind, WorkloadConfig};
use spatten::dram::backend::{DramKind, make_dram};
use spatten::hw::{SimError, SimOptions, simulate};

use spatten::reference::run_workload;
use spatten::trace::{AttentionTrace, SynthKnobs, generate};

fn workload(text: &str) -> WorkloadConfig {
    config::load_from_str(text, Path::new("w.toml"), ConfigKind::Workload).unwrap()
}

/// Small workloads, each with its reference trace.
fn workloads() -> Vec<(WorkloadConfig, AttentionTrace)> {
    let texts = [
        // Summarization with head and token pruning.
        r#"
base = "bert-base"
name = "summ"
[model]
layers = 2
heads = 2
head_dim = 32
hidden = 64
[stage]
prompt_tokens = 48
"#,
        // A KV policy on GPT-2-shaped generation.
        r#"
base = "gpt2-small"
name = "h2o-gen"
[model]
layers = 2
heads = 2
hidden = 128
[stage]
prompt_tokens = 32
generated_tokens = 3
[policy]
kind = "h2o"
budget = 16
"#,
        // Quest's pages on multi-query attention, the prompt's cache taken as filled.
        r#"
base = "llama-3-8b"
name = "quest-mqa"
[model]
layers = 3
heads = 4
kv_heads = 1
head_dim = 16
hidden = 64
[stage]
kind = "generation"
prompt_tokens = 96
generated_tokens = 2
prefill = "cached"
[policy]
kind = "quest"
budget = 32
page_size = 8
dense_layers = 1
"#,
    ];
    // Grouped K/V generation, progressive, token pruning, local V (llama-3-8b's); and the
    // same with its prompt's cache taken as filled, so that small softmax buffers spill
    // (a prompt pass needs two query rows of exponentials).
    let mut cached = common::small_gqa(4, 2);
    cached.name = "gqa-cached".into();
    cached.stage.prefill = Some(config::workload::Prefill::Cached);
    [common::small_gqa(4, 2), cached]
        .into_iter()
        .chain(texts.iter().map(|t| workload(t)))
        .map(|w| {
            let values = generate(&w, &SynthKnobs::default(), w.seed);
            let trace = run_workload(&values, &w).unwrap();
            (w, trace)
        })
        .collect()
}

/// Single-knob changes of the `spatten` design point, as TOML tables.
const KNOBS: &[&str] = &[
    "[fetcher]\naddress_fifos = 1\ndata_fifos = 1",
    "[fetcher]\naddress_fifos = 3\ndata_fifos = 3",
    "[fetcher]\naddress_fifo_depth = 1",
    "[fetcher]\ndata_fifo_depth = 2",
    "[fetcher]\ntransaction_bytes = 16",
    "[fetcher]\naddresses_per_cycle = 1",
    "[fetcher]\nregion_offset_transactions = 5",
    "[fetcher]\nkv_page_tokens = 16",
    "[crossbar]\narbitration = \"round-robin\"\nrequests_per_channel_per_cycle = 3",
    "[crossbar]\nlatency_cycles = 0",
    "[bitwidth_converter]\ninput_bytes_per_cycle = 16\nlatency_cycles = 5",
    "[bitwidth_converter]\noutput_bits = 16\n[qk]\nmultiplier_bits = 16\n[pv]\nmultiplier_bits = 16",
    "[qk]\nmultipliers = 64",
    "[qk]\nmultipliers = 32",
    "[qk]\nmultipliers = 4096",
    "[qk]\nkey_sram_bytes = 240\ndouble_buffered = false",
    "[qk]\nkey_sram_bytes = 480\n[pv]\nvalue_sram_bytes = 480",
    "[qk]\nkey_sram_bytes = 720\ndouble_buffered = false\n[pv]\nvalue_sram_bytes = 720\ndouble_buffered = false",
    "[softmax]\nlanes = 1",
    "[softmax]\nlanes = 2\nfifo_depth = 16",
    "[softmax]\nscore_buffer_entries = 100",
    "[softmax]\nscore_buffer_entries = 10\noverflow = \"spill\"",
    "[softmax]\nscore_buffer_entries = 1\noverflow = \"spill\"\nspill_buffer_transactions = 1",
    "[softmax]\nscore_buffer_entries = 24\noverflow = \"spill\"\n[fetcher]\ntransaction_bytes = 4",
    "[softmax]\nscore_buffer_entries = 8\noverflow = \"spill\"\n[hbm]\nchannels = 1\nqueue_depth = 1",
    "[requant]\ntree_inputs = 1",
    "[topk_token]\ncomparators = 1\nfifo_depth = 2",
    "[topk_value]\ncomparators = 2\nfifo_depth = 8",
    "[pv]\nmultipliers = 64",
    "[pv]\nmultipliers = 32",
    "[importance]\nadders = 1",
    "[controller]\nbuffer_allocations = 1",
    "[controller]\nbuffer_allocations = 2\nqk_waits_for_requant = true\nlocal_v_waits_for_pv = true",
    "[controller]\ninterleave_group_tiles = true\n[qk]\nkey_sram_bytes = 480\n[pv]\nvalue_sram_bytes = 480",
    "[hbm]\nchannels = 1\nqueue_depth = 1",
    "[hbm]\nchannels = 2\nbank_queue_depth = 1\npage_policy = \"closed\"",
    "[hbm.timing]\ntrefi = 300\ntrfc = 200",
];

fn arch(knob: &str) -> Result<ArchConfig, String> {
    let text = format!("base = \"spatten\"\nname = \"knob\"\n{knob}\n");
    config::load_from_str(&text, Path::new("a.toml"), ConfigKind::Arch).map_err(|e| e.to_string())
}

fn run(
    a: &ArchConfig,
    t: &AttentionTrace,
    fast_forward: bool,
) -> Result<spatten::hw::SimStats, SimError> {
    // The command-level HBM model, so that the `[hbm]` knobs matter.
    let mut dram = make_dram(DramKind::Native, &a.hbm, a.fetcher.transaction_bytes).unwrap();
    let o = SimOptions {
        fast_forward,
        ..SimOptions::default()
    };
    simulate(a, t, dram.as_mut(), &o)
}

#[test]
fn every_accepted_design_point_runs_or_is_refused_with_its_key() {
    let loads = workloads();
    let (mut ran, mut refused, mut spilled) = (0, 0, 0);
    let mut broken = Vec::new();
    for knob in KNOBS {
        // A value the schema refuses is refused with its key, as it should be.
        let a = match arch(knob) {
            Ok(a) => a,
            Err(e) => {
                eprintln!("refused on load: {knob:?}: {e}");
                refused += 1;
                continue;
            }
        };
        // The knob as it is, and with SRAM banks of a few rows, so that every head streams
        // its K/V in tiles (single- and double-buffered, groups interleaved or not, banks smaller
        // than a beat and banks not a multiple of one).
        let mut variants = vec![("", a.clone())];
        for (name, bytes, double, interleave) in [
            (" + 720 B single-buffered banks", 720, false, false),
            // Banks a little over a QxK beat, not a multiple of it (37, 18, 9 rows for D = 16,
            // 32, 64 against beats of 32, 16, 8 keys).
            (" + 888 B single-buffered banks", 888, false, false),
            (
                " + 480 B double-buffered banks, interleaved",
                480,
                true,
                true,
            ),
        ] {
            let mut v = a.clone();
            v.qk.key_sram_bytes = bytes;
            v.pv.value_sram_bytes = bytes;
            v.qk.double_buffered = double;
            v.pv.double_buffered = double;
            v.controller.interleave_group_tiles |= interleave;
            variants.push((name, v));
        }
        for ((w, t), (variant, a)) in loads
            .iter()
            .flat_map(|l| variants.iter().map(move |v| (l, v)))
        {
            let what = format!("{} with {knob:?}{variant}", w.name);
            if let Err(e) = config::check_feasible(a, w) {
                eprintln!("refused up front: {what}: {e}");
                refused += 1;
                continue;
            }
            match run(a, t, true) {
                Ok(on) => {
                    let off = run(a, t, false).unwrap();
                    assert_eq!(on.cycles, off.cycles, "{what}");
                    assert_eq!(on.dram, off.dram, "{what}");
                    ran += 1;
                    spilled += (on.dram.score_spill.rows > 0) as u32;
                }
                // Refused only now, after the reference, or stalled: both are bugs.
                Err(e) => broken.push(format!("{what}: {e}")),
            }
        }
    }
    assert!(broken.is_empty(), "{}", broken.join("\n"));
    assert!(ran > 0 && refused > 0, "{ran} ran, {refused} refused");
    assert!(spilled >= 16, "{spilled} runs spilled exponentials");
}
