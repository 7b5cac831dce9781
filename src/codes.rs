//! Codes and limits the kernels share with Rust, defined here once. The WGSL
//! sees them through a generated prelude (`gpu::shaders::prelude`, prepended
//! to every kernel), so no shader writes an op code, a flag or a mask as a
//! bare number; `tests/wgsl.rs` checks the values naga reads back.

/// Most clip stages (ops that fill outside their input) per sample.
pub const MAX_CLIPS: usize = 4;
/// Most colour-program steps per sample.
pub const MAX_PROG: usize = 16;
/// Most barrier steps per sample: steps that need the whole image at their
/// input (statistics or neighbours), each one more pass over the batch.
pub const MAX_STATS: usize = 16;
/// Floats per barrier slot in the statistics buffer: mean grey, per-channel
/// min and max, per-channel "equalise" flags, then three 256-entry LUTs (the
/// layout: `stat`).
pub const STAT_STRIDE: usize = 780;

/// The layout of one barrier slot of the statistics buffer (`STAT_STRIDE`
/// floats from `stat_base` in shaders/common/color.wgsl), written by
/// shaders/stats.wgsl and read by the colour steps.
pub mod stat {
    /// Mean grey of the image (contrast), 1 float.
    pub const MEAN: usize = 0;
    /// Per-channel minimum (autocontrast), 3 floats.
    pub const MIN: usize = 1;
    /// Per-channel maximum (autocontrast), 3 floats.
    pub const MAX: usize = 4;
    /// Per-channel "equalise" flags (1: the channel is equalised), 3 floats.
    pub const EQUALIZE: usize = 7;
    /// The equalize LUTs, one of `LEVELS` entries per channel, channel after
    /// channel (floats 10 and 11 are unused).
    pub const LUT: usize = 12;
    /// Levels of a u8 channel: the entries of one histogram or LUT.
    pub const LEVELS: usize = 256;
    /// Histogram bins of the three channels (the stats kernel's workgroup histogram).
    pub const HIST: usize = 3 * LEVELS;

    /// The offsets and sizes with their WGSL names (emitted as `STAT_X: u32`).
    pub const ALL: &[(&str, usize)] = &[
        ("MEAN", MEAN),
        ("MIN", MIN),
        ("MAX", MAX),
        ("EQUALIZE", EQUALIZE),
        ("LUT", LUT),
        ("LEVELS", LEVELS),
        ("HIST", HIST),
    ];
}

const _: () = assert!(stat::LUT + stat::HIST == STAT_STRIDE);
const _: () = assert!(stat::EQUALIZE + 3 <= stat::LUT && stat::MAX + 3 <= stat::EQUALIZE);
/// Most supersampling taps per axis when downscaling.
pub const MAX_SUPERSAMPLE: u32 = 8;

/// Colour-program op codes (`shaders/common/color.wgsl`).
pub mod code {
    /// No-op (unused slot).
    pub const NOP: f32 = 0.0;
    /// x * f
    pub const BRIGHTNESS: f32 = 1.0;
    /// blend(x, mean grey, f); z = stat slot
    pub const CONTRAST: f32 = 2.0;
    /// blend(x, grey(x), f)
    pub const SATURATION: f32 = 3.0;
    /// hue shift
    pub const HUE: f32 = 4.0;
    /// grey in all channels
    pub const GRAYSCALE: f32 = 5.0;
    /// brightness with the per-pixel factor max(0, 1 + brightness field)
    pub const FIELD_BRIGHTNESS: f32 = 6.0;
    /// contrast with the per-pixel factor max(0, 1 + contrast field); z = stat slot
    pub const FIELD_CONTRAST: f32 = 7.0;
    /// saturation with the per-pixel factor max(0, 1 + saturation field)
    pub const FIELD_SATURATION: f32 = 8.0;
    /// hue shift by the hue field
    pub const FIELD_HUE: f32 = 9.0;
    /// 1 - x
    pub const INVERT: f32 = 10.0;
    /// 1 - x where 255 x >= y (threshold on the 0..255 scale)
    pub const SOLARIZE: f32 = 11.0;
    /// keep the top y bits of the value rounded to u8
    pub const POSTERIZE: f32 = 12.0;
    /// w * x^y, clamped
    pub const GAMMA: f32 = 13.0;
    /// x + y * noise, clamped; w = noise key (bits)
    pub const NOISE: f32 = 14.0;
    /// per-channel stretch to [0, 1]; barrier (z = slot)
    pub const AUTOCONTRAST: f32 = 15.0;
    /// per-channel histogram equalisation; barrier (z = slot)
    pub const EQUALIZE: f32 = 16.0;
    /// blend with the 3x3 smoothed image, factor y; barrier (z = slot)
    pub const SHARPNESS: f32 = 17.0;
    /// horizontal Gaussian, sigma y, half-width w; barrier (z = slot)
    pub const BLUR_H: f32 = 18.0;
    /// vertical Gaussian, sigma y, half-width w; barrier (z = slot)
    pub const BLUR_V: f32 = 19.0;
    /// the sample's erasing box; w = key of random values (bits)
    pub const ERASE: f32 = 20.0;
    /// channels reordered: y = o0 + 4 o1 + 16 o2 (output channel c is input channel o_c)
    pub const PERMUTE: f32 = 21.0;
    /// cutout's square: y = fill r + 256 g + 65536 b (0..255 integers), z =
    /// left | top << 16, w = right | bottom << 16 (bits, exclusive ends, clipped)
    pub const CUTOUT: f32 = 22.0;
    /// colorful_cutout's square: y = length + 65536 grid, z = (left + 32768) |
    /// (top + 32768) << 16 (bits, the unclipped corner), w = colour key (bits)
    pub const COLORFUL_CUTOUT: f32 = 23.0;

    /// Bits per channel index in PERMUTE's packed order.
    pub const PERMUTE_SHIFT: u32 = 2;
    /// Mask of one channel index in PERMUTE's packed order.
    pub const PERMUTE_MASK: u32 = 3;

    /// Every code with its WGSL name (emitted as `CODE_X: f32` and `OP_X: u32`).
    pub const ALL: &[(&str, f32)] = &[
        ("NOP", NOP),
        ("BRIGHTNESS", BRIGHTNESS),
        ("CONTRAST", CONTRAST),
        ("SATURATION", SATURATION),
        ("HUE", HUE),
        ("GRAYSCALE", GRAYSCALE),
        ("FIELD_BRIGHTNESS", FIELD_BRIGHTNESS),
        ("FIELD_CONTRAST", FIELD_CONTRAST),
        ("FIELD_SATURATION", FIELD_SATURATION),
        ("FIELD_HUE", FIELD_HUE),
        ("INVERT", INVERT),
        ("SOLARIZE", SOLARIZE),
        ("POSTERIZE", POSTERIZE),
        ("GAMMA", GAMMA),
        ("NOISE", NOISE),
        ("AUTOCONTRAST", AUTOCONTRAST),
        ("EQUALIZE", EQUALIZE),
        ("SHARPNESS", SHARPNESS),
        ("BLUR_H", BLUR_H),
        ("BLUR_V", BLUR_V),
        ("ERASE", ERASE),
        ("PERMUTE", PERMUTE),
        ("CUTOUT", CUTOUT),
        ("COLORFUL_CUTOUT", COLORFUL_CUTOUT),
    ];

    /// The last of the blend steps (brightness .. field saturation), which
    /// the kernels run as one branch-free blend.
    pub const LAST_BLEND: f32 = FIELD_SATURATION;

    /// Whether a step needs the whole image at its input (a pass boundary).
    pub fn is_barrier(c: f32) -> bool {
        c == CONTRAST
            || c == FIELD_CONTRAST
            || c == AUTOCONTRAST
            || c == EQUALIZE
            || c == SHARPNESS
            || c == BLUR_H
            || c == BLUR_V
    }
}

/// Field kinds, in kernel order (bit k of `GpuField::grid[2]`).
pub mod kind {
    /// Horizontal displacement.
    pub const DX: usize = 0;
    /// Vertical displacement.
    pub const DY: usize = 1;
    /// Rotation (radians in the kernel).
    pub const ROTATION: usize = 2;
    /// Log-scale.
    pub const LOG_SCALE: usize = 3;
    /// First colour kind (brightness, contrast, saturation, hue follow).
    pub const BRIGHTNESS: usize = 4;
    /// Kinds that move pixels.
    pub const GEOMETRIC: u32 = 0b1111;
    /// Kinds that rotate or scale (need the canvas centre).
    pub const ROTATE_SCALE: u32 = 0b1100;
    /// Kinds that change colour.
    pub const COLOR: u32 = 0b1111_0000;
    /// Colour kinds run as blends (brightness, contrast, saturation; not hue).
    pub const COLOR_BLEND: u32 = 0b0111_0000;
    /// Number of kinds.
    pub const COUNT: u32 = 8;

    /// The masks and counts with their WGSL names (emitted as `KIND_X: u32`).
    pub const ALL: &[(&str, u32)] = &[
        ("DX", DX as u32),
        ("DY", DY as u32),
        ("ROTATION", ROTATION as u32),
        ("LOG_SCALE", LOG_SCALE as u32),
        ("BRIGHTNESS", BRIGHTNESS as u32),
        ("GEOMETRIC", GEOMETRIC),
        ("ROTATE_SCALE", ROTATE_SCALE),
        ("COLOR", COLOR),
        ("COLOR_BLEND", COLOR_BLEND),
        ("COUNT", COUNT),
    ];
}

/// Lattice nodes per axis on either side of a point that a field sums over
/// (8 nodes: Gaussian weights down to exp(-8) of the peak).
pub const FIELD_TAPS: u32 = 8;

/// Padding modes of `pad` / `random_crop` (bits 1-2 of `GpuSample::src[3]`
/// for the modes that fold source taps back into the image).
pub mod pad_mode {
    /// A fill colour (a clip stage).
    pub const CONSTANT: u32 = 0;
    /// The edge pixel repeated.
    pub const EDGE: u32 = 1;
    /// Mirrored without repeating the edge pixel (torchvision's "reflect").
    pub const REFLECT: u32 = 2;
    /// Mirrored with the edge pixel repeated (torchvision's "symmetric").
    pub const SYMMETRIC: u32 = 3;
    /// The shift of the mode in `GpuSample::src[3]`.
    pub const SHIFT: u32 = 1;

    /// The modes with their names (pipeline keys) and WGSL names (`PAD_X`).
    pub const ALL: &[(&str, u32)] = &[
        ("CONSTANT", CONSTANT),
        ("EDGE", EDGE),
        ("REFLECT", REFLECT),
        ("SYMMETRIC", SYMMETRIC),
        ("SHIFT", SHIFT),
    ];

    /// The mode of a `padding_mode` name.
    pub fn of(name: &str) -> Option<u32> {
        match name {
            "constant" => Some(CONSTANT),
            "edge" => Some(EDGE),
            "reflect" => Some(REFLECT),
            "symmetric" => Some(SYMMETRIC),
            _ => None,
        }
    }
}

/// Most filter taps per axis of the antialiased resampler (`src/resample.rs`):
/// a triangle filter covers downscales up to 31x, Keys' cubic up to 15x; a
/// larger downscale keeps the supersampled gather.
pub const MAX_RESAMPLE_TAPS: u32 = 64;

/// Filter kinds of the antialiased resampler (`GpuResample::mode[0]`).
pub mod resample_kind {
    /// No resampler: the sample uses the gather.
    pub const OFF: u32 = 0;
    /// Triangle (bilinear, antialiased).
    pub const TRIANGLE: u32 = 1;
    /// Keys' cubic with a = -0.5 (bicubic, antialiased: PIL's and torchvision's).
    pub const CUBIC: u32 = 2;
    /// Keys' cubic with a = -0.75 (torchvision's bicubic with antialias=False).
    pub const CUBIC_SHARP: u32 = 3;

    /// The kinds with their WGSL names (emitted as `RESAMPLE_X: u32`).
    pub const ALL: &[(&str, u32)] = &[
        ("OFF", OFF),
        ("TRIANGLE", TRIANGLE),
        ("CUBIC", CUBIC),
        ("CUBIC_SHARP", CUBIC_SHARP),
    ];
}
