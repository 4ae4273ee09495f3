//! How a command ends: its `Outcome`, the exit codes, and the one-line text of an error
//! (what `main` prints and what warnings and reports quote). A leaf that operations return
//! into; it imports only `mask`.
use crate::mask;

/// Exit status for any error (bad input, connection, schema, lock held).
pub const EXIT_ERROR: i32 = 2;

/// Exit status of a run that changed the database as its report says, then could not write
/// `--metrics-file`: not 2, which promises that nothing was changed.
pub const EXIT_OUTPUT_FAILED: i32 = 3;

/// How a command ended, when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Ran; nothing to flag.
    Ok,
    /// Ran, and found what `--fail-on-...` asked to flag (exit 1).
    CheckFailed,
    /// Stopped by Ctrl-C after finishing cleanly (exit 130).
    Interrupted,
    /// Did nothing by design, with a caller-chosen exit code (e.g. `--busy-exit-code`).
    Skipped(i32),
    /// Did its work (the report was printed, the run is in the ledger) but could not write
    /// an output file afterwards, such as `--metrics-file` (exit 3).
    OutputFailed,
}

impl Outcome {
    pub fn exit_code(self) -> i32 {
        match self {
            Outcome::Ok => 0,
            Outcome::CheckFailed => 1,
            Outcome::Interrupted => 130,
            Outcome::Skipped(code) => code,
            Outcome::OutputFailed => EXIT_OUTPUT_FAILED,
        }
    }
}

/// The whole error chain on one line, as `main` prints it.
pub fn error_line(err: &anyhow::Error) -> String {
    // The chain may hold a server message naming a key's values (ER_DUP_ENTRY): phones masked.
    mask::text(&chain_text(err))
}

/// An error and its causes on one line, `: `-separated like `{:#}`, each driver error
/// written by `error_text`: what error lines and warnings print.
pub fn chain_text(err: &anyhow::Error) -> String {
    let parts: Vec<String> = err
        .chain()
        .map(|cause| match cause.downcast_ref::<mysql::Error>() {
            Some(e) => error_text(e),
            None => cause.to_string(),
        })
        .collect();
    parts.join(": ").replace('\n', " ")
}

/// A driver error as an operator reads it. The driver's own `Display` wraps each error in
/// its Rust variant name (`MySqlError { ERROR 1142 ... }`), and a failed row conversion
/// would carry the row (phone numbers included): neither belongs in an error line or a log.
pub fn error_text(err: &mysql::Error) -> String {
    match err {
        mysql::Error::MySqlError(e) => format!("server error {} ({}): {}", e.code, e.state, e.message),
        mysql::Error::IoError(e) => io_text(e),
        mysql::Error::CodecError(mysql::mysql_common::proto::codec::error::PacketCodecError::Io(e)) => io_text(e),
        mysql::Error::CodecError(e) => format!("protocol error: {e}"),
        mysql::Error::DriverError(e) => e.to_string(),
        mysql::Error::UrlError(e) => e.to_string(),
        mysql::Error::TlsError(e) => tls_text(&e.to_string()),
        mysql::Error::FromRowError(_) | mysql::Error::FromValueError(_) => {
            "the server returned a value of a type seqfix does not expect here (the value is not shown)".into()
        }
        #[allow(unreachable_patterns)]
        other => other.to_string(),
    }
}

/// A failed TLS handshake, with what to check. rustls reports a certificate it rejects as
/// an I/O error of kind InvalidData wrapping its own error, so both paths come here.
fn tls_text(e: &str) -> String {
    if e.contains("certificate") {
        format!(
            "TLS handshake failed: {e} (check that ssl-ca names the CA that signed the server's certificate, \
             and with ssl-mode=VERIFY_IDENTITY that the certificate names the host seqfix connects to)"
        )
    } else {
        format!("TLS handshake failed: {e}")
    }
}

/// A socket error; a read or write that hit the socket's timeout says which flag sets it.
fn io_text(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
            "the server stopped answering: nothing came back within --io-timeout".into()
        }
        std::io::ErrorKind::InvalidData if e.get_ref().is_some_and(is_tls_error) => tls_text(&e.to_string()),
        _ => format!("network error: {e}"),
    }
}

/// Whether an I/O error's inner error is the TLS library's.
fn is_tls_error(inner: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    #[cfg(feature = "rustls")]
    {
        inner.is::<rustls::Error>()
    }
    #[cfg(not(feature = "rustls"))]
    {
        let _ = inner;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "rustls")]
    #[test]
    fn a_rejected_certificate_says_what_to_check() {
        // How rustls hands a rejected certificate to the driver: InvalidData around its error.
        let cert = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let err = mysql::Error::IoError(std::io::Error::new(std::io::ErrorKind::InvalidData, cert));
        let text = error_text(&err);
        assert!(text.starts_with("TLS handshake failed: invalid peer certificate"), "{text}");
        assert!(text.contains("check that ssl-ca names the CA"), "{text}");
        // Other InvalidData errors stay network errors.
        let other = mysql::Error::IoError(std::io::Error::new(std::io::ErrorKind::InvalidData, "bad packet"));
        assert_eq!(error_text(&other), "network error: bad packet");
    }
}
