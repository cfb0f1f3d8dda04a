//! Ideographic Description Sequences (IDS), as OpenCC 1.4.2 treats them: where no dictionary key
//! matches and a *complete* IDS starts, the whole sequence is copied unchanged, so that the
//! characters describing a glyph are never converted one by one.
//!
//! An IDS is an operator (U+2FF0–U+2FFF) followed by its operands, each a character or, nested,
//! another IDS. Arity 3 for U+2FF2 and U+2FF3, 1 for U+2FFE and U+2FFF, 2 for the rest. Any
//! code point can be an operand, a newline too. OpenCC's limits are kept exactly: at most 16
//! levels (counting the operands' level) and 64 code points; past them, or where the text ends
//! before the last operand, the operator is an ordinary character.

use crate::trie::decode;

/// The number of operands an IDS operator takes, 0 for any other code point.
#[inline]
pub(crate) fn arity(c: u32) -> usize {
    match c {
        0x2FF2 | 0x2FF3 => 3,
        0x2FFE | 0x2FFF => 1,
        0x2FF0..=0x2FFD => 2,
        _ => 0,
    }
}

const MAX_DEPTH: usize = 16;
pub(crate) const MAX_CODE_POINTS: usize = 64;

enum Parse {
    Complete(usize),
    Incomplete,
    Invalid,
}

fn consume(bytes: &[u8], depth_left: usize, code_points: &mut usize) -> Parse {
    if bytes.is_empty() {
        return Parse::Incomplete;
    }
    if depth_left == 0 || *code_points >= MAX_CODE_POINTS {
        return Parse::Invalid;
    }
    let (c, len) = decode(bytes, 0);
    *code_points += 1;
    let n = arity(c);
    let mut offset = len;
    for _ in 0..n {
        if offset >= bytes.len() {
            return Parse::Incomplete;
        }
        match consume(&bytes[offset..], depth_left - 1, code_points) {
            Parse::Complete(l) => offset += l,
            other => return other,
        }
    }
    Parse::Complete(offset)
}

/// The byte length of the complete IDS at the start of `bytes` (valid UTF-8), or 0 when `bytes`
/// does not start with one.
pub(crate) fn complete_len(bytes: &[u8]) -> usize {
    if bytes.is_empty() || arity(decode(bytes, 0).0) == 0 {
        return 0;
    }
    match consume(bytes, MAX_DEPTH, &mut 0) {
        Parse::Complete(len) => len,
        Parse::Incomplete | Parse::Invalid => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_nested_and_incomplete() {
        assert_eq!(complete_len("⿰氵青x".as_bytes()), "⿰氵青".len());
        assert_eq!(complete_len("⿱⿰木木木".as_bytes()), "⿱⿰木木木".len());
        assert_eq!(complete_len("⿲a\nb".as_bytes()), "⿲a\nb".len());
        assert_eq!(complete_len("⿾x".as_bytes()), "⿾x".len());
        assert_eq!(complete_len("⿰氵".as_bytes()), 0);
        assert_eq!(complete_len("氵青".as_bytes()), 0);
    }

    #[test]
    fn depth_and_length_limits() {
        // 15 nested binary operators: the innermost operands sit at the 16th level.
        let ok = "⿰".repeat(15) + &"a".repeat(16);
        assert_eq!(complete_len(ok.as_bytes()), ok.len());
        let deep = "⿰".repeat(16) + &"a".repeat(17);
        assert_eq!(complete_len(deep.as_bytes()), 0);
        // 63 code points in a chain of unary operators plus one operand = 64: complete.
        let long = "⿾".repeat(15) + "a";
        assert_eq!(complete_len(long.as_bytes()), long.len());
        // A wide tree over 64 code points is invalid.
        let wide = format!(
            "⿲{0}{0}{0}",
            format!("⿲{0}{0}{0}", format!("⿲{0}{0}{0}", "⿲abc"))
        );
        assert!(wide.chars().count() > 64);
        assert_eq!(complete_len(wide.as_bytes()), 0);
    }
}
