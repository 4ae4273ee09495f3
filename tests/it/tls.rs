//! TLS connections (`?ssl-mode=...&ssl-ca=...`, or the option file's `ssl-mode`/`ssl-ca`)
//! to private servers that present certificates of the tests' own CA: one that requires a
//! secure transport and presents a certificate for 127.0.0.1 and localhost, and one whose
//! certificate names only another host.
use std::sync::OnceLock;

use mysql::prelude::Queryable;
use seqfix_fixture::messages::{self as fixture, Spec};

use crate::common::tls::{self, Cert};
use crate::common::{enc, Expected, Flavor, Seqfix, Server, ServerOpts, TEST_PASSWORD, TEST_USER};

/// A server that presents `cert`, with one database of generated messages, made over the
/// root's Unix socket (which counts as secure, so it works when TCP must be TLS).
struct TlsServer {
    server: Server,
    database: String,
    surplus: u64,
}

impl TlsServer {
    fn start(cert: Cert, require_secure_transport: bool) -> TlsServer {
        let mut args = tls::certs().server_args(cert);
        if require_secure_transport {
            args.push("--require-secure-transport=ON".into());
        }
        let server = Server::start_lasting(ServerOpts { args });
        let database = "tls".to_string();
        let mut c = server.socket_conn();
        c.query_drop(format!("CREATE DATABASE `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")).unwrap();
        c.query_drop(format!("USE `{database}`")).unwrap();
        fixture::create_schema(&mut c).unwrap();
        let rows: Vec<_> = fixture::generate(&Spec::new(2_000, 20)).collect();
        let table = seqfix::ident::Ident::new("table", "broadcast_messages").unwrap();
        fixture::insert(&mut c, &table, rows.iter().cloned()).unwrap();
        let surplus = Expected::of(&rows).surplus() as u64;
        assert!(surplus > 0, "the generator should make duplicates");
        TlsServer { server, database, surplus }
    }

    /// The test user's URL for `host`, with `query` (e.g. `ssl-mode=REQUIRED`) when not empty.
    fn url(&self, host: &str, query: &str) -> String {
        let base = format!("mysql://{TEST_USER}:{}@{host}:{}/{}", enc(TEST_PASSWORD), self.server.port, self.database);
        if query.is_empty() {
            base
        } else {
            format!("{base}?{query}")
        }
    }

    /// `seqfix audit --format json` with DATABASE_URL `url`.
    fn audit(&self, url: &str) -> crate::common::Run {
        Seqfix::new().env("DATABASE_URL", url).args(["audit", "--format", "json"]).run()
    }

    /// Audits over `url` and checks the answer: the connection carried real queries.
    fn audit_works(&self, url: &str) {
        let out = self.audit(url).expect_code(0);
        assert_eq!(out.json()["surplus_rows"], self.surplus, "{url}");
    }
}

/// The server requiring TLS, presenting the certificate for 127.0.0.1 and localhost.
fn secure() -> &'static TlsServer {
    static S: OnceLock<TlsServer> = OnceLock::new();
    S.get_or_init(|| TlsServer::start(Cert::Loopback, true))
}

/// A server whose certificate (from the same CA) names only db.example.
fn other_name() -> &'static TlsServer {
    static S: OnceLock<TlsServer> = OnceLock::new();
    S.get_or_init(|| TlsServer::start(Cert::OtherName, false))
}

fn ca() -> String {
    tls::certs().ca().display().to_string()
}

#[test]
fn tls_verify_identity_with_the_servers_ca_connects_by_ip_and_by_name() {
    let s = secure();
    s.audit_works(&s.url("127.0.0.1", &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={}", ca())));
    s.audit_works(&s.url("localhost", &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={}", ca())));
}

#[test]
fn tls_verify_ca_and_ssl_ca_alone_connect() {
    let s = secure();
    s.audit_works(&s.url("127.0.0.1", &format!("ssl-mode=VERIFY_CA&ssl-ca={}", ca())));
    s.audit_works(&s.url("127.0.0.1", &format!("ssl-ca={}", ca())));
}

#[test]
fn tls_required_encrypts_without_checking_the_certificate() {
    let s = secure();
    s.audit_works(&s.url("127.0.0.1", "ssl-mode=REQUIRED"));
    // REQUIRED checks nothing, so a CA that signed nothing does not matter either.
    s.audit_works(&s.url("127.0.0.1", &format!("ssl-mode=REQUIRED&ssl-ca={}", tls::certs().wrong_ca().display())));
}

#[test]
fn tls_settings_from_an_option_file() {
    let s = secure();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("seqfix.cnf");
    std::fs::write(
        &file,
        format!(
            "[client]\nuser={TEST_USER}\npassword={TEST_PASSWORD}\nhost=127.0.0.1\nport={}\n[seqfix]\ndatabase={}\n\
             ssl-mode=VERIFY_IDENTITY\nssl-ca={}\n",
            s.server.port,
            s.database,
            ca()
        ),
    )
    .unwrap();
    let out = Seqfix::new().args(["--defaults-file", file.to_str().unwrap(), "audit", "--format", "json"]).run();
    assert_eq!(out.expect_code(0).json()["surplus_rows"], s.surplus);
}

#[test]
fn tls_a_wrong_ca_fails_with_one_line() {
    let s = secure();
    let wrong = tls::certs().wrong_ca().display().to_string();
    for mode in ["VERIFY_CA", "VERIFY_IDENTITY"] {
        let out = s.audit(&s.url("127.0.0.1", &format!("ssl-mode={mode}&ssl-ca={wrong}")));
        let out = out.expect_error("certificate");
        assert!(out.stderr.starts_with("seqfix: "), "{}", out.stderr);
        assert!(out.stderr.contains("ssl-ca"), "the line should say what to check: {}", out.stderr);
        assert!(out.stdout.is_empty(), "{}", out.stdout);
    }
}

#[test]
fn tls_a_server_requiring_it_refuses_a_plain_connection() {
    let s = secure();
    // Proves the other tests' connections were encrypted: this server takes no other kind.
    // MySQL says why (error 3159); MariaDB answers "access denied", and seqfix names TLS as
    // a possible cause when it did not use it.
    let needle = match s.server.flavor_via_socket() {
        Flavor::MySql => "insecure transport",
        Flavor::MariaDb => "whether the server requires TLS",
    };
    for url in [s.url("127.0.0.1", ""), s.url("127.0.0.1", "ssl-mode=DISABLED")] {
        s.audit(&url).expect_error(needle);
    }
}

#[test]
fn tls_verify_identity_refuses_a_certificate_for_another_host() {
    let s = other_name();
    let out = s.audit(&s.url("127.0.0.1", &format!("ssl-mode=VERIFY_IDENTITY&ssl-ca={}", ca())));
    out.expect_error("certificate");
    // The same certificate passes VERIFY_CA, which checks the issuer only.
    s.audit_works(&s.url("127.0.0.1", &format!("ssl-mode=VERIFY_CA&ssl-ca={}", ca())));
}
