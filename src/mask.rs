//! Keeping phone numbers out of what seqfix stores and logs: the run ledger's summaries,
//! `seqfix_schema_history.error`, error lines and log output. The report on stdout keeps
//! them (`--mask-phones` masks it too). Pure functions; a leaf module.

/// The mask character.
pub const DOT: char = '•';

/// A phone as `+60•••••6789`: a leading `+` kept, every other character that is not a
/// digit dropped, the digits masked but for the first two and the last four (with 9 digits
/// or more), the last two (5 to 8), or none (fewer). Counting digits as Unicode does, so
/// fullwidth digits are masked too. Pure.
pub fn phone(p: &str) -> String {
    let p = p.trim();
    let digits: Vec<char> = p.chars().filter(|c| c.is_numeric()).collect();
    let n = digits.len();
    let (head, tail) = match n {
        0..=4 => (0, 0),
        5..=8 => (0, 2),
        _ => (2, 4),
    };
    let mut out = String::new();
    if p.starts_with(['+', '\u{ff0b}']) {
        out.push('+');
    }
    for (i, d) in digits.iter().enumerate() {
        out.push(if i < head || i >= n - tail { *d } else { DOT });
    }
    if n == 0 {
        // Not a phone at all: say only how long it was.
        out.extend(std::iter::repeat_n(DOT, p.chars().count().min(12)));
    }
    out
}

/// Server and error text with the phones masked: the value of every `Duplicate entry '...'`
/// (MySQL's ER_DUP_ENTRY names the key's values, phone included) and every run of a `+`
/// followed by at least five digits (spaces, `-`, `(`, `)` may separate them) anywhere, each
/// masked by `phone`. Run ids, counts and addresses, which never start with a `+`, are left
/// alone. Pure.
pub fn text(s: &str) -> String {
    const ENTRY: &str = "Duplicate entry '";
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find(ENTRY) {
        let (before, after) = rest.split_at(at + ENTRY.len());
        out += &plus_runs(before);
        // The value ends at the last "' for key" (the value itself may hold quotes).
        let end = after.find("' for key").unwrap_or(after.len());
        out += &digit_runs(&after[..end]);
        rest = &after[end..];
    }
    out += &plus_runs(rest);
    out
}

/// Whether `c` may sit between the digits of a phone.
fn separator(c: char) -> bool {
    matches!(c, ' ' | '-' | '(' | ')' | '\u{a0}')
}

/// Masks every maximal run of digits and separators holding at least five digits (inside a
/// duplicate key's value, where a phone sits between the other columns' values).
fn digit_runs(s: &str) -> String {
    mask_runs(s, false)
}

/// Masks every `+` followed by a run of digits and separators holding at least five digits.
fn plus_runs(s: &str) -> String {
    mask_runs(s, true)
}

fn mask_runs(s: &str, need_plus: bool) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < chars.len() {
        let plus = matches!(chars[i], '+' | '\u{ff0b}');
        let start_digits = if plus { i + 1 } else { i };
        if (plus || !need_plus) && start_digits < chars.len() && chars[start_digits].is_numeric() {
            // The run: digits and separators, ending at its last digit.
            let mut j = start_digits;
            let mut last_digit = start_digits;
            let mut count = 0;
            while j < chars.len() && (chars[j].is_numeric() || separator(chars[j])) {
                if chars[j].is_numeric() {
                    count += 1;
                    last_digit = j;
                }
                j += 1;
            }
            if count >= 5 {
                let run: String = chars[i..=last_digit].iter().collect();
                out += &phone(&run);
                i = last_digit + 1;
                continue;
            }
            // Too short to be a phone: copy it as it is.
            out.extend(&chars[i..=last_digit]);
            i = last_digit + 1;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_country_code_and_the_last_four() {
        assert_eq!(phone("+60123456789"), "+60•••••6789");
        assert_eq!(phone("+60 12-345 6789"), "+60•••••6789");
        assert_eq!(phone("60123456789"), "60•••••6789");
        assert_eq!(phone("\u{ff0b}60123456789"), "+60•••••6789", "a fullwidth plus is a plus");
        assert_eq!(phone("+６０１２３４５６７８９"), "+６０•••••６７８９", "fullwidth digits are digits");
    }

    #[test]
    fn short_and_odd_values_reveal_less() {
        assert_eq!(phone("+6012345"), "+•••••45");
        assert_eq!(phone("1234"), "••••");
        assert_eq!(phone("abc"), "•••");
        assert_eq!(phone(""), "");
        assert!(!phone("+60 12 345 6789 ext. 12").contains("345"));
    }

    #[test]
    fn duplicate_entries_in_server_messages_are_masked() {
        let m = "Duplicate entry 'step-1-+60123456789-dev-7' for key 'unique_sequence_message'";
        assert_eq!(text(m), "Duplicate entry 'step-1-+60•••••6789-dev-7' for key 'unique_sequence_message'");
        // Without a plus, separated from the step by a digit and a dash, still masked.
        let m = "Duplicate entry 's1-60123456789-d1' for key 'k'";
        assert!(!text(m).contains("234567"), "{}", text(m));
        assert!(text(m).ends_with("for key 'k'"));
    }

    #[test]
    fn plus_phones_anywhere_are_masked_but_ids_counts_and_addresses_are_not() {
        let line =
            "run 6f1c2a3b-1234-5678-9abc-123456789012 stopped after 1000000 rows at 127.0.0.1:3306; row +60123456789";
        assert_eq!(
            text(line),
            "run 6f1c2a3b-1234-5678-9abc-123456789012 stopped after 1000000 rows at 127.0.0.1:3306; row +60•••••6789"
        );
        assert_eq!(text("+1 (555) 123-4567 called"), "+15•••••4567 called");
        assert_eq!(text("a + b, +12 c"), "a + b, +12 c");
    }
}
