//! `curate._native`: the text kernel of curate (normalisation, shingling, MinHash, LSH band hashes,
//! candidate verification, exact-dedup hashes, quality statistics, line rules). Private: the typed facade
//! `curate.kernel` is the only caller.
//!
//! Arrays arrive zero-copy through the Arrow C data interface (PyCapsules); all heavy work runs with the GIL
//! released; results leave as `bytearray`s that the facade wraps with `numpy.frombuffer` (writeable, owned).
//! The bindings sit beside their concern, one `py_*.rs` per facade module of `curate/kernel/`, and share
//! `binding.rs`; the other modules are plain Rust.

mod arrow;
mod ascii;
mod binding;
mod cluster;
mod cpu;
mod error;
mod exact;
mod fasttext_matrix;
mod fasttext_model;
mod fasttext_tokens;
mod hamming;
mod line_rules;
mod minhash;
mod normalize;
mod py_classify;
mod py_graph;
mod py_lines;
mod py_quality;
mod py_segments;
mod py_text;
mod shingle;
mod short_hash;
mod survivors;
mod text_stats;
mod unicode_tables;

use pyo3::prelude::*;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    py_text::register(m)?;
    py_graph::register(m)?;
    hamming::register(m)?;
    py_segments::register(m)?;
    py_lines::register(m)?;
    py_quality::register(m)?;
    py_classify::register(m)?;
    Ok(())
}
