//! The crate's error type. Every failure on data or arguments from outside becomes a Python exception that
//! subclasses a builtin (`ValueError` or `TypeError`), never a panic (the conversion is in `lib.rs`, which
//! keeps the kernel modules free of PyO3).

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelError {
    /// Bad argument value or malformed data (invalid UTF-8, inconsistent offsets, ...): `ValueError`.
    Value(String),
    /// An input of the wrong kind (e.g. an Arrow array that is not a string array): `TypeError`.
    Type(String),
}

pub type KernelResult<T> = Result<T, KernelError>;

impl KernelError {
    pub fn value(message: impl Into<String>) -> Self {
        Self::Value(message.into())
    }

    pub fn type_error(message: impl Into<String>) -> Self {
        Self::Type(message.into())
    }
}

impl std::fmt::Display for KernelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Value(message) | Self::Type(message) => f.write_str(message),
        }
    }
}
