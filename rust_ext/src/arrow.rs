//! Zero-copy views of Arrow arrays received through the Arrow C data interface.
//!
//! The Python side passes the two PyCapsules returned by `pyarrow.Array.__arrow_c_array__()`. The structs are
//! declared here as the specification lays them out (no arrow-rs). The views only borrow the producer's
//! buffers: the capsules own the structs and release them when they are garbage-collected, so every view is
//! tied to the lifetime of a borrow of its capsules.
//!
//! Everything the producer tells us is checked before a slice is built: format string, buffer count, offset
//! and length signs, pointer nullness and alignment, monotonic offsets. The one thing the C interface cannot
//! tell us is the size of each buffer; like every consumer of the interface, we trust the producer that the
//! buffers are as long as offset + length (and the last string offset) imply.

use std::ffi::{c_char, c_void, CStr};
use std::ptr::NonNull;

use pyo3::prelude::*;
use pyo3::types::PyCapsule;

use crate::error::{KernelError, KernelResult};

/// `struct ArrowSchema` of the Arrow C data interface.
#[repr(C)]
pub struct ArrowSchema {
    format: *const c_char,
    name: *const c_char,
    metadata: *const c_char,
    flags: i64,
    n_children: i64,
    children: *mut *mut ArrowSchema,
    dictionary: *mut ArrowSchema,
    release: Option<unsafe extern "C" fn(*mut ArrowSchema)>,
    private_data: *mut c_void,
}

/// `struct ArrowArray` of the Arrow C data interface.
#[repr(C)]
pub struct ArrowArray {
    length: i64,
    null_count: i64,
    offset: i64,
    n_buffers: i64,
    n_children: i64,
    buffers: *mut *const c_void,
    children: *mut *mut ArrowArray,
    dictionary: *mut ArrowArray,
    release: Option<unsafe extern "C" fn(*mut ArrowArray)>,
    private_data: *mut c_void,
}

/// The validity bitmap of an array: bit `offset + i` is row `i`.
#[derive(Clone, Copy)]
struct Validity<'a> {
    bits: &'a [u8],
    offset: usize,
}

impl Validity<'_> {
    #[inline]
    fn is_valid(&self, row: usize) -> bool {
        let bit = self.offset + row;
        self.bits
            .get(bit / 8)
            .is_some_and(|byte| byte & (1 << (bit % 8)) != 0)
    }
}

/// String offsets of the rows of the view (`len + 1` entries, already shifted by the array offset).
#[derive(Clone, Copy)]
enum Offsets<'a> {
    Small(&'a [i32]),
    Large(&'a [i64]),
}

/// A borrowed `string` (format `u`) or `large_string` (format `U`) array.
#[derive(Clone, Copy)]
pub struct StrColumn<'a> {
    len: usize,
    validity: Option<Validity<'a>>,
    offsets: Offsets<'a>,
    data: &'a [u8],
}

impl<'a> StrColumn<'a> {
    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes of string data the rows of the view span (nulls included).
    pub fn data_len(&self) -> usize {
        let span = |first: Option<usize>, last: Option<usize>| match (first, last) {
            (Some(first), Some(last)) => last.saturating_sub(first),
            _ => 0,
        };
        match self.offsets {
            Offsets::Small(o) => span(
                o.first().map(|&v| v as usize),
                o.last().map(|&v| v as usize),
            ),
            Offsets::Large(o) => span(
                o.first().map(|&v| v as usize),
                o.last().map(|&v| v as usize),
            ),
        }
    }

    /// The bytes of row `row`, or `None` if the row is null (or out of range).
    #[inline]
    pub fn get(&self, row: usize) -> Option<&'a [u8]> {
        if row >= self.len {
            return None;
        }
        if let Some(validity) = self.validity {
            if !validity.is_valid(row) {
                return None;
            }
        }
        // Offsets were checked to be non-negative, non-decreasing and within `data` on import.
        let (start, end) = match self.offsets {
            Offsets::Small(offsets) => {
                (*offsets.get(row)? as usize, *offsets.get(row + 1)? as usize)
            }
            Offsets::Large(offsets) => {
                (*offsets.get(row)? as usize, *offsets.get(row + 1)? as usize)
            }
        };
        self.data.get(start..end)
    }

    /// The row as UTF-8 text: `Ok(None)` for a null row, a `ValueError` naming the row for invalid UTF-8.
    /// `row_base` is added to the row number in the message (the row's position in the caller's array).
    pub fn text(&self, row: usize, row_base: usize) -> KernelResult<Option<&'a str>> {
        match self.get(row) {
            None => Ok(None),
            Some(bytes) => std::str::from_utf8(bytes).map(Some).map_err(|err| {
                KernelError::value(format!(
                    "row {}: invalid UTF-8 at byte {} of the value",
                    row_base + row,
                    err.valid_up_to()
                ))
            }),
        }
    }
}

/// A borrowed primitive array without nulls.
pub struct PrimitiveColumn<'a, T> {
    pub values: &'a [T],
}

/// The structs behind a pair of capsules, checked for liveness.
struct Imported<'a> {
    schema: &'a ArrowSchema,
    array: &'a ArrowArray,
}

fn capsule_pointer<'a, T>(capsule: &'a Bound<'_, PyCapsule>, name: &CStr) -> PyResult<&'a T> {
    let pointer: NonNull<c_void> = capsule.pointer_checked(Some(name))?;
    // SAFETY: the capsule name identifies the struct type (Arrow PyCapsule interface); the struct is owned by
    // the capsule, which outlives the returned reference ('a borrows the capsule).
    Ok(unsafe { pointer.cast::<T>().as_ref() })
}

fn import<'a>(
    schema: &'a Bound<'_, PyCapsule>,
    array: &'a Bound<'_, PyCapsule>,
) -> PyResult<Imported<'a>> {
    let schema: &ArrowSchema = capsule_pointer(schema, c"arrow_schema")?;
    let array: &ArrowArray = capsule_pointer(array, c"arrow_array")?;
    if schema.release.is_none() || array.release.is_none() {
        return Err(
            KernelError::value("the Arrow array or schema has already been released").into(),
        );
    }
    if schema.format.is_null() {
        return Err(KernelError::value("the Arrow schema has no format string").into());
    }
    if array.length < 0 || array.offset < 0 || array.n_buffers < 0 || array.n_children < 0 {
        return Err(
            KernelError::value("the Arrow array has a negative length, offset or count").into(),
        );
    }
    Ok(Imported { schema, array })
}

impl<'a> Imported<'a> {
    fn format(&self) -> String {
        // SAFETY: checked non-null in `import`; the C data interface requires a NUL-terminated string.
        unsafe { CStr::from_ptr(self.schema.format) }
            .to_string_lossy()
            .into_owned()
    }

    fn check_flat(&self, what: &str, n_buffers: i64) -> KernelResult<()> {
        if !self.schema.dictionary.is_null() || !self.array.dictionary.is_null() {
            return Err(KernelError::type_error(format!(
                "expected a {what} array, got a dictionary-encoded array"
            )));
        }
        if self.array.n_children != 0 || self.array.n_buffers != n_buffers {
            return Err(KernelError::value(format!(
                "malformed {what} array: {} buffers and {} children",
                self.array.n_buffers, self.array.n_children
            )));
        }
        if self.array.buffers.is_null() {
            return Err(KernelError::value(format!(
                "malformed {what} array: no buffer list"
            )));
        }
        Ok(())
    }

    fn buffer(&self, index: usize) -> *const c_void {
        // SAFETY: `check_flat` verified the buffer list is non-null with `n_buffers > index` entries.
        unsafe { *self.array.buffers.add(index) }
    }

    fn range(&self) -> KernelResult<(usize, usize)> {
        let offset = usize::try_from(self.array.offset)
            .map_err(|_| KernelError::value("Arrow array offset out of range"))?;
        let len = usize::try_from(self.array.length)
            .map_err(|_| KernelError::value("Arrow array length out of range"))?;
        let end = offset
            .checked_add(len)
            .ok_or_else(|| KernelError::value("Arrow array offset + length overflows"))?;
        Ok((offset, end))
    }

    fn validity(&self, offset: usize, end: usize) -> KernelResult<Option<Validity<'a>>> {
        let bits = self.buffer(0).cast::<u8>();
        if bits.is_null() {
            if self.array.null_count > 0 {
                return Err(KernelError::value(
                    "malformed Arrow array: nulls without a validity bitmap",
                ));
            }
            return Ok(None);
        }
        // SAFETY: a validity bitmap covers bits 0..offset + length of the buffer (C data interface).
        let bits = unsafe { std::slice::from_raw_parts(bits, end.div_ceil(8)) };
        Ok(Some(Validity { bits, offset }))
    }
}

fn typed_slice<'a, T>(
    pointer: *const c_void,
    start: usize,
    count: usize,
    what: &str,
) -> KernelResult<&'a [T]> {
    if count == 0 {
        return Ok(&[]);
    }
    let pointer = pointer.cast::<T>();
    if pointer.is_null() {
        return Err(KernelError::value(format!(
            "malformed Arrow array: missing {what} buffer"
        )));
    }
    if pointer.align_offset(std::mem::align_of::<T>()) != 0 {
        return Err(KernelError::value(format!(
            "malformed Arrow array: misaligned {what} buffer"
        )));
    }
    // SAFETY: non-null, aligned, and the producer guarantees `start + count` elements (C data interface).
    Ok(unsafe { std::slice::from_raw_parts(pointer.add(start), count) })
}

fn checked_offsets<T: Copy + Into<i64>>(offsets: &[T]) -> KernelResult<usize> {
    let mut previous: i64 = match offsets.first() {
        Some(&first) => first.into(),
        None => return Ok(0),
    };
    if previous < 0 {
        return Err(KernelError::value(
            "malformed string array: negative offset",
        ));
    }
    for &offset in offsets.iter().skip(1) {
        let offset: i64 = offset.into();
        if offset < previous {
            return Err(KernelError::value(
                "malformed string array: decreasing offsets",
            ));
        }
        previous = offset;
    }
    usize::try_from(previous).map_err(|_| KernelError::value("string offsets out of range"))
}

/// A view of a `string` / `large_string` array exported through the Arrow PyCapsule interface.
pub fn import_strings<'a>(
    schema: &'a Bound<'_, PyCapsule>,
    array: &'a Bound<'_, PyCapsule>,
) -> PyResult<StrColumn<'a>> {
    let imported = import(schema, array)?;
    let format = imported.format();
    let large = match format.as_str() {
        "U" => true,
        "u" => false,
        _ => {
            return Err(KernelError::type_error(format!(
                "expected a string or large_string Arrow array, got format {format:?}"
            ))
            .into())
        }
    };
    imported.check_flat("string", 3)?;
    let (offset, end) = imported.range()?;
    let len = end - offset;
    let validity = imported.validity(offset, end)?;
    let count = if len == 0 { 0 } else { len + 1 };
    let (offsets, data_len) = if large {
        let offsets: &[i64] = typed_slice(imported.buffer(1), offset, count, "offsets")?;
        (Offsets::Large(offsets), checked_offsets(offsets)?)
    } else {
        let offsets: &[i32] = typed_slice(imported.buffer(1), offset, count, "offsets")?;
        (Offsets::Small(offsets), checked_offsets(offsets)?)
    };
    let data: &[u8] = typed_slice(imported.buffer(2), 0, data_len, "data")?;
    Ok(StrColumn {
        len,
        validity,
        offsets,
        data,
    })
}

/// A view of a primitive array of `format` (`"L"` for uint64, `"l"` for int64) that must not contain nulls.
fn import_primitive<'a, T>(
    schema: &'a Bound<'_, PyCapsule>,
    array: &'a Bound<'_, PyCapsule>,
    format: &str,
    what: &str,
) -> PyResult<PrimitiveColumn<'a, T>> {
    let imported = import(schema, array)?;
    let actual = imported.format();
    if actual != format {
        return Err(KernelError::type_error(format!(
            "expected an Arrow {what} array (format {format:?}), got format {actual:?}"
        ))
        .into());
    }
    imported.check_flat(what, 2)?;
    let (offset, end) = imported.range()?;
    if imported.array.null_count != 0 {
        if let Some(validity) = imported.validity(offset, end)? {
            if (0..end - offset).any(|row| !validity.is_valid(row)) {
                return Err(
                    KernelError::value(format!("the {what} array must not contain nulls")).into(),
                );
            }
        }
    }
    let values = typed_slice(imported.buffer(1), offset, end - offset, "values")?;
    Ok(PrimitiveColumn { values })
}

pub fn import_u64<'a>(
    schema: &'a Bound<'_, PyCapsule>,
    array: &'a Bound<'_, PyCapsule>,
) -> PyResult<PrimitiveColumn<'a, u64>> {
    import_primitive(schema, array, "L", "uint64")
}

pub fn import_i64<'a>(
    schema: &'a Bound<'_, PyCapsule>,
    array: &'a Bound<'_, PyCapsule>,
) -> PyResult<PrimitiveColumn<'a, i64>> {
    import_primitive(schema, array, "l", "int64")
}
