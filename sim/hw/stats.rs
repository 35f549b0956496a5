//! Statistics of one simulation: serialized with a stable field order (structs in declaration
//! order, maps sorted by name) so that equal runs give equal bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dram::DramStats;

/// What a module did in one cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Idle,
    /// Moved data, or holds data in its pipeline.
    Busy,
    /// Has work but its input (data, SRAM rows, a decision) is not there.
    StalledInput,
    /// Has work but the next FIFO has no room.
    StalledOutput,
}

impl Activity {
    /// A unit whose input is empty: stalled when it is partway through its work, busy while
    /// its pipeline still holds results, idle otherwise.
    pub fn without_input(partway: bool, holding: bool) -> Self {
        if partway {
            Activity::StalledInput
        } else if holding {
            Activity::Busy
        } else {
            Activity::Idle
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModuleStats {
    pub busy_cycles: u64,
    pub stalled_input_cycles: u64,
    pub stalled_output_cycles: u64,
    pub idle_cycles: u64,
}

/// A module's per-cycle classification, plus its busy intervals when a timeline is kept.
#[derive(Debug, Clone, Default)]
pub struct ModuleCounters {
    pub stats: ModuleStats,
    timeline: Option<Vec<(u64, u64)>>,
    busy_since: Option<u64>,
}

impl ModuleCounters {
    pub fn new(timeline: bool) -> Self {
        Self {
            timeline: timeline.then(Vec::new),
            ..Self::default()
        }
    }

    /// Records `count` consecutive cycles starting at `now` with the same activity.
    pub fn record(&mut self, now: u64, activity: Activity, count: u64) {
        match activity {
            Activity::Idle => self.stats.idle_cycles += count,
            Activity::Busy => self.stats.busy_cycles += count,
            Activity::StalledInput => self.stats.stalled_input_cycles += count,
            Activity::StalledOutput => self.stats.stalled_output_cycles += count,
        }
        if let Some(timeline) = &mut self.timeline {
            match (activity == Activity::Busy, self.busy_since) {
                (true, None) => self.busy_since = Some(now),
                (false, Some(start)) => {
                    timeline.push((start, now));
                    self.busy_since = None;
                }
                _ => {}
            }
        }
    }

    /// Busy intervals `[start, end)` in cycles, closing an open one at `end`.
    pub fn intervals(&self, end: u64) -> Option<Vec<(u64, u64)>> {
        let mut t = self.timeline.clone()?;
        if let Some(start) = self.busy_since {
            t.push((start, end));
        }
        Some(t)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FifoStats {
    /// In elements (scores, probabilities, 16 B data entries, addresses).
    pub capacity: u32,
    pub max_occupancy: u32,
    /// Occupancy when the run ended (0 for a run that drained).
    pub final_occupancy: u32,
    /// (occupancy, cycles spent at it), ascending, zero-cycle occupancies left out.
    pub occupancy_cycles: Vec<(u32, u64)>,
}

/// DRAM bytes per tensor plane.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TensorBytes {
    pub q: u64,
    pub k_msb: u64,
    pub k_lsb: u64,
    pub v_msb: u64,
    pub v_lsb: u64,
}

/// DRAM bytes per reason for fetching.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CauseBytes {
    /// Query rows of each head call.
    pub query: u64,
    /// The MSB planes of the surviving K rows and the kept V rows.
    pub msb_fetch: u64,
    /// LSB planes fetched after the requant decision (progressive quantization).
    pub lsb_refetch: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DramTraffic {
    pub bytes_read: u64,
    pub transactions: u64,
    pub bytes_by_tensor: TensorBytes,
    pub bytes_by_cause: CauseBytes,
    /// The softmax's score spill (`softmax.overflow = "spill"`, sim/hw/spill.rs), apart from
    /// the fetcher's reads above; absent when nothing spilled.
    #[serde(default, skip_serializing_if = "super::spill::SpillTraffic::is_zero")]
    pub score_spill: super::spill::SpillTraffic,
    /// The back-end's own counters (its cycles are memory cycles).
    pub backend: DramStats,
}

impl DramTraffic {
    /// Every byte between the chip and the DRAM: the fetcher's reads and the score spill's
    /// writes and reads.
    pub fn bytes_moved(&self) -> u64 {
        self.bytes_read + self.score_spill.bytes_written + self.score_spill.bytes_read
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopkStats {
    /// Busy cycles of both engines.
    pub cycles: u64,
    pub token_engine_cycles: u64,
    pub value_engine_cycles: u64,
    pub token_calls: u64,
    pub head_calls: u64,
    pub value_calls: u64,
    /// Elements streamed through the comparator arrays of both engines: per call, every
    /// recorded round's n_r elements through both arrays (2 x n_r), plus the filter pass's n
    /// ([`topk_call_comparisons`](super::topk::topk_call_comparisons)). For the energy model.
    #[serde(default)]
    pub comparisons: u64,
    #[serde(default)]
    pub token_engine_comparisons: u64,
    #[serde(default)]
    pub value_engine_comparisons: u64,
}

/// Key and value SRAM traffic in bits, for the energy model. On-chip rows hold
/// `bitwidth_converter.output_bits` per element whatever the DRAM plane width, so a row
/// loaded into SRAM writes `head_dim x output_bits` bits; an LSB refetch rewrites the row
/// with the merged values (another `head_dim x output_bits`). QxK reads one key row per
/// score it computes (on both passes of a refetched head); ProbxV reads one value row per
/// probability it consumes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SramStats {
    pub key_write_bits: u64,
    pub key_read_bits: u64,
    pub value_write_bits: u64,
    pub value_read_bits: u64,
}

/// One busy interval of one module, in cycles, for a Perfetto / Chrome trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusyInterval {
    pub module: String,
    pub start_cycle: u64,
    pub end_cycle: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SimStats {
    pub cycles: u64,
    pub seconds: f64,
    pub frequency_mhz: f64,
    /// Operations executed: 2 per multiply-accumulate of QxK and ProbxV (softmax, top-k and
    /// importance additions are not counted, as in the paper's throughput).
    pub ops: u64,
    pub gops: f64,
    /// Operations of the dense, unpruned attention of the trace's shape (all tokens, all
    /// heads), which is how the paper counts throughput.
    pub effective_ops: u64,
    pub effective_gops: f64,
    pub head_calls: u64,
    pub lsb_refetches: u64,
    pub qk_macs: u64,
    pub pv_macs: u64,
    pub scores: u64,
    pub probabilities: u64,
    pub importance_additions: u64,
    pub dram: DramTraffic,
    pub topk: TopkStats,
    #[serde(default)]
    pub sram: SramStats,
    pub modules: BTreeMap<String, ModuleStats>,
    pub fifos: BTreeMap<String, FifoStats>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Vec<BusyInterval>>,
    /// K/V sharing within groups of query heads; only for traces with grouped K/V heads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gqa: Option<super::gqa::GqaStats>,
    /// Head calls that streamed K/V through the SRAM in tiles; only when some did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiling: Option<super::tiling::TilingStats>,
    /// Per sequence of a batch (`stage.batch`; absent for one): the cycle its last head
    /// closed or its last layer record finished, i.e. when its tokens were done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_end_cycles: Option<Vec<u64>>,
    /// Per sequence of a batch and iteration (0 = the prompt pass, 0 when not run): when
    /// that step was done, for the latency of each token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_step_end_cycles: Option<Vec<Vec<u64>>>,
}
