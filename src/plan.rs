//! From drawn parameters to what the kernels read: per sample, one inverse map
//! (output pixel centre -> source position), the clip stages of ops that fill,
//! the supersampling counts and the colour program. Computed once in Rust and
//! handed to both backends. Each op's own lowering lives with its family
//! (src/ops/geometry.rs, color.rs, field.rs, policy.rs, driven by
//! `ops::lower::lower_op`); `plan_sample` folds the result into a `GpuSample`.
//!
//! Keep in sync with `shaders/common/params.wgsl` (sizes are checked by
//! `tests/wgsl.rs`).

use crate::error::{Error, Result};
use crate::ops::lower::{lower_op, Lowering, Stage, M3};
use crate::ops::{field, Drawn};
use crate::pipeline::{OutputFormat, Pipeline};
use bytemuck::{Pod, Zeroable};

pub use crate::codes::{
    code, kind, FIELD_TAPS, MAX_CLIPS, MAX_PROG, MAX_STATS, MAX_SUPERSAMPLE, STAT_STRIDE,
};

/// A sample's random fields (`shaders/common/field.wgsl`): white noise on a
/// lattice of spacing l, weighted by a Gaussian of std l at each pixel.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct GpuField {
    /// Lattice columns, lattice rows, kind mask (bit k: kind k active; 0: no field), unused.
    pub grid: [u32; 4],
    /// Noise key (2 words), then the offsets (floats into the field buffer) of
    /// the sample's noise lattice and of its column sums; set per chunk.
    pub key: [u32; 4],
    /// Amplitudes of dx, dy (pixels), rotation (radians), log-scale.
    pub geo: [f32; 4],
    /// Amplitudes of brightness, contrast, saturation, hue.
    pub color: [f32; 4],
    /// 1 / l, canvas centre x and y, unused.
    pub shape: [f32; 4],
}

const _: () = assert!(std::mem::size_of::<GpuField>() == 80);

impl GpuField {
    /// Active kinds.
    pub fn mask(&self) -> u32 {
        self.grid[2]
    }
    /// Lattice columns and rows.
    pub fn lattice(&self) -> (usize, usize) {
        (self.grid[0] as usize, self.grid[1] as usize)
    }
    /// Floats of noise lattice and of column sums for an output `w` columns wide.
    pub fn buffer_floats(&self, w: u32) -> (u64, u64) {
        let n = self.mask().count_ones() as u64;
        let (kx, ky) = (self.grid[0] as u64, self.grid[1] as u64);
        (n * kx * ky, n * ky * w as u64)
    }
    /// The amplitude of kind `k` as the kernels use it.
    pub fn amplitude(&self, k: usize) -> f32 {
        if k < 4 {
            self.geo[k]
        } else {
            self.color[k - 4]
        }
    }
    /// The compact slot of kind `k` among the active kinds.
    pub fn slot(&self, k: usize) -> u32 {
        (self.mask() & ((1u32 << k) - 1)).count_ones()
    }
}

/// A clip stage: where an op's input canvas ends, and the fill beyond it.
/// `r0`, `r1`, `r2` map an output pixel centre to that canvas (projective rows);
/// `r0.w` and `r1.w` hold the canvas width and height, `r2.w` is 1 for a hard
/// (nearest) edge and 0 for a bilinear one; `fill` is RGB in [0, 1].
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct GpuClip {
    /// Row 0 of the map, width in `w`.
    pub r0: [f32; 4],
    /// Row 1 of the map, height in `w`.
    pub r1: [f32; 4],
    /// Row 2 of the map, hard edge flag in `w`.
    pub r2: [f32; 4],
    /// Fill colour in [0, 1].
    pub fill: [f32; 4],
}

/// Everything a kernel needs for one sample. Keep in sync with `Sample` in
/// `shaders/common/params.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct GpuSample {
    /// Source offset (pixels into the packed buffer), width, height, flags (bit 0: nearest).
    pub src: [u32; 4],
    /// Colour-program length, supersampling taps in x and y, clip-stage count.
    pub counts: [u32; 4],
    /// Inverse map row 0: u = m0.x * x + m0.y * y + m0.z (before the divide by row 2).
    pub m0: [f32; 4],
    /// Inverse map row 1.
    pub m1: [f32; 4],
    /// Inverse map row 2 (projective; [0, 0, 1] for affine maps).
    pub m2: [f32; 4],
    /// Clip stages, innermost (nearest the source) first.
    pub clips: [GpuClip; MAX_CLIPS],
    /// Colour program: x = op code, y = parameter, z = stat slot.
    pub prog: [[f32; 4]; MAX_PROG],
    /// Random fields (none when the kind mask is 0).
    pub field: GpuField,
    /// The erasing box on the output canvas: left, top, right, bottom (exclusive).
    pub erase: [f32; 4],
    /// The erasing value (RGB in [0, 1]); w = 1 for random values.
    pub erase_value: [f32; 4],
    /// The antialiased resampler's parameters (off: the gather above).
    pub resample: crate::resample::GpuResample,
}

const _: () = assert!(std::mem::size_of::<GpuClip>() == 64);

/// True when a projective row 2 is (0, 0, 1): the divide is by exactly 1.
fn affine_row(r2: &[f32; 4]) -> bool {
    r2[0] == 0.0 && r2[1] == 0.0 && r2[2] == 1.0
}

impl GpuClip {
    /// The clip map is affine (no divide needed).
    pub fn is_affine(&self) -> bool {
        affine_row(&self.r2)
    }
}

impl GpuSample {
    /// The inverse map is affine (no divide needed).
    pub fn is_affine(&self) -> bool {
        affine_row(&self.m2)
    }
    /// The clip stages in use.
    pub fn active_clips(&self) -> &[GpuClip] {
        &self.clips[..self.counts[3] as usize]
    }

    /// Moves a sample planned for a whole source onto an image of `w` x `h`
    /// pixels that holds only part of it, from `origin` on, and whose pixels
    /// equal the whole source's in `valid` (x0, y0, x1, y1; the Loader's
    /// region decode, `SourceWindow` in src/request.rs): the resampler's
    /// window shifts by the image's origin and the
    /// source size becomes the image's. Exact, because the taps and weights
    /// are relative to the window (the same integer sums over the same
    /// pixels). False, with `self` unchanged, when the sample does not run
    /// on the resampler (the gather, clips or fields may read any pixel) or
    /// its window leaves the box of exact pixels.
    pub(crate) fn onto_window(
        &mut self,
        origin: [u32; 2],
        valid: [u32; 4],
        w: u32,
        h: u32,
    ) -> bool {
        let r = &mut self.resample;
        let [x0, y0, x1, y1] = valid;
        let [ox, oy] = origin;
        let inside = |lo: u32, n: u32, a: u32, b: u32| lo >= a && lo as u64 + n as u64 <= b as u64;
        if !r.active() || !inside(r.win[0], r.win[1], x0, x1) || !inside(r.win[2], r.win[3], y0, y1)
        {
            return false;
        }
        // `valid` lies inside the image (`check_windows`), so
        // both shifts stay at or above 0.
        r.win[0] -= ox;
        r.win[2] -= oy;
        self.src[1] = w;
        self.src[2] = h;
        true
    }
}
const _: () = assert!(std::mem::size_of::<GpuSample>() == 768);

/// Values the whole batch shares. Keep in sync with `Globals` in `shaders/common/params.wgsl`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Pod, Zeroable)]
pub struct GpuGlobals {
    /// Output width, height, samples in this dispatch, format (bit 0: f32
    /// CHW, else u8 HWC; bit 1: one output channel, else three).
    pub out: [u32; 4],
    /// Stat slot this pass reduces, stat slots in the pipeline, the field kinds
    /// the pipeline can draw (so the field pass runs for every batch of a
    /// pipeline with fields, whatever the draws), one unused word.
    pub pass: [u32; 4],
    /// Normalisation mean (0 when none).
    pub mean: [f32; 4],
    /// Normalisation std (1 when none).
    pub std: [f32; 4],
}

const _: () = assert!(std::mem::size_of::<GpuGlobals>() == 64);

/// Bit of `GpuGlobals::out[3]` (and the mixing globals'): f32 CHW output.
pub const FORMAT_F32: u32 = 1;
/// Bit of `GpuGlobals::out[3]`: one output channel (grayscale with
/// `num_output_channels = 1`).
pub const FORMAT_GREY: u32 = 2;
/// Bit of `GpuGlobals::out[3]`: f16 CHW output (set with `FORMAT_F32`: the
/// kernels compute f32, and a last pass rounds to f16, `shaders/half.wgsl`).
pub const FORMAT_F16: u32 = 4;

impl GpuGlobals {
    /// Whether the kernels compute f32 CHW (else u8 HWC): f32 and f16 output.
    pub fn f32_out(&self) -> bool {
        self.out[3] & FORMAT_F32 != 0
    }

    /// Whether the output tensor is f16 CHW (the f32 values rounded).
    pub fn f16_out(&self) -> bool {
        self.out[3] & FORMAT_F16 != 0
    }

    /// These globals with f32 output in place of f16 (what a pass that
    /// computes into an f32 twin of an f16 tensor runs with).
    pub fn as_f32(&self) -> Self {
        let mut g = *self;
        g.out[3] &= !FORMAT_F16;
        g
    }

    /// Channels of each output sample (1 or 3).
    pub fn channels(&self) -> usize {
        if self.out[3] & FORMAT_GREY != 0 {
            1
        } else {
            3
        }
    }

    /// Values of one output sample in the tensor.
    pub fn values_per_sample(&self) -> usize {
        self.out[0] as usize * self.out[1] as usize * self.channels()
    }
}

/// Builds the kernel parameters of one sample from its drawn ops.
/// `index` is the sample's position in the batch (for errors).
pub fn plan_sample(
    pipeline: &Pipeline,
    drawn: &[Drawn],
    src_w: u32,
    src_h: u32,
    index: usize,
) -> Result<GpuSample> {
    let pl = lower_sample(pipeline, drawn, src_w, src_h, index)?;
    let Lowering {
        stages,
        nearest,
        prog,
        n_stats,
        field,
        erase,
        warps,
        fold,
        ..
    } = pl;
    if fold != 0 && field.grid[2] & kind::GEOMETRIC != 0 {
        return Err(Error::InvalidPipeline(
            "edge, reflect or symmetric padding with a geometric random field (dx, dy, rotation, log_scale, elastic) is not supported: use constant padding".into(),
        ));
    }
    if prog.len() > MAX_PROG || n_stats as usize > MAX_STATS {
        return Err(Error::InvalidPipeline(format!(
            "a sample drew {} colour steps and {} statistics (at most {MAX_PROG} and {MAX_STATS})",
            prog.len(),
            n_stats
        )));
    }

    // Suffix products: the map from the output to each stage's input canvas.
    let mut g = GpuSample::default();
    let mut suffix = M3::identity();
    let mut clips = Vec::new();
    for s in stages.iter().rev() {
        suffix = s.map.mul(&suffix);
        if let Some((w, h, fill, hard)) = s.clip {
            clips.push(GpuClip {
                r0: suffix.rows([w as f32, 0.0, 0.0])[0],
                r1: suffix.rows([0.0, h as f32, 0.0])[1],
                r2: suffix.rows([0.0, 0.0, if hard { 1.0 } else { 0.0 }])[2],
                fill: [
                    (fill[0] / 255.0) as f32,
                    (fill[1] / 255.0) as f32,
                    (fill[2] / 255.0) as f32,
                    0.0,
                ],
            });
        }
    }
    if clips.len() > MAX_CLIPS {
        return Err(Error::InvalidPipeline(format!(
            "more than {MAX_CLIPS} ops that fill outside the image"
        )));
    }
    clips.reverse(); // innermost (nearest the source) first
    let [m0, m1, m2] = suffix.rows([0.0; 3]);
    // Footprint of one output pixel in the source: supersample when > 2
    // pixels. Like torchvision, only resizes antialias: the footprint is that
    // of the map without the warps (affine unless `antialias = true`, the
    // policies' warps, perspective), so a warp's own scale never blurs.
    let m = &suffix.0;
    let aa = stages
        .iter()
        .enumerate()
        .rev()
        .filter(|(i, _)| !warps.contains(i))
        .fold(M3::identity(), |acc, (_, s)| s.map.mul(&acc));
    let a = &aa.0;
    let taps = |dx: f64, dy: f64| -> u32 {
        let len = (dx * dx + dy * dy).sqrt();
        if nearest || len <= 2.0 || !len.is_finite() {
            1
        } else {
            (len.ceil() as u32).min(MAX_SUPERSAMPLE)
        }
    };
    g.src = [
        0,
        src_w,
        src_h,
        nearest as u32 | fold << crate::codes::pad_mode::SHIFT,
    ];
    g.counts = [
        prog.len() as u32,
        taps(a[0][0], a[1][0]),
        taps(a[0][1], a[1][1]),
        clips.len() as u32,
    ];
    g.m0 = m0;
    g.m1 = m1;
    g.m2 = m2;
    for (slot, c) in g.clips.iter_mut().zip(clips) {
        *slot = c;
    }
    for (slot, p) in g.prog.iter_mut().zip(prog) {
        *slot = p;
    }
    g.field = GpuField {
        grid: field.grid,
        key: field.key,
        geo: field.geo,
        color: field.color,
        shape: field.shape,
    };
    if let Some((b, v)) = erase {
        g.erase = b;
        g.erase_value = v;
    }
    // Axis-aligned maps with bilinear or bicubic taps and no fill: the
    // antialiased resampler (src/resample.rs) instead of the gather.
    if !nearest
        && fold == 0
        && g.counts[3] == 0
        && g.field.mask() & kind::GEOMETRIC == 0
        && g.is_affine()
        && m[0][1] == 0.0
        && m[1][0] == 0.0
    {
        g.resample = crate::resample::plan(&pipeline.ops, pipeline.size, drawn, src_w, src_h)
            .unwrap_or_default();
    }
    Ok(g)
}

/// Every drawn op of one sample lowered in order, with the final resize of
/// the canvas to the tensor's size appended as its last stage: what
/// `plan_sample` folds into a `GpuSample`, and what the targets' forward
/// map (src/targets/) inverts, so both read one program.
pub(crate) fn lower_sample(
    pipeline: &Pipeline,
    drawn: &[Drawn],
    src_w: u32,
    src_h: u32,
    index: usize,
) -> Result<Lowering> {
    let out = pipeline.size;
    let mut pl = Lowering::new(out, index, src_w, src_h);
    for (op, d) in pipeline.ops.iter().zip(drawn) {
        lower_op(op, d, &mut pl)?;
    }
    if drawn.len() != pipeline.ops.len() {
        return Err(Error::InvalidArgument(format!(
            "{} drawn records for {} ops",
            drawn.len(),
            pipeline.ops.len()
        )));
    }
    // The tensor has one size: a canvas of any other size is resized to it.
    if pl.cw != out.width as f64 || pl.ch != out.height as f64 {
        pl.stages.push(Stage {
            map: M3::scale_translate(
                pl.cw / out.width as f64,
                pl.ch / out.height as f64,
                0.0,
                0.0,
            ),
            clip: None,
        });
    }
    Ok(pl)
}

/// The field kinds (bit k: kind k) any sample of the pipeline can draw.
pub fn field_kinds(pipeline: &Pipeline) -> u32 {
    pipeline.ops.iter().fold(0, |m, op| m | field::kinds(op))
}

/// The size and format every sample of the pipeline comes out in.
pub fn globals(pipeline: &Pipeline, n_samples: u32, pass: u32) -> GpuGlobals {
    let (mean, std) = pipeline.normalization();
    GpuGlobals {
        out: [
            pipeline.size.width,
            pipeline.size.height,
            n_samples,
            match pipeline.format {
                // u8 CHW: the kernels write u8 HWC, the engine transposes.
                OutputFormat::U8Hwc | OutputFormat::U8Chw => 0,
                OutputFormat::F32Chw => FORMAT_F32,
                OutputFormat::F16Chw => FORMAT_F32 | FORMAT_F16,
            } | if pipeline.out_channels() == 1 {
                FORMAT_GREY
            } else {
                0
            },
        ],
        pass: [pass, pipeline.stat_slots() as u32, field_kinds(pipeline), 0],
        mean: [mean[0] as f32, mean[1] as f32, mean[2] as f32, 0.0],
        std: [std[0] as f32, std[1] as f32, std[2] as f32, 1.0],
    }
}

/// What any sample of a pipeline can need of the kernels, read from the
/// ops' lowerings (src/ops/color.rs, field.rs, policy.rs, geometry.rs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelBounds {
    /// The most hue steps one program holds (at most `MAX_PROG`, the
    /// longest program `plan_sample` accepts).
    pub hue_steps: u32,
    /// The op codes a program can hold (bit c: code c).
    pub ops: u32,
    /// Some map can be projective (a perspective op).
    pub projective: bool,
    /// Some sample can fold its source taps (a random crop padding by
    /// edge, reflect or symmetric).
    pub fold: bool,
}

impl KernelBounds {
    /// Both bounds at once (the plan of several pipelines).
    pub fn join(self, o: Self) -> Self {
        KernelBounds {
            hue_steps: self.hue_steps.max(o.hue_steps),
            ops: self.ops | o.ops,
            projective: self.projective || o.projective,
            fold: self.fold || o.fold,
        }
    }
}

/// The pipeline's `KernelBounds`. The GPU's precompiled variant is
/// specialised to them; a batch outside them (a replayed record with a
/// longer program, say) is not covered by it and compiles its own variant
/// (`gpu::variants`), so they bound speed, never correctness.
pub fn kernel_bounds(pipeline: &Pipeline) -> KernelBounds {
    use crate::ops::Op;
    let bit = |c: f32| 1u32 << (c as u32);
    let bits = |cs: &[f32]| cs.iter().fold(0, |m, &c| m | bit(c));
    // What a policy step lowers to (policy.rs `lower_step`).
    let policy = bits(&[
        code::BRIGHTNESS,
        code::SATURATION,
        code::CONTRAST,
        code::SHARPNESS,
        code::POSTERIZE,
        code::SOLARIZE,
        code::AUTOCONTRAST,
        code::EQUALIZE,
        code::INVERT,
    ]);
    let (mut hue, mut ops) = (0u32, bit(code::NOP));
    let (mut projective, mut fold) = (false, false);
    for op in &pipeline.ops {
        match op {
            Op::Perspective { .. } => projective = true,
            Op::RandomCrop { padding_mode, .. } => {
                fold |= *padding_mode != crate::codes::pad_mode::CONSTANT
            }
            _ => {}
        }
        let (h, o) = match op {
            Op::RandomResizedCrop { .. }
            | Op::Crop { .. }
            | Op::Resize { .. }
            | Op::CenterCrop { .. }
            | Op::RandomCrop { .. }
            | Op::HorizontalFlip { .. }
            | Op::VerticalFlip { .. }
            | Op::Affine { .. }
            | Op::Elastic { .. }
            | Op::RotationLabel { .. }
            | Op::Perspective { .. }
            | Op::Normalize { .. } => (0, 0),
            // One step per colour step in its order (each once).
            Op::ColorJitter { .. } => (
                1,
                bits(&[
                    code::BRIGHTNESS,
                    code::CONTRAST,
                    code::SATURATION,
                    code::HUE,
                ]),
            ),
            Op::Grayscale { .. } => (0, bit(code::GRAYSCALE)),
            Op::PermuteChannels { .. } => (0, bit(code::PERMUTE)),
            Op::RandomField { .. } => (
                1,
                bits(&[
                    code::FIELD_BRIGHTNESS,
                    code::FIELD_CONTRAST,
                    code::FIELD_SATURATION,
                    code::FIELD_HUE,
                ]),
            ),
            Op::Invert { .. } => (0, bit(code::INVERT)),
            Op::Solarize { .. } => (0, bit(code::SOLARIZE)),
            Op::Posterize { .. } => (0, bit(code::POSTERIZE)),
            Op::Autocontrast { .. } => (0, bit(code::AUTOCONTRAST)),
            Op::Equalize { .. } => (0, bit(code::EQUALIZE)),
            Op::Sharpness { .. } => (0, bit(code::SHARPNESS)),
            Op::GaussianBlur { .. } => (0, bits(&[code::BLUR_H, code::BLUR_V])),
            Op::GaussianNoise { .. } => (0, bit(code::NOISE)),
            Op::Gamma { .. } => (0, bit(code::GAMMA)),
            Op::RandomErasing { .. } => (0, bit(code::ERASE)),
            Op::Cutout { .. } => (0, bit(code::CUTOUT)),
            Op::ColorfulCutout { .. } => (0, bit(code::COLORFUL_CUTOUT)),
            // Policies and AugMix's chains (a RandAugment inside): no hue.
            Op::Policy { .. } | Op::AugMix { .. } => (0, policy),
        };
        hue += h;
        ops |= o;
    }
    KernelBounds {
        hue_steps: hue.min(MAX_PROG as u32),
        ops,
        projective,
        fold,
    }
}
