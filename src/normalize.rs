//! Opt-in normalization of what real files carry: presentation forms, width, interpunct and dash
//! variants, radicals, ASCII punctuation inside Chinese sentences, and quotation marks of the
//! other region. Everything is off by default, so the default output stays OpenCC's.
//!
//! The character folds come from tables in `tables/normalize/` (generated from the Unicode
//! Character Database; see its README). U+3000 and ordinary full-width punctuation are never
//! changed, and nothing here applies NFKC (which would turn `，` into `,`).
//!
//! A [`Normalizer`] works on text that arrives in pieces: [`Normalizer::before`] runs before
//! conversion (folds, so that a radical becomes an ideograph that then converts, and full-width
//! punctuation), [`Normalizer::after`] after it (quotation marks, paired line by line).

use std::sync::OnceLock;

use crate::dict::parse_text_dict;

/// Which normalizations to apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Normalize {
    /// Vertical presentation forms and small form variants → the normal full-width marks.
    pub forms: bool,
    /// Halfwidth CJK punctuation ｡｢｣､ → 。「」、.
    pub halfwidth_cjk: bool,
    /// Interpunct variants ・ ‧ ･ → ·, and ― (U+2015) → — (U+2014).
    pub interpunct: bool,
    /// Full-width letters and digits → ASCII.
    pub fullwidth_ascii: bool,
    /// Kangxi Radicals and CJK Radicals Supplement → unified ideographs.
    pub radicals: bool,
    /// ASCII `, ! ? : ; ( )` inside Chinese sentences → `，！？：；（）`.
    pub fullwidth_punct: bool,
    /// Quotation marks, paired and re-rendered in this style (`None`: left alone).
    pub quotes: Option<QuoteStyle>,
}

impl Normalize {
    /// The set that is safe for ordinary horizontal prose (`fanjian --normalize`): presentation
    /// and small forms, halfwidth CJK punctuation, interpunct and dash variants, and ASCII
    /// punctuation inside Chinese sentences. Not the letter/digit width fold, not radicals, not
    /// quotation marks.
    pub fn prose() -> Normalize {
        Normalize {
            forms: true,
            halfwidth_cjk: true,
            interpunct: true,
            fullwidth_punct: true,
            ..Normalize::default()
        }
    }

    /// Whether nothing is turned on.
    pub fn is_off(&self) -> bool {
        *self == Normalize::default()
    }

    fn folds(&self) -> bool {
        self.forms || self.halfwidth_cjk || self.interpunct || self.fullwidth_ascii || self.radicals
    }
}

/// How quotation marks are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuoteStyle {
    /// Mainland China (GB/T 15834): “ ” outside, ‘ ’ inside.
    Mainland,
    /// Taiwan and Hong Kong (and Japanese): 「 」 outside, 『 』 inside.
    Corner,
}

fn table(text: &'static str) -> Vec<(char, char)> {
    parse_text_dict(text, "normalization table")
        .expect("built-in table parses")
        .into_iter()
        .filter_map(|e| {
            let mut k = e.key.chars();
            let mut v = e.value.chars();
            match (k.next(), k.next(), v.next(), v.next()) {
                (Some(k), None, Some(v), None) => Some((k, v)),
                _ => None,
            }
        })
        .collect()
}

struct Tables {
    forms: Vec<(char, char)>,
    halfwidth_cjk: Vec<(char, char)>,
    interpunct: Vec<(char, char)>,
    fullwidth_ascii: Vec<(char, char)>,
    radicals: Vec<(char, char)>,
}

fn tables() -> &'static Tables {
    static TABLES: OnceLock<Tables> = OnceLock::new();
    TABLES.get_or_init(|| Tables {
        forms: table(include_str!("../tables/normalize/forms.txt")),
        halfwidth_cjk: table(include_str!("../tables/normalize/halfwidth_cjk.txt")),
        interpunct: table(include_str!("../tables/normalize/interpunct.txt")),
        fullwidth_ascii: table(include_str!("../tables/normalize/fullwidth_ascii.txt")),
        radicals: table(include_str!("../tables/normalize/radicals.txt")),
    })
}

/// Han ideographs (and radicals folded into them).
fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F)
}

/// A character after which ASCII punctuation belongs to a Chinese sentence: Han, or CJK or
/// full-width punctuation (but not the ideographic space).
fn chinese_context(c: char) -> bool {
    is_han(c) || matches!(c as u32, 0x3001..=0x303F | 0xFF01..=0xFF60)
}

/// Quotation marks, dashes and ellipses pass the context of what precedes them on.
fn transparent(c: char) -> bool {
    matches!(c as u32, 0x2014 | 0x2018..=0x201F | 0x2026)
}

/// Characters some fold may change.
fn folded_range(c: char) -> bool {
    matches!(
        c as u32,
        0x2015..=0x2027
            | 0x2E80..=0x2FDF
            | 0x30FB
            | 0xFE10..=0xFE6B
            | 0xFF10..=0xFF19
            | 0xFF21..=0xFF3A
            | 0xFF41..=0xFF5A
            | 0xFF61..=0xFF65
    )
}

/// Per lead byte: 0 if the character may matter to some rule (the ASCII of
/// [`INTERESTING_ASCII`], and the lead bytes of non-ASCII whitespace and of folded characters),
/// else the length of the character to skip.
const STEP: [u8; 256] = {
    let mut t = [1u8; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = match b {
            0x00..=0x7F if INTERESTING_ASCII[b] => 0,
            0xC2 | 0xE1 | 0xE2 | 0xE3 | 0xEF => 0,
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            0xF0..=0xFF => 4,
            _ => 1,
        };
        b += 1;
    }
    t
};

/// The ASCII characters the full-width punctuation rule looks at (the marks, '/' for URLs, and
/// whitespace, which ends a URL).
const INTERESTING_ASCII: [bool; 128] = {
    let mut t = [false; 128];
    let marks = b",!?:;()/ \t\n\r\x0B\x0C";
    let mut k = 0;
    while k < marks.len() {
        t[marks[k] as usize] = true;
        k += 1;
    }
    t
};

/// Bytes of text a line may reach before its quotation marks are paired without its end.
const MAX_LINE: usize = 1 << 20;

/// Applies a [`Normalize`] to text that arrives in pieces.
///
/// ```
/// use fanjian::{Normalize, Normalizer, QuoteStyle};
/// let mut n = Normalizer::new(Normalize { quotes: Some(QuoteStyle::Corner), ..Normalize::prose() });
/// let mut before = String::new();
/// n.before("活久見,OpenAI和Google“世紀握手”,達成合作了!", &mut before);
/// n.finish_before(&mut before);
/// let mut after = String::new();
/// n.after(&before, &mut after);
/// n.finish_after(&mut after);
/// assert_eq!(after, "活久見，OpenAI和Google「世紀握手」，達成合作了！");
/// ```
#[derive(Debug)]
pub struct Normalizer {
    options: Normalize,
    folds: Vec<(char, char)>,
    // `before` state: the last character written, the last two seen (for "://"), whether the
    // current word is a URL, open parentheses (and whether each was made full-width), and a
    // trailing '(' held back until the next character is known.
    prev: Option<char>,
    prev2: Option<char>,
    /// Whether the text so far ends in a Chinese sentence.
    context: bool,
    in_url: bool,
    parens: Vec<bool>,
    held_paren: bool,
    // `after` state: the incomplete last line.
    line: String,
    unbalanced: u64,
}

impl Normalizer {
    /// A normalizer for `options`.
    pub fn new(options: Normalize) -> Normalizer {
        let t = tables();
        let mut folds = Vec::new();
        for (on, table) in [
            (options.forms, &t.forms),
            (options.halfwidth_cjk, &t.halfwidth_cjk),
            (options.interpunct, &t.interpunct),
            (options.fullwidth_ascii, &t.fullwidth_ascii),
            (options.radicals, &t.radicals),
        ] {
            if on {
                folds.extend_from_slice(table);
            }
        }
        folds.sort();
        folds.dedup_by_key(|p| p.0);
        Normalizer {
            options,
            folds,
            prev: None,
            prev2: None,
            context: false,
            in_url: false,
            parens: Vec::new(),
            held_paren: false,
            line: String::new(),
            unbalanced: 0,
        }
    }

    /// Whether [`Normalizer::before`] changes anything.
    pub fn has_before(&self) -> bool {
        self.options.folds() || self.options.fullwidth_punct
    }

    /// Whether [`Normalizer::after`] changes anything.
    pub fn has_after(&self) -> bool {
        self.options.quotes.is_some()
    }

    /// Quotation marks left alone because they had no partner on their line.
    pub fn unbalanced_quotes(&self) -> u64 {
        self.unbalanced
    }

    fn fold(&self, c: char) -> char {
        Normalizer::fold_with(&self.folds, c)
    }

    fn fold_with(folds: &[(char, char)], c: char) -> char {
        // Only these ranges hold folded characters: most text skips the search.
        if !folded_range(c) {
            return c;
        }
        match folds.binary_search_by_key(&c, |p| p.0) {
            Ok(i) => folds[i].1,
            Err(_) => c,
        }
    }

    /// Writes `c` (after the full-width punctuation rule) with `next` the character after it.
    fn punct(&mut self, c: char, next: Option<char>, out: &mut String) {
        let ctx = self.context;
        let written = if !self.options.fullwidth_punct || self.in_url {
            c
        } else {
            match c {
                ',' | '!' | '?' | ':' | ';' if ctx => {
                    char::from_u32(c as u32 + 0xFEE0).unwrap_or(c)
                }
                '(' => {
                    let full = ctx || next.is_some_and(is_han);
                    self.parens.push(full);
                    if full {
                        '（'
                    } else {
                        c
                    }
                }
                ')' => match self.parens.pop() {
                    Some(true) => '）',
                    Some(false) => c,
                    None if ctx => '）',
                    None => c,
                },
                _ => c,
            }
        };
        if c.is_whitespace() {
            self.in_url = false;
            self.parens.clear();
        } else if c == '/' && self.prev == Some('/') && self.prev2 == Some(':') {
            self.in_url = true;
        }
        self.prev2 = self.prev;
        self.prev = Some(c);
        if !transparent(written) {
            self.context = chinese_context(written);
        }
        out.push(written);
    }

    /// Normalizes `text` (the part that goes before conversion) into `out`.
    pub fn before(&mut self, text: &str, out: &mut String) {
        if !self.has_before() {
            out.push_str(text);
            return;
        }
        if self.held_paren {
            let Some(next) = text.chars().next() else {
                return;
            };
            self.held_paren = false;
            self.punct('(', Some(self.fold(next)), out);
        }
        let bytes = text.as_bytes();
        let mut copied = 0;
        let mut i = 0;
        // Most characters cannot matter to a rule: skip them a whole character at a time by
        // their lead byte, then look closer at a candidate; copy what lies between in one piece.
        loop {
            while let Some(&b) = bytes.get(i) {
                match STEP[usize::from(b)] {
                    0 => break,
                    step => i += usize::from(step),
                }
            }
            if i >= bytes.len() {
                break;
            }
            let b = bytes[i];
            let len = match b {
                0x00..=0x7F => 1,
                0xC0..=0xDF => 2,
                0xE0..=0xEF => 3,
                _ => 4,
            };
            let matters = if b < 0x80 {
                INTERESTING_ASCII[usize::from(b)]
            } else {
                // The only leads of non-ASCII whitespace and of folded characters; most CJK
                // punctuation (、。「」，：) is ruled out by its second or third byte.
                let (b1, b2) = (
                    bytes.get(i + 1).copied().unwrap_or(0),
                    bytes.get(i + 2).copied().unwrap_or(0),
                );
                let maybe = match b {
                    0xE3 => (b1 == 0x80 && b2 == 0x80) || (b1 == 0x83 && b2 == 0xBB),
                    0xEF => matches!(
                        (b1, b2),
                        (0xB8 | 0xB9, _) | (0xBC, 0x90..) | (0xBD, ..=0xA5)
                    ),
                    _ => true,
                };
                maybe && {
                    let c = char::from_u32(crate::trie::decode(bytes, i).0).unwrap_or('\u{FFFD}');
                    c.is_whitespace() || folded_range(c)
                }
            };
            if !matters {
                i += len;
                continue;
            }
            if copied < i {
                self.pass_through(&text[copied..i], out);
            }
            let c = self.fold(text[i..].chars().next().unwrap_or('\u{FFFD}'));
            let next = text[i + len..].chars().next().map(|n| self.fold(n));
            i += len;
            copied = i;
            if c == '(' && next.is_none() {
                // Whether it becomes （ depends on the next character: wait for it.
                self.held_paren = true;
                return;
            }
            self.punct(c, next, out);
        }
        if copied < bytes.len() {
            self.pass_through(&text[copied..], out);
        }
    }

    /// Copies `run`, in which no character matters to any rule, and keeps the state right.
    fn pass_through(&mut self, run: &str, out: &mut String) {
        out.push_str(run);
        let mut last = run.chars().rev();
        let (p, p2) = (last.next(), last.next());
        self.prev2 = if p2.is_some() { p2 } else { self.prev };
        self.prev = p.or(self.prev);
        if let Some(c) = run.chars().rev().find(|&c| !transparent(c)) {
            self.context = chinese_context(c);
        }
    }

    /// Writes what [`Normalizer::before`] held back.
    pub fn finish_before(&mut self, out: &mut String) {
        if std::mem::take(&mut self.held_paren) {
            self.punct('(', None, out);
        }
    }

    /// Normalizes converted `text` (quotation marks) into `out`, a whole line at a time.
    pub fn after(&mut self, text: &str, out: &mut String) {
        let Some(style) = self.options.quotes else {
            out.push_str(text);
            return;
        };
        let mut rest = text;
        while let Some(nl) = memchr::memchr(b'\n', rest.as_bytes()) {
            let line = &rest[..=nl];
            rest = &rest[nl + 1..];
            if !self.line.is_empty() {
                self.line.push_str(line);
                self.unbalanced += requote(&mut self.line, style);
                out.push_str(&self.line);
                self.line.clear();
            } else if has_quote_marks(line) {
                let mut owned = line.to_string();
                self.unbalanced += requote(&mut owned, style);
                out.push_str(&owned);
            } else {
                out.push_str(line);
            }
        }
        self.line.push_str(rest);
        if self.line.len() > MAX_LINE {
            // A line this long is paired without its end, to keep memory bounded.
            self.unbalanced += requote(&mut self.line, style);
            out.push_str(&self.line);
            self.line.clear();
        }
    }

    /// Writes what [`Normalizer::after`] held back.
    pub fn finish_after(&mut self, out: &mut String) {
        if let Some(style) = self.options.quotes {
            self.unbalanced += requote(&mut self.line, style);
        }
        out.push_str(&self.line);
        self.line.clear();
    }
}

/// Whether `line` holds any of “ ” ‘ ’ 「 」 『 』 (E2 80 98..9D and E3 80 8C..8F in UTF-8).
fn has_quote_marks(line: &str) -> bool {
    let b = line.as_bytes();
    memchr::memchr2_iter(0xE2, 0xE3, b).any(|i| {
        b.get(i + 1) == Some(&0x80)
            && b.get(i + 2).is_some_and(|&t| {
                if b[i] == 0xE2 {
                    (0x98..=0x9D).contains(&t)
                } else {
                    (0x8C..=0x8F).contains(&t)
                }
            })
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Double,
    Single,
}

/// Pairs the quotation marks of one line and writes each pair in `style` by its nesting depth.
/// Returns how many marks had no partner (left as they were).
fn requote(line: &mut String, style: QuoteStyle) -> u64 {
    let mut stack: Vec<(usize, Kind)> = Vec::new();
    let mut pairs: Vec<(usize, usize, usize)> = Vec::new();
    let mut unbalanced = 0;
    let bytes = line.as_bytes();
    // Every mark is three bytes starting E2 or E3: visit only those, not every character.
    for at in memchr::memchr2_iter(0xE2, 0xE3, bytes) {
        let Some(c) = line.get(at..at + 3).and_then(|s| s.chars().next()) else {
            continue;
        };
        // Only ASCII letters and digits around a mark matter (for apostrophes).
        let before = at.checked_sub(1).map(|i| char::from(bytes[i]));
        let after = bytes.get(at + 3).map(|&b| char::from(b));
        let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        match c {
            '“' | '「' => stack.push((at, Kind::Double)),
            '『' => stack.push((at, Kind::Single)),
            // ‘ between letters is not an opening mark (rare, but seen in transliterations).
            '‘' if !(alnum(before) && alnum(after)) => stack.push((at, Kind::Single)),
            '”' | '」' | '』' | '’' => {
                let kind = if matches!(c, '”' | '」') {
                    Kind::Double
                } else {
                    Kind::Single
                };
                // An apostrophe (that’s, don’t, the students’ books) is not a closing mark.
                if c == '’'
                    && (alnum(before) && alnum(after) || !stack.iter().any(|s| s.1 == Kind::Single))
                {
                    continue;
                }
                match stack.iter().rposition(|s| s.1 == kind) {
                    Some(p) => {
                        unbalanced += (stack.len() - p - 1) as u64;
                        stack.truncate(p + 1);
                        let (open, _) = stack.pop().unwrap();
                        pairs.push((open, at, p + 1));
                    }
                    None => unbalanced += 1,
                }
            }
            _ => {}
        }
    }
    unbalanced += stack.len() as u64;
    for (open, close, depth) in pairs {
        let (o, c) = match (style, depth % 2 == 1) {
            (QuoteStyle::Mainland, true) => ('“', '”'),
            (QuoteStyle::Mainland, false) => ('‘', '’'),
            (QuoteStyle::Corner, true) => ('「', '」'),
            (QuoteStyle::Corner, false) => ('『', '』'),
        };
        // Every mark involved is three bytes in UTF-8: replacing keeps all offsets.
        line.replace_range(open..open + 3, o.encode_utf8(&mut [0; 4]));
        line.replace_range(close..close + 3, c.encode_utf8(&mut [0; 4]));
    }
    unbalanced
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(options: Normalize, text: &str) -> (String, u64) {
        let mut n = Normalizer::new(options);
        let (mut a, mut b) = (String::new(), String::new());
        n.before(text, &mut a);
        n.finish_before(&mut a);
        n.after(&a, &mut b);
        n.finish_after(&mut b);
        (b, n.unbalanced_quotes())
    }

    fn full() -> Normalize {
        Normalize {
            fullwidth_punct: true,
            ..Normalize::default()
        }
    }

    #[test]
    fn fullwidth_punctuation_in_chinese_sentences_only() {
        for (input, want) in [
            (
                "活久見,OpenAI和Google「世紀握手」,達成合作了!",
                "活久見，OpenAI和Google「世紀握手」，達成合作了！",
            ),
            ("共1,000人,3:30開始", "共1,000人，3:30開始"),
            ("Hello, world! 你好!", "Hello, world! 你好！"),
            ("真的嗎?!", "真的嗎？！"),
            ("他說“好”,然後…!", "他說“好”，然後…！"),
            ("He said “fine”, then left.", "He said “fine”, then left."),
            ("中文(註釋)和English (note)", "中文（註釋）和English (note)"),
            ("(註釋)在前", "（註釋）在前"),
            (
                "網址:https://例子.com/a,b?c=中文,d",
                "網址：https://例子.com/a,b?c=中文,d",
            ),
            ("f(x) = g(y);", "f(x) = g(y);"),
        ] {
            assert_eq!(run(full(), input).0, want, "{input}");
        }
    }

    #[test]
    fn held_parenthesis_across_pieces() {
        let mut n = Normalizer::new(full());
        let mut out = String::new();
        for piece in ["中文", "(", "註", "釋)", "x("] {
            n.before(piece, &mut out);
        }
        n.finish_before(&mut out);
        assert_eq!(out, "中文（註釋）x(");
    }

    #[test]
    fn quotes_nested_apostrophes_unbalanced() {
        let corner = Normalize {
            quotes: Some(QuoteStyle::Corner),
            ..Normalize::default()
        };
        let mainland = Normalize {
            quotes: Some(QuoteStyle::Mainland),
            ..Normalize::default()
        };
        assert_eq!(
            run(corner, "他说：“她说‘我说“好”’。”").0,
            "他说：「她说『我说「好」』。」"
        );
        assert_eq!(
            run(mainland, "他說：「她說『好』。」").0,
            "他说：“她说‘好’。”".replace('说', "說")
        );
        // Apostrophes in English inside Chinese text stay apostrophes.
        assert_eq!(
            run(corner, "他說“that’s the students’ book”。").0,
            "他說「that’s the students’ book」。"
        );
        // ASCII quotes are never touched; an unbalanced mark is left alone and counted.
        assert_eq!(run(corner, "\"引文\" 和 “未完").0, "\"引文\" 和 “未完");
        assert_eq!(run(corner, "“未完").1, 1);
        // Pairs do not reach across lines.
        assert_eq!(run(corner, "“一\n二”"), ("“一\n二”".to_string(), 2));
    }

    #[test]
    fn folds() {
        let all = Normalize {
            forms: true,
            halfwidth_cjk: true,
            interpunct: true,
            fullwidth_ascii: true,
            radicals: true,
            ..Normalize::default()
        };
        assert_eq!(
            run(all, "︐︒﹏﹐｡｢｣､・‧･―ＡＢ１２⼈⺟").0,
            "，。﹏，。「」、···—AB12人母"
        );
        // U+3000 and ordinary full-width punctuation are never changed.
        assert_eq!(run(all, "\u{3000}，。！（）").0, "\u{3000}，。！（）");
        // Nothing on: the text as it was.
        assert_eq!(run(Normalize::default(), "︐,“x”").0, "︐,“x”");
    }
}
