//! Perfetto / Chrome trace-event JSON of the pipeline: one track per module, one slice per busy
//! interval. Open it at ui.perfetto.dev or chrome://tracing.

use std::fmt::Write;

use crate::hw::stats::BusyInterval;

/// Slices beyond this are dropped (the file says how many) so a long run stays loadable.
pub const MAX_SLICES: usize = 400_000;

/// Renders the intervals; `frequency_mhz` converts cycles to the format's microseconds.
pub fn chrome_trace_json(intervals: &[BusyInterval], frequency_mhz: f64) -> String {
    let mut modules: Vec<&str> = Vec::new();
    for i in intervals {
        if !modules.contains(&i.module.as_str()) {
            modules.push(&i.module);
        }
    }
    let us = |cycle: u64| cycle as f64 / frequency_mhz;
    let mut out = String::from("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n");
    out.push_str(
        "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{\"name\":\"SpAtten\"}}",
    );
    for (tid, m) in modules.iter().enumerate() {
        write!(
            out,
            ",\n{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{tid},\"args\":{{\"name\":\"{m}\"}}}}"
        )
        .expect("writing to a String");
    }
    for i in intervals.iter().take(MAX_SLICES) {
        let tid = modules.iter().position(|m| *m == i.module).unwrap_or(0);
        write!(
            out,
            ",\n{{\"name\":\"busy\",\"cat\":\"{}\",\"ph\":\"X\",\"pid\":1,\"tid\":{tid},\"ts\":{:.3},\"dur\":{:.3}}}",
            i.module,
            us(i.start_cycle),
            us(i.end_cycle - i.start_cycle)
        )
        .expect("writing to a String");
    }
    out.push_str("\n]");
    if intervals.len() > MAX_SLICES {
        write!(out, ",\"droppedSlices\":{}", intervals.len() - MAX_SLICES).expect("String");
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_valid_json_with_one_track_per_module() {
        let iv = |m: &str, s, e| BusyInterval {
            module: m.into(),
            start_cycle: s,
            end_cycle: e,
        };
        let json = chrome_trace_json(&[iv("qk", 0, 10), iv("pv", 5, 8), iv("qk", 12, 20)], 1000.0);
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let events = v["traceEvents"].as_array().unwrap();
        assert_eq!(events.len(), 1 + 2 + 3);
        let slices: Vec<_> = events.iter().filter(|e| e["ph"] == "X").collect();
        assert_eq!(slices[2]["ts"].as_f64(), Some(0.012));
        assert_eq!(slices[2]["dur"].as_f64(), Some(0.008));
        assert_eq!(slices[0]["tid"], slices[2]["tid"]);
        assert_ne!(slices[0]["tid"], slices[1]["tid"]);
    }
}
