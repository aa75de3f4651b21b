//! PyO3 bindings of the Gopher quality and repetition statistics (`text_stats`; `curate/kernel/quality.py`
//! is the facade).

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyCapsule};

use crate::binding::{u64_bytes, with_strings};
use crate::error::KernelError;
use crate::text_stats::{
    check_ngrams, quality_row, repetition_row, QualityConfig, RepetitionScratch, MAX_STAT_NGRAM,
    MAX_STOP_WORDS, QUALITY_COLUMNS, REPETITION_COLUMNS,
};

/// Quality counts of every row of a string array: a uint64 bytearray of `(n, 13)` in the order of
/// `QUALITY_COLUMNS` (zeros for null rows).
#[pyfunction]
#[pyo3(signature = (schema, array, stop_words, bullets, row_base=0))]
pub fn gopher_quality_stats<'py>(
    py: Python<'py>,
    schema: &Bound<'py, PyCapsule>,
    array: &Bound<'py, PyCapsule>,
    stop_words: Vec<String>,
    bullets: Vec<String>,
    row_base: usize,
) -> PyResult<Bound<'py, PyByteArray>> {
    let config = QualityConfig::new(stop_words, bullets)?;
    let values = with_strings(py, schema, array, |column| {
        let mut values = Vec::with_capacity(column.len() * QUALITY_COLUMNS.len());
        for row in 0..column.len() {
            let text = column.text(row, row_base)?.unwrap_or("");
            values.extend_from_slice(&quality_row(text, &config));
        }
        Ok(values)
    })?;
    u64_bytes(py, &values)
}

/// Repetition counts of every row of a string array: a uint64 bytearray of `(n, 10 + len(top) + len(dup))`,
/// the `REPETITION_COLUMNS` then the top n-gram characters of each `top` n, then the duplicate n-gram
/// characters of each `dup` n (zeros for null rows).
#[pyfunction]
#[pyo3(signature = (schema, array, top, dup, row_base=0))]
pub fn gopher_repetition_stats<'py>(
    py: Python<'py>,
    schema: &Bound<'py, PyCapsule>,
    array: &Bound<'py, PyCapsule>,
    top: Vec<usize>,
    dup: Vec<usize>,
    row_base: usize,
) -> PyResult<Bound<'py, PyByteArray>> {
    check_ngrams("top", &top)?;
    check_ngrams("duplicate", &dup)?;
    let values = with_strings(py, schema, array, |column| {
        let width = REPETITION_COLUMNS.len() + top.len() + dup.len();
        let mut values = Vec::with_capacity(column.len() * width);
        let mut scratch = RepetitionScratch::default();
        for row in 0..column.len() {
            let text = column.text(row, row_base)?.unwrap_or("");
            repetition_row(text, &top, &dup, &mut scratch, &mut values)
                .map_err(|e| KernelError::value(format!("row {}: {e}", row_base + row)))?;
        }
        Ok(values)
    })?;
    u64_bytes(py, &values)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("MAX_STAT_NGRAM", MAX_STAT_NGRAM)?;
    m.add("MAX_STOP_WORDS", MAX_STOP_WORDS)?;
    m.add("QUALITY_COLUMNS", QUALITY_COLUMNS.to_vec())?;
    m.add("REPETITION_COLUMNS", REPETITION_COLUMNS.to_vec())?;
    m.add_function(wrap_pyfunction!(gopher_quality_stats, m)?)?;
    m.add_function(wrap_pyfunction!(gopher_repetition_stats, m)?)?;
    Ok(())
}
