//! Consistency rules every attention trace obeys; the reader and the writer both enforce them.

use super::attention::{AttentionTrace, TopkCall, TopkPurpose, TopkStage, TraceHeader};

/// Tokens that exist in `iteration`: the prompt, plus one per generated token so far
/// (iteration i >= 1 generates token i, whose query sees prompt + i keys).
pub fn tokens_in_iteration(prompt_tokens: u32, iteration: u32) -> u64 {
    prompt_tokens as u64 + iteration as u64
}

fn ascending_below(xs: &[u32], bound: u64) -> Result<(), String> {
    for w in xs.windows(2) {
        if w[0] >= w[1] {
            return Err(format!("not strictly ascending ({} then {})", w[0], w[1]));
        }
    }
    match xs.last() {
        Some(&last) if last as u64 >= bound => Err(format!("index {last} is not below {bound}")),
        _ => Ok(()),
    }
}

fn is_subset(small: &[u32], big: &[u32]) -> bool {
    let mut it = big.iter();
    small.iter().all(|s| it.by_ref().any(|b| b == s))
}

/// Tokens a workload can reach (`config::workload::MAX_TOKENS`).
pub const MAX_TOKENS: u64 = 131_072;

/// Sequences a batch can hold (`stage.batch`).
pub const MAX_BATCH: u32 = 256;

/// The header's shape within what workloads allow (config/workload.rs), so that nothing sized
/// or looped by a header field (per-layer totals, the simulator's address layout) can be
/// made huge by the header alone. Returns the first violation, naming the field.
pub fn check_header(h: &TraceHeader) -> Result<(), String> {
    if h.layers == 0 || h.heads == 0 || h.head_dim == 0 {
        return Err("header: layers, heads and head_dim must be at least 1".into());
    }
    for (field, v, max) in [
        ("layers", h.layers as u64, 256),
        ("heads", h.heads as u64, 256),
        ("head_dim", h.head_dim as u64, 128),
        ("prompt_tokens", h.prompt_tokens as u64, MAX_TOKENS),
        ("generated_tokens", h.generated_tokens as u64, MAX_TOKENS),
    ] {
        if v > max {
            return Err(format!(
                "header.{field} = {v}: at most {max} (the limit for workloads)"
            ));
        }
    }
    if let Some(b) = h.batch
        && !(2..=MAX_BATCH).contains(&b)
    {
        return Err(format!(
            "header.batch = {b}: from 2 to {MAX_BATCH} (absent means one sequence)"
        ));
    }
    if let Some(e) = h.value_topk_entries
        && e < 2
    {
        return Err(format!(
            "header.value_topk_entries = {e}: an engine that ranks holds at least 2 candidates"
        ));
    }
    if h.softmax_key_tile_rows == Some(0) {
        return Err("header.softmax_key_tile_rows = 0: a key tile holds at least one row".into());
    }
    // Workloads, which traces are replayed with, record seeds as TOML integers: signed
    // 64-bit.
    if h.seed > i64::MAX as u64 {
        return Err(format!(
            "header.seed = {}: at most {} (seeds are TOML integers in workloads)",
            h.seed,
            i64::MAX
        ));
    }
    if let Some(kv) = h.kv_heads
        && (kv == 0 || kv >= h.heads || !h.heads.is_multiple_of(kv))
    {
        return Err(format!(
            "header.kv_heads = {kv}: must divide heads = {} and be below it (absent means one K/V head per query head)",
            h.heads
        ));
    }
    let total = h.prompt_tokens as u64 + h.generated_tokens as u64;
    if total > MAX_TOKENS {
        return Err(format!(
            "header.prompt_tokens + header.generated_tokens = {total}: at most {MAX_TOKENS} \
             (the limit for workloads)"
        ));
    }
    Ok(())
}

/// A hierarchical selection's stages are the plan of its (n, k) for the header's engine
/// (SPEC.md 6.4): only local-V calls have them, and those that outgrow the engine must.
fn check_stages(at: &str, c: &TopkCall, entries: Option<u32>) -> Result<(), String> {
    let plan = match (c.purpose, entries) {
        (TopkPurpose::LocalValue, Some(e)) => TopkStage::plan(c.n, c.k, e),
        _ => Vec::new(),
    };
    let got: Vec<(u32, u32)> = c.stages.iter().map(|s| (s.n, s.k)).collect();
    if got == plan {
        return Ok(());
    }
    Err(match entries {
        Some(e) if c.purpose == TopkPurpose::LocalValue => format!(
            "{at}: its stages (n, k) are {got:?}, but a selection of {} of {} by an engine \
             holding {e} candidates (header.value_topk_entries) runs {plan:?}",
            c.k, c.n
        ),
        _ => format!(
            "{at}: lists {} hierarchical stages, which only local-V calls of a trace whose \
             header gives value_topk_entries have",
            got.len()
        ),
    })
}

/// Returns the first violated rule, naming the record.
pub fn check_trace(t: &AttentionTrace) -> Result<(), String> {
    let h = &t.header;
    check_header(h)?;
    let all_tokens = h.prompt_tokens as u64 + h.generated_tokens as u64;
    let topk_len = t.topk_calls.len();
    for (i, c) in t.topk_calls.iter().enumerate() {
        let at = format!("topk call {i}");
        if c.k > c.n {
            return Err(format!("{at}: k = {} exceeds n = {}", c.k, c.n));
        }
        // A top-k call ranks tokens or heads: never more than the trace has.
        let most = match c.purpose {
            TopkPurpose::Head => h.heads as u64,
            TopkPurpose::Token | TopkPurpose::LocalValue | TopkPurpose::Page => all_tokens,
        };
        if c.n as u64 > most {
            return Err(format!(
                "{at}: n = {} exceeds the {most} {} of the header",
                c.n,
                if c.purpose == TopkPurpose::Head {
                    "heads"
                } else {
                    "tokens"
                }
            ));
        }
        check_stages(&at, c, h.value_topk_entries)?;
        let mut rounds = c.rounds.as_slice();
        for s in c.stage_list() {
            if s.rounds as usize > rounds.len() {
                return Err(format!(
                    "{at}: its stages list {} rounds or more, the call {}",
                    s.rounds,
                    c.rounds.len()
                ));
            }
            let (mine, rest) = rounds.split_at(s.rounds as usize);
            rounds = rest;
            if let Some(&first) = mine.first()
                && first != s.n
            {
                return Err(format!(
                    "{at}: first round streams {first} elements, not n = {}",
                    s.n
                ));
            }
            for w in mine.windows(2) {
                if w[1] > w[0] {
                    return Err(format!("{at}: round sizes grow ({} then {})", w[0], w[1]));
                }
            }
        }
        if !rounds.is_empty() {
            return Err(format!(
                "{at}: {} rounds beyond those of its stages",
                rounds.len()
            ));
        }
    }
    let topk_ref = |at: &str, field: &str, r: Option<u32>, purpose: TopkPurpose| match r {
        None => Ok(None),
        Some(i) if (i as usize) < topk_len => {
            let c = &t.topk_calls[i as usize];
            if c.purpose != purpose {
                Err(format!(
                    "{at}: {field} = {i} is a {:?} call, expected {purpose:?}",
                    c.purpose
                ))
            } else {
                Ok(Some(c))
            }
        }
        Some(i) => Err(format!(
            "{at}: {field} = {i} but there are {topk_len} top-k calls"
        )),
    };
    let check_iteration = |at: &str, iteration: u32| {
        if iteration > h.generated_tokens {
            Err(format!(
                "{at}: iteration {iteration} exceeds generated_tokens = {}",
                h.generated_tokens
            ))
        } else {
            Ok(())
        }
    };

    let batch = h.batch();
    let check_sequence = |at: &str, sequence: u32| {
        if sequence >= batch {
            Err(format!(
                "{at}: sequence {sequence} not below the header's batch of {batch}"
            ))
        } else {
            Ok(())
        }
    };
    let mut prev: Option<(u32, u32, u32, u32)> = None;
    for (i, c) in t.head_calls.iter().enumerate() {
        let at = if batch > 1 {
            format!(
                "head call {i} (iteration {}, layer {}, sequence {}, head {})",
                c.iteration, c.layer, c.sequence, c.head
            )
        } else {
            format!(
                "head call {i} (iteration {}, layer {}, head {})",
                c.iteration, c.layer, c.head
            )
        };
        check_iteration(&at, c.iteration)?;
        check_sequence(&at, c.sequence)?;
        if c.layer >= h.layers {
            return Err(format!("{at}: layer id not below {} layers", h.layers));
        }
        if c.head >= h.heads {
            return Err(format!("{at}: head id not below {} heads", h.heads));
        }
        let key = (c.iteration, c.layer, c.sequence, c.head);
        if prev.is_some_and(|p| p >= key) {
            return Err(format!(
                "{at}: not after the previous call in (iteration, layer, sequence, head) order"
            ));
        }
        prev = Some(key);
        let bound = tokens_in_iteration(h.prompt_tokens, c.iteration);
        ascending_below(&c.keys, bound).map_err(|e| format!("{at}: keys {e}"))?;
        ascending_below(&c.values, bound).map_err(|e| format!("{at}: values {e}"))?;
        if !is_subset(&c.values, &c.keys) {
            return Err(format!("{at}: values are not a subset of keys"));
        }
        // Query rows are tokens of this iteration (all alive ones, or the newest).
        if c.queries as u64 > bound {
            return Err(format!(
                "{at}: queries = {} exceeds the {bound} tokens of iteration {}",
                c.queries, c.iteration
            ));
        }
        if c.requant_rows > c.queries {
            return Err(format!(
                "{at}: requant_rows {} exceeds queries {}",
                c.requant_rows, c.queries
            ));
        }
        if c.lsb_refetch && c.lsb_bits == 0 {
            return Err(format!("{at}: LSBs refetched but lsb_bits = 0"));
        }
        if let Some(call) = topk_ref(&at, "value_topk", c.value_topk, TopkPurpose::LocalValue)?
            && call.k as usize != c.values.len()
        {
            return Err(format!(
                "{at}: value_topk keeps k = {} but the call fetches {} values",
                call.k,
                c.values.len()
            ));
        }
    }

    let mut prev: Option<(u32, u32, u32)> = None;
    for (i, r) in t.layers.iter().enumerate() {
        let at = if batch > 1 {
            format!(
                "layer record {i} (iteration {}, layer {}, sequence {})",
                r.iteration, r.layer, r.sequence
            )
        } else {
            format!(
                "layer record {i} (iteration {}, layer {})",
                r.iteration, r.layer
            )
        };
        check_iteration(&at, r.iteration)?;
        check_sequence(&at, r.sequence)?;
        if r.layer >= h.layers {
            return Err(format!("{at}: layer id not below {} layers", h.layers));
        }
        let key = (r.iteration, r.layer, r.sequence);
        if prev.is_some_and(|p| p >= key) {
            return Err(format!(
                "{at}: not after the previous record in (iteration, layer, sequence) order"
            ));
        }
        prev = Some(key);
        let bound = tokens_in_iteration(h.prompt_tokens, r.iteration);
        ascending_below(&r.tokens_kept, bound).map_err(|e| format!("{at}: tokens_kept {e}"))?;
        ascending_below(&r.heads_kept, h.heads as u64)
            .map_err(|e| format!("{at}: heads_kept {e}"))?;
        for (field, sel, kept, purpose) in [
            (
                "token_topk",
                r.token_topk,
                r.tokens_kept.len(),
                TopkPurpose::Token,
            ),
            (
                "head_topk",
                r.head_topk,
                r.heads_kept.len(),
                TopkPurpose::Head,
            ),
        ] {
            // In generation the newest token is the query: it is kept without competing, so
            // the token top-k may select one fewer than the layer keeps.
            let newest = tokens_in_iteration(h.prompt_tokens, r.iteration) - 1;
            let exempt = purpose == TopkPurpose::Token
                && r.iteration > 0
                && r.tokens_kept.last().is_some_and(|&t| t as u64 == newest);
            if let Some(call) = topk_ref(&at, field, sel, purpose)?
                && call.k as usize != kept
                && !(exempt && call.k as usize + 1 == kept)
            {
                return Err(format!(
                    "{at}: {field} keeps k = {} but {kept} are kept",
                    call.k
                ));
            }
        }
    }
    Ok(())
}
