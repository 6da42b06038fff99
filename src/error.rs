//! One error type for the whole library. Every variant carries enough context
//! (file, line, tensor, field) for a user to fix the problem; the CLI prints it
//! as one line and the C ABI maps it to a status code plus `dyag_last_error()`.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O failure on a named file.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },

    /// A malformed binary or text file (GGUF, safetensors, JSON config...).
    #[error("{}: {msg}", path.display())]
    Format { path: PathBuf, msg: String },

    /// A bad line in a line-oriented data file (JSONL datasets, questions...).
    #[error("{}:{line}: {msg}", path.display())]
    Data { path: PathBuf, line: usize, msg: String },

    /// A model tensor that is missing, has the wrong shape or an unsupported type.
    #[error("tensor '{name}': {msg}")]
    Tensor { name: String, msg: String },

    /// A model configuration field that is missing or unsupported.
    #[error("model config field '{field}': {msg}")]
    Config { field: String, msg: String },

    /// A model name or path that cannot be resolved.
    #[error("model '{name}': {msg}")]
    ModelNotFound { name: String, msg: String },

    /// Invalid arguments or parameters given by the caller.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// The requested device is not available.
    #[error("device: {0}")]
    Device(String),

    /// Work stopped because the caller asked for it (callback, Ctrl-C).
    #[error("cancelled")]
    Cancelled,

    /// Anything else, already phrased for the user.
    #[error("{0}")]
    Msg(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io { path: path.as_ref().to_path_buf(), source }
    }
    pub fn format(path: impl AsRef<Path>, msg: impl Into<String>) -> Self {
        Error::Format { path: path.as_ref().to_path_buf(), msg: msg.into() }
    }
    pub fn data(path: impl AsRef<Path>, line: usize, msg: impl Into<String>) -> Self {
        Error::Data { path: path.as_ref().to_path_buf(), line, msg: msg.into() }
    }
    pub fn tensor(name: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Tensor { name: name.into(), msg: msg.into() }
    }
    pub fn config(field: impl Into<String>, msg: impl Into<String>) -> Self {
        Error::Config { field: field.into(), msg: msg.into() }
    }
    pub fn msg(msg: impl Into<String>) -> Self {
        Error::Msg(msg.into())
    }
    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }
    /// The message without its kind's prefix ("device: ", "invalid argument: "),
    /// for quoting the error inside another sentence.
    pub fn reason(&self) -> String {
        match self {
            Error::InvalidArgument(msg) | Error::Device(msg) | Error::Msg(msg) => msg.clone(),
            other => other.to_string(),
        }
    }
    /// The same problem, said of tensor `name`.
    pub fn in_tensor(self, name: impl Into<String>) -> Self {
        Error::tensor(name, self.reason())
    }
}

/// `Err(Error::Msg(format!(...)))` in one word.
#[macro_export]
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::Error::Msg(format!($($arg)*))) };
}
