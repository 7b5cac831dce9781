//! Targets (masks, boxes, keypoints) between Python and the engine: one
//! dict per source image in, one dict per output sample out, numpy arrays
//! for every array (see `gpu_augment.Augmenter.__call__`'s `targets`).
//!
//! The Python half (`gpu_augment/__init__.py`) hands over arrays of the
//! exact dtypes read here (masks uint8 or uint16, boxes and keypoints
//! float64, labels uint32), so this side only checks shapes and keys; the
//! engine checks the values (sizes against the image, box corners, classes).

use gpu_augment as ga;
use numpy::ndarray::{Array1, Array2};
use numpy::prelude::*;
use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;

/// The keys of one image's targets dict.
pub const KEYS: &[&str] = &[
    "masks",
    "boxes",
    "box_format",
    "normalized",
    "box_labels",
    "keypoints",
];

fn bad(i: usize, key: &str, message: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(format!("targets of image {i}: `{key}`: {message}"))
}

/// Checks a targets dict's keys (the same for the Augmenter and the Loader).
fn check_keys(i: usize, d: &Bound<'_, PyDict>) -> PyResult<()> {
    for k in d.keys() {
        let k: String = k.extract().map_err(|_| {
            PyTypeError::new_err(format!("targets of image {i}: keys must be strings"))
        })?;
        if !KEYS.contains(&k.as_str()) {
            return Err(bad(
                i,
                &k,
                format!("unknown key (allowed: {})", KEYS.join(", ")),
            ));
        }
    }
    Ok(())
}

fn get<'py>(d: &Bound<'py, PyDict>, key: &str) -> PyResult<Option<Bound<'py, PyAny>>> {
    Ok(d.get_item(key)?.filter(|v| !v.is_none()))
}

/// A label map: a 2-D uint8 or uint16 array.
fn mask_from_py(i: usize, k: usize, obj: &Bound<'_, PyAny>) -> PyResult<ga::Mask> {
    let key = format!("masks[{k}]");
    if let Ok(a) = obj.extract::<PyReadonlyArray2<'_, u8>>() {
        let s = a.shape();
        let data: Vec<u8> = a.as_array().iter().copied().collect();
        return Ok(ga::Mask::u8(s[1] as u32, s[0] as u32, data));
    }
    if let Ok(a) = obj.extract::<PyReadonlyArray2<'_, u16>>() {
        let s = a.shape();
        let data: Vec<u16> = a.as_array().iter().copied().collect();
        return Ok(ga::Mask::u16(s[1] as u32, s[0] as u32, data));
    }
    Err(bad(i, &key, "expected an H x W uint8 or uint16 array"))
}

/// Boxes: an N x 4 float64 array with its format, normalisation and labels.
fn boxes_from_py(i: usize, d: &Bound<'_, PyDict>) -> PyResult<Option<ga::Boxes>> {
    let Some(b) = get(d, "boxes")? else {
        for k in ["box_format", "normalized", "box_labels"] {
            if get(d, k)?.is_some() {
                return Err(bad(i, k, "given without `boxes`"));
            }
        }
        return Ok(None);
    };
    let a = b
        .extract::<PyReadonlyArray2<'_, f64>>()
        .map_err(|_| bad(i, "boxes", "expected an N x 4 float64 array"))?;
    if a.shape()[1] != 4 {
        return Err(bad(
            i,
            "boxes",
            format!("expected N x 4, got shape {:?}", a.shape()),
        ));
    }
    let coords: Vec<[f64; 4]> = a
        .as_array()
        .rows()
        .into_iter()
        .map(|r| [r[0], r[1], r[2], r[3]])
        .collect();
    let format: ga::BoxFormat = match get(d, "box_format")? {
        None => ga::BoxFormat::Xyxy,
        Some(f) => {
            let s: String = f
                .extract()
                .map_err(|_| bad(i, "box_format", "expected \"xyxy\", \"xywh\" or \"cxcywh\""))?;
            s.parse().map_err(|e: ga::Error| bad(i, "box_format", e))?
        }
    };
    let normalized = match get(d, "normalized")? {
        None => false,
        Some(v) => v
            .extract::<bool>()
            .map_err(|_| bad(i, "normalized", "expected a bool"))?,
    };
    let labels: Vec<u32> = match get(d, "box_labels")? {
        None => vec![0; coords.len()],
        Some(l) => l
            .extract::<PyReadonlyArray1<'_, u32>>()
            .map_err(|_| bad(i, "box_labels", "expected N non-negative integer classes"))?
            .as_array()
            .to_vec(),
    };
    if labels.len() != coords.len() {
        return Err(bad(
            i,
            "box_labels",
            format!("{} labels for {} boxes", labels.len(), coords.len()),
        ));
    }
    Ok(Some(ga::Boxes {
        format,
        normalized,
        coords,
        labels,
    }))
}

/// Keypoints: a K x 3 float64 array (x, y, visibility).
fn keypoints_from_py(i: usize, d: &Bound<'_, PyDict>) -> PyResult<Option<ga::Keypoints>> {
    let Some(k) = get(d, "keypoints")? else {
        return Ok(None);
    };
    let a = k.extract::<PyReadonlyArray2<'_, f64>>().map_err(|_| {
        bad(
            i,
            "keypoints",
            "expected a K x 3 float64 array (x, y, visibility)",
        )
    })?;
    if a.shape()[1] != 3 {
        return Err(bad(
            i,
            "keypoints",
            format!("expected K x 3, got shape {:?}", a.shape()),
        ));
    }
    let points = a
        .as_array()
        .rows()
        .into_iter()
        .map(|r| [r[0], r[1], r[2]])
        .collect();
    Ok(Some(ga::Keypoints { points }))
}

/// One image's targets dict (masks as arrays), for `Augmenter.run`.
pub fn targets_from_py(i: usize, d: &Bound<'_, PyDict>) -> PyResult<ga::Targets> {
    check_keys(i, d)?;
    let masks = match get(d, "masks")? {
        None => Vec::new(),
        Some(m) => {
            let list: Vec<Bound<'_, PyAny>> = m
                .extract()
                .map_err(|_| bad(i, "masks", "expected a list of H x W arrays"))?;
            list.iter()
                .enumerate()
                .map(|(k, a)| mask_from_py(i, k, a))
                .collect::<PyResult<_>>()?
        }
    };
    Ok(ga::Targets {
        masks,
        boxes: boxes_from_py(i, d)?,
        keypoints: keypoints_from_py(i, d)?,
    })
}

/// One dataset item's targets dict (masks as PNG paths), for the Loader.
pub fn item_targets_from_py(i: usize, d: &Bound<'_, PyDict>) -> PyResult<ga::ItemTargets> {
    check_keys(i, d)?;
    let masks = match get(d, "masks")? {
        None => Vec::new(),
        Some(m) => m
            .extract::<Vec<PathBuf>>()
            .map_err(|_| bad(i, "masks", "expected a list of label-map file paths"))?,
    };
    Ok(ga::ItemTargets {
        masks,
        boxes: boxes_from_py(i, d)?,
        keypoints: keypoints_from_py(i, d)?,
    })
}

/// Every image's (or item's) targets dict read with `read`, and the
/// options: `options` (JSON) when given, else the pipeline's `[targets]`.
pub fn read_all<T>(
    targets: Option<Vec<Bound<'_, PyDict>>>,
    options: Option<&str>,
    pipeline_options: &ga::TargetOptions,
    read: impl Fn(usize, &Bound<'_, PyDict>) -> PyResult<T>,
) -> PyResult<(Option<Vec<T>>, ga::TargetOptions)> {
    let targets = targets
        .map(|t| t.iter().enumerate().map(|(i, d)| read(i, d)).collect())
        .transpose()?;
    let options = match options {
        Some(j) => options_from_json(j)?,
        None => pipeline_options.clone(),
    };
    Ok((targets, options))
}

/// Target options from their JSON form (the keys of a pipeline's `[targets]` table).
pub fn options_from_json(text: &str) -> PyResult<ga::TargetOptions> {
    let o: ga::TargetOptions = serde_json::from_str(text).map_err(|e| {
        PyValueError::new_err(format!(
            "target_options: {e} (keys: {})",
            ga::TargetOptions::KEYS.join(", ")
        ))
    })?;
    o.check().map_err(crate::to_py_err)?;
    Ok(o)
}

fn mask_to_py(py: Python<'_>, m: ga::Mask) -> PyResult<Py<PyAny>> {
    let shape = (m.height as usize, m.width as usize);
    let err = |e: numpy::ndarray::ShapeError| PyValueError::new_err(e.to_string());
    Ok(match m.data {
        ga::MaskData::U8(v) => {
            PyArray2::from_owned_array(py, Array2::from_shape_vec(shape, v).map_err(err)?)
                .into_any()
                .unbind()
        }
        ga::MaskData::U16(v) => {
            PyArray2::from_owned_array(py, Array2::from_shape_vec(shape, v).map_err(err)?)
                .into_any()
                .unbind()
        }
    })
}

fn rows_to_py<const K: usize>(py: Python<'_>, rows: &[[f64; K]]) -> PyResult<Py<PyAny>> {
    let flat: Vec<f64> = rows.iter().flatten().copied().collect();
    let a = Array2::from_shape_vec((rows.len(), K), flat)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(PyArray2::from_owned_array(py, a).into_any().unbind())
}

/// One output sample's targets as a dict: `masks` (list of H x W arrays of
/// the input's dtype), `boxes` (N x 4 float64, the input's format) with
/// `box_labels` (int64) and `box_origin` (N x 2: output sample, input box),
/// `keypoints` (K x 3 float64), `forward_error`, `weight`.
pub fn sample_targets_to_py(py: Python<'_>, t: ga::SampleTargets) -> PyResult<Py<PyAny>> {
    let d = PyDict::new(py);
    let masks = t
        .masks
        .into_iter()
        .map(|m| mask_to_py(py, m))
        .collect::<PyResult<Vec<_>>>()?;
    d.set_item("masks", masks)?;
    match t.boxes {
        Some(b) => {
            d.set_item("boxes", rows_to_py(py, &b.coords)?)?;
            let labels: Vec<i64> = b.labels.iter().map(|&l| i64::from(l)).collect();
            d.set_item(
                "box_labels",
                PyArray1::from_owned_array(py, Array1::from_vec(labels)),
            )?;
            let origin: Vec<i64> = t
                .box_origin
                .iter()
                .flat_map(|o| [o.sample as i64, o.index as i64])
                .collect();
            let origin = Array2::from_shape_vec((t.box_origin.len(), 2), origin)
                .map_err(|e| PyValueError::new_err(e.to_string()))?;
            d.set_item("box_origin", PyArray2::from_owned_array(py, origin))?;
            let fmt = match b.format {
                ga::BoxFormat::Xyxy => "xyxy",
                ga::BoxFormat::Xywh => "xywh",
                ga::BoxFormat::Cxcywh => "cxcywh",
            };
            d.set_item("box_format", fmt)?;
            d.set_item("normalized", b.normalized)?;
        }
        None => d.set_item("boxes", py.None())?,
    }
    match t.keypoints {
        Some(k) => d.set_item("keypoints", rows_to_py(py, &k.points)?)?,
        None => d.set_item("keypoints", py.None())?,
    }
    d.set_item("forward_error", t.forward_error)?;
    d.set_item("weight", t.weight)?;
    Ok(d.into_any().unbind())
}
