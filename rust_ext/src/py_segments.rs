//! PyO3 bindings of the segments concern (`exact`): content hashes and line / paragraph segments over Arrow
//! string arrays (`curate/kernel/segments.py` is the facade).

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyCapsule};

use crate::binding::{to_bytearray, u64_bytes, with_strings, StringsOut};
use crate::error::KernelError;
use crate::exact::{self, Level, Segment, Unit};

/// xxh3-128 of every row under `level` (`none`, `basic`, `aggressive`): `(hi, lo)` uint64 bytearrays.
/// Null rows hash as empty strings (the facade masks them).
#[pyfunction]
#[pyo3(signature = (schema, array, level, row_base=0))]
pub fn content_hashes<'py>(
    py: Python<'py>,
    schema: &Bound<'py, PyCapsule>,
    array: &Bound<'py, PyCapsule>,
    level: &str,
    row_base: usize,
) -> PyResult<(Bound<'py, PyByteArray>, Bound<'py, PyByteArray>)> {
    let level = Level::parse(level)?;
    let (hi, lo) = with_strings(py, schema, array, |column| {
        let n = column.len();
        let (mut hi, mut lo) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut scratch, mut line) = (Vec::new(), String::new());
        for row in 0..n {
            let text = column.text(row, row_base)?.unwrap_or("");
            let hash = exact::content_hash(text, level, &mut scratch, &mut line);
            hi.push((hash >> 64) as u64);
            lo.push(hash as u64);
        }
        Ok((hi, lo))
    })?;
    Ok((u64_bytes(py, &hi)?, u64_bytes(py, &lo)?))
}

/// Every non-blank line (or paragraph) of every row: `(rows, hashes)` as uint32 / uint64 bytearrays,
/// in row order then text order.
#[pyfunction]
#[pyo3(signature = (schema, array, unit, row_base=0))]
pub fn segment_hashes<'py>(
    py: Python<'py>,
    schema: &Bound<'py, PyCapsule>,
    array: &Bound<'py, PyCapsule>,
    unit: &str,
    row_base: usize,
) -> PyResult<(Bound<'py, PyByteArray>, Bound<'py, PyByteArray>)> {
    let unit = Unit::parse(unit)?;
    let (rows, hashes) = with_strings(py, schema, array, |column| {
        let (mut rows, mut hashes) = (Vec::new(), Vec::new());
        let (mut key, mut segments) = (String::new(), Vec::<Segment>::new());
        for row in 0..column.len() {
            if let Some(text) = column.text(row, row_base)? {
                exact::segments(text, unit, &mut key, &mut segments);
                let row_id = u32::try_from(row)
                    .map_err(|_| KernelError::value("a batch may hold at most 2^32 rows"))?;
                rows.extend(std::iter::repeat_n(row_id, segments.len()));
                hashes.extend(segments.iter().map(|s| s.hash));
            }
        }
        Ok((rows, hashes))
    })?;
    Ok((
        to_bytearray(py, &rows, u32::to_ne_bytes)?,
        u64_bytes(py, &hashes)?,
    ))
}

type Removed<'py> = (
    Bound<'py, PyByteArray>,
    Bound<'py, PyByteArray>,
    Option<Bound<'py, PyByteArray>>,
    Bound<'py, PyByteArray>,
    Bound<'py, PyByteArray>,
    Bound<'py, PyByteArray>,
);

/// Remove the segments flagged in `drop` (one byte per segment, in `segment_hashes` order).
///
/// Returns `(offsets, data, validity, removed, chars, words_left)`: a large_string array's int64 offsets,
/// UTF-8 data and validity (None without nulls), then per row uint32 segments removed, uint64 characters
/// removed and uint64 words left.
#[pyfunction]
#[pyo3(signature = (schema, array, unit, drop, row_base=0))]
pub fn remove_segments<'py>(
    py: Python<'py>,
    schema: &Bound<'py, PyCapsule>,
    array: &Bound<'py, PyCapsule>,
    unit: &str,
    drop: &[u8],
    row_base: usize,
) -> PyResult<Removed<'py>> {
    let unit = Unit::parse(unit)?;
    let (texts, removed, chars, words) = with_strings(py, schema, array, |column| {
        let n = column.len();
        let mut texts = StringsOut::new(n, 0);
        let (mut removed, mut chars, mut words) = (vec![0u32; n], vec![0u64; n], vec![0u64; n]);
        let (mut key, mut segments, mut units) =
            (String::new(), Vec::<Segment>::new(), Vec::<Segment>::new());
        let (mut flags, mut drops) = (Vec::new(), Vec::new());
        let mut cursor = 0usize;
        for row in 0..n {
            match column.text(row, row_base)? {
                Some(text) => {
                    exact::segments(text, unit, &mut key, &mut segments);
                    let end = cursor + segments.len();
                    let slice = drop.get(cursor..end).ok_or_else(|| {
                        KernelError::value("drop flags are fewer than the texts' segments")
                    })?;
                    flags.clear();
                    flags.extend(slice.iter().map(|&b| b != 0));
                    cursor = end;
                    // Flags are per counted segment; removal may be by finer units (sentences).
                    exact::removal_units(text, unit, &flags, &mut key, &mut units, &mut drops);
                    let outcome = exact::remove_segments(text, &units, &drops, &mut texts.data);
                    removed[row] = outcome.segments_removed;
                    chars[row] = outcome.chars_removed;
                    words[row] = outcome.words_left;
                }
                None => texts.set_null(row),
            }
            texts.end_row()?;
        }
        if cursor != drop.len() {
            return Err(KernelError::value(
                "drop flags are more than the texts' segments",
            ));
        }
        Ok((texts, removed, chars, words))
    })?;
    let (offsets, data, validity) = texts.into_py(py)?;
    Ok((
        offsets,
        data,
        validity,
        to_bytearray(py, &removed, u32::to_ne_bytes)?,
        u64_bytes(py, &chars)?,
        u64_bytes(py, &words)?,
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(content_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(segment_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(remove_segments, m)?)?;
    Ok(())
}
