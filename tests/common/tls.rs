//! TLS for the tests: a certificate authority of the tests' own and server certificates it
//! signs, made once per test process with the `openssl` command, in the private servers'
//! directory (inside the MySQL root when the server is MySQL, so the chroot'ed `mysqld` can
//! read them), and the server arguments that use them.
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::{base_dir, inside};

/// The files of one test process's CAs and server certificates (PEM).
pub struct Certs {
    dir: PathBuf,
}

impl Certs {
    /// The CA that signed the server certificates.
    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// Another CA, which signed nothing the servers present.
    pub fn wrong_ca(&self) -> PathBuf {
        self.dir.join("wrong-ca.pem")
    }

    /// `--ssl-ca/--ssl-cert/--ssl-key` for a server presenting `cert`: `Cert::Loopback` names
    /// 127.0.0.1 and localhost (the host the tests connect to), `Cert::OtherName` only
    /// db.example.
    pub fn server_args(&self, cert: Cert) -> Vec<String> {
        let name = cert.file();
        let at = |f: &str| inside(&self.dir.join(f)).display().to_string();
        vec![
            format!("--ssl-ca={}", at("ca.pem")),
            format!("--ssl-cert={}", at(&format!("{name}.pem"))),
            format!("--ssl-key={}", at(&format!("{name}.key"))),
        ]
    }
}

/// Which server certificate a server presents.
#[derive(Debug, Clone, Copy)]
pub enum Cert {
    Loopback,
    OtherName,
}

impl Cert {
    fn file(self) -> &'static str {
        match self {
            Cert::Loopback => "server-loopback",
            Cert::OtherName => "server-other-name",
        }
    }
}

/// The certificates of this test process, made on first use.
pub fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(|| {
        let dir = base_dir().join(format!("{}-tls", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        make_ca(&dir, "ca", "seqfix test CA");
        make_ca(&dir, "wrong-ca", "seqfix test CA that signed nothing");
        make_server_cert(&dir, Cert::Loopback.file(), "127.0.0.1", "IP:127.0.0.1,DNS:localhost");
        make_server_cert(&dir, Cert::OtherName.file(), "db.example", "DNS:db.example");
        Certs { dir }
    })
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run openssl (package openssl) to make the tests' certificates");
    assert!(out.status.success(), "openssl {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
}

/// A self-signed CA certificate `NAME.pem` with its key `NAME.key`. RSA, as every server
/// build accepts it; X.509 v3 with CA:TRUE, as rustls (webpki) requires of an issuer.
fn make_ca(dir: &Path, name: &str, cn: &str) {
    let (key, pem, subj) = (format!("{name}.key"), format!("{name}.pem"), format!("/CN={cn}"));
    openssl(dir, &["genrsa", "-out", &key, "2048"]);
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            &key,
            "-sha256",
            "-days",
            "30",
            "-subj",
            &subj,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            &pem,
        ],
    );
}

/// A server certificate `NAME.pem` (key `NAME.key`, unencrypted: the server reads it at
/// start) signed by `ca`, for the names in `san`.
fn make_server_cert(dir: &Path, name: &str, cn: &str, san: &str) {
    let (key, csr, pem, ext) =
        (format!("{name}.key"), format!("{name}.csr"), format!("{name}.pem"), format!("{name}.ext"));
    std::fs::write(
        dir.join(&ext),
        format!(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\nsubjectAltName={san}\n"
        ),
    )
    .unwrap();
    openssl(dir, &["genrsa", "-out", &key, "2048"]);
    openssl(dir, &["req", "-new", "-key", &key, "-subj", &format!("/CN={cn}"), "-out", &csr]);
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-sha256",
            "-days",
            "30",
            "-extfile",
            &ext,
            "-out",
            &pem,
        ],
    );
}
