//! StreamingLLM (Xiao et al., ICLR'24): the first `sinks` "attention sink" tokens plus a
//! recent window, no scores; evicts every step.

use super::Settings;
use super::parts::*;
use crate::config::policy::PolicyKind;

pub fn assemble(s: &Settings) -> Policy {
    let sinks = s.sinks(4);
    Policy {
        kind: PolicyKind::StreamingLlm,
        score: ScoreSource::None,
        reducer: Reducer::SumOverHeads {
            across_iterations: false,
        },
        selector: Selector::SinksWindow {
            sinks,
            window: s.window(s.budget.saturating_sub(sinks).max(1)),
        },
        granularity: Granularity::Token,
        schedule: Schedule {
            dense_layers: s.dense_layers(0),
            fires: Fires::EveryStep { n: 1 },
        },
    }
}
