//! Converting text that arrives in pieces, with output byte-identical to converting it whole.
//!
//! [`StreamConverter`] holds back the tail of what it was given, from the last *safe cut* on
//! (see `convert::last_safe_cut`): a place right before a character that occurs in no dictionary
//! key, away from any Ideographic Description Sequence. Newlines, spaces, ASCII punctuation and
//! CJK punctuation are such characters, so in real text the tail held back is a few characters
//! long, and memory stays bounded whatever the size of the input or the length of its lines.
//! (A stretch with no safe cut at all, such as megabytes of Han characters without one
//! punctuation mark, is held until one comes: exactness first.)

use rayon::prelude::*;

use crate::Converter;

/// Below this many bytes a text is not worth cutting for parallel conversion.
const MIN_PIECE: usize = 256 * 1024;

/// Converts `text` into `out`, cut at safe points into up to `pieces` parts converted in
/// parallel (on the current rayon pool); the same bytes as converting it whole.
pub(crate) fn convert_pieces(converter: &Converter, text: &str, out: &mut String, pieces: usize) {
    let pieces = pieces.min(text.len() / MIN_PIECE);
    if pieces <= 1 {
        return converter.convert_into(text, out);
    }
    let mut cuts = vec![0];
    for k in 1..pieces {
        let last = *cuts.last().unwrap();
        if let Some(cut) = converter.safe_cut_below(text, k * text.len() / pieces, last + 1) {
            cuts.push(cut);
        }
    }
    cuts.push(text.len());
    let parts: Vec<String> = cuts
        .par_windows(2)
        .map(|w| {
            let mut part = String::with_capacity(w[1] - w[0] + (w[1] - w[0]) / 4);
            converter.convert_into(&text[w[0]..w[1]], &mut part);
            part
        })
        .collect();
    out.reserve(parts.iter().map(String::len).sum());
    for part in parts {
        out.push_str(&part);
    }
}

/// Converts text pushed in pieces; see the module docs. Made by [`Converter::stream`].
///
/// ```
/// use fanjian::{Config, Converter};
/// let s2t = Converter::new(Config::S2t);
/// let mut stream = s2t.stream();
/// let mut out = String::new();
/// stream.push("我的头", &mut out); // 头 may start 头发: held back
/// stream.push("发很长。", &mut out);
/// stream.finish(&mut out);
/// assert_eq!(out, "我的頭髮很長。");
/// ```
#[derive(Debug)]
pub struct StreamConverter<'c> {
    converter: &'c Converter,
    pieces: usize,
    pending: String,
    /// `pending[..searched]` is known to hold no safe cut.
    searched: usize,
}

impl<'c> StreamConverter<'c> {
    pub(crate) fn new(converter: &'c Converter) -> StreamConverter<'c> {
        StreamConverter {
            converter,
            pieces: 1,
            pending: String::new(),
            searched: 0,
        }
    }

    /// Converts large pushes in up to `pieces` parts in parallel, on the current rayon thread
    /// pool, cut at safe points: the output stays the same bytes.
    pub fn with_parallelism(mut self, pieces: usize) -> StreamConverter<'c> {
        self.pieces = pieces.max(1);
        self
    }

    /// Appends `text` and converts, into `out`, everything up to the last safe cut.
    pub fn push(&mut self, text: &str, out: &mut String) {
        if self.pending.is_empty() {
            // Convert straight from the caller's text; keep only the tail.
            match self.converter.last_safe_cut(text, 0) {
                Some(cut) => {
                    convert_pieces(self.converter, &text[..cut], out, self.pieces);
                    self.pending.push_str(&text[cut..]);
                }
                None => self.pending.push_str(text),
            }
            self.searched = 0;
            return;
        }
        let min = self.searched;
        self.pending.push_str(text);
        match self.converter.last_safe_cut(&self.pending, min) {
            Some(cut) => {
                convert_pieces(self.converter, &self.pending[..cut], out, self.pieces);
                self.pending.drain(..cut);
                self.searched = 0;
            }
            None => self.searched = self.pending.len(),
        }
    }

    /// Converts what is held back, into `out`; the stream can then be used again.
    pub fn finish(&mut self, out: &mut String) {
        convert_pieces(self.converter, &self.pending, out, self.pieces);
        self.pending.clear();
        self.searched = 0;
    }

    /// How many bytes of text are held back, waiting for a safe cut.
    pub fn held_back(&self) -> usize {
        self.pending.len()
    }
}
