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
    use gpu_augment::gpu::MIX_KERNEL;
    use gpu_augment::mix::{GpuMix, GpuMixGlobals};
    let m = naga::front::wgsl::parse_str(MIX_KERNEL)
        .unwrap_or_else(|e| panic!("mix.wgsl: {}", e.emit_to_string(MIX_KERNEL)));
    let mut v = naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::default(),
    );
    if let Err(e) = v.validate(&m) {
        panic!(
            "mix.wgsl does not validate: {}",
            e.emit_to_string(MIX_KERNEL)
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
