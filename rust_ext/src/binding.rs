//! The one binding helper of the `#[pyfunction]`s (`py_*.rs`): Arrow intake with the GIL released, the
//! conversion of `KernelError` to Python exceptions, and the result buffers handed back as `bytearray`s.
//! The kernel modules themselves stay free of PyO3.

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyCapsule};

use crate::arrow::{self, StrColumn};
use crate::error::{KernelError, KernelResult};

impl From<KernelError> for PyErr {
    fn from(error: KernelError) -> Self {
        match error {
            KernelError::Value(message) => PyValueError::new_err(message),
            KernelError::Type(message) => PyTypeError::new_err(message),
        }
    }
}

/// Import the string array of a `(schema, array)` capsule pair and run `work` on it with the GIL released.
pub(crate) fn with_strings<R: Send>(
    py: Python<'_>,
    schema: &Bound<'_, PyCapsule>,
    array: &Bound<'_, PyCapsule>,
    work: impl FnOnce(&StrColumn<'_>) -> KernelResult<R> + Send,
) -> PyResult<R> {
    let column = arrow::import_strings(schema, array)?;
    Ok(py.detach(|| work(&column))?)
}

/// Copy plain numbers into a new `bytearray` (native byte order, as numpy reads it).
pub(crate) fn to_bytearray<'py, T: Copy, const W: usize>(
    py: Python<'py>,
    values: &[T],
    to_bytes: fn(T) -> [u8; W],
) -> PyResult<Bound<'py, PyByteArray>> {
    PyByteArray::new_with(py, values.len() * W, |buf| {
        for (dst, &value) in buf.chunks_exact_mut(W).zip(values) {
            dst.copy_from_slice(&to_bytes(value));
        }
        Ok(())
    })
}

pub(crate) fn u64_bytes<'py>(py: Python<'py>, values: &[u64]) -> PyResult<Bound<'py, PyByteArray>> {
    to_bytearray(py, values, u64::to_ne_bytes)
}

/// `(offsets, data, validity)` of a large_string result: int64 offsets, UTF-8 data, validity bitmap (None
/// when there are no nulls).
pub(crate) type StringBuffers<'py> = (
    Bound<'py, PyByteArray>,
    Bound<'py, PyByteArray>,
    Option<Bound<'py, PyByteArray>>,
);

/// A large_string result built row by row (with the GIL released), then handed to Python by `into_py`.
pub(crate) struct StringsOut {
    rows: usize,
    offsets: Vec<i64>,
    /// The UTF-8 bytes of the rows so far; a row's text is appended here before `end_row`.
    pub data: Vec<u8>,
    validity: Option<Vec<u8>>,
}

impl StringsOut {
    pub fn new(rows: usize, data_capacity: usize) -> Self {
        let mut offsets = Vec::with_capacity(rows + 1);
        offsets.push(0);
        Self {
            rows,
            offsets,
            data: Vec::with_capacity(data_capacity),
            validity: None,
        }
    }

    /// Close the current row at the end of `data`.
    pub fn end_row(&mut self) -> KernelResult<()> {
        let end = i64::try_from(self.data.len())
            .map_err(|_| KernelError::value("result texts too large"))?;
        self.offsets.push(end);
        Ok(())
    }

    /// Mark `row` null (its text, nothing appended, still needs `end_row`).
    pub fn set_null(&mut self, row: usize) {
        let bits = self
            .validity
            .get_or_insert_with(|| vec![0xff; self.rows.div_ceil(8)]);
        if let Some(byte) = bits.get_mut(row / 8) {
            *byte &= !(1u8 << (row % 8));
        }
    }

    pub fn into_py(self, py: Python<'_>) -> PyResult<StringBuffers<'_>> {
        Ok((
            to_bytearray(py, &self.offsets, i64::to_ne_bytes)?,
            PyByteArray::new(py, &self.data),
            self.validity.map(|bits| PyByteArray::new(py, &bits)),
        ))
    }
}

/// Plain numbers that any bit pattern is a valid value of.
pub(crate) trait Plain: Copy + Default + Send {}
impl Plain for u32 {}
impl Plain for u64 {}

/// A result array that is filled in place, with the GIL released: a view of a new `bytearray` as `[T]`,
/// or (if its memory were not aligned for `T`) a vector copied into it by `finish`.
pub(crate) struct OutBuf<'a, T> {
    bytes: &'a mut [u8],
    owned: Option<Vec<T>>,
}

impl<'a, T: Plain> OutBuf<'a, T> {
    /// # Safety
    /// `array` must be a new bytearray that no other code can reach until `finish` returns.
    pub unsafe fn new(array: &'a Bound<'_, PyByteArray>, count: usize) -> Self {
        // SAFETY: see the function's contract; the caller keeps `array` alive and never resizes it.
        let bytes = unsafe { array.as_bytes_mut() };
        // SAFETY: `T` is `Plain`, so every bit pattern of the bytes is a valid `T`.
        let aligned = unsafe { bytes.align_to_mut::<T>() }.0.is_empty();
        let owned = (!aligned).then(|| vec![T::default(); count]);
        Self { bytes, owned }
    }

    pub fn values(&mut self) -> &mut [T] {
        match &mut self.owned {
            Some(values) => values,
            // SAFETY: as in `new`; the alignment was checked there.
            None => unsafe { self.bytes.align_to_mut::<T>() }.1,
        }
    }

    pub fn finish(self) {
        if let Some(values) = self.owned {
            let size = std::mem::size_of::<T>();
            for (dst, value) in self.bytes.chunks_exact_mut(size).zip(&values) {
                // SAFETY: `value` is a `T` of `size` bytes and `dst` holds exactly `size` bytes.
                let src =
                    unsafe { std::slice::from_raw_parts((value as *const T).cast::<u8>(), size) };
                dst.copy_from_slice(src);
            }
        }
    }
}

/// A new zero-filled bytearray of `count` values of `T`.
pub(crate) fn zeroed<T>(py: Python<'_>, count: usize) -> PyResult<Bound<'_, PyByteArray>> {
    let len = count
        .checked_mul(std::mem::size_of::<T>())
        .ok_or_else(|| KernelError::value("result too large"))?;
    PyByteArray::new_with(py, len, |_| Ok(()))
}
