//! PyO3 bindings of the text concern: normalisation, shingling, exact Jaccard, MinHash and LSH band hashes
//! (`curate/kernel/text.py` is the facade).

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyCapsule};

use crate::binding::{u64_bytes, with_strings, zeroed, OutBuf, StringBuffers, StringsOut};
use crate::error::KernelError;
use crate::minhash::{self, MinHasher, Permutations};
use crate::shingle::{self, Kind, Shingler};
use crate::{arrow, cluster, cpu, normalize, unicode_tables};

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
fn normalize_array<'py>(
    py: Python<'py>,
    schema: &Bound<'py, PyCapsule>,
    array: &Bound<'py, PyCapsule>,
    row_base: usize,
) -> PyResult<StringBuffers<'py>> {
    let out = with_strings(py, schema, array, |column| {
        // Normalised text is rarely longer than its input: one allocation instead of repeated growth.
        let mut out = StringsOut::new(column.len(), column.data_len());
        for row in 0..column.len() {
            match column.text(row, row_base)? {
                Some(text) => normalize::normalize_to(text, &mut out.data),
                None => out.set_null(row),
            }
            out.end_row()?;
        }
        Ok(out)
    })?;
    out.into_py(py)
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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
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
    m.add_function(wrap_pyfunction!(simd_backend, m)?)?;
    m.add_function(wrap_pyfunction!(_set_portable_only, m)?)?;
    Ok(())
}
