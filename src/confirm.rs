//! Asking before destructive work. On a terminal the user types `yes`; without a terminal
//! (cron, CI, a pipe) nothing destructive happens unless `--yes` was given.
use std::io::{BufRead, IsTerminal, Write};

use anyhow::{bail, Result};

/// True when there is a terminal to ask on (stdin and stderr); without one, `confirm`
/// refuses unless `--yes`. Lets a command fail before slow read-only work.
pub fn can_ask() -> bool {
    std::io::stdin().is_terminal() && std::io::stderr().is_terminal()
}

/// Returns Ok when the user agreed (or `--yes`), an error otherwise. `what` describes the
/// action, e.g. "delete 8,213 rows from app.broadcast_messages".
pub fn confirm(what: &str, yes: bool) -> Result<()> {
    if yes {
        return Ok(());
    }
    if !can_ask() {
        bail!("refusing to {what} without confirmation: no terminal to ask on; pass --yes to proceed (nothing was changed)");
    }
    eprint!("seqfix will {what}. Type yes to proceed: ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim().eq_ignore_ascii_case("yes") {
        Ok(())
    } else {
        bail!("not confirmed; nothing was changed")
    }
}
