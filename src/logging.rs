//! Log output on stderr: `-v`/`-q` pick the level, `RUST_LOG` overrides it.
use crate::cli::GlobalArgs;

pub fn init(global: &GlobalArgs) {
    let level = match (global.quiet, global.verbose) {
        (q, _) if q >= 2 => "off",
        (1, _) => "error",
        (_, 0) => "warn",
        (_, 1) => "info",
        (_, 2) => "debug",
        _ => "trace",
    };
    let default = format!("seqfix={level},{}", if level == "off" { "off" } else { "warn" });
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or(default))
        .format_target(false)
        .format_timestamp_secs()
        .init();
}
