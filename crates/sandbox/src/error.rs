use thiserror::Error;

#[derive(Debug, Error)]
pub enum SandboxError {
    #[error("catalog {path}: {reason}")]
    Catalog { path: String, reason: String },
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("database: {0}")]
    Database(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Invalid(String),
}
