//! Request streams and a driver shared by the DRAM tests.
#![allow(dead_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spatten::config::HbmConfig;
use spatten::config::hbm::{PagePolicy, RefreshPolicy};
use spatten::dram::hbm::load_dram_preset;
use spatten::dram::{Dram, DramRequest, DramStats};

#[derive(Debug, Clone, Copy)]
pub struct Req {
    pub addr: u64,
    pub is_write: bool,
}

pub fn sequential(n: usize, bytes: u64) -> Vec<Req> {
    (0..n as u64)
        .map(|i| Req {
            addr: i * bytes,
            is_write: false,
        })
        .collect()
}

pub fn strided(n: usize, stride: u64) -> Vec<Req> {
    (0..n as u64)
        .map(|i| Req {
            addr: i * stride,
            is_write: false,
        })
        .collect()
}

/// Uniformly random `bytes`-aligned addresses below `span`, a `write_pct` % share writes.
pub fn random(n: usize, bytes: u64, span: u64, write_pct: u32, seed: u64) -> Vec<Req> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| Req {
            addr: rng.gen_range(0..span / bytes) * bytes,
            is_write: rng.gen_range(0..100) < write_pct,
        })
        .collect()
}

/// A SpAtten-like fetch stream (synthetic, not captured from a simulator run): for each of
/// `heads` head calls, the key vectors of the surviving tokens (a sorted random subset, as
/// cascade token pruning leaves them), then the value vectors of the locally kept tokens (a
/// sorted random subset of those), each vector `vector_bytes` long in a per-head K or V
/// region, fetched in `bytes`-sized requests.
pub fn spatten_like(
    heads: usize,
    tokens: u64,
    vector_bytes: u64,
    bytes: u64,
    seed: u64,
) -> Vec<Req> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let region = tokens * vector_bytes;
    let mut out = Vec::new();
    for h in 0..heads as u64 {
        let k_base = 2 * h * region;
        let v_base = k_base + region;
        let kept: Vec<u64> = (0..tokens).filter(|_| rng.gen_range(0..100) < 60).collect();
        for &t in &kept {
            for off in (0..vector_bytes).step_by(bytes as usize) {
                out.push(Req {
                    addr: k_base + t * vector_bytes + off,
                    is_write: false,
                });
            }
        }
        for &t in kept.iter().filter(|_| rng.gen_range(0..100) < 40) {
            for off in (0..vector_bytes).step_by(bytes as usize) {
                out.push(Req {
                    addr: v_base + t * vector_bytes + off,
                    is_write: false,
                });
            }
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// Cycle after the last completion.
    pub cycles: u64,
    pub stats: DramStats,
    /// (cycle in which it completed, id), in completion order.
    pub done: Vec<(u64, u64)>,
}

/// Issues `reqs` in order as fast as the DRAM accepts them (a refused request blocks the ones
/// behind it) and runs until all complete. `skip` jumps over idle cycles with `next_event`.
/// `gap` inserts that many idle cycles after every 64 requests, to exercise long idle periods.
pub fn drive(dram: &mut dyn Dram, reqs: &[Req], skip: bool, gap: u64) -> RunResult {
    let mut i = 0usize;
    let mut done_ids = Vec::new();
    let mut done = Vec::new();
    let mut resume_at = 0u64;
    while i < reqs.len() || dram.pending() > 0 {
        while i < reqs.len() && dram.cycle() >= resume_at {
            let r = reqs[i];
            if !dram.can_accept(r.addr, r.is_write) {
                break;
            }
            dram.enqueue(DramRequest {
                id: i as u64,
                addr: r.addr,
                is_write: r.is_write,
            })
            .expect("accepted");
            i += 1;
            if gap > 0 && i.is_multiple_of(64) {
                resume_at = dram.cycle() + gap;
                break;
            }
        }
        if skip {
            // Jump to the first cycle in which the DRAM or this driver can act (the DRAM acts in
            // the tick that `advance_to(next_event)` would run last), then go round again so that
            // requests due then are enqueued before that cycle's tick.
            let mut target = dram.next_event().map_or(u64::MAX, |c| c - 1);
            if i < reqs.len() {
                target = target.min(resume_at.max(dram.cycle()));
            }
            if target > dram.cycle() {
                done_ids.clear();
                dram.advance_to(target, &mut done_ids);
                assert!(done_ids.is_empty(), "advance_to passed a completion");
                continue;
            }
        }
        let c = dram.cycle();
        done_ids.clear();
        dram.tick(&mut done_ids);
        done.extend(done_ids.iter().map(|&id| (c, id)));
        assert!(dram.cycle() < 50_000_000, "runaway simulation");
    }
    RunResult {
        cycles: dram.cycle(),
        stats: dram.stats(),
        done,
    }
}

/// Turns a preset into per-bank refresh (tRFCb = tRFC / 2, tREFIb spread over the banks).
pub fn per_bank_refresh(h: &HbmConfig) -> HbmConfig {
    let mut pb = h.clone();
    pb.refresh = RefreshPolicy::PerBank;
    pb.timing.trfcb = Some(h.timing.trfc / 2);
    pb.timing.trefib = Some(h.timing.trefi / (h.banks() * h.ranks));
    pb
}

/// Every DRAM preset as shipped, with closed pages, and with per-bank refresh.
pub fn preset_variants() -> Vec<(String, HbmConfig)> {
    let mut out = Vec::new();
    for name in ["hbm2-2gbps", "hbm2-8gb-dramsim3", "ddr4-3200-x64"] {
        let h = load_dram_preset(name).unwrap();
        let mut closed = h.clone();
        closed.page_policy = PagePolicy::Closed;
        let pb = per_bank_refresh(&h);
        out.push((name.to_string(), h));
        out.push((format!("{name} closed-page"), closed));
        out.push((format!("{name} per-bank refresh"), pb));
    }
    out
}
