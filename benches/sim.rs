//! Simulation speed: simulated accelerator cycles per wall-clock second on one core.
//!
//! `cargo bench --bench sim` runs the dense GPT-2-small generation workload (992-token
//! prompt summarization + 32 generation iterations, 12 layers x 12 heads) on the SimpleDram
//! back-end and prints the simulated cycles with the throughput in cycles per second and
//! nanoseconds per DRAM transaction.
//!
//! It also replays the generation run's exact DRAM request stream (same cycles, same calls:
//! `channel_of`, `enqueue`, `advance_to`) into a fresh back-end with nothing else running.
//! That is the part of every simulated cycle the `Dram` trait's per-request interface costs,
//! so it bounds what any change inside the accelerator model can reach.
//!
//! For instruction counts (wall time is noisy on a shared machine), one simulation without
//! criterion: `SIM_BENCH_ONCE=pruned-native` (or `pruned-simple`, `dense-generation`) with the
//! bench binary, e.g. under `valgrind --tool=callgrind --toggle-collect='spatten::hw::simulate*'`.

use std::time::Instant;

use criterion::{Criterion, criterion_group};
use spatten::config;
use spatten::dram::backend::{DramKind, make_dram};
use spatten::dram::simple::SimpleDram;
use spatten::dram::{Dram, DramRequest, DramStats};
use spatten::hw::{SimOptions, dense_trace, simulate};

/// Delegates to a back-end and logs every accepted request with the cycle it entered.
struct Recording {
    inner: SimpleDram,
    log: Vec<(u64, DramRequest)>,
}

impl Dram for Recording {
    fn channel_of(&self, addr: u64) -> u32 {
        self.inner.channel_of(addr)
    }
    fn can_accept(&self, addr: u64, is_write: bool) -> bool {
        self.inner.can_accept(addr, is_write)
    }
    fn enqueue(&mut self, req: DramRequest) -> Result<(), DramRequest> {
        self.inner.enqueue(req)?;
        self.log.push((self.inner.cycle(), req));
        Ok(())
    }
    fn tick(&mut self, done: &mut Vec<u64>) {
        self.inner.tick(done)
    }
    fn cycle(&self) -> u64 {
        self.inner.cycle()
    }
    fn next_event(&self) -> Option<u64> {
        self.inner.next_event()
    }
    fn advance_to(&mut self, cycle: u64, done: &mut Vec<u64>) {
        self.inner.advance_to(cycle, done)
    }
    fn pending(&self) -> usize {
        self.inner.pending()
    }
    fn stats(&self) -> DramStats {
        self.inner.stats()
    }
    fn request_bytes(&self) -> u32 {
        self.inner.request_bytes()
    }
}

fn bench(c: &mut Criterion) {
    let arch = config::load_arch("spatten").expect("spatten preset");
    let workload = config::load_workload("gpt2-small").expect("gpt2-small preset");
    let full = dense_trace(&workload);
    let mut generation = full.clone();
    generation.head_calls.retain(|h| h.iteration > 0);
    generation.layers.retain(|r| r.iteration > 0);
    let new_dram = || SimpleDram::from_config(&arch.hbm, arch.fetcher.transaction_bytes);
    // What `spatten run --workload gpt2-small` replays: the reference's pruned trace.
    let values = spatten::trace::generate(
        &workload,
        &spatten::trace::SynthKnobs::for_workload(&workload),
        workload.seed,
    );
    let pruned = spatten::reference::run_workload(&values, &workload).expect("reference runs");
    for (name, trace, kind) in [
        (
            "gpt2-small dense, generation iterations, simple DRAM",
            &generation,
            DramKind::Simple,
        ),
        (
            "gpt2-small dense, whole run, simple DRAM",
            &full,
            DramKind::Simple,
        ),
        (
            "gpt2-small pruned (reference trace), whole run, simple DRAM",
            &pruned,
            DramKind::Simple,
        ),
        (
            "gpt2-small pruned (reference trace), whole run, native HBM",
            &pruned,
            DramKind::Native,
        ),
    ] {
        let mut dram = make_dram(kind, &arch.hbm, arch.fetcher.transaction_bytes).expect("dram");
        let start = Instant::now();
        let stats =
            simulate(&arch, trace, dram.as_mut(), &SimOptions::default()).expect("simulates");
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{name}: {} cycles, {} transactions in {secs:.3} s = {:.2} M simulated cycles/s, {:.1} ns per transaction",
            stats.cycles,
            stats.dram.transactions,
            stats.cycles as f64 / secs / 1e6,
            secs * 1e9 / stats.dram.transactions as f64
        );
    }

    let mut rec = Recording {
        inner: new_dram(),
        log: Vec::new(),
    };
    let stats = simulate(&arch, &generation, &mut rec, &SimOptions::default()).expect("simulates");
    let end = rec.inner.cycle();
    let mut dram = new_dram();
    let mut done = Vec::new();
    let start = Instant::now();
    for &(at, req) in &rec.log {
        if at > dram.cycle() {
            dram.advance_to(at, &mut done);
        }
        std::hint::black_box(dram.channel_of(req.addr));
        dram.enqueue(req).expect("accepted when recorded");
    }
    dram.advance_to(end, &mut done);
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(done.len(), rec.log.len());
    println!(
        "  DRAM back-end alone on the generation request stream: {:.3} s = {:.2} M simulated cycles/s, {:.1} ns per transaction",
        secs,
        stats.cycles as f64 / secs / 1e6,
        secs * 1e9 / rec.log.len() as f64
    );

    let mut group = c.benchmark_group("simulate");
    group.sample_size(10);
    group.bench_function("gpt2-small-generation", |b| {
        b.iter(|| {
            let mut dram = new_dram();
            simulate(&arch, &generation, &mut dram, &SimOptions::default()).expect("simulates")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);

fn main() {
    // One simulation without criterion (for callgrind): SIM_BENCH_ONCE=pruned-native,
    // pruned-simple or dense-generation.
    if let Ok(which) = std::env::var("SIM_BENCH_ONCE") {
        let arch = config::load_arch("spatten").expect("spatten preset");
        let workload = config::load_workload("gpt2-small").expect("gpt2-small preset");
        let (trace, kind) = match which.as_str() {
            "dense-generation" => {
                let mut t = dense_trace(&workload);
                t.head_calls.retain(|h| h.iteration > 0);
                t.layers.retain(|r| r.iteration > 0);
                (t, DramKind::Simple)
            }
            "pruned-native" | "pruned-simple" => {
                let values = spatten::trace::generate(
                    &workload,
                    &spatten::trace::SynthKnobs::for_workload(&workload),
                    workload.seed,
                );
                let t = spatten::reference::run_workload(&values, &workload).expect("reference");
                let kind = if which == "pruned-native" {
                    DramKind::Native
                } else {
                    DramKind::Simple
                };
                (t, kind)
            }
            other => panic!("unknown SIM_BENCH_ONCE {other}"),
        };
        let mut dram = make_dram(kind, &arch.hbm, arch.fetcher.transaction_bytes).expect("dram");
        let start = Instant::now();
        let stats =
            simulate(&arch, &trace, dram.as_mut(), &SimOptions::default()).expect("simulates");
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{which}: {} cycles in {secs:.3} s = {:.2} M simulated cycles/s",
            stats.cycles,
            stats.cycles as f64 / secs / 1e6
        );
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
