//! DRAM back-ends behind one trait, so the pipeline runs on any of them.
//!
//! Time is counted in memory clock cycles (tCK from the arch's `[hbm]` table); the simulator
//! converts to accelerator cycles.

pub mod backend;
pub mod checker;
pub mod command_log;
#[cfg(feature = "dramsim3")]
pub mod dramsim3;
pub mod hbm;
pub mod simple;

use serde::{Deserialize, Serialize};

/// One read or write of `bytes` (one fetcher transaction) at a byte address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DramRequest {
    /// Caller's tag, returned on completion.
    pub id: u64,
    pub addr: u64,
    pub is_write: bool,
}

/// Counters every back-end reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DramStats {
    pub cycles: u64,
    pub reads: u64,
    pub writes: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub activations: u64,
    pub precharges: u64,
    pub refreshes: u64,
    pub row_hits: u64,
    pub row_misses: u64,
    pub row_conflicts: u64,
    /// Sum over completed requests of (completion - arrival) cycles.
    pub total_latency_cycles: u64,
    pub max_latency_cycles: u64,
    /// Requests completed (returned to the caller).
    #[serde(default)]
    pub completed: u64,
    /// Sum over cycles of the requests queued or in flight (mean = this / cycles).
    #[serde(default)]
    pub queue_occupancy_sum: u64,
    #[serde(default)]
    pub max_queue_occupancy: u64,
    /// Completed requests by latency: bucket i counts latencies in
    /// [i * bucket, (i + 1) * bucket); the last bucket also holds everything above.
    #[serde(default)]
    pub latency_histogram: Vec<u64>,
    #[serde(default)]
    pub latency_histogram_bucket_cycles: u64,
    /// The command-level model's counters per channel (empty for the other back-ends).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub per_channel: Vec<ChannelStats>,
}

/// One channel's share of [`DramStats`]: where the bandwidth went and how well each
/// channel's rows were reused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChannelStats {
    pub channel: u32,
    pub reads: u64,
    pub writes: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
    pub activations: u64,
    pub row_hits: u64,
    pub row_misses: u64,
    pub row_conflicts: u64,
}

impl ChannelStats {
    /// Column accesses that found their row open, over all column accesses.
    pub fn row_hit_rate(&self) -> f64 {
        let n = self.row_hits + self.row_misses + self.row_conflicts;
        if n == 0 {
            0.0
        } else {
            self.row_hits as f64 / n as f64
        }
    }
}

/// A cycle-driven memory model.
pub trait Dram {
    /// Channel that serves `addr` (the crossbars route by it).
    fn channel_of(&self, addr: u64) -> u32;
    /// Whether a request to `addr` would be accepted now (its channel queue has room).
    fn can_accept(&self, addr: u64, is_write: bool) -> bool;
    /// Queues a request; callers check `can_accept` first. Returns the request back if full.
    fn enqueue(&mut self, req: DramRequest) -> Result<(), DramRequest>;
    /// Advances one memory cycle, appending the ids of requests that completed in it.
    fn tick(&mut self, done: &mut Vec<u64>);
    /// The current memory cycle.
    fn cycle(&self) -> u64;
    /// The smallest cycle `c > cycle()` such that `advance_to(c)` may complete a request or
    /// change state that matters to the caller, or `None` when nothing is in flight. Nothing
    /// observable happens in `advance_to(c - 1)`, so the simulator can skip idle cycles exactly.
    fn next_event(&self) -> Option<u64>;
    /// Advances to `cycle` (>= the current one) as if `tick` were called repeatedly;
    /// back-ends may jump over cycles in which nothing happens.
    fn advance_to(&mut self, cycle: u64, done: &mut Vec<u64>) {
        while self.cycle() < cycle {
            self.tick(done);
        }
    }
    /// Requests queued or in flight.
    fn pending(&self) -> usize;
    fn stats(&self) -> DramStats;
    /// The statistics at the end of a run, when everything has completed: [`Dram::stats`],
    /// plus what a back-end only learns by finishing (DRAMsim3's command counters).
    fn final_stats(&mut self) -> Result<DramStats, backend::DramError> {
        Ok(self.stats())
    }
    /// Bytes moved by one request.
    fn request_bytes(&self) -> u32;
}
