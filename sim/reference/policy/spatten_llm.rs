//! SpAtten-LLM (the mit-han-lab/spatten repository's LLM variant): pre-softmax scores of
//! the prompt's pass, summed over queries and heads, keep start_size first tokens +
//! important_size top-k + recent_size last tokens (class defaults 4 / 128 / 128, so a
//! budget of 260); once, between turns (after the prompt).

use super::Settings;
use super::parts::*;
use crate::config::policy::PolicyKind;

pub fn assemble(s: &Settings) -> Policy {
    let sinks = s.sinks(4);
    let window = s.window(s.tokens(128));
    Policy {
        kind: PolicyKind::SpattenLlm,
        score: ScoreSource::PreSoftmax,
        reducer: Reducer::SumOverHeads {
            across_iterations: false,
        },
        selector: Selector::TopK {
            budget: LayerBudget::Uniform(
                s.explicit_budget.unwrap_or(sinks + s.tokens(128) + window),
            ),
            sinks,
            window,
        },
        granularity: Granularity::Token,
        schedule: Schedule {
            dense_layers: s.dense_layers(0),
            fires: Fires::AfterPrompt,
        },
    }
}
