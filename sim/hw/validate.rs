//! Up-front checks that turn traces and configurations the pipeline cannot run into typed
//! errors instead of panics or stalls.

use super::error::SimError;
use crate::config::ArchConfig;
use crate::dram::Dram;
use crate::trace::attention::{AttentionTrace, HeadCall};

fn ascending(v: &[u32]) -> bool {
    v.windows(2).all(|w| w[0] < w[1])
}

/// On-chip bytes per SRAM bank (half the SRAM when double-buffered).
pub fn bank_bytes(total: u64, double_buffered: bool) -> u64 {
    if double_buffered { total / 2 } else { total }
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
    let row_bytes = d as u64 * arch.bitwidth_converter.output_bits as u64 / 8;
    let key_rows = bank_bytes(arch.qk.key_sram_bytes, arch.qk.double_buffered) / row_bytes.max(1);
    let value_rows =
        bank_bytes(arch.pv.value_sram_bytes, arch.pv.double_buffered) / row_bytes.max(1);
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
        // Generation calls (one query row) stream larger K/V through SRAM in tiles.
        let tiles = c.queries == 1;
        if c.keys.len() as u64 > key_rows && !tiles {
            return Err(bad(format!(
                "{} keys of {} query rows exceed one key SRAM bank ({key_rows} rows of {row_bytes} B, qk.key_sram_bytes); key tiling is modelled for one query row only",
                c.keys.len(),
                c.queries
            )));
        }
        if c.values.len() as u64 > value_rows && !tiles {
            return Err(bad(format!(
                "{} values of {} query rows exceed one value SRAM bank ({value_rows} rows, pv.value_sram_bytes); value tiling is modelled for one query row only",
                c.values.len(),
                c.queries
            )));
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
            if (p.iteration, p.layer) > (c.iteration, c.layer) {
                return Err(bad("head calls are not in (iteration, layer) order".into()));
            }
        }
    }
    for (i, r) in trace.layers.iter().enumerate() {
        if i > 0 {
            let p = &trace.layers[i - 1];
            if (p.iteration, p.layer) >= (r.iteration, r.layer) {
                return Err(SimError::BadTrace(format!(
                    "layer record {i} is not in (iteration, layer) order"
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
