//! `curate._native`: the text kernel of curate (normalisation, shingling, MinHash, LSH band hashes,
//! candidate verification). Private: the typed facade `curate.kernel` is the only caller.
//!
//! Arrays arrive zero-copy through the Arrow C data interface (PyCapsules); all heavy work runs with the GIL
//! released; results leave as `bytearray`s that the facade wraps with `numpy.frombuffer` (writeable, owned).

mod arrow;
mod ascii;
mod cluster;
mod cpu;
mod error;
mod exact;
mod hamming;
mod line_rules;
mod minhash;
mod normalize;
mod py_exact;
mod shingle;
mod short_hash;
mod survivors;
mod text_stats;
mod unicode_tables;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyCapsule};

use crate::error::KernelError;
use crate::minhash::{MinHasher, Permutations};
use crate::shingle::{Kind, Shingler};

impl From<KernelError> for PyErr {
    fn from(error: KernelError) -> Self {
        match error {
            KernelError::Value(message) => PyValueError::new_err(message),
            KernelError::Type(message) => PyTypeError::new_err(message),
        }
    }
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

/// Plain numbers that any bit pattern is a valid value of.
trait Plain: Copy + Default + Send {}
impl Plain for u32 {}
impl Plain for u64 {}

/// A result array that is filled in place, with the GIL released: a view of a new `bytearray` as `[T]`,
/// or (if its memory were not aligned for `T`) a vector copied into it by `finish`.
struct OutBuf<'a, T> {
    bytes: &'a mut [u8],
    owned: Option<Vec<T>>,
}

impl<'a, T: Plain> OutBuf<'a, T> {
    /// # Safety
    /// `array` must be a new bytearray that no other code can reach until `finish` returns.
    unsafe fn new(array: &'a Bound<'_, PyByteArray>, count: usize) -> Self {
        // SAFETY: see the function's contract; the caller keeps `array` alive and never resizes it.
        let bytes = unsafe { array.as_bytes_mut() };
        // SAFETY: `T` is `Plain`, so every bit pattern of the bytes is a valid `T`.
        let aligned = unsafe { bytes.align_to_mut::<T>() }.0.is_empty();
        let owned = (!aligned).then(|| vec![T::default(); count]);
        Self { bytes, owned }
    }

    fn values(&mut self) -> &mut [T] {
        match &mut self.owned {
            Some(values) => values,
            // SAFETY: as in `new`; the alignment was checked there.
            None => unsafe { self.bytes.align_to_mut::<T>() }.1,
        }
    }

    fn finish(self) {
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
fn zeroed<T>(py: Python<'_>, count: usize) -> PyResult<Bound<'_, PyByteArray>> {
    let len = count
        .checked_mul(std::mem::size_of::<T>())
        .ok_or_else(|| KernelError::value("result too large"))?;
    PyByteArray::new_with(py, len, |_| Ok(()))
}

/// The normalised form of `text` (NFKC, casefold, punctuation to space, whitespace collapsed and trimmed).
#[pyfunction]
fn normalize_text(py: Python<'_>, text: &str) -> String {
    py.detach(|| normalize::normalize(text))
}

/// Normalise every row of a string / large_string array.
///
/// Returns `(offsets, data, validity)`: int64 offsets and UTF-8 data of a large_string array, and a validity
/// bitmap (`None` when there are no nulls).
#[pyfunction]
#[pyo3(signature = (schema, array, row_base=0))]
#[allow(clippy::type_complexity)]
fn normalize_array<'py>(
    py: Python<'py>,
    schema: &Bound<'py, PyCapsule>,
    array: &Bound<'py, PyCapsule>,
    row_base: usize,
) -> PyResult<(
    Bound<'py, PyByteArray>,
    Bound<'py, PyByteArray>,
    Option<Bound<'py, PyByteArray>>,
)> {
    let column = arrow::import_strings(schema, array)?;
    let (offsets, data, validity) = py.detach(|| -> Result<_, KernelError> {
        let n = column.len();
        let mut offsets: Vec<i64> = Vec::with_capacity(n + 1);
        // Normalised text is rarely longer than its input: one allocation instead of repeated growth.
        let mut data: Vec<u8> = Vec::with_capacity(column.data_len());
        let mut validity: Option<Vec<u8>> = None;
        offsets.push(0);
        for row in 0..n {
            match column.text(row, row_base)? {
                Some(text) => normalize::normalize_to(text, &mut data),
                None => {
                    let bits = validity.get_or_insert_with(|| vec![0xff; n.div_ceil(8)]);
                    if let Some(byte) = bits.get_mut(row / 8) {
                        *byte &= !(1u8 << (row % 8));
                    }
                }
            }
            offsets.push(data.len() as i64);
        }
        Ok((offsets, data, validity))
    })?;
    let offsets = to_bytearray(py, &offsets, i64::to_ne_bytes)?;
    let data = PyByteArray::new(py, &data);
    let validity = validity.map(|bits| PyByteArray::new(py, &bits));
    Ok((offsets, data, validity))
}

/// The shingle hashes of `text` in order of occurrence (duplicates kept).
#[pyfunction]
fn shingle_hashes(py: Python<'_>, text: &str, kind: &str, ngram: usize) -> PyResult<Vec<u64>> {
    let mut shingler = Shingler::new(Kind::parse(kind)?, ngram)?;
    Ok(py.detach(|| {
        let mut out = Vec::new();
        shingler.shingle(text, &mut out);
        out
    }))
}

/// The permutation parameters `(a, b)` as native-endian uint64 bytes.
#[pyfunction]
fn permutations<'py>(
    py: Python<'py>,
    num_perm: usize,
    seed: u64,
) -> PyResult<(Bound<'py, PyByteArray>, Bound<'py, PyByteArray>)> {
    let perms = Permutations::new(num_perm, seed)?;
    Ok((u64_bytes(py, &perms.a)?, u64_bytes(py, &perms.b)?))
}

/// MinHash signatures, band hashes and shingle counts of every row of a string array.
///
/// Returns three bytearrays: uint32 `(n, num_perm)`, uint64 `(n, bands)`, uint32 `(n,)`.
#[pyfunction]
#[pyo3(signature = (schema, array, kind, ngram, num_perm, seed, bands, rows, row_base=0))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn minhash_batch<'py>(
    py: Python<'py>,
    schema: &Bound<'py, PyCapsule>,
    array: &Bound<'py, PyCapsule>,
    kind: &str,
    ngram: usize,
    num_perm: usize,
    seed: u64,
    bands: usize,
    rows: usize,
    row_base: usize,
) -> PyResult<(
    Bound<'py, PyByteArray>,
    Bound<'py, PyByteArray>,
    Bound<'py, PyByteArray>,
)> {
    minhash::check_params(num_perm, bands, rows)?;
    let mut shingler = Shingler::new(Kind::parse(kind)?, ngram)?;
    let perms = Permutations::new(num_perm, seed)?;
    let column = arrow::import_strings(schema, array)?;
    let n = column.len();
    let size = |per_row: usize| {
        n.checked_mul(per_row)
            .ok_or_else(|| KernelError::value("result too large"))
    };
    let (sig_array, band_array, count_array) = (
        zeroed::<u32>(py, size(num_perm)?)?,
        zeroed::<u64>(py, size(bands)?)?,
        zeroed::<u32>(py, n)?,
    );
    // SAFETY: the three bytearrays were just created and are not reachable from Python until returned.
    let (mut signatures, mut band_hashes, mut counts) = unsafe {
        (
            OutBuf::<u32>::new(&sig_array, n * num_perm),
            OutBuf::<u64>::new(&band_array, n * bands),
            OutBuf::<u32>::new(&count_array, n),
        )
    };
    py.detach(|| -> Result<(), KernelError> {
        let mut hasher = MinHasher::new(&perms);
        let rows_out = signatures
            .values()
            .chunks_exact_mut(num_perm)
            .zip(band_hashes.values().chunks_exact_mut(bands))
            .zip(counts.values().iter_mut())
            .enumerate();
        for (row, ((signature, band_row), count)) in rows_out {
            hasher.reset();
            if let Some(text) = column.text(row, row_base)? {
                shingler.shingle(text, &mut hasher);
            }
            hasher.finish(signature, band_row, rows);
            *count = hasher.count();
        }
        Ok(())
    })?;
    signatures.finish();
    band_hashes.finish();
    counts.finish();
    Ok((sig_array, band_array, count_array))
}

/// Exact Jaccard similarity of the shingle sets of two texts (0.0 if either has no shingle).
#[pyfunction]
fn exact_jaccard(py: Python<'_>, a: &str, b: &str, kind: &str, ngram: usize) -> PyResult<f64> {
    let mut shingler = Shingler::new(Kind::parse(kind)?, ngram)?;
    Ok(py.detach(|| {
        let (mut set_a, mut set_b) = (Vec::new(), Vec::new());
        shingler.shingle_set(a, &mut set_a);
        shingler.shingle_set(b, &mut set_b);
        cluster::jaccard_sorted(&set_a, &set_b)
    }))
}

/// Greedy leader clustering within groups of rows; returns `(leader row, similarity)` as bytearrays of
/// int64 and float64.
#[pyfunction]
#[pyo3(signature = (schema, array, offsets_schema, offsets_array, threshold, kind, ngram, max_leaders))]
#[allow(clippy::too_many_arguments)]
fn leader_clusters<'py>(
    py: Python<'py>,
    schema: &Bound<'py, PyCapsule>,
    array: &Bound<'py, PyCapsule>,
    offsets_schema: &Bound<'py, PyCapsule>,
    offsets_array: &Bound<'py, PyCapsule>,
    threshold: f64,
    kind: &str,
    ngram: usize,
    max_leaders: usize,
) -> PyResult<(Bound<'py, PyByteArray>, Bound<'py, PyByteArray>)> {
    let mut shingler = Shingler::new(Kind::parse(kind)?, ngram)?;
    let column = arrow::import_strings(schema, array)?;
    let offsets = arrow::import_i64(offsets_schema, offsets_array)?;
    let (leaders, similarity) = py.detach(|| {
        cluster::leader_clusters(
            &column,
            offsets.values,
            threshold,
            &mut shingler,
            max_leaders,
        )
    })?;
    Ok((
        to_bytearray(py, &leaders, i64::to_ne_bytes)?,
        to_bytearray(py, &similarity, f64::to_ne_bytes)?,
    ))
}

/// Survivors that cover each group of rows (greedy cover of the verified similarity graph); returns
/// `(survivor row, similarity)` as bytearrays of int64 and float64.
#[pyfunction]
#[pyo3(signature = (schema, array, offsets_schema, offsets_array, threshold, kind, ngram, num_perm, seed, bands, rows, exact_pairs_max))]
#[allow(clippy::too_many_arguments)]
fn cover_survivors<'py>(
    py: Python<'py>,
    schema: &Bound<'py, PyCapsule>,
    array: &Bound<'py, PyCapsule>,
    offsets_schema: &Bound<'py, PyCapsule>,
    offsets_array: &Bound<'py, PyCapsule>,
    threshold: f64,
    kind: &str,
    ngram: usize,
    num_perm: usize,
    seed: u64,
    bands: usize,
    rows: usize,
    exact_pairs_max: usize,
) -> PyResult<(Bound<'py, PyByteArray>, Bound<'py, PyByteArray>)> {
    minhash::check_params(num_perm, bands, rows)?;
    let mut shingler = Shingler::new(Kind::parse(kind)?, ngram)?;
    let perms = Permutations::new(num_perm, seed)?;
    let column = arrow::import_strings(schema, array)?;
    let offsets = arrow::import_i64(offsets_schema, offsets_array)?;
    let banding = survivors::Banding {
        perms: &perms,
        bands,
        rows,
    };
    let (survivor, similarity) = py.detach(|| {
        survivors::cover_survivors(
            &column,
            offsets.values,
            threshold,
            &mut shingler,
            &banding,
            exact_pairs_max,
        )
    })?;
    Ok((
        to_bytearray(py, &survivor, i64::to_ne_bytes)?,
        to_bytearray(py, &similarity, f64::to_ne_bytes)?,
    ))
}

/// Connected components of the edges `a[i] - b[i]` (two uint64 Arrow arrays): `(nodes, roots)` as uint64
/// bytearrays, nodes sorted ascending, root = smallest node of the component.
#[pyfunction]
fn connected_components<'py>(
    py: Python<'py>,
    a_schema: &Bound<'py, PyCapsule>,
    a_array: &Bound<'py, PyCapsule>,
    b_schema: &Bound<'py, PyCapsule>,
    b_array: &Bound<'py, PyCapsule>,
) -> PyResult<(Bound<'py, PyByteArray>, Bound<'py, PyByteArray>)> {
    let a = arrow::import_u64(a_schema, a_array)?;
    let b = arrow::import_u64(b_schema, b_array)?;
    let (nodes, roots) = py.detach(|| cluster::connected_components(a.values, b.values))?;
    Ok((u64_bytes(py, &nodes)?, u64_bytes(py, &roots)?))
}

/// The MinHash kernel in use: `"avx2"` or `"portable"`.
#[pyfunction]
fn simd_backend() -> &'static str {
    cpu::backend()
}

/// Force the portable MinHash kernel (tests compare it with the AVX2 one).
#[pyfunction]
fn _set_portable_only(portable: bool) {
    cpu::set_portable_only(portable);
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("UNICODE_VERSION", unicode_tables::UNICODE_VERSION)?;
    m.add("TOKEN_SPILL", shingle::TOKEN_SPILL)?;
    m.add("MAX_NGRAM", shingle::MAX_NGRAM)?;
    m.add("MAX_PERM", minhash::MAX_PERM)?;
    m.add_function(wrap_pyfunction!(normalize_text, m)?)?;
    m.add_function(wrap_pyfunction!(normalize_array, m)?)?;
    m.add_function(wrap_pyfunction!(shingle_hashes, m)?)?;
    m.add_function(wrap_pyfunction!(permutations, m)?)?;
    m.add_function(wrap_pyfunction!(minhash_batch, m)?)?;
    m.add_function(wrap_pyfunction!(exact_jaccard, m)?)?;
    m.add_function(wrap_pyfunction!(leader_clusters, m)?)?;
    m.add_function(wrap_pyfunction!(cover_survivors, m)?)?;
    m.add_function(wrap_pyfunction!(connected_components, m)?)?;
    m.add_function(wrap_pyfunction!(simd_backend, m)?)?;
    m.add_function(wrap_pyfunction!(_set_portable_only, m)?)?;
    py_exact::register(m)?;
    hamming::register(m)?;
    line_rules::register(m)?;
    text_stats::register(m)?;
    Ok(())
}
