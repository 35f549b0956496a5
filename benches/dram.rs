//! DRAM back-end speed in simulated memory cycles per second of wall time, on the same
//! request streams (reported by criterion as "elements" per second: one element = one memory
//! cycle of the run). With `--features dramsim3` DRAMsim3 runs the same streams alongside.
//!
//! `cargo bench --bench dram --features dramsim3`
//!
//! For instruction counts (a loaded machine makes wall time noisy), one run of one stream on
//! one back-end without criterion: `DRAM_BENCH_ONCE=native:sequential` (or `dramsim3:random`)
//! with the bench binary, e.g. under `valgrind --tool=callgrind`; `DRAM_BENCH_ONCE=native:random:50`
//! repeats the run 50 times and prints the best wall time (a quick A/B of two builds).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use spatten::config::HbmConfig;
use spatten::dram::hbm::{HbmDram, load_dram_preset};
use spatten::dram::{Dram, DramRequest};

/// Issues `addrs` (reads) in order as fast as accepted and runs to completion; returns the
/// memory cycles simulated. `skip` lets the back-end jump idle cycles.
fn run(d: &mut dyn Dram, addrs: &[u64], skip: bool) -> u64 {
    let mut i = 0;
    let mut done = Vec::new();
    while i < addrs.len() || d.pending() > 0 {
        // `enqueue` refuses what the back-end cannot take: no separate `can_accept`.
        while i < addrs.len()
            && d.enqueue(DramRequest {
                id: i as u64,
                addr: addrs[i],
                is_write: false,
            })
            .is_ok()
        {
            i += 1;
        }
        if skip
            && let Some(next) = d.next_event()
            && next - 1 > d.cycle()
        {
            d.advance_to(next - 1, &mut done);
            continue;
        }
        d.tick(&mut done);
        done.clear();
    }
    d.cycle()
}

fn streams(h: &HbmConfig) -> Vec<(&'static str, Vec<u64>)> {
    let b = h.burst_bytes() as u64;
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    vec![
        ("sequential", (0..100_000u64).map(|i| i * b).collect()),
        (
            "random",
            (0..30_000)
                .map(|_| rng.gen_range(0..(1u64 << 30) / b) * b)
                .collect(),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let h = load_dram_preset("hbm2-8gb-dramsim3").expect("preset");
    for (name, addrs) in streams(&h) {
        let cycles = run(
            &mut HbmDram::new(&h, h.burst_bytes()).unwrap(),
            &addrs,
            true,
        );
        let mut g = c.benchmark_group(format!("dram/{name}"));
        g.throughput(Throughput::Elements(cycles));
        g.sample_size(10);
        g.bench_function("native", |bch| {
            bch.iter(|| {
                run(
                    &mut HbmDram::new(&h, h.burst_bytes()).unwrap(),
                    black_box(&addrs),
                    true,
                )
            })
        });
        #[cfg(feature = "dramsim3")]
        g.bench_function("dramsim3", |bch| {
            use spatten::dram::dramsim3::Dramsim3Dram;
            bch.iter(|| {
                run(
                    &mut Dramsim3Dram::new(&h, h.burst_bytes()).unwrap(),
                    black_box(&addrs),
                    false,
                )
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);

fn main() {
    if let Ok(spec) = std::env::var("DRAM_BENCH_ONCE") {
        let mut parts = spec.split(':');
        let (Some(backend), Some(stream)) = (parts.next(), parts.next()) else {
            panic!("DRAM_BENCH_ONCE=backend:stream[:repeats]");
        };
        let repeats: u32 = parts.next().map_or(1, |n| n.parse().expect("repeats"));
        let h = load_dram_preset("hbm2-8gb-dramsim3").expect("preset");
        let (_, addrs) = streams(&h)
            .into_iter()
            .find(|(n, _)| *n == stream)
            .expect("stream: sequential or random");
        let mut best = std::time::Duration::MAX;
        let mut cycles = 0;
        for _ in 0..repeats {
            let start = std::time::Instant::now();
            cycles = run_once(backend, &h, &addrs);
            best = best.min(start.elapsed());
        }
        println!(
            "{backend} {stream}: {cycles} memory cycles, best of {repeats}: {:.3} ms ({:.2} M cycles/s)",
            best.as_secs_f64() * 1e3,
            cycles as f64 / best.as_secs_f64() / 1e6
        );
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

/// One run of `addrs` on the named back-end; returns the memory cycles simulated.
fn run_once(backend: &str, h: &HbmConfig, addrs: &[u64]) -> u64 {
    match backend {
        "native" => run(&mut HbmDram::new(h, h.burst_bytes()).unwrap(), addrs, true),
        #[cfg(feature = "dramsim3")]
        "dramsim3" => run(
            &mut spatten::dram::dramsim3::Dramsim3Dram::new(h, h.burst_bytes()).unwrap(),
            addrs,
            false,
        ),
        other => panic!("unknown back-end {other}"),
    }
}
