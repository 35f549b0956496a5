//! The cycle-level simulator: hardware modules that replay an attention trace, cycle by
//! cycle, over any [`Dram`] back-end.
//!
//! Modules (one file each) talk through bounded FIFOs with ready/valid semantics and are
//! stepped consumer-first every cycle, so an item pushed in cycle t is seen downstream in
//! t + 1. Time comes from module throughputs, pipeline latencies, FIFO occupancy and DRAM
//! responses. When a whole cycle changes nothing, the simulator jumps to the next cycle in
//! which something can change (a pipeline output, a timer, a DRAM event): every skipped
//! cycle would have been identical, so statistics are exact (`fast_forward` on or off gives
//! identical results, which a test checks). Likewise, when only the streaming units work and
//! each would repeat its last cycle's beat, the run of identical cycles up to the first
//! boundary is applied at once ([`stride`]).
//!
//! Granularity: one 32 B transaction, one score / probability beat, one SRAM row.
//!
//! Modelling decisions (each also stated in the module that makes it):
//! - Address layout: see [`fetcher`]; per (layer, head) five regions K-MSB, K-LSB, V-MSB,
//!   V-LSB, Q; packed rows; each distinct 32 B transaction covering a job's rows is fetched
//!   once.
//! - A head whose K (V) rows exceed one key (value) SRAM bank (half the SRAM when
//!   double-buffered) streams them through the SRAM in tiles of one bank ([`tiling`]): in
//!   generation one query row at a time, in summarization in blocks of query rows that the
//!   softmax buffer (`softmax.score_buffer_entries`) holds, each block streaming K and V once;
//!   what a design point cannot run that way is rejected with a typed error naming the key.
//! - Grouped K/V heads: one fetch of a K/V head's rows (the union of what its query heads
//!   keep) serves the group, whose query heads are each scored against that union
//!   ([`gqa`]).
//! - Crossbar latencies are charged on the response path ([`crossbar`]).
//! - The softmax unit holds the exponentials of rows waiting for their sum; for heads that
//!   fit a bank without a capacity limit (their rows in flight are bounded by the stage
//!   latencies), for tiled heads `softmax.score_buffer_entries` sizes the rows it holds (see
//!   above); the probability FIFOs after it use `softmax.fifo_depth` ([`softmax`],
//!   [`machine`]). A tiled generation row longer than its share of the buffer is refused,
//!   or, with `softmax.overflow = "spill"`, writes the rest of its exponentials to DRAM
//!   through the address crossbar and reads them back for the division ([`spill`]).
//! - Causal summarization: every query row is scored against all of the head's keys (the
//!   trace does not record per-row visibility), as hardware computing the masked matrix
//!   would.
//! - FC layers are not modelled; only token/head top-k calls delay the next layer
//!   ([`controller`]).
//! - Requant, importance and the local-V top-k see the probability stream in the same cycle
//!   through the requant unit's fan-out ([`requant`]).
//! - Local V pruning requests the kept V rows when the top-k engine's filter pass starts,
//!   not when the call ends: the filter feeds ProbxV, which needs those rows ([`topk`]).
//! - PV has no broadcast/multiply latency parameters: its pipeline is its adder tree plus the
//!   accumulator ([`pv`]).
//! - Heads open into a ring of SRAM rows with `controller.buffer_allocations` allocations
//!   ([`buffer_ring`]); QxK may run past a pending requant decision, order restored by the
//!   requant unit's reorder buffer ([`requant`]); the local-V engine may hand its kept
//!   probabilities to a one-head buffer ([`topk`]). ProbxV always sees heads whole and in
//!   call order: a beat from the requant unit waits while the local-V engine still holds an
//!   earlier head's probabilities.

pub mod bitwidth_converter;
pub mod buffer_ring;
pub mod controller;
pub mod crossbar;
pub mod dense_trace;
pub mod error;
pub mod fetcher;
pub mod fifo;
pub mod gqa;
pub mod importance;
pub mod machine;
pub mod policy_cost;
pub mod pv;
pub mod qk;
pub mod requant;
pub mod softmax;
pub mod spill;
pub mod stats;
pub mod stride;
pub mod tiling;
pub mod topk;
pub mod validate;
pub mod watchdog;

pub use dense_trace::dense_trace;
pub use error::SimError;
pub use stats::SimStats;

use crate::config::ArchConfig;
use crate::dram::Dram;
use crate::trace::attention::AttentionTrace;

/// Run options that do not change the modelled hardware.
#[derive(Debug, Clone, PartialEq)]
pub struct SimOptions {
    /// Skip cycles in which nothing can change (exact; off only to cross-check).
    pub fast_forward: bool,
    /// Keep per-module busy intervals in `SimStats::timeline`.
    pub timeline: bool,
    /// Cycles without any progress after which the run fails with [`SimError::Stalled`].
    pub watchdog_cycles: u64,
    /// Fault injection for tests: DRAM completions of these transaction numbers are lost.
    pub drop_responses: Vec<u64>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            fast_forward: true,
            timeline: false,
            watchdog_cycles: 1_000_000,
            drop_responses: Vec::new(),
        }
    }
}

/// A group of probabilities or scores of one head call's pass; its element count travels in
/// the FIFO entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunk {
    pub call: u32,
    /// Whether it belongs to the recompute with merged MSB+LSB values.
    pub lsb: bool,
    /// The query block of a tiled summarization call ([`tiling::Blocks`]), whose rows the
    /// softmax sums as one; 0 otherwise.
    pub block: u32,
    /// Scores of a two-pass block's first pass: the softmax sums them and emits nothing
    /// (the second pass's scores become the probabilities).
    pub sum_only: bool,
}

impl fifo::Split for Chunk {
    fn split_front(&mut self, _n: u32) -> Self {
        *self
    }
}

/// Replays `trace` through the design point `arch` over `dram`, returning the statistics.
pub fn simulate(
    arch: &ArchConfig,
    trace: &AttentionTrace,
    dram: &mut dyn Dram,
    options: &SimOptions,
) -> Result<SimStats, SimError> {
    validate::check_group_keys(arch, trace)?;
    // Grouped K/V heads: the datapath runs each group on the union of its rows.
    let shared = gqa::shared_view(trace);
    validate::check(arch, &shared, dram)?;
    let mut stats = machine::Machine::new(arch, &shared, options).run(dram)?;
    let plan = tiling::TilePlan::new(arch, trace.header.head_dim);
    stats.tiling = tiling::stats(&shared, &plan);
    let interleaved =
        arch.controller.interleave_group_tiles && !arch.controller.qk_waits_for_requant;
    stats.gqa = gqa::stats(
        trace,
        &plan,
        arch.fetcher.transaction_bytes as u64,
        interleaved,
    );
    Ok(stats)
}
