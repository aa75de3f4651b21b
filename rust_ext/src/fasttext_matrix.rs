//! The two matrices of a fastText model file, read as dense `f32` rows: a dense matrix as stored, a
//! product-quantized one (`.ftz`) expanded row by row.
//!
//! Expanding a quantized row gives exactly the floats C++ fastText adds when it averages that row into the
//! hidden vector (`norm * centroid`, one product per value), so the hidden vector is the same. A quantized
//! *output* matrix (`-qout`) is dotted by C++ as `(sum of x * centroid) * norm` and here as
//! `sum of x * (norm * centroid)`: equal up to float rounding. The dense copy costs `rows * dim * 4` bytes.

use std::io::Read;

use crate::error::{KernelError, KernelResult};

const KSUB: usize = 256;
/// Dense values are read in pieces of this many bytes (no second copy of a large matrix).
const PIECE: usize = 1 << 20;

pub struct Dense {
    pub rows: usize,
    pub cols: usize,
    pub values: Vec<f32>,
}

impl Dense {
    #[inline]
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.cols..(i + 1) * self.cols]
    }

    /// Add the rows `ids` (checked to be in range) to `sum`, one after another as C++ fastText does, a block
    /// of 16 columns at a time: the block's sums stay in registers across all the rows (one pass over the
    /// rows for a 16-dimension model) instead of going through memory after every row. Each value is still
    /// the sum of its column in row order, so the result is the same to the last bit.
    pub fn add_rows(&self, ids: &[i32], sum: &mut [f32]) {
        const BLOCK: usize = 16;
        let cols = self.cols;
        let mut start = 0;
        while start < cols {
            let width = BLOCK.min(cols - start);
            if width == BLOCK {
                let mut acc = [0.0f32; BLOCK];
                acc.copy_from_slice(&sum[start..start + BLOCK]);
                for &id in ids {
                    let at = id as usize * cols + start;
                    let row: &[f32; BLOCK] = match self.values[at..at + BLOCK].try_into() {
                        Ok(row) => row,
                        Err(_) => continue, // unreachable: the slice is BLOCK long
                    };
                    for (a, v) in acc.iter_mut().zip(row) {
                        *a += v;
                    }
                }
                sum[start..start + BLOCK].copy_from_slice(&acc);
            } else {
                for &id in ids {
                    let at = id as usize * cols + start;
                    for (a, v) in sum[start..start + width]
                        .iter_mut()
                        .zip(&self.values[at..at + width])
                    {
                        *a += v;
                    }
                }
            }
            start += width;
        }
    }
}

fn truncated(what: &str) -> KernelError {
    KernelError::value(format!("the file ends inside the {what}: truncated?"))
}

fn bytes<const N: usize>(reader: &mut impl Read, what: &str) -> KernelResult<[u8; N]> {
    let mut out = [0u8; N];
    reader.read_exact(&mut out).map_err(|_| truncated(what))?;
    Ok(out)
}

pub fn read_bool(reader: &mut impl Read, what: &str) -> KernelResult<bool> {
    Ok(bytes::<1>(reader, what)?[0] != 0)
}

fn read_size32(reader: &mut impl Read, what: &str) -> KernelResult<usize> {
    let value = i32::from_le_bytes(bytes(reader, what)?);
    usize::try_from(value).map_err(|_| KernelError::value(format!("negative {what}: {value}")))
}

fn read_size64(reader: &mut impl Read, what: &str) -> KernelResult<usize> {
    let value = i64::from_le_bytes(bytes(reader, what)?);
    usize::try_from(value).map_err(|_| KernelError::value(format!("negative {what}: {value}")))
}

fn read_vec(reader: &mut impl Read, size: usize, what: &str) -> KernelResult<Vec<u8>> {
    let mut out = Vec::new();
    let got = reader
        .take(size as u64)
        .read_to_end(&mut out)
        .map_err(|_| truncated(what))?;
    if got != size {
        return Err(truncated(what));
    }
    Ok(out)
}

fn read_f32s(reader: &mut impl Read, count: usize, what: &str) -> KernelResult<Vec<f32>> {
    let mut values = Vec::new();
    values
        .try_reserve_exact(count)
        .map_err(|_| KernelError::value(format!("{what} too large for memory")))?;
    let mut piece = vec![0u8; PIECE];
    let mut left = count * 4;
    while left > 0 {
        let size = left.min(PIECE);
        reader
            .read_exact(&mut piece[..size])
            .map_err(|_| truncated(what))?;
        values.extend(
            piece[..size]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        );
        left -= size;
    }
    Ok(values)
}

fn shape(reader: &mut impl Read, what: &str) -> KernelResult<(usize, usize, usize)> {
    let rows = read_size64(reader, what)?;
    let cols = read_size64(reader, what)?;
    let count = rows
        .checked_mul(cols)
        .filter(|&c| c.checked_mul(4).is_some())
        .ok_or_else(|| KernelError::value(format!("{what} too large ({rows} x {cols})")))?;
    Ok((rows, cols, count))
}

/// fastText's product quantizer: `nsubq` sub-vectors of `dsub` values (the last `lastdsub`), each one of
/// 256 centroids.
struct Quantizer {
    nsubq: usize,
    dsub: usize,
    lastdsub: usize,
    centroids: Vec<f32>,
}

impl Quantizer {
    fn read(reader: &mut impl Read, what: &str) -> KernelResult<(usize, Self)> {
        let dim = read_size32(reader, what)?;
        let nsubq = read_size32(reader, what)?;
        let dsub = read_size32(reader, what)?;
        let lastdsub = read_size32(reader, what)?;
        let consistent = nsubq > 0
            && (nsubq - 1)
                .checked_mul(dsub)
                .and_then(|v| v.checked_add(lastdsub))
                == Some(dim);
        if !consistent {
            return Err(KernelError::value(format!(
                "inconsistent {what} (dim {dim}, {nsubq} sub-vectors of {dsub}, the last of {lastdsub})"
            )));
        }
        let count = dim
            .checked_mul(KSUB)
            .ok_or_else(|| KernelError::value(format!("{what} too large")))?;
        let centroids = read_f32s(reader, count, what)?;
        Ok((
            dim,
            Self {
                nsubq,
                dsub,
                lastdsub,
                centroids,
            },
        ))
    }

    /// The values of centroid `code` of sub-quantizer `m` (C++ `get_centroids`).
    fn centroid(&self, m: usize, code: u8) -> &[f32] {
        let (start, width) = if m + 1 == self.nsubq {
            (
                m * KSUB * self.dsub + code as usize * self.lastdsub,
                self.lastdsub,
            )
        } else {
            ((m * KSUB + code as usize) * self.dsub, self.dsub)
        };
        // In range by construction: dim * KSUB values, checked in `read`.
        &self.centroids[start..start + width]
    }
}

fn read_quantized(reader: &mut impl Read, what: &str) -> KernelResult<Dense> {
    let qnorm = read_bool(reader, what)?;
    let (rows, cols, count) = shape(reader, what)?;
    let codesize = read_size32(reader, what)?;
    let codes = read_vec(reader, codesize, what)?;
    let (dim, pq) = Quantizer::read(reader, what)?;
    if dim != cols || rows.checked_mul(pq.nsubq) != Some(codesize) {
        return Err(KernelError::value(format!(
            "{what}: {codesize} codes do not fit {rows} x {cols} (quantizer of dim {dim})"
        )));
    }
    let norms = if qnorm {
        let codes = read_vec(reader, rows, what)?;
        let (norm_dim, npq) = Quantizer::read(reader, what)?;
        if norm_dim != 1 {
            return Err(KernelError::value(format!(
                "{what}: norm quantizer of dim {norm_dim}"
            )));
        }
        Some((codes, npq))
    } else {
        None
    };
    let mut values = Vec::new();
    values
        .try_reserve_exact(count)
        .map_err(|_| KernelError::value(format!("{what} too large for memory")))?;
    for (row, row_codes) in codes.chunks_exact(pq.nsubq).enumerate() {
        let norm = norms
            .as_ref()
            .map_or(1.0, |(codes, npq)| npq.centroid(0, codes[row])[0]);
        for (m, &code) in row_codes.iter().enumerate() {
            values.extend(pq.centroid(m, code).iter().map(|&c| norm * c));
        }
    }
    Ok(Dense { rows, cols, values })
}

/// Read one matrix of the file: dense, or quantized when `quantized`.
pub fn read_matrix(reader: &mut impl Read, quantized: bool, what: &str) -> KernelResult<Dense> {
    if quantized {
        return read_quantized(reader, what);
    }
    let (rows, cols, count) = shape(reader, what)?;
    let values = read_f32s(reader, count, what)?;
    Ok(Dense { rows, cols, values })
}
