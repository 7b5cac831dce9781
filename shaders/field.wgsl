// The field pass: two entry points, run before the reduction and main passes
// when some sample has random fields. `noise` fills each sample's lattice of
// white noise (one thread per node); `cols` sums each lattice row along x
// with the Gaussian weights of every output column (one thread per lattice
// row and output column), scaled by amplitude / sqrt(pi). Grid: (x, y)
// tiles, z = sample.
// CPU twin: src/cpu/field.rs.

@compute @workgroup_size(16, 16)
fn noise(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
    let si = wg.z;
    let f = samples[si].field;
    let k = gid.x;
    let m = gid.y;
    if (f.grid.z == 0u || k >= f.grid.x || m >= f.grid.y) {
        return;
    }
    let per = f.grid.x * f.grid.y;
    let n = m * f.grid.x + k;
    for (var kind = 0u; kind < KIND_COUNT; kind++) {
        if (((FIELD_KINDS >> kind) & 1u) != 0u && ((f.grid.z >> kind) & 1u) != 0u) {
            let slot = countOneBits(f.grid.z & ((1u << kind) - 1u));
            field_buf[f.key.z + slot * per + n] = lattice_noise(field_base(f.key, kind), n);
        }
    }
}

@compute @workgroup_size(16, 16)
fn cols(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(workgroup_id) wg: vec3<u32>) {
    let si = wg.z;
    let f = samples[si].field;
    let x = gid.x;
    let m = gid.y;
    let kx = f.grid.x;
    if (f.grid.z == 0u || x >= g.out.x || m >= f.grid.y) {
        return;
    }
    let t = lattice_coord(x, f.shape.x);
    let k0 = u32(floor(t)) - 3u;
    var w: array<f32, 8>;
    for (var i = 0u; i < FIELD_TAPS; i++) {
        w[i] = field_weight(t, k0 + i);
    }
    let per = kx * f.grid.y;
    for (var kind = 0u; kind < KIND_COUNT; kind++) {
        if (((FIELD_KINDS >> kind) & 1u) != 0u && ((f.grid.z >> kind) & 1u) != 0u) {
            let slot = countOneBits(f.grid.z & ((1u << kind) - 1u));
            let nb = f.key.z + slot * per + m * kx + k0;
            var acc = 0.0;
            for (var i = 0u; i < FIELD_TAPS; i++) {
                acc += field_buf[nb + i] * w[i];
            }
            field_buf[f.key.w + (slot * f.grid.y + m) * g.out.x + x] = acc * (field_amplitude(f, kind) * INV_SQRT_PI);
        }
    }
}
