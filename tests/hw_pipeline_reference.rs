//! Reference-made traces through the cycle simulator: the decisions a real run makes (local V
//! pruning keeping more rows than a FIFO holds, LSB refetches, token top-k) must never stall.

use spatten::config::{load_arch, load_workload};
use spatten::dram::backend::make_dram;
use spatten::experiment::{DramKind, Experiment, Input};
use spatten::hw::{SimOptions, simulate};

#[test]
fn local_v_keeping_more_rows_than_the_pv_fifo_completes() {
    let mut w = load_workload("gpt2-small").unwrap();
    w.model.layers = 2;
    w.model.heads = 2;
    w.model.hidden = 128;
    w.stage.prompt_tokens = 400;
    w.stage.generated_tokens = 2;
    w.local_v.keep_ratio = 0.6;
    let arch = load_arch("spatten").unwrap();
    assert!(arch.softmax.fifo_depth < 200);
    let e = Experiment {
        name: "t".into(),
        arch,
        workload: Some(w),
        input: Input::Synthetic,
        dram: DramKind::Simple,
        timeline: false,
    };
    let r = e.run().unwrap();
    let kept_max = r
        .trace
        .head_calls
        .iter()
        .map(|h| h.values.len())
        .max()
        .unwrap();
    assert!(
        kept_max > 128,
        "the case needs more kept V rows than the FIFO holds: {kept_max}"
    );
    assert!(r.trace.head_calls.iter().any(|h| h.value_topk.is_some()));
    // Every V row the trace keeps was fetched (MSB plane at 8 bits, D = 64: 64 B per row).
    let v_rows: u64 = r
        .trace
        .head_calls
        .iter()
        .map(|h| h.values.len() as u64)
        .sum();
    assert!(r.stats.dram.bytes_by_tensor.v_msb >= v_rows * 64);
}

#[test]
fn fast_forward_is_exact_on_every_dram_model_with_a_pruned_trace() {
    let w = load_workload("bert-base").unwrap();
    let arch = load_arch("spatten").unwrap();
    let e = Experiment {
        name: "t".into(),
        arch: arch.clone(),
        workload: Some(w),
        input: Input::Synthetic,
        dram: DramKind::Native,
        timeline: false,
    };
    let trace = e.build_trace(&mut |_| {}).unwrap();
    assert!(trace.topk_calls.len() > 1, "the trace should prune");
    for kind in [DramKind::Native, DramKind::Simple] {
        let run = |fast_forward: bool| {
            let mut d = make_dram(kind, &arch.hbm, arch.fetcher.transaction_bytes).unwrap();
            let o = SimOptions {
                fast_forward,
                ..SimOptions::default()
            };
            serde_json::to_string(&simulate(&arch, &trace, d.as_mut(), &o).unwrap()).unwrap()
        };
        assert!(
            run(true) == run(false),
            "{kind}: fast-forward changed the stats"
        );
    }
}
