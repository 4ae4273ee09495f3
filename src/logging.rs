//! Log output on stderr: `-v`/`-q` pick the level, `RUST_LOG` overrides it. Every line goes
//! through `mask::text`, so a phone that reaches a log message (a server error naming a
//! key's values, say) is masked.
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
        .format(|buf, record| {
            use std::io::Write;
            let level = buf.default_level_style(record.level());
            let message = crate::mask::text(&record.args().to_string());
            writeln!(buf, "[{} {level}{:<5}{level:#}] {message}", buf.timestamp_seconds(), record.level())
        })
        .init();
}
