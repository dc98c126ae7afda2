//! What several test files share.

/// An `exp` within the proxy's longest accepted token lifetime (a day).
pub fn an_hour_from_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        + 3600
}
