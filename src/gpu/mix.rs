//! The mixing pass on the GPU (`shaders/mix.wgsl`): its own bind group layout
//! and pipelines, its buffers, and the host fallback for split batches.
//!
//! In a batch that fits one chunk, the mixing dispatch follows the main
//! dispatch in the same compute pass and submit: it reads the main pass's
//! output buffer and writes `MixBuffers::out`, which is what gets copied back.
//! A batch split into chunks has partners in other chunks: its chunks run
//! without mixing, and once all are read back the CPU twin mixes the whole
//! tensor on the host (the same arithmetic, see `src/cpu/mix.rs`).

use crate::error::{Error, Result};
use crate::mix::{GpuMix, GpuMixGlobals};
use crate::{Tensor, TensorMut};
use std::sync::Mutex;

/// The mixing kernel: layout, module and the pipelines (by format word: u8,
/// f32, and each with one output channel), compiled on first use.
pub(crate) struct MixKernel {
    layout: wgpu::BindGroupLayout,
    pipeline_layout: wgpu::PipelineLayout,
    module: wgpu::ShaderModule,
    pipes: Mutex<[Option<wgpu::ComputePipeline>; 4]>,
    /// The device's pipeline cache, when it has one.
    cache: Option<wgpu::PipelineCache>,
}

/// Buffers of the mixing pass, reused across batches.
#[derive(Default)]
pub(crate) struct MixBuffers {
    globals: Option<wgpu::Buffer>,
    params: Option<wgpu::Buffer>,
    out: Option<wgpu::Buffer>,
}

impl MixBuffers {
    /// The mixed batch (valid after a mixing dispatch).
    pub(crate) fn out(&self) -> Option<&wgpu::Buffer> {
        self.out.as_ref()
    }
}

/// A prepared mixing dispatch: pipeline, bind group and grid.
pub(crate) struct MixDispatch {
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    grid: [u32; 3],
    /// Buffers created for it (see `BatchStats::allocations`).
    pub(crate) allocations: u32,
}

impl MixDispatch {
    /// Records the dispatch into `pass`.
    pub(crate) fn encode(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.grid[0], self.grid[1], self.grid[2]);
    }
}

impl MixKernel {
    /// Creates the layout and compiles the module.
    pub(crate) fn new(device: &wgpu::Device, cache: Option<&wgpu::PipelineCache>) -> Self {
        let storage = |read_only| wgpu::BufferBindingType::Storage { read_only };
        let (layout, pipeline_layout) = super::buffer_layouts(
            device,
            "mix",
            &[
                wgpu::BufferBindingType::Uniform,
                storage(true),
                storage(true),
                storage(false),
            ],
        );
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("mix"),
            source: wgpu::ShaderSource::Wgsl(super::shaders::mix_source().into()),
        });
        Self {
            layout,
            pipeline_layout,
            module,
            pipes: Mutex::default(),
            cache: cache.cloned(),
        }
    }

    /// The pipeline of format word `format` (`GpuMixGlobals::out[3]`).
    pub(crate) fn pipeline(
        &self,
        device: &wgpu::Device,
        format: u32,
    ) -> Result<wgpu::ComputePipeline> {
        let mut pipes = self
            .pipes
            .lock()
            .map_err(|_| Error::Gpu("a previous batch panicked".into()))?;
        let slot = &mut pipes[(format & 3) as usize];
        if let Some(p) = slot {
            return Ok(p.clone());
        }
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let b = |bit: u32| if format & bit != 0 { 1.0 } else { 0.0 };
        let constants = [
            ("OUT_F32", b(crate::plan::FORMAT_F32)),
            ("OUT_GREY", b(crate::plan::FORMAT_GREY)),
        ];
        let p = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("mix"),
            layout: Some(&self.pipeline_layout),
            module: &self.module,
            entry_point: Some("main"),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: &constants,
                ..Default::default()
            },
            cache: self.cache.as_ref(),
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Gpu(format!("mixing pipeline creation failed: {e}")));
        }
        *slot = Some(p.clone());
        Ok(p)
    }

    /// Uploads the mixing table and binds `input` (the main pass's output,
    /// `out_bytes` long) to a new mixed buffer. Returns the dispatch and the
    /// bytes uploaded.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        bufs: &mut MixBuffers,
        input: &wgpu::Buffer,
        gl: &GpuMixGlobals,
        mixes: &[GpuMix],
        out_bytes: u64,
    ) -> Result<(MixDispatch, u64)> {
        let storage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST;
        let mut allocations = 0u32;
        allocations += super::grow(
            device,
            &mut bufs.globals,
            16,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            "mix-globals",
        );
        allocations += super::grow(
            device,
            &mut bufs.params,
            std::mem::size_of_val(mixes) as u64,
            storage,
            "mix-params",
        );
        allocations += super::grow(
            device,
            &mut bufs.out,
            out_bytes,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            "mixed",
        );
        let (Some(gb), Some(pb), Some(ob)) = (&bufs.globals, &bufs.params, &bufs.out) else {
            return Err(Error::Gpu("mixing buffer allocation failed".into()));
        };
        queue.write_buffer(gb, 0, bytemuck::bytes_of(gl));
        queue.write_buffer(pb, 0, bytemuck::cast_slice(mixes));
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("mix"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: gb.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: pb.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: input.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: ob.as_entire_binding(),
                },
            ],
        });
        Ok((
            MixDispatch {
                pipeline: self.pipeline(device, gl.out[3])?,
                bind_group,
                grid: [gl.out[0].div_ceil(16), gl.out[1].div_ceil(16), gl.out[2]],
                // And the two write_buffer staging buffers.
                allocations: allocations + 2,
            },
            16 + std::mem::size_of_val(mixes) as u64,
        ))
    }
}

/// Mixes a whole read-back tensor on the host with the CPU twin (split batches).
pub(crate) fn mix_on_host(gl: &GpuMixGlobals, mixes: &[GpuMix], out: &mut TensorMut) {
    let view = match out {
        TensorMut::U8(o) => TensorMut::U8(o),
        TensorMut::F32(o) => TensorMut::F32(o),
        TensorMut::F16(o) => TensorMut::F16(o),
    };
    if crate::cpu::mix::run_mix_in_place(gl, mixes, view) {
        return;
    }
    match out {
        TensorMut::U8(o) => {
            let a = Tensor::U8(o.to_vec());
            crate::cpu::mix::run_mix(gl, mixes, &a, TensorMut::U8(o));
        }
        TensorMut::F32(o) => {
            let a = Tensor::F32(o.to_vec());
            crate::cpu::mix::run_mix(gl, mixes, &a, TensorMut::F32(o));
        }
        TensorMut::F16(o) => {
            let a = Tensor::F16(o.to_vec());
            crate::cpu::mix::run_mix(gl, mixes, &a, TensorMut::F16(o));
        }
    }
}
