//! The WGSL sources. WGSL has no includes: each kernel is its file under
//! `shaders/` prefixed with the shared pieces of `shaders/common/`.

const PARAMS: &str = include_str!("../../shaders/common/params.wgsl");
const SAMPLE: &str = include_str!("../../shaders/common/sample.wgsl");
const COLOR: &str = include_str!("../../shaders/common/color.wgsl");
const FIELD: &str = include_str!("../../shaders/common/field.wgsl");

/// Every kernel: name and its own file's text.
pub const KERNELS: &[(&str, &str)] = &[
    ("augment", include_str!("../../shaders/augment.wgsl")),
    ("stats", include_str!("../../shaders/stats.wgsl")),
    ("field", include_str!("../../shaders/field.wgsl")),
];

/// The mixing kernel: standalone (its own bindings, none of the shared pieces).
pub const MIX: &str = include_str!("../../shaders/mix.wgsl");

/// The full source of a kernel (shared pieces first). Empty for an unknown name.
pub fn kernel_source(name: &str) -> String {
    KERNELS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, body)| [PARAMS, FIELD, SAMPLE, COLOR, body].join("\n"))
        .unwrap_or_default()
}
