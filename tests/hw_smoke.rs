use spatten::config;
use spatten::dram::simple::SimpleDram;
use spatten::hw::{SimOptions, dense_trace, simulate};

#[test]
fn smoke() {
    let arch = config::load_arch("spatten").unwrap();
    let mut w = config::load_workload("gpt2-small").unwrap();
    w.model.layers = 1;
    w.model.heads = 2;
    w.stage.prompt_tokens = 64;
    w.stage.generated_tokens = 2;
    let t = dense_trace(&w);
    let mut dram = SimpleDram::from_config(&arch.hbm, arch.fetcher.transaction_bytes);
    let s = simulate(&arch, &t, &mut dram, &SimOptions { watchdog_cycles: 10_000, ..SimOptions::default() }).unwrap();
    println!("{}", serde_json::to_string_pretty(&s).unwrap());
}
