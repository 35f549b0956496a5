//! The controller's pipeline mechanisms (`[controller]`): the SRAM buffer ring, QxK running on
//! past a pending requant decision (LSB pass re-injected, order restored by the requant
//! unit's reorder buffer), and the local-V engine freed from ProbxV by a kept-probability
//! buffer. Each is exact against stepping every cycle, does the same work as today's
//! setting, and is held to a closed-form bound.

use spatten::config::{self, ArchConfig};
use spatten::dram::backend::{DramKind, make_dram};
use spatten::dram::simple::SimpleDram;
use spatten::hw::topk::topk_call_cycles;
use spatten::hw::{SimOptions, SimStats, dense_trace, simulate};
use spatten::trace::attention::{AttentionTrace, TopkCall, TopkPurpose};

fn arch() -> ArchConfig {
    config::load_arch("spatten").unwrap()
}

fn with(ring: u32, waits_for_requant: bool, local_v_waits: bool) -> ArchConfig {
    let mut a = arch();
    a.controller.buffer_allocations = ring;
    a.controller.qk_waits_for_requant = waits_for_requant;
    a.controller.local_v_waits_for_pv = local_v_waits;
    a
}

fn run(a: &ArchConfig, t: &AttentionTrace) -> SimStats {
    let mut dram = SimpleDram::from_config(&a.hbm, a.fetcher.transaction_bytes);
    simulate(a, t, &mut dram, &SimOptions::default()).unwrap()
}

/// Generation heads of a small GPT-2 (`layers` x `heads`, `prompt` tokens, `steps` steps).
fn generation(layers: u32, heads: u32, prompt: u32, steps: u32) -> AttentionTrace {
    let mut w = config::load_workload("gpt2-small").unwrap();
    w.model.layers = layers;
    w.model.heads = heads;
    w.stage.prompt_tokens = prompt;
    w.stage.generated_tokens = steps;
    let mut t = dense_trace(&w);
    t.head_calls.retain(|c| c.iteration > 0);
    t.layers.retain(|r| r.iteration > 0);
    t
}

/// Makes every `refetch_every`-th head refetch its LSBs (4 bits) and every
/// `local_v_every`-th prune V locally to a third of its keys (0: none).
fn mix(mut t: AttentionTrace, refetch_every: usize, local_v_every: usize) -> AttentionTrace {
    for (i, c) in t.head_calls.iter_mut().enumerate() {
        c.key_msb_bits = 8;
        c.value_msb_bits = 8;
        c.lsb_bits = 4;
        c.lsb_refetch = refetch_every > 0 && i % refetch_every == refetch_every - 1;
        if local_v_every > 0 && i % local_v_every == 0 {
            let n = c.keys.len() as u32;
            c.values = c.keys.iter().copied().step_by(3).collect();
            c.value_topk = Some(t.topk_calls.len() as u32);
            t.topk_calls.push(TopkCall {
                purpose: TopkPurpose::LocalValue,
                n,
                k: c.values.len() as u32,
                rounds: vec![n, n / 2, n / 5],
                stages: Vec::new(),
            });
        }
    }
    t
}

fn same_work(a: &SimStats, b: &SimStats) {
    assert_eq!(a.dram.bytes_read, b.dram.bytes_read);
    assert_eq!(a.qk_macs, b.qk_macs);
    assert_eq!(a.pv_macs, b.pv_macs);
    assert_eq!(a.scores, b.scores);
    assert_eq!(a.probabilities, b.probabilities);
    assert_eq!(a.importance_additions, b.importance_additions);
    assert_eq!(a.lsb_refetches, b.lsb_refetches);
    assert_eq!(a.topk.comparisons, b.topk.comparisons);
}

/// Each mechanism alone and all together: fast-forward on and off give the same bytes, over
/// both DRAM models, and the work done is today's.
#[test]
fn each_mechanism_is_exact_against_stepping() {
    let variants = [
        ("ring 16", with(16, true, true)),
        ("ring 3", with(3, true, true)),
        ("no requant wait", with(2, false, true)),
        ("free local-V engine", with(2, true, false)),
        ("all, as the RTL", with(16, false, false)),
        ("all, staggered regions", {
            let mut a = with(16, false, false);
            a.fetcher.region_offset_transactions = 7;
            a
        }),
    ];
    let traces = [
        mix(generation(2, 3, 70, 3), 3, 2),
        mix(generation(1, 4, 200, 2), 2, 3),
        mix(generation(2, 2, 40, 2), 1, 0),
    ];
    for (i, t) in traces.iter().enumerate() {
        let today = run(&with(2, true, true), t);
        for (name, a) in &variants {
            for kind in [DramKind::Simple, DramKind::Native] {
                let go = |fast_forward| {
                    let mut dram = make_dram(kind, &a.hbm, a.fetcher.transaction_bytes).unwrap();
                    let o = SimOptions {
                        fast_forward,
                        timeline: true,
                        ..SimOptions::default()
                    };
                    simulate(a, t, dram.as_mut(), &o).unwrap()
                };
                let on = go(true);
                let off = go(false);
                assert!(
                    serde_json::to_string(&on).unwrap() == serde_json::to_string(&off).unwrap(),
                    "{name}, trace {i}, {kind}"
                );
                if kind == DramKind::Simple {
                    same_work(&on, &today);
                }
            }
        }
    }
}

/// Cycles from a head's QxK start to the earliest end of its softmax: the QxK pipeline, the
/// softmax row sum and the softmax output stage.
fn pipeline_latency(a: &ArchConfig) -> u64 {
    let qk = (a.qk.broadcast_latency_cycles + a.qk.multiply_latency_cycles + 6) as u64;
    let s = &a.softmax;
    let softmax = (s.dequant_latency_cycles
        + s.exp_latency_cycles
        + s.accumulate_latency_cycles
        + s.divide_latency_cycles
        + s.quantize_latency_cycles) as u64;
    qk + softmax
}

/// DRAM cycles to a head's first K row after its opening (tRCD + CL), in core cycles.
fn dram_latency(a: &ArchConfig) -> u64 {
    ((a.hbm.timing.trcd + a.hbm.timing.cl) as f64 * a.hbm.tck_ns / a.cycle_ns()) as u64
}

/// Cycles from a head's opening to the earliest end of its QxK + softmax.
fn head_latency(a: &ArchConfig) -> u64 {
    dram_latency(a) + pipeline_latency(a)
}

/// With at most N heads open and heads closing in order, head i + N opens after head i
/// closes, so H heads take at least ceil(H / N) head latencies. The ring of 16 beats the
/// two-bank bound, so more than two heads do overlap.
#[test]
fn ring_obeys_the_open_heads_bound() {
    // 48 short generation heads: latency-bound with two banks.
    let t = generation(1, 12, 60, 4);
    let h = t.head_calls.len() as u64;
    let lat = head_latency(&arch());
    assert_eq!(
        arch().controller.buffer_allocations,
        16,
        "the RTL's ring is the default"
    );
    let mut last = u64::MAX;
    for n in [1u32, 2, 4, 16] {
        let s = run(&with(n, true, true), &t);
        let bound = h.div_ceil(n as u64) * lat;
        assert!(s.cycles >= bound, "ring {n}: {} < {bound}", s.cycles);
        assert!(s.cycles <= last, "ring {n}: {} > {last}", s.cycles);
        last = s.cycles;
        if n == 16 {
            let two = h.div_ceil(2) * lat;
            assert!(s.cycles < two, "ring 16: {} not below {two}", s.cycles);
        }
    }
    // With two allocations the ring is the two fixed banks exactly (the default, whose
    // goldens did not move); a ring of 1 is the single-buffered controller.
    let mut single = arch();
    single.qk.double_buffered = false;
    single.pv.double_buffered = false;
    let mut ring_single = with(16, true, true);
    ring_single.qk.double_buffered = false;
    ring_single.pv.double_buffered = false;
    assert_eq!(run(&single, &t).cycles, run(&ring_single, &t).cycles);
}

/// With the wait, each head's QxK starts after the previous head's decision, at least its
/// QxK beats, the pipeline and the max tree after that head's QxK started: a serial chain
/// (behind the first head's DRAM latency). Without it the run beats that chain, and still
/// does every pass (each refetched head's twice).
#[test]
fn qk_without_the_requant_wait_breaks_the_serial_chain() {
    let t = mix(generation(1, 12, 100, 4), 2, 0);
    let a = with(2, true, true);
    let per = a.qk_scores_per_cycle(64) as u64;
    let tree = a.requant.tree_latency_cycles as u64;
    let chain: u64 = dram_latency(&a)
        + t.head_calls
            .iter()
            .map(|c| (c.keys.len() as u64).div_ceil(per) + pipeline_latency(&a) + tree)
            .sum::<u64>();
    let waits = run(&a, &t);
    assert!(waits.cycles >= chain, "{} < {chain}", waits.cycles);
    let free = run(&with(16, false, true), &t);
    same_work(&free, &waits);
    assert!(free.cycles < chain, "{} not below {chain}", free.cycles);
    let qk_beats: u64 = t
        .head_calls
        .iter()
        .map(|c| (c.keys.len() as u64).div_ceil(per) * (1 + c.lsb_refetch as u64))
        .sum();
    assert!(free.cycles >= qk_beats);
}

/// Freed from ProbxV, the local-V engine still spends at least its calls' closed-form cycles,
/// does the same comparisons, and the run is no slower; a kept set longer than the ProbxV
/// FIFO completes through the buffer.
#[test]
fn local_v_engine_freed_from_probxv() {
    let t = mix(generation(2, 6, 300, 2), 0, 1);
    let a = with(2, true, true);
    let waits = run(&a, &t);
    let free = run(&with(2, true, false), &t);
    same_work(&free, &waits);
    let engine: u64 = t
        .topk_calls
        .iter()
        .filter(|c| c.purpose == TopkPurpose::LocalValue)
        .map(|c| topk_call_cycles(c, &a.topk_value))
        .sum();
    assert!(free.topk.value_engine_cycles >= engine);
    assert!(
        free.cycles <= waits.cycles,
        "{} > {}",
        free.cycles,
        waits.cycles
    );
    // Kept rows (100 of 300) are fewer than the FIFO here; make them longer than it.
    let long = mix(generation(1, 2, 900, 1), 0, 1);
    assert!(long.head_calls[0].values.len() as u32 > a.softmax.fifo_depth);
    let s = run(&with(16, false, false), &long);
    let kept: u64 = long.head_calls.iter().map(|c| c.values.len() as u64).sum();
    assert_eq!(s.pv_macs, kept * 64);
}
