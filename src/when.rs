//! How seqfix writes a point in time: UTC, to the second, or to the microsecond when the
//! value has a fraction. A leaf: the judges of `status` and the renderer both use it.

/// A time in microseconds since the Unix epoch, in UTC; the fraction shown when there is one.
pub fn ts(t: Option<i64>) -> String {
    match t {
        None => "NULL".into(),
        Some(t) => {
            let when = std::time::UNIX_EPOCH + std::time::Duration::from_micros(t.max(0) as u64);
            let text = if t % 1_000_000 == 0 {
                humantime::format_rfc3339_seconds(when).to_string()
            } else {
                humantime::format_rfc3339_micros(when).to_string()
            };
            text.replace('T', " ").replace('Z', " UTC")
        }
    }
}
