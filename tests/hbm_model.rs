//! The native DRAM model against its own closed forms: unloaded latency, refresh-limited
//! streaming bandwidth, the activation-rate bound of random gathers, exact idle skipping,
//! and presets / address mapping.

mod hbm_common;

use hbm_common::{Req, drive, random, sequential, strided};
use spatten::config::HbmConfig;
use spatten::dram::hbm::{HbmDram, load_dram_preset};
use spatten::dram::{Dram, DramRequest};

fn preset(name: &str) -> HbmConfig {
    load_dram_preset(name).unwrap_or_else(|e| panic!("{e}"))
}

/// Latency of one request issued into an otherwise idle model at its current cycle.
fn one_latency(d: &mut HbmDram, addr: u64) -> u64 {
    let before = d.stats().total_latency_cycles;
    d.enqueue(DramRequest {
        id: addr,
        addr,
        is_write: false,
    })
    .unwrap();
    let mut done = Vec::new();
    while done.is_empty() {
        d.tick(&mut done);
    }
    d.stats().total_latency_cycles - before
}

fn idle(d: &mut HbmDram, cycles: u64) {
    let mut done = Vec::new();
    let to = d.cycle() + cycles;
    d.advance_to(to, &mut done);
    assert!(done.is_empty());
}

#[test]
fn unloaded_latency_matches_closed_form() {
    for name in ["hbm2-2gbps", "hbm2-8gb-dramsim3", "ddr4-3200-x64"] {
        let h = preset(name);
        let t = &h.timing;
        let bc = h.burst_cycles() as u64;
        let burst = h.burst_bytes() as u64;
        let mut d = HbmDram::new(&h, h.burst_bytes()).unwrap();
        let m = d.mapping().clone();
        let a0 = 0u64;
        // Same channel/bank/row, next column: find it by decoding, not by assuming the layout.
        let hit = (1..4096u64)
            .map(|k| k * burst)
            .find(|&a| {
                let (l, l0) = (m.locate(a), m.locate(a0));
                l.channel == l0.channel
                    && l.rank == l0.rank
                    && l.bank_group == l0.bank_group
                    && l.bank == l0.bank
                    && l.row == l0.row
            })
            .expect("a second column in the row");
        let conflict = (1..1u64 << 20)
            .map(|k| k << 12)
            .find(|&a| {
                let (l, l0) = (m.locate(a), m.locate(a0));
                l.channel == l0.channel
                    && l.rank == l0.rank
                    && l.bank_group == l0.bank_group
                    && l.bank == l0.bank
                    && l.row != l0.row
            })
            .expect("another row of the bank");
        // Pipeline: one cycle from the request queue to the bank queue (see dram::hbm docs).
        let pipe = 1;
        let miss = one_latency(&mut d, a0);
        assert_eq!(
            miss,
            pipe + (t.trcd + t.cl) as u64 + bc,
            "{name}: row miss on an idle bank"
        );
        idle(&mut d, 100);
        let h1 = one_latency(&mut d, hit);
        assert_eq!(h1, pipe + t.cl as u64 + bc, "{name}: row hit");
        idle(&mut d, 100);
        let c = one_latency(&mut d, conflict);
        assert_eq!(
            c,
            pipe + (t.trp + t.trcd + t.cl) as u64 + bc,
            "{name}: row conflict"
        );
        let s = d.stats();
        assert_eq!(
            (s.row_misses, s.row_hits, s.row_conflicts),
            (1, 1, 1),
            "{name}"
        );
        assert_eq!((s.activations, s.precharges, s.reads), (2, 1, 3), "{name}");
    }
}

/// Peak bytes per memory cycle of the whole device.
fn peak_bytes_per_cycle(h: &HbmConfig) -> f64 {
    h.channels as f64 * h.bus_bits as f64 / 8.0 * 2.0
}

fn refresh_factor(h: &HbmConfig) -> f64 {
    let t = &h.timing;
    1.0 - (t.trtp + t.trp + t.trfc + t.trcd) as f64 / t.trefi as f64
}

fn streaming_efficiency(h: &HbmConfig, n: usize) -> f64 {
    let mut d = HbmDram::new(h, h.burst_bytes()).unwrap();
    let r = drive(&mut d, &sequential(n, h.burst_bytes() as u64), true, 0);
    assert_eq!(r.stats.reads as usize, n);
    r.stats.bytes_read as f64 / (r.cycles as f64 * peak_bytes_per_cycle(h))
}

#[test]
fn streaming_reads_reach_the_refresh_limited_peak() {
    // BL4 (2-cycle bursts >= tCCD_L): sequential reads can use every data-bus cycle. The run
    // spans more than ten refresh intervals.
    let h = preset("hbm2-8gb-dramsim3");
    let eff = streaming_efficiency(&h, 160_000);
    let bound = refresh_factor(&h);
    assert!(
        eff >= 0.95 * bound,
        "efficiency {eff:.4} < 0.95 x {bound:.4}"
    );
    assert!(eff <= 1.0);

    // The SpAtten preset (BL2) with bank groups interleaved below the column: consecutive
    // bursts of a channel alternate bank groups, so tCCD_S = 1 allows every cycle.
    let h = preset("hbm2-2gbps");
    assert_eq!(h.address_mapping, "rorabacobgch");
    let eff = streaming_efficiency(&h, 320_000);
    let bound = refresh_factor(&h);
    assert!(
        eff >= 0.95 * bound,
        "interleaved BL2: efficiency {eff:.4} < 0.95 x {bound:.4}"
    );

    // With `rorabgbacoch` a channel's consecutive bursts stay in one bank group for 4 KB
    // (tCCD_L = 2 cycles apart for BL2); only the deep queues let bank groups overlap.
    let mut h = preset("hbm2-2gbps");
    h.address_mapping = "rorabgbacoch".into();
    let eff = streaming_efficiency(&h, 160_000);
    assert!(
        eff <= refresh_factor(&h) && eff >= 0.5 * 0.95 * refresh_factor(&h),
        "{eff}"
    );
}

#[test]
fn random_gathers_are_bounded_by_the_activation_rate() {
    for name in ["hbm2-2gbps", "hbm2-8gb-dramsim3"] {
        let h = preset(name);
        let t = &h.timing;
        let mut d = HbmDram::new(&h, h.burst_bytes()).unwrap();
        // 1 GiB span: nearly every access opens a new row.
        let reqs = random(60_000, h.burst_bytes() as u64, 1 << 30, 0, 7);
        let r = drive(&mut d, &reqs, true, 0);
        let per_rank = h.ranks as f64;
        // Activations per cycle per channel: one per tRRD_S, four per tFAW, and each bank once
        // per tRC, per rank.
        let bound = per_rank
            * (1.0 / t.trrd_s as f64)
                .min(4.0 / t.tfaw as f64)
                .min(h.banks() as f64 / t.trc as f64);
        let act_rate = r.stats.activations as f64 / r.cycles as f64 / h.channels as f64;
        assert!(
            act_rate <= bound,
            "{name}: {act_rate} ACT/cycle/channel above the bound {bound}"
        );
        let hit_rate = r.stats.row_hits as f64 / r.stats.reads as f64;
        assert!(
            hit_rate < 0.02,
            "{name}: random gathers should rarely hit ({hit_rate})"
        );
        // Requests cannot complete faster than activations allow.
        let req_rate = r.stats.reads as f64 / r.cycles as f64 / h.channels as f64;
        assert!(req_rate <= bound / (1.0 - hit_rate) + 1e-9);
        // A 32-deep queue over 16+ banks keeps the activation pipeline mostly busy.
        assert!(
            act_rate >= 0.6 * bound,
            "{name}: {act_rate} ACT/cycle/channel, bound {bound}"
        );
    }
}

fn mixed_streams(h: &HbmConfig) -> Vec<Vec<Req>> {
    let b = h.burst_bytes() as u64;
    vec![
        sequential(2000, b),
        strided(1500, 4096 + b),
        random(2000, b, 1 << 26, 30, 3),
        random(1500, b, 1 << 14, 50, 4),
    ]
}

#[test]
fn skipping_idle_cycles_equals_plain_ticking() {
    let mut closed = preset("hbm2-2gbps");
    closed.page_policy = spatten::config::hbm::PagePolicy::Closed;
    let mut per_bank = preset("hbm2-8gb-dramsim3");
    per_bank.refresh = spatten::config::hbm::RefreshPolicy::PerBank;
    per_bank.timing.trfcb = Some(160);
    per_bank.timing.trefib = Some(per_bank.timing.trefi / (per_bank.banks() * per_bank.ranks));
    for h in [
        preset("hbm2-2gbps"),
        preset("hbm2-8gb-dramsim3"),
        preset("ddr4-3200-x64"),
        closed,
        per_bank,
    ] {
        for reqs in mixed_streams(&h) {
            for gap in [0, 5000] {
                let run = |skip: bool, exhaustive: bool| {
                    let mut d = HbmDram::new(&h, h.burst_bytes()).unwrap();
                    d.set_exhaustive(exhaustive);
                    drive(&mut d, &reqs, skip, gap)
                };
                let plain = run(false, false);
                assert_eq!(plain.done.len(), reqs.len());
                for (what, other) in [
                    ("advance_to", run(true, false)),
                    ("exhaustive stepping", run(false, true)),
                ] {
                    assert_eq!(
                        other.stats, plain.stats,
                        "{what}: stats differ from plain ticking"
                    );
                    assert!(
                        other.done == plain.done,
                        "{what}: completions differ from plain ticking"
                    );
                    assert_eq!(other.cycles, plain.cycles);
                }
            }
        }
    }
}

#[test]
fn counters_add_up() {
    let h = preset("hbm2-8gb-dramsim3");
    let reqs = random(5000, 64, 1 << 24, 30, 11);
    let mut d = HbmDram::new(&h, 64).unwrap();
    let r = drive(&mut d, &reqs, true, 0);
    let s = &r.stats;
    assert_eq!(s.completed as usize, reqs.len());
    assert_eq!(
        s.row_hits + s.row_misses + s.row_conflicts,
        s.reads + s.writes
    );
    assert_eq!(s.bytes_read, 64 * s.reads);
    assert_eq!(s.latency_histogram.iter().sum::<u64>(), s.completed);
    assert!(s.activations >= s.row_misses + s.row_conflicts);
    let intervals = (r.cycles / h.timing.trefi as u64).saturating_sub(1);
    assert!(s.refreshes >= (h.channels * h.ranks) as u64 * intervals);
    // Little's law, exactly: each request is counted in flight once per cycle of its latency.
    assert_eq!(s.queue_occupancy_sum, s.total_latency_cycles);
    // The per-channel split sums to the totals, each channel within what the mapping sends it.
    assert_eq!(s.per_channel.len(), h.channels as usize);
    let sum = |f: fn(&spatten::dram::ChannelStats) -> u64| s.per_channel.iter().map(f).sum::<u64>();
    assert_eq!(sum(|c| c.reads), s.reads);
    assert_eq!(sum(|c| c.bytes_read), s.bytes_read);
    assert_eq!(sum(|c| c.activations), s.activations);
    assert_eq!(sum(|c| c.row_hits), s.row_hits);
    assert_eq!(
        sum(|c| c.row_misses + c.row_conflicts),
        s.row_misses + s.row_conflicts
    );
    for c in &s.per_channel {
        let mapped = reqs
            .iter()
            .filter(|r| d.channel_of(r.addr) == c.channel)
            .count() as u64;
        // Requests to an address already queued ride on its column command.
        assert!(c.reads + c.writes <= mapped, "channel {}", c.channel);
        assert!(c.reads + c.writes > 0, "channel {}", c.channel);
    }
}

#[test]
fn one_channel_stream_reuses_its_rows_in_closed_form() {
    // Every 32 B burst of channel 0 in address order (the mapping interleaves channels in
    // bits [8:5]): one activation per row, so the row-hit rate is 1 - rows / bursts; the
    // other channels see nothing.
    let h = preset("hbm2-2gbps");
    let mut d = HbmDram::new(&h, 32).unwrap();
    // Short enough to end before the first refresh closes the rows.
    let n = 1024u64;
    let reqs: Vec<Req> = (0..n)
        .map(|i| Req {
            addr: i * 32 * h.channels as u64,
            is_write: false,
        })
        .collect();
    let r = drive(&mut d, &reqs, true, 0);
    let c0 = &r.stats.per_channel[0];
    assert_eq!(c0.reads, n);
    assert!(r.stats.per_channel[1..].iter().all(|c| c.reads == 0));
    let rows_touched: std::collections::BTreeSet<(u32, u32, u32)> = reqs
        .iter()
        .map(|q| {
            let l = d.mapping().locate(q.addr);
            (l.bank_group, l.bank, l.row)
        })
        .collect();
    assert!(r.cycles < h.timing.trefi as u64, "{} cycles", r.cycles);
    assert_eq!(c0.activations, rows_touched.len() as u64);
    assert_eq!(c0.row_hits, n - rows_touched.len() as u64);
    assert!((c0.row_hit_rate() - (1.0 - rows_touched.len() as f64 / n as f64)).abs() < 1e-12);
}

#[test]
fn presets_load_and_spatten_matches_its_preset() {
    let arch = spatten::config::load_arch("spatten").unwrap();
    assert_eq!(arch.hbm, preset("hbm2-2gbps"));
    let h = preset("hbm2-2gbps");
    assert_eq!(h.total_bandwidth_gbps(), 512.0);
    // rorabacobgch: channel from address bits [8:5], bank group [10:9], column [15:11].
    let m = spatten::dram::hbm::AddressMapping::new(&h);
    assert_eq!(m.field_positions(), [5, 18, 9, 16, 18, 11]);
    for ch in 0..16u64 {
        assert_eq!(m.channel_of(ch << 5), ch as u32);
        assert_eq!(m.channel_of((ch << 5) | 31 | (1 << 9)), ch as u32);
    }
    let e = load_dram_preset("no-such").unwrap_err();
    assert!(e.reason.contains("hbm2-2gbps"));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(
        &p,
        include_str!("../arch/dram/hbm2-2gbps.toml").replace("tfaw = 16", "tfaw = \"x\""),
    )
    .unwrap();
    let e = load_dram_preset(p.to_str().unwrap()).unwrap_err();
    assert_eq!(e.key.as_deref(), Some("hbm.timing.tfaw"));
    assert!(e.line.is_some());
    std::fs::write(&p, "[hbm]\nchannels = 3\n").unwrap();
    assert!(load_dram_preset(p.to_str().unwrap()).is_err());
}
