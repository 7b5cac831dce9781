//! The f16 rounding pass on the GPU (`shaders/half.wgsl`): the last dispatch
//! of an f16_chw chunk, after the main (and mixing) pass. It reads the f32
//! values and writes them rounded, two halves a word, into its own buffer,
//! which is what gets copied back: half the bytes of f32_chw. Its own bind
//! group layout (a uniform with the count, the f32 values, the halves).

use super::GpuContext;
use crate::error::{Error, Result};

/// Invocations per workgroup (one output word, two values, each).
const GROUP: u64 = 256;

/// The rounding kernel: layout and pipeline (one variant), made at open.
pub(crate) struct HalfKernel {
    layout: wgpu::BindGroupLayout,
    pipeline: wgpu::ComputePipeline,
}

/// Buffers of the rounding pass, reused across batches.
#[derive(Default)]
pub(crate) struct HalfBuffers {
    globals: Option<wgpu::Buffer>,
    out: Option<wgpu::Buffer>,
    /// The count `globals` holds (written again only when it changes, so
    /// batches of one size stage nothing).
    count: Option<u32>,
}

impl HalfBuffers {
    /// The rounded values (valid after a rounding dispatch).
    pub(crate) fn out(&self) -> Option<&wgpu::Buffer> {
        self.out.as_ref()
    }
}

/// A prepared rounding dispatch.
pub(crate) struct HalfDispatch {
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    grid: [u32; 2],
    /// Bytes of the rounded values on the device (whole words).
    pub(crate) bytes: u64,
    /// Buffers created for it (see `BatchStats::allocations`).
    pub(crate) allocations: u32,
}

impl HalfDispatch {
    /// Records the dispatch into `pass`.
    pub(crate) fn encode(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.grid[0], self.grid[1], 1);
    }
}

/// Bytes of `count` values rounded to f16, two a word.
pub(crate) fn half_bytes(count: u64) -> u64 {
    count.div_ceil(2) * 4
}

impl HalfKernel {
    /// Creates the layout and the pipeline (inside the caller's error scope).
    pub(crate) fn new(device: &wgpu::Device, cache: Option<&wgpu::PipelineCache>) -> Self {
        let storage = |read_only| wgpu::BufferBindingType::Storage { read_only };
        let (layout, pipeline_layout) = super::buffer_layouts(
            device,
            "half",
            &[
                wgpu::BufferBindingType::Uniform,
                storage(true),
                storage(false),
            ],
        );
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("half"),
            source: wgpu::ShaderSource::Wgsl(super::shaders::half_source().into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some("half"),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some("main"),
            compilation_options: Default::default(),
            cache,
        });
        Self { layout, pipeline }
    }

    /// Writes the count and binds `input` (`count` f32 values) to the
    /// rounded buffer. `max_groups`: the device's workgroups per dimension.
    pub(crate) fn prepare(
        &self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        bufs: &mut HalfBuffers,
        input: &wgpu::Buffer,
        count: u64,
        max_groups: u64,
    ) -> Result<HalfDispatch> {
        let count32 = u32::try_from(count).map_err(|_| Error::OutOfMemory {
            what: format!("{count} f16 values in one chunk"),
            bytes: half_bytes(count),
        })?;
        let bytes = half_bytes(count);
        let mut allocations = 0u32;
        let fresh = super::grow(
            device,
            &mut bufs.globals,
            16,
            wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            "half-globals",
        );
        allocations += fresh;
        allocations += super::grow(
            device,
            &mut bufs.out,
            bytes,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            "half-out",
        );
        let (Some(gb), Some(ob)) = (&bufs.globals, &bufs.out) else {
            return Err(Error::Gpu("f16 buffer allocation failed".into()));
        };
        if fresh > 0 || bufs.count != Some(count32) {
            queue.write_buffer(gb, 0, bytemuck::cast_slice(&[count32, 0, 0, 0]));
            bufs.count = Some(count32);
            // And the write_buffer staging buffer.
            allocations += 1;
        }
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("half"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: gb.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: input.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: ob.as_entire_binding(),
                },
            ],
        });
        let groups = count.div_ceil(2).div_ceil(GROUP).max(1);
        let x = groups.min(max_groups.max(1));
        Ok(HalfDispatch {
            pipeline: self.pipeline.clone(),
            bind_group,
            grid: [x as u32, groups.div_ceil(x) as u32],
            bytes,
            allocations,
        })
    }
}

impl GpuContext {
    /// Rounds `values` to f16 bits with the rounding kernel alone (not
    /// part of the API: tests/handoff_formats.rs checks the kernel against
    /// the `half` crate on edge cases).
    #[doc(hidden)]
    pub fn round_to_f16_bits(&self, values: &[f32]) -> Result<Vec<u16>> {
        use wgpu::util::DeviceExt;
        let dev = &self.device;
        let n = values.len() as u64;
        // One value at least (an empty binding is invalid).
        let mut src: Vec<f32> = values.to_vec();
        if src.is_empty() {
            src.push(0.0);
        }
        let input = dev.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: Some("half-test-in"),
            contents: bytemuck::cast_slice(&src),
            usage: wgpu::BufferUsages::STORAGE,
        });
        let mut bufs = HalfBuffers::default();
        let d = self.half.prepare(
            dev,
            &self.queue,
            &mut bufs,
            &input,
            n,
            self.limits.max_workgroups_per_dim as u64,
        )?;
        let rb = dev.create_buffer(&wgpu::BufferDescriptor {
            label: Some("half-test-readback"),
            size: d.bytes.max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = dev.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("half-test"),
        });
        {
            let mut pass = enc.begin_compute_pass(&wgpu::ComputePassDescriptor {
                label: Some("half-test"),
                timestamp_writes: None,
            });
            d.encode(&mut pass);
        }
        let out = bufs
            .out()
            .ok_or_else(|| Error::Gpu("no f16 buffer".into()))?;
        enc.copy_buffer_to_buffer(out, 0, &rb, 0, d.bytes.max(4));
        let submitted = self.queue.submit([enc.finish()]);
        let size = d.bytes.max(4);
        let (tx, rx) = std::sync::mpsc::channel();
        rb.map_async(wgpu::MapMode::Read, 0..size, move |r| {
            let _ = tx.send(r);
        });
        self.device
            .poll(wgpu::PollType::Wait {
                submission_index: Some(submitted),
                timeout: Some(super::DEVICE_TIMEOUT),
            })
            .map_err(|e| Error::Gpu(format!("waiting for the device: {e}")))?;
        if let Some(e) = self.take_error() {
            return Err(Error::Gpu(e));
        }
        match rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::Gpu(format!("mapping results: {e}"))),
            Err(_) => return Err(Error::Gpu("device dropped the readback".into())),
        }
        let view = rb
            .get_mapped_range(0..size)
            .map_err(|e| Error::Gpu(format!("mapping results: {e:?}")))?;
        Ok(view
            .chunks_exact(2)
            .take(values.len())
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
            .collect())
    }
}
