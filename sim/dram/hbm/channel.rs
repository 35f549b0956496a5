//! One channel's controller: a read queue and a write buffer, per-bank command queues,
//! an FR-FCFS scheduler (round-robin over bank queues; within a queue, the oldest command
//! whose next DRAM command is ready, row hits bypassing a row conflict up to 4 hits),
//! refresh, and the bank / bank-group / rank timing state.
//!
//! The structure follows DRAMsim3's JEDEC controller so the two can be cross-checked: one
//! transaction moves from the request queues to a bank queue per cycle, writes are posted
//! (complete one cycle after arrival) and drained in batches, refresh takes precedence over
//! requests and blocks the refreshed rank's (or bank's) queues until it issues.

use std::collections::{HashMap, HashSet, VecDeque};

use super::mapping::Location;
use super::request_queue::RequestQueue;
use super::timing::{ACT, Delays, KINDS, PRE, RD, REF, WR};
use crate::dram::command_log::{Command, CommandKind};
use crate::dram::{ChannelStats, DramStats};

/// Multiplicative hashing of the u64 addresses keyed in the controller's maps (SipHash costs
/// more than the rest of a controller step).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AddrHasher(u64);

impl std::hash::Hasher for AddrHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0 ^ x)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            .rotate_left(29);
    }
}

type AddrMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<AddrHasher>>;
/// Addresses with a queued request: a second read of one rides on the first and a second
/// write merges into it, so each address is queued at most once per direction.
type AddrSet = HashSet<u64, std::hash::BuildHasherDefault<AddrHasher>>;

/// A write buffer fuller than this drains when the bank queues run empty (DRAMsim3's value).
const WRITE_DRAIN_LOW: usize = 8;
/// Row hits a bank may serve before a waiting row conflict may close the row.
const ROW_HIT_CAP: u32 = 4;
/// Width of one latency-histogram bucket.
pub const LATENCY_BUCKET_CYCLES: u64 = 8;
/// Buckets in the latency histogram; the last one collects everything above.
pub const LATENCY_BUCKETS: usize = 64;

#[derive(Debug, Clone)]
pub(crate) struct Params {
    pub delays: Delays,
    pub ranks: usize,
    pub bank_groups: usize,
    pub banks_per_group: usize,
    pub queue_depth: usize,
    pub bank_queue_depth: usize,
    pub dual_command_issue: bool,
    pub closed_page: bool,
    pub per_bank_refresh: bool,
    pub refresh_interval: u64,
    pub request_bytes: u64,
    /// Ignore the idle bounds (channel wake-up and per-queue readiness): for tests.
    pub exhaustive: bool,
}

impl Params {
    fn banks_per_rank(&self) -> usize {
        self.bank_groups * self.banks_per_group
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Txn {
    pub id: u64,
    pub addr: u64,
    pub is_write: bool,
    pub arrival: u64,
    /// Row and column (in bursts) of its location; the bank is `bank`.
    pub row: u32,
    pub column: u32,
    /// Index of its bank queue (filled in by the channel).
    pub bank: usize,
}

#[derive(Debug, Clone)]
struct Bank {
    /// Rank and global bank-group index (rank * bank_groups + group) of this bank.
    rank: usize,
    group: usize,
    open_row: Option<u32>,
    /// Column commands served since the row was opened.
    hits: u32,
    opened_by_conflict: bool,
    last_pre_conflict: bool,
    act_cycle: u64,
    next: [u64; KINDS],
    /// Reads and writes in this bank's queue that hit the open row (0 when none is open):
    /// with the queue length they say which command types the queue needs, so the earliest
    /// cycle any of its commands can issue is known without scanning it.
    hit_reads: u32,
    hit_writes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refresh {
    Rank(usize),
    Bank(usize),
}

#[derive(Debug, Clone, Copy)]
struct Pick {
    queue: usize,
    index: usize,
    kind: usize,
}

#[derive(Debug, Clone)]
pub(crate) struct Channel {
    id: u32,
    read_q: RequestQueue,
    write_q: RequestQueue,
    /// Ring buffers: the command picked is mostly the oldest, which `pop_front` removes
    /// without shifting the rest.
    bank_q: Vec<VecDeque<Txn>>,
    /// Bit q set when bank queue q is non-empty (channels with at most 64 bank queues).
    nonempty: u64,
    /// Bit q set when bank queue q is full (channels with at most 64 bank queues).
    full: u64,
    /// Bit q set when bank q has no open row (its queue can only activate).
    closed: u64,
    /// At most 64 bank queues: the bit masks above are exact.
    masks: bool,
    /// Lower bound on the cycle at which each bank queue could issue; only timing state that
    /// never decreases feeds it, so it stays a lower bound until the queue or bank changes.
    ready_lb: Vec<u64>,
    banks: Vec<Bank>,
    bg_next: Vec<[u64; KINDS]>,
    rank_next: Vec<[u64; KINDS]>,
    /// Issue cycles of the last four activations per rank (tFAW; folded into `rank_next`).
    faw: Vec<VecDeque<u64>>,
    refresh_q: VecDeque<Refresh>,
    next_refresh_at: u64,
    refresh_cursor: usize,
    rr: usize,
    /// (completion cycle, id, arrival) of issued reads; completions are monotone.
    read_returns: VecDeque<(u64, u64, u64)>,
    /// Posted writes and forwarded reads, completing one cycle after arrival.
    fast_returns: VecDeque<(u64, u64, u64)>,
    queued_writes: AddrSet,
    /// Reads of an address that already has a queued read ride on it: (id, arrival).
    riders: AddrMap<Vec<(u64, u64)>>,
    /// Queued (not yet issued) reads per address hash: a zero proves no read of any address
    /// with that hash is queued, so `read_queued` scans only on a possible match.
    read_hashes: Vec<u16>,
    write_draining: i64,
    /// Whether a request might move to a bank queue (set when the request queues gain an
    /// entry or a bank queue loses one; cleared when a scan finds nothing movable).
    txn_dirty: bool,
    in_flight: usize,
    /// Queues the last successful pick had not visited yet (at most 64 queues).
    pick_rest: u64,
    /// Smallest `ready_lb` of the non-empty bank queues after the last full step.
    min_lb: u64,
    /// Earliest cycle at which `step` may do anything.
    pub wake: u64,
    /// This channel's share of the column commands, activations and row outcomes, counted
    /// where the totals are.
    pub counters: ChannelStats,
}

impl Channel {
    pub fn new(id: u32, p: &Params) -> Self {
        let banks = p.ranks * p.banks_per_rank();
        let bank = |b: usize| Bank {
            rank: b / p.banks_per_rank(),
            group: b / p.banks_per_group,
            open_row: None,
            hits: 0,
            opened_by_conflict: false,
            last_pre_conflict: false,
            act_cycle: 0,
            next: [0; KINDS],
            hit_reads: 0,
            hit_writes: 0,
        };
        Self {
            id,
            read_q: RequestQueue::new(banks),
            write_q: RequestQueue::new(banks),
            bank_q: vec![VecDeque::with_capacity(p.bank_queue_depth); banks],
            nonempty: 0,
            full: 0,
            masks: banks <= 64,
            closed: low_bits(banks),
            ready_lb: vec![0; banks],
            banks: (0..banks).map(bank).collect(),
            bg_next: vec![[0; KINDS]; p.ranks * p.bank_groups],
            rank_next: vec![[0; KINDS]; p.ranks],
            faw: vec![VecDeque::with_capacity(4); p.ranks],
            refresh_q: VecDeque::new(),
            next_refresh_at: p.refresh_interval,
            refresh_cursor: 0,
            rr: 0,
            read_returns: VecDeque::with_capacity(2 * p.queue_depth),
            fast_returns: VecDeque::with_capacity(2 * p.queue_depth),
            queued_writes: AddrSet::default(),
            riders: AddrMap::default(),
            read_hashes: vec![0; READ_HASHES],
            write_draining: 0,
            txn_dirty: false,
            in_flight: 0,
            min_lb: u64::MAX,
            pick_rest: 0,
            wake: p.refresh_interval,
            counters: ChannelStats {
                channel: id,
                ..ChannelStats::default()
            },
        }
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    pub fn can_accept(&self, p: &Params, is_write: bool) -> bool {
        if is_write {
            self.write_q.len() < p.queue_depth
        } else {
            self.read_q.len() < p.queue_depth
        }
    }

    /// Accepts a request at cycle `now` (before that cycle's step).
    pub fn enqueue(&mut self, p: &Params, mut t: Txn, loc: &Location, now: u64) {
        t.bank = Self::bank_index(p, loc);
        self.txn_dirty = true;
        self.in_flight += 1;
        self.wake = self.wake.min(now);
        if t.is_write {
            // A write to an address already buffered merges into it.
            if self.queued_writes.insert(t.addr) {
                self.write_q.push(t);
            }
            self.fast_returns.push_back((now + 1, t.id, now));
        } else if !self.queued_writes.is_empty() && self.queued_writes.contains(&t.addr) {
            // Served from the write buffer.
            self.fast_returns.push_back((now + 1, t.id, now));
        } else {
            if !self.read_queued(t.bank, t.addr) {
                self.read_hashes[read_hash(t.addr)] += 1;
                self.read_q.push(t);
            } else {
                // Served by the queued read of the same address, when it issues.
                self.riders.entry(t.addr).or_default().push((t.id, now));
            }
        }
        debug_assert!(self.read_q.len() <= p.queue_depth && self.write_q.len() <= p.queue_depth);
    }

    /// Whether a read of `addr` (which maps to bank queue `b`) is queued and not yet issued:
    /// it is in the read queue or in that bank queue (scanning both is cheaper than keeping
    /// a hash set of queued addresses).
    fn read_queued(&self, b: usize, addr: u64) -> bool {
        self.read_hashes[read_hash(addr)] > 0
            && (self.read_q.has_addr(b, addr)
                || self.bank_q[b].iter().any(|t| !t.is_write && t.addr == addr))
    }

    /// Whether some request of the write buffer (`writes`) or the read queue could move to
    /// its bank queue.
    fn any_movable(&self, p: &Params, writes: bool) -> bool {
        let q = if writes { &self.write_q } else { &self.read_q };
        if self.masks {
            return q.banks() & !self.full != 0;
        }
        (0..self.bank_q.len()).any(|b| q.has(b) && self.bank_q[b].len() < p.bank_queue_depth)
    }

    fn bank_index(p: &Params, l: &Location) -> usize {
        (l.rank as usize * p.bank_groups + l.bank_group as usize) * p.banks_per_group
            + l.bank as usize
    }

    fn rank_of(p: &Params, b: usize) -> usize {
        b / p.banks_per_rank()
    }

    fn bg_of(p: &Params, b: usize) -> usize {
        b / p.banks_per_group
    }

    #[inline(always)]
    fn ready_at(&self, b: usize, kind: usize) -> u64 {
        let bank = &self.banks[b];
        let r = bank.rank;
        bank.next[kind]
            .max(self.bg_next[bank.group][kind])
            .max(self.rank_next[r][kind])
    }

    /// The earliest cycle at which some command of bank queue `q` (non-empty) meets its
    /// timing constraints: the minimum of `ready_at` over the command types its entries need.
    #[inline]
    fn queue_lb(&self, q: usize) -> u64 {
        let bank = &self.banks[q];
        if bank.open_row.is_none() {
            return self.ready_at(q, ACT);
        }
        let mut lb = u64::MAX;
        if bank.hit_reads > 0 {
            lb = lb.min(self.ready_at(q, RD));
        }
        if bank.hit_writes > 0 {
            lb = lb.min(self.ready_at(q, WR));
        }
        if (bank.hit_reads + bank.hit_writes) as usize != self.bank_q[q].len() {
            lb = lb.min(self.ready_at(q, PRE));
        }
        debug_assert_eq!(
            lb,
            self.bank_q[q]
                .iter()
                .map(|t| self.ready_at(q, Self::required(bank, t)))
                .min()
                .unwrap_or(u64::MAX),
            "row-hit counts of bank queue {q} out of step"
        );
        lb
    }

    /// Recounts the queued row hits of bank `b` after its open row changed.
    fn recount_hits(&mut self, b: usize) {
        let bank = &mut self.banks[b];
        let (mut r, mut w) = (0, 0);
        if let Some(row) = bank.open_row {
            for t in self.bank_q[b].iter().filter(|t| t.row == row) {
                if t.is_write {
                    w += 1;
                } else {
                    r += 1;
                }
            }
        }
        bank.hit_reads = r;
        bank.hit_writes = w;
    }

    fn required(bank: &Bank, t: &Txn) -> usize {
        match bank.open_row {
            Some(row) if row == t.row => {
                if t.is_write {
                    WR
                } else {
                    RD
                }
            }
            Some(_) => PRE,
            None => ACT,
        }
    }

    /// One memory cycle of this channel's controller.
    pub fn step(
        &mut self,
        p: &Params,
        clk: u64,
        stats: &mut DramStats,
        done: &mut Vec<u64>,
        log: &mut Option<Vec<Command>>,
    ) {
        if !p.exhaustive
            && clk < self.min_lb
            && clk != self.next_refresh_at
            && self.refresh_q.is_empty()
        {
            // No bank queue can issue and no refresh is due (only steps change the bounds or
            // the bank queues), so the full step would issue nothing and leave every bound but
            // that of a queue receiving a request as it is: complete, move, and re-bound that
            // one queue.
            self.complete(clk, stats, done);
            if let Some(b) = self.schedule_transaction(p) {
                if self.ready_lb[b] <= clk {
                    self.ready_lb[b] = self.queue_lb(b);
                }
                self.min_lb = self.min_lb.min(self.ready_lb[b]);
            }
            self.wake = self.compute_wake(clk);
            return;
        }
        self.complete(clk, stats, done);
        if clk == self.next_refresh_at {
            self.schedule_refresh(p);
            self.next_refresh_at += p.refresh_interval;
        }
        let mut first = None;
        if !self.refresh_q.is_empty() {
            first = self.refresh_command(p, clk, stats, log);
        }
        let mut picked = false;
        let first = match first {
            Some(c) => Some(c),
            None => self.pick(p, clk, None).map(|pk| {
                picked = true;
                self.issue(p, pk, clk, stats, log)
            }),
        };
        // After a pick, the second one need only look at the queues the first did not visit
        // and the one it issued from: a visited queue had no command ready, and an issue only
        // delays other queues' commands (it changes no other queue's contents or row).
        let within = (picked && !p.exhaustive && self.masks)
            .then(|| self.pick_rest | (1u64 << (self.rr & 63)));
        if let (Some(kind), true) = (first, p.dual_command_issue)
            && let Some(pk) = self.pick(p, clk, within)
        {
            let col = |k: usize| k == RD || k == WR;
            if col(pk.kind) != col(kind) {
                self.issue(p, pk, clk, stats, log);
            }
        }
        self.schedule_transaction(p);
        self.min_lb = self.tighten_bounds(clk);
        self.wake = self.compute_wake(clk);
    }

    fn complete(&mut self, clk: u64, stats: &mut DramStats, done: &mut Vec<u64>) {
        for q in [&mut self.fast_returns, &mut self.read_returns] {
            while let Some(&(at, id, arrival)) = q.front() {
                if at > clk {
                    break;
                }
                q.pop_front();
                self.in_flight -= 1;
                let latency = clk - arrival;
                stats.total_latency_cycles += latency;
                stats.max_latency_cycles = stats.max_latency_cycles.max(latency);
                let bucket = ((latency / LATENCY_BUCKET_CYCLES) as usize).min(LATENCY_BUCKETS - 1);
                stats.latency_histogram[bucket] += 1;
                stats.completed += 1;
                done.push(id);
            }
        }
    }

    fn schedule_refresh(&mut self, p: &Params) {
        if p.per_bank_refresh {
            // Bank groups fastest, then banks, then ranks (the JEDEC order DRAMsim3 uses).
            let c = self.refresh_cursor;
            let bg = c % p.bank_groups;
            let ba = (c / p.bank_groups) % p.banks_per_group;
            let r = c / p.banks_per_rank() % p.ranks;
            self.refresh_q.push_back(Refresh::Bank(
                (r * p.bank_groups + bg) * p.banks_per_group + ba,
            ));
            self.refresh_cursor = (c + 1) % (p.ranks * p.banks_per_rank());
        } else {
            self.refresh_q.push_back(Refresh::Rank(self.refresh_cursor));
            self.refresh_cursor = (self.refresh_cursor + 1) % p.ranks;
        }
    }

    fn blocked_by_refresh(&self, b: usize) -> bool {
        match self.refresh_q.front() {
            Some(Refresh::Rank(r)) => self.banks[b].rank == *r,
            Some(Refresh::Bank(x)) => *x == b,
            None => false,
        }
    }

    /// The precharge or refresh that the oldest pending refresh needs, if ready now.
    fn refresh_command(
        &mut self,
        p: &Params,
        clk: u64,
        stats: &mut DramStats,
        log: &mut Option<Vec<Command>>,
    ) -> Option<usize> {
        let target = *self.refresh_q.front()?;
        let range = match target {
            Refresh::Rank(r) => r * p.banks_per_rank()..(r + 1) * p.banks_per_rank(),
            Refresh::Bank(b) => b..b + 1,
        };
        let mut ready = 0;
        for b in range.clone() {
            if self.banks[b].open_row.is_some() {
                if self.ready_at(b, PRE) <= clk {
                    self.precharge(p, b, clk, false);
                    stats.precharges += 1;
                    self.log_to(log, clk, CommandKind::Precharge, p, b, 0, 0);
                    return Some(PRE);
                }
            } else if self.ready_at(b, REF) <= clk {
                ready += 1;
            }
        }
        if ready < range.len() {
            return None;
        }
        let d = &p.delays;
        match target {
            Refresh::Rank(r) => {
                let until = clk + d.ref_act;
                for k in [ACT, REF] {
                    self.rank_next[r][k] = self.rank_next[r][k].max(until);
                }
                for b in range {
                    self.ready_lb[b] = 0;
                }
                self.log_to(
                    log,
                    clk,
                    CommandKind::Refresh,
                    p,
                    r * p.banks_per_rank(),
                    0,
                    0,
                );
            }
            Refresh::Bank(b) => {
                let until = clk + d.refb_act;
                for k in [ACT, REF] {
                    self.banks[b].next[k] = self.banks[b].next[k].max(until);
                }
                self.ready_lb[b] = 0;
                self.log_to(log, clk, CommandKind::RefreshBank, p, b, 0, 0);
            }
        }
        self.refresh_q.pop_front();
        stats.refreshes += 1;
        Some(REF)
    }

    /// The first ready command in round-robin order. `within`, when given, holds every queue
    /// that may have one (fewer than all for the second pick of a cycle); at most 64 queues.
    #[inline(always)]
    fn pick(&mut self, p: &Params, clk: u64, within: Option<u64>) -> Option<Pick> {
        if !self.masks {
            return self.pick_scan(p, clk);
        }
        // Most picks find no candidate: settle those without a call.
        let mut m = self.nonempty & within.unwrap_or(u64::MAX);
        if !self.refresh_q.is_empty() {
            m &= !self.refresh_blocked(p);
        }
        if !p.exhaustive {
            // Queues that can only activate, in ranks that may not activate yet (all of
            // them right after an activation).
            if m & self.closed != 0 {
                m &= !(self.closed & self.act_gated(p, clk));
            }
            // Drop the queues whose bound says they cannot issue yet, without a branch per
            // queue (all bits at once, then the survivors in round-robin order).
            let mut ready = 0u64;
            let mut bits = m;
            while bits != 0 {
                let q = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                ready |= ((self.ready_lb[q] <= clk) as u64) << q;
            }
            m = ready;
        }
        if m == 0 {
            return None;
        }
        self.pick_round_robin(clk, m)
    }

    /// The queues a pending refresh holds back, as a mask (at most 64 queues).
    fn refresh_blocked(&self, p: &Params) -> u64 {
        match self.refresh_q.front() {
            None => 0,
            Some(Refresh::Bank(b)) => 1u64 << b,
            Some(Refresh::Rank(r)) => {
                let per = p.banks_per_rank();
                low_bits(per) << (r * per)
            }
        }
    }

    /// The first ready command of the candidate queues `m` (non-empty, at most 64 queues),
    /// visited in round-robin order from `rr + 1`: the order of `pick_scan`, skipping the
    /// queues it would skip.
    #[inline(never)]
    fn pick_round_robin(&mut self, clk: u64, m: u64) -> Option<Pick> {
        let n = self.bank_q.len();
        let start = if self.rr + 1 == n { 0 } else { self.rr + 1 };
        let full = low_bits(n);
        let mut rot = if start == 0 {
            m
        } else {
            ((m >> start) | (m << (n - start))) & full
        };
        while rot != 0 {
            let k = rot.trailing_zeros() as usize;
            rot &= rot - 1;
            let q = if start + k >= n {
                start + k - n
            } else {
                start + k
            };
            if let Some(pk) = self.first_ready(q, clk) {
                self.rr = q;
                // The candidates this pick has not visited yet, back in queue numbering.
                self.pick_rest = if start == 0 {
                    rot
                } else {
                    ((rot << start) | (rot >> (n - start))) & full
                };
                return Some(pk);
            }
        }
        None
    }

    /// `pick` for channels with more than 64 bank queues: every queue in round-robin order.
    fn pick_scan(&mut self, p: &Params, clk: u64) -> Option<Pick> {
        let n = self.bank_q.len();
        for _ in 0..n {
            self.rr = if self.rr + 1 == n { 0 } else { self.rr + 1 };
            let q = self.rr;
            let skip_lb = !p.exhaustive && self.ready_lb[q] > clk;
            if self.bank_q[q].is_empty() || skip_lb || self.blocked_by_refresh(q) {
                continue;
            }
            if let Some(pk) = self.first_ready(q, clk) {
                return Some(pk);
            }
        }
        None
    }

    /// The banks of the ranks whose rank-wide activation constraints (tRRD_S, tFAW) forbid an
    /// activation at `clk`, as a mask (at most 64 banks).
    fn act_gated(&self, p: &Params, clk: u64) -> u64 {
        let per = p.banks_per_rank();
        let rank_mask = low_bits(per);
        let mut gated = 0;
        for r in 0..p.ranks {
            if self.rank_next[r][ACT] > clk {
                gated |= rank_mask << (r * per);
            }
        }
        gated
    }

    /// After an activation in rank `r`, bank group `g`: the other closed banks' queues can only
    /// activate, and their activations now wait at least for the rank's and the group's
    /// activation gates. Raising their bounds now keeps them from waking the channel early.
    fn raise_act_bounds(&mut self, p: &Params, r: usize, g: usize) {
        let per = p.banks_per_rank();
        let rank_gate = self.rank_next[r][ACT];
        let group_gate = rank_gate.max(self.bg_next[g][ACT]);
        // The group's banks lie inside the rank's.
        let group = low_bits(p.banks_per_group) << (g * p.banks_per_group);
        let mut bits = self.closed & self.nonempty & (low_bits(per) << (r * per));
        while bits != 0 {
            let q = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let gate = if (group >> q) & 1 != 0 {
                group_gate
            } else {
                rank_gate
            };
            self.ready_lb[q] = self.ready_lb[q].max(gate);
        }
    }

    #[inline(always)]
    fn first_ready(&mut self, q: usize, clk: u64) -> Option<Pick> {
        // Queues mostly drain in order: the head alone settles most picks. It may always
        // close the row unless a queued command hits it (the hit counts say so) under the cap.
        let bank = &self.banks[q];
        let head = self.bank_q[q].front()?;
        let kind = Self::required(bank, head);
        let at = self.ready_at(q, kind);
        if at <= clk
            && (kind != PRE || bank.hits >= ROW_HIT_CAP || bank.hit_reads + bank.hit_writes == 0)
        {
            self.ready_lb[q] = at;
            return Some(Pick {
                queue: q,
                index: 0,
                kind,
            });
        }
        // Nothing ready: the scan below would find no command and the same bound.
        let lb = self.queue_lb(q);
        if lb > clk {
            self.ready_lb[q] = lb;
            return None;
        }
        let bank = &self.banks[q];
        let queue = &self.bank_q[q];
        let mut lb = u64::MAX;
        // All commands of a queue target one bank: each command type has one ready time.
        let mut cached = [u64::MAX; KINDS];
        for (i, t) in queue.iter().enumerate() {
            let kind = Self::required(bank, t);
            if cached[kind] == u64::MAX {
                cached[kind] = self.ready_at(q, kind);
            }
            let at = cached[kind];
            lb = lb.min(at);
            if at > clk {
                continue;
            }
            if kind == PRE {
                // Only the oldest command may close the row, and only when no queued command
                // hits it (or the hit cap is reached).
                let open = bank.open_row;
                if i != 0 || (bank.hits < ROW_HIT_CAP && queue.iter().any(|x| Some(x.row) == open))
                {
                    continue;
                }
            } else if kind == WR
                && queue
                    .range(..i)
                    .any(|x| !x.is_write && x.row == t.row && x.column == t.column)
            {
                continue;
            }
            self.ready_lb[q] = at;
            return Some(Pick {
                queue: q,
                index: i,
                kind,
            });
        }
        self.ready_lb[q] = lb;
        None
    }

    fn issue(
        &mut self,
        p: &Params,
        pk: Pick,
        clk: u64,
        stats: &mut DramStats,
        log: &mut Option<Vec<Command>>,
    ) -> usize {
        let b = pk.queue;
        let d = &p.delays;
        let (r, g) = (self.banks[b].rank, self.banks[b].group);
        match pk.kind {
            ACT => {
                let row = self.bank_q[b][pk.index].row;
                let bank = &mut self.banks[b];
                bank.open_row = Some(row);
                self.closed &= !(1u64 << (b & 63));
                self.recount_hits(b);
                let bank = &mut self.banks[b];
                bank.hits = 0;
                bank.opened_by_conflict = bank.last_pre_conflict;
                bank.act_cycle = clk;
                bump(
                    &mut bank.next,
                    &[
                        (ACT, clk + d.act_act),
                        (RD, clk + d.act_rdwr),
                        (WR, clk + d.act_rdwr),
                        (PRE, clk + d.act_pre),
                    ],
                );
                bump(&mut self.bg_next[g], &[(ACT, clk + d.act_act_l)]);
                bump(&mut self.rank_next[r], &[(ACT, clk + d.act_act_s)]);
                if self.faw[r].len() == 4 {
                    self.faw[r].pop_front();
                }
                self.faw[r].push_back(clk);
                if self.faw[r].len() == 4 {
                    // tFAW: the rank's next activation waits for the fourth-last one's window
                    // (which only moves later, so it folds into the rank's ACT time).
                    let window = self.faw[r][0] + d.faw;
                    bump(&mut self.rank_next[r], &[(ACT, window)]);
                }
                if self.masks {
                    self.raise_act_bounds(p, r, g);
                }
                stats.activations += 1;
                self.counters.activations += 1;
                self.log_to(log, clk, CommandKind::Activate, p, b, row, 0);
            }
            PRE => {
                self.precharge(p, b, clk, true);
                stats.precharges += 1;
                self.log_to(log, clk, CommandKind::Precharge, p, b, 0, 0);
            }
            _ => {
                let t = if pk.index == 0 {
                    self.bank_q[b].pop_front()
                } else {
                    self.bank_q[b].remove(pk.index)
                }
                .expect("picked command is queued");
                // A column command always hits the open row.
                if t.is_write {
                    self.banks[b].hit_writes -= 1;
                } else {
                    self.banks[b].hit_reads -= 1;
                }
                self.full &= !(1u64 << (b & 63));
                if self.bank_q[b].is_empty() {
                    self.nonempty &= !(1u64 << (b & 63));
                }
                self.txn_dirty = true;
                let is_write = pk.kind == WR;
                let bank = &self.banks[b];
                if bank.hits > 0 {
                    stats.row_hits += 1;
                    self.counters.row_hits += 1;
                } else if bank.opened_by_conflict {
                    stats.row_conflicts += 1;
                    self.counters.row_conflicts += 1;
                } else {
                    stats.row_misses += 1;
                    self.counters.row_misses += 1;
                }
                let auto_pre = p.closed_page && !self.bank_q[b].iter().any(|x| x.row == t.row);
                if is_write {
                    stats.writes += 1;
                    stats.bytes_written += p.request_bytes;
                    self.counters.writes += 1;
                    self.counters.bytes_written += p.request_bytes;
                    self.queued_writes.remove(&t.addr);
                    bump(&mut self.banks[b].next, &[(PRE, clk + d.wr_pre)]);
                    bump(
                        &mut self.bg_next[g],
                        &[(RD, clk + d.wr_rd_l), (WR, clk + d.wr_wr_l)],
                    );
                    bump(
                        &mut self.rank_next[r],
                        &[(RD, clk + d.wr_rd_s), (WR, clk + d.wr_wr_s)],
                    );
                    for o in (0..p.ranks).filter(|&o| o != r) {
                        bump(
                            &mut self.rank_next[o],
                            &[(RD, clk + d.wr_rd_o), (WR, clk + d.wr_wr_o)],
                        );
                    }
                } else {
                    stats.reads += 1;
                    stats.bytes_read += p.request_bytes;
                    self.counters.reads += 1;
                    self.counters.bytes_read += p.request_bytes;
                    self.read_hashes[read_hash(t.addr)] -= 1;
                    let at = clk + d.rl + d.burst;
                    self.read_returns.push_back((at, t.id, t.arrival));
                    if !self.riders.is_empty()
                        && let Some(riders) = self.riders.remove(&t.addr)
                    {
                        self.read_returns
                            .extend(riders.into_iter().map(|(id, arrival)| (at, id, arrival)));
                    }
                    bump(&mut self.banks[b].next, &[(PRE, clk + d.rd_pre)]);
                    bump(
                        &mut self.bg_next[g],
                        &[(RD, clk + d.rd_rd_l), (WR, clk + d.rd_wr)],
                    );
                    bump(
                        &mut self.rank_next[r],
                        &[(RD, clk + d.rd_rd_s), (WR, clk + d.rd_wr)],
                    );
                    for o in (0..p.ranks).filter(|&o| o != r) {
                        bump(
                            &mut self.rank_next[o],
                            &[(RD, clk + d.rd_rd_o), (WR, clk + d.rd_wr_o)],
                        );
                    }
                }
                let bank = &mut self.banks[b];
                bank.hits += 1;
                if auto_pre {
                    // The device precharges internally once tRTP / write recovery and tRAS allow.
                    let pre_at = bank.next[PRE].max(bank.act_cycle + d.act_pre);
                    bank.open_row = None;
                    self.closed |= 1u64 << (b & 63);
                    bank.hit_reads = 0;
                    bank.hit_writes = 0;
                    bank.last_pre_conflict = false;
                    bump(
                        &mut bank.next,
                        &[(ACT, pre_at + d.pre_act), (REF, pre_at + d.pre_act)],
                    );
                    stats.precharges += 1;
                }
                let kind = match (is_write, auto_pre) {
                    (false, false) => CommandKind::Read,
                    (false, true) => CommandKind::ReadAp,
                    (true, false) => CommandKind::Write,
                    (true, true) => CommandKind::WriteAp,
                };
                self.log_to(log, clk, kind, p, b, t.row, t.column);
            }
        }
        // The bank's timing and queue are final for this cycle: its exact bound now spares
        // the second pick and the next steps a rescan of this queue.
        self.ready_lb[b] = if self.bank_q[b].is_empty() {
            0
        } else {
            self.queue_lb(b)
        };
        pk.kind
    }

    fn precharge(&mut self, p: &Params, b: usize, clk: u64, conflict: bool) {
        self.closed |= 1u64 << (b & 63);
        let bank = &mut self.banks[b];
        bank.open_row = None;
        bank.hit_reads = 0;
        bank.hit_writes = 0;
        bank.last_pre_conflict = conflict;
        bump(
            &mut bank.next,
            &[(ACT, clk + p.delays.pre_act), (REF, clk + p.delays.pre_act)],
        );
        self.ready_lb[b] = 0;
    }

    #[allow(clippy::too_many_arguments)]
    fn log_to(
        &self,
        log: &mut Option<Vec<Command>>,
        cycle: u64,
        kind: CommandKind,
        p: &Params,
        b: usize,
        row: u32,
        column: u32,
    ) {
        if let Some(log) = log {
            log.push(Command {
                cycle,
                channel: self.id,
                kind,
                rank: Self::rank_of(p, b) as u32,
                bank_group: (Self::bg_of(p, b) % p.bank_groups) as u32,
                bank: (b % p.banks_per_group) as u32,
                row,
                column,
            });
        }
    }

    /// Moves the oldest movable request to its bank queue; returns that queue.
    #[inline(always)]
    fn schedule_transaction(&mut self, p: &Params) -> Option<usize> {
        if !self.txn_dirty {
            return None;
        }
        if self.write_draining == 0
            && (self.write_q.len() >= p.queue_depth
                || (self.write_q.len() > WRITE_DRAIN_LOW
                    && if self.masks {
                        self.nonempty == 0
                    } else {
                        self.bank_q.iter().all(VecDeque::is_empty)
                    }))
        {
            self.write_draining = self.write_q.len() as i64;
        }
        let writes = self.write_draining > 0;
        let queue = if writes { &self.write_q } else { &self.read_q };
        let found = if self.masks {
            let mut bits = queue.banks() & !self.full;
            queue.oldest_of(std::iter::from_fn(|| {
                (bits != 0).then(|| {
                    let b = bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    b
                })
            }))
        } else {
            queue.oldest_of(
                (0..self.bank_q.len()).filter(|&b| self.bank_q[b].len() < p.bank_queue_depth),
            )
        };
        if let Some(qb) = found {
            let t = if writes {
                // A write may not overtake a read of the same address.
                // Hand the turn to the reads until none can move (-1), or the two livelock.
                if self.read_queued(qb, queue.front(qb).addr) {
                    self.write_draining = -1;
                    return None;
                }
                self.write_draining -= 1;
                self.write_q.pop(qb)
            } else {
                self.read_q.pop(qb)
            };
            let b = t.bank;
            self.bank_q[b].push_back(t);
            let bank = &mut self.banks[b];
            if bank.open_row == Some(t.row) {
                if t.is_write {
                    bank.hit_writes += 1;
                } else {
                    bank.hit_reads += 1;
                }
            }
            self.nonempty |= 1u64 << (b & 63);
            if self.bank_q[b].len() >= p.bank_queue_depth {
                self.full |= 1u64 << (b & 63);
            }
            // The queue's earliest command is its old one's or the new one's.
            let at = self.ready_at(b, Self::required(&self.banks[b], &t));
            self.ready_lb[b] = if self.bank_q[b].len() == 1 {
                at
            } else {
                self.ready_lb[b].min(at)
            };
            // One request moves per cycle; stay awake only if another one could move next.
            self.txn_dirty = self.any_movable(p, self.write_draining > 0);
            return Some(b);
        }
        if self.write_draining < 0 {
            self.write_draining = 0;
        }
        self.txn_dirty = false;
        None
    }

    /// Recomputes the readiness bound of every non-empty queue whose bound was reset this
    /// cycle (or is due), so that the channel sleeps until a command can really be ready;
    /// returns the smallest bound.
    fn tighten_bounds(&mut self, clk: u64) -> u64 {
        let mut min_lb = u64::MAX;
        if self.masks {
            // Which queues are due is unpredictable: collect them as a mask (and the minimum
            // of the others) with selects instead of a branch per queue.
            let (mut bits, mut stale) = (self.nonempty, 0u64);
            while bits != 0 {
                let q = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let lb = self.ready_lb[q];
                let due = lb <= clk;
                stale |= (due as u64) << q;
                min_lb = min_lb.min(if due { u64::MAX } else { lb });
            }
            while stale != 0 {
                let q = stale.trailing_zeros() as usize;
                stale &= stale - 1;
                self.ready_lb[q] = self.queue_lb(q);
                min_lb = min_lb.min(self.ready_lb[q]);
            }
        } else {
            for q in 0..self.bank_q.len() {
                if self.bank_q[q].is_empty() {
                    continue;
                }
                if self.ready_lb[q] <= clk {
                    self.ready_lb[q] = self.queue_lb(q);
                }
                min_lb = min_lb.min(self.ready_lb[q]);
            }
        }
        min_lb
    }

    fn compute_wake(&self, clk: u64) -> u64 {
        let soon = clk + 1;
        if !self.refresh_q.is_empty() || self.txn_dirty {
            return soon;
        }
        let mut w = self.next_refresh_at.min(self.min_lb);
        for q in [&self.fast_returns, &self.read_returns] {
            if let Some(&(at, _, _)) = q.front() {
                w = w.min(at);
            }
        }
        w.max(soon)
    }
}

/// A mask of the `n` lowest bits (all 64 when `n >= 64`).
fn low_bits(n: usize) -> u64 {
    if n >= 64 { u64::MAX } else { (1u64 << n) - 1 }
}

/// Buckets of `Channel::read_hashes`.
const READ_HASHES: usize = 1024;

fn read_hash(addr: u64) -> usize {
    (addr.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 54) as usize % READ_HASHES
}

fn bump(next: &mut [u64; KINDS], updates: &[(usize, u64)]) {
    for &(k, at) in updates {
        next[k] = next[k].max(at);
    }
}
