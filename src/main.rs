//! The `seqfix` binary: parse the command line, run, map the outcome to an exit code.
use clap::Parser;

fn main() {
    let cli = seqfix::cli::Cli::parse();
    seqfix::logging::init(&cli.global);
    let code = match seqfix::run(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            eprintln!("seqfix: {}", seqfix::error_line(&err));
            seqfix::EXIT_ERROR
        }
    };
    std::process::exit(code);
}
