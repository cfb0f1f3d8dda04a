//! The library's error type.

use std::fmt;
use std::path::PathBuf;

pub use crate::dict::DictError;
pub use crate::spec::SpecError;

/// An error loading a config or a dictionary.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A config file is malformed.
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong, and where.
        error: SpecError,
    },
    /// A text dictionary has a malformed line (the error names the file and line).
    Dict(DictError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io { path, source } => write!(f, "{}: {}", path.display(), source),
            Error::Config { path, error } if error.line == 0 => {
                write!(f, "{}: {}", path.display(), error)
            }
            Error::Config { path, error } => write!(f, "{}:{}", path.display(), error),
            Error::Dict(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            Error::Config { error, .. } => Some(error),
            Error::Dict(e) => Some(e),
        }
    }
}

impl From<DictError> for Error {
    fn from(e: DictError) -> Error {
        Error::Dict(e)
    }
}
