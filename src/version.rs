//! What `seqfix --version` says: the version, the git commit the binary was built from
//! (build.rs; "unknown" when built without git) and the TLS backend the build links.

/// `0.1.0 (commit 0123456789ab, TLS rustls (ring))`; clap prints it after the name.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("SEQFIX_GIT_COMMIT"),
    ", TLS ",
    env!("SEQFIX_TLS_BACKEND"),
    ")"
);

/// The TLS backend alone, e.g. `rustls (ring)` or `native-tls (OpenSSL)`.
pub const TLS_BACKEND: &str = env!("SEQFIX_TLS_BACKEND");
