//! The WGSL sources. WGSL has no includes: each kernel is its file under
//! `shaders/` prefixed with a prelude generated from Rust (the codes and
//! limits of `crate::codes` and the mixing kinds, so no shader writes them as
//! bare numbers) and the shared pieces of `shaders/common/`.

use std::fmt::Write;

const PARAMS: &str = include_str!("../../shaders/common/params.wgsl");
const SAMPLE: &str = include_str!("../../shaders/common/sample.wgsl");
const COLOR: &str = include_str!("../../shaders/common/color.wgsl");
const FIELD: &str = include_str!("../../shaders/common/field.wgsl");
const RESAMPLE: &str = include_str!("../../shaders/common/resample.wgsl");
const WEIGHTS: &str = include_str!("../../shaders/common/weights.wgsl");

/// Every kernel: name and its own file's text.
pub const KERNELS: &[(&str, &str)] = &[
    ("augment", include_str!("../../shaders/augment.wgsl")),
    ("stats", include_str!("../../shaders/stats.wgsl")),
    ("field", include_str!("../../shaders/field.wgsl")),
    ("masks", include_str!("../../shaders/masks.wgsl")),
];

/// The mixing kernel's own file: standalone (its own bindings; of the shared
/// pieces only the binding-free resampler weights, for resizemix's paste).
pub const MIX: &str = include_str!("../../shaders/mix.wgsl");

/// The WGSL `const` block every kernel starts with, generated from the Rust
/// definitions: colour-program codes as `CODE_X: f32` (the program's lane
/// type) and `OP_X: u32`, field kinds and masks as `KIND_X`, the per-sample
/// limits, the statistics slot's layout as `STAT_X`, and the mixing kinds as
/// `MIX_X`.
pub fn prelude() -> String {
    use crate::codes::{self, code, kind};
    let mut s = String::from("// Generated from Rust (src/codes.rs, src/mix.rs): the codes and limits both sides share.\n");
    for (name, v) in code::ALL {
        let _ = writeln!(s, "const CODE_{name}: f32 = {v:.1};");
        let _ = writeln!(s, "const OP_{name}: u32 = {}u;", *v as u32);
    }
    let _ = writeln!(
        s,
        "const OP_LAST_BLEND: u32 = {}u;",
        code::LAST_BLEND as u32
    );
    let _ = writeln!(s, "const PERMUTE_SHIFT: u32 = {}u;", code::PERMUTE_SHIFT);
    let _ = writeln!(s, "const PERMUTE_MASK: u32 = {}u;", code::PERMUTE_MASK);
    for (name, v) in kind::ALL {
        let _ = writeln!(s, "const KIND_{name}: u32 = {v}u;");
    }
    for (name, v) in [
        ("MAX_CLIPS", codes::MAX_CLIPS as u32),
        ("MAX_PROG", codes::MAX_PROG as u32),
        ("MAX_STATS", codes::MAX_STATS as u32),
        ("STAT_STRIDE", codes::STAT_STRIDE as u32),
        ("FIELD_TAPS", codes::FIELD_TAPS),
        ("MAX_RESAMPLE_TAPS", codes::MAX_RESAMPLE_TAPS),
    ] {
        let _ = writeln!(s, "const {name}: u32 = {v}u;");
    }
    for (name, v) in codes::pad_mode::ALL {
        let _ = writeln!(s, "const PAD_{name}: u32 = {v}u;");
    }
    for (name, v) in codes::resample_kind::ALL {
        let _ = writeln!(s, "const RESAMPLE_{name}: u32 = {v}u;");
    }
    for (name, v) in codes::stat::ALL {
        let _ = writeln!(s, "const STAT_{name}: u32 = {v}u;");
    }
    for (name, v) in crate::mix::kind::ALL {
        let _ = writeln!(s, "const MIX_{name}: u32 = {v}u;");
    }
    s
}

/// The full source of a kernel (prelude and shared pieces first). Empty for an unknown name.
pub fn kernel_source(name: &str) -> String {
    KERNELS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, body)| {
            [
                &prelude(),
                PARAMS,
                FIELD,
                WEIGHTS,
                RESAMPLE,
                SAMPLE,
                COLOR,
                body,
            ]
            .join("\n")
        })
        .unwrap_or_default()
}

/// The full source of the mixing kernel (the prelude, the resampler's weights
/// of `shaders/common/weights.wgsl`, then `shaders/mix.wgsl`).
pub fn mix_source() -> String {
    [&prelude(), WEIGHTS, MIX].join("\n")
}

/// The f16 rounding kernel (`shaders/half.wgsl`): standalone, no prelude
/// (it needs none of the shared codes).
pub const HALF: &str = include_str!("../../shaders/half.wgsl");

/// The full source of the f16 rounding kernel.
pub fn half_source() -> String {
    HALF.to_string()
}
