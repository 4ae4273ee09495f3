//! Shell integration generated from the clap definitions, so it can never drift from the
//! real flags: completion scripts (clap_complete) and man pages (clap_mangen).
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::{Cli, Shell};

/// The completion script for `shell`.
pub fn completions(shell: Shell) -> String {
    let mut cmd = Cli::command();
    let mut out: Vec<u8> = Vec::new();
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(generator, &mut cmd, "seqfix", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// The seqfix(1) page: synopsis, global options and the list of subcommands.
pub fn man_page() -> Result<String> {
    let mut out: Vec<u8> = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut out).context("cannot render the man page")?;
    out.extend_from_slice(exit_status_section().as_bytes());
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// The exit codes, as docs/exit-codes.md gives them in full.
const EXIT_STATUS: &[(&str, &str)] = &[
    ("0", "The command ran (audit: also when duplicates were found, unless --fail-on-duplicates)."),
    ("1", "The command ran and found what it was asked to flag: audit --fail-on-duplicates with surplus rows, status with a failed check, migrate while duplicates remain."),
    ("2", "Error; one line on stderr starting with seqfix:. Nothing was changed, except by a dedupe or restore that failed mid-run: its committed batches are complete, and running it again continues."),
    ("3", "The run did its work, as its report and run id say, but --metrics-file could not be written afterwards."),
    ("130", "Interrupted (Ctrl-C, SIGTERM) after finishing the current batch; run the command again to continue."),
];

fn exit_status_section() -> String {
    let mut s = String::from(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in EXIT_STATUS {
        s += &format!(".TP\n\\fB{code}\\fR\n{}\n", meaning.replace('-', "\\-"));
    }
    s += ".PP\nprocess: a skipped pass exits with --busy-exit-code (default 0). See docs/exit-codes.md.\n";
    s
}

/// Writes seqfix.1 and seqfix-COMMAND.1 for every subcommand into `dir`; returns the files.
pub fn write_man_pages(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.is_dir() {
        anyhow::bail!("--dir {} is not a directory (create it first)", dir.display());
    }
    let mut cmd = Cli::command();
    cmd.build();
    let mut written = Vec::new();
    let mut pages: Vec<(String, clap::Command)> = vec![("seqfix".into(), cmd.clone())];
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let name = format!("seqfix-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().display_name(name)));
    }
    for (name, page) in pages {
        let path = dir.join(format!("{name}.1"));
        let mut out: Vec<u8> = Vec::new();
        clap_mangen::Man::new(page).render(&mut out).context("cannot render a man page")?;
        out.extend_from_slice(exit_status_section().as_bytes());
        std::fs::write(&path, out).with_context(|| format!("cannot write the man page {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn man_page_lists_subcommands() {
        let page = man_page().unwrap();
        assert!(page.starts_with(".ie") || page.starts_with(".TH"), "{}", &page[..80]);
        assert!(page.contains(".TH seqfix 1"), "{page}");
        for sub in ["audit", "status", "completions"] {
            assert!(page.contains(sub), "{sub}");
        }
        assert!(page.contains(".SH \"EXIT STATUS\"") && page.contains("\\fB3\\fR"), "{page}");
    }
}
