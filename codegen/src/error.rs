//! The one error type of the code generator: every failure names the file, and where it can the node,
//! its op type and the reason.

use std::fmt;
use std::path::{Path, PathBuf};

/// A build-time failure: what file, which node (if any), and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    /// The model file (or directory) being compiled.
    pub file: PathBuf,
    /// The node the failure is about, as `name (op_type)`, if any.
    pub node: Option<String>,
    /// What is wrong, in words.
    pub reason: String,
}

impl Error {
    /// An error about the file as a whole.
    pub fn file(file: impl AsRef<Path>, reason: impl Into<String>) -> Self {
        Error {
            file: file.as_ref().to_path_buf(),
            node: None,
            reason: reason.into(),
        }
    }

    /// An error about one node of the graph.
    pub fn node(
        file: impl AsRef<Path>,
        name: &str,
        op_type: &str,
        reason: impl Into<String>,
    ) -> Self {
        Error {
            file: file.as_ref().to_path_buf(),
            node: Some(format!("'{name}' ({op_type})")),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.node {
            Some(node) => write!(f, "{}: node {}: {}", self.file.display(), node, self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

impl std::error::Error for Error {}

/// Result with the code generator's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
