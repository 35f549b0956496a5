//! The SpAtten CSV importer: parse and convert arbitrary text, then write the trace.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use spatten::trace::{spatten_csv, trace_file};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let path = Path::new("fuzz.csv");
    if let Ok(file) = spatten_csv::parse(path, text) {
        if let Ok(t) = spatten_csv::convert(path, &file) {
            let _ = trace_file::encode_trace(path, &t);
        }
    }
});
