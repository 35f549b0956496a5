//! Up-front checks that turn traces and configurations the pipeline cannot run into typed
//! errors instead of panics or stalls.

use super::error::SimError;
use super::tiling::TilePlan;
use crate::config::ArchConfig;
use crate::dram::Dram;
use crate::trace::attention::{AttentionTrace, HeadCall, TopkPurpose, TopkStage};

fn ascending(v: &[u32]) -> bool {
    v.windows(2).all(|w| w[0] < w[1])
}

pub fn check(arch: &ArchConfig, trace: &AttentionTrace, dram: &dyn Dram) -> Result<(), SimError> {
    let cfg = |key: &str, reason: String| SimError::Config {
        key: key.into(),
        reason,
    };
    let h = &trace.header;
    let d = h.head_dim;
    if d == 0 {
        return Err(SimError::BadTrace("header.head_dim is 0".into()));
    }
    if arch.qk.multipliers < d {
        return Err(cfg(
            "qk.multipliers",
            format!("{} is below head_dim {d}", arch.qk.multipliers),
        ));
    }
    if arch.pv.multipliers < d {
        return Err(cfg(
            "pv.multipliers",
            format!("{} is below head_dim {d}", arch.pv.multipliers),
        ));
    }
    if dram.request_bytes() != arch.fetcher.transaction_bytes {
        return Err(cfg(
            "fetcher.transaction_bytes",
            format!(
                "{} B but the DRAM back-end moves {} B per request",
                arch.fetcher.transaction_bytes,
                dram.request_bytes()
            ),
        ));
    }
    // A beat wider than the FIFO it feeds never fits: refuse it rather than deadlock.
    if let Some((key, reason)) = arch.fifo_beat_violations(Some(d)).into_iter().next() {
        return Err(cfg(&key, reason));
    }
    let plan = TilePlan::new(arch, d);
    check_softmax_tiles(&plan, trace)?;
    check_value_selections(arch, trace)?;
    for (i, c) in trace.head_calls.iter().enumerate() {
        let bad = |reason: String| SimError::BadHeadCall {
            index: i,
            iteration: c.iteration,
            layer: c.layer,
            head: c.head,
            reason,
        };
        check_call(c, trace, &bad)?;
        check_pages(arch, c, d)?;
        if plan.tiled(c) {
            check_tiled(arch, &plan, c, (d, h.heads, h.kv_heads()), &bad)?;
        }
        if c.accumulate_importance
            && c.keys
                .last()
                .is_some_and(|&k| k >= arch.importance.token_entries)
        {
            return Err(bad(format!(
                "token index {} does not fit importance.token_entries = {}",
                c.keys.last().copied().unwrap_or(0),
                arch.importance.token_entries
            )));
        }
        if i > 0 {
            let p = &trace.head_calls[i - 1];
            if (p.iteration, p.layer, p.sequence) > (c.iteration, c.layer, c.sequence) {
                return Err(bad(
                    "head calls are not in (iteration, layer, sequence) order".into(),
                ));
            }
        }
    }
    for (i, r) in trace.layers.iter().enumerate() {
        if i > 0 {
            let p = &trace.layers[i - 1];
            if (p.iteration, p.layer, p.sequence) >= (r.iteration, r.layer, r.sequence) {
                return Err(SimError::BadTrace(format!(
                    "layer record {i} is not in (iteration, layer, sequence) order"
                )));
            }
        }
        for t in [r.token_topk, r.head_topk].into_iter().flatten() {
            if t as usize >= trace.topk_calls.len() {
                return Err(SimError::BadTrace(format!(
                    "layer record {i} names top-k call {t}, which does not exist"
                )));
            }
        }
    }
    Ok(())
}

/// The trace's arithmetic must be the design's: a two-pass design sums the rows of calls
/// with many query rows online over its key tiles (SPEC.md 9b), which differs from the exact
/// sum once a row has more keys than a tile.
fn check_softmax_tiles(plan: &TilePlan, trace: &AttentionTrace) -> Result<(), SimError> {
    let (want, got) = (
        plan.reference_key_tile(),
        trace.header.softmax_key_tile_rows,
    );
    if want == got {
        return Ok(());
    }
    let tile = want.into_iter().chain(got).min().expect("they differ");
    let Some(c) = trace
        .head_calls
        .iter()
        .find(|c| c.queries > 1 && c.keys.len() as u64 > tile as u64)
    else {
        return Ok(());
    };
    let says = |t: Option<u32>| match t {
        Some(t) => format!("online over key tiles of {t} rows (a two-pass design)"),
        None => "exactly".to_string(),
    };
    Err(SimError::Config {
        key: "softmax.tiled_summarization".into(),
        reason: format!(
            "the trace sums rows of calls with many query rows {} (layer {} head {}: {} query \
             rows over {} keys), this design {}; make the trace for it (`spatten trace \
             reference --arch ...`, or run the workload)",
            says(got),
            c.layer,
            c.head,
            c.queries,
            c.keys.len(),
            says(want)
        ),
    })
}

/// The trace's local-V selections must be the ones this design's engine runs: over all n
/// when it holds them (or ranks in place), hierarchically when it holds fewer (SPEC.md 6.4),
/// and it must be able to shrink them (keep fewer than it holds).
fn check_value_selections(arch: &ArchConfig, trace: &AttentionTrace) -> Result<(), SimError> {
    let entries = arch.topk_value.candidate_entries;
    let key = "topk_value.candidate_entries";
    for c in trace
        .topk_calls
        .iter()
        .filter(|c| c.purpose == TopkPurpose::LocalValue)
    {
        if let Some(e) = entries
            && c.n > e
            && c.k >= e
        {
            return Err(SimError::Config {
                key: key.into(),
                reason: format!(
                    "a local-V selection keeps {} of {} probabilities, but the engine holds {e} \
                     candidates: a hierarchical selection needs fewer kept rows than that",
                    c.k, c.n
                ),
            });
        }
        let plan = entries.map_or_else(Vec::new, |e| TopkStage::plan(c.n, c.k, e));
        let got: Vec<(u32, u32)> = c.stages.iter().map(|s| (s.n, s.k)).collect();
        if plan != got {
            let says = |e: Option<u32>| match e {
                Some(e) => format!("an engine holding {e} candidates"),
                None => "an engine ranking every row in place".into(),
            };
            return Err(SimError::Config {
                key: key.into(),
                reason: format!(
                    "the trace's local-V selections are those of {} (one keeps {} of {}), this \
                     design has {}; make the trace for it (`spatten trace reference --arch \
                     ...`, or run the workload)",
                    says(trace.header.value_topk_entries),
                    c.k,
                    c.n,
                    says(entries)
                ),
            });
        }
    }
    Ok(())
}

/// A two-pass design tiles a K/V group's shared rows while the reference tiles each query
/// head's own keys: the two agree only when the group's calls with rows longer than a tile
/// keep the same keys (as token pruning keeps them; a per-head policy might not). Checked on
/// the trace as recorded, before [`super::gqa::shared_view`] gives a group one union.
pub fn check_group_keys(arch: &ArchConfig, trace: &AttentionTrace) -> Result<(), SimError> {
    let h = &trace.header;
    let tile = TilePlan::new(arch, h.head_dim.max(1)).reference_key_tile();
    let Some(tile) = tile.filter(|_| h.kv_heads() != h.heads) else {
        return Ok(());
    };
    let group = |c: &HeadCall| (c.iteration, c.layer, c.sequence, h.kv_head_of(c.head));
    let mut first: Option<&HeadCall> = None;
    for c in trace
        .head_calls
        .iter()
        .filter(|c| c.queries > 1 && c.keys.len() as u64 > tile as u64)
    {
        match first {
            Some(f) if group(f) == group(c) && f.keys != c.keys => {
                return Err(SimError::Config {
                    key: "softmax.tiled_summarization".into(),
                    reason: format!(
                        "layer {} heads {} and {} share K/V head {} but keep different keys \
                         ({} and {}): a two-pass design's key tiles over the group's union \
                         are not the tiles the reference summed each head's row over",
                        c.layer,
                        f.head,
                        c.head,
                        group(c).3,
                        f.keys.len(),
                        c.keys.len()
                    ),
                });
            }
            Some(f) if group(f) == group(c) => {}
            _ => first = Some(c),
        }
    }
    Ok(())
}

/// What a call streaming its K/V through the SRAM in tiles needs (sim/hw/tiling.rs): the
/// softmax buffer for its rows' exponentials and, in summarization, tiles of K and V that
/// line up, a V row per key and no LSB recompute.
fn check_tiled(
    arch: &ArchConfig,
    plan: &TilePlan,
    c: &HeadCall,
    (head_dim, heads, kv_heads): (u32, u32, u32),
    bad: &dyn Fn(String) -> SimError,
) -> Result<(), SimError> {
    let cfg = |key: &str, reason: String| SimError::Config {
        key: key.into(),
        reason,
    };
    let keys = c.keys.len() as u64;
    let entries = arch.softmax.score_buffer_entries;
    if c.queries == 1 {
        let rows = arch.interleaved_group_rows(heads, kv_heads) as u64;
        if !plan.generation_runs(keys, rows) {
            return Err(cfg(
                "softmax.score_buffer_entries",
                format!(
                    "= {entries}: a generation row of {keys} keys streams through the SRAM in tiles and keeps all its exponentials{} (softmax.overflow = \"spill\" would write those beyond the buffer to DRAM)",
                    if rows > 1 {
                        format!(
                            ", for each of the {rows} query heads of an interleaved K/V group (controller.interleave_group_tiles)"
                        )
                    } else {
                        String::new()
                    }
                ),
            ));
        }
        return Ok(());
    }
    if plan.block_rows(c.keys.len()) == 0 {
        return Err(cfg(
            "softmax.score_buffer_entries",
            format!(
                "= {entries}: a summarization head of {keys} keys runs its query rows in blocks through SRAM tiles, and {} {} entries",
                if plan.two_pass {
                    "a two-pass block of one row (two key tile rows of scores, a running max and sum) needs"
                } else {
                    "two blocks of at least one row need"
                },
                plan.min_block_entries(c.keys.len())
            ),
        ));
    }
    if !plan.tiles_line_up() {
        return Err(cfg(
            "pv.value_sram_bytes",
            format!(
                "a summarization head of {keys} keys streams K and V in tiles of the same rows, but qk.key_sram_bytes gives key tiles of {} rows ({} in flight) and pv.value_sram_bytes value tiles of {} ({})",
                plan.key_tile_rows,
                plan.key_tiles_in_flight,
                plan.value_tile_rows,
                plan.value_tiles_in_flight
            ),
        ));
    }
    if c.values != c.keys {
        return Err(bad(format!(
            "a summarization head streaming through the SRAM in tiles must fetch a V row per key ({} keys, {} values)",
            c.keys.len(),
            c.values.len()
        )));
    }
    if c.lsb_bits > 0 {
        return Err(bad(format!(
            "{keys} keys of {} query rows stream through the SRAM in tiles, where an LSB recompute (lsb_bits = {}, progressive quantization of a summarization head) is not modelled",
            c.queries, c.lsb_bits
        )));
    }
    let b = plan.blocks(c).expect("tiled with many query rows");
    let bits = c.key_msb_bits.max(c.value_msb_bits) as u64;
    let txns = plan.restream_transactions(
        c.queries as u64,
        keys,
        head_dim as u64,
        bits,
        arch.fetcher.transaction_bytes as u64,
    );
    if txns > u32::MAX as u64 {
        return Err(cfg(
            "softmax.score_buffer_entries",
            format!(
                "= {entries}: {keys} keys in blocks of {} query rows re-stream K and V {} times, about {txns} transactions per stream, above the simulator's 32-bit count per fetch job",
                b.rows,
                b.count()
            ),
        ));
    }
    Ok(())
}

/// Every plane a call fetches must fill its pages with whole transactions.
fn check_pages(arch: &ArchConfig, c: &HeadCall, head_dim: u32) -> Result<(), SimError> {
    let f = &arch.fetcher;
    let lsb = if c.lsb_refetch { c.lsb_bits } else { 0 };
    for bits in [c.key_msb_bits, c.value_msb_bits, lsb] {
        if bits == 0 {
            continue;
        }
        if let Some(reason) = f.page_misfit(head_dim, bits as u32) {
            return Err(SimError::Config {
                key: "fetcher.kv_page_tokens".into(),
                reason,
            });
        }
    }
    Ok(())
}

fn check_call(
    c: &HeadCall,
    trace: &AttentionTrace,
    bad: &dyn Fn(String) -> SimError,
) -> Result<(), SimError> {
    let h = &trace.header;
    if c.layer >= h.layers || c.head >= h.heads {
        return Err(bad(format!(
            "layer/head outside the header's {} x {}",
            h.layers, h.heads
        )));
    }
    if c.sequence >= h.batch() {
        return Err(bad(format!(
            "sequence {} outside the header's batch of {}",
            c.sequence,
            h.batch()
        )));
    }
    if c.queries == 0 || c.keys.is_empty() || c.values.is_empty() {
        return Err(bad("needs at least one query, key and value row".into()));
    }
    if !ascending(&c.keys) || !ascending(&c.values) {
        return Err(bad("keys and values must be strictly ascending".into()));
    }
    for (name, bits) in [
        ("query_bits", c.query_bits),
        ("key_msb_bits", c.key_msb_bits),
        ("value_msb_bits", c.value_msb_bits),
    ] {
        if bits == 0 || bits > 16 {
            return Err(bad(format!("{name} = {bits} is outside 1..=16")));
        }
    }
    if c.lsb_bits > 16 || (c.lsb_refetch && c.lsb_bits == 0) {
        return Err(bad(format!(
            "lsb_bits = {} with lsb_refetch = {}",
            c.lsb_bits, c.lsb_refetch
        )));
    }
    if let Some(t) = c.value_topk
        && t as usize >= trace.topk_calls.len()
    {
        return Err(bad(format!(
            "value_topk {t} names a top-k call that does not exist"
        )));
    }
    Ok(())
}
