//! PyO3 bindings of the C4 and FineWeb line rules (`line_rules`; `curate/kernel/lines.py` is the facade).

use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyCapsule};

use crate::binding::{u64_bytes, with_strings, StringBuffers, StringsOut};
use crate::line_rules::{
    c4_row, char_set, fineweb_row, C4Config, C4Scratch, StopChars, C4_COLUMNS, FINEWEB_COLUMNS,
    PUNCT_OR_SYMBOL, SENTENCE_TERMINAL,
};

/// C4 counts of every row of a string array: a uint64 bytearray `(n, 9)` in the order of `C4_COLUMNS`
/// (zeros for null rows); with `rewrite`, also the kept text of every row as `(offsets, data, validity)` of a
/// large_string array (int64 offsets, UTF-8 data, validity bitmap or None; null rows stay null).
#[pyfunction]
#[pyo3(signature = (
    schema, array, *, terminal, filter_no_terminal_punct, remove_citations, max_word_length,
    min_words_per_line, filter_lorem_ipsum, filter_javascript, filter_curly_bracket, filter_policy, rewrite,
    row_base=0
))]
#[allow(clippy::too_many_arguments)]
pub fn c4_lines<'py>(
    py: Python<'py>,
    schema: &Bound<'py, PyCapsule>,
    array: &Bound<'py, PyCapsule>,
    terminal: &str,
    filter_no_terminal_punct: bool,
    remove_citations: bool,
    max_word_length: Option<usize>,
    min_words_per_line: usize,
    filter_lorem_ipsum: bool,
    filter_javascript: bool,
    filter_curly_bracket: bool,
    filter_policy: bool,
    rewrite: bool,
    row_base: usize,
) -> PyResult<(Bound<'py, PyByteArray>, Option<StringBuffers<'py>>)> {
    let config = C4Config {
        terminal: if filter_no_terminal_punct {
            char_set("terminal", terminal)?
        } else {
            Vec::new()
        },
        filter_no_terminal_punct,
        remove_citations,
        max_word_length,
        min_words_per_line,
        filter_lorem_ipsum,
        filter_javascript,
        filter_curly_bracket,
        filter_policy,
    };
    let (counts, texts) = with_strings(py, schema, array, |column| {
        let n = column.len();
        let mut counts: Vec<u64> = Vec::with_capacity(n * C4_COLUMNS.len());
        let mut scratch = C4Scratch::default();
        let mut texts = rewrite.then(|| StringsOut::new(n, 0));
        for row in 0..n {
            match column.text(row, row_base)? {
                Some(text) => {
                    let out = texts.as_mut().map(|texts| &mut texts.data);
                    counts.extend_from_slice(&c4_row(text, &config, &mut scratch, out));
                }
                None => {
                    counts.extend_from_slice(&[0; 9]);
                    if let Some(texts) = texts.as_mut() {
                        texts.set_null(row);
                    }
                }
            }
            if let Some(texts) = texts.as_mut() {
                texts.end_row()?;
            }
        }
        Ok((counts, texts))
    })?;
    let texts = match texts {
        Some(texts) => Some(texts.into_py(py)?),
        None => None,
    };
    Ok((u64_bytes(py, &counts)?, texts))
}

/// FineWeb counts of every row of a string array: a uint64 bytearray `(n, 7)` in the order of
/// `FINEWEB_COLUMNS` (zeros for null rows). `stop_chars` None means every sentence terminal.
#[pyfunction]
#[pyo3(signature = (schema, array, *, stop_chars, short_line_length, row_base=0))]
pub fn fineweb_lines<'py>(
    py: Python<'py>,
    schema: &Bound<'py, PyCapsule>,
    array: &Bound<'py, PyCapsule>,
    stop_chars: Option<&str>,
    short_line_length: usize,
    row_base: usize,
) -> PyResult<Bound<'py, PyByteArray>> {
    let stops = match stop_chars {
        None => StopChars::Unicode,
        Some(chars) => StopChars::Set(char_set("stop_chars", chars)?),
    };
    let counts = with_strings(py, schema, array, |column| {
        let n = column.len();
        let mut counts = Vec::with_capacity(n * FINEWEB_COLUMNS.len());
        for row in 0..n {
            match column.text(row, row_base)? {
                Some(text) => {
                    counts.extend_from_slice(&fineweb_row(text, &stops, short_line_length))
                }
                None => counts.extend_from_slice(&[0; 7]),
            }
        }
        Ok(counts)
    })?;
    u64_bytes(py, &counts)
}

/// The character tables, for the tests: `(sentence terminals, punctuation-or-symbol ranges)`.
#[pyfunction]
fn line_rule_tables() -> (String, Vec<(u32, u32)>) {
    let terminals = SENTENCE_TERMINAL
        .iter()
        .flat_map(|&(low, high)| (low..=high).filter_map(char::from_u32))
        .collect();
    (terminals, PUNCT_OR_SYMBOL.to_vec())
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("C4_COLUMNS", C4_COLUMNS.to_vec())?;
    m.add("FINEWEB_COLUMNS", FINEWEB_COLUMNS.to_vec())?;
    m.add_function(wrap_pyfunction!(c4_lines, m)?)?;
    m.add_function(wrap_pyfunction!(fineweb_lines, m)?)?;
    m.add_function(wrap_pyfunction!(line_rule_tables, m)?)?;
    Ok(())
}
