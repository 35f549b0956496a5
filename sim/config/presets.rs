//! The shipped presets, embedded so the binary finds them from any directory.

/// Architecture presets: (name, TOML text).
pub const ARCH: &[(&str, &str)] = &[
    ("spatten", include_str!("../../arch/spatten.toml")),
    ("spatten-1-8", include_str!("../../arch/spatten-1-8.toml")),
    (
        "spatten-long-context",
        include_str!("../../arch/spatten-long-context.toml"),
    ),
];

/// Workload presets: (name, TOML text).
pub const WORKLOAD: &[(&str, &str)] = &[
    ("bert-base", include_str!("../../workloads/bert-base.toml")),
    (
        "bert-large",
        include_str!("../../workloads/bert-large.toml"),
    ),
    ("minilm", include_str!("../../workloads/minilm.toml")),
    (
        "gpt2-small",
        include_str!("../../workloads/gpt2-small.toml"),
    ),
    (
        "gpt2-medium",
        include_str!("../../workloads/gpt2-medium.toml"),
    ),
    (
        "llama-2-7b",
        include_str!("../../workloads/llama-2-7b.toml"),
    ),
    (
        "llama-3-8b",
        include_str!("../../workloads/llama-3-8b.toml"),
    ),
    (
        "llama-3.1-8b-32k",
        include_str!("../../workloads/llama-3.1-8b-32k.toml"),
    ),
    (
        "llama-3.1-8b-128k",
        include_str!("../../workloads/llama-3.1-8b-128k.toml"),
    ),
    (
        "mistral-7b",
        include_str!("../../workloads/mistral-7b.toml"),
    ),
    (
        "llama-3-8b-decode",
        include_str!("../../workloads/llama-3-8b-decode.toml"),
    ),
    (
        "qwen2.5-7b",
        include_str!("../../workloads/qwen2.5-7b.toml"),
    ),
    (
        "llama-3.1-8b-128k-decode",
        include_str!("../../workloads/llama-3.1-8b-128k-decode.toml"),
    ),
];

/// The long-context decoder presets among [`WORKLOAD`]: 4k to 128k tokens, beyond one SRAM
/// bank of keys and above the default memory and work limits (see sim/budget.rs), so only
/// feasibility and validation are checked for them by default.
pub const LONG_CONTEXT_WORKLOADS: &[&str] = &[
    "llama-2-7b",
    "llama-3-8b",
    "llama-3-8b-decode",
    "llama-3.1-8b-32k",
    "llama-3.1-8b-128k",
    "llama-3.1-8b-128k-decode",
    "mistral-7b",
    "qwen2.5-7b",
];
