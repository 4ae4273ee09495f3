//! What the server's collations say about the key columns, asked once before a scan: how
//! each of the three pads (the weight of a space, PAD SPACE or NO PAD) and the weights of the
//! punctuation and spacing characters the near weight leaves out. Both only shape the bytes
//! the statements trim and remove; grouping itself is by the server's own weights.
use anyhow::{Context, Result};
use mysql::prelude::Queryable;

use crate::db::Db;
use crate::ident::Ident;
use crate::schema::TableInfo;
use crate::sql::Fragment;

/// The collation facts of the three key columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collations {
    pub step: Padding,
    pub device: Padding,
    pub phone: Padding,
    pub near: Near,
}

impl Collations {
    /// Asks the server about the key columns of `info`'s table.
    pub fn of(db: &mut Db, info: &TableInfo) -> Result<Collations> {
        let [step, device, phone] = paddings(db, info)?;
        Ok(Collations { step, device, phone, near: near(db, info)? })
    }
}

impl Near {
    /// The near weight of a phone whose collation weight is `weight`: `TRIM(TRAILING trim
    /// FROM w)`, then the first level up to the first 0x0000 when the collation has several,
    /// then each pattern removed as `REPLACE(w, pattern, '')` would, in slot order. The cut
    /// and the removal work on bytes, so the result is a fixed function of the weight: equal
    /// weights give equal near weights, so an exact group never straddles two near
    /// partitions. The walk's fingerprints and the candidates' partitions both come from
    /// here. Pure.
    pub fn weight(&self, weight: &[u8], trim: &[u8]) -> Vec<u8> {
        let mut w = weight;
        if !trim.is_empty() {
            while w.ends_with(trim) {
                w = &w[..w.len() - trim.len()];
            }
        }
        if self.several_levels {
            if let Some(at) = w.windows(2).position(|p| p == [0, 0]) {
                w = &w[..at];
            }
        }
        // Most phones hold none of the characters: a pattern whose first byte is not in the
        // weight at all is passed over without a search.
        let mut held = [false; 256];
        for &b in w {
            held[b as usize] = true;
        }
        let mut out = w.to_vec();
        for pattern in self.patterns.iter().filter(|p| !p.is_empty() && held[p[0] as usize]) {
            if contains(&out, pattern) {
                out = remove_all(&out, pattern);
            }
        }
        out
    }
}

/// Whether `pattern` (not empty) occurs in `s`. The first byte is compared before the
/// rest: a phone's weight rarely holds a pattern's first byte, and a full comparison at
/// every offset was a fifth of the scan's client time. Pure.
fn contains(s: &[u8], pattern: &[u8]) -> bool {
    let first = pattern[0];
    s.windows(pattern.len()).any(|w| w[0] == first && w == pattern)
}

/// `s` without the occurrences of `pattern` (not empty), found left to right without
/// overlap, as SQL's `REPLACE(s, pattern, '')` on binary strings. Pure.
fn remove_all(s: &[u8], pattern: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i..].starts_with(pattern) {
            i += pattern.len();
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

/// The punctuation and spacing characters whose weights the near weight leaves out
/// (`Near::weight`): rows whose phones differ only in these are
/// near-duplicates. The ASCII ones, then Unicode spaces and their fullwidth and dash
/// variants; under most collations several weigh the same, which does no harm.
pub const NEAR_CHARACTERS: [char; 20] = [
    ' ', '-', '+', '(', ')', '.', '/', '\u{a0}', '\u{2007}', '\u{202f}', '\u{2009}', '\u{3000}', '\u{2010}',
    '\u{2011}', '\u{2013}', '\u{ff0b}', '\u{ff0d}', '\u{ff08}', '\u{ff09}', '\u{ff0e}',
];

/// The weights `Near::weight` removes, one per `NEAR_CHARACTERS` slot: a character the
/// column cannot hold (`None`), or that weighs the same as an earlier one, gets an empty
/// pattern, which removes nothing. Pure.
pub fn near_patterns(weights: &[Option<Vec<u8>>]) -> Vec<Vec<u8>> {
    let mut seen: Vec<&[u8]> = Vec::new();
    weights
        .iter()
        .map(|w| match w {
            Some(w) if !w.is_empty() && !seen.contains(&w.as_slice()) => {
                seen.push(w);
                w.clone()
            }
            _ => Vec::new(),
        })
        .collect()
}

/// How one key column's collation compares: the weight of a space, and whether trailing
/// spaces are ignored (PAD SPACE). From `sql/audit/collation.sql`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Padding {
    pub space_weight: Vec<u8>,
    pub pad_space: bool,
}

impl Padding {
    /// What the server's candidate filter trims from the end of a weight (`TRIM(TRAILING
    /// ... FROM WEIGHT_STRING(...))` in chunk.sql, and `Near::weight`): the space weight under PAD SPACE,
    /// nothing under NO PAD. Pure.
    pub fn trailing(&self) -> &[u8] {
        if self.pad_space {
            &self.space_weight
        } else {
            &[]
        }
    }

    /// The weight without trailing space weights when the collation ignores trailing
    /// spaces, so that keys equal under the collation have equal bytes. A weight is a
    /// sequence of units as long as a space's; only whole trailing units go. Pure.
    pub fn strip<'a>(&self, mut weight: &'a [u8]) -> &'a [u8] {
        let unit = self.space_weight.len();
        if !self.pad_space || unit == 0 {
            return weight;
        }
        while weight.len() >= unit && weight.len() % unit == 0 && weight.ends_with(&self.space_weight) {
            weight = &weight[..weight.len() - unit];
        }
        weight
    }
}

/// How `Near::weight` computes the near weight in the phone column's collation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Near {
    /// The collation weighs in several levels: the near weight keeps the first.
    pub several_levels: bool,
    /// One per `NEAR_CHARACTERS` slot, as `near_patterns`.
    pub patterns: Vec<Vec<u8>>,
}

impl Default for Near {
    /// One level, and every pattern empty (removing nothing).
    fn default() -> Near {
        Near { several_levels: false, patterns: vec![Vec::new(); NEAR_CHARACTERS.len()] }
    }
}

/// The weights of `NEAR_CHARACTERS` in the phone column's collation.
fn near(db: &mut Db, info: &TableInfo) -> Result<Near> {
    let col =
        info.column("recipient_phone").with_context(|| format!("table {} has no column recipient_phone", info.name))?;
    let (Some(charset), Some(collation)) = (&col.charset, &col.collation) else {
        // A binary string: its weight is its bytes.
        let bytes: Vec<Option<Vec<u8>>> = NEAR_CHARACTERS.iter().map(|c| Some(c.to_string().into_bytes())).collect();
        return Ok(Near { several_levels: false, patterns: near_patterns(&bytes) });
    };
    let query = crate::sql::render_parts(
        crate::sql::SCAN_NEAR_WEIGHT,
        &[],
        &[
            ("charset", &Fragment::word(&Ident::new("character set", charset)?)),
            ("collation", &Fragment::word(&Ident::new("collation", collation)?)),
        ],
    );
    let mut weights = Vec::with_capacity(NEAR_CHARACTERS.len());
    let mut several_levels = false;
    for c in NEAR_CHARACTERS {
        let utf8 = c.to_string().into_bytes();
        let (w, several): (Option<Vec<u8>>, bool) = db
            .conn
            .exec_first(&query, (&utf8, &utf8, &utf8, &utf8))
            .with_context(|| format!("cannot ask the server how collation {collation} weighs punctuation"))?
            .context("the punctuation probe returned no row")?;
        weights.push(w);
        several_levels = several;
    }
    Ok(Near { several_levels, patterns: near_patterns(&weights) })
}

/// How the collations of the key columns (step, device, phone) pad.
fn paddings(db: &mut Db, info: &TableInfo) -> Result<[Padding; 3]> {
    let mut probe = |name: &str| -> Result<Padding> {
        let col = info.column(name).with_context(|| format!("table {} has no column {name}", info.name))?;
        let (Some(charset), Some(collation)) = (&col.charset, &col.collation) else {
            // A binary string (no character set): its weight is its bytes, and nothing pads.
            return Ok(Padding { space_weight: Vec::new(), pad_space: false });
        };
        let query = crate::sql::render_parts(
            crate::sql::SCAN_COLLATION,
            &[],
            &[
                ("charset", &Fragment::word(&Ident::new("character set", charset)?)),
                ("collation", &Fragment::word(&Ident::new("collation", collation)?)),
            ],
        );
        let (space_weight, pad_space): (Vec<u8>, bool) = db
            .conn
            .query_first(query)
            .with_context(|| format!("cannot ask the server how collation {collation} compares trailing spaces"))?
            .context("the collation probe returned no row")?;
        Ok(Padding { space_weight, pad_space })
    };
    Ok([probe("sequence_stepid")?, probe("device_id")?, probe("recipient_phone")?])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_only_whole_trailing_space_units_under_pad_space() {
        let pad = Padding { space_weight: vec![0x02, 0x09], pad_space: true };
        assert_eq!(pad.strip(&[0x0E, 0x33, 0x02, 0x09, 0x02, 0x09]), [0x0E, 0x33]);
        assert_eq!(pad.strip(&[0x02, 0x09, 0x0E, 0x33]), [0x02, 0x09, 0x0E, 0x33], "leading spaces count");
        // 0x09 0x02 0x09 ends in the space's bytes but not on a unit boundary.
        assert_eq!(pad.strip(&[0x09, 0x02, 0x09]), [0x09, 0x02, 0x09]);
        assert_eq!(pad.strip(&[0x02, 0x09]), [] as [u8; 0], "all spaces equal the empty string");
        let no_pad = Padding { space_weight: vec![0x02, 0x09], pad_space: false };
        assert_eq!(no_pad.strip(&[0x0E, 0x33, 0x02, 0x09]), [0x0E, 0x33, 0x02, 0x09]);
        let bin = Padding { space_weight: vec![0, 0, 0x20], pad_space: true };
        assert_eq!(bin.strip(&[0, 0, 0x61, 0, 0, 0x20]), [0, 0, 0x61]);
    }

    #[test]
    fn near_patterns_skip_unheld_empty_and_repeated_weights() {
        let w = |b: &[u8]| Some(b.to_vec());
        let got = near_patterns(&[w(b"\x02\x09"), None, w(b""), w(b"\x02\x09"), w(b"\x02\x0d")]);
        assert_eq!(got, vec![b"\x02\x09".to_vec(), vec![], vec![], vec![], b"\x02\x0d".to_vec()]);
    }

    #[test]
    fn the_near_weight_trims_cuts_and_removes_as_the_statement_does() {
        let near = Near { several_levels: false, patterns: vec![b"\x02\x09".to_vec(), vec![], b"ab".to_vec()] };
        // Trailing trim repeated, then each pattern removed left to right without overlap.
        assert_eq!(near.weight(b"x\x02\x09yaab\x02\x09\x02\x09", b"\x02\x09"), b"xya");
        assert_eq!(near.weight(b"aaabb", b""), b"aab", "REPLACE('aaabb', 'ab', '') = 'aab'");
        assert_eq!(near.weight(b"", b"z"), b"");
        let levels = Near { several_levels: true, patterns: vec![b"-".to_vec()] };
        assert_eq!(levels.weight(b"1-2\x00\x003-4", b""), b"12", "only the first level");
        assert_eq!(levels.weight(b"1\x00-2", b""), b"1\x002", "a single 0x00 is not a level separator");
        assert_eq!(Near::default().weight(b"60 1", b" "), b"60 1");
    }

    #[test]
    fn a_pattern_is_found_at_any_offset_and_only_whole() {
        for (s, found) in [
            (&b"\x02\x09\x0e\x2a"[..], true),
            (b"\x0e\x2a\x02\x09", true),
            (b"\x0e\x02\x09\x2a", true),
            (b"\x0e\x02\x0a\x02", false),
            (b"\x02", false),
            (b"", false),
        ] {
            assert_eq!(contains(s, b"\x02\x09"), found, "{s:?}");
        }
    }

    #[test]
    fn the_server_trims_the_space_weight_only_under_pad_space() {
        let pad = Padding { space_weight: vec![0x02, 0x09], pad_space: true };
        assert_eq!(pad.trailing(), [0x02, 0x09]);
        let no_pad = Padding { space_weight: vec![0x02, 0x09], pad_space: false };
        assert_eq!(no_pad.trailing(), [] as [u8; 0]);
    }
}
