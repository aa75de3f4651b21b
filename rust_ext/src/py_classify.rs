//! PyO3 binding of `fasttext_model` (`curate/classify/model.py` is the facade): a model object loaded once
//! per worker, whose `predict` runs over a string column with the GIL released.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyCapsule};

use crate::binding::{to_bytearray, with_strings};
use crate::fasttext_model::Model;

#[pyclass(frozen, module = "curate._native")]
pub struct FastTextModel {
    model: Model,
}

/// `(counts, labels, probabilities)`: uint32 per row, then uint32 label indexes and float32 probabilities.
type PredictBuffers<'py> = (
    Bound<'py, PyByteArray>,
    Bound<'py, PyByteArray>,
    Bound<'py, PyByteArray>,
);

#[pymethods]
impl FastTextModel {
    /// Load a supervised fastText model (`.bin` or quantized `.ftz`); `ValueError` if it cannot be read.
    #[new]
    fn new(py: Python<'_>, path: PathBuf) -> PyResult<Self> {
        let model = py.detach(|| Model::load(&path))?;
        Ok(Self { model })
    }

    /// The labels as the file spells them (`__label__en`), in dictionary order.
    #[getter]
    fn labels(&self) -> Vec<String> {
        self.model.labels().to_vec()
    }

    /// The top `k` predictions of every row of a string array, with the GIL released.
    #[pyo3(signature = (schema, array, k, max_chars, row_base=0))]
    fn predict<'py>(
        &self,
        py: Python<'py>,
        schema: &Bound<'py, PyCapsule>,
        array: &Bound<'py, PyCapsule>,
        k: usize,
        max_chars: usize,
        row_base: usize,
    ) -> PyResult<PredictBuffers<'py>> {
        let found = with_strings(py, schema, array, |column| {
            let rows = (0..column.len()).map(|row| column.text(row, row_base));
            self.model.predict(rows, k, max_chars)
        })?;
        Ok((
            to_bytearray(py, &found.counts, u32::to_ne_bytes)?,
            to_bytearray(py, &found.labels, u32::to_ne_bytes)?,
            to_bytearray(py, &found.probabilities, f32::to_ne_bytes)?,
        ))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<FastTextModel>()?;
    Ok(())
}
