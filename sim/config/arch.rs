//! The architecture (design point) schema: one struct per TOML table, one table per module.

use serde::{Deserialize, Serialize};

use super::energy::{AreaConfig, EnergyConfig};
use super::error::Checker;
use super::hbm::HbmConfig;

/// A complete accelerator design point (`arch/*.toml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchConfig {
    pub name: String,
    /// Preset name or path this file was layered on; kept for provenance only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    pub clock: ClockConfig,
    pub hbm: HbmConfig,
    pub fetcher: FetcherConfig,
    pub crossbar: CrossbarConfig,
    pub bitwidth_converter: BitwidthConverterConfig,
    pub qk: QkConfig,
    pub softmax: SoftmaxConfig,
    pub requant: RequantConfig,
    pub topk_token: TopkConfig,
    pub topk_value: TopkConfig,
    pub pv: PvConfig,
    pub importance: ImportanceConfig,
    pub controller: ControllerConfig,
    pub energy: EnergyConfig,
    pub area: AreaConfig,
    /// The files this design point was loaded from (not part of its value).
    #[serde(skip)]
    pub origin: super::Origin,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockConfig {
    pub frequency_mhz: f64,
}

/// Address generation and the per-lane FIFOs between the controller and the crossbars.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FetcherConfig {
    pub address_fifos: u32,
    pub address_fifo_depth: u32,
    pub address_fifo_entry_bytes: u32,
    pub data_fifos: u32,
    pub data_fifo_depth: u32,
    pub data_fifo_entry_bytes: u32,
    /// Size of one DRAM read transaction.
    pub transaction_bytes: u32,
    /// Addresses the fetcher can generate per cycle.
    pub addresses_per_cycle: u32,
    /// Channel stagger of the DRAM regions: region r (five per head: K-MSB, K-LSB, V-MSB,
    /// V-LSB, Q) starts (r x this mod channels) transactions past its channel-0 boundary.
    /// 0 starts every region on channel 0, so heads with the same row pattern load the same
    /// channels.
    pub region_offset_transactions: u32,
    /// Tokens per page of a paged K/V layout (sim/hw/fetcher.rs): each (layer, K/V head)
    /// plane is a list of pages taken from one pool in token order; 0 keeps each plane in
    /// one contiguous region.
    #[serde(default)]
    pub kv_page_tokens: u32,
}

impl ArchConfig {
    /// Rows of keys the softmax holds at once for a tiled generation head: one per query
    /// head of an interleaved K/V group (`controller.interleave_group_tiles`, which needs
    /// `qk_waits_for_requant = false`), else one.
    pub fn interleaved_group_rows(&self, heads: u32, kv_heads: u32) -> u32 {
        let c = &self.controller;
        if c.interleave_group_tiles && !c.qk_waits_for_requant && kv_heads > 0 && kv_heads < heads {
            heads / kv_heads
        } else {
            1
        }
    }
}

impl FetcherConfig {
    /// Why a page of `kv_page_tokens` rows of `head_dim` `bits`-bit elements cannot be laid
    /// out: its bytes are not a whole number of transactions (sim/hw/fetcher.rs).
    pub fn page_misfit(&self, head_dim: u32, bits: u32) -> Option<String> {
        let (p, txn) = (self.kv_page_tokens as u64, self.transaction_bytes as u64);
        let page_bits = p * head_dim as u64 * bits as u64;
        if p == 0 || page_bits.is_multiple_of(8 * txn) {
            return None;
        }
        Some(format!(
            "= {p}: a page of {p} tokens of {bits}-bit rows at head_dim {head_dim} is {} B, not a \
             whole number of {txn} B transactions (fetcher.transaction_bytes)",
            page_bits as f64 / 8.0
        ))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arbitration {
    /// The lowest-numbered requesting input wins (as in the public RTL).
    LowerIndexFirst,
    RoundRobin,
}

/// The address crossbar (fetcher lanes -> channels) and the data crossbar (channels -> lanes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossbarConfig {
    pub arbitration: Arbitration,
    /// Requests a channel port accepts per cycle.
    pub requests_per_channel_per_cycle: u32,
    /// Pipeline latency through each crossbar.
    pub latency_cycles: u32,
}

/// Converts DRAM words of the configured MSB/LSB widths to the uniform on-chip width.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BitwidthConverterConfig {
    pub output_bits: u32,
    /// Input bytes the converter consumes per cycle.
    pub input_bytes_per_cycle: u32,
    pub latency_cycles: u32,
}

/// The Q x K unit: multiplier array, reconfigurable adder tree and key SRAM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QkConfig {
    pub multipliers: u32,
    pub multiplier_bits: u32,
    /// Key SRAM capacity, both buffers together.
    pub key_sram_bytes: u64,
    pub double_buffered: bool,
    pub broadcast_latency_cycles: u32,
    pub multiply_latency_cycles: u32,
}

/// The softmax unit: lanes, input FIFO and per-stage latencies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SoftmaxConfig {
    pub lanes: u32,
    pub fifo_depth: u32,
    pub dequant_latency_cycles: u32,
    pub exp_latency_cycles: u32,
    pub accumulate_latency_cycles: u32,
    pub divide_latency_cycles: u32,
    pub quantize_latency_cycles: u32,
    pub output_bits: u32,
    /// Exponentials the unit holds for rows waiting for their sums when a head's keys stream
    /// through the SRAM in tiles (sim/hw/tiling.rs): a generation row of C keys needs C; a
    /// summarization head runs its query rows in blocks of `entries / (2 C)` rows (one block
    /// summing while the previous one leaves). Rows of heads that fit a bank are not bounded
    /// by it.
    #[serde(default = "default_score_buffer_entries")]
    pub score_buffer_entries: u32,
    /// What a tiled generation row with more keys than `score_buffer_entries` does: be
    /// refused (exit 2), or keep the buffer's share of its exponentials on chip and spill
    /// the rest to DRAM, reading them back once its sum is known (sim/hw/spill.rs).
    #[serde(default)]
    pub overflow: ScoreOverflow,
    /// Transactions the spill path buffers each way: writes waiting for the address
    /// crossbar (the softmax input waits while they are full) and read-back transactions
    /// requested and not yet divided. The default, 64 x 32 B, covers the DRAM's latency at
    /// the softmax's 8 elements a cycle (16 makes a 4k-key row latency-bound:
    /// tests/score_spill.rs).
    #[serde(default = "default_spill_buffer_transactions")]
    pub spill_buffer_transactions: u32,
    /// How a summarization head whose K/V stream through the SRAM in tiles gets each row's
    /// sum: "buffered" keeps every exponential of a block of rows until the block's last
    /// tile (exact; blocks of `entries / (2 C)` rows), "two-pass" streams K twice per block,
    /// first summing online (running max and sum over key tiles, SPEC.md 9b), then scoring
    /// again into probabilities, in blocks of `(entries - 2 x key tile rows) / 2` rows.
    #[serde(default)]
    pub tiled_summarization: TiledSummarization,
}

fn default_score_buffer_entries() -> u32 {
    4096
}

fn default_spill_buffer_transactions() -> u32 {
    64
}

/// `softmax.overflow`: the arch choice for generation rows whose exponentials exceed the
/// softmax buffer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScoreOverflow {
    /// Refused by the feasibility checks, naming `softmax.score_buffer_entries`.
    #[default]
    Refuse,
    /// Written to DRAM beyond the buffer's share and read back for the division.
    Spill,
}

/// How a tiled summarization head gets its rows' sums (`softmax.tiled_summarization`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TiledSummarization {
    /// One K and V stream per block of rows whose exponentials the buffer holds: exact.
    #[default]
    Buffered,
    /// Two K streams per block: an online sum, then the probabilities; the block is bounded
    /// by per-row state, and the sum by the online rounding of SPEC.md 9b.
    TwoPass,
}

/// The max-probability check that decides whether LSBs are refetched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequantConfig {
    pub tree_inputs: u32,
    pub tree_latency_cycles: u32,
}

/// One quick-select top-k engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopkConfig {
    /// Comparators in each of the two comparator arrays.
    pub comparators: u32,
    /// Depth of each of the two quick-select FIFOs.
    pub fifo_depth: u32,
    /// Fixed cycles per round on top of ceil(n / comparators).
    pub round_overhead_cycles: u32,
    /// Fixed cycles of the final filter pass on top of ceil(n / comparators).
    pub filter_overhead_cycles: u32,
    /// Candidates the engine holds for one quick-select (its partitions between rounds and
    /// the input its filter pass streams again). Absent: it ranks its candidates in place in
    /// the buffer they come from (the importance accumulators, the softmax buffer), any
    /// number of them. The local-V engine selects from more than it holds hierarchically,
    /// top-k per tile of candidates then over the winners (SPEC.md 6.4, sim/hw/topk.rs),
    /// which needs fewer kept rows than entries; the token engine's must be absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_entries: Option<u32>,
}

/// The probability x V unit: multiplier array, adder trees and value SRAM.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PvConfig {
    pub multipliers: u32,
    pub multiplier_bits: u32,
    pub value_sram_bytes: u64,
    pub double_buffered: bool,
    pub output_bits: u32,
    pub accumulate_latency_cycles: u32,
}

/// On-chip token and head importance score accumulators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportanceConfig {
    pub token_entries: u32,
    pub token_bits: u32,
    pub head_entries: u32,
    pub head_bits: u32,
    /// Scores added per cycle.
    pub adders: u32,
}

/// How the controller sequences heads through the SRAMs and the pipeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControllerConfig {
    /// Head allocations the key/value SRAM buffer manager keeps in flight: a ring of SRAM
    /// rows, each open head holding its K/V rows (the public RTL: 16; 2 = two fixed banks).
    pub buffer_allocations: u32,
    /// Whether the next head's QxK waits for the previous head's requant decision (true), or
    /// runs on while the LSB pass of a refetched head is re-injected with priority and a
    /// reorder buffer restores head order after the requant unit (false, the public RTL).
    pub qk_waits_for_requant: bool,
    /// Whether the local-V top-k engine stays in its filter pass until ProbxV takes its
    /// output (true), or writes one head's kept probabilities into a buffer ProbxV drains and
    /// is free for the next head (false, the public RTL).
    pub local_v_waits_for_pv: bool,
    /// Whether a grouped (GQA) head whose K rows stream through the key SRAM in tiles shares
    /// one stream with its group: QxK scores every query head of the group against a tile
    /// before the next tile comes (true), or each query head streams the group's rows itself,
    /// one head after the other as the paper's datapath runs heads (false). Needs
    /// `qk_waits_for_requant = false`; absent = false.
    #[serde(default)]
    pub interleave_group_tiles: bool,
}

impl ArchConfig {
    /// Range and consistency checks; violations carry dotted key paths.
    pub(crate) fn check(&self, c: &mut Checker) {
        if self.name.trim().is_empty() {
            c.fail("name", "must not be empty");
        }
        c.range_f64(
            "clock.frequency_mhz",
            self.clock.frequency_mhz,
            1.0,
            10_000.0,
            true,
        );
        self.hbm.check(c);

        let f = &self.fetcher;
        for (key, v) in [
            ("fetcher.address_fifos", f.address_fifos),
            ("fetcher.address_fifo_depth", f.address_fifo_depth),
            (
                "fetcher.address_fifo_entry_bytes",
                f.address_fifo_entry_bytes,
            ),
            ("fetcher.data_fifos", f.data_fifos),
            ("fetcher.data_fifo_depth", f.data_fifo_depth),
            ("fetcher.data_fifo_entry_bytes", f.data_fifo_entry_bytes),
            ("fetcher.addresses_per_cycle", f.addresses_per_cycle),
        ] {
            c.nonzero(key, v as u64);
        }
        c.nonzero("fetcher.transaction_bytes", f.transaction_bytes as u64);
        c.power_of_two("fetcher.transaction_bytes", f.transaction_bytes as u64);
        if f.transaction_bytes > self.hbm.burst_bytes() {
            c.fail(
                "fetcher.transaction_bytes",
                format!("exceeds one HBM burst ({} B)", self.hbm.burst_bytes()),
            );
        }
        c.nonzero(
            "crossbar.requests_per_channel_per_cycle",
            self.crossbar.requests_per_channel_per_cycle as u64,
        );

        let b = &self.bitwidth_converter;
        c.range_u64(
            "bitwidth_converter.output_bits",
            b.output_bits as u64,
            4,
            16,
        );
        c.nonzero(
            "bitwidth_converter.input_bytes_per_cycle",
            b.input_bytes_per_cycle as u64,
        );

        check_multiplier_array(
            c,
            "qk",
            self.qk.multipliers,
            self.qk.multiplier_bits,
            b.output_bits,
        );
        c.nonzero("qk.key_sram_bytes", self.qk.key_sram_bytes);
        check_multiplier_array(
            c,
            "pv",
            self.pv.multipliers,
            self.pv.multiplier_bits,
            b.output_bits,
        );
        c.nonzero("pv.value_sram_bytes", self.pv.value_sram_bytes);
        c.range_u64("pv.output_bits", self.pv.output_bits as u64, 4, 32);

        let s = &self.softmax;
        c.nonzero("softmax.lanes", s.lanes as u64);
        c.power_of_two("softmax.lanes", s.lanes as u64);
        c.nonzero("softmax.fifo_depth", s.fifo_depth as u64);
        c.nonzero(
            "softmax.score_buffer_entries",
            s.score_buffer_entries as u64,
        );
        c.range_u64("softmax.output_bits", s.output_bits as u64, 4, 16);
        c.nonzero(
            "softmax.spill_buffer_transactions",
            s.spill_buffer_transactions as u64,
        );
        if s.overflow == ScoreOverflow::Spill
            && self.fetcher.transaction_bytes * 8 < super::tiles::SPILL_EXP_BITS
        {
            c.fail(
                "softmax.overflow",
                format!(
                    "= \"spill\" writes {}-bit exponentials in fetcher transactions, which are \
                     {} B (fetcher.transaction_bytes)",
                    super::tiles::SPILL_EXP_BITS,
                    self.fetcher.transaction_bytes
                ),
            );
        }

        c.nonzero("requant.tree_inputs", self.requant.tree_inputs as u64);
        c.power_of_two("requant.tree_inputs", self.requant.tree_inputs as u64);

        for (table, t) in [
            ("topk_token", &self.topk_token),
            ("topk_value", &self.topk_value),
        ] {
            c.nonzero(&format!("{table}.comparators"), t.comparators as u64);
            c.power_of_two(&format!("{table}.comparators"), t.comparators as u64);
            c.nonzero(&format!("{table}.fifo_depth"), t.fifo_depth as u64);
            if t.fifo_depth < t.comparators {
                c.fail(
                    &format!("{table}.fifo_depth"),
                    "must hold at least one comparator batch",
                );
            }
        }
        if self.topk_token.candidate_entries.is_some() {
            c.fail(
                "topk_token.candidate_entries",
                "is not modelled: the token and head engine ranks the importance accumulators \
                 in place (their size is importance.token_entries); remove the key",
            );
        }
        if let Some(e) = self.topk_value.candidate_entries
            && (e < 2 || e < self.topk_value.comparators)
        {
            c.fail(
                "topk_value.candidate_entries",
                format!(
                    "= {e}: must hold at least 2 candidates and one comparator batch \
                     (topk_value.comparators = {})",
                    self.topk_value.comparators
                ),
            );
        }

        for (key, reason) in self.fifo_beat_violations(None) {
            c.fail(&key, reason);
        }

        let i = &self.importance;
        c.nonzero("importance.token_entries", i.token_entries as u64);
        c.nonzero("importance.head_entries", i.head_entries as u64);
        c.range_u64("importance.token_bits", i.token_bits as u64, 8, 64);
        c.range_u64("importance.head_bits", i.head_bits as u64, 8, 64);
        c.nonzero("importance.adders", i.adders as u64);
        c.nonzero(
            "controller.buffer_allocations",
            self.controller.buffer_allocations as u64,
        );
        self.check_bounds(c);
        self.check_cross_module(c);
        self.energy.check(c);
        self.area.check(c);
    }

    /// Upper bounds on every count, size and latency: what a buildable accelerator has, with
    /// room to spare, and what keeps the simulator's own tables (one histogram entry per
    /// FIFO slot, one queue per bank) within a workstation's memory.
    fn check_bounds(&self, c: &mut Checker) {
        const LANES: &str = "a wider array than any accelerator of this kind";
        const DEPTH: &str = "the simulator keeps an occupancy histogram per FIFO slot";
        const LATENCY: &str = "cycles; longer pipelines than this are not hardware";
        const SRAM: &str = "4 GiB of on-chip SRAM";
        let f = &self.fetcher;
        for (key, v, max, why) in [
            ("fetcher.address_fifos", f.address_fifos, 1024, LANES),
            ("fetcher.data_fifos", f.data_fifos, 1024, LANES),
            (
                "fetcher.address_fifo_depth",
                f.address_fifo_depth,
                65_536,
                DEPTH,
            ),
            ("fetcher.data_fifo_depth", f.data_fifo_depth, 65_536, DEPTH),
            (
                "fetcher.address_fifo_entry_bytes",
                f.address_fifo_entry_bytes,
                4096,
                "bytes per entry",
            ),
            (
                "fetcher.data_fifo_entry_bytes",
                f.data_fifo_entry_bytes,
                4096,
                "bytes per entry",
            ),
            (
                "fetcher.addresses_per_cycle",
                f.addresses_per_cycle,
                4096,
                LANES,
            ),
            (
                "fetcher.region_offset_transactions",
                f.region_offset_transactions,
                65_535,
                "transactions (taken modulo hbm.channels)",
            ),
            (
                "fetcher.kv_page_tokens",
                f.kv_page_tokens,
                crate::config::workload::MAX_TOKENS as u64,
                "tokens per page (0: contiguous K/V regions)",
            ),
            (
                "crossbar.requests_per_channel_per_cycle",
                self.crossbar.requests_per_channel_per_cycle,
                64,
                "requests per channel port per cycle",
            ),
            (
                "crossbar.latency_cycles",
                self.crossbar.latency_cycles,
                65_535,
                LATENCY,
            ),
            (
                "bitwidth_converter.input_bytes_per_cycle",
                self.bitwidth_converter.input_bytes_per_cycle,
                65_536,
                LANES,
            ),
            (
                "bitwidth_converter.latency_cycles",
                self.bitwidth_converter.latency_cycles,
                65_535,
                LATENCY,
            ),
            ("qk.multipliers", self.qk.multipliers, 65_536, LANES),
            ("qk.multiplier_bits", self.qk.multiplier_bits, 64, "bits"),
            (
                "qk.broadcast_latency_cycles",
                self.qk.broadcast_latency_cycles,
                65_535,
                LATENCY,
            ),
            (
                "qk.multiply_latency_cycles",
                self.qk.multiply_latency_cycles,
                65_535,
                LATENCY,
            ),
            ("softmax.lanes", self.softmax.lanes, 4096, LANES),
            ("softmax.fifo_depth", self.softmax.fifo_depth, 65_536, DEPTH),
            (
                "softmax.score_buffer_entries",
                self.softmax.score_buffer_entries,
                1 << 20,
                "exponentials held",
            ),
            (
                "softmax.spill_buffer_transactions",
                self.softmax.spill_buffer_transactions,
                65_536,
                "transactions buffered",
            ),
            (
                "softmax.dequant_latency_cycles",
                self.softmax.dequant_latency_cycles,
                65_535,
                LATENCY,
            ),
            (
                "softmax.exp_latency_cycles",
                self.softmax.exp_latency_cycles,
                65_535,
                LATENCY,
            ),
            (
                "softmax.accumulate_latency_cycles",
                self.softmax.accumulate_latency_cycles,
                65_535,
                LATENCY,
            ),
            (
                "softmax.divide_latency_cycles",
                self.softmax.divide_latency_cycles,
                65_535,
                LATENCY,
            ),
            (
                "softmax.quantize_latency_cycles",
                self.softmax.quantize_latency_cycles,
                65_535,
                LATENCY,
            ),
            ("requant.tree_inputs", self.requant.tree_inputs, 4096, LANES),
            (
                "requant.tree_latency_cycles",
                self.requant.tree_latency_cycles,
                65_535,
                LATENCY,
            ),
            ("pv.multipliers", self.pv.multipliers, 65_536, LANES),
            ("pv.multiplier_bits", self.pv.multiplier_bits, 64, "bits"),
            (
                "pv.accumulate_latency_cycles",
                self.pv.accumulate_latency_cycles,
                65_535,
                LATENCY,
            ),
            (
                "importance.token_entries",
                self.importance.token_entries,
                1 << 20,
                "entries; workloads reach at most 131072 tokens",
            ),
            (
                "importance.head_entries",
                self.importance.head_entries,
                4096,
                "entries",
            ),
            ("importance.adders", self.importance.adders, 4096, LANES),
            (
                "controller.buffer_allocations",
                self.controller.buffer_allocations,
                4096,
                "allocations in flight; the public RTL keeps 16",
            ),
        ] {
            c.at_most(key, v as u64, max, why);
        }
        c.at_most("qk.key_sram_bytes", self.qk.key_sram_bytes, 1 << 32, SRAM);
        c.at_most(
            "pv.value_sram_bytes",
            self.pv.value_sram_bytes,
            1 << 32,
            SRAM,
        );
        for (table, t) in [
            ("topk_token", &self.topk_token),
            ("topk_value", &self.topk_value),
        ] {
            c.at_most(
                &format!("{table}.comparators"),
                t.comparators as u64,
                4096,
                LANES,
            );
            c.at_most(
                &format!("{table}.fifo_depth"),
                t.fifo_depth as u64,
                1 << 20,
                DEPTH,
            );
            if let Some(e) = t.candidate_entries {
                c.at_most(
                    &format!("{table}.candidate_entries"),
                    e as u64,
                    1 << 24,
                    DEPTH,
                );
            }
            for (k, v) in [
                ("round_overhead_cycles", t.round_overhead_cycles),
                ("filter_overhead_cycles", t.filter_overhead_cycles),
            ] {
                c.at_most(&format!("{table}.{k}"), v as u64, 65_535, LATENCY);
            }
        }
    }

    /// What one module assumes about another's parameters.
    fn check_cross_module(&self, c: &mut Checker) {
        if self.controller.interleave_group_tiles && self.controller.qk_waits_for_requant {
            // The group's first head decides only after its last tile, which the other heads'
            // QxK must have scored: waiting for the decision first would never end.
            c.fail(
                "controller.interleave_group_tiles",
                "needs controller.qk_waits_for_requant = false (the next head's QxK cannot \
                 wait for a decision that comes after the whole group's tiles)",
            );
        }
        let f = &self.fetcher;
        // The data crossbar returns a transaction to the lane that issued it: transaction s
        // uses address lane s mod address_fifos and data lane s mod data_fifos, and a data
        // FIFO's slots are in issue order only when the two are the same lane.
        if f.data_fifos != f.address_fifos && f.data_fifos != 0 && f.address_fifos != 0 {
            c.fail(
                "fetcher.data_fifos",
                format!(
                    "= {}: must equal fetcher.address_fifos = {} (the data crossbar returns each \
                     transaction to the lane that issued it)",
                    f.data_fifos, f.address_fifos
                ),
            );
        }
        if f.data_fifo_entry_bytes != 0 && f.transaction_bytes != 0 {
            let per_txn = f.transaction_bytes.div_ceil(f.data_fifo_entry_bytes);
            if per_txn > f.data_fifo_depth && f.data_fifo_depth != 0 {
                c.fail(
                    "fetcher.data_fifo_depth",
                    format!(
                        "= {}: a {} B transaction takes {per_txn} entries of {} B, more than a \
                         data FIFO holds",
                        f.data_fifo_depth, f.transaction_bytes, f.data_fifo_entry_bytes
                    ),
                );
            }
        }
    }

    /// Producers whose beat is wider than the FIFO it feeds: such a beat never fits, so the
    /// pipeline would deadlock (the watchdog fires). Each entry is (key, reason). The QxK
    /// beat, `multipliers / head_dim` scores, depends on the trace: it is checked when
    /// `head_dim` is given (at simulation), the others always (also by `config check`).
    pub fn fifo_beat_violations(&self, head_dim: Option<u32>) -> Vec<(String, String)> {
        let s = &self.softmax;
        let mut out = Vec::new();
        // The softmax output stage pushes `lanes` probabilities per beat into the probability
        // FIFOs, which are softmax.fifo_depth deep.
        if s.lanes > s.fifo_depth {
            out.push((
                "softmax.lanes".into(),
                format!(
                    "{} lanes push more probabilities per beat than the softmax FIFOs hold \
                     (softmax.fifo_depth = {})",
                    s.lanes, s.fifo_depth
                ),
            ));
        }
        // The requant unit forwards min(tree_inputs, lanes) probabilities per beat to the
        // local-V engine's input FIFO (topk_value.fifo_depth deep).
        let requant_beat = self.requant.tree_inputs.min(s.lanes);
        if self.topk_value.fifo_depth < requant_beat {
            out.push((
                "topk_value.fifo_depth".into(),
                format!(
                    "{} is below the requant unit's beat of {requant_beat} probabilities \
                     (min(requant.tree_inputs = {}, softmax.lanes = {}))",
                    self.topk_value.fifo_depth, self.requant.tree_inputs, s.lanes
                ),
            ));
        }
        // The local-V engine's filter pass emits `comparators` probabilities per beat into
        // the ProbxV FIFO (softmax.fifo_depth deep).
        if self.topk_value.comparators > s.fifo_depth {
            out.push((
                "topk_value.comparators".into(),
                format!(
                    "{} comparators take more probabilities per beat than the softmax FIFOs \
                     hold (softmax.fifo_depth = {})",
                    self.topk_value.comparators, s.fifo_depth
                ),
            ));
        }
        // The QxK unit pushes multipliers / head_dim scores per beat into the score FIFO.
        if let Some(d) = head_dim.filter(|&d| d > 0) {
            let beat = self.qk.multipliers / d;
            if beat > s.fifo_depth {
                out.push((
                    "softmax.fifo_depth".into(),
                    format!(
                        "{} is below the QxK beat of {beat} scores (qk.multipliers = {} / \
                         head_dim {d}), which the score FIFO must take at once",
                        s.fifo_depth, self.qk.multipliers
                    ),
                ));
            }
        }
        out
    }

    /// Clock period in ns.
    pub fn cycle_ns(&self) -> f64 {
        1000.0 / self.clock.frequency_mhz
    }

    /// Scores the QxK unit produces per cycle for head dimension `head_dim`.
    pub fn qk_scores_per_cycle(&self, head_dim: u32) -> u32 {
        (self.qk.multipliers / head_dim).max(1)
    }
}

fn check_multiplier_array(
    c: &mut Checker,
    table: &str,
    multipliers: u32,
    bits: u32,
    word_bits: u32,
) {
    let key = format!("{table}.multipliers");
    c.nonzero(&key, multipliers as u64);
    c.power_of_two(&key, multipliers as u64);
    if bits < word_bits {
        c.fail(
            &format!("{table}.multiplier_bits"),
            format!("must be at least bitwidth_converter.output_bits = {word_bits}"),
        );
    }
}
