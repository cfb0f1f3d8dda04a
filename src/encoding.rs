//! The encodings Chinese text comes in: detection, strict decoding and strict encoding, with
//! errors that say where.
//!
//! Decoding and encoding of GB18030/GBK and Big5 (with HKSCS) use `encoding_rs`, always through
//! its `*_without_replacement` calls, so that nothing is silently replaced (the decoder and
//! the encoder keep what encoding_rs gives each sequence and each character in tables, learned
//! as they are met); UTF-16 is encoded here (encoding_rs cannot). Positions are tracked as
//! line, column (in characters) and byte offset, to report `12:7 (byte 345): invalid GBK
//! sequence [FF]`.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use encoding_rs::{DecoderResult, EncoderResult};

/// A text encoding fanjian reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// UTF-8.
    Utf8,
    /// UTF-16, little-endian.
    Utf16Le,
    /// UTF-16, big-endian.
    Utf16Be,
    /// GB18030 (a superset of GBK and GB2312; decodes both).
    Gb18030,
    /// GBK (GB2312 extended): decodes as GB18030, encodes only what GBK has.
    Gbk,
    /// Big5, with the HKSCS extensions as the WHATWG Encoding Standard defines them.
    Big5,
}

/// The error of parsing an encoding label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEncoding(pub String);

impl fmt::Display for UnknownEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown encoding {:?} (known: utf-8, utf-16, utf-16le, utf-16be, gb18030, gbk, cp936, \
             gb2312, big5, cp950, big5-hkscs)",
            self.0
        )
    }
}

impl std::error::Error for UnknownEncoding {}

impl Encoding {
    /// Parses the labels people type: `utf-8`, `utf8`, `utf-16` (little-endian unless a BOM says
    /// otherwise), `utf-16le`, `utf-16be`, `gb18030`, `gbk`, `cp936`, `gb2312`, `big5`, `cp950`,
    /// `big5-hkscs`, in any case.
    ///
    /// ```
    /// use fanjian::Encoding;
    /// assert_eq!(Encoding::from_label("CP936"), Ok(Encoding::Gbk));
    /// assert_eq!(Encoding::from_label("big5-hkscs"), Ok(Encoding::Big5));
    /// ```
    pub fn from_label(label: &str) -> Result<Encoding, UnknownEncoding> {
        let l = label.trim().to_ascii_lowercase().replace('_', "-");
        Ok(match l.as_str() {
            "utf-8" | "utf8" => Encoding::Utf8,
            "utf-16" | "utf16" | "utf-16le" | "utf16le" | "ucs-2" => Encoding::Utf16Le,
            "utf-16be" | "utf16be" => Encoding::Utf16Be,
            "gb18030" => Encoding::Gb18030,
            "gbk" | "cp936" | "gb2312" | "euc-cn" | "windows-936" | "x-gbk" => Encoding::Gbk,
            "big5" | "cp950" | "big5-hkscs" | "windows-950" => Encoding::Big5,
            _ => return Err(UnknownEncoding(label.to_string())),
        })
    }

    /// The encoding's name as fanjian prints it.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "UTF-8",
            Encoding::Utf16Le => "UTF-16LE",
            Encoding::Utf16Be => "UTF-16BE",
            Encoding::Gb18030 => "GB18030",
            Encoding::Gbk => "GBK",
            Encoding::Big5 => "Big5",
        }
    }

    pub(crate) fn rs(self) -> &'static encoding_rs::Encoding {
        match self {
            Encoding::Utf8 => encoding_rs::UTF_8,
            Encoding::Utf16Le => encoding_rs::UTF_16LE,
            Encoding::Utf16Be => encoding_rs::UTF_16BE,
            Encoding::Gb18030 => encoding_rs::GB18030,
            Encoding::Gbk => encoding_rs::GBK,
            Encoding::Big5 => encoding_rs::BIG5,
        }
    }

    /// Whether every byte below 0x30 stands for itself wherever it is: never part of a longer
    /// sequence, and read as itself after a malformed one (GB18030 and GBK, whose second and
    /// fourth bytes may be the digits 0x30 to 0x39, and Big5, whose second bytes start at
    /// 0x40). Input in such an encoding decodes from any of these bytes on, with a new
    /// decoder, as it does from the start: threads can decode it in pieces cut before them.
    pub(crate) fn restarts_at_low_bytes(self) -> bool {
        matches!(self, Encoding::Gb18030 | Encoding::Gbk | Encoding::Big5)
    }

    /// The byte order mark of this encoding (GB18030's is the encoding of U+FEFF).
    pub fn bom(self) -> &'static [u8] {
        match self {
            Encoding::Utf8 => b"\xEF\xBB\xBF",
            Encoding::Utf16Le => b"\xFF\xFE",
            Encoding::Utf16Be => b"\xFE\xFF",
            Encoding::Gb18030 => b"\x84\x31\x95\x33",
            Encoding::Gbk | Encoding::Big5 => b"",
        }
    }
}

impl fmt::Display for Encoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What [`detect`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detected {
    /// The encoding.
    pub encoding: Encoding,
    /// Whether the input starts with a byte order mark (its length is `encoding.bom().len()`).
    pub bom: bool,
}

/// A bit per code point of U+4E00..U+9FFF: the "common" Han characters, GB2312 level 1 ∪ Big5
/// level 1, generated from encoding_rs's own tables.
fn common_han() -> &'static [u64] {
    static SET: OnceLock<Vec<u64>> = OnceLock::new();
    SET.get_or_init(|| {
        let mut bits = vec![0u64; (0xA000 - 0x4E00) / 64];
        let mut mark = |enc: &'static encoding_rs::Encoding,
                        leads: std::ops::RangeInclusive<u8>,
                        trails: &[std::ops::RangeInclusive<u8>]| {
            for lead in leads {
                for trail in trails.iter().cloned().flatten() {
                    let pair = [lead, trail];
                    let (s, bad) = enc.decode_without_bom_handling(&pair);
                    if let (false, Some(c)) = (bad, s.chars().next()) {
                        let c = c as usize;
                        if (0x4E00..0xA000).contains(&c) {
                            bits[(c - 0x4E00) / 64] |= 1 << ((c - 0x4E00) % 64);
                        }
                    }
                }
            }
        };
        // GB2312 level 1: rows 16-55 (lead bytes B0-D7).
        mark(encoding_rs::GBK, 0xB0..=0xD7, &[0xA1..=0xFE]);
        // Big5 level 1: A440-C67E.
        mark(encoding_rs::BIG5, 0xA4..=0xC6, &[0x40..=0x7E, 0xA1..=0xFE]);
        bits
    })
}

fn is_common_han(c: char) -> bool {
    let c = c as usize;
    (0x4E00..0xA000).contains(&c) && common_han()[(c - 0x4E00) / 64] >> ((c - 0x4E00) % 64) & 1 == 1
}

/// Decodes `bytes` strictly; a multibyte sequence cut at the end is allowed when `!eof`.
fn strict_decode(enc: Encoding, bytes: &[u8], eof: bool) -> Option<String> {
    let mut decoder = enc.rs().new_decoder_without_bom_handling();
    let mut out =
        String::with_capacity(decoder.max_utf8_buffer_length_without_replacement(bytes.len())?);
    let (result, _) = decoder.decode_to_string_without_replacement(bytes, &mut out, eof);
    match result {
        DecoderResult::InputEmpty => Some(out),
        DecoderResult::Malformed(..) | DecoderResult::OutputFull => None,
    }
}

/// The share of non-ASCII characters of `text` that are common Han characters, and how many
/// non-ASCII characters there are.
fn han_score(text: &str) -> (f64, usize) {
    let (mut han, mut non_ascii) = (0usize, 0usize);
    for c in text.chars().filter(|c| !c.is_ascii()) {
        non_ascii += 1;
        han += usize::from(is_common_han(c));
    }
    if non_ascii == 0 {
        (0.0, 0)
    } else {
        (han as f64 / non_ascii as f64, non_ascii)
    }
}

/// The share of UTF-16 code units that look like Chinese text (CJK ideographs, CJK punctuation,
/// fullwidth forms, ASCII text), or `None` if `bytes` is not valid UTF-16 in that byte order.
fn utf16_score(enc: Encoding, bytes: &[u8], eof: bool) -> Option<f64> {
    let text = strict_decode(enc, &bytes[..bytes.len() & !1], eof || bytes.len() % 2 == 1)?;
    let (mut good, mut all) = (0usize, 0usize);
    for c in text.chars() {
        all += 1;
        let u = c as u32;
        good += usize::from(
            matches!(u, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x3000..=0x303F | 0xFF00..=0xFFEF)
                || (c.is_ascii() && (c.is_ascii_graphic() || c.is_ascii_whitespace())),
        );
    }
    (all > 0).then(|| good as f64 / all as f64)
}

/// Tells the encoding of a file from its first bytes (`eof`: `prefix` is the whole file).
///
/// A BOM decides; UTF-16 without a BOM is recognised by the NUL bytes of its ASCII; then valid
/// UTF-8 is UTF-8; otherwise the prefix is decoded strictly as GB18030 and as Big5 and the
/// candidate whose non-ASCII characters are most often common Han characters wins (which tells
/// Traditional text stored in GBK from Big5 from a few characters on); mostly-CJK UTF-16 without
/// a BOM comes last. When nothing decodes, the encoding that decodes furthest is returned, so
/// that decoding then reports the first bad byte.
///
/// ```
/// use fanjian::{detect, Encoding};
/// let (gbk, _, _) = encoding_rs::GBK.encode("繁體中文的編碼");
/// assert_eq!(detect(&gbk, true).encoding, Encoding::Gb18030);
/// let (big5, _, _) = encoding_rs::BIG5.encode("繁體中文的編碼");
/// assert_eq!(detect(&big5, true).encoding, Encoding::Big5);
/// ```
pub fn detect(prefix: &[u8], eof: bool) -> Detected {
    for enc in [Encoding::Utf8, Encoding::Utf16Le, Encoding::Utf16Be] {
        if prefix.starts_with(enc.bom()) {
            return Detected {
                encoding: enc,
                bom: true,
            };
        }
    }
    let found = |encoding| Detected {
        encoding,
        bom: false,
    };
    // UTF-16 with ASCII in it: NUL bytes on one side of each code unit only. (Checked before
    // UTF-8: such bytes are valid UTF-8, but no UTF-8 text is full of NULs.)
    let sample = &prefix[..prefix.len().min(4096) & !1];
    let zeros = |parity| {
        sample
            .iter()
            .skip(parity)
            .step_by(2)
            .filter(|&&b| b == 0)
            .count()
    };
    let (even, odd) = (zeros(0), zeros(1));
    let units = sample.len() / 2;
    // A whole file of odd length is not UTF-16; a few bytes are not enough to tell.
    if units >= 2 && !(eof && prefix.len() % 2 == 1) {
        if odd * 4 > units
            && even * 50 < units
            && utf16_score(Encoding::Utf16Le, prefix, eof).is_some()
        {
            return found(Encoding::Utf16Le);
        }
        if even * 4 > units
            && odd * 50 < units
            && utf16_score(Encoding::Utf16Be, prefix, eof).is_some()
        {
            return found(Encoding::Utf16Be);
        }
    }
    let valid_utf8 = match simdutf8::compat::from_utf8(prefix) {
        Ok(_) => true,
        // A character cut at the end of the prefix: more may follow, or the file was cut short
        // (then decoding reports it). Other encodings are almost never valid UTF-8 that far.
        Err(e) => e.error_len().is_none() && e.valid_up_to() > 0,
    };
    if valid_utf8 {
        return found(Encoding::Utf8);
    }
    let window = &prefix[..prefix.len().min(64 * 1024)];
    let window_eof = eof && window.len() == prefix.len();
    let mut best: Option<(f64, Encoding)> = None;
    for enc in [Encoding::Gb18030, Encoding::Big5] {
        if let Some(text) = strict_decode(enc, window, window_eof) {
            let (score, _) = han_score(&text);
            if best.is_none_or(|(b, _)| score > b) {
                best = Some((score, enc));
            }
        }
    }
    let utf16 = [Encoding::Utf16Le, Encoding::Utf16Be]
        .into_iter()
        .filter_map(|e| utf16_score(e, window, window_eof).map(|s| (s, e)))
        .filter(|&(s, _)| s >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match (best, utf16) {
        (Some((gb, _)), Some((u, enc))) if u > gb => found(enc),
        (None, Some((_, enc))) => found(enc),
        (Some((_, enc)), _) => found(enc),
        // Nothing decodes: take the encoding that decodes furthest (UTF-8 on a tie), so that
        // decoding stops with a precise error at the first bad byte.
        (None, None) => {
            let valid = |enc: Encoding| {
                let mut decoder = enc.rs().new_decoder_without_bom_handling();
                let mut out = String::with_capacity(window.len() * 3 + 16);
                match decoder.decode_to_string_without_replacement(window, &mut out, window_eof) {
                    (DecoderResult::Malformed(bad, extra), read) => {
                        read - bad as usize - extra as usize
                    }
                    (_, read) => read,
                }
            };
            let best = [Encoding::Utf8, Encoding::Gb18030, Encoding::Big5]
                .into_iter()
                .rev()
                .max_by_key(|&e| valid(e))
                .unwrap_or(Encoding::Utf8);
            found(best)
        }
    }
}

/// For UTF-8 input: `bytes` as text, less an incomplete character at the end when more input
/// follows. `None` when the bytes do not validate.
pub(crate) fn utf8_prefix(bytes: &[u8], eof: bool) -> Option<&str> {
    // Where the last character starts, and whether it is complete.
    let mut end = bytes.len();
    if !eof {
        if let Some(lead) = (bytes.len().saturating_sub(4)..bytes.len())
            .rev()
            .find(|&i| bytes[i] & 0xC0 != 0x80)
        {
            let need = match bytes[lead] {
                b if b < 0x80 => 1,
                b if b >= 0xF0 => 4,
                b if b >= 0xE0 => 3,
                _ => 2,
            };
            if lead + need > bytes.len() {
                end = lead;
            }
        }
    }
    // simdutf8 validates several times faster than the standard library on CJK text.
    simdutf8::basic::from_utf8(&bytes[..end]).ok()
}

/// Where in a text something is: 1-based line and column (in characters), 0-based byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Position {
    /// 1-based line.
    pub line: u64,
    /// 1-based column, in characters.
    pub column: u64,
    /// 0-based byte offset (in the file the error is about).
    pub byte: u64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} (byte {})", self.line, self.column, self.byte)
    }
}

/// Counts lines and columns over text as it goes by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LineCounter {
    line: u64,
    column: u64,
}

impl Default for LineCounter {
    fn default() -> LineCounter {
        LineCounter::new()
    }
}

impl LineCounter {
    pub(crate) fn new() -> LineCounter {
        LineCounter { line: 1, column: 1 }
    }

    /// The position here, at input byte `byte`.
    pub(crate) fn at(&self, byte: u64) -> Position {
        Position {
            line: self.line,
            column: self.column,
            byte,
        }
    }

    /// Where `after`, counted from the start (line 1, column 1) of text that follows the text
    /// `self` counted, ends in the whole.
    pub(crate) fn then(self, after: LineCounter) -> LineCounter {
        if after.line > 1 {
            LineCounter {
                line: self.line + after.line - 1,
                column: after.column,
            }
        } else {
            LineCounter {
                line: self.line,
                column: self.column + after.column - 1,
            }
        }
    }

    /// Counts `text` from the start of a text (line 1, column 1).
    pub(crate) fn over(text: &str) -> LineCounter {
        let mut lines = LineCounter::new();
        lines.advance(text);
        lines
    }

    pub(crate) fn advance(&mut self, text: &str) {
        let bytes = text.as_bytes();
        match memchr::memrchr(b'\n', bytes) {
            Some(last) => {
                self.line += memchr::memchr_iter(b'\n', bytes).count() as u64;
                self.column = 1 + text[last + 1..].chars().count() as u64;
            }
            None => self.column += text.chars().count() as u64,
        }
    }
}

/// An error decoding input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The encoding being decoded.
    pub encoding: Encoding,
    /// Where the bad bytes start (line and column in the decoded text, byte in the input).
    pub position: Position,
    /// The bad bytes (as many as were at hand).
    pub bytes: Vec<u8>,
    /// The input ended inside a multibyte sequence.
    pub truncated: bool,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hex: Vec<String> = self.bytes.iter().map(|b| format!("{b:02X}")).collect();
        let what = if self.truncated {
            "truncated"
        } else {
            "invalid"
        };
        write!(
            f,
            "{}: {what} {} sequence [{}]",
            self.position,
            self.encoding,
            hex.join(" ")
        )?;
        if self.truncated {
            f.write_str(" at end of input")?;
        }
        Ok(())
    }
}

impl std::error::Error for DecodeError {}

/// A strict streaming decoder that knows where it is.
#[derive(Debug)]
pub struct Decoder {
    encoding: Encoding,
    inner: encoding_rs::Decoder,
    lossy: bool,
    bytes: u64,
    lines: LineCounter,
    replaced: u64,
    /// `inner` holds no part of a sequence (see [`Decoder::decode`]).
    clean: bool,
    /// The last bytes encoding_rs was given, for an error in a sequence that starts before
    /// the input at hand.
    tail: [u8; 4],
}

impl Decoder {
    /// A decoder for `encoding` (after any BOM: strip it before the first call). With `lossy`,
    /// malformed input becomes U+FFFD and is counted instead of being an error.
    pub fn new(encoding: Encoding, lossy: bool) -> Decoder {
        Decoder {
            encoding,
            inner: encoding.rs().new_decoder_without_bom_handling(),
            lossy,
            bytes: 0,
            lines: LineCounter::new(),
            replaced: 0,
            clean: true,
            tail: [0; 4],
        }
    }

    /// How many malformed sequences were replaced (with `lossy`).
    pub fn replaced(&self) -> u64 {
        self.replaced
    }

    /// The encoding decoded.
    pub(crate) fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// Where the decoder is: lines and columns seen, and bytes consumed.
    pub(crate) fn mark(&self) -> (LineCounter, u64) {
        (self.lines, self.bytes)
    }

    /// Accounts for `text`, valid input that the caller took as it is (UTF-8 read in place),
    /// so that positions in later errors stay right.
    pub fn skip_valid(&mut self, text: &str) {
        self.bytes += text.len() as u64;
        self.lines.advance(text);
    }

    /// Accounts for `bytes` bytes of valid input, counted as `lines` from line 1, column 1,
    /// that the caller took as they are (see [`Decoder::skip_valid`]).
    pub(crate) fn skip_counted(&mut self, bytes: u64, lines: LineCounter) {
        self.bytes += bytes;
        self.lines = self.lines.then(lines);
    }

    /// Decodes all of `input`, appending to `out`; `last` when no input follows.
    ///
    /// GB18030, GBK and Big5 are decoded from a table of the characters encoding_rs gives
    /// their two-byte sequences wherever it holds no part of a sequence, up to a sequence the
    /// table does not answer (four bytes of GB18030, one that is malformed, or cut short at the
    /// end of `input`); encoding_rs takes it from there, up to and including the next byte
    /// below 0x30, after which it holds nothing (in these encodings such a byte is always a
    /// character of its own). UTF-16 code units that are not surrogates are decoded here;
    /// from a surrogate (or a byte alone at the end), encoding_rs takes them up to and
    /// including the next whole unit that is not one. The same text and errors as encoding_rs
    /// alone.
    pub fn decode(
        &mut self,
        input: &[u8],
        last: bool,
        out: &mut String,
    ) -> Result<(), DecodeError> {
        let encoding = self.encoding;
        match encoding {
            Encoding::Utf16Le | Encoding::Utf16Be => {
                let big = encoding == Encoding::Utf16Be;
                // From a surrogate (or a byte alone at the end), up to and including the next
                // whole unit that is not one; units start at even offsets from the start (a
                // byte of the last input may stand before `rest`).
                let restart = |rest: &[u8], before: u64| {
                    let unit = |p: usize| match big {
                        true => u16::from_be_bytes([rest[p], rest[p + 1]]),
                        false => u16::from_le_bytes([rest[p], rest[p + 1]]),
                    };
                    ((before % 2) as usize..rest.len().saturating_sub(1))
                        .step_by(2)
                        .find(|&p| !(0xD800..=0xDFFF).contains(&unit(p)))
                        .map(|p| p + 2)
                };
                let known = |rest: &[u8], out: &mut String| decode_utf16_units(big, rest, out);
                self.decode_with(input, last, out, known, restart)
            }
            Encoding::Gb18030 | Encoding::Gbk | Encoding::Big5 => {
                let table = known_chars(encoding);
                // Up to and including the next byte below 0x30.
                let restart =
                    |rest: &[u8], _: u64| rest.iter().position(|&b| b < 0x30).map(|p| p + 1);
                let known =
                    |rest: &[u8], out: &mut String| decode_known(encoding, table, rest, out);
                self.decode_with(input, last, out, known, restart)
            }
            Encoding::Utf8 => self.decode_rs(input, last, out),
        }
    }

    /// Decodes `input` (see [`Decoder::decode`]): where encoding_rs holds nothing, the start
    /// that `known` decodes (its length); from there, encoding_rs up to where `restart` says
    /// it holds nothing again (given what follows and the bytes decoded before it), or to the
    /// end.
    fn decode_with(
        &mut self,
        input: &[u8],
        last: bool,
        out: &mut String,
        known: impl Fn(&[u8], &mut String) -> usize,
        restart: impl Fn(&[u8], u64) -> Option<usize>,
    ) -> Result<(), DecodeError> {
        let mut rest = input;
        loop {
            if self.clean {
                let start = out.len();
                let n = known(rest, out);
                self.lines.advance(&out[start..]);
                self.bytes += n as u64;
                rest = &rest[n..];
                if rest.is_empty() {
                    return Ok(());
                }
            }
            match restart(rest, self.bytes) {
                Some(end) => {
                    self.decode_rs(&rest[..end], false, out)?;
                    self.clean = true;
                    rest = &rest[end..];
                }
                None => {
                    self.clean = false;
                    return self.decode_rs(rest, last, out);
                }
            }
        }
    }

    /// Decodes all of `input` with encoding_rs, appending to `out`; `last` when no input
    /// follows.
    fn decode_rs(&mut self, input: &[u8], last: bool, out: &mut String) -> Result<(), DecodeError> {
        let mut consumed = 0;
        loop {
            let rest = &input[consumed..];
            let need = self
                .inner
                .max_utf8_buffer_length_without_replacement(rest.len())
                .unwrap_or(rest.len() * 3 + 16);
            out.reserve(need);
            let start = out.len();
            let (result, read) = self
                .inner
                .decode_to_string_without_replacement(rest, out, last);
            self.lines.advance(&out[start..]);
            match result {
                DecoderResult::InputEmpty => {
                    self.bytes += read as u64;
                    // The last four bytes given, some from before where the input is short.
                    let n = input.len().min(4);
                    self.tail.rotate_left(n);
                    self.tail[4 - n..].copy_from_slice(&input[input.len() - n..]);
                    return Ok(());
                }
                DecoderResult::OutputFull => {
                    consumed += read;
                    self.bytes += read as u64;
                }
                DecoderResult::Malformed(bad, extra) => {
                    // The sequence ends `extra` bytes before those read, which may be before
                    // this input (encoding_rs held the bytes after it from the last call, such
                    // as the second and third of what starts a four-byte sequence of GB18030).
                    let (bad, extra) = (bad as usize, extra as usize);
                    let end = read.saturating_sub(extra);
                    let truncated = last && end == rest.len();
                    if self.lossy {
                        out.push('\u{FFFD}');
                        self.lines.advance("\u{FFFD}");
                        self.replaced += 1;
                        consumed += read;
                        self.bytes += read as u64;
                        continue;
                    }
                    // The bad bytes, those before `rest` from the tail of the last input (the
                    // room reserved leaves none from this input before it: no OutputFull).
                    let before = (extra + bad).saturating_sub(read).min(4);
                    let mut bytes = self.tail[4 - before..].to_vec();
                    bytes.truncate(bad);
                    bytes.extend_from_slice(&rest[end.saturating_sub(bad)..end]);
                    return Err(DecodeError {
                        encoding: self.encoding,
                        position: Position {
                            line: self.lines.line,
                            column: self.lines.column,
                            byte: self.bytes + read as u64 - (extra + bad) as u64,
                        },
                        bytes,
                        truncated,
                    });
                }
            }
        }
    }
}

/// The second bytes of a two-byte sequence of GB18030, GBK or Big5 that a table of
/// [`known_chars`] has a place for (0x40 to 0xFE; a first byte is 0x81 to 0xFE).
const SECOND_BYTES: usize = 0xFF - 0x40;

/// What a table of [`known_chars`] holds for a sequence that is decoded by encoding_rs each
/// time: one that is malformed, or that is not one character.
const NOT_ONE_CHAR: u32 = u32::MAX;

/// The characters encoding_rs decodes the two-byte sequences of GB18030, GBK and Big5 into
/// (no decoder of theirs holds anything after a whole character), learned from it the first
/// time each sequence is met, by any thread: 0 for not yet, [`NOT_ONE_CHAR`], or the
/// character's UTF-8 bytes (see [`learn_char`]). encoding_rs
/// works each sequence out from its bytes and its own tables: with these, Chinese text is
/// decoded several times faster.
fn known_chars(encoding: Encoding) -> &'static [AtomicU32; 126 * SECOND_BYTES] {
    static GB18030: [AtomicU32; 126 * SECOND_BYTES] =
        [const { AtomicU32::new(0) }; 126 * SECOND_BYTES];
    static GBK: [AtomicU32; 126 * SECOND_BYTES] = [const { AtomicU32::new(0) }; 126 * SECOND_BYTES];
    static BIG5: [AtomicU32; 126 * SECOND_BYTES] =
        [const { AtomicU32::new(0) }; 126 * SECOND_BYTES];
    match encoding {
        Encoding::Gb18030 => &GB18030,
        Encoding::Gbk => &GBK,
        Encoding::Big5 => &BIG5,
        _ => unreachable!("a table for the encodings of encoding_rs"),
    }
}

/// Decodes the longest start of `bytes` in ASCII and in two-byte sequences that the table of
/// [`known_chars`] for `encoding` answers (learning those it has not met), appending to
/// `out`; returns its length.
fn decode_known(
    encoding: Encoding,
    table: &[AtomicU32; 126 * SECOND_BYTES],
    bytes: &[u8],
    out: &mut String,
) -> usize {
    // SAFETY: only whole UTF-8 sequences are appended: ASCII, and the UTF-8 of characters.
    let out = unsafe { out.as_mut_vec() };
    // Two bytes take at most four in UTF-8 (and one of ASCII, one); each character is written
    // as four bytes, those not its own overwritten by the next: room for all, and four more.
    out.reserve(2 * bytes.len() + 4);
    let dst = out.spare_capacity_mut().as_mut_ptr().cast::<u8>();
    let (mut i, mut o) = (0, 0);
    while let Some(&b) = bytes.get(i) {
        if b < 0x80 {
            // ASCII is itself in these encodings.
            let ascii = encoding_rs::Encoding::ascii_valid_up_to(&bytes[i..]);
            // SAFETY: o + ascii <= 2 * (i + ascii), within the room reserved.
            unsafe { std::ptr::copy_nonoverlapping(bytes[i..].as_ptr(), dst.add(o), ascii) };
            (i, o) = (i + ascii, o + ascii);
            continue;
        }
        let Some(&second) = bytes.get(i + 1) else {
            break;
        };
        let (first, second) = (b.wrapping_sub(0x81), second.wrapping_sub(0x40));
        if first >= 126 || usize::from(second) >= SECOND_BYTES {
            break;
        }
        let at = usize::from(first) * SECOND_BYTES + usize::from(second);
        let mut known = table[at].load(Ordering::Relaxed);
        if known == 0 {
            known = learn_char(encoding, [b, second.wrapping_add(0x40)]);
            table[at].store(known, Ordering::Relaxed);
        }
        if known == NOT_ONE_CHAR {
            break;
        }
        // SAFETY: o + 4 <= 2 * i + 4, within the room reserved.
        unsafe {
            dst.add(o)
                .cast::<[u8; 4]>()
                .write_unaligned(known.to_le_bytes())
        };
        // The UTF-8 bytes from the lowest; those above them are zeros (four are not).
        (i, o) = (i + 2, o + 4 - known.leading_zeros() as usize / 8);
    }
    // SAFETY: `o` bytes were written after those in use, the UTF-8 of whole characters.
    unsafe { out.set_len(out.len() + o) };
    i
}

/// Decodes the longest start of `bytes` in whole UTF-16 code units (big-endian where `big`)
/// that are not surrogates, appending to `out`; returns its length.
fn decode_utf16_units(big: bool, bytes: &[u8], out: &mut String) -> usize {
    // SAFETY: only the UTF-8 of characters is appended (a unit that is not a surrogate is one).
    let out = unsafe { out.as_mut_vec() };
    // Two bytes take at most three in UTF-8; each character is written as four bytes, those not
    // its own overwritten by the next: room for all, and four more.
    out.reserve(bytes.len() / 2 * 3 + 4);
    let dst = out.spare_capacity_mut().as_mut_ptr().cast::<u8>();
    let mut o = 0;
    let units = bytes.chunks_exact(2);
    let mut n = 0;
    for unit in units {
        let u = u32::from(match big {
            true => u16::from_be_bytes([unit[0], unit[1]]),
            false => u16::from_le_bytes([unit[0], unit[1]]),
        });
        let (utf8, len) = match u {
            ..0x80 => (u, 1),
            0x80..0x800 => (0x80C0 | u >> 6 | (u & 0x3F) << 8, 2),
            0xD800..=0xDFFF => break,
            _ => (
                0x80_80E0 | u >> 12 | (u >> 6 & 0x3F) << 8 | (u & 0x3F) << 16,
                3,
            ),
        };
        // SAFETY: o + 4 <= 3 * n / 2 + 4, within the room reserved.
        unsafe {
            dst.add(o)
                .cast::<[u8; 4]>()
                .write_unaligned(utf8.to_le_bytes())
        };
        o += len;
        n += 2;
    }
    // SAFETY: `o` bytes were written after those in use, the UTF-8 of whole characters.
    unsafe { out.set_len(out.len() + o) };
    n
}

/// The entry of [`known_chars`] for the two bytes `pair`, from encoding_rs: the UTF-8 bytes
/// of the one character they decode to, the first the lowest.
fn learn_char(encoding: Encoding, pair: [u8; 2]) -> u32 {
    let mut text = String::with_capacity(16);
    let (result, read) = (encoding.rs().new_decoder_without_bom_handling())
        .decode_to_string_without_replacement(&pair, &mut text, true);
    let mut chars = text.chars();
    match (result, read, chars.next(), chars.next()) {
        (DecoderResult::InputEmpty, 2, Some(c), None) => {
            let mut utf8 = [0; 4];
            c.encode_utf8(&mut utf8);
            u32::from_le_bytes(utf8)
        }
        _ => NOT_ONE_CHAR,
    }
}

/// A character the output encoding cannot represent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodeError {
    /// The output encoding.
    pub encoding: Encoding,
    /// The character.
    pub character: char,
    /// Where it is in the converted text (byte: offset in the output written so far).
    pub position: Position,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {:?} (U+{:04X}) cannot be written in {}",
            self.position, self.character, self.character as u32, self.encoding
        )
    }
}

impl std::error::Error for EncodeError {}

/// What a table of [`known_bytes`] holds for a character that is asked of encoding_rs each
/// time: one the encoding lacks.
const NOT_KNOWN: u32 = u32::MAX;

/// The bytes of the characters of the Basic Multilingual Plane in GB18030, GBK and Big5, as
/// encoding_rs encodes them (one character at a time: these encoders hold nothing from one
/// character to the next), learned from it the first time each is met, by any thread: 0 for
/// not yet, [`NOT_KNOWN`], or the bytes from the top of a big-endian number, with their count
/// in the lowest byte where they are one or two (four bytes of GB18030 end with a digit,
/// 0x30 to 0x39). encoding_rs looks each character up in its own tables, some by a search
/// (GB18030 punctuation): with these, Chinese text is encoded several times faster.
fn known_bytes(encoding: Encoding) -> &'static [AtomicU32; 0x10000] {
    static GB18030: [AtomicU32; 0x10000] = [const { AtomicU32::new(0) }; 0x10000];
    static GBK: [AtomicU32; 0x10000] = [const { AtomicU32::new(0) }; 0x10000];
    static BIG5: [AtomicU32; 0x10000] = [const { AtomicU32::new(0) }; 0x10000];
    match encoding {
        Encoding::Gb18030 => &GB18030,
        Encoding::Gbk => &GBK,
        Encoding::Big5 => &BIG5,
        _ => unreachable!("a table for the encodings of encoding_rs"),
    }
}

/// Encodes the longest start of `text` whose characters the table of [`known_bytes`] for
/// `encoding` answers (learning those it has not met), appending to `out`; returns its
/// length.
fn encode_known(
    encoding: Encoding,
    table: &[AtomicU32; 0x10000],
    text: &str,
    out: &mut Vec<u8>,
) -> usize {
    let bytes = text.as_bytes();
    // A character takes at most twice its UTF-8 bytes (two of them four).
    out.reserve(2 * bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let (c, len) = match b {
            // ASCII is itself in these encodings.
            ..0x80 => {
                let ascii = encoding_rs::Encoding::ascii_valid_up_to(&bytes[i..]);
                out.extend_from_slice(&bytes[i..i + ascii]);
                i += ascii;
                continue;
            }
            0x80..0xE0 => (
                (u32::from(b & 0x1F) << 6) | u32::from(bytes[i + 1] & 0x3F),
                2,
            ),
            0xE0..0xF0 => (
                (u32::from(b & 0x0F) << 12)
                    | (u32::from(bytes[i + 1] & 0x3F) << 6)
                    | u32::from(bytes[i + 2] & 0x3F),
                3,
            ),
            _ => break,
        };
        let mut known = table[c as usize].load(Ordering::Relaxed);
        if known == 0 {
            known = learn(encoding, &text[i..i + len]);
            table[c as usize].store(known, Ordering::Relaxed);
        }
        if known == NOT_KNOWN {
            break;
        }
        let be = known.to_be_bytes();
        match be[3] {
            1 => out.push(be[0]),
            2 => out.extend_from_slice(&be[..2]),
            _ => out.extend_from_slice(&be),
        }
        i += len;
    }
    i
}

/// The entry of [`known_bytes`] for the one character `c`, from encoding_rs.
fn learn(encoding: Encoding, c: &str) -> u32 {
    let mut buf = [0u8; 8];
    let (result, _, written) =
        (encoding.rs().new_encoder()).encode_from_utf8_without_replacement(c, &mut buf, true);
    match (result, written) {
        (EncoderResult::InputEmpty, 1) => u32::from_be_bytes([buf[0], 0, 0, 1]),
        (EncoderResult::InputEmpty, 2) => u32::from_be_bytes([buf[0], buf[1], 0, 2]),
        (EncoderResult::InputEmpty, 4) if buf[3] > 4 => {
            u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]])
        }
        _ => NOT_KNOWN,
    }
}

/// A strict streaming encoder from UTF-8.
#[derive(Debug)]
pub struct Encoder {
    encoding: Encoding,
    inner: Option<encoding_rs::Encoder>,
    replace: bool,
    bytes: u64,
    lines: LineCounter,
    replaced: u64,
}

impl Encoder {
    /// An encoder to `encoding`. With `replace`, a character the encoding lacks becomes `?` and
    /// is counted instead of being an error.
    pub fn new(encoding: Encoding, replace: bool) -> Encoder {
        let inner = match encoding {
            Encoding::Gb18030 | Encoding::Gbk | Encoding::Big5 => Some(encoding.rs().new_encoder()),
            Encoding::Utf8 | Encoding::Utf16Le | Encoding::Utf16Be => None,
        };
        Encoder {
            encoding,
            inner,
            replace,
            bytes: 0,
            lines: LineCounter::new(),
            replaced: 0,
        }
    }

    /// How many characters were replaced (with `replace`).
    pub fn replaced(&self) -> u64 {
        self.replaced
    }

    /// Encodes all of `text`, appending to `out`; `last` when no text follows.
    pub fn encode(&mut self, text: &str, last: bool, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        let start_len = out.len();
        match (&mut self.inner, self.encoding) {
            (_, Encoding::Utf8) => out.extend_from_slice(text.as_bytes()),
            (_, Encoding::Utf16Le) => text
                .encode_utf16()
                .for_each(|u| out.extend_from_slice(&u.to_le_bytes())),
            (_, Encoding::Utf16Be) => text
                .encode_utf16()
                .for_each(|u| out.extend_from_slice(&u.to_be_bytes())),
            (Some(encoder), _) => {
                let table = known_bytes(self.encoding);
                let mut rest = text;
                loop {
                    rest = &rest[encode_known(self.encoding, table, rest, out)..];
                    // A character the table does not answer (outside the Basic Multilingual
                    // Plane, or one the encoding lacks): through encoding_rs.
                    let Some(c) = rest.chars().next() else { break };
                    let mut buf = [0u8; 8];
                    let one = &rest[..c.len_utf8()];
                    let (result, _, written) =
                        encoder.encode_from_utf8_without_replacement(one, &mut buf, last);
                    match result {
                        EncoderResult::InputEmpty => out.extend_from_slice(&buf[..written]),
                        EncoderResult::Unmappable(c) if !self.replace => {
                            let mut lines = self.lines;
                            lines.advance(&text[..text.len() - rest.len()]);
                            return Err(EncodeError {
                                encoding: self.encoding,
                                character: c,
                                position: Position {
                                    line: lines.line,
                                    column: lines.column,
                                    byte: self.bytes + (out.len() - start_len) as u64,
                                },
                            });
                        }
                        EncoderResult::Unmappable(_) => {
                            out.push(b'?');
                            self.replaced += 1;
                        }
                        EncoderResult::OutputFull => unreachable!("a character in 8 bytes"),
                    }
                    rest = &rest[one.len()..];
                }
            }
            (None, _) => unreachable!("legacy encodings have an encoder"),
        }
        self.lines.advance(text);
        self.bytes += (out.len() - start_len) as u64;
        Ok(())
    }

    /// Takes on what `next` encoded, the text that follows this encoder's (encoded apart, on
    /// another thread): its bytes, lines and replacements count as this encoder's.
    pub(crate) fn append(&mut self, next: &Encoder) {
        debug_assert_eq!((self.encoding, self.replace), (next.encoding, next.replace));
        self.bytes += next.bytes;
        self.lines = self.lines.then(next.lines);
        self.replaced += next.replaced;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        for (label, enc) in [
            ("utf-8", Encoding::Utf8),
            ("UTF8", Encoding::Utf8),
            ("gbk", Encoding::Gbk),
            ("cp936", Encoding::Gbk),
            ("gb2312", Encoding::Gbk),
            ("GB18030", Encoding::Gb18030),
            ("big5", Encoding::Big5),
            ("cp950", Encoding::Big5),
            ("big5-hkscs", Encoding::Big5),
            ("utf-16", Encoding::Utf16Le),
            ("utf-16le", Encoding::Utf16Le),
            ("UTF-16BE", Encoding::Utf16Be),
        ] {
            assert_eq!(Encoding::from_label(label), Ok(enc), "{label}");
        }
        assert!(Encoding::from_label("latin1")
            .unwrap_err()
            .to_string()
            .contains("unknown encoding"));
    }

    #[test]
    fn common_han_set_has_both_level_ones() {
        assert!(is_common_han('的') && is_common_han('這') && is_common_han('们'));
        assert!(!is_common_han('丂'));
        let n: u32 = common_han().iter().map(|w| w.count_ones()).sum();
        // GB2312 level 1 has 3755 characters, Big5 level 1 5401; they share many.
        assert!((5401..3755 + 5401).contains(&n), "{n}");
    }

    #[test]
    fn decode_error_positions() {
        let mut d = Decoder::new(Encoding::Gbk, false);
        let mut out = String::new();
        let (gbk, _, _) = encoding_rs::GBK.encode("第一行\n第二行");
        let mut input = gbk.to_vec();
        input.insert(input.len() - 2, 0xFF);
        let e = d.decode(&input, true, &mut out).unwrap_err();
        assert_eq!(e.to_string(), "2:3 (byte 11): invalid GBK sequence [FF]");

        let mut d = Decoder::new(Encoding::Utf8, false);
        let e = d
            .decode(b"ab\xe5\xa4", true, &mut String::new())
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "1:3 (byte 2): truncated UTF-8 sequence [E5 A4] at end of input"
        );

        let mut d = Decoder::new(Encoding::Utf8, true);
        let mut out = String::new();
        d.decode(b"a\xffb", true, &mut out).unwrap();
        assert_eq!((out.as_str(), d.replaced()), ("a\u{FFFD}b", 1));
    }

    #[test]
    fn decode_in_pieces_with_sequences_split() {
        let (big5, _, _) = encoding_rs::BIG5.encode("繁體中文，香港增補字符集");
        for split in 0..=big5.len() {
            let mut d = Decoder::new(Encoding::Big5, false);
            let mut out = String::new();
            d.decode(&big5[..split], false, &mut out).unwrap();
            d.decode(&big5[split..], true, &mut out).unwrap();
            assert_eq!(out, "繁體中文，香港增補字符集");
        }
    }

    #[test]
    fn encode_errors_and_replacement() {
        let mut e = Encoder::new(Encoding::Big5, false);
        let mut out = Vec::new();
        let err = e.encode("第一\n简体字", true, &mut out).unwrap_err();
        assert_eq!(
            err.to_string(),
            "2:1 (byte 5): '简' (U+7B80) cannot be written in Big5"
        );
        let mut e = Encoder::new(Encoding::Big5, true);
        let mut out = Vec::new();
        e.encode("简体字", true, &mut out).unwrap();
        assert_eq!(
            (out.as_slice(), e.replaced()),
            (&b"?\xca\x5e\xa6\x72"[..], 1)
        );
        let mut e = Encoder::new(Encoding::Utf16Be, false);
        let mut out = Vec::new();
        e.encode("a😀", true, &mut out).unwrap();
        assert_eq!(out, [0, 0x61, 0xD8, 0x3D, 0xDE, 0x00]);
    }

    #[test]
    fn encoders_learn_from_encoding_rs_the_bytes_it_gives() {
        // Every character of the Basic Multilingual Plane beyond ASCII, and some beyond it: one
        // at a time, strictly (the bytes encoding_rs gives, or the error for the character it
        // lacks), and all together, twice (learning, then known), with replacement: the same
        // bytes, '?' for each character it lacks. The characters it has, all together: the
        // bytes of encoding_rs's own encode.
        let chars: Vec<char> = (0x80..=0xFFFF)
            .chain(0x1F600..0x1F610)
            .chain(0x20000..0x20100)
            .filter_map(char::from_u32)
            .collect();
        for encoding in [Encoding::Gb18030, Encoding::Gbk, Encoding::Big5] {
            let (mut expected, mut lacked, mut has) = (Vec::new(), 0, String::new());
            for &c in &chars {
                let one = c.encode_utf8(&mut [0; 4]).to_string();
                let mut buf = [0u8; 8];
                let (result, _, n) = (encoding.rs().new_encoder())
                    .encode_from_utf8_without_replacement(&one, &mut buf, true);
                let mut out = Vec::new();
                let ours = Encoder::new(encoding, false).encode(&one, true, &mut out);
                match (result, ours) {
                    (EncoderResult::InputEmpty, Ok(())) => {
                        assert_eq!(out, &buf[..n], "{encoding} {c:?}");
                        expected.extend_from_slice(&buf[..n]);
                        has.push(c);
                    }
                    (EncoderResult::Unmappable(lacks), Err(e)) => {
                        assert_eq!((e.character, lacks), (c, c), "{encoding}");
                        expected.push(b'?');
                        lacked += 1;
                    }
                    (result, ours) => panic!("{encoding} {c:?}: {result:?} against {ours:?}"),
                }
            }
            let text: String = chars.iter().collect();
            for _ in 0..2 {
                let mut e = Encoder::new(encoding, true);
                let mut out = Vec::new();
                e.encode(&text, true, &mut out).unwrap();
                assert!(out == expected, "{encoding}");
                assert_eq!(e.replaced(), lacked, "{encoding}");
            }
            let mut out = Vec::new();
            Encoder::new(encoding, false)
                .encode(&has, true, &mut out)
                .unwrap();
            assert!(out == encoding.rs().encode(&has).0.as_ref(), "{encoding}");
        }
    }

    /// Offsets from 0 to `len` at random distances below `most` (xorshift from `seed`).
    fn random_cuts(seed: &mut u64, len: usize, most: u64) -> Vec<usize> {
        let mut cuts = vec![0];
        while cuts[cuts.len() - 1] < len {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            cuts.push((cuts[cuts.len() - 1] + (*seed % most) as usize).min(len));
        }
        cuts
    }

    /// What a decoder gave: the text, the replacements, where it stands (after no error), and
    /// the error, if any.
    type Decoded = (
        String,
        u64,
        Option<(LineCounter, u64)>,
        Result<(), DecodeError>,
    );

    /// What a decoder gives `input` in the pieces between `cuts`, with `decode` (or encoding_rs
    /// `alone`).
    fn decode_in_pieces(
        encoding: Encoding,
        lossy: bool,
        input: &[u8],
        cuts: &[usize],
        alone: bool,
    ) -> Decoded {
        let mut decoder = Decoder::new(encoding, lossy);
        let mut out = String::new();
        let mut result = Ok(());
        for w in cuts.windows(2) {
            let last = w[1] == input.len();
            let piece = &input[w[0]..w[1]];
            result = match alone {
                true => decoder.decode_rs(piece, last, &mut out),
                false => decoder.decode(piece, last, &mut out),
            };
            if result.is_err() {
                break;
            }
        }
        // (After an error, where the decoder stands is of no use.)
        let mark = result.is_ok().then(|| decoder.mark());
        (out, decoder.replaced(), mark, result)
    }

    #[test]
    fn decoders_learn_from_encoding_rs_the_characters_it_gives() {
        // Every two bytes from a first byte 0x80 to 0xFF, each after a line end, then after one
        // another (the second of one may start the next), some four-byte sequences of GB18030,
        // and a first byte alone at the end; decoded lossily, then strictly from each line in
        // turn that holds a malformed sequence, whole and in random pieces, twice (learning, then
        // known): the text, replacements, position and error that encoding_rs alone gives, and
        // the error the whole gives (where a piece ends inside the malformed sequence, its
        // bytes are those of the last piece).
        let mut input = Vec::new();
        for first in 0x80..=0xFFu8 {
            for second in 0..=0xFFu8 {
                input.extend_from_slice(&[b'\n', first, second]);
            }
            input.extend((0..=0xFFu8).flat_map(|second| [first, second]));
            input.extend_from_slice(b"\n\x81\x30\x81\x30\x84\x31\xA4\x39\x95\x32\x82\x36");
        }
        input.push(0x81);
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut pieces = |len: usize| random_cuts(&mut seed, len, 3000);
        let run = decode_in_pieces;
        for encoding in [Encoding::Gb18030, Encoding::Gbk, Encoding::Big5] {
            for round in 0..2 {
                for cuts in [vec![0, input.len()], pieces(input.len())] {
                    let alone = run(encoding, true, &input, &cuts, true);
                    assert!(alone.1 > 0 && alone.3.is_ok());
                    let ours = run(encoding, true, &input, &cuts, false);
                    assert!(ours == alone, "{encoding} lossy, round {round}");
                }
            }
            // Strictly, from the start of the input (its first malformed sequence), and from
            // each line end with a malformed sequence before the next.
            let mut from = 0;
            let mut errors = 0;
            while let Some(line) = memchr::memchr(b'\n', &input[from..]) {
                let rest = &input[from + line..];
                let alone = run(encoding, false, rest, &[0, rest.len()], true);
                let Err(e) = &alone.3 else { break };
                errors += 1;
                let cuts = pieces(rest.len());
                for cuts in [vec![0, rest.len()], cuts.clone()] {
                    let ours = run(encoding, false, rest, &cuts, false);
                    let alone = run(encoding, false, rest, &cuts, true);
                    assert!(ours == alone, "{encoding} strict, from {from}");
                    // The error of the whole, wherever the pieces cut its sequence.
                    assert_eq!(ours.3.as_ref().unwrap_err(), e, "{encoding} from {from}");
                }
                from += line + 1 + e.position.byte as usize;
            }
            assert!(errors > 1000, "{encoding}: {errors} errors");
        }
    }

    #[test]
    fn utf16_decoders_take_units_that_are_not_surrogates_as_encoding_rs_does() {
        // Every code unit in order (the surrogates among them: highs after highs, then lows),
        // each after an 'a', pairs and surrogates alone, and a byte alone at the end; lossily
        // and strictly (from each malformed unit in turn), whole and in random pieces (odd
        // ones too), in both byte orders: the text, replacements, position and error that
        // encoding_rs alone gives.
        let mut units: Vec<u16> = (0..=0xFFFF).collect();
        units.extend((0..=0xFFFF).step_by(7).flat_map(|u| [u16::from(b'a'), u]));
        for pair in ["😀", "𠀀", "\u{10FFFF}"] {
            units.extend(pair.encode_utf16());
            units.push(0xD83D);
            units.extend(pair.encode_utf16());
            units.push(0xDE00);
        }
        units.push(0xD800);
        let mut seed = 0x2545_F491_4F6C_DD1Du64;
        let mut pieces = |len: usize| random_cuts(&mut seed, len, 5001);
        let run = decode_in_pieces;
        for encoding in [Encoding::Utf16Le, Encoding::Utf16Be] {
            let mut input: Vec<u8> = units
                .iter()
                .flat_map(|&u| match encoding {
                    Encoding::Utf16Be => u.to_be_bytes(),
                    _ => u.to_le_bytes(),
                })
                .collect();
            input.push(b'z');
            for cuts in [vec![0, input.len()], pieces(input.len())] {
                let alone = run(encoding, true, &input, &cuts, true);
                assert!(alone.1 > 2048 && alone.3.is_ok());
                let ours = run(encoding, true, &input, &cuts, false);
                assert!(ours == alone, "{encoding} lossy");
            }
            let (mut from, mut errors) = (0, 0);
            loop {
                let rest = &input[from..];
                let whole = run(encoding, false, rest, &[0, rest.len()], true);
                let Err(e) = &whole.3 else { break };
                errors += 1;
                for cuts in [vec![0, rest.len()], pieces(rest.len())] {
                    let ours = run(encoding, false, rest, &cuts, false);
                    let alone = run(encoding, false, rest, &cuts, true);
                    assert!(ours == alone, "{encoding} strict, from {from}");
                    assert_eq!(ours.3.as_ref().unwrap_err(), e, "{encoding} from {from}");
                }
                from += e.position.byte as usize + 2;
                if from >= input.len() {
                    break;
                }
            }
            assert!(errors > 2048, "{encoding}: {errors} errors");
        }
    }

    #[test]
    fn detection() {
        let text = "这是一段简体中文文本，用来测试编码检测。";
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        assert_eq!(detect(&gbk, true).encoding, Encoding::Gb18030);
        let utf16le: Vec<u8> = "hello\nworld 你好"
            .encode_utf16()
            .flat_map(|u| u.to_le_bytes())
            .collect();
        assert_eq!(detect(&utf16le, true).encoding, Encoding::Utf16Le);
        let utf16be: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        assert_eq!(detect(&utf16be, true).encoding, Encoding::Utf16Be);
        let bom = Detected {
            encoding: Encoding::Utf8,
            bom: true,
        };
        assert_eq!(detect(b"\xEF\xBB\xBFabc", true), bom);
        assert_eq!(detect("纯文本".as_bytes(), true).encoding, Encoding::Utf8);
        // A UTF-8 prefix cut inside a character is still UTF-8.
        assert_eq!(
            detect(&"纯文本".as_bytes()[..4], false).encoding,
            Encoding::Utf8
        );
        assert_eq!(
            detect(&"纯文本".as_bytes()[..4], true).encoding,
            Encoding::Utf8
        );
    }
}
