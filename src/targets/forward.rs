//! The forward map of one sample (source point -> output point), computed
//! once in Rust from the same lowered program as the kernels' inverse map
//! (`plan::lower_sample`), for boxes and keypoints on both backends.
//!
//! - Without a geometric random field the map is the inverse of the sample's
//!   3x3 matrix (f64): exact for flips, crops, resizes, pads, affine and
//!   perspective maps.
//! - With one (random_field dx/dy/rotation/log_scale, elastic) the kernels
//!   map output point p to `c + A(p) (p - c) + t(p)` and then through the
//!   matrix, with A = exp(s) R(theta). The forward estimate solves
//!   `c + A(p) (p - c) + t(p) = q` by the fixed-point iteration
//!   `p <- c + A(p)^-1 (q - t(p) - c)`, the fields bilinear between pixel
//!   centres. Its error bound is stated per sample (`forward_error`): the
//!   residual r of the last iterate over (1 - L), where L is the largest
//!   change of the field's displacement between neighbouring pixels (its
//!   Lipschitz constant, per pixel, times sqrt 2), plus L / sqrt 2 for the
//!   kernel reading the field at the pixel it lands in rather than between
//!   pixel centres. L >= 1 (a field that folds the image) gives an infinite
//!   bound.

use crate::cpu::field::{render, FieldScratch};
use crate::error::Result;
use crate::ops::lower::M3;
use crate::ops::Drawn;
use crate::pipeline::Pipeline;
use crate::plan::{kind, lower_sample, GpuField};

/// The geometric fields of one sample, rendered on the output canvas.
struct FieldPlanes {
    w: usize,
    h: usize,
    planes: [Vec<f32>; 8],
    cen: (f64, f64),
}

impl FieldPlanes {
    /// Kind `k` bilinear between pixel centres at continuous point (x, y).
    fn at(&self, k: usize, x: f64, y: f64) -> f64 {
        let p = &self.planes[k];
        if p.is_empty() {
            return 0.0;
        }
        let fx = (x - 0.5).clamp(0.0, (self.w - 1) as f64);
        let fy = (y - 0.5).clamp(0.0, (self.h - 1) as f64);
        let (x0, y0) = (fx.floor() as usize, fy.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.w - 1), (y0 + 1).min(self.h - 1));
        let (ax, ay) = (fx - x0 as f64, fy - y0 as f64);
        let v = |x: usize, y: usize| p[y * self.w + x] as f64;
        let top = v(x0, y0) + (v(x1, y0) - v(x0, y0)) * ax;
        let bot = v(x0, y1) + (v(x1, y1) - v(x0, y1)) * ax;
        top + (bot - top) * ay
    }

    /// The field transform of point p: c + A(p) (p - c) + t(p).
    fn apply(&self, p: (f64, f64)) -> (f64, f64) {
        let (a, t) = self.params(p);
        let (dx, dy) = (p.0 - self.cen.0, p.1 - self.cen.1);
        (
            self.cen.0 + a.0 * dx - a.1 * dy + t.0,
            self.cen.1 + a.1 * dx + a.0 * dy + t.1,
        )
    }

    /// ((s cos theta, s sin theta), (tx, ty)) at p.
    fn params(&self, p: (f64, f64)) -> ((f64, f64), (f64, f64)) {
        let th = self.at(kind::ROTATION, p.0, p.1);
        let s = self.at(kind::LOG_SCALE, p.0, p.1).exp();
        (
            (th.cos() * s, th.sin() * s),
            (self.at(kind::DX, p.0, p.1), self.at(kind::DY, p.0, p.1)),
        )
    }

    /// Largest change of the displacement p -> transform(p) - p between
    /// neighbouring pixel centres, times sqrt 2 (a Lipschitz estimate).
    fn lipschitz(&self) -> f64 {
        let d = |x: usize, y: usize| {
            let p = (x as f64 + 0.5, y as f64 + 0.5);
            let q = self.apply(p);
            (q.0 - p.0, q.1 - p.1)
        };
        let mut l: f64 = 0.0;
        for y in 0..self.h {
            let mut prev: Option<(f64, f64)> = None;
            for x in 0..self.w {
                let here = d(x, y);
                if let Some(pv) = prev {
                    l = l.max((here.0 - pv.0).hypot(here.1 - pv.1));
                }
                if y + 1 < self.h {
                    let below = d(x, y + 1);
                    l = l.max((below.0 - here.0).hypot(below.1 - here.1));
                }
                prev = Some(here);
            }
        }
        l * std::f64::consts::SQRT_2
    }
}

/// One sample's forward map, with what bounds where its pixels come from.
pub(crate) struct ForwardMap {
    /// Output -> source (projective).
    inv: M3,
    /// Source -> output (the inverse of `inv`), before the field.
    fwd: M3,
    /// Output -> each clip stage's canvas, with its width and height.
    clips: Vec<(M3, f64, f64)>,
    /// Output canvas.
    pub out: (f64, f64),
    /// Source canvas.
    pub src: (f64, f64),
    field: Option<FieldPlanes>,
    /// Largest residual of a field inversion so far (points mapped).
    residual: std::cell::Cell<f64>,
    lipschitz: f64,
}

fn invert(m: &M3) -> Option<M3> {
    let a = &m.0;
    let c = |i: usize, j: usize| {
        let (i1, i2) = ((i + 1) % 3, (i + 2) % 3);
        let (j1, j2) = ((j + 1) % 3, (j + 2) % 3);
        a[i1][j1] * a[i2][j2] - a[i1][j2] * a[i2][j1]
    };
    let det = a[0][0] * c(0, 0) + a[0][1] * c(0, 1) + a[0][2] * c(0, 2);
    if det == 0.0 || !det.is_finite() {
        return None;
    }
    let mut r = [[0.0; 3]; 3];
    for (i, row) in r.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            // The adjugate is the transposed cofactor matrix.
            *v = c(j, i) / det;
        }
    }
    Some(M3(r))
}

fn apply(m: &M3, p: (f64, f64)) -> Option<(f64, f64)> {
    let a = &m.0;
    let w = a[2][0] * p.0 + a[2][1] * p.1 + a[2][2];
    if w <= 0.0 || !w.is_finite() {
        return None;
    }
    Some((
        (a[0][0] * p.0 + a[0][1] * p.1 + a[0][2]) / w,
        (a[1][0] * p.0 + a[1][1] * p.1 + a[1][2]) / w,
    ))
}

impl ForwardMap {
    /// The forward map of a sample of `pipeline` with drawn ops `drawn`, on
    /// a `src_w` x `src_h` source; `field` is the sample's planned field
    /// (`GpuSample::field`), rendered here when it moves pixels.
    pub fn new(
        pipeline: &Pipeline,
        drawn: &[Drawn],
        src_w: u32,
        src_h: u32,
        index: usize,
        field: &GpuField,
    ) -> Result<Self> {
        let pl = lower_sample(pipeline, drawn, src_w, src_h, index)?;
        let mut suffix = M3::identity();
        let mut clips = Vec::new();
        for s in pl.stages.iter().rev() {
            suffix = s.map.mul(&suffix);
            if let Some((w, h, _, _)) = s.clip {
                clips.push((suffix, w, h));
            }
        }
        let out = (pipeline.size.width as f64, pipeline.size.height as f64);
        let field = (field.mask() & kind::GEOMETRIC != 0).then(|| {
            let (w, h) = (pipeline.size.width as usize, pipeline.size.height as usize);
            let mut planes: [Vec<f32>; 8] = Default::default();
            render(field, w, h, &mut planes, &mut FieldScratch::default());
            FieldPlanes {
                w,
                h,
                planes,
                cen: (field.shape[1] as f64, field.shape[2] as f64),
            }
        });
        let lipschitz = field.as_ref().map_or(0.0, FieldPlanes::lipschitz);
        let fwd = invert(&suffix).ok_or_else(|| {
            crate::Error::InvalidArgument(format!(
                "sample {index}: its geometric map is singular (a scale of 0?): targets cannot follow it"
            ))
        })?;
        Ok(Self {
            inv: suffix,
            fwd,
            clips,
            out,
            src: (src_w as f64, src_h as f64),
            field,
            residual: std::cell::Cell::new(0.0),
            lipschitz,
        })
    }

    /// The output point source point `s` lands on, or None when the map sends
    /// it behind the projection (a perspective's horizon).
    pub fn point(&self, s: (f64, f64)) -> Option<(f64, f64)> {
        let q = apply(&self.fwd, s)?;
        let Some(f) = &self.field else {
            return Some(q);
        };
        let mut p = q;
        let mut r = f64::INFINITY;
        for _ in 0..100 {
            let (a, t) = f.params(p);
            let (x, y) = (q.0 - t.0 - f.cen.0, q.1 - t.1 - f.cen.1);
            let det = a.0 * a.0 + a.1 * a.1;
            // A^-1 = R(-theta) / s = (a0, a1; -a1, a0) / (a0^2 + a1^2).
            let next = (
                f.cen.0 + (a.0 * x + a.1 * y) / det,
                f.cen.1 + (-a.1 * x + a.0 * y) / det,
            );
            let moved = (next.0 - p.0).hypot(next.1 - p.1);
            p = next;
            let fp = f.apply(p);
            r = (fp.0 - q.0).hypot(fp.1 - q.1);
            if moved < 1e-9 || r < 1e-9 {
                break;
            }
        }
        self.residual.set(self.residual.get().max(r));
        Some(p)
    }

    /// The stated bound (output pixels) on the error of `point` for the
    /// points mapped so far: 0 for maps without a geometric field.
    pub fn error_bound(&self) -> f64 {
        if self.field.is_none() {
            return 0.0;
        }
        let l = self.lipschitz;
        if l >= 1.0 {
            return f64::INFINITY;
        }
        self.residual.get() / (1.0 - l) + l / std::f64::consts::SQRT_2
    }

    /// Whether output point p shows the source: inside the output canvas,
    /// inside every clip stage's canvas, and from inside the source.
    pub fn shows_source(&self, p: (f64, f64)) -> bool {
        let inside = |q: (f64, f64), w: f64, h: f64| q.0 >= 0.0 && q.0 < w && q.1 >= 0.0 && q.1 < h;
        if !inside(p, self.out.0, self.out.1) {
            return false;
        }
        // Clip stages and the source see the field-moved point.
        let moved = self.field.as_ref().map_or(p, |f| f.apply(p));
        self.clips
            .iter()
            .all(|(m, w, h)| apply(m, moved).is_some_and(|q| inside(q, *w, *h)))
            && apply(&self.inv, moved).is_some_and(|q| inside(q, self.src.0, self.src.1))
    }

    /// The box (x1, y1, x2, y2, output pixels) of the image of source box `b`
    /// (xyxy, source pixels): the box of its mapped corners for matrices
    /// (exact: projective maps keep lines straight, so the corners bound
    /// the image), else of points sampled along its edges (at most every
    /// half output pixel, 16 to 1024 a side). None when no point maps.
    pub fn bbox(&self, b: [f64; 4]) -> Option<[f64; 4]> {
        let [x1, y1, x2, y2] = b;
        let corners = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)];
        let mapped: Vec<Option<(f64, f64)>> = corners.iter().map(|&c| self.point(c)).collect();
        let mut pts: Vec<(f64, f64)> = Vec::new();
        if self.field.is_none() && mapped.iter().all(Option::is_some) {
            pts.extend(mapped.into_iter().flatten());
        } else {
            for k in 0..4 {
                let (a, b) = (corners[k], corners[(k + 1) % 4]);
                let len = match (self.point(a), self.point(b)) {
                    (Some(p), Some(q)) => (p.0 - q.0).hypot(p.1 - q.1),
                    _ => (a.0 - b.0).hypot(a.1 - b.1),
                };
                let n = ((2.0 * len).ceil() as usize).clamp(16, 1024);
                for i in 0..n {
                    let t = i as f64 / n as f64;
                    if let Some(p) = self.point((a.0 + (b.0 - a.0) * t, a.1 + (b.1 - a.1) * t)) {
                        pts.push(p);
                    }
                }
            }
        }
        let first = *pts.first()?;
        Some(
            pts.iter()
                .fold([first.0, first.1, first.0, first.1], |m, p| {
                    [m[0].min(p.0), m[1].min(p.1), m[2].max(p.0), m[3].max(p.1)]
                }),
        )
    }

    /// Whether the map mirrors (its Jacobian at the source centre has a
    /// negative determinant): one horizontal or vertical flip, not both.
    pub fn mirrors(&self) -> bool {
        let c = (self.src.0 / 2.0, self.src.1 / 2.0);
        let a = &self.fwd.0;
        let (Some(p), Some(px), Some(py)) = (
            apply(&self.fwd, c),
            apply(&self.fwd, (c.0 + 1.0, c.1)),
            apply(&self.fwd, (c.0, c.1 + 1.0)),
        ) else {
            return a[0][0] * a[1][1] - a[0][1] * a[1][0] < 0.0;
        };
        (px.0 - p.0) * (py.1 - p.1) - (px.1 - p.1) * (py.0 - p.0) < 0.0
    }
}
