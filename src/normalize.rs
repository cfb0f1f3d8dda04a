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

use crate::bytes::each;
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

/// Finds the characters that some turned-on rule may change, by their bytes, without decoding:
/// a superset (the caller decides). A mark of `, ! ? : ;` is found by the last byte of the
/// character before it (see [`Candidates::at`]).
#[derive(Debug, Clone, Copy)]
struct Candidates {
    /// The ASCII marks of the full-width punctuation rule (and '/', for URLs).
    marks: bool,
    /// U+FE10–FE6B (EF B8, EF B9): presentation and small forms.
    forms: bool,
    /// U+FF40–FF7F (EF BD): full-width small letters, halfwidth CJK punctuation, ･.
    ef_bd: bool,
    /// U+FF10–FF3F from EF BC 90 on: full-width digits and capital letters.
    ef_bc: bool,
    /// ・ (E3 83 BB), ― and ‧ (E2 80 95, E2 80 A7).
    interpunct: bool,
    /// U+2E80–2FFF (E2 BA..E2 BF): radicals.
    radicals: bool,
}

impl Candidates {
    fn new(o: &Normalize) -> Candidates {
        Candidates {
            marks: o.fullwidth_punct,
            forms: o.forms,
            ef_bd: o.fullwidth_ascii || o.halfwidth_cjk || o.interpunct,
            ef_bc: o.fullwidth_ascii,
            interpunct: o.interpunct,
            radicals: o.radicals,
        }
    }

    /// Whether a candidate starts with the bytes `x y z` (`y`, `z` the bytes after `x`, or 0),
    /// or `y` is a mark of `, ! ? : ;` that `x` may make part of a Chinese sentence (see
    /// [`mark_follows`]).
    /// Comparisons only, combined without branches, so that a block of them vectorizes.
    #[inline(always)]
    fn at(&self, x: u8, y: u8, z: u8) -> bool {
        let mark = (x == b'(') | (x == b')') | (x == b'/') | mark_follows(x, y);
        let ef = (x == 0xEF)
            & ((self.forms & ((y == 0xB8) | (y == 0xB9)))
                | (self.ef_bd & (y == 0xBD))
                | (self.ef_bc & (y == 0xBC) & (z >= 0x90)));
        let e3 = self.interpunct & (x == 0xE3) & (y == 0x83) & (z == 0xBB);
        let e2 = (x == 0xE2)
            & ((self.interpunct & (y == 0x80) & ((z == 0x95) | (z == 0xA7)))
                | (self.radicals & (y >= 0xBA)));
        (self.marks & mark) | ef | e3 | e2
    }
}

/// Whether `b` is one of `, ! ? : ;`, which the full-width punctuation rule changes in Chinese
/// sentences only.
#[inline(always)]
fn sentence_mark(b: u8) -> bool {
    (b == b',') | (b == b'!') | (b == b'?') | (b == b':') | (b == b';')
}

/// Whether `y` is one of `, ! ? : ;` and the byte before it, `x`, ends a character that may
/// be written as one of a Chinese sentence: one beyond ASCII (or one that passes the context
/// on, none of which is ASCII), or a mark the rule may make full-width. After any other ASCII
/// character these marks stay as they are and change no state, so that they are looked at
/// only where this holds (and at the start of a piece, see [`Normalizer::before_in`]): in
/// code and markup, seldom.
#[inline(always)]
fn mark_follows(x: u8, y: u8) -> bool {
    ((x & 0xC0 == 0x80) | sentence_mark(x) | (x == b'(') | (x == b')')) & sentence_mark(y)
}

/// The quotation marks of a line are paired together, up to this many bytes: a longer line is
/// paired in parts of this many bytes from its start (each from the first character that
/// starts at or after a multiple of it), so that a normalizer holds at most one part, and the
/// parts are the same wherever the pieces of the text begin and end.
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
#[derive(Debug, Clone)]
pub struct Normalizer {
    options: Normalize,
    folds: Vec<(char, char)>,
    candidates: Candidates,
    // `before` state: whether the current word is a URL, open parentheses (and whether each was made full-width), and a
    // trailing '(' held back until the next character is known.
    /// The last two bytes of the text so far (for "://" across pieces).
    tail: [u8; 2],
    /// Whether the text so far ends in a Chinese sentence.
    context: bool,
    in_url: bool,
    parens: Vec<bool>,
    held_paren: bool,
    // `after` state: the part of a line held (see `MAX_LINE`; from its first quotation mark
    // until its end arrives, from its start), and the byte before it in the same part; room
    // for the offsets of marks.
    line: String,
    line_before: Option<u8>,
    marks: Vec<usize>,
    unbalanced: u64,
    /// The bytes of the current line before the next piece, and the last byte of the pieces
    /// so far where the next piece starts in the same part of a line.
    line_at: usize,
    piece_before: Option<u8>,
    /// `MAX_LINE` (smaller in tests).
    part: usize,
}

impl Normalizer {
    /// A normalizer for `options`.
    pub fn new(options: Normalize) -> Normalizer {
        let mut folds = Vec::new();
        // The tables are parsed at the first use of a fold (not for a conversion without
        // normalization, whose pipeline makes a normalizer that is off: 0.2 ms of a 1 KB
        // file's 2 ms).
        if options.folds() {
            let t = tables();
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
        }
        folds.sort();
        folds.dedup_by_key(|p| p.0);
        Normalizer {
            options,
            folds,
            candidates: Candidates::new(&options),
            tail: [0; 2],
            context: false,
            in_url: false,
            parens: Vec::new(),
            held_paren: false,
            line: String::new(),
            line_before: None,
            marks: Vec::new(),
            unbalanced: 0,
            line_at: 0,
            piece_before: None,
            part: MAX_LINE,
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

    /// Decides how `c` is written (the full-width punctuation rule), with `next` the character
    /// after it and `after_colon_slash` whether the two before it are ":/", and updates the
    /// state.
    fn punct(&mut self, c: char, next: Option<char>, after_colon_slash: bool) -> char {
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
        if c == '/' && after_colon_slash {
            self.in_url = true;
        }
        if !transparent(written) {
            self.context = chinese_context(written);
        }
        written
    }

    /// Normalizes `text` (the part that goes before conversion) into `out`.
    pub fn before(&mut self, text: &str, out: &mut String) {
        let mut buf = String::new();
        out.push_str(self.before_in(text, &mut buf));
    }

    /// Normalizes `text` (the part that goes before conversion): returns `text` itself, or the
    /// part of it not held back, when nothing changes (the common case: no copy), else the
    /// normalized text, written into `buf`.
    ///
    /// Only candidates (see [`Candidates`]) are looked at one by one; the state that the text
    /// between them would change (the context of a sentence, the end of a URL or of the
    /// parentheses at whitespace) is brought up to date lazily, where a mark needs it.
    pub(crate) fn before_in<'a>(&mut self, text: &'a str, buf: &'a mut String) -> &'a str {
        buf.clear();
        if !self.has_before() {
            return text;
        }
        let bytes = text.as_bytes();
        // `text[..copied]` is in `buf` once something changed (`buf` is empty until then); the
        // context reflects the text up to `seen`, and the URL and parentheses state up to
        // `spaced`.
        let (mut copied, mut seen, mut spaced) = (0, 0, 0);
        if self.held_paren {
            let Some(next) = text.chars().next() else {
                return text;
            };
            self.held_paren = false;
            let tail = self.tail;
            let written = self.punct('(', Some(self.fold(next)), tail == *b":/");
            buf.push(written);
            self.tail = [self.tail[1], b'('];
        }
        // Each candidate in turn (none lies inside another: candidates start characters).
        let candidates = self.candidates;
        let mut held = None;
        let mut candidate = |i: usize| {
            let (code, len) = crate::trie::decode(bytes, i);
            let original = char::from_u32(code).unwrap_or('\u{FFFD}');
            let c = self.fold(original);
            let mark = matches!(c, ',' | '!' | '?' | ':' | ';' | '(' | ')' | '/');
            if c == original && !(mark && self.options.fullwidth_punct) {
                // A candidate by its bytes only.
                return true;
            }
            let end = i + len;
            if mark {
                self.whitespace_in(&text[spaced..i]);
                spaced = end;
            }
            // The characters since the last candidate passed through unchanged: where the
            // context matters (a mark, or a character that passes it on), it is that of the
            // last of them that is not transparent. Any other character sets it anew.
            if seen < i && (mark || transparent(c)) {
                self.context_from(&text[seen..i]);
            }
            if c == '(' && end == bytes.len() {
                // Whether it becomes （ depends on the next character: wait for it.
                held = Some(i);
                return false;
            }
            let next = if c == '(' {
                text[end..].chars().next().map(|n| self.fold(n))
            } else {
                None
            };
            // The byte `k` places before this character, from earlier pieces if need be.
            let back = |k: usize| match i.checked_sub(k) {
                Some(j) => bytes[j],
                None => self.tail[2 + i - k],
            };
            let after_colon_slash = c == '/' && back(2) == b':' && back(1) == b'/';
            let written = self.punct(c, next, after_colon_slash);
            if written != original {
                change(text, buf, &mut copied, i, len, written);
            }
            seen = end;
            true
        };
        // A mark at the start follows a character of an earlier piece.
        let first = bytes
            .first()
            .is_none_or(|&b| !candidates.marks || !sentence_mark(b))
            || candidate(0);
        if first {
            each(
                bytes,
                0,
                |x, y, z| candidates.at(x, y, z),
                |i| {
                    // A candidate itself (a mark of `, ! ? : ;` is one where the byte before it
                    // says so), and the mark after it where it says so.
                    let (x, y) = (bytes[i], bytes.get(i + 1).copied().unwrap_or(0));
                    (sentence_mark(x) || x & 0xC0 == 0x80 || candidate(i))
                        && (!candidates.marks || !mark_follows(x, y) || candidate(i + 1))
                },
            );
        }
        if let Some(i) = held {
            self.held_paren = true;
            self.remember_tail(&bytes[..i]);
            return up_to(text, buf, copied, i);
        }
        if seen < bytes.len() {
            self.context_from(&text[seen..]);
        }
        self.whitespace_in(&text[spaced..]);
        self.remember_tail(bytes);
        up_to(text, buf, copied, text.len())
    }

    /// Whitespace in `run` (since the last mark) ends a URL and the open parentheses.
    fn whitespace_in(&mut self, run: &str) {
        if (self.in_url || !self.parens.is_empty()) && run.chars().any(char::is_whitespace) {
            self.in_url = false;
            self.parens.clear();
        }
    }

    /// Sets the context after `run`, which passes through unchanged.
    fn context_from(&mut self, run: &str) {
        if let Some(c) = run.chars().rev().find(|&c| !transparent(c)) {
            self.context = chinese_context(c);
        }
    }

    /// Keeps the last two bytes of the text so far (for "://" across pieces).
    fn remember_tail(&mut self, bytes: &[u8]) {
        match bytes {
            [.., a, b] => self.tail = [*a, *b],
            [b] => self.tail = [self.tail[1], *b],
            [] => {}
        }
    }

    /// Writes what [`Normalizer::before`] held back.
    pub fn finish_before(&mut self, out: &mut String) {
        if std::mem::take(&mut self.held_paren) {
            let tail = self.tail;
            out.push(self.punct('(', None, tail == *b":/"));
        }
    }

    /// Normalizes `text` (the part that goes before conversion) as a whole, up to its end (as
    /// [`Normalizer::before_in`], then [`Normalizer::finish_before`]): returns `text` itself
    /// where nothing changes, else the normalized text, written into `buf`.
    ///
    /// Where `text` ends before ASCII whitespace (or the input's end) and starts at ASCII
    /// whitespace (or the input's start), a fresh normalizer gives what one that normalized
    /// everything before it would: whitespace ends a URL and the open parentheses and sets
    /// the context anew, changes nothing itself, and a parenthesis held at the end is decided
    /// as before a character that is not Han. The threads normalize their slots so (and the
    /// pipeline the last piece of its input).
    pub(crate) fn before_whole<'a>(&mut self, text: &'a str, buf: &'a mut String) -> &'a str {
        let len = self.before_in(text, buf).len();
        let held = self
            .held_paren
            .then_some(|buf: &mut String| self.finish_before(buf));
        whole(text, buf, len, held)
    }

    /// Normalizes converted `text` (quotation marks) as a whole, up to its end (as
    /// [`Normalizer::after_in`], then [`Normalizer::finish_after`]): returns `text` itself
    /// where nothing changes, else the normalized text, written into `buf`.
    ///
    /// Where `text` ends before a line end (or at the output's end) and starts at one (or at
    /// the output's start), a fresh normalizer gives what one that normalized everything
    /// before it would: the lines are paired one at a time. The threads normalize their
    /// slots so (and the pipeline the last piece of its output).
    pub(crate) fn after_whole<'a>(&mut self, text: &'a str, buf: &'a mut String) -> &'a str {
        let len = self.after_in(text, buf).len();
        let held = (!self.line.is_empty()).then_some(|buf: &mut String| self.finish_after(buf));
        whole(text, buf, len, held)
    }

    /// Normalizes converted `text` (quotation marks) into `out`, a whole line at a time.
    pub fn after(&mut self, text: &str, out: &mut String) {
        let mut buf = String::new();
        out.push_str(self.after_in(text, &mut buf));
    }

    /// Normalizes converted `text` (quotation marks): returns `text`, or the part of it not
    /// held back, when nothing changes, else the normalized text, written into `buf`. A line (or
    /// a part of one, see [`MAX_LINE`]) is held back from its first quotation mark until its
    /// end arrives.
    pub(crate) fn after_in<'a>(&mut self, text: &'a str, buf: &'a mut String) -> &'a str {
        buf.clear();
        let Some(style) = self.options.quotes else {
            return text;
        };
        if text.is_empty() {
            return text;
        }
        let bytes = text.as_bytes();
        // `text[..pos]` is done; the line around `pos` starts at `line` (`None`: before the
        // piece, `line_at` bytes before it).
        let (mut pos, mut line) = (0, None);
        if !self.line.is_empty() {
            match self.part_end(text, 0, None) {
                None => {
                    self.line.push_str(text);
                    self.piece_ends(text);
                    return buf;
                }
                Some(end) => {
                    self.line.push_str(&text[..end]);
                    self.write_line(style, buf);
                    pos = end;
                    line = (bytes[end - 1] == b'\n').then_some(end);
                }
            }
        }
        // `text[..copied]` is in `buf` when `buf` is not empty.
        let mut copied = pos;
        // All the marks, in one scan; then part by part.
        let mut marks = std::mem::take(&mut self.marks);
        marks.clear();
        each(bytes, pos, quote_mark, |at| {
            marks.push(at);
            true
        });
        let mut pairing = Pairing::default();
        let mut k = 0;
        let mut held = None;
        while let Some(&q) = marks.get(k) {
            if let Some(n) = memchr::memrchr(b'\n', &bytes[pos..q]) {
                line = Some(pos + n + 1);
            }
            // The part starts at the line's start or where its bytes reach a multiple of
            // `part`, at the first character from there; it may have started before the piece
            // (then the piece's first byte follows `piece_before` in the part).
            let at = self.in_line(q, line);
            let back = at % self.part;
            let (start, before) = match q.checked_sub(back) {
                Some(mut start) => {
                    while !text.is_char_boundary(start) {
                        start += 1;
                    }
                    (start, None)
                }
                None => (0, self.piece_before),
            };
            let Some(end) = self.part_end(text, q, line) else {
                held = Some((start, before));
                break;
            };
            let part = &bytes[start..end];
            while let Some(&at) = marks.get(k).filter(|&&at| at < end) {
                pairing.mark(part, at - start, before);
                k += 1;
            }
            self.unbalanced += pairing.end_line();
            for (at, mark) in restyle(&text[start..end], &pairing.pairs, style) {
                change(text, buf, &mut copied, start + at, 3, mark);
            }
            pairing.pairs.clear();
            pos = end;
            if bytes[end - 1] == b'\n' {
                line = Some(end);
            }
        }
        self.marks = marks;
        self.piece_ends(text);
        if let Some((start, before)) = held {
            // The part goes on in the next piece: hold it from its start.
            self.line.push_str(&text[start..]);
            self.line_before = before;
            return up_to(text, buf, copied, start);
        }
        up_to(text, buf, copied, text.len())
    }

    /// The bytes of its line before `q` in `text`, the line starting at `line` (see
    /// [`Normalizer::after_in`]).
    fn in_line(&self, q: usize, line: Option<usize>) -> usize {
        match line {
            Some(start) => q - start,
            None => self.line_at + q,
        }
    }

    /// Where the part of a line (see [`MAX_LINE`]) around `q` in `text` ends: after its line's
    /// end, or at the first character from the next multiple of `part`; `None` past the text.
    fn part_end(&self, text: &str, q: usize, line: Option<usize>) -> Option<usize> {
        let bytes = text.as_bytes();
        let at = self.in_line(q, line);
        let mut next = q + (self.part - at % self.part);
        let nl = memchr::memchr(b'\n', &bytes[q..next.min(bytes.len())]);
        if let Some(n) = nl {
            return Some(q + n + 1);
        }
        while next < bytes.len() && !text.is_char_boundary(next) {
            next += 1;
        }
        (next <= bytes.len()).then_some(next)
    }

    /// Moves the position in the line past `text` (not empty), and keeps its last byte where
    /// the next piece starts in the same part.
    fn piece_ends(&mut self, text: &str) {
        let bytes = text.as_bytes();
        let last = text.chars().next_back().map_or(1, char::len_utf8);
        let last_at = match memchr::memrchr(b'\n', bytes) {
            Some(n) => {
                self.line_at = bytes.len() - n - 1;
                // (The last character is the line end itself where this is 0.)
                self.line_at.checked_sub(last)
            }
            None => {
                self.line_at += bytes.len();
                Some(self.line_at - last)
            }
        };
        let same =
            last_at.is_some_and(|l| self.line_at > 0 && l / self.part == self.line_at / self.part);
        self.piece_before = same.then(|| bytes[bytes.len() - 1]);
    }

    /// Pairs the held part of a line's quotation marks (without the rest of it, if it has not
    /// ended) and writes it to `out`.
    fn write_line(&mut self, style: QuoteStyle, out: &mut String) {
        self.unbalanced += requote(&mut self.line, style, self.line_before);
        out.push_str(&self.line);
        self.line.clear();
    }

    /// Writes what [`Normalizer::after`] held back.
    pub fn finish_after(&mut self, out: &mut String) {
        // Nothing is held when quotation marks are left alone.
        if let Some(style) = self.options.quotes {
            self.write_line(style, out);
        }
    }
}

/// What a step of normalization gave for the whole of `text`: `text[..len]`, the part it did
/// not hold back (in `buf` where something changed: the steps write into `buf` only then), then
/// what `finish` writes of what it held back, if it held any.
fn whole<'a>(
    text: &'a str,
    buf: &'a mut String,
    len: usize,
    finish: Option<impl FnOnce(&mut String)>,
) -> &'a str {
    if let Some(finish) = finish {
        if buf.is_empty() {
            buf.push_str(&text[..len]);
        }
        finish(buf);
    }
    match buf.is_empty() {
        true => &text[..len],
        false => buf,
    }
}

/// Writes `text[*copied..at]` and then `c`, in place of the `len` bytes at `at`, to `buf`
/// (reserving room for the whole text the first time), and moves `copied` past them.
fn change(text: &str, buf: &mut String, copied: &mut usize, at: usize, len: usize, c: char) {
    if buf.is_empty() {
        buf.reserve(text.len() + 16);
    }
    buf.push_str(&text[*copied..at]);
    buf.push(c);
    *copied = at + len;
}

/// The piece's output up to `end`: `text[..end]` itself while nothing changed (`buf` empty),
/// else `buf` with the unchanged text up to `end` written after what `copied` marks.
fn up_to<'a>(text: &'a str, buf: &'a mut String, copied: usize, end: usize) -> &'a str {
    if buf.is_empty() {
        return &text[..end];
    }
    buf.push_str(&text[copied..end]);
    buf
}

/// Whether one of “ ” ‘ ’ 「 」 『 』 (E2 80 98..9D and E3 80 8C..8F in UTF-8) starts with the
/// bytes `x y z`.
#[inline(always)]
fn quote_mark(x: u8, y: u8, z: u8) -> bool {
    (y == 0x80)
        & (((x == 0xE2) & (z.wrapping_sub(0x98) <= 5))
            | ((x == 0xE3) & (z.wrapping_sub(0x8C) <= 3)))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Double,
    Single,
}

/// Pairs the quotation marks of one line: the pairs as (open, close, depth) byte offsets, and
/// how many marks had no partner.
fn pair_quotes(line: &str, first: Option<u8>) -> (Vec<(usize, usize, usize)>, u64) {
    let mut pairing = Pairing::default();
    // Visit only the marks, not every character.
    each(line.as_bytes(), 0, quote_mark, |at| {
        pairing.mark(line.as_bytes(), at, first);
        true
    });
    let unbalanced = pairing.end_line();
    (pairing.pairs, unbalanced)
}

/// The pairing of one line's quotation marks, a mark at a time.
#[derive(Default)]
struct Pairing {
    /// Open marks, innermost last.
    stack: Vec<(usize, Kind)>,
    /// (open, close, depth) byte offsets.
    pairs: Vec<(usize, usize, usize)>,
    unbalanced: u64,
}

impl Pairing {
    /// Takes the mark at `bytes[at..at + 3]` (see [`quote_mark`]), with `first` the byte before
    /// `bytes` where it belongs to the same line or part of one.
    fn mark(&mut self, bytes: &[u8], at: usize, first: Option<u8>) {
        let Some(c) = bytes
            .get(at..at + 3)
            .and_then(|s| std::str::from_utf8(s).ok())
            .and_then(|s| s.chars().next())
        else {
            return;
        };
        // Only ASCII letters and digits around a mark matter (for apostrophes).
        let before = at
            .checked_sub(1)
            .map_or(first, |i| Some(bytes[i]))
            .map(char::from);
        let after = bytes.get(at + 3).map(|&b| char::from(b));
        let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
        let stack = &mut self.stack;
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
                    return;
                }
                match stack.iter().rposition(|s| s.1 == kind) {
                    Some(p) => {
                        self.unbalanced += (stack.len() - p - 1) as u64;
                        stack.truncate(p + 1);
                        let (open, _) = stack.pop().expect("a mark at p");
                        self.pairs.push((open, at, p + 1));
                    }
                    None => self.unbalanced += 1,
                }
            }
            _ => {}
        }
    }

    /// Ends the line: the marks still open have no partner. Returns how many marks had none,
    /// and starts afresh (the pairs stay until cleared).
    fn end_line(&mut self) -> u64 {
        let unbalanced = self.unbalanced + self.stack.len() as u64;
        self.stack.clear();
        self.unbalanced = 0;
        unbalanced
    }
}

/// The marks of `pairs` (see [`pair_quotes`]) that `style` writes differently: (offset, mark),
/// by offset. Every mark involved is three bytes in UTF-8, so replacing keeps all offsets.
fn restyle(line: &str, pairs: &[(usize, usize, usize)], style: QuoteStyle) -> Vec<(usize, char)> {
    let mut changes = Vec::new();
    for &(open, close, depth) in pairs {
        let (o, c) = match (style, depth % 2 == 1) {
            (QuoteStyle::Mainland, true) => ('“', '”'),
            (QuoteStyle::Mainland, false) => ('‘', '’'),
            (QuoteStyle::Corner, true) => ('「', '」'),
            (QuoteStyle::Corner, false) => ('『', '』'),
        };
        for (at, mark) in [(open, o), (close, c)] {
            if !line[at..].starts_with(mark) {
                changes.push((at, mark));
            }
        }
    }
    changes.sort_unstable_by_key(|&(at, _)| at);
    changes
}

/// Pairs the quotation marks of one line and writes each pair in `style` by its nesting depth.
/// Returns how many marks had no partner (left as they were).
fn requote(line: &mut String, style: QuoteStyle, first: Option<u8>) -> u64 {
    let (pairs, unbalanced) = pair_quotes(line, first);
    for (at, mark) in restyle(line, &pairs, style) {
        line.replace_range(at..at + 3, mark.encode_utf8(&mut [0; 4]));
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
            // Whitespace (also U+3000) ends a URL and the parentheses opened before it.
            ("見https://a.b/c,d 好,e", "見https://a.b/c,d 好，e"),
            (
                "見https://a.b/c,d\u{3000}好,e",
                "見https://a.b/c,d\u{3000}好，e",
            ),
            ("中(文 a)", "中（文 a)"),
        ] {
            assert_eq!(run(full(), input).0, want, "{input}");
        }
    }

    /// Runs `text` through a normalizer in the given pieces (byte offsets of the cuts).
    fn run_pieces(options: Normalize, text: &str, cuts: &[usize]) -> (String, u64) {
        let mut n = Normalizer::new(options);
        let (mut a, mut b) = (String::new(), String::new());
        let mut start = 0;
        for &cut in cuts.iter().chain([&text.len()]) {
            n.before(&text[start..cut], &mut a);
            start = cut;
        }
        n.finish_before(&mut a);
        // Cut the normalized text at the same proportions for the second phase.
        let mut start = 0;
        for &cut in cuts {
            let mut cut = cut.min(a.len());
            while !a.is_char_boundary(cut) {
                cut -= 1;
            }
            let cut = cut.max(start);
            n.after(&a[start..cut], &mut b);
            start = cut;
        }
        n.after(&a[start..], &mut b);
        n.finish_after(&mut b);
        (b, n.unbalanced_quotes())
    }

    #[test]
    fn pieces_give_the_same_text_as_the_whole() {
        let texts = [
            "活久見,OpenAI和Google“世紀握手”,達成合作了!\n網址:https://例子.com/a,b?c=中文,d 好,(註)",
            "中文(註釋)和English (note)\n“一”‘二’「三「四」」\n他說“that’s the students’ book”。",
            "︐︒﹏﹐｡｢｣､・‧･―ＡＢ１２⼈⺟,好\r\n真的嗎?!(x)中(",
            "“未完\n“a‘b“c”’d”,e:/f://g,中:/,//(:)",
            "中―,乙“,”丙—!\u{3000},丁 ,",
        ];
        let all = Normalize {
            fullwidth_ascii: true,
            radicals: true,
            quotes: Some(QuoteStyle::Corner),
            ..Normalize::prose()
        };
        let mainland = Normalize {
            quotes: Some(QuoteStyle::Mainland),
            ..all
        };
        for options in [all, mainland, full()] {
            for text in texts {
                let whole = run(options, text);
                let bounds: Vec<usize> = (1..text.len())
                    .filter(|&i| text.is_char_boundary(i))
                    .collect();
                for &cut in &bounds {
                    assert_eq!(
                        run_pieces(options, text, &[cut]),
                        whole,
                        "{text:?} cut at {cut}"
                    );
                }
                assert_eq!(
                    run_pieces(options, text, &bounds),
                    whole,
                    "{text:?} by characters"
                );
            }
        }
    }

    /// Random numbers below the one asked for (xorshift from `seed`).
    fn below(mut seed: u64) -> impl FnMut(usize) -> usize {
        move |n| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        }
    }

    /// The normalization before conversion as its rules say, one character at a time: every
    /// character folded and passed through [`Normalizer::punct`], whitespace ending a URL and
    /// the open parentheses where it stands. [`Normalizer::before`] looks at candidates only
    /// and brings the state up to date where one needs it.
    fn eager(options: Normalize, text: &str) -> String {
        let mut n = Normalizer::new(options);
        let chars: Vec<char> = text.chars().collect();
        let mut out = String::new();
        for (k, &original) in chars.iter().enumerate() {
            if original.is_whitespace() {
                n.in_url = false;
                n.parens.clear();
            }
            let c = n.fold(original);
            let next = chars.get(k + 1).map(|&d| n.fold(d));
            let after_colon_slash = k >= 2 && chars[k - 2] == ':' && chars[k - 1] == '/';
            out.push(n.punct(c, next, after_colon_slash));
        }
        out
    }

    #[test]
    fn candidates_alone_give_what_every_character_would() {
        // Characters of every kind the rules tell apart: ASCII letters, digits and spaces, the
        // marks and '/', Han, CJK and full-width punctuation, what passes the context on
        // (quotation marks, dashes, ellipses), what some fold changes (to a mark too: ﹐ ﹗),
        // and whitespace beyond ASCII.
        let alphabet: Vec<char> =
            "ab1 ,,!?::;;((()))//中文。「」“”‘’—…―﹐﹗︰（）ＡＢ，⼈\u{3000}\u{a0}\n\t"
                .chars()
                .collect();
        let options = Normalize {
            fullwidth_ascii: true,
            radicals: true,
            ..Normalize::prose()
        };
        let mut next = below(0x5EED_u64);
        for _ in 0..3000 {
            let len = 1 + next(24);
            let text: String = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
            let want = eager(options, &text);
            assert_eq!(run(options, &text).0, want, "{text:?}");
            // In pieces too: the state carried from one to the next.
            let bounds: Vec<usize> = (1..text.len())
                .filter(|&i| text.is_char_boundary(i) && next(3) == 0)
                .collect();
            assert_eq!(
                run_pieces(options, &text, &bounds).0,
                want,
                "{text:?} cut at {bounds:?}"
            );
        }
    }

    #[test]
    fn quotation_marks_paired_by_line_and_part_wherever_the_pieces_end() {
        // Random lines of letters, Han, spaces and quotation marks (apostrophes between
        // letters too), some longer than a part: normalized in random pieces, each part of a
        // line (see MAX_LINE) is paired on its own, as a model that cuts the text itself says,
        // and the same output and count come whatever the pieces.
        let alphabet: Vec<char> = "ab中 “”‘’「」『』\n".chars().collect();
        let mut next = below(0xC0FFEE_u64);
        for round in 0..2000 {
            let part = [5, 9, 16, 40, MAX_LINE][round % 5];
            let style = [QuoteStyle::Corner, QuoteStyle::Mainland][round % 2];
            let len = 1 + next(90);
            let text: String = (0..len).map(|_| alphabet[next(alphabet.len())]).collect();
            // The model: lines, each cut into parts at the first character at or after each
            // multiple of `part` bytes from its start.
            let (mut want, mut unbalanced) = (String::new(), 0);
            for line in text.split_inclusive('\n') {
                let mut start = 0;
                while start < line.len() {
                    let mut end = (start / part + 1) * part;
                    while end < line.len() && !line.is_char_boundary(end) {
                        end += 1;
                    }
                    let mut unit = line[start..end.min(line.len())].to_string();
                    unbalanced += requote(&mut unit, style, None);
                    want.push_str(&unit);
                    start = end;
                }
            }
            let options = Normalize {
                quotes: Some(style),
                ..Normalize::default()
            };
            let bounds: Vec<usize> = (1..text.len())
                .filter(|&i| text.is_char_boundary(i) && next(4) == 0)
                .collect();
            let mut n = Normalizer::new(options);
            n.part = part;
            let (mut out, mut start) = (String::new(), 0);
            for &cut in bounds.iter().chain([&text.len()]) {
                n.after(&text[start..cut], &mut out);
                start = cut;
            }
            n.finish_after(&mut out);
            assert_eq!(
                (out, n.unbalanced_quotes()),
                (want, unbalanced),
                "{text:?} in parts of {part} cut at {bounds:?}"
            );
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
    fn no_fold_makes_or_takes_an_ids_operator_or_whitespace() {
        // The threads cut a text to normalize before ASCII whitespace where no IDS operator is
        // in the 64 characters before (see `stream::RawInput::normalize`), in the text as
        // read: the normalization must keep that so, one character for one, none of them an
        // IDS operator or whitespace that was not one.
        let t = tables();
        let all = [
            &t.forms,
            &t.halfwidth_cjk,
            &t.interpunct,
            &t.fullwidth_ascii,
            &t.radicals,
        ];
        let mut pairs: Vec<(char, char)> = all.iter().flat_map(|v| v.iter().copied()).collect();
        // And the full-width punctuation rule's.
        pairs.extend(
            ",!?:;()"
                .chars()
                .map(|c| (c, char::from_u32(c as u32 + 0xFEE0).unwrap())),
        );
        assert!(pairs.len() > 200);
        for (from, to) in pairs {
            for c in [from, to] {
                assert_eq!(crate::ids::arity(c as u32), 0, "{from} -> {to}");
            }
            assert_eq!(from.is_whitespace(), to.is_whitespace(), "{from} -> {to}");
        }
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
        // ︰ stands for a colon in horizontal text (not for its decomposition ‥).
        assert_eq!(
            run(all, "錄音︰你好 Bruno ︰ Rory").0,
            "錄音：你好 Bruno ： Rory"
        );
        // U+3000 and ordinary full-width punctuation are never changed.
        assert_eq!(run(all, "\u{3000}，。！（）").0, "\u{3000}，。！（）");
        // Nothing on: the text as it was.
        assert_eq!(run(Normalize::default(), "︐,“x”").0, "︐,“x”");
    }
}
