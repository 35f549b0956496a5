//! A channel's read queue or write buffer: requests in arrival order, from which the
//! scheduler takes the oldest one whose bank queue has room.
//!
//! Kept as one FIFO per bank queue plus an arrival number per request: the oldest movable
//! request is the oldest of the FIFO heads of the banks with room, and taking it is a
//! `pop_front` instead of removing from the middle of one long queue.

use std::collections::VecDeque;

use super::channel::Txn;

#[derive(Debug, Clone)]
pub(crate) struct RequestQueue {
    /// (arrival number, request) per bank queue, oldest first.
    per_bank: Vec<VecDeque<(u64, Txn)>>,
    len: usize,
    next_seq: u64,
    /// Bit b set when bank b has a request here (exact for at most 64 banks).
    banks: u64,
}

impl RequestQueue {
    pub fn new(banks: usize) -> Self {
        Self {
            per_bank: vec![VecDeque::new(); banks],
            len: 0,
            next_seq: 0,
            banks: 0,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Banks with a queued request, as a bit mask (for at most 64 banks).
    #[inline]
    pub fn banks(&self) -> u64 {
        self.banks
    }

    #[inline]
    pub fn push(&mut self, t: Txn) {
        self.per_bank[t.bank].push_back((self.next_seq, t));
        self.next_seq += 1;
        self.len += 1;
        self.banks |= 1u64 << (t.bank & 63);
    }

    /// Whether bank `b` has a queued request.
    #[inline]
    pub fn has(&self, b: usize) -> bool {
        !self.per_bank[b].is_empty()
    }

    /// The bank of the oldest request among those of the banks in `candidates`.
    #[inline]
    pub fn oldest_of(&self, candidates: impl Iterator<Item = usize>) -> Option<usize> {
        candidates
            .filter_map(|b| self.per_bank[b].front().map(|&(seq, _)| (seq, b)))
            .min()
            .map(|(_, b)| b)
    }

    /// Whether bank `b` has a queued request for `addr`.
    #[inline]
    pub fn has_addr(&self, b: usize, addr: u64) -> bool {
        self.per_bank[b].iter().any(|(_, t)| t.addr == addr)
    }

    /// The oldest request of bank `b` (which has one).
    #[inline]
    pub fn front(&self, b: usize) -> &Txn {
        &self.per_bank[b].front().expect("bank has a request").1
    }

    #[inline]
    pub fn pop(&mut self, b: usize) -> Txn {
        let (_, t) = self.per_bank[b].pop_front().expect("bank has a request");
        self.len -= 1;
        if self.per_bank[b].is_empty() {
            self.banks &= !(1u64 << (b & 63));
        }
        t
    }
}
