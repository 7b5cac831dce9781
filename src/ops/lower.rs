//! The per-sample program the ops lower to, and the driver that hands each
//! drawn op to its family's `lower` (src/ops/geometry.rs, color.rs,
//! field.rs, policy.rs). `plan::plan_sample` turns the finished program into
//! the kernels' `GpuSample`.

use super::{color, field, geometry, policy, Drawn, Op, Size};
use crate::error::{Error, Result};

/// A 3x3 projective map in f64, row-major.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct M3(pub [[f64; 3]; 3]);

impl M3 {
    pub fn identity() -> Self {
        M3([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    }
    /// (x, y) -> (sx * x + tx, sy * y + ty)
    pub fn scale_translate(sx: f64, sy: f64, tx: f64, ty: f64) -> Self {
        M3([[sx, 0.0, tx], [0.0, sy, ty], [0.0, 0.0, 1.0]])
    }
    pub fn mul(&self, o: &M3) -> M3 {
        let mut r = [[0.0; 3]; 3];
        for (i, row) in r.iter_mut().enumerate() {
            for (j, v) in row.iter_mut().enumerate() {
                *v = (0..3).map(|k| self.0[i][k] * o.0[k][j]).sum();
            }
        }
        M3(r)
    }
    pub fn rows(&self, w: [f32; 3]) -> [[f32; 4]; 3] {
        let r = |i: usize| {
            [
                self.0[i][0] as f32,
                self.0[i][1] as f32,
                self.0[i][2] as f32,
                w[i],
            ]
        };
        [r(0), r(1), r(2)]
    }
}

/// One map stage: output -> this op's input canvas, and, for an op that
/// fills, the canvas width, height, fill (0..255) and hard-edge flag.
pub(crate) struct Stage {
    pub map: M3,
    pub clip: Option<(f64, f64, [f64; 3], bool)>,
}

/// A sample's random fields as `plan::GpuField` carries them (see there).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct FieldParams {
    pub grid: [u32; 4],
    pub key: [u32; 4],
    pub geo: [f32; 4],
    pub color: [f32; 4],
    pub shape: [f32; 4],
}

/// The per-sample program as the ops build it, op by op.
pub(crate) struct Lowering {
    /// The pipeline's output size.
    pub out: Size,
    /// The sample's position in the batch (for errors).
    pub index: usize,
    /// The current canvas width and height.
    pub cw: f64,
    pub ch: f64,
    /// Map stages, outermost (nearest the source) first.
    pub stages: Vec<Stage>,
    /// Some op samples by nearest neighbour.
    pub nearest: bool,
    /// The colour program: x = op code, y = parameter, z = stat slot.
    pub prog: Vec<[f32; 4]>,
    /// Barrier (stat) slots used.
    pub n_stats: u32,
    /// The random fields (all zero: none).
    pub field: FieldParams,
    /// The erasing box and value.
    pub erase: Option<([f32; 4], [f32; 4])>,
    /// Stages of warps whose own scale does not drive supersampling (affine
    /// unless `antialias`, resize with `antialias = false`, perspective, the
    /// policies' warps): torchvision antialiases resizes only.
    pub warps: Vec<usize>,
    /// The padding mode that folds source taps into the image (0: none).
    pub fold: u32,
}

impl Lowering {
    /// An empty program for a source of `src_w` x `src_h`.
    pub fn new(out: Size, index: usize, src_w: u32, src_h: u32) -> Self {
        Self {
            out,
            index,
            cw: src_w as f64,
            ch: src_h as f64,
            stages: Vec::new(),
            nearest: false,
            prog: Vec::new(),
            n_stats: 0,
            field: FieldParams::default(),
            erase: None,
            warps: Vec::new(),
            fold: 0,
        }
    }
}

pub(crate) fn op_err(index: usize, op: &Op, message: String) -> Error {
    Error::OpFailed {
        index,
        op: op.name().into(),
        message,
    }
}

/// A barrier step with its stat slot (the next free one) in z.
pub(crate) fn barrier(code: f32, y: f32, w: f32, n_stats: &mut u32) -> [f32; 4] {
    *n_stats += 1;
    [code, y, (*n_stats - 1) as f32, w]
}

/// A 32-bit noise key carried in a program step's f32 lane (bit pattern).
pub(crate) fn key_bits(seed: u64) -> f32 {
    f32::from_bits((seed ^ (seed >> 32)) as u32)
}

/// Lowers one drawn op: the families' checks of explicit parameters, then
/// the family whose op it is. Drawn parameters of another op are an error.
pub(crate) fn lower_op(op: &Op, d: &Drawn, pl: &mut Lowering) -> Result<()> {
    geometry::check_drawn(pl.index, op, d)?;
    color::check_drawn(pl.index, op, d)?;
    let before = pl.stages.len();
    let lowered = geometry::lower(op, d, pl)?
        || color::lower(op, d, pl)?
        || field::lower(op, d, pl)?
        || policy::lower(op, d, pl)?;
    if matches!(
        op,
        Op::Affine {
            antialias: false,
            ..
        } | Op::Resize {
            antialias: false,
            ..
        } | Op::Perspective { .. }
            | Op::Policy { .. }
    ) {
        let after = pl.stages.len();
        pl.warps.extend(before..after);
    }
    if lowered {
        Ok(())
    } else {
        Err(Error::InvalidArgument(format!(
            "drawn parameters {d:?} do not belong to op `{}`",
            op.name()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::{parse_op, Family, KeyDefault, OP_DEFS};

    /// Every op of `OP_DEFS` (with p = 1 and its required keys set) is drawn
    /// and lowered by the file of the family its row names, and by no other.
    #[test]
    fn each_op_is_drawn_and_lowered_by_its_familys_file() {
        for def in OP_DEFS {
            let mut t = toml::Table::new();
            t.insert("op".into(), def.name.into());
            for k in def.keys {
                let v: toml::Value = match (k.name, k.default) {
                    ("p", _) => 1.0.into(),
                    (_, KeyDefault::Required) => match k.name {
                        "size" | "kernel_size" | "height" | "width" => 3.into(),
                        _ => 4.0.into(),
                    },
                    _ => continue,
                };
                t.insert(k.name.into(), v);
            }
            let op = parse_op(0, &t).unwrap_or_else(|e| panic!("{}: {e}", def.name));
            let mut rng = crate::key::op_rng(7, 0, 0, 0, 0);
            let draws = [
                geometry::draw(&op, &mut rng, 32, 32),
                color::draw(&op, &mut rng, 32, 32),
                field::draw(&op, &mut rng, 32, 32),
                policy::draw(&op, &mut rng, 32, 32),
            ];
            let family = [
                Family::Geometry,
                Family::Color,
                Family::Field,
                Family::Policy,
            ];
            let drawn: Vec<_> = family
                .iter()
                .zip(&draws)
                .filter(|(_, d)| d.is_some())
                .collect();
            assert_eq!(drawn.len(), 1, "{}: drawn by one family", def.name);
            assert_eq!(*drawn[0].0, def.family, "{}: drawn by its family", def.name);
            let d = drawn[0].1.clone().unwrap();
            let out = Size::square(32);
            let mut lowered = vec![];
            for (f, lower) in family.iter().zip([
                geometry::lower as fn(&Op, &Drawn, &mut Lowering) -> Result<bool>,
                color::lower,
                field::lower,
                policy::lower,
            ]) {
                if lower(&op, &d, &mut Lowering::new(out, 0, 32, 32)).unwrap() {
                    lowered.push(*f);
                }
            }
            // AugMix's chains are lowered one by one by the engine.
            let want = if def.name == "augmix" {
                vec![]
            } else {
                vec![def.family]
            };
            assert_eq!(lowered, want, "{}: lowered by its family", def.name);
        }
    }
}
