//! A small f32 transformer (BERT encoder) over real weights, used to capture Q/K/V values and
//! to measure what pruning and quantization cost in accuracy.
