//! MySQL option files (`my.cnf` syntax): connection settings read from `--defaults-file`
//! or `~/.my.cnf`, so that passwords need not appear on a command line, in the environment
//! of a cron job or in `ps` output.
//!
//! The syntax follows the server's own reader (`mysys/my_default.c*`, "Using Option Files"
//! in the MySQL and MariaDB manuals): `[group]` lines; `key`, `key=value` with blanks around
//! `=`; `#` and `;` comment lines; a `#` later on a line starts a comment unless it is inside
//! quotes; a value in matching single or double quotes loses them; the escapes `\b \t \n \r
//! \\ \s \" \'` are decoded, and a backslash before any other character is kept. `-` and `_`
//! are the same in option names, and a `loose-` prefix is ignored. seqfix reads the groups
//! `[client]` and then `[seqfix]` (its values override `[client]`'s). `!include` and
//! `!includedir` are refused with a clear message rather than half-supported.
//!
//! Errors name the file and line, never the line's text: it may hold a password.
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::{bail, Context, Result};

/// The groups seqfix reads, in increasing precedence.
pub const GROUPS: [&str; 2] = ["client", "seqfix"];

/// The options seqfix uses. Other options in `[client]` belong to other tools and are
/// ignored; in `[seqfix]` an unknown option is an error (most likely a typo).
pub const KNOWN: [&str; 8] = ["user", "password", "host", "port", "socket", "database", "ssl-ca", "ssl-mode"];

/// The settings found, by normalised option name. `None` is an option given without `=`.
pub type Settings = BTreeMap<String, Option<String>>;

/// Reads and parses an option file.
pub fn read(path: &Path) -> Result<Settings> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read the option file {}", path.display()))?;
    // The server's clients ignore a world-writable option file ("World-writable config file
    // is ignored"): anyone could point them at another server. seqfix refuses it outright.
    let mode = std::fs::metadata(path).map(|m| m.permissions().mode()).unwrap_or(0);
    if mode & 0o002 != 0 {
        bail!(
            "option file {} is world-writable, so anyone could change where seqfix connects: chmod o-w it (0600 is best, it holds a password)",
            path.display()
        );
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("option file {} is not valid UTF-8 text", path.display()))?;
    parse(&text).map_err(|e| anyhow::anyhow!("option file {} {e}", path.display()))
}

/// Parses option-file text and merges `[client]` then `[seqfix]`. Pure, for unit tests.
/// Errors read "line N: ..." (the caller prefixes the file name).
pub fn parse(text: &str) -> Result<Settings> {
    let mut groups: BTreeMap<&str, Settings> = BTreeMap::new();
    let mut current: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(directive) = line.strip_prefix('!') {
            let word = directive.split_whitespace().next().unwrap_or("");
            if word == "include" || word == "includedir" {
                bail!("line {n}: !{word} is not supported by seqfix; put the connection settings in this one file");
            }
            bail!("line {n}: unknown directive !{word} (only !include and !includedir exist, and seqfix supports neither)");
        }
        if let Some(rest) = line.strip_prefix('[') {
            let Some(end) = rest.find(']') else {
                bail!("line {n}: a group line must look like [client] (missing ']')");
            };
            let name = rest[..end].trim();
            if name.is_empty() {
                bail!("line {n}: empty group name []");
            }
            current = Some(name.to_ascii_lowercase());
            continue;
        }
        let Some(group) = &current else {
            bail!("line {n}: option outside any group; put it under [client] or [seqfix]");
        };
        let (key, value) = option(line).map_err(|e| anyhow::anyhow!("line {n}: {e}"))?;
        let Some(wanted) = GROUPS.iter().find(|g| **g == group.as_str()) else { continue };
        if !KNOWN.contains(&key.as_str()) {
            if *wanted == "seqfix" {
                bail!("line {n}: unknown option {key:?} in [seqfix] (seqfix reads {})", KNOWN.join(", "));
            }
            log::debug!("option file line {n}: ignoring [client] option {key:?}, which seqfix does not use");
            continue;
        }
        groups.entry(wanted).or_default().insert(key, value);
    }
    let mut merged = Settings::new();
    for g in GROUPS {
        merged.extend(groups.remove(g).unwrap_or_default());
    }
    Ok(merged)
}

/// Splits `key[=value]` after removing a trailing comment; normalises the key and
/// unquotes and unescapes the value.
fn option(line: &str) -> Result<(String, Option<String>)> {
    let line = remove_end_comment(line).trim();
    let (key, value) = match line.find('=') {
        Some(i) => (line[..i].trim(), Some(line[i + 1..].trim())),
        None => (line, None),
    };
    if key.is_empty() {
        bail!("an option line needs a name before '='");
    }
    let mut key = key.to_ascii_lowercase().replace('_', "-");
    if let Some(k) = key.strip_prefix("loose-") {
        key = k.to_string();
    }
    let value = match value {
        None => None,
        Some(v) => Some(unquote(v).map(unescape)?),
    };
    Ok((key, value))
}

/// Cuts the line at the first `#` that is outside single or double quotes. Inside quotes
/// a backslash protects the next character (so `\"` does not close the quote).
fn remove_end_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        if (c == '\'' || c == '"') && !escaped {
            match quote {
                None => quote = Some(c),
                Some(q) if q == c => quote = None,
                Some(_) => {}
            }
        }
        if quote.is_none() && c == '#' {
            return &line[..i];
        }
        escaped = quote.is_some() && c == '\\' && !escaped;
    }
    line
}

/// Strips one pair of matching quotes around the whole value. An opening quote without
/// its closing one is an error (the server would keep the quote as part of the value,
/// which for a password means a baffling "access denied").
fn unquote(v: &str) -> Result<&str> {
    let Some(first) = v.chars().next().filter(|c| *c == '"' || *c == '\'') else { return Ok(v) };
    // The closing quote is the last character, and not escaped.
    let inner = &v[1..];
    let closed = inner.ends_with(first) && {
        let body = &inner[..inner.len() - 1];
        body.chars().rev().take_while(|c| *c == '\\').count() % 2 == 0
    };
    if !closed {
        bail!("a value opened with {first} has no closing {first}");
    }
    Ok(&inner[..inner.len() - 1])
}

fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some('b') => out.push('\u{8}'),
            Some('s') => out.push(' '),
            Some('"') => out.push('"'),
            Some('\'') => out.push('\''),
            Some('\\') => out.push('\\'),
            // Unknown escape: the server keeps the backslash and the character.
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(s: &Settings, k: &str) -> Option<String> {
        s.get(k).cloned().flatten()
    }

    #[test]
    fn reads_client_and_seqfix_groups() {
        let s = parse(
            "# comment\n; another\n[mysqld]\nport=1\n\n[client]\nuser = app\nhost=db.example\nport=3307\n\
             default-character-set=utf8mb4\n[seqfix]\nuser=seqfix\ndatabase=app\n",
        )
        .unwrap();
        assert_eq!(get(&s, "user").as_deref(), Some("seqfix"), "[seqfix] overrides [client]");
        assert_eq!(get(&s, "host").as_deref(), Some("db.example"));
        assert_eq!(get(&s, "port").as_deref(), Some("3307"), "[mysqld] is not read");
        assert_eq!(get(&s, "database").as_deref(), Some("app"));
        assert!(!s.contains_key("default-character-set"));
    }

    #[test]
    fn seqfix_overrides_client_whatever_the_order() {
        let s = parse("[seqfix]\nhost=b\n[client]\nhost=a\n").unwrap();
        assert_eq!(get(&s, "host").as_deref(), Some("b"));
    }

    #[test]
    fn dashes_underscores_case_and_loose_prefix() {
        let s = parse("[client]\nssl_ca=/etc/ca.pem\nLOOSE-SSL-MODE=REQUIRED\n[Client]\nUser=x\n").unwrap();
        assert_eq!(get(&s, "ssl-ca").as_deref(), Some("/etc/ca.pem"));
        assert_eq!(get(&s, "ssl-mode").as_deref(), Some("REQUIRED"));
        assert_eq!(get(&s, "user").as_deref(), Some("x"));
    }

    #[test]
    fn quotes_escapes_and_comments() {
        let s = parse(concat!(
            "[client]\n",
            "password=\"p#ss w\\\"rd\"   # a comment\n",
            "user='o''k'\n",
            "host=plain#comment\n",
            "socket=\"/tmp/a\\\\b\\sc\"\n",
            "database=a\\xb\n",
        ))
        .unwrap();
        assert_eq!(get(&s, "password").as_deref(), Some("p#ss w\"rd"));
        assert_eq!(get(&s, "user").as_deref(), Some("o''k"), "only the outer pair of quotes goes");
        assert_eq!(get(&s, "host").as_deref(), Some("plain"), "# outside quotes starts a comment");
        assert_eq!(get(&s, "socket").as_deref(), Some("/tmp/a\\b c"));
        assert_eq!(get(&s, "database").as_deref(), Some("a\\xb"), "unknown escapes keep the backslash");
    }

    #[test]
    fn special_password_round_trip() {
        let s = parse("[client]\npassword = \"p@ss:w/rd#\\\"x y;='\\\\z\"\n").unwrap();
        assert_eq!(get(&s, "password").as_deref(), Some("p@ss:w/rd#\"x y;='\\z"));
        let s = parse("[client]\npassword = 'it''s # not a comment'\n").unwrap();
        assert_eq!(get(&s, "password").as_deref(), Some("it''s # not a comment"));
        let s = parse("[client]\npassword=\n").unwrap();
        assert_eq!(get(&s, "password").as_deref(), Some(""));
        let s = parse("[client]\npassword\n").unwrap();
        assert_eq!(s.get("password"), Some(&None), "given without a value");
    }

    #[test]
    fn refuses_world_writable_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("my.cnf");
        std::fs::write(&path, "[client]\nuser=x\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(read(&path).is_ok());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(read(&path).unwrap_err().to_string().contains("world-writable"));
    }

    #[test]
    fn errors_name_the_line_but_never_its_text() {
        for (text, needle) in [
            ("user=x\n", "line 1: option outside any group"),
            ("[client\nuser=x\n", "line 1: a group line must look like [client]"),
            ("[client]\n=secretvalue\n", "line 2: an option line needs a name"),
            ("[client]\npassword=\"secretvalue\n", "line 2: a value opened with \" has no closing"),
            ("[client]\npassword='secretvalue\\'\n", "line 2: a value opened with '"),
            ("[client]\n!include /etc/secretvalue.cnf\n", "line 2: !include is not supported"),
            ("!includedir /etc/mysql/conf.d/\n", "line 1: !includedir is not supported"),
            ("[seqfix]\npasword=secretvalue\n", "line 2: unknown option \"pasword\" in [seqfix]"),
            ("[]\n", "line 1: empty group name"),
        ] {
            let err = parse(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?}: {err}");
            assert!(!err.contains("secretvalue"), "{text:?}: {err}");
        }
        // unknown options in other groups and in [client] are someone else's
        assert!(parse("[client]\nprompt=x\n[mysqldump]\nquick\n").is_ok());
    }
}
