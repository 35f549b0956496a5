//! The address crossbar (fetcher lanes -> DRAM channels) and the data crossbar (channels ->
//! data FIFO lanes).
//!
//! Address side: each cycle every channel port grants at most
//! `requests_per_channel_per_cycle` lanes whose head address maps to it
//! (`Dram::channel_of`), by the configured arbitration; a lane is eligible only when the
//! channel queue accepts and its data FIFO has room reserved for the response. The request
//! enters the DRAM in the grant cycle; both crossbars' pipeline latencies are charged on the
//! response path (the data entry becomes valid `2 x latency_cycles` after the DRAM completes).
//! The softmax's score spill ([`super::spill`]) is served first each cycle, its requests in
//! order, on the same channel ports; its responses cross the data crossbar with the same
//! latency.

use super::fetcher::{DataEntry, FetchJob, Fetcher};
use super::fifo::DelayLine;
use super::spill::ScoreSpill;
use super::stats::{Activity, DramTraffic};
use crate::config::arch::{Arbitration, CrossbarConfig};
use crate::dram::{Dram, DramRequest};

#[derive(Debug)]
pub struct AddressCrossbar {
    arbitration: Arbitration,
    requests_per_channel: u32,
    grants: Vec<u32>,
    /// Round-robin: the lane that has priority next.
    next_lane: usize,
}

impl AddressCrossbar {
    pub fn new(cfg: &CrossbarConfig, channels: u32) -> Self {
        Self {
            arbitration: cfg.arbitration.clone(),
            requests_per_channel: cfg.requests_per_channel_per_cycle,
            grants: vec![0; channels as usize],
            next_lane: 0,
        }
    }

    pub fn step(
        &mut self,
        now: u64,
        fetcher: &mut Fetcher,
        jobs: &[FetchJob],
        spill: &mut ScoreSpill,
        dram: &mut dyn Dram,
        traffic: &mut DramTraffic,
    ) -> (Activity, bool) {
        if fetcher.queued == 0 && !spill.queued() {
            return (Activity::Idle, false);
        }
        self.grants.iter_mut().for_each(|g| *g = 0);
        let mut spilled = 0;
        while let Some(&r) = spill.front() {
            let ch = dram.channel_of(r.addr) as usize;
            if ch >= self.grants.len() || self.grants[ch] >= self.requests_per_channel {
                break;
            }
            let req = DramRequest {
                id: r.id,
                addr: r.addr,
                is_write: r.is_write,
            };
            if dram.enqueue(req).is_err() {
                self.grants[ch] = self.requests_per_channel;
                break;
            }
            self.grants[ch] += 1;
            spill.issued();
            spilled += 1;
        }
        let lanes = fetcher.addr_fifos.len();
        let start = match self.arbitration {
            Arbitration::LowerIndexFirst => 0,
            Arbitration::RoundRobin => self.next_lane,
        };
        let txn_bytes = dram.request_bytes() as u64;
        // Once every channel port is used up, no further lane can be granted.
        let max_grants = self.grants.len() as u32 * self.requests_per_channel;
        let mut granted = spilled;
        // Grants this cycle per `Tensor` and per `Cause`, indexed by discriminant.
        let mut by_tensor = [0u64; 5];
        let mut by_cause = [0u64; 3];
        let mut lane = start;
        for _ in 0..lanes {
            if granted == max_grants {
                break;
            }
            let this = lane;
            lane += 1;
            if lane == lanes {
                lane = 0;
            }
            let (lane, after) = (this, lane);
            let Some((&entry, _)) = fetcher.addr_fifos[lane].front() else {
                continue;
            };
            let ch = entry.channel as usize;
            if ch >= self.grants.len() || self.grants[ch] >= self.requests_per_channel {
                continue;
            }
            let d = fetcher.data_lane(entry.seq);
            if fetcher.data_fifos[d].free() < fetcher.entries_per_txn {
                continue;
            }
            // `enqueue` refuses exactly what `can_accept` would.
            let req = DramRequest {
                id: entry.seq,
                addr: entry.addr,
                is_write: false,
            };
            if dram.enqueue(req).is_err() {
                // The channel's queue is full for the rest of this cycle: skip its other lanes.
                self.grants[ch] = self.requests_per_channel;
                continue;
            }
            self.grants[ch] += 1;
            fetcher.addr_fifos[lane].pop(now);
            fetcher.queued -= 1;
            let slot = DataEntry {
                seq: entry.seq,
                job: entry.job,
                ready: false,
            };
            let n = fetcher.entries_per_txn;
            fetcher.data_fifos[d].push(now, slot, n);
            let job = &jobs[entry.job as usize];
            by_tensor[job.tensor as usize] += 1;
            by_cause[job.cause as usize] += 1;
            granted += 1;
            self.next_lane = after;
        }
        if granted > 0 {
            let [k_msb, k_lsb, v_msb, v_lsb, q] = by_tensor.map(|n| n * txn_bytes);
            let t = &mut traffic.bytes_by_tensor;
            t.q += q;
            t.k_msb += k_msb;
            t.k_lsb += k_lsb;
            t.v_msb += v_msb;
            t.v_lsb += v_lsb;
            let [query, msb_fetch, lsb_refetch] = by_cause.map(|n| n * txn_bytes);
            let c = &mut traffic.bytes_by_cause;
            c.query += query;
            c.msb_fetch += msb_fetch;
            c.lsb_refetch += lsb_refetch;
            let fetched = (granted - spilled) as u64;
            traffic.transactions += fetched;
            traffic.bytes_read += fetched * txn_bytes;
            (Activity::Busy, true)
        } else {
            (Activity::StalledOutput, false)
        }
    }
}

#[derive(Debug)]
pub struct DataCrossbar {
    latency_cycles: u64,
    in_flight: DelayLine<u64>,
    /// A response that found no reserved slot (the fetcher's lanes disagree with what the
    /// crossbar assumes); the machine turns it into [`super::SimError::Invariant`].
    pub fault: Option<String>,
}

impl DataCrossbar {
    pub fn new(cfg: &CrossbarConfig) -> Self {
        Self {
            latency_cycles: 2 * cfg.latency_cycles as u64,
            in_flight: DelayLine::default(),
            fault: None,
        }
    }

    /// A DRAM completion observed in cycle `now`.
    pub fn accept(&mut self, now: u64, seq: u64) {
        self.in_flight.push(now + self.latency_cycles, seq);
    }

    pub fn next_event(&self) -> Option<u64> {
        self.in_flight.next_ready()
    }

    pub fn pending(&self) -> usize {
        self.in_flight.len()
    }

    /// Marks the data FIFO slots of responses that have crossed; the score spill's
    /// responses (tagged) go to it.
    pub fn step(
        &mut self,
        now: u64,
        fetcher: &mut Fetcher,
        spill: &mut ScoreSpill,
    ) -> (Activity, bool) {
        let mut delivered = false;
        while let Some(seq) = self.in_flight.pop_ready(now) {
            if seq & super::spill::SPILL_TAG != 0 {
                spill.complete(seq);
                delivered = true;
                continue;
            }
            let d = fetcher.data_lane(seq);
            let slot = fetcher.data_fifos[d]
                .front()
                .map(|(e, _)| e.seq)
                .map(|front| fetcher.data_index(seq, front))
                .and_then(|index| fetcher.data_fifos[d].get_mut(index))
                .filter(|slot| slot.seq == seq);
            match slot {
                Some(slot) => {
                    slot.ready = true;
                    delivered = true;
                }
                None => {
                    self.fault.get_or_insert_with(|| {
                        format!("response {seq} has no reserved slot in data FIFO {d}")
                    });
                }
            }
        }
        if delivered {
            (Activity::Busy, true)
        } else if !self.in_flight.is_empty() {
            (Activity::Busy, false)
        } else {
            (Activity::Idle, false)
        }
    }
}
