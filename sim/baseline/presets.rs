//! The shipped device profiles, embedded so the binary finds them from any directory.

/// Device profile presets: (name, TOML text).
pub const DEVICES: &[(&str, &str)] = &[
    (
        "titan-xp",
        include_str!("../../arch/baselines/titan-xp.toml"),
    ),
    (
        "xeon-e5-2640-v4",
        include_str!("../../arch/baselines/xeon-e5-2640-v4.toml"),
    ),
    (
        "jetson-nano",
        include_str!("../../arch/baselines/jetson-nano.toml"),
    ),
    (
        "raspberry-pi-4",
        include_str!("../../arch/baselines/raspberry-pi-4.toml"),
    ),
    ("a100", include_str!("../../arch/baselines/a100.toml")),
    ("h100", include_str!("../../arch/baselines/h100.toml")),
    (
        "generic-host",
        include_str!("../../arch/baselines/generic-host.toml"),
    ),
    ("a3", include_str!("../../arch/baselines/a3.toml")),
    ("mnnfast", include_str!("../../arch/baselines/mnnfast.toml")),
];
