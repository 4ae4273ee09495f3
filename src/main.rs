//! The `seqfix` binary: parse the command line, run, map the outcome to an exit code.

fn main() {
    let cli = seqfix::cli::Cli::try_parse_args().unwrap_or_else(|e| {
        // Help and version go to stdout as clap prints them; argument errors quote the
        // command line back, which may hold a database URL and its password.
        if !e.use_stderr() {
            e.exit();
        }
        eprint!("{}", seqfix::config::redact_urls(&e.to_string()));
        std::process::exit(seqfix::outcome::EXIT_ERROR);
    });
    seqfix::logging::init(&cli.global);
    let code = match seqfix::run(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            eprintln!("seqfix: {}", seqfix::outcome::error_line(&err));
            seqfix::outcome::EXIT_ERROR
        }
    };
    std::process::exit(code);
}
