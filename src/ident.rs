//! A checked MySQL identifier: the only kind of name seqfix splices into SQL text. A leaf:
//! it imports nothing from the crate.
use std::fmt;

use anyhow::{bail, Result};

/// A MySQL identifier (table name) that has been checked and can be backtick-quoted safely.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ident(String);

impl Ident {
    /// Accepts the identifiers seqfix needs: 1-64 characters of ASCII letters, digits, `_`
    /// and `$`, not all digits. Anything else (backticks, quotes, dots, semicolons,
    /// spaces) is refused rather than escaped: a DBA never needs them for these tables.
    pub fn new(what: &str, name: &str) -> Result<Ident> {
        let ok_chars = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
        if name.is_empty() || name.len() > 64 || !ok_chars || name.chars().all(|c| c.is_ascii_digit()) {
            bail!(
                "invalid {what} name {name:?}: use 1-64 letters, digits, '_' or '$' (no quotes, backticks, dots, spaces or semicolons)"
            );
        }
        Ok(Ident(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The identifier wrapped in backticks, ready to splice into SQL text.
    pub fn quoted(&self) -> String {
        format!("`{}`", self.0)
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_validated() {
        for good in ["broadcast_messages", "t1", "seqfix$archive", "_x"] {
            assert!(Ident::new("table", good).is_ok(), "{good}");
        }
        for bad in ["", "a`b", "a'b", "a;drop", "a b", "db.t", "123", &"x".repeat(65)] {
            assert!(Ident::new("table", bad).is_err(), "{bad}");
        }
        assert_eq!(Ident::new("table", "t").unwrap().quoted(), "`t`");
    }
}
