//! Simulation speed: simulated accelerator cycles per wall-clock second on one core.
//!
//! `cargo bench --bench sim` runs the dense GPT-2-small generation workload (992-token
//! prompt summarization + 32 generation iterations, 12 layers x 12 heads) on the SimpleDram
//! back-end and prints the simulated cycles with the throughput in cycles per second.

use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use spatten::config;
use spatten::dram::simple::SimpleDram;
use spatten::hw::{SimOptions, dense_trace, simulate};

fn bench(c: &mut Criterion) {
    let arch = config::load_arch("spatten").expect("spatten preset");
    let workload = config::load_workload("gpt2-small").expect("gpt2-small preset");
    let full = dense_trace(&workload);
    let mut generation = full.clone();
    generation.head_calls.retain(|h| h.iteration > 0);
    generation.layers.retain(|r| r.iteration > 0);
    for (name, trace) in [
        ("gpt2-small dense, generation iterations", &generation),
        ("gpt2-small dense, whole run", &full),
    ] {
        let mut dram = SimpleDram::from_config(&arch.hbm, arch.fetcher.transaction_bytes);
        let start = Instant::now();
        let stats = simulate(&arch, trace, &mut dram, &SimOptions::default()).expect("simulates");
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{name}: {} cycles in {secs:.3} s = {:.1} M simulated cycles/s",
            stats.cycles,
            stats.cycles as f64 / secs / 1e6
        );
    }
    let mut group = c.benchmark_group("simulate");
    group.sample_size(10);
    group.bench_function("gpt2-small-generation", |b| {
        b.iter(|| {
            let mut dram = SimpleDram::from_config(&arch.hbm, arch.fetcher.transaction_bytes);
            simulate(&arch, &generation, &mut dram, &SimOptions::default()).expect("simulates")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
