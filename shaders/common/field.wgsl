// Gaussian random fields (SEMANTICS.md, "Random fields"). A field is white
// noise on a lattice of spacing l (node k at (k - 4) l, reaching 4 spacings
// beyond the canvas), each pixel the sum of the 8 x 8 nearest nodes weighted
// by a Gaussian of std l, times amplitude / sqrt(pi): unit variance up to a
// ripple of 2 exp(-pi^2) = 1e-4, correlation exp(-d^2 / (4 l^2)), and a cost
// per pixel that does not depend on l. Separable: the field pass sums each
// lattice row along x into column sums, one per output column
// (shaders/field.wgsl); a pixel sums the 8 column sums of its column nearest
// its row, along y (field_values: adjacent pixels read adjacent words).
// CPU twin: src/cpu/field.rs.

// 1 / std of the sum of four uniform 16-bit integers.
const NOISE_SCALE: f32 = 2.6428997e-5;
const INV_SQRT_PI: f32 = 0.5641896;

// A strong 32-bit integer hash (Wellons' lowbias32): the counter-based generator.
fn hash32(x_in: u32) -> u32 {
    var x = x_in;
    x ^= x >> 16u;
    x *= 0x7feb352du;
    x ^= x >> 15u;
    x *= 0x846ca68bu;
    x ^= x >> 16u;
    return x;
}

// The noise stream of one field kind of one sample.
fn field_base(key: vec4<u32>, kind: u32) -> u32 {
    return hash32(key.x ^ hash32(key.y ^ hash32(kind)));
}

// White noise of variance 1 at lattice node n (or value n of a key): the
// centred sum of four 16-bit uniforms (Irwin-Hall; integer arithmetic, so
// both backends agree exactly). gaussian_noise uses it too.
fn lattice_noise(base: u32, n: u32) -> f32 {
    let u = hash32(base ^ hash32(n));
    let v = hash32(u ^ 0x9e3779b9u);
    let s = (u & 0xffffu) + (u >> 16u) + (v & 0xffffu) + (v >> 16u);
    return (f32(s) - 131070.0) * NOISE_SCALE;
}

// Gaussian weight of lattice node k for a point at lattice coordinate t.
fn field_weight(t: f32, k: u32) -> f32 {
    let d = t - f32(k);
    return exp(-0.5 * d * d);
}

// Lattice coordinate of pixel centre i: t = (i + 0.5) / l + 4.
fn lattice_coord(i: u32, inv_l: f32) -> f32 {
    return (f32(i) + 0.5) * inv_l + 4.0;
}

fn field_amplitude(f: Field, kind: u32) -> f32 {
    let a = array<f32, 8>(f.geo.x, f.geo.y, f.geo.z, f.geo.w, f.color.x, f.color.y, f.color.z, f.color.w);
    return a[kind];
}

struct FieldValues {
    geo: vec4<f32>,   // dx, dy, rotation, log-scale at the pixel
    color: vec4<f32>, // brightness, contrast, saturation, hue at the pixel
}

// Every active field of sample si at output pixel (ox, oy); zeros without fields.
fn field_values(si: u32, ox: u32, oy: u32) -> FieldValues {
    var v: array<f32, 8>;
    if (FIELD_KINDS != 0u) {
        let mask = samples[si].field.grid.z;
        if (mask != 0u) {
            let ky = samples[si].field.grid.y;
            let cols = samples[si].field.key.w;
            let t = lattice_coord(oy, samples[si].field.shape.x);
            let m0 = u32(floor(t)) - 3u;
            var w: array<f32, 8>;
            for (var j = 0u; j < FIELD_TAPS; j++) {
                w[j] = field_weight(t, m0 + j);
            }
            let wd = g.out.x;
            for (var kind = 0u; kind < KIND_COUNT; kind++) {
                if (((FIELD_KINDS >> kind) & 1u) != 0u && ((mask >> kind) & 1u) != 0u) {
                    let slot = countOneBits(mask & ((1u << kind) - 1u));
                    let base = cols + (slot * ky + m0) * wd + ox;
                    var acc = 0.0;
                    for (var j = 0u; j < FIELD_TAPS; j++) {
                        acc += field_buf[base + j * wd] * w[j];
                    }
                    v[kind] = acc;
                }
            }
        }
    }
    return FieldValues(vec4<f32>(v[0], v[1], v[2], v[3]), vec4<f32>(v[4], v[5], v[6], v[7]));
}
