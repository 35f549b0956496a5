//! The value-file and trace-file readers (safetensors containers) on arbitrary bytes, then
//! what `spatten trace info` computes from an accepted file.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use spatten::trace::{container, totals, trace_file, values_file};

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.st");
    let Ok(c) = container::decode(path, data) else { return };
    if let Ok(t) = trace_file::decode_trace(path, &c) {
        let _ = totals::totals(&t);
    }
    if let Ok(v) = values_file::decode_values(path, &c) {
        // Bounded by the file: the stats cost tokens^2 per head of what the bytes hold.
        if v.tokens() <= 256 {
            let _ = spatten::trace::attention_stats(&v);
        }
    }
});
