//! Quest (Tang et al., ICML'24): query-aware page selection. Each page of `page_size` keys
//! keeps its elementwise min and max; a generation query loads, per head, the pages with
//! the highest bound on q . k (budget / page_size of them). Nothing is evicted; the prompt
//! and the first two layers stay dense.

use super::Settings;
use super::parts::*;
use crate::config::policy::PolicyKind;

pub fn assemble(s: &Settings) -> Policy {
    let page_size = s.page_size();
    Policy {
        kind: PolicyKind::Quest,
        score: ScoreSource::PageBound { page_size },
        reducer: Reducer::PerHead,
        selector: Selector::PageTopK {
            pages: s.budget.div_ceil(page_size).max(1),
        },
        granularity: Granularity::Page { size: page_size },
        schedule: Schedule {
            dense_layers: s.dense_layers(2),
            fires: Fires::Never,
        },
    }
}
