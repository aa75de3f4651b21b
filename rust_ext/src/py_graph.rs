//! PyO3 bindings of the graph concern: leader clusters, cover survivors and connected components
//! (`curate/kernel/graph.py` is the facade).

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyCapsule};

use crate::arrow::{self, StrColumn};
use crate::binding::{to_bytearray, u64_bytes};
use crate::error::KernelResult;
use crate::minhash::{self, Permutations};
use crate::shingle::{Kind, Shingler};
use crate::{cluster, survivors};

type RowsAndSimilarity<'py> = (Bound<'py, PyByteArray>, Bound<'py, PyByteArray>);

/// Import the texts and their int64 group offsets, run `work` with the GIL released, and return its
/// per-row `(row index, similarity)` as int64 and float64 bytearrays.
fn over_groups<'py>(
    py: Python<'py>,
    texts: (&Bound<'py, PyCapsule>, &Bound<'py, PyCapsule>),
    offsets: (&Bound<'py, PyCapsule>, &Bound<'py, PyCapsule>),
    work: impl FnOnce(&StrColumn<'_>, &[i64]) -> KernelResult<(Vec<i64>, Vec<f64>)> + Send,
) -> PyResult<RowsAndSimilarity<'py>> {
    let column = arrow::import_strings(texts.0, texts.1)?;
    let offsets = arrow::import_i64(offsets.0, offsets.1)?;
    let (rows, similarity) = py.detach(|| work(&column, offsets.values))?;
    Ok((
        to_bytearray(py, &rows, i64::to_ne_bytes)?,
        to_bytearray(py, &similarity, f64::to_ne_bytes)?,
    ))
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
) -> PyResult<RowsAndSimilarity<'py>> {
    let mut shingler = Shingler::new(Kind::parse(kind)?, ngram)?;
    over_groups(
        py,
        (schema, array),
        (offsets_schema, offsets_array),
        |column, offsets| {
            cluster::leader_clusters(column, offsets, threshold, &mut shingler, max_leaders)
        },
    )
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
) -> PyResult<RowsAndSimilarity<'py>> {
    minhash::check_params(num_perm, bands, rows)?;
    let mut shingler = Shingler::new(Kind::parse(kind)?, ngram)?;
    let perms = Permutations::new(num_perm, seed)?;
    let banding = survivors::Banding {
        perms: &perms,
        bands,
        rows,
    };
    over_groups(
        py,
        (schema, array),
        (offsets_schema, offsets_array),
        |column, offsets| {
            survivors::cover_survivors(
                column,
                offsets,
                threshold,
                &mut shingler,
                &banding,
                exact_pairs_max,
            )
        },
    )
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

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(leader_clusters, m)?)?;
    m.add_function(wrap_pyfunction!(cover_survivors, m)?)?;
    m.add_function(wrap_pyfunction!(connected_components, m)?)?;
    Ok(())
}
