//! The controller: sequences head calls in trace order, head by head and query by query.
//!
//! - A head is *opened* (its Q, K-MSB and, unless V is pruned locally, V-MSB fetch jobs are
//!   queued) when the SRAM buffer manager has room for its rows ([`super::buffer_ring`]): up
//!   to `controller.buffer_allocations` heads with double-buffered key and value SRAM (the
//!   next heads' fetches overlap the current head's compute), one otherwise.
//!   Summarization fetches a head's K/V once and every query row reuses them; generation
//!   heads are separate calls, so K/V come from DRAM every iteration.
//! - The first head of a new (iteration, layer) is opened only after the previous layers'
//!   token/head top-k calls finished, since its surviving keys depend on them. A layer
//!   without top-k calls does not hold the next one back: the FC layers run on another
//!   device and are not modelled, so the next layer's Q/K/V are taken as available.
//! - QxK passes are released in order. With `controller.qk_waits_for_requant`, when a head
//!   may refetch LSBs (`lsb_bits > 0`) the next head's QxK waits for its requant decision; on
//!   a refetch the K-LSB (and V-LSB) jobs are queued and the head's QxK + softmax are redone
//!   with merged values before the next head. Without the wait (the public RTL) later heads'
//!   passes run on, and a refetched head's LSB pass is re-injected with priority: it runs
//!   next on the QxK unit, after LSB passes already waiting; the requant unit's reorder
//!   buffer restores head order ([`super::requant`]). ProbxV only ever sees the final pass
//!   (so it waits for the recompute).
//! - Local V pruning: the V rows are requested when the head's top-k call has selected them
//!   (its filter pass starts; see [`super::topk`]).
//! - Grouped K/V heads ([`super::gqa`]): the calls of one group after its first reuse the
//!   first call's K (and, without local V pruning, V) jobs, MSB and LSB planes alike, so the
//!   group's rows come from DRAM once; K/V addresses are those of the K/V head.
//! - With `controller.interleave_group_tiles`, a group whose K rows stream in tiles shares one
//!   K-MSB stream too: its calls open together on the first call's allocation and QxK scores
//!   each tile for every call of the group before the next tile ([`super::qk`]). The other
//!   streams of such a call stay its own, and wait for the SRAM room they would take: a
//!   call's V rows for the previous call's ProbxV to finish, its LSB refetch (K-MSB re-stream
//!   and K-LSB) for the group's shared QxK pass to finish.
//! - A head closes (freeing its SRAM allocation) when ProbxV and the importance accumulators are done
//!   with it; when all heads of a layer are closed its token/head top-k calls run.

use std::collections::VecDeque;

use super::buffer_ring::BufferRing;
use super::fetcher::{AddressLayout, Cause, FetchJob, Rows, Tensor};
use super::tiling::{Consumer, TilePlan, TiledJob, Wait};
use super::topk::{TokenTopk, topk_call_comparisons, topk_call_cycles};
use crate::config::arch::{ControllerConfig, TopkConfig};
use crate::trace::attention::{AttentionTrace, HeadCall};

/// Run-time state of one head call.
#[derive(Debug, Clone, Default)]
pub struct HeadRt {
    pub q_job: Option<usize>,
    pub k_job: Option<usize>,
    pub v_job: Option<usize>,
    pub k_lsb_job: Option<usize>,
    pub v_lsb_job: Option<usize>,
    pub decided: bool,
    pub pv_done: bool,
    pub importance_done: bool,
    pub closed: bool,
    /// The call prunes V locally (its V rows are its own, never shared in a group).
    pub local_v: bool,
}

fn calls_value_topk(hc: &HeadCall) -> bool {
    hc.value_topk.is_some()
}

#[derive(Debug)]
struct RecordState {
    /// (iteration, layer, sequence).
    key: (u32, u32, u32),
    heads_total: u32,
    heads_closed: u32,
    submitted: bool,
    done: bool,
}

/// What the modules reported this cycle.
#[derive(Debug, Default)]
pub struct Events {
    pub decided: Vec<u32>,
    /// Local-V top-k calls whose kept set is known (filter pass started).
    pub value_topk_selected: Vec<u32>,
    pub pv_done: Vec<u32>,
    pub importance_done: Vec<u32>,
    pub records_done: Vec<u32>,
}

impl Events {
    pub fn is_empty(&self) -> bool {
        self.decided.is_empty()
            && self.value_topk_selected.is_empty()
            && self.pv_done.is_empty()
            && self.importance_done.is_empty()
            && self.records_done.is_empty()
    }
}

/// What the controller drives.
pub struct Ports<'m, 'a> {
    pub heads: &'m mut [HeadRt],
    pub jobs: &'m mut Vec<FetchJob<'a>>,
    pub fetch_queue: &'m mut VecDeque<usize>,
    pub qk_queue: &'m mut VecDeque<(u32, bool)>,
    pub token_topk: &'m mut TokenTopk,
    /// The current cycle.
    pub now: u64,
}

#[derive(Debug)]
pub struct Controller {
    layout: AddressLayout,
    head_dim: u64,
    layers: u32,
    txn_bytes: u64,
    prompt_tokens: u32,
    ring: BufferRing,
    qk_waits_for_requant: bool,
    next_open: usize,
    next_qk: usize,
    records: Vec<RecordState>,
    record_prefix: usize,
    /// Per sequence of the batch and iteration: the cycle its last head closed or its last
    /// layer record finished.
    step_end: Vec<Vec<u64>>,
    record_of_call: Vec<Option<u32>>,
    /// The first call of each call's K/V group, for calls that reuse its fetches.
    leader: Vec<Option<usize>>,
    /// For calls of a tiled group after its first, with `interleave_group_tiles`: the first
    /// call, whose K-MSB stream and SRAM allocation they share.
    tile_leader: Vec<Option<usize>>,
    /// [`Self::tile_group_sizes`].
    tile_groups: Vec<u32>,
    /// Open calls using the bank of each group's first call.
    bank_users: Vec<u32>,
    plan: TilePlan,
    /// Calls that stream K or V through SRAM in tiles ([`super::tiling`]).
    tiled: Vec<bool>,
    /// Fetch jobs streaming in tiles whose generation is not done, by job id.
    pub tiled_jobs: std::collections::BTreeMap<usize, TiledJob>,
    pub heads_closed: usize,
    pub lsb_refetches: u64,
    pub token_calls: u64,
    pub head_calls: u64,
    /// Comparator elements of the token/head engine's calls.
    pub token_comparisons: u64,
    token_cfg: TopkConfig,
    /// Query heads per K/V head (1 without grouping).
    group_size: u32,
}

impl Controller {
    pub fn new(
        trace: &AttentionTrace,
        layout: AddressLayout,
        txn_bytes: u32,
        ring: BufferRing,
        cfg: &ControllerConfig,
        token_cfg: &TopkConfig,
        plan: TilePlan,
    ) -> Self {
        let qk_waits_for_requant = cfg.qk_waits_for_requant;
        let tiled = super::gqa::tiled_calls(trace, &plan);
        let interleave = cfg.interleave_group_tiles && !qk_waits_for_requant;
        // A tiled group's first query head has lost its tiles when the next one runs, so its
        // calls share nothing, or (generation calls, one query row each) only the interleaved
        // K-MSB stream.
        let (leader, tile_leader): (Vec<Option<usize>>, Vec<Option<usize>>) =
            super::gqa::leaders(trace)
                .into_iter()
                .zip(&tiled)
                .zip(&trace.head_calls)
                .map(|((l, &t), hc)| {
                    if t {
                        (None, l.filter(|_| interleave && hc.queries == 1))
                    } else {
                        (l, None)
                    }
                })
                .unzip();
        let mut records: Vec<RecordState> = trace
            .layers
            .iter()
            .map(|r| RecordState {
                key: (r.iteration, r.layer, r.sequence),
                heads_total: 0,
                heads_closed: 0,
                submitted: false,
                done: false,
            })
            .collect();
        let record_of_call = trace
            .head_calls
            .iter()
            .map(|c| {
                let i = records
                    .binary_search_by_key(&(c.iteration, c.layer, c.sequence), |r| r.key)
                    .ok()?;
                records[i].heads_total += 1;
                Some(i as u32)
            })
            .collect();
        let mut tile_groups = vec![1u32; tile_leader.len()];
        for (i, l) in tile_leader.iter().enumerate() {
            if let Some(l) = *l {
                tile_groups[l] += 1;
                tile_groups[i] = 0;
            }
        }
        Self {
            layout,
            head_dim: trace.header.head_dim as u64,
            layers: trace.header.layers,
            txn_bytes: txn_bytes as u64,
            prompt_tokens: trace.header.prompt_tokens,
            ring,
            qk_waits_for_requant,
            next_open: 0,
            next_qk: 0,
            records,
            record_prefix: 0,
            step_end: vec![
                vec![0; trace.header.generated_tokens as usize + 1];
                trace.header.batch() as usize
            ],
            record_of_call,
            leader,
            tile_leader,
            tile_groups,
            bank_users: vec![0; trace.head_calls.len()],
            plan,
            tiled,
            tiled_jobs: Default::default(),
            heads_closed: 0,
            lsb_refetches: 0,
            token_calls: 0,
            head_calls: 0,
            token_comparisons: 0,
            token_cfg: token_cfg.clone(),
            group_size: (trace.header.heads / trace.header.kv_heads().max(1)).max(1),
        }
    }

    /// For each call, the calls of the interleaved tiled group it leads: 1 for a call on its
    /// own, 0 for a group's later calls (the QxK unit runs them with their first).
    pub fn tile_group_sizes(&self) -> &[u32] {
        &self.tile_groups
    }

    /// What a tiled job of `call` consumed by `consumer` waits for (see [`Wait`]).
    fn wait_for(&self, call: usize, consumer: Consumer) -> Option<Wait> {
        let first = self.tile_leader[call].unwrap_or(call);
        let size = self.tile_groups[first] as usize;
        if size <= 1 {
            return None;
        }
        match consumer {
            Consumer::Qk { lsb: false } => None,
            Consumer::Qk { lsb: true } => Some(Wait::QkMsb((first + size - 1) as u32)),
            Consumer::Pv if call > first => Some(Wait::Pv(call as u32 - 1)),
            Consumer::Pv => None,
        }
    }

    /// Whether the layer records `hc` depends on are done: those of its sequence before its
    /// (iteration, layer). Records finish in order, so the undone ones start at the prefix,
    /// and only those before `hc`'s (iteration, layer) are looked at (one per sequence).
    fn layers_ready(&self, hc: &HeadCall) -> bool {
        for r in &self.records[self.record_prefix..] {
            if (r.key.0, r.key.1) >= (hc.iteration, hc.layer) {
                return true;
            }
            if r.key.2 == hc.sequence {
                return false;
            }
        }
        true
    }

    /// Per sequence of the batch and iteration (0 = the prompt pass), the cycle its last head
    /// closed or its last layer record finished: when that step was done (0 for a step the
    /// trace does not run).
    pub fn step_end_cycles(&self) -> &[Vec<u64>] {
        &self.step_end
    }

    fn step_done(&mut self, sequence: u32, iteration: u32, now: u64) {
        let end = &mut self.step_end[sequence as usize][iteration as usize];
        *end = (*end).max(now);
    }

    pub fn finished(&self, calls: usize) -> bool {
        self.heads_closed == calls && self.record_prefix == self.records.len()
    }

    pub fn describe(&self) -> String {
        format!(
            "controller: ring {}, next to open {}, next QxK pass {}, {} closed, layer records done {}/{}",
            self.ring.describe(),
            self.next_open,
            self.next_qk,
            self.heads_closed,
            self.record_prefix,
            self.records.len()
        )
    }

    fn job<'a>(
        &self,
        ports: &mut Ports<'_, 'a>,
        hc: &HeadCall,
        tensor: Tensor,
        cause: Cause,
        rows: Rows<'a>,
        bits: u8,
    ) -> usize {
        // K and V live in the regions of the K/V head (the query head without grouping).
        let head = match tensor {
            Tensor::Q => hc.head,
            _ => self.kv_head_of(hc.head),
        };
        let row_bits = self.head_dim * bits as u64;
        let layer = AddressLayout::layer_of(self.layers, hc.sequence, hc.layer);
        let placement = self.layout.placement(layer, head, tensor, row_bits);
        let job = FetchJob::new(tensor, cause, rows, placement, row_bits, self.txn_bytes);
        ports.jobs.push(job);
        let id = ports.jobs.len() - 1;
        ports.fetch_queue.push_back(id);
        id
    }

    /// Requests the trace's K or V rows of head call `call` in `tensor`'s bits (MSB fetch or
    /// LSB refetch) and records the job in the head's state.
    fn fetch_kv<'a>(
        &mut self,
        ports: &mut Ports<'_, 'a>,
        call: usize,
        hc: &'a HeadCall,
        tensor: Tensor,
    ) {
        if let (Tensor::KMsb, Some(first)) = (tensor, self.tile_leader[call]) {
            // The group's one K-MSB stream, scored by every call of the group tile by tile.
            ports.heads[call].k_job = ports.heads[first].k_job;
            return;
        }
        let (cause, rows, bits) = match tensor {
            Tensor::KMsb => (Cause::MsbFetch, &hc.keys, hc.key_msb_bits),
            Tensor::KLsb => (Cause::LsbRefetch, &hc.keys, hc.lsb_bits),
            Tensor::VMsb => (Cause::MsbFetch, &hc.values, hc.value_msb_bits),
            Tensor::VLsb => (Cause::LsbRefetch, &hc.values, hc.lsb_bits),
            Tensor::Q => unreachable!("queries are fetched by row range"),
        };
        // A tiled summarization call streams its K and V once per query block (K twice in a
        // two-pass design).
        let (list, period) = match self.plan.blocks(hc) {
            Some(b) => (
                Rows::Repeat {
                    list: rows,
                    times: b.count()
                        * if matches!(tensor, Tensor::KMsb | Tensor::KLsb) {
                            b.key_passes
                        } else {
                            1
                        },
                },
                rows.len() as u32,
            ),
            None => (Rows::List(rows), u32::MAX),
        };
        let id = Some(
            self.shared_job(ports, calls_value_topk(hc), call, tensor)
                .unwrap_or_else(|| {
                    let id = self.job(ports, hc, tensor, cause, list, bits);
                    let consumer = match tensor {
                        Tensor::KMsb => Consumer::Qk { lsb: false },
                        Tensor::KLsb => Consumer::Qk { lsb: true },
                        _ => Consumer::Pv,
                    };
                    self.tile(ports, call, id, consumer, rows.len(), period);
                    id
                }),
        );
        let h = &mut ports.heads[call];
        match tensor {
            Tensor::KMsb => h.k_job = id,
            Tensor::KLsb => h.k_lsb_job = id,
            Tensor::VMsb => h.v_job = id,
            Tensor::VLsb => h.v_lsb_job = id,
            Tensor::Q => {}
        }
    }

    /// Registers job `id` of a tiled call as streaming through SRAM when its rows exceed a
    /// tile, and gives it the room of the first tiles.
    fn tile(
        &mut self,
        ports: &mut Ports<'_, '_>,
        call: usize,
        id: usize,
        consumer: Consumer,
        rows: usize,
        period: u32,
    ) {
        let p = &self.plan;
        let (tile_rows, tiles_in_flight) = match consumer {
            Consumer::Qk { .. } => (p.key_tile_rows, p.key_tiles_in_flight),
            Consumer::Pv => (p.value_tile_rows, p.value_tiles_in_flight),
        };
        let wait = self.wait_for(call, consumer);
        // A job that fits a bank needs no tiles, but in an interleaved group it may still
        // have to wait for the SRAM another call of the group holds.
        if !self.tiled[call] || (rows as u64 <= tile_rows as u64 && wait.is_none()) {
            return;
        }
        let t = TiledJob {
            call: call as u32,
            consumer,
            tile_rows,
            tiles_in_flight,
            wait,
            period,
        };
        ports.jobs[id].row_limit = if wait.is_some() { 0 } else { t.row_limit(0) };
        self.tiled_jobs.insert(id, t);
    }

    /// The recompute of a tiled call after an LSB refetch: its K MSB rows have left the
    /// SRAM with their tiles, so they stream again beside the LSB rows.
    fn restream_keys<'a>(&mut self, ports: &mut Ports<'_, 'a>, call: usize, hc: &'a HeadCall) {
        let id = self.job(
            ports,
            hc,
            Tensor::KMsb,
            Cause::LsbRefetch,
            Rows::List(&hc.keys),
            hc.key_msb_bits,
        );
        self.tile(
            ports,
            call,
            id,
            Consumer::Qk { lsb: true },
            hc.keys.len(),
            u32::MAX,
        );
        ports.heads[call].k_job = Some(id);
    }

    fn kv_head_of(&self, head: u32) -> u32 {
        head / self.group_size
    }

    /// The job of the group's first call that already brings `tensor`'s rows for `call`, if
    /// any: K always (the group scores one union of rows), V only when neither call prunes
    /// V locally (locally kept rows are chosen per query head).
    fn shared_job(
        &self,
        ports: &Ports<'_, '_>,
        local_v: bool,
        call: usize,
        tensor: Tensor,
    ) -> Option<usize> {
        let lead = self.leader[call]?;
        let h = &ports.heads[lead];
        match tensor {
            Tensor::KMsb => h.k_job,
            Tensor::KLsb => h.k_lsb_job,
            Tensor::VMsb if !local_v && !h.local_v => h.v_job,
            Tensor::VLsb if !local_v && !h.local_v => h.v_lsb_job,
            _ => None,
        }
    }

    /// One cycle of sequencing; returns whether anything changed.
    pub fn step<'a>(
        &mut self,
        trace: &'a AttentionTrace,
        ports: &mut Ports<'_, 'a>,
        ev: &mut Events,
    ) -> bool {
        let calls = &trace.head_calls;
        let mut progress = !ev.is_empty();
        for call in ev.decided.drain(..) {
            let hc = &calls[call as usize];
            ports.heads[call as usize].decided = true;
            if hc.lsb_refetch {
                self.lsb_refetches += 1;
                if self.tiled[call as usize]
                    && hc.keys.len() as u64 > self.plan.key_tile_rows as u64
                {
                    self.restream_keys(ports, call as usize, hc);
                }
                self.fetch_kv(ports, call as usize, hc, Tensor::KLsb);
                if hc.value_topk.is_none() {
                    self.fetch_kv(ports, call as usize, hc, Tensor::VLsb);
                }
                if self.qk_waits_for_requant {
                    ports.qk_queue.push_back((call, true));
                } else {
                    // Re-injected with priority, behind LSB passes already waiting.
                    let at = ports.qk_queue.iter().take_while(|&&(_, lsb)| lsb).count();
                    ports.qk_queue.insert(at, (call, true));
                }
            }
        }
        for call in ev.value_topk_selected.drain(..) {
            let hc = &calls[call as usize];
            self.fetch_kv(ports, call as usize, hc, Tensor::VMsb);
            if hc.lsb_refetch {
                self.fetch_kv(ports, call as usize, hc, Tensor::VLsb);
            }
        }
        for call in ev.pv_done.drain(..) {
            ports.heads[call as usize].pv_done = true;
            self.try_close(calls, ports, call);
        }
        for call in ev.importance_done.drain(..) {
            ports.heads[call as usize].importance_done = true;
            self.try_close(calls, ports, call);
        }
        for record in ev.records_done.drain(..) {
            let r = &mut self.records[record as usize];
            r.done = true;
            let (iteration, _, sequence) = r.key;
            self.step_done(sequence, iteration, ports.now);
        }
        // Layer top-k calls, strictly in record order.
        while self.record_prefix < self.records.len() {
            let r = &mut self.records[self.record_prefix];
            if r.done {
                self.record_prefix += 1;
                progress = true;
                continue;
            }
            let rec = &trace.layers[self.record_prefix];
            if rec.token_topk.is_none() && rec.head_topk.is_none() {
                // Nothing is pruned after this layer: the next layer's keys are known.
                r.done = true;
                continue;
            }
            if !r.submitted && r.heads_closed == r.heads_total {
                r.submitted = true;
                progress = true;
                let mut cycles = 0;
                for t in [rec.token_topk, rec.head_topk].into_iter().flatten() {
                    cycles += topk_call_cycles(&trace.topk_calls[t as usize], &self.token_cfg);
                    self.token_comparisons += topk_call_comparisons(&trace.topk_calls[t as usize]);
                }
                self.token_calls += rec.token_topk.is_some() as u64;
                self.head_calls += rec.head_topk.is_some() as u64;
                if cycles == 0 {
                    r.done = true;
                    continue;
                }
                ports.token_topk.submit(self.record_prefix as u32, cycles);
            }
            break;
        }
        // Open heads into free SRAM banks.
        while self.next_open < calls.len() {
            let hc = &calls[self.next_open];
            // A group shares its first call's bank: only that call needs a free one.
            let bank = self.leader[self.next_open]
                .or(self.tile_leader[self.next_open])
                .unwrap_or(self.next_open);
            let alloc = self.ring.allocation(hc, self.tiled[bank]);
            if bank == self.next_open && !self.ring.fits(alloc) {
                break;
            }
            if !self.layers_ready(hc) {
                break;
            }
            let q_rows = if hc.iteration == 0 && hc.queries as usize == hc.keys.len() {
                Rows::List(&hc.keys)
            } else {
                let start = if hc.iteration == 0 {
                    0
                } else {
                    self.prompt_tokens + hc.iteration - 1
                };
                Rows::Range {
                    start,
                    count: hc.queries,
                }
            };
            let h = self.next_open;
            ports.heads[h].local_v = hc.value_topk.is_some();
            ports.heads[h].q_job =
                Some(self.job(ports, hc, Tensor::Q, Cause::Query, q_rows, hc.query_bits));
            self.fetch_kv(ports, h, hc, Tensor::KMsb);
            if hc.value_topk.is_none() {
                self.fetch_kv(ports, h, hc, Tensor::VMsb);
            }
            if bank == self.next_open {
                self.ring.take(alloc);
            }
            self.bank_users[bank] += 1;
            self.next_open += 1;
            progress = true;
        }
        // Release QxK passes in order.
        while self.next_qk < self.next_open {
            if self.qk_waits_for_requant && self.next_qk > 0 {
                let prev = self.next_qk - 1;
                if calls[prev].lsb_bits > 0 && !ports.heads[prev].decided {
                    break;
                }
            }
            ports.qk_queue.push_back((self.next_qk as u32, false));
            self.next_qk += 1;
            progress = true;
        }
        progress
    }

    fn try_close(&mut self, calls: &[HeadCall], ports: &mut Ports, call: u32) {
        let h = &mut ports.heads[call as usize];
        let hc = &calls[call as usize];
        if h.closed || !h.pv_done || (hc.accumulate_importance && !h.importance_done) {
            return;
        }
        h.closed = true;
        // The bank is free when the last open call of its group closes (the group's calls
        // open together, in the cycle its first call does).
        let bank = self.leader[call as usize]
            .or(self.tile_leader[call as usize])
            .unwrap_or(call as usize);
        self.bank_users[bank] -= 1;
        if self.bank_users[bank] == 0 {
            self.ring
                .free(self.ring.allocation(&calls[bank], self.tiled[bank]));
        }
        self.heads_closed += 1;
        self.step_done(hc.sequence, hc.iteration, ports.now);
        if let Some(r) = self.record_of_call[call as usize] {
            self.records[r as usize].heads_closed += 1;
        }
    }
}
