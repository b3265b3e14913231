//! Errors of the cost engine. Each names the file, line, usage path or
//! resource address involved.

use thiserror::Error;

/// Why a catalogue, usage file or offer file could not be used.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CostError {
    /// A file could not be read.
    #[error("reading {path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// A catalogue CSV is malformed.
    #[error("catalogue {path}: line {line}: {message}")]
    Catalogue {
        /// The file.
        path: String,
        /// 1-based line (0 when about the whole file).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A usage file is malformed or holds an impossible value.
    #[error("usage file {path}: {location}{message}")]
    Usage {
        /// The file.
        path: String,
        /// `line L column C: ` or `resource_usage.ADDRESS.key: `.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// An AWS Price List offer file could not be read.
    #[error("offer file {path}: {message}")]
    Offer {
        /// The file.
        path: String,
        /// What is wrong (with serde's line and column when it is syntax).
        message: String,
    },
    /// A region given on the command line is not an AWS region.
    #[error("unknown region {region:?}: not an AWS region code (e.g. us-east-1, eu-west-1)")]
    UnknownRegion {
        /// The region as given.
        region: String,
    },
}
