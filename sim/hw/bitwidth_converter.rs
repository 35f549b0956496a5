//! The bitwidth converter: drains the data FIFOs in transaction order at
//! `input_bytes_per_cycle` and, `latency_cycles` later, hands the transaction's rows to the
//! key / value / query SRAM (the job's ready-row count). The SRAM bank of a head is reserved
//! when the head is opened, so the converter never waits on its output.

use super::fetcher::{FetchJob, Fetcher};
use super::fifo::DelayLine;
use super::stats::Activity;

#[derive(Debug)]
pub struct BitwidthConverter {
    input_bytes_per_cycle: u32,
    latency_cycles: u64,
    txn_bytes: u32,
    pub next_seq: u64,
    /// Bytes of transaction `next_seq` already consumed.
    carry_bytes: u32,
    /// (job, transactions) leaving the pipeline together; consecutive transactions of one
    /// job converted in the same cycle share an entry.
    out: DelayLine<(u32, u32)>,
    /// Transactions in `out`.
    out_txns: usize,
}

impl BitwidthConverter {
    pub fn new(cfg: &crate::config::arch::BitwidthConverterConfig, txn_bytes: u32) -> Self {
        Self {
            input_bytes_per_cycle: cfg.input_bytes_per_cycle,
            latency_cycles: cfg.latency_cycles as u64,
            txn_bytes,
            next_seq: 0,
            carry_bytes: 0,
            out: DelayLine::default(),
            out_txns: 0,
        }
    }

    pub fn next_event(&self) -> Option<u64> {
        self.out.next_ready()
    }

    pub fn pending(&self) -> usize {
        self.out_txns
    }

    pub fn step(
        &mut self,
        now: u64,
        fetcher: &mut Fetcher,
        jobs: &mut [FetchJob],
    ) -> (Activity, bool) {
        let mut budget = self.input_bytes_per_cycle;
        let mut worked = false;
        while budget > 0 {
            let d = fetcher.data_lane(self.next_seq);
            let fifo = &mut fetcher.data_fifos[d];
            match fifo.front() {
                Some((e, _)) if e.seq == self.next_seq && e.ready => {}
                _ => break,
            }
            let take = budget.min(self.txn_bytes - self.carry_bytes);
            budget -= take;
            self.carry_bytes += take;
            worked = true;
            if self.carry_bytes == self.txn_bytes {
                let (entry, _) = fifo.pop(now).expect("front checked");
                self.carry_bytes = 0;
                self.next_seq += 1;
                let ready = now + self.latency_cycles;
                self.out_txns += 1;
                match self.out.back_mut() {
                    Some((r, (job, n))) if *r == ready && *job == entry.job => *n += 1,
                    _ => self.out.push(ready, (entry.job, 1)),
                }
            }
        }
        let mut delivered = false;
        while let Some((job, n)) = self.out.pop_ready(now) {
            self.out_txns -= n as usize;
            jobs[job as usize].on_converted(n);
            delivered = true;
        }
        let activity = if worked {
            Activity::Busy
        } else if self.next_seq < fetcher.next_seq {
            Activity::StalledInput
        } else if !self.out.is_empty() {
            Activity::Busy
        } else {
            Activity::Idle
        };
        (activity, worked || delivered)
    }
}
