//! Converting text that arrives in pieces, with output byte-identical to converting it whole.
//!
//! [`StreamConverter`] holds back the tail of what it was given, from the last *safe cut* on
//! (see `Engine::last_safe_cut`): a place right before a character that occurs in no dictionary
//! key, away from any Ideographic Description Sequence. Newlines, spaces, ASCII punctuation and
//! CJK punctuation are such characters, so in real text the tail held back is a few characters
//! long, and memory stays bounded whatever the size of the input or the length of its lines.
//! (A stretch with no safe cut at all, such as megabytes of Han characters without one
//! punctuation mark, is held until one comes: exactness first.)

use crate::Converter;

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
    pending: String,
    /// `pending[..searched]` is known to hold no safe cut.
    searched: usize,
}

impl<'c> StreamConverter<'c> {
    pub(crate) fn new(converter: &'c Converter) -> StreamConverter<'c> {
        StreamConverter {
            converter,
            pending: String::new(),
            searched: 0,
        }
    }

    /// Appends `text` and converts, into `out`, everything up to the last safe cut.
    pub fn push(&mut self, text: &str, out: &mut String) {
        if self.pending.is_empty() {
            // Convert straight from the caller's text; keep only the tail.
            match self.converter.engine.last_safe_cut(text, 0) {
                Some(cut) => {
                    self.converter.engine.convert_into(&text[..cut], out);
                    self.pending.push_str(&text[cut..]);
                }
                None => self.pending.push_str(text),
            }
            self.searched = 0;
            return;
        }
        let min = self.searched;
        self.pending.push_str(text);
        match self.converter.engine.last_safe_cut(&self.pending, min) {
            Some(cut) => {
                self.converter
                    .engine
                    .convert_into(&self.pending[..cut], out);
                self.pending.drain(..cut);
                self.searched = 0;
            }
            None => self.searched = self.pending.len(),
        }
    }

    /// Converts what is held back, into `out`; the stream can then be used again.
    pub fn finish(&mut self, out: &mut String) {
        self.converter.engine.convert_into(&self.pending, out);
        self.pending.clear();
        self.searched = 0;
    }

    /// How many bytes of text are held back, waiting for a safe cut.
    pub fn held_back(&self) -> usize {
        self.pending.len()
    }
}
