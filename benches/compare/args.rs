//! The benchmark's own arguments (after `--`), checked.

pub(crate) struct Args {
    pub(crate) rows: usize,
    pub(crate) reps: usize,
    pub(crate) contacts: usize,
    pub(crate) loop_contacts: usize,
    pub(crate) join_sizes: Vec<usize>,
    pub(crate) writer_idle_secs: u64,
    /// `--buffer-pool SIZE` (e.g. 1G, 512M; default 2G): the private server's
    /// innodb_buffer_pool_size. A table larger than it is the normal case at scale.
    pub(crate) buffer_pool: String,
    /// `--server mariadb|mysql`: which private server to measure on (MySQL from the root
    /// scripts/mysql-server.sh builds).
    pub(crate) server: String,
    /// `--only audit,audit-index,dedupe,join,migrate,process,impact,history,memory`: a subset
    /// (its results go to a section of docs/benchmarks.md of their own, see `doc_section`).
    pub(crate) only: Option<Vec<String>>,
    /// `--no-doc`: leave docs/benchmarks.md alone (development runs).
    pub(crate) no_doc: bool,
}

impl Args {
    /// cargo passes `--bench` (and possibly filters) to harness=false benches: unknown
    /// arguments are ignored.
    pub(crate) fn parse() -> Args {
        let mut a = Args {
            rows: 1_000_000,
            reps: 3,
            contacts: 100_000,
            loop_contacts: 5_000,
            join_sizes: vec![5_000, 10_000, 20_000],
            writer_idle_secs: 5,
            buffer_pool: "2G".into(),
            server: "mariadb".into(),
            only: None,
            no_doc: false,
        };
        let argv: Vec<String> = std::env::args().skip(1).collect();
        let mut i = 0;
        while i < argv.len() {
            let num = |j: usize| -> usize {
                argv.get(j).and_then(|v| v.replace('_', "").parse().ok()).unwrap_or_else(|| {
                    eprintln!("compare: {} needs a number", argv[i]);
                    std::process::exit(2)
                })
            };
            match argv[i].as_str() {
                "--rows" => a.rows = num(i + 1),
                "--reps" => a.reps = num(i + 1).max(1),
                "--contacts" => a.contacts = num(i + 1),
                "--loop-contacts" => a.loop_contacts = num(i + 1),
                "--writer-idle-secs" => a.writer_idle_secs = num(i + 1) as u64,
                "--buffer-pool" => {
                    a.buffer_pool = argv.get(i + 1).map(|v| v.trim().to_uppercase()).unwrap_or_default();
                    if !valid_size(&a.buffer_pool) {
                        eprintln!("compare: --buffer-pool takes a size such as 512M, 1G or 2G");
                        std::process::exit(2)
                    }
                }
                "--server" => {
                    a.server = argv.get(i + 1).cloned().unwrap_or_default();
                    if a.server != "mariadb" && a.server != "mysql" {
                        eprintln!("compare: --server takes mariadb or mysql");
                        std::process::exit(2)
                    }
                }
                "--no-doc" => {
                    a.no_doc = true;
                    i += 1;
                    continue;
                }
                "--only" => a.only = argv.get(i + 1).map(|v| v.split(',').map(|s| s.trim().to_string()).collect()),
                "--join-sizes" => {
                    a.join_sizes = argv
                        .get(i + 1)
                        .map(|v| v.split(',').filter_map(|s| s.trim().replace('_', "").parse().ok()).collect())
                        .unwrap_or_default()
                }
                _ => {
                    i += 1;
                    continue;
                }
            }
            i += 2;
        }
        a
    }

    pub(crate) fn wants(&self, section: &str) -> bool {
        self.only.as_ref().is_none_or(|o| o.iter().any(|s| s == section))
    }

    pub(crate) fn command_line(&self) -> String {
        let mut s = format!("cargo bench --bench compare -- --rows {}", self.rows);
        if self.server != "mariadb" {
            s += &format!(" --server {}", self.server);
        }
        if self.buffer_pool != "2G" {
            s += &format!(" --buffer-pool {}", self.buffer_pool);
        }
        if self.reps != 3 {
            s += &format!(" --reps {}", self.reps);
        }
        if self.contacts != 100_000 {
            s += &format!(" --contacts {}", self.contacts);
        }
        if self.loop_contacts != 5_000 {
            s += &format!(" --loop-contacts {}", self.loop_contacts);
        }
        if let Some(o) = &self.only {
            s += &format!(" --only {}", o.join(","));
        }
        if self.join_sizes != [5_000, 10_000, 20_000] {
            let j: Vec<String> = self.join_sizes.iter().map(|n| n.to_string()).collect();
            s += &format!(" --join-sizes {}", j.join(","));
        }
        s
    }
}

/// A server size: digits with an optional K, M or G (e.g. 1G, 512M).
pub(crate) fn valid_size(s: &str) -> bool {
    let digits = s.strip_suffix(['K', 'M', 'G']).unwrap_or(s);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) && digits != "0"
}
