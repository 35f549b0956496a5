//! The fetcher: turns the trace's row indices into 32 B DRAM transactions, in order, into
//! per-lane address FIFOs; owns the per-lane data FIFOs the responses land in.
//!
//! Address layout (documented contract, see README of hw): every (layer, head) owns five
//! regions in the order K-MSB, K-LSB, V-MSB, V-LSB, Q, each `tokens x head_dim x 16 bit`
//! rounded up to `channels x transaction_bytes`, so every region starts on channel 0, unless
//! `fetcher.region_offset_transactions` = s > 0: then region r (counted over all heads in
//! this order) starts (r x s mod channels) transactions later and each region is one
//! `channels x transaction_bytes` stripe longer, so regions never overlap. Inside
//! a region, row `t` (a token index, or a query row) of a plane stored with `b` bits per
//! element occupies bits `[t x D x b, (t + 1) x D x b)`, packed. A job fetches the distinct
//! transactions covering its rows once, in ascending address order (rows narrower than a
//! transaction share it).
//!
//! Paged K/V (`fetcher.kv_page_tokens` = P > 0), as a vLLM-style paged KV cache holding
//! one sequence keeps it: each layer's K-MSB (K-LSB, V-MSB, V-LSB) plane is one array of
//! `pages x kv_heads` page slots, page-major, where slot (p, h) holds tokens [pP, (p + 1)P)
//! of K/V head h and pages = ceil(tokens / P) (a fresh pool, so physical pages follow the
//! logical ones). Arrays follow each other in the order (layer, plane) from address 0, so
//! slot (layer, plane, p, h) is number `k = ((layer x 4 + plane) x pages + p) x kv_heads + h`.
//! A slot is `P x head_dim x w` bits, w the widest K/V plane the trace fetches, rounded up to
//! a transaction (plus one `channels x transaction_bytes` stripe when staggered) and starts at `k x slot bytes` (plus `k x s mod
//! channels` transactions when staggered). Inside a page the plane's P rows are packed as in
//! a region, so a page holds `P x D x b / 8` bytes, which must be a whole number of
//! transactions (checked, `fetcher.kv_page_tokens`): transaction i of a plane's packed rows
//! is transaction `i mod t` of page `i / t`, t = P x D x b / 8 / transaction_bytes, and a
//! job moves the same transactions as with contiguous regions, only at other addresses
//! (consecutive pages of a head are `kv_heads` slots apart). The Q regions follow the pages,
//! one per (layer, query head), laid out as above.
//!
//! A batch of B sequences (`stage.batch`) keeps B KV caches: sequence s's layer l takes the
//! place of layer `s x layers + l` in all of the above (so the arrays of `layers x B` layers
//! follow each other), its Q regions likewise.

use std::collections::VecDeque;

use super::fifo::{Fifo, Split};
use super::stats::Activity;
use crate::dram::Dram;
use crate::trace::attention::AttentionTrace;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tensor {
    KMsb = 0,
    KLsb = 1,
    VMsb = 2,
    VLsb = 3,
    Q = 4,
}

const REGIONS_PER_HEAD: u64 = 5;
/// K-MSB, K-LSB, V-MSB, V-LSB: the planes of a K/V head that a paged layout pages.
const KV_PLANES: u64 = 4;
/// Region rows are sized for the widest plane the trace format allows (16 bit).
const REGION_BITS_PER_ELEMENT: u64 = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Query = 0,
    MsbFetch = 1,
    LsbRefetch = 2,
}

#[derive(Debug, Clone, Copy)]
pub struct AddressLayout {
    region_bytes: u64,
    heads: u64,
    txn_bytes: u64,
    channels: u64,
    offset_txns: u64,
    head_dim: u64,
    pages: Option<PagePool>,
}

/// The K/V page pool of a paged layout.
#[derive(Debug, Clone, Copy)]
struct PagePool {
    page_tokens: u64,
    kv_heads: u64,
    /// Pages of one (layer, plane, K/V head).
    pages: u64,
    slot_bytes: u64,
    /// Where the Q regions start, after the pool.
    q_base: u64,
}

/// Where a job's transactions are: `address(i)` of the i-th transaction of its plane's
/// packed rows.
#[derive(Debug, Clone, Copy)]
pub struct Placement {
    base: u64,
    txn_bytes: u64,
    paged: Option<PagedPlane>,
}

#[derive(Debug, Clone, Copy)]
struct PagedPlane {
    /// The slot of the plane's first page, and the slots from one page to the next.
    first_slot: u64,
    stride: u64,
    txns_per_page: u64,
    slot_bytes: u64,
    offset_txns: u64,
    channels: u64,
}

impl Placement {
    #[inline]
    pub fn address(&self, txn: u64) -> u64 {
        match &self.paged {
            None => self.base + txn * self.txn_bytes,
            Some(p) => {
                let slot = p.first_slot + txn / p.txns_per_page * p.stride;
                slot * p.slot_bytes
                    + (slot * p.offset_txns % p.channels + txn % p.txns_per_page) * self.txn_bytes
            }
        }
    }
}

impl AddressLayout {
    /// The layout for `tokens` rows per region; `offset_txns` is
    /// `fetcher.region_offset_transactions`.
    pub fn new(
        tokens: u64,
        head_dim: u64,
        heads: u32,
        txn_bytes: u64,
        channels: u64,
        offset_txns: u64,
    ) -> Self {
        let align_bytes = (txn_bytes * channels).max(1);
        let raw = tokens * head_dim * REGION_BITS_PER_ELEMENT / 8;
        let stripes = raw.div_ceil(align_bytes).max(1) + (offset_txns > 0) as u64;
        Self {
            region_bytes: stripes * align_bytes,
            heads: heads as u64,
            txn_bytes,
            channels: channels.max(1),
            offset_txns,
            head_dim,
            pages: None,
        }
    }

    /// The layout the simulator gives `trace` on `arch`: regions (or pages) for every token
    /// the trace names.
    pub fn for_trace(arch: &crate::config::ArchConfig, trace: &AttentionTrace) -> Self {
        let h = &trace.header;
        let max_key = trace
            .head_calls
            .iter()
            .filter_map(|c| c.keys.last())
            .max()
            .copied()
            .unwrap_or(0);
        let tokens = (h.prompt_tokens as u64 + h.generated_tokens as u64).max(max_key as u64 + 1);
        let widest_kv_plane_bits = trace
            .head_calls
            .iter()
            .map(|c| c.key_msb_bits.max(c.value_msb_bits).max(c.lsb_bits))
            .max()
            .unwrap_or(16) as u64;
        let f = &arch.fetcher;
        Self::new(
            tokens,
            h.head_dim as u64,
            h.heads,
            f.transaction_bytes as u64,
            arch.hbm.channels as u64,
            f.region_offset_transactions as u64,
        )
        .with_kv_pages(
            f.kv_page_tokens as u64,
            tokens,
            Self::layers_of(h),
            h.kv_heads(),
            widest_kv_plane_bits,
        )
    }

    /// Layers the layout of `h`'s trace places: every layer of every sequence.
    pub fn layers_of(h: &crate::trace::attention::TraceHeader) -> u32 {
        h.layers * h.batch()
    }

    /// The layout's layer of `layer` of sequence `sequence` of a trace of `layers` layers.
    pub fn layer_of(layers: u32, sequence: u32, layer: u32) -> u32 {
        sequence * layers + layer
    }

    /// K and V in pages of `page_tokens` tokens (`fetcher.kv_page_tokens`; 0 leaves the
    /// contiguous regions) for `tokens` tokens of `layers` x `kv_heads` K/V heads, sized for
    /// planes of at most `plane_bits` bits per element.
    pub fn with_kv_pages(
        mut self,
        page_tokens: u64,
        tokens: u64,
        layers: u32,
        kv_heads: u32,
        plane_bits: u64,
    ) -> Self {
        if page_tokens == 0 {
            return self;
        }
        let align_bytes = self.txn_bytes * self.channels;
        let raw = (page_tokens * self.head_dim * plane_bits).div_ceil(8);
        let slot_bytes = raw.div_ceil(self.txn_bytes).max(1) * self.txn_bytes
            + (self.offset_txns > 0) as u64 * align_bytes;
        let pages = tokens.div_ceil(page_tokens).max(1);
        let pool = layers as u64 * KV_PLANES * pages * kv_heads as u64 * slot_bytes;
        self.pages = Some(PagePool {
            page_tokens,
            kv_heads: kv_heads as u64,
            pages,
            slot_bytes,
            q_base: pool.div_ceil(align_bytes) * align_bytes,
        });
        self
    }

    /// The first byte after every region (and page) of `layers` layers: where the softmax's
    /// score spill region starts ([`super::spill`]).
    pub fn end(&self, layers: u32) -> u64 {
        let q_regions = layers as u64 * self.heads;
        match &self.pages {
            None => q_regions * REGIONS_PER_HEAD * self.region_bytes,
            Some(p) => p.q_base + q_regions * self.region_bytes,
        }
    }

    /// Bytes reserved per region (a region's rows take at most `tokens x head_dim x 2`).
    pub fn region_bytes(&self) -> u64 {
        self.region_bytes
    }

    /// The start of the contiguous region of (`layer`, `head`, `tensor`); with paged K/V only
    /// the Q regions are contiguous, and K/V "regions" are the planes' first pages.
    pub fn base(&self, layer: u32, head: u32, tensor: Tensor) -> u64 {
        self.placement(layer, head, tensor, 0).address(0)
    }

    /// Where the rows of plane `tensor` of (`layer`, `head`) go, for rows of `row_bits` bits
    /// (a K/V head for K/V planes, a query head for Q).
    pub fn placement(&self, layer: u32, head: u32, tensor: Tensor, row_bits: u64) -> Placement {
        let region = |r: u64| {
            r * self.region_bytes + (r * self.offset_txns % self.channels) * self.txn_bytes
        };
        let contiguous = |base| Placement {
            base,
            txn_bytes: self.txn_bytes,
            paged: None,
        };
        match (&self.pages, tensor) {
            (None, _) => {
                let r =
                    (layer as u64 * self.heads + head as u64) * REGIONS_PER_HEAD + tensor as u64;
                contiguous(region(r))
            }
            (Some(p), Tensor::Q) => {
                contiguous(p.q_base + region(layer as u64 * self.heads + head as u64))
            }
            (Some(p), _) => Placement {
                base: 0,
                txn_bytes: self.txn_bytes,
                paged: Some(PagedPlane {
                    first_slot: (layer as u64 * KV_PLANES + tensor as u64) * p.pages * p.kv_heads
                        + head as u64,
                    stride: p.kv_heads,
                    // Checked to be whole (`FetcherConfig::page_misfit`); at least 1 keeps a row of 0 bits sane.
                    txns_per_page: (p.page_tokens * row_bits / 8 / self.txn_bytes).max(1),
                    slot_bytes: p.slot_bytes,
                    offset_txns: self.offset_txns,
                    channels: self.channels,
                }),
            },
        }
    }
}

/// The rows one job fetches.
#[derive(Debug, Clone, Copy)]
pub enum Rows<'a> {
    Range {
        start: u32,
        count: u32,
    },
    List(&'a [u32]),
    /// The list `times` times over (a tiled summarization call streams its K and V once per
    /// query block).
    Repeat {
        list: &'a [u32],
        times: u32,
    },
}

impl Rows<'_> {
    pub fn len(&self) -> u32 {
        match self {
            Rows::Range { count, .. } => *count,
            Rows::List(l) => l.len() as u32,
            Rows::Repeat { list, times } => list.len() as u32 * times,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn get(&self, i: u32) -> u32 {
        match self {
            Rows::Range { start, .. } => start + i,
            Rows::List(l) => l[i as usize],
            Rows::Repeat { list, .. } => list[i as usize % list.len()],
        }
    }

    /// Whether row `i` starts a new pass over a repeated list (its transactions are fetched
    /// again even where the previous row's were the same).
    fn starts_over(&self, i: u32) -> bool {
        matches!(self, Rows::Repeat { list, .. } if i > 0 && (i as usize).is_multiple_of(list.len()))
    }
}

/// One tensor plane of one head call to bring on chip.
#[derive(Debug)]
pub struct FetchJob<'a> {
    pub tensor: Tensor,
    pub cause: Cause,
    rows: Rows<'a>,
    placement: Placement,
    row_bits: u64,
    txn_bytes: u64,
    next_row: u32,
    row_open: bool,
    next_block: u64,
    end_block: u64,
    last_block: Option<u64>,
    /// Transactions generated so far.
    pub generated: u32,
    /// For each generated row, the transactions that must be converted before it is usable.
    /// (Only rows not yet ready are kept.)
    row_end_txn: VecDeque<u32>,
    pub converted: u32,
    /// Rows fully in on-chip SRAM.
    pub rows_ready: u32,
    /// Rows the SRAM has room for so far: a job streaming through SRAM in tiles may start
    /// a row only below this (the controller raises it as tiles are consumed); `u32::MAX`
    /// for a job that fits.
    pub row_limit: u32,
}

impl<'a> FetchJob<'a> {
    pub fn new(
        tensor: Tensor,
        cause: Cause,
        rows: Rows<'a>,
        placement: Placement,
        row_bits: u64,
        txn_bytes: u64,
    ) -> Self {
        Self {
            tensor,
            cause,
            rows,
            placement,
            row_bits,
            txn_bytes,
            next_row: 0,
            row_open: false,
            next_block: 0,
            end_block: 0,
            last_block: None,
            generated: 0,
            row_end_txn: VecDeque::new(),
            converted: 0,
            rows_ready: 0,
            row_limit: u32::MAX,
        }
    }

    /// Waiting for SRAM room: the next row is at or past `row_limit`.
    pub fn blocked(&self) -> bool {
        !self.row_open && self.next_row < self.rows.len() && self.next_row >= self.row_limit
    }

    pub fn rows(&self) -> u32 {
        self.rows.len()
    }

    pub fn generation_done(&self) -> bool {
        self.next_row == self.rows.len() && !self.row_open
    }

    pub fn complete(&self) -> bool {
        self.generation_done() && self.converted == self.generated
    }

    fn refresh_ready(&mut self) {
        while self
            .row_end_txn
            .front()
            .is_some_and(|&end| end <= self.converted)
        {
            self.row_end_txn.pop_front();
            self.rows_ready += 1;
        }
        if self.complete() {
            // Rows are all in; the bookkeeping is no longer needed.
            self.row_end_txn = VecDeque::new();
        }
    }

    /// `n` more transactions of this job are in SRAM (rows become ready in the same way
    /// whether they are counted one at a time or together).
    pub fn on_converted(&mut self, n: u32) {
        self.converted += n;
        self.refresh_ready();
    }

    /// The next transaction address, or None when the job has generated all of them.
    fn next_addr(&mut self) -> Option<u64> {
        loop {
            if self.row_open {
                let block = self.next_block;
                self.next_block += 1;
                self.last_block = Some(block);
                self.generated += 1;
                if self.next_block > self.end_block {
                    self.row_open = false;
                    self.row_end_txn.push_back(self.generated);
                }
                return Some(self.placement.address(block));
            }
            if self.next_row == self.rows.len() || self.next_row >= self.row_limit {
                return None;
            }
            let t = self.rows.get(self.next_row) as u64;
            if self.rows.starts_over(self.next_row) {
                self.last_block = None;
            }
            self.next_row += 1;
            let start_bit = t * self.row_bits;
            let end_bit = start_bit + self.row_bits;
            let mut first = start_bit / 8 / self.txn_bytes;
            let last = (end_bit - 1) / 8 / self.txn_bytes;
            if let Some(lb) = self.last_block {
                first = first.max(lb + 1);
            }
            if first > last {
                // Already covered by the previous row's transactions.
                self.row_end_txn.push_back(self.generated);
                self.refresh_ready();
                continue;
            }
            self.row_open = true;
            self.next_block = first;
            self.end_block = last;
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct AddrEntry {
    pub seq: u64,
    pub addr: u64,
    pub job: u32,
    /// `Dram::channel_of(addr)`, computed once when the address is generated (the crossbar
    /// looks at a lane's head entry every cycle until it is granted).
    pub channel: u32,
}

impl Split for AddrEntry {
    fn split_front(&mut self, _n: u32) -> Self {
        *self
    }
}

/// A transaction's slot in a data FIFO, reserved when the request is issued and filled
/// when the response arrives (responses of different channels return out of order).
#[derive(Debug, Clone, Copy)]
pub struct DataEntry {
    pub seq: u64,
    pub job: u32,
    pub ready: bool,
}

#[derive(Debug)]
pub struct Fetcher {
    pub queue: VecDeque<usize>,
    pub addr_fifos: Vec<Fifo<AddrEntry>>,
    pub data_fifos: Vec<Fifo<DataEntry>>,
    /// Data FIFO entries one transaction takes.
    pub entries_per_txn: u32,
    pub next_seq: u64,
    addresses_per_cycle: u32,
    /// Addresses waiting in the address FIFOs.
    pub queued: u64,
    /// `lanes - 1` when the data lane count is a power of two (lane = seq & mask), else 0.
    lane_mask: u64,
}

impl Fetcher {
    pub fn new(cfg: &crate::config::arch::FetcherConfig, txn_bytes: u32) -> Self {
        Self {
            queue: VecDeque::new(),
            addr_fifos: (0..cfg.address_fifos)
                .map(|i| Fifo::new(format!("fetcher.address.{i:02}"), cfg.address_fifo_depth))
                .collect(),
            data_fifos: (0..cfg.data_fifos)
                .map(|i| Fifo::new(format!("fetcher.data.{i:02}"), cfg.data_fifo_depth))
                .collect(),
            entries_per_txn: txn_bytes.div_ceil(cfg.data_fifo_entry_bytes),
            next_seq: 0,
            addresses_per_cycle: cfg.addresses_per_cycle,
            queued: 0,
            lane_mask: if cfg.data_fifos.is_power_of_two() {
                cfg.data_fifos as u64 - 1
            } else {
                0
            },
        }
    }

    /// Position of transaction `seq` behind transaction `front` in their data FIFO.
    #[inline]
    pub fn data_index(&self, seq: u64, front: u64) -> usize {
        if self.lane_mask != 0 {
            ((seq - front) >> self.lane_mask.count_ones()) as usize
        } else {
            ((seq - front) / self.data_fifos.len() as u64) as usize
        }
    }

    #[inline]
    pub fn data_lane(&self, seq: u64) -> usize {
        if self.lane_mask != 0 {
            (seq & self.lane_mask) as usize
        } else {
            (seq % self.data_fifos.len() as u64) as usize
        }
    }

    /// Generates up to `addresses_per_cycle` addresses, in order, each into lane
    /// `seq mod lanes`; a full lane stops generation (in-order address stream).
    pub fn step(&mut self, now: u64, jobs: &mut [FetchJob], dram: &dyn Dram) -> (Activity, bool) {
        let mut generated = 0;
        let mut progress = false;
        let lanes = self.addr_fifos.len();
        // Lane of `next_seq`, kept incrementally (seq mod lanes).
        let mut lane = (self.next_seq % lanes as u64) as usize;
        while generated < self.addresses_per_cycle {
            // A job streaming through SRAM in tiles waits for room (see `row_limit`) and the
            // jobs behind it go ahead; every other job is served strictly in order.
            let Some(pos) = self.queue.iter().position(|&j| !jobs[j].blocked()) else {
                if self.queue.is_empty() {
                    break;
                }
                let activity = if generated > 0 {
                    Activity::Busy
                } else {
                    Activity::StalledOutput
                };
                return (activity, progress);
            };
            let j = self.queue[pos];
            if self.addr_fifos[lane].free() == 0 {
                return (
                    if generated > 0 {
                        Activity::Busy
                    } else {
                        Activity::StalledOutput
                    },
                    progress,
                );
            }
            let row_before = jobs[j].next_row;
            match jobs[j].next_addr() {
                Some(addr) => {
                    let entry = AddrEntry {
                        seq: self.next_seq,
                        addr,
                        job: j as u32,
                        channel: dram.channel_of(addr),
                    };
                    self.addr_fifos[lane].push(now, entry, 1);
                    self.next_seq += 1;
                    lane += 1;
                    if lane == lanes {
                        lane = 0;
                    }
                    self.queued += 1;
                    generated += 1;
                }
                // Reached its row limit: blocked now, so the search above passes it.
                None if !jobs[j].generation_done() => {
                    progress |= jobs[j].next_row != row_before;
                    continue;
                }
                None => {
                    self.queue.remove(pos);
                }
            }
            progress = true;
        }
        (
            if generated > 0 {
                Activity::Busy
            } else {
                Activity::Idle
            },
            progress,
        )
    }
}
