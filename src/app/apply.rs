//! `gpu-augment apply`: one op with explicit (not random) parameters, like
//! torchvision's functional API. The ops, their keys and their limits are
//! the library's (`explicit`), the same definitions pipeline files read.

use gpu_augment::explicit::explicit_op;
use gpu_augment::{Augmenter, Batch, Pipeline, Request, Result, RgbImage};

/// Applies one explicit op to `image`.
pub fn apply_op(
    aug_for: impl Fn(Pipeline) -> Result<Augmenter>,
    name: &str,
    sets: &[(String, String)],
    image: RgbImage,
) -> Result<Batch> {
    let (pipeline, drawn) = explicit_op(name, sets, image.width(), image.height())?;
    let aug = aug_for(pipeline)?;
    aug.augment(Request::new(&[image]).params(&[vec![drawn]]))
}
