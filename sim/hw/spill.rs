//! Score spill (`softmax.overflow = "spill"`): a tiled generation row with more keys than its
//! share of the softmax buffer (`softmax.score_buffer_entries` over the rows summed side by
//! side, [`crate::config::tiles::TilePlan::generation_spill_quota`]) keeps that many
//! exponentials on chip and writes the rest to DRAM as they are computed, then reads them back
//! for the division once the row's sum is known.
//!
//! Model:
//! - Spilled exponentials take [`SPILL_EXP_BITS`] each, packed in arrival order into fetcher
//!   transactions (`transaction_bytes x 8 / 32` a transaction; the row's last one may be
//!   partial). A row spills into a slot of a spill region after the trace's K/V and Q
//!   regions (`AddressLayout::end`); there are two slots per row summed side by side (one
//!   row summing, one leaving), each sized for the longest spill of the trace and aligned to a
//!   `channels x transaction_bytes` stripe, so consecutive transactions of a row go to
//!   consecutive channels. A new spilling row waits for a free slot.
//! - Writes and reads leave in the order they are made through the address crossbar, ahead of
//!   the fetcher's lanes, as many a cycle as channel ports grant (in order: a request whose
//!   channel is busy holds the ones behind it). The softmax input stage waits while
//!   `softmax.spill_buffer_transactions` writes are queued.
//! - A row's reads are requested once its input is complete and all its writes have
//!   completed (posted writes complete at once in the command-level model; a read of an
//!   address still in the write buffer is served from it), rows in the order the output
//!   stage divides them, with at most `spill_buffer_transactions` read back and not yet
//!   divided over all rows. The output stage divides the on-chip exponentials first, then
//!   the read-back ones in order, as their transactions arrive. Responses (write
//!   acknowledgements and read data) cross the data crossbar with its latency, as the
//!   fetcher's do.
//! - The spill changes when exponentials are available, not their values: the reference's
//!   probabilities are those of the untiled row. Its DRAM traffic is reported apart from the
//!   fetcher's (`dram.score_spill` in stats.json), and its bytes count in the DRAM energy (the
//!   back-end's bytes) and at the fetcher's per-byte energy for the crossbars.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::Chunk;
pub use crate::config::tiles::SPILL_EXP_BITS;

/// Marks a DRAM request id as the spill path's (fetcher transactions count from 0).
pub const SPILL_TAG: u64 = 1 << 63;
const WRITE_BIT: u64 = 1 << 62;
const SLOT_SHIFT: u32 = 40;
const INDEX_MASK: u64 = (1 << SLOT_SHIFT) - 1;

/// The spill path's DRAM traffic.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpillTraffic {
    /// Rows that spilled (an LSB recompute's second pass is a row of its own).
    pub rows: u64,
    pub bytes_written: u64,
    pub bytes_read: u64,
    pub transactions: u64,
    /// Spilling head calls whose local V pruning an engine without its own candidate storage
    /// (`topk_value.candidate_entries` absent) ranked in place: its rounds and filter pass
    /// read probabilities the buffer does not hold, which is not charged.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub local_v_rows_in_place: u64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

impl SpillTraffic {
    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpillRequest {
    pub id: u64,
    pub addr: u64,
    pub is_write: bool,
}

#[derive(Debug)]
struct Row {
    chunk: Chunk,
    slot: u32,
    quota: u32,
    /// Exponentials beyond the quota taken so far, and the write transactions made of them.
    spilled: u32,
    writes: u32,
    writes_done: u32,
    input_done: bool,
    reads: u32,
    /// Per read transaction, whether it has arrived (allocated when reads start).
    arrived: Vec<bool>,
    /// Leading transactions that have all arrived.
    arrived_prefix: u32,
    /// Read-back exponentials the output stage has divided.
    divided: u32,
}

impl Row {
    fn transactions(&self, per_txn: u32) -> u32 {
        self.spilled.div_ceil(per_txn)
    }
}

#[derive(Debug)]
pub struct ScoreSpill {
    base: u64,
    slot_bytes: u64,
    txn_bytes: u64,
    per_txn: u32,
    buffer: u32,
    free_slots: Vec<u32>,
    rows: Vec<Row>,
    requests: VecDeque<SpillRequest>,
    queued_writes: u32,
    pub traffic: SpillTraffic,
}

impl ScoreSpill {
    /// A spill path with `slots` row slots of `max_spilled` exponentials each, from `base`;
    /// `stripe` bytes is the channel interleave a slot is aligned to.
    pub fn new(
        base: u64,
        max_spilled: u64,
        slots: u32,
        txn_bytes: u32,
        stripe: u64,
        buffer_transactions: u32,
    ) -> Self {
        let txn_bytes = txn_bytes as u64;
        let per_txn = (txn_bytes * 8 / SPILL_EXP_BITS as u64).max(1) as u32;
        let slot = max_spilled.div_ceil(per_txn as u64) * txn_bytes;
        let stripe = stripe.max(1);
        Self {
            base: base.div_ceil(stripe) * stripe,
            slot_bytes: slot.div_ceil(stripe) * stripe,
            txn_bytes,
            per_txn,
            buffer: buffer_transactions.max(1),
            free_slots: (0..slots).rev().collect(),
            rows: Vec::new(),
            requests: VecDeque::new(),
            queued_writes: 0,
            traffic: SpillTraffic::default(),
        }
    }

    fn row(&self, chunk: &Chunk) -> Option<&Row> {
        self.rows.iter().find(|r| r.chunk == *chunk)
    }

    fn row_mut(&mut self, chunk: &Chunk) -> Option<&mut Row> {
        self.rows.iter_mut().find(|r| r.chunk == *chunk)
    }

    fn address(&self, slot: u32, index: u32) -> u64 {
        self.base + slot as u64 * self.slot_bytes + index as u64 * self.txn_bytes
    }

    /// Whether the input stage may take elements of `chunk`, a row with `quota` on-chip
    /// exponentials that has `have` so far: a new row needs a free slot, elements beyond
    /// the quota room in the write queue.
    pub fn can_take(&self, chunk: &Chunk, quota: u32, have: u32, n: u32) -> bool {
        if self.row(chunk).is_none() && self.free_slots.is_empty() {
            return false;
        }
        have + n <= quota || self.queued_writes < self.buffer
    }

    /// The input stage took elements `[have, have + n)` of `chunk`'s row of `len`.
    pub fn take(&mut self, chunk: Chunk, quota: u32, have: u32, n: u32, len: u32) {
        if self.row(&chunk).is_none() {
            let slot = self.free_slots.pop().expect("can_take checked a free slot");
            self.traffic.rows += 1;
            self.rows.push(Row {
                chunk,
                slot,
                quota,
                spilled: 0,
                writes: 0,
                writes_done: 0,
                input_done: false,
                reads: 0,
                arrived: Vec::new(),
                arrived_prefix: 0,
                divided: 0,
            });
        }
        let per_txn = self.per_txn;
        let row = self.row_mut(&chunk).expect("just made");
        row.spilled += (have + n).saturating_sub(quota.max(have));
        let done = have + n == len;
        row.input_done = done;
        // Whole transactions, and the last partial one when the row is complete.
        let full = if done {
            row.transactions(per_txn)
        } else {
            row.spilled / per_txn
        };
        let (slot, from) = (row.slot, row.writes);
        row.writes = full;
        for index in from..full {
            self.requests.push_back(SpillRequest {
                id: SPILL_TAG | WRITE_BIT | (slot as u64) << SLOT_SHIFT | index as u64,
                addr: self.address(slot, index),
                is_write: true,
            });
            self.queued_writes += 1;
        }
    }

    /// Requests the reads of the rows in `order` (the order the output stage divides them),
    /// the first row with reads left first, once its writes are done, while fewer than
    /// `spill_buffer_transactions` are read back and not yet divided.
    pub fn request_reads<'c>(&mut self, order: impl Iterator<Item = &'c Chunk>) {
        let per_txn = self.per_txn;
        let mut buffered: u32 = self
            .rows
            .iter()
            .map(|r| r.reads - r.divided / per_txn)
            .sum();
        if buffered >= self.buffer {
            return;
        }
        for chunk in order {
            let Some(i) = self.rows.iter().position(|r| r.chunk == *chunk) else {
                continue;
            };
            let row = &mut self.rows[i];
            let total = row.transactions(per_txn);
            if row.reads == total {
                continue;
            }
            if !row.input_done || row.writes_done < row.writes {
                return;
            }
            if row.arrived.is_empty() {
                row.arrived = vec![false; total as usize];
            }
            let (slot, from) = (row.slot, row.reads);
            let n = (total - from).min(self.buffer - buffered);
            row.reads += n;
            buffered += n;
            for index in from..from + n {
                self.requests.push_back(SpillRequest {
                    id: SPILL_TAG | (slot as u64) << SLOT_SHIFT | index as u64,
                    addr: self.address(slot, index),
                    is_write: false,
                });
            }
            if buffered >= self.buffer {
                return;
            }
        }
    }

    /// The next request for the address crossbar.
    pub fn front(&self) -> Option<&SpillRequest> {
        self.requests.front()
    }

    /// The front request entered the DRAM.
    pub fn issued(&mut self) {
        let r = self.requests.pop_front().expect("front checked");
        self.traffic.transactions += 1;
        if r.is_write {
            self.queued_writes -= 1;
            self.traffic.bytes_written += self.txn_bytes;
        } else {
            self.traffic.bytes_read += self.txn_bytes;
        }
    }

    /// A DRAM completion of a request tagged [`SPILL_TAG`].
    pub fn complete(&mut self, id: u64) {
        let slot = ((id & !(SPILL_TAG | WRITE_BIT)) >> SLOT_SHIFT) as u32;
        let index = (id & INDEX_MASK) as usize;
        let Some(row) = self.rows.iter_mut().find(|r| r.slot == slot) else {
            return;
        };
        if id & WRITE_BIT != 0 {
            row.writes_done += 1;
        } else if let Some(a) = row.arrived.get_mut(index) {
            *a = true;
            while row.arrived.get(row.arrived_prefix as usize) == Some(&true) {
                row.arrived_prefix += 1;
            }
        }
    }

    /// Exponentials of `chunk`'s row the output stage may divide after `emitted`: the rest of
    /// the on-chip ones, then the read-back ones that have arrived (`None` for a row that
    /// does not spill).
    pub fn available(&self, chunk: &Chunk, emitted: u32) -> Option<u32> {
        let row = self.row(chunk)?;
        let back = (row.arrived_prefix * self.per_txn).min(row.spilled);
        Some(row.quota.saturating_sub(emitted) + back - row.divided)
    }

    /// The output stage divided elements `[emitted, emitted + n)` of `chunk`'s row of `len`.
    pub fn divide(&mut self, chunk: &Chunk, emitted: u32, n: u32, len: u32) {
        let Some(i) = self.rows.iter().position(|r| r.chunk == *chunk) else {
            return;
        };
        let row = &mut self.rows[i];
        row.divided += (emitted + n).saturating_sub(row.quota.max(emitted));
        if emitted + n == len {
            let row = self.rows.remove(i);
            self.free_slots.push(row.slot);
        }
    }

    pub fn is_idle(&self) -> bool {
        self.rows.is_empty() && self.requests.is_empty()
    }

    /// Whether a request waits for the address crossbar.
    pub fn queued(&self) -> bool {
        !self.requests.is_empty()
    }

    pub fn describe(&self) -> String {
        format!(
            "spill: {} rows, {} requests queued ({} writes){}",
            self.rows.len(),
            self.requests.len(),
            self.queued_writes,
            self.rows
                .first()
                .map(|r| format!(
                    ", oldest call {} spilled {} written {}/{} read {} arrived {} divided {}",
                    r.chunk.call,
                    r.spilled,
                    r.writes_done,
                    r.writes,
                    r.reads,
                    r.arrived_prefix,
                    r.divided
                ))
                .unwrap_or_default()
        )
    }
}
