//! The shipped presets, embedded so the binary finds them from any directory.

/// Architecture presets: (name, TOML text).
pub const ARCH: &[(&str, &str)] = &[
    ("spatten", include_str!("../../arch/spatten.toml")),
    ("spatten-1-8", include_str!("../../arch/spatten-1-8.toml")),
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
];
