//! Converting text that arrives in pieces, with output byte-identical to converting it whole.
//!
//! [`StreamConverter`] holds back the tail of what it was given, from the last *safe cut* on
//! (see `convert::last_safe_cut`): a place right before a character that occurs in no dictionary
//! key, away from any Ideographic Description Sequence. Newlines, spaces, ASCII punctuation and
//! CJK punctuation are such characters, so in real text the tail held back is a few characters
//! long, and memory stays bounded whatever the size of the input or the length of its lines.
//! (A stretch with no safe cut at all, such as megabytes of Han characters without one
//! punctuation mark, is held until one comes: exactness first.)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::Converter;

/// Below this many bytes a text is not worth cutting for parallel conversion.
const MIN_PIECE: usize = 256 * 1024;

/// Pieces per thread that a text is cut into: more pieces than threads, so that a thread
/// whose pieces convert faster (more ASCII, fewer phrases) takes more of them.
const PIECES_PER_THREAD: usize = 4;

/// Converts `text` into `out`, cut at safe points into parts converted in parallel by up to
/// `threads` threads (on the current rayon pool); the same bytes as converting it whole.
pub(crate) fn convert_pieces(converter: &Converter, text: &str, out: &mut String, threads: usize) {
    if threads.min(text.len() / MIN_PIECE) <= 1 {
        return converter.convert_into(text, out);
    }
    let mut parts = Parts::default();
    parts.convert(converter, text, threads);
    out.reserve(parts.len());
    parts.iter().for_each(|part| out.push_str(part));
}

/// Converted text as a sequence of parts, each converted on a thread of its own: written out
/// one after the other, they need not be copied into one string first. Their buffers are kept
/// for the next text.
#[derive(Debug, Default)]
pub(crate) struct Parts {
    bufs: Vec<String>,
    /// `bufs[..used]` hold the text.
    used: usize,
}

impl Parts {
    /// Forgets the text (keeping the buffers).
    pub(crate) fn clear(&mut self) {
        self.used = 0;
    }

    /// The parts, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &str> {
        self.bufs[..self.used].iter().map(String::as_str)
    }

    /// The text's length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.iter().map(str::len).sum()
    }

    /// Appends `text` converted, cut at safe points into parts converted in parallel by up to
    /// `threads` threads.
    pub(crate) fn convert(&mut self, converter: &Converter, text: &str, threads: usize) {
        self.convert_with(converter, text, threads, &mut None::<fn()>);
    }

    /// [`Parts::convert`]; where the pieces are converted in parallel, `side` (if there is
    /// one, taken) first runs on the calling thread while the pool's threads start on them,
    /// and then the calling thread converts pieces too.
    pub(crate) fn convert_with(
        &mut self,
        converter: &Converter,
        text: &str,
        threads: usize,
        side: &mut Option<impl FnOnce()>,
    ) {
        let pieces = match threads {
            0 | 1 => 1,
            _ => (threads * PIECES_PER_THREAD)
                .min(text.len() / MIN_PIECE)
                .max(1),
        };
        let mut cuts = vec![0];
        for k in 1..pieces {
            let last = *cuts.last().expect("a cut");
            if let Some(cut) = converter.safe_cut_below(text, k * text.len() / pieces, last + 1) {
                cuts.push(cut);
            }
        }
        cuts.push(text.len());
        let (from, to) = (self.used, self.used + cuts.len() - 1);
        if self.bufs.len() < to {
            self.bufs.resize_with(to, String::new);
        }
        self.used = to;
        if to - from == 1 {
            let part = &mut self.bufs[from];
            part.clear();
            return converter.convert_into(text, part);
        }
        // Each thread takes the next piece not taken yet (a lock each, never waited on).
        let parts: Vec<Mutex<&mut String>> =
            self.bufs[from..to].iter_mut().map(Mutex::new).collect();
        let next = AtomicUsize::new(0);
        let work = || loop {
            let k = next.fetch_add(1, Ordering::Relaxed);
            let Some(part) = parts.get(k) else { break };
            let mut part = part.lock().expect("no thread panicked with a piece");
            part.clear();
            converter.convert_into(&text[cuts[k]..cuts[k + 1]], &mut part);
        };
        rayon::in_place_scope(|scope| {
            for _ in 0..threads.min(parts.len()) {
                scope.spawn(|_| work());
            }
            if let Some(side) = side.take() {
                side();
            }
            work();
        });
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
    /// Threads a large push is converted on.
    threads: usize,
    pending: String,
    /// `pending[..searched]` is known to hold no safe cut.
    searched: usize,
}

impl<'c> StreamConverter<'c> {
    pub(crate) fn new(converter: &'c Converter) -> StreamConverter<'c> {
        StreamConverter {
            converter,
            threads: 1,
            pending: String::new(),
            searched: 0,
        }
    }

    /// Converts large pushes on up to `threads` threads, on the current rayon thread pool, in
    /// parts cut at safe points: the output stays the same bytes.
    pub fn with_parallelism(mut self, threads: usize) -> StreamConverter<'c> {
        self.threads = threads.max(1);
        self
    }

    /// Appends `text` and converts, into `out`, everything up to the last safe cut.
    pub fn push(&mut self, text: &str, out: &mut String) {
        let (converter, threads) = (self.converter, self.threads);
        self.push_with(text, |text| convert_pieces(converter, text, out, threads));
    }

    /// [`StreamConverter::push`] into parts converted in parallel, with `side` run meanwhile
    /// (see [`Parts::convert_with`]).
    pub(crate) fn push_parts(
        &mut self,
        text: &str,
        out: &mut Parts,
        side: &mut Option<impl FnOnce()>,
    ) {
        let (converter, threads) = (self.converter, self.threads);
        self.push_with(text, |text| {
            out.convert_with(converter, text, threads, side)
        });
    }

    /// Appends `text` and hands everything up to the last safe cut to `convert`.
    fn push_with(&mut self, text: &str, convert: impl FnOnce(&str)) {
        if self.pending.is_empty() {
            // Convert straight from the caller's text; keep only the tail.
            match self.converter.last_safe_cut(text, 0) {
                Some(cut) => {
                    convert(&text[..cut]);
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
                convert(&self.pending[..cut]);
                self.pending.drain(..cut);
                self.searched = 0;
            }
            None => self.searched = self.pending.len(),
        }
    }

    /// Converts what is held back, into `out`; the stream can then be used again.
    pub fn finish(&mut self, out: &mut String) {
        convert_pieces(self.converter, &self.pending, out, self.threads);
        self.pending.clear();
        self.searched = 0;
    }

    /// [`StreamConverter::finish`] into parts, with `side` run meanwhile (see
    /// [`Parts::convert_with`]).
    pub(crate) fn finish_parts(&mut self, out: &mut Parts, side: &mut Option<impl FnOnce()>) {
        out.convert_with(self.converter, &self.pending, self.threads, side);
        self.pending.clear();
        self.searched = 0;
    }

    /// How many bytes of text are held back, waiting for a safe cut.
    pub fn held_back(&self) -> usize {
        self.pending.len()
    }
}
