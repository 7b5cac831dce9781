// Per-sample and per-batch parameters.
// Keep in sync with src/plan.rs (GpuClip, GpuField, GpuSample, GpuGlobals); tests/wgsl.rs checks the sizes.

// Features a batch may use, fixed per compute pipeline (the host compiles one
// variant per combination it meets). A CPU-emulated device such as lavapipe
// runs both sides of every branch, so paths no sample needs are compiled out.
override OUT_F32: bool = false;       // f32 CHW output (else u8 RGBA words)
override OUT_GREY: bool = false;      // one output channel: f32 writes plane 0 alone (u8 keeps its words)
override USE_SCRATCH: bool = false;   // the stats pass left the warped image in scratch
override MAY_NEAREST: bool = false;   // some sample samples nearest
override MAY_CLIP: bool = false;      // some sample has clip stages
override MAY_PROJECTIVE: bool = false; // some map is projective (else w = 1 exactly)
override MAY_RESAMPLE: bool = false;  // some sample uses the antialiased resampler
override MAY_FOLD: bool = false;      // some sample pads by folding taps (edge, reflect, symmetric)
override HUE_STEPS: u32 = 0u;         // most hue steps in one sample's program
override FIELD_KINDS: u32 = 0u;       // random-field kinds some sample uses (bit k: kind k)
override OPS: u32 = 0u;               // colour-program op codes some sample uses (bit c: code c)

// MAX_CLIPS, MAX_PROG, MAX_STATS (barrier slots per sample) and STAT_STRIDE
// (floats per slot: mean, min rgb, max rgb, equalise flags rgb, pad, 3 x 256
// LUT) come from the generated prelude.

struct Clip {
    r0: vec4<f32>,   // map row 0, .w = canvas width
    r1: vec4<f32>,   // map row 1, .w = canvas height
    r2: vec4<f32>,   // map row 2, .w = 1 for a hard edge
    fill: vec4<f32>, // RGB in [0, 1]
}

struct Field {
    grid: vec4<u32>,   // lattice columns, lattice rows, kind mask (0: no field), unused
    key: vec4<u32>,    // noise key (2 words), noise offset, column-sum offset (floats into field_buf)
    geo: vec4<f32>,    // amplitudes: dx, dy (pixels), rotation (radians), log-scale
    color: vec4<f32>,  // amplitudes: brightness, contrast, saturation, hue
    shape: vec4<f32>,  // 1 / l, canvas centre x, y, unused
}

struct Sample {
    src: vec4<u32>,    // offset (pixels), width, height, flags (bit 0: nearest)
    counts: vec4<u32>, // program length, supersample x, supersample y, clip count
    m0: vec4<f32>,
    m1: vec4<f32>,
    m2: vec4<f32>,
    clips: array<Clip, 4>,
    prog: array<vec4<f32>, 16>, // x: op code, y: parameter, z: barrier slot, w: parameter or key bits
    field: Field,
    erase: vec4<f32>,       // erasing box: left, top, right, bottom (exclusive)
    erase_value: vec4<f32>, // RGB in [0, 1]; w = 1: random values
    resample: Resample, // common/weights.wgsl
}

struct Globals {
    out: vec4<u32>,   // width, height, samples, format (bit 0: f32 CHW, else u8 HWC; bit 1: one channel)
    stage: vec4<u32>, // segment of this pass, barrier passes in the pipeline, field kinds of the pipeline, unused
    mean: vec4<f32>,
    stdev: vec4<f32>,
}

@group(0) @binding(0) var<uniform> g: Globals;
@group(0) @binding(1) var<storage, read> samples: array<Sample>;
// The sources' RGB bytes back to back (3 bytes a pixel, little-endian in
// the words, one word of padding at the end); read with `src_rgb`.
@group(0) @binding(2) var<storage, read> src_px: array<u32>;
@group(0) @binding(3) var<storage, read_write> scratch: array<u32>; // two halves of f32 RGB images
@group(0) @binding(4) var<storage, read_write> stats: array<f32>;
@group(0) @binding(5) var<storage, read_write> out_buf: array<u32>;
@group(0) @binding(6) var<storage, read_write> field_buf: array<f32>;

// Scratch holds each sample's image at a segment boundary, f32 RGB, in two
// halves (a pass reads one and writes the other).
fn img_index(half: u32, si: u32, x: u32, y: u32) -> u32 {
    return ((half * g.out.z + si) * (g.out.x * g.out.y) + y * g.out.x + x) * 3u;
}

fn load_img(half: u32, si: u32, x: u32, y: u32) -> vec3<f32> {
    let i = img_index(half, si, x, y);
    return vec3<f32>(bitcast<f32>(scratch[i]), bitcast<f32>(scratch[i + 1u]), bitcast<f32>(scratch[i + 2u]));
}

fn store_img(half: u32, si: u32, x: u32, y: u32, c: vec3<f32>) {
    let i = img_index(half, si, x, y);
    scratch[i] = bitcast<u32>(c.x);
    scratch[i + 1u] = bitcast<u32>(c.y);
    scratch[i + 2u] = bitcast<u32>(c.z);
}

// Source pixel `p` (an index into all the batch's pixels) as a word
// r | g << 8 | b << 16: its 3 bytes from one word or two. Both words are
// read (a select, not a branch; the buffer has a word of padding).
fn src_rgb(p: u32) -> u32 {
    let byte = p * 3u;
    let w = byte >> 2u;
    let s = (byte & 3u) * 8u;
    let lo = src_px[w] >> s;
    let hi = src_px[w + 1u] << ((32u - s) & 31u);
    return (lo | select(0u, hi, s > 8u)) & 0xffffffu;
}
