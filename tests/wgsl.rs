//! Every kernel parses and validates with naga, and the structs shared with
//! Rust have the sizes Rust gives them (drift fails here, not on a GPU).

use gpu_augment::gpu::{kernel_source, KERNELS};
use gpu_augment::plan::{GpuClip, GpuField, GpuGlobals, GpuSample};

fn module(name: &str) -> naga::Module {
    let src = kernel_source(name);
    let module = naga::front::wgsl::parse_str(&src)
        .unwrap_or_else(|e| panic!("{name}.wgsl: {}", e.emit_to_string(&src)));
    let mut v = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    );
    if let Err(e) = v.validate(&module) {
        panic!("{name}.wgsl does not validate: {}", e.emit_to_string(&src));
    }
    module
}

fn struct_size(m: &naga::Module, name: &str) -> u32 {
    let mut layouter = naga::proc::Layouter::default();
    layouter.update(m.to_ctx()).expect("layout");
    let (h, _) = m
        .types
        .iter()
        .find(|(_, t)| t.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("struct {name} not found"));
    layouter[h].size
}

#[test]
fn kernels_validate() {
    for (name, _) in KERNELS {
        module(name);
    }
}

#[test]
fn shared_struct_sizes_match_rust() {
    for (name, _) in KERNELS {
        let m = module(name);
        assert_eq!(
            struct_size(&m, "Sample") as usize,
            std::mem::size_of::<GpuSample>(),
            "{name}: Sample"
        );
        assert_eq!(
            struct_size(&m, "Clip") as usize,
            std::mem::size_of::<GpuClip>(),
            "{name}: Clip"
        );
        assert_eq!(
            struct_size(&m, "Field") as usize,
            std::mem::size_of::<GpuField>(),
            "{name}: Field"
        );
        assert_eq!(
            struct_size(&m, "Globals") as usize,
            std::mem::size_of::<GpuGlobals>(),
            "{name}: Globals"
        );
    }
}

#[test]
fn mix_kernel_validates_and_its_structs_match_rust() {
    use gpu_augment::mix::{GpuMix, GpuMixGlobals};
    let mix_kernel = gpu_augment::gpu::mix_source();
    let mix_kernel = mix_kernel.as_str();
    let m = naga::front::wgsl::parse_str(mix_kernel)
        .unwrap_or_else(|e| panic!("mix.wgsl: {}", e.emit_to_string(mix_kernel)));
    let mut v = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    );
    if let Err(e) = v.validate(&m) {
        panic!(
            "mix.wgsl does not validate: {}",
            e.emit_to_string(mix_kernel)
        );
    }
    assert_eq!(
        struct_size(&m, "MixSample") as usize,
        std::mem::size_of::<GpuMix>()
    );
    assert_eq!(
        struct_size(&m, "MixGlobals") as usize,
        std::mem::size_of::<GpuMixGlobals>()
    );
}

/// The value naga reads for the module constant `name`.
fn constant(m: &naga::Module, name: &str) -> f64 {
    let (_, c) = m
        .constants
        .iter()
        .find(|(_, c)| c.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("constant {name} not found"));
    match m.global_expressions[c.init] {
        naga::Expression::Literal(naga::Literal::U32(v)) => v as f64,
        naga::Expression::Literal(naga::Literal::F32(v)) => v as f64,
        naga::Expression::Literal(naga::Literal::I32(v)) => v as f64,
        ref other => panic!("{name}: not a literal: {other:?}"),
    }
}

#[test]
fn shared_codes_and_limits_reach_the_wgsl_with_rust_values() {
    use gpu_augment::codes::{self, code, kind};
    for (name, _) in KERNELS {
        let m = module(name);
        for (c, v) in code::ALL {
            assert_eq!(
                constant(&m, &format!("CODE_{c}")),
                *v as f64,
                "{name}: CODE_{c}"
            );
            assert_eq!(
                constant(&m, &format!("OP_{c}")),
                *v as f64,
                "{name}: OP_{c}"
            );
        }
        for (k, v) in kind::ALL {
            assert_eq!(
                constant(&m, &format!("KIND_{k}")),
                *v as f64,
                "{name}: KIND_{k}"
            );
        }
        for (k, v) in codes::stat::ALL {
            assert_eq!(
                constant(&m, &format!("STAT_{k}")),
                *v as f64,
                "{name}: STAT_{k}"
            );
        }
        for (c, v) in [
            ("MAX_CLIPS", codes::MAX_CLIPS as f64),
            ("MAX_PROG", codes::MAX_PROG as f64),
            ("MAX_STATS", codes::MAX_STATS as f64),
            ("STAT_STRIDE", codes::STAT_STRIDE as f64),
            ("FIELD_TAPS", codes::FIELD_TAPS as f64),
            ("OP_LAST_BLEND", code::LAST_BLEND as f64),
            ("PERMUTE_SHIFT", code::PERMUTE_SHIFT as f64),
            ("PERMUTE_MASK", code::PERMUTE_MASK as f64),
        ] {
            assert_eq!(constant(&m, c), v, "{name}: {c}");
        }
    }
    let src = gpu_augment::gpu::mix_source();
    let m = naga::front::wgsl::parse_str(&src).expect("mix.wgsl");
    for (k, v) in gpu_augment::mix::kind::ALL {
        assert_eq!(constant(&m, &format!("MIX_{k}")), *v as f64, "MIX_{k}");
    }
}

#[test]
fn shaders_hold_no_codes_of_their_own() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut files = vec![];
    for sub in [dir.clone(), dir.join("common")] {
        for e in std::fs::read_dir(sub).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "wgsl") {
                files.push(p);
            }
        }
    }
    assert!(files.len() >= 8);
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for bad in [
                "const CODE_",
                "const OP_",
                "const KIND_",
                "const MAX_",
                "const STAT_",
                "const FIELD_TAPS",
            ] {
                assert!(
                    !code.contains(bad),
                    "{}:{}: {bad} belongs to the generated prelude",
                    f.display(),
                    i + 1
                );
            }
            // An op code or a kind mask as a bare number.
            let squeezed: String = code.split_whitespace().collect();
            // A statistics slot's offsets: `stats[b + STAT_X ...]`, never `stats[b + 7u]`;
            // the histogram's channel offsets likewise.
            for pat in ["stats[b+", "hist[", "<atomic<u32>,"] {
                for (at, _) in squeezed.match_indices(pat) {
                    let after = &squeezed[at + pat.len()..];
                    assert!(
                        !after.starts_with(|c: char| c.is_ascii_digit()),
                        "{}:{}: a bare statistics offset after `{pat}`: {line}",
                        f.display(),
                        i + 1
                    );
                }
            }
            for pat in ["op==", "next==", "k==", "FIELD_KINDS&", "fmask&", "op<="] {
                for (at, _) in squeezed.match_indices(pat) {
                    let after = &squeezed[at + pat.len()..];
                    assert!(
                        !after.starts_with(|c: char| c.is_ascii_digit()),
                        "{}:{}: a bare number after `{pat}`: {line}",
                        f.display(),
                        i + 1
                    );
                }
            }
        }
    }
}

#[test]
fn half_kernel_validates() {
    let src = gpu_augment::gpu::half_source();
    let m = naga::front::wgsl::parse_str(&src)
        .unwrap_or_else(|e| panic!("half.wgsl: {}", e.emit_to_string(&src)));
    let mut v = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    );
    if let Err(e) = v.validate(&m) {
        panic!("half.wgsl does not validate: {}", e.emit_to_string(&src));
    }
    assert_eq!(struct_size(&m, "HalfGlobals"), 16);
}
