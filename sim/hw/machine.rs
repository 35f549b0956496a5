//! The clocked loop: steps every module once per cycle, consumer first, advances the DRAM in
//! its own clock, fast-forwards over cycles in which nothing can change and over runs of
//! identical streaming cycles, and assembles the statistics.

use std::collections::{BTreeMap, BTreeSet};

use super::bitwidth_converter::BitwidthConverter;
use super::controller::{Controller, Events, HeadRt, Ports};
use super::crossbar::{AddressCrossbar, DataCrossbar};
use super::error::SimError;
use super::fetcher::{AddressLayout, FetchJob, Fetcher, Tensor};
use super::fifo::Fifo;
use super::importance::Importance;
use super::pv::PvUnit;
use super::qk::QkUnit;
use super::requant::{Outputs, Requant};
use super::softmax::Softmax;
use super::stats::{
    Activity, BusyInterval, DramTraffic, ModuleCounters, SimStats, SramStats, TopkStats,
};
use super::stride::{Stride, fifo_steady};
use super::tiling::{Consumer, Wait};
use super::topk::{TokenTopk, ValueTopk};
use super::{Chunk, SimOptions, watchdog};
use crate::config::ArchConfig;
use crate::dram::Dram;
use crate::trace::attention::{AttentionTrace, HeadCall};

pub const MODULES: [&str; 11] = [
    "fetcher",
    "address_crossbar",
    "data_crossbar",
    "bitwidth_converter",
    "qk",
    "softmax",
    "requant",
    "topk_value",
    "topk_token",
    "pv",
    "importance",
];
const FETCHER: usize = 0;
const ADDR_XBAR: usize = 1;
const DATA_XBAR: usize = 2;
const CONVERTER: usize = 3;
const QK: usize = 4;
const SOFTMAX: usize = 5;
const REQUANT: usize = 6;
const TOPK_VALUE: usize = 7;
const TOPK_TOKEN: usize = 8;
const PV: usize = 9;
const IMPORTANCE: usize = 10;

pub struct Machine<'a> {
    arch: ArchConfig,
    trace: &'a AttentionTrace,
    options: SimOptions,
    cycle_ps: u64,
    tck_ps: u64,
    pub(super) heads: Vec<HeadRt>,
    pub(super) jobs: Vec<FetchJob<'a>>,
    pub(super) fetcher: Fetcher,
    addr_xbar: AddressCrossbar,
    pub(super) data_xbar: DataCrossbar,
    pub(super) converter: BitwidthConverter,
    pub(super) qk: QkUnit,
    pub(super) softmax: Softmax,
    pub(super) requant: Requant,
    pub(super) value_topk: ValueTopk,
    pub(super) token_topk: TokenTopk,
    pub(super) pv: PvUnit,
    pub(super) importance: Importance,
    pub(super) controller: Controller,
    pub(super) scores: Fifo<Chunk>,
    pub(super) probs: Fifo<Chunk>,
    pub(super) pv_in: Fifo<Chunk>,
    pub(super) topk_in: Fifo<Chunk>,
    pub(super) importance_in: Fifo<Chunk>,
    counters: Vec<ModuleCounters>,
    /// The activities of the cycles since `run_start` (all alike), not yet in `counters`:
    /// recording runs rather than cycles keeps the per-cycle cost to one comparison.
    run_acts: [Activity; MODULES.len()],
    run_start: u64,
    run_cycles: u64,
    /// Memory cycle before which the DRAM has nothing to do (its `next_event`), valid while
    /// no request entered it since: until then stepping it would change nothing.
    dram_due: u64,
    /// Whether the controller's last step changed anything; if not, and no event arrives,
    /// its next step cannot either.
    controller_active: bool,
    events: Events,
    traffic: DramTraffic,
    completions: Vec<u64>,
}

impl<'a> Machine<'a> {
    pub fn new(arch: &ArchConfig, trace: &'a AttentionTrace, options: &SimOptions) -> Self {
        let h = &trace.header;
        let txn = arch.fetcher.transaction_bytes;
        let layout = AddressLayout::for_trace(arch, trace);
        let depth = arch.softmax.fifo_depth;
        let plan = super::tiling::TilePlan::new(arch, h.head_dim);
        let blocks: Vec<_> = trace.head_calls.iter().map(|c| plan.blocks(c)).collect();
        let group_rows = arch.interleaved_group_rows(h.heads, h.kv_heads());
        let spill_quota: Vec<Option<u32>> = trace
            .head_calls
            .iter()
            .map(|c| {
                (c.queries == 1 && plan.tiled(c))
                    .then(|| plan.generation_spill_quota(c.keys.len() as u64, group_rows as u64))
                    .flatten()
            })
            .collect();
        let max_spilled = trace
            .head_calls
            .iter()
            .zip(&spill_quota)
            .filter_map(|(c, q)| q.map(|q| c.keys.len() as u64 - q as u64))
            .max()
            .unwrap_or(0);
        let mut spill = super::spill::ScoreSpill::new(
            layout.end(AddressLayout::layers_of(h)),
            max_spilled,
            2 * group_rows,
            txn,
            txn as u64 * arch.hbm.channels as u64,
            arch.softmax.spill_buffer_transactions,
        );
        if arch.topk_value.candidate_entries.is_none() {
            spill.traffic.local_v_rows_in_place = trace
                .head_calls
                .iter()
                .zip(&spill_quota)
                .filter(|(c, q)| q.is_some() && c.value_topk.is_some())
                .count() as u64;
        }
        let controller = Controller::new(
            trace,
            layout,
            txn,
            super::buffer_ring::BufferRing::new(arch, h.head_dim),
            &arch.controller,
            &arch.topk_token,
            plan,
        );
        Self {
            arch: arch.clone(),
            trace,
            options: options.clone(),
            cycle_ps: (1e6 / arch.clock.frequency_mhz).round() as u64,
            tck_ps: (arch.hbm.tck_ns * 1000.0).round() as u64,
            heads: vec![HeadRt::default(); trace.head_calls.len()],
            jobs: Vec::new(),
            fetcher: Fetcher::new(&arch.fetcher, txn),
            addr_xbar: AddressCrossbar::new(&arch.crossbar, arch.hbm.channels),
            data_xbar: DataCrossbar::new(&arch.crossbar),
            converter: BitwidthConverter::new(&arch.bitwidth_converter, txn),
            qk: QkUnit::new(&arch.qk, h.head_dim)
                .with_tile_groups(controller.tile_group_sizes(), plan.key_tile_rows)
                .with_blocks(blocks.clone(), plan.key_tile_rows),
            softmax: Softmax::new(&arch.softmax)
                .with_blocks(blocks.clone())
                .with_spill(spill_quota, spill),
            requant: Requant::new(&arch.requant),
            value_topk: ValueTopk::new(&arch.topk_value, arch.controller.local_v_waits_for_pv),
            token_topk: TokenTopk::new(),
            pv: PvUnit::new(&arch.pv, h.head_dim)
                .with_blocks(blocks, plan.key_tile_rows)
                .with_value_tiles(plan.value_tile_rows),
            importance: Importance::new(&arch.importance),
            controller,
            scores: Fifo::new("softmax.scores", depth),
            // The arch has one softmax FIFO depth; the probability FIFOs after it use it too.
            probs: Fifo::new("softmax.probabilities", depth),
            pv_in: Fifo::new("pv.probabilities", depth),
            topk_in: Fifo::new("topk_value.input", arch.topk_value.fifo_depth),
            importance_in: Fifo::new("importance.probabilities", depth),
            counters: MODULES
                .iter()
                .map(|_| ModuleCounters::new(options.timeline))
                .collect(),
            run_acts: [Activity::Idle; MODULES.len()],
            run_start: 0,
            run_cycles: 0,
            dram_due: 0,
            controller_active: true,
            events: Events::default(),
            traffic: DramTraffic::default(),
            completions: Vec::new(),
        }
    }

    fn dram_cycle_at(&self, cycle: u64) -> u64 {
        cycle * self.cycle_ps / self.tck_ps
    }

    fn cycle_of_dram(&self, dram_cycle: u64) -> u64 {
        (dram_cycle * self.tck_ps).div_ceil(self.cycle_ps)
    }

    pub(super) fn fifos(&self) -> Vec<&Fifo<Chunk>> {
        vec![
            &self.scores,
            &self.probs,
            &self.pv_in,
            &self.topk_in,
            &self.importance_in,
        ]
    }

    fn drained(&self, dram: &dyn Dram) -> bool {
        self.fifos()
            .iter()
            .all(|f| f.is_empty() && f.reserved() == 0)
            && self.fetcher.queue.is_empty()
            && self.fetcher.queued == 0
            && self.fetcher.data_fifos.iter().all(|f| f.is_empty())
            && self.data_xbar.pending() == 0
            && self.converter.pending() == 0
            && self.qk.is_drained()
            && self.softmax.is_drained()
            && self.requant.is_drained()
            && self.value_topk.is_drained()
            && self.token_topk.is_drained()
            && self.pv.is_drained()
            && self.importance.is_drained()
            && dram.pending() == 0
    }

    fn step(
        &mut self,
        now: u64,
        dram: &mut dyn Dram,
        acts: &mut [Activity; MODULES.len()],
    ) -> bool {
        let calls = &self.trace.head_calls;
        let mut progress = false;
        let target = self.dram_cycle_at(now);
        let requests = self.requests_made();
        self.sync_dram(target, dram);
        let drops = &self.options.drop_responses;
        for id in self.completions.drain(..) {
            if drops.is_empty() || !drops.contains(&id) {
                self.data_xbar.accept(now, id);
                progress = true;
            }
        }
        let ev = &mut self.events;
        let mut p;
        (acts[IMPORTANCE], p) =
            self.importance
                .step(now, calls, &mut self.importance_in, &mut ev.importance_done);
        progress |= p;
        (acts[PV], p) = self.pv.step(
            now,
            calls,
            &self.heads,
            &self.jobs,
            &mut self.pv_in,
            &mut ev.pv_done,
        );
        progress |= p;
        (acts[TOPK_VALUE], p) = self.value_topk.step(
            now,
            calls,
            &self.trace.topk_calls,
            &mut self.topk_in,
            &mut self.pv_in,
            &mut ev.value_topk_selected,
        );
        progress |= p;
        // ProbxV takes heads in order: the requant unit's direct beats wait for the local-V
        // engine's earlier heads.
        let local_v_pending = !self.value_topk.is_drained() || !self.topk_in.is_empty();
        let outputs = Outputs {
            pv: &mut self.pv_in,
            topk: &mut self.topk_in,
            importance: &mut self.importance_in,
        };
        (acts[REQUANT], p) = self.requant.step(
            now,
            calls,
            &mut self.probs,
            outputs,
            &mut ev.decided,
            local_v_pending,
        );
        progress |= p;
        (acts[SOFTMAX], p) = self
            .softmax
            .step(now, calls, &mut self.scores, &mut self.probs);
        progress |= p;
        (acts[QK], p) = self
            .qk
            .step(now, calls, &self.heads, &self.jobs, &mut self.scores);
        progress |= p;
        (acts[CONVERTER], p) = self.converter.step(now, &mut self.fetcher, &mut self.jobs);
        progress |= p;
        (acts[DATA_XBAR], p) = self
            .data_xbar
            .step(now, &mut self.fetcher, &mut self.softmax.spill);
        progress |= p;
        (acts[ADDR_XBAR], p) = self.addr_xbar.step(
            now,
            &mut self.fetcher,
            &self.jobs,
            &mut self.softmax.spill,
            dram,
            &mut self.traffic,
        );
        progress |= p;
        raise_row_limits(
            &mut self.controller.tiled_jobs,
            &mut self.jobs,
            calls,
            &self.qk,
            &self.pv,
        );
        (acts[FETCHER], p) = self.fetcher.step(now, &mut self.jobs, dram);
        progress |= p;
        (acts[TOPK_TOKEN], p) = self.token_topk.step(now, &mut ev.records_done);
        progress |= p;
        if self.traffic.transactions + self.softmax.spill.traffic.transactions != requests {
            // New requests may make the DRAM's next event earlier.
            self.dram_due = 0;
        }
        if self.controller_active || !ev.is_empty() {
            let mut ports = Ports {
                heads: &mut self.heads,
                jobs: &mut self.jobs,
                fetch_queue: &mut self.fetcher.queue,
                qk_queue: &mut self.qk.queue,
                token_topk: &mut self.token_topk,
                now,
            };
            self.controller_active = self.controller.step(self.trace, &mut ports, ev);
            progress |= self.controller_active;
        }
        progress
    }

    /// DRAM requests made so far, by the fetcher and the score spill.
    fn requests_made(&self) -> u64 {
        self.traffic.transactions + self.softmax.spill.traffic.transactions
    }

    /// Brings the DRAM to memory cycle `target` when that can matter: it has an event due, or
    /// the fetcher may talk to it this cycle (requests carry their arrival cycle).
    fn sync_dram(&mut self, target: u64, dram: &mut dyn Dram) {
        if target <= dram.cycle() {
            return;
        }
        // Without fast-forward every cycle is stepped: the reference the skipping is tested by.
        let talking = self.fetcher.queued > 0
            || !self.fetcher.queue.is_empty()
            || self.softmax.may_spill(&self.scores);
        if talking || target >= self.dram_due || !self.options.fast_forward {
            dram.advance_to(target, &mut self.completions);
            // While the fetcher talks to it the DRAM is brought along every cycle anyway.
            self.dram_due = if talking {
                0
            } else {
                dram.next_event().unwrap_or(u64::MAX)
            };
        }
    }

    /// Adds `count` cycles with activities `acts`, starting at `now`, to the current run.
    fn record(&mut self, now: u64, acts: &[Activity; MODULES.len()], count: u64) {
        if *acts == self.run_acts {
            self.run_cycles += count;
            return;
        }
        self.flush_run();
        self.run_acts = *acts;
        self.run_start = now;
        self.run_cycles = count;
    }

    fn flush_run(&mut self) {
        if self.run_cycles > 0 {
            for (c, &a) in self.counters.iter_mut().zip(&self.run_acts) {
                c.record(self.run_start, a, self.run_cycles);
            }
        }
        self.run_cycles = 0;
    }

    /// The earliest cycle after `now` at which a pipeline, timer or the DRAM can change
    /// something.
    fn next_event(&self, now: u64, dram: &dyn Dram) -> Option<u64> {
        [
            self.data_xbar.next_event(),
            self.converter.next_event(),
            self.qk.next_event(),
            self.softmax.next_event(now),
            self.requant.next_event(),
            self.value_topk.next_event(),
            self.token_topk.next_event(),
            self.pv.next_event(),
            dram.next_event().map(|c| self.cycle_of_dram(c)),
        ]
        .into_iter()
        .flatten()
        .filter(|&c| c > now)
        .min()
    }

    /// When only the streaming units work and each will repeat its last step unchanged for a
    /// while (see `stride`), applies those cycles after `now` and returns how many there were
    /// with the units' activity in them.
    fn stride(&mut self, now: u64, dram: &dyn Dram) -> Option<(u64, [Activity; MODULES.len()])> {
        let f = &self.fetcher;
        let still = f.queue.is_empty()
            && f.queued == 0
            && self.converter.next_seq == f.next_seq
            && self.converter.pending() == 0
            && self.data_xbar.pending() == 0
            && dram.pending() == 0
            && !self.controller_active
            && self.events.is_empty();
        if !still {
            return None;
        }
        let calls = &self.trace.head_calls;
        let qk = self.qk.stride(now, calls, &self.heads, &self.jobs)?;
        let softmax = self.softmax.stride(now, calls, &self.scores)?;
        let local_v_pending = !self.value_topk.is_drained() || !self.topk_in.is_empty();
        let requant = self
            .requant
            .stride(now, calls, &self.probs, local_v_pending)?;
        let pv = self
            .pv
            .stride(now, calls, &self.heads, &self.jobs, &self.pv_in)?;
        let importance = self.importance.stride(calls, &self.importance_in)?;
        let value_topk = self.value_topk.stride(now, calls, &self.topk_in)?;
        let token_topk = self.token_topk.stride(now)?;
        let steady = fifo_steady(&self.scores, qk.push[0], softmax.take)
            && fifo_steady(&self.probs, softmax.push[0], requant.take)
            && fifo_steady(&self.pv_in, requant.push[0], pv.take)
            && fifo_steady(&self.topk_in, requant.push[1], value_topk.take)
            && fifo_steady(&self.importance_in, requant.push[2], importance.take);
        let units = [qk, softmax, requant, pv, importance, value_topk, token_topk];
        if !steady || !units.iter().any(Stride::moves) {
            return None;
        }
        let cycles = units.iter().map(|s| s.cycles).min().expect("units");
        self.qk.repeat(now, &qk, cycles);
        self.softmax.repeat(now, &softmax, cycles);
        self.requant.repeat(calls, &requant, cycles);
        self.pv.repeat(&pv, cycles);
        self.importance.repeat(&importance, cycles);
        self.value_topk.repeat(&value_topk, cycles);
        let mut acts = [Activity::Idle; MODULES.len()];
        acts[QK] = qk.activity;
        acts[SOFTMAX] = softmax.activity;
        acts[REQUANT] = requant.activity;
        acts[PV] = pv.activity;
        acts[IMPORTANCE] = importance.activity;
        acts[TOPK_VALUE] = value_topk.activity;
        acts[TOPK_TOKEN] = token_topk.activity;
        Some((cycles, acts))
    }

    pub fn run(mut self, dram: &mut dyn Dram) -> Result<SimStats, SimError> {
        let mut now = 0u64;
        let mut last_progress = 0u64;
        let mut acts = [Activity::Idle; MODULES.len()];
        let watchdog = self.options.watchdog_cycles;
        let end = loop {
            let progress = self.step(now, dram, &mut acts);
            if let Some(reason) = self.data_xbar.fault.take() {
                return Err(SimError::Invariant {
                    module: "data_crossbar",
                    reason,
                });
            }
            self.record(now, &acts, 1);
            if self.controller.finished(self.trace.head_calls.len()) && self.drained(dram) {
                break now + 1;
            }
            if progress {
                last_progress = now;
            } else if now - last_progress >= watchdog {
                return Err(watchdog::stalled(&self, now, now - last_progress, &acts));
            }
            let mut next = now + 1;
            if progress
                && self.options.fast_forward
                && let Some((cycles, repeated)) = self.stride(now, dram)
            {
                self.record(next, &repeated, cycles);
                next += cycles;
                last_progress = next - 1;
            }
            if !progress && self.options.fast_forward {
                let limit = last_progress + watchdog;
                let target = self.next_event(now, dram).map_or(limit, |e| e.min(limit));
                if target > next {
                    self.record(next, &acts, target - next);
                    next = target;
                }
            }
            now = next;
        };
        self.finish(end, dram)
    }

    fn finish(mut self, end: u64, dram: &mut dyn Dram) -> Result<SimStats, SimError> {
        self.flush_run();
        // Where stepping every cycle would have left the DRAM (idle cycles are caught up).
        let last = self.dram_cycle_at(end - 1);
        if last > dram.cycle() {
            dram.advance_to(last, &mut self.completions);
        }
        let h = &self.trace.header;
        let cycle_ns = self.arch.cycle_ns();
        let seconds = end as f64 * cycle_ns * 1e-9;
        let ops = 2 * (self.qk.macs + self.pv.macs);
        let iterations: BTreeSet<u32> = self.trace.head_calls.iter().map(|c| c.iteration).collect();
        let per_head: u64 = iterations
            .iter()
            .map(|&i| {
                let (queries, keys) = if i == 0 {
                    (h.prompt_tokens as u64, h.prompt_tokens as u64)
                } else {
                    (1, h.prompt_tokens as u64 + i as u64)
                };
                // QxK and ProbxV, 2 operations per multiply-accumulate.
                2 * 2 * queries * keys * h.head_dim as u64
            })
            .sum();
        let effective_ops = per_head * h.layers as u64 * h.heads as u64 * h.batch() as u64;
        let gops = |ops: u64| {
            if end == 0 {
                0.0
            } else {
                ops as f64 / (end as f64 * cycle_ns)
            }
        };
        self.traffic.score_spill = self.softmax.spill.traffic.clone();
        self.traffic.backend = dram
            .final_stats()
            .map_err(|e| SimError::Dram(e.to_string()))?;
        let modules: BTreeMap<String, _> = MODULES
            .iter()
            .zip(&self.counters)
            .map(|(n, c)| (n.to_string(), c.stats.clone()))
            .collect();
        let mut fifos = BTreeMap::new();
        for f in self.fifos() {
            fifos.insert(f.name().to_string(), f.stats(end));
        }
        for f in &self.fetcher.addr_fifos {
            fifos.insert(f.name().to_string(), f.stats(end));
        }
        for f in &self.fetcher.data_fifos {
            fifos.insert(f.name().to_string(), f.stats(end));
        }
        let timeline = self.options.timeline.then(|| {
            let mut t = Vec::new();
            for (name, c) in MODULES.iter().zip(&self.counters) {
                for (start, stop) in c.intervals(end).unwrap_or_default() {
                    t.push(BusyInterval {
                        module: name.to_string(),
                        start_cycle: start,
                        end_cycle: stop,
                    });
                }
            }
            t
        });
        let topk = TopkStats {
            cycles: self.counters[TOPK_VALUE].stats.busy_cycles
                + self.counters[TOPK_TOKEN].stats.busy_cycles,
            token_engine_cycles: self.counters[TOPK_TOKEN].stats.busy_cycles,
            value_engine_cycles: self.counters[TOPK_VALUE].stats.busy_cycles,
            token_calls: self.controller.token_calls,
            head_calls: self.controller.head_calls,
            value_calls: self.value_topk.calls,
            comparisons: self.controller.token_comparisons + self.value_topk.comparisons,
            token_engine_comparisons: self.controller.token_comparisons,
            value_engine_comparisons: self.value_topk.comparisons,
        };
        let row_bits = h.head_dim as u64 * self.arch.bitwidth_converter.output_bits as u64;
        let mut sram = SramStats {
            key_read_bits: self.qk.scores * row_bits,
            value_read_bits: self.pv.macs / h.head_dim as u64 * row_bits,
            ..SramStats::default()
        };
        for job in &self.jobs {
            let bits = job.rows_ready as u64 * row_bits;
            match job.tensor {
                Tensor::KMsb | Tensor::KLsb => sram.key_write_bits += bits,
                Tensor::VMsb | Tensor::VLsb => sram.value_write_bits += bits,
                Tensor::Q => {}
            }
        }
        let batched = self.trace.header.batch() > 1;
        Ok(SimStats {
            cycles: end,
            seconds,
            frequency_mhz: self.arch.clock.frequency_mhz,
            ops,
            gops: gops(ops),
            effective_ops,
            effective_gops: gops(effective_ops),
            head_calls: self.trace.head_calls.len() as u64,
            lsb_refetches: self.controller.lsb_refetches,
            qk_macs: self.qk.macs,
            pv_macs: self.pv.macs,
            scores: self.qk.scores,
            probabilities: self.softmax.elements,
            importance_additions: self.importance.additions,
            dram: self.traffic,
            topk,
            sram,
            modules,
            fifos,
            timeline,
            gqa: None,
            tiling: None,
            sequence_end_cycles: batched.then(|| {
                let steps = self.controller.step_end_cycles();
                steps
                    .iter()
                    .map(|s| s.iter().copied().max().unwrap_or(0))
                    .collect()
            }),
            sequence_step_end_cycles: batched.then(|| self.controller.step_end_cycles().to_vec()),
        })
    }

    pub(super) fn describe_modules(&self) -> Vec<String> {
        vec![
            self.controller.describe(),
            self.qk.describe(),
            self.softmax.describe(),
            self.value_topk.describe(),
            self.pv.describe(),
            format!(
                "fetcher: {} jobs queued, {} addresses queued, next transaction {}; converter waits for transaction {}",
                self.fetcher.queue.len(),
                self.fetcher.queued,
                self.fetcher.next_seq,
                self.converter.next_seq
            ),
        ]
    }
}

/// Gives each job streaming in tiles the room its consumer has freed this cycle.
fn raise_row_limits(
    tiled: &mut std::collections::BTreeMap<usize, super::tiling::TiledJob>,
    jobs: &mut [FetchJob],
    calls: &[HeadCall],
    qk: &QkUnit,
    pv: &PvUnit,
) {
    tiled.retain(|&j, t| {
        let job = &mut jobs[j];
        if job.generation_done() {
            return false;
        }
        match t.wait {
            Some(Wait::Pv(c)) if !pv.finished(c) => return true,
            Some(Wait::QkMsb(c)) if !qk.msb_finished(c) => return true,
            _ => t.wait = None,
        }
        let rows = job.rows();
        let consumed = match t.consumer {
            Consumer::Qk { lsb } => qk.consumed(t.call, lsb, rows),
            Consumer::Pv => pv.consumed_rows(t.call, calls, rows),
        };
        job.row_limit = t.row_limit(consumed);
        true
    });
}
