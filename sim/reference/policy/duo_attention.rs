//! DuoAttention (Xiao et al., ICLR'25): retrieval heads keep the full cache, streaming heads
//! only the sinks and a recent window. The per-head mask is given (`retrieval_heads`, one
//! list per layer, as the paper's offline optimization produces it) or found by a score
//! rule at the prompt (the heads whose newest query puts the least probability on the
//! sinks and window retrieve). The prompt itself runs dense.

use super::Settings;
use super::parts::*;
use crate::config::policy::PolicyKind;

pub fn assemble(s: &Settings) -> Policy {
    let retrieval = match &s.config.retrieval_heads {
        Some(m) => Retrieval::Heads(m.clone()),
        None => Retrieval::LeastStreamingMass {
            fraction: s.config.retrieval_fraction.unwrap_or(0.5),
        },
    };
    Policy {
        kind: PolicyKind::DuoAttention,
        score: ScoreSource::CurrentQuery,
        reducer: Reducer::PerHead,
        selector: Selector::HeadMask {
            sinks: s.sinks(4),
            window: s.window(s.tokens(256)),
            retrieval,
        },
        granularity: Granularity::Head,
        schedule: Schedule {
            dense_layers: 0,
            fires: Fires::Never,
        },
    }
}
