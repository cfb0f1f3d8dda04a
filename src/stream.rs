//! Converting text that arrives in pieces, with output byte-identical to converting it whole.
//!
//! [`StreamConverter`] holds back the tail of what it was given, from the last *safe cut* on
//! (see `convert::last_safe_cut`): a place right before a character that occurs in no dictionary
//! key, away from any Ideographic Description Sequence. Newlines, spaces, ASCII punctuation and
//! CJK punctuation are such characters, so in real text the tail held back is a few characters
//! long, and memory stays bounded whatever the size of the input or the length of its lines.
//! (A stretch with no safe cut at all, such as megabytes of Han characters without one
//! punctuation mark, is held until one comes: exactness first.)

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex};

use crate::encoding::{utf8_prefix, Decoder, Encoder, Encoding, LineCounter};
use crate::normalize::Normalizer;
use crate::pipeline::{fill_at, ReadAt};
use crate::Converter;

/// Below this many bytes a text is not worth cutting for parallel conversion.
const MIN_PIECE: usize = 256 * 1024;

/// Pieces per thread that a text is cut into: more pieces than threads, so that a thread
/// whose pieces convert faster (more ASCII, fewer phrases) takes more of them.
const PIECES_PER_THREAD: usize = 4;

/// Converts `text` into `out`, cut at safe points into pieces converted in parallel by up to
/// `threads` threads (on the current rayon pool); the same bytes as converting it whole.
pub(crate) fn convert_pieces(converter: &Converter, text: &str, out: &mut String, threads: usize) {
    let pieces = (threads * PIECES_PER_THREAD).min(text.len() / MIN_PIECE);
    if threads <= 1 || pieces <= 1 {
        return converter.convert_into(text, out);
    }
    let mut cuts = vec![0];
    for k in 1..pieces {
        let last = *cuts.last().expect("a cut");
        if let Some(cut) = converter.safe_cut_below(text, k * text.len() / pieces, last + 1) {
            cuts.push(cut);
        }
    }
    cuts.push(text.len());
    let mut parts = vec![String::new(); cuts.len() - 1];
    // Each thread takes the next piece not taken yet (a lock each, never waited on).
    let slots: Vec<Mutex<&mut String>> = parts.iter_mut().map(Mutex::new).collect();
    let next = AtomicUsize::new(0);
    let work = || loop {
        let k = next.fetch_add(1, Ordering::Relaxed);
        let Some(part) = slots.get(k) else { break };
        let mut part = part.lock().expect("no thread panicked with a piece");
        converter.convert_into(&text[cuts[k]..cuts[k + 1]], &mut part);
    };
    rayon::in_place_scope(|scope| {
        for _ in 0..threads.min(slots.len()) {
            scope.spawn(|_| work());
        }
        work();
    });
    drop(slots);
    out.reserve(parts.iter().map(String::len).sum());
    parts.iter().for_each(|part| out.push_str(part));
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
        if self.pending.is_empty() {
            // Convert straight from the caller's text; keep only the tail.
            match converter.last_safe_cut(text, 0) {
                Some(cut) => {
                    convert_pieces(converter, &text[..cut], out, threads);
                    self.pending.push_str(&text[cut..]);
                }
                None => self.pending.push_str(text),
            }
            self.searched = 0;
            return;
        }
        let min = self.searched;
        self.pending.push_str(text);
        match converter.last_safe_cut(&self.pending, min) {
            Some(cut) => {
                convert_pieces(converter, &self.pending[..cut], out, threads);
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

    /// How many bytes of text are held back, waiting for a safe cut.
    pub fn held_back(&self) -> usize {
        self.pending.len()
    }
}

/// Slots per thread in a [`Flow`]: texts handed over ahead of the threads' conversion, and
/// outputs waiting for their turn to be written.
const SLOTS_PER_THREAD: usize = 4;

/// The text a slot of a [`Flow`] takes at least: enough to make the hand-over's cost small, and
/// little enough for a slot's text and output to stay in the cache of the core that converts it.
const SLOT_BYTES: usize = 256 * 1024;

/// Runs `f` with a [`Flow`] that converts on up to `threads` threads of the current rayon
/// pool (and on the calling thread, where it would otherwise wait).
/// `raw` says how input read as it is (see [`Flow::raw_space`]) is taken; `encode`, the
/// encoding (and whether to replace what it lacks, see [`Encoder::new`]) that the threads
/// encode the outputs in, if any.
pub(crate) fn flow<'c, R>(
    converter: &'c Converter,
    threads: usize,
    raw: RawInput<'c>,
    encode: Option<(Encoding, bool)>,
    f: impl FnOnce(&mut Flow<'_, '_>) -> R,
) -> R {
    let shared = Shared::new(converter, threads, raw, encode);
    rayon::in_place_scope(|scope| {
        f(&mut Flow {
            shared: &shared,
            scope,
            pending: String::new(),
            lead: 0,
            searched: 0,
            raw: Bytes::default(),
            raw_searched: 0,
            window: Vec::new(),
            window_declined: None,
            raw_bytes: 0,
            raw_lines: LineCounter::new(),
            clean: true,
            replaced: 0,
            unbalanced: 0,
            published: 0,
            written: 0,
        })
    })
}

/// Bytes in a buffer that stays initialized: `buf[..end]` are in use, the rest were in use
/// before (or are zeros), so that input can be read into it without clearing it first.
#[derive(Default)]
struct Bytes {
    buf: Vec<u8>,
    end: usize,
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        &self.buf[..self.end]
    }

    /// Room for `n` more bytes after those in use.
    fn space(&mut self, n: usize) -> &mut [u8] {
        if self.buf.len() < self.end + n {
            self.buf.resize(self.end + n, 0);
        }
        &mut self.buf[self.end..self.end + n]
    }

    fn extend(&mut self, bytes: &[u8]) {
        self.space(bytes.len()).copy_from_slice(bytes);
        self.end += bytes.len();
    }
}

/// How a [`Flow`] takes input read as it is: UTF-8, or another encoding, which the slots'
/// threads decode, each slot cut before a character below 0x30 (see [`low_units`]: it stands
/// for itself, and a new decoder decodes from it).
#[derive(Clone, Copy)]
pub(crate) struct RawInput<'c> {
    /// The input's encoding.
    pub(crate) encoding: Encoding,
    /// A slot that holds a NUL byte is sent back like one that does not validate.
    pub(crate) reject_nul: bool,
    /// Malformed sequences are replaced with U+FFFD: by the slot's thread, where the slot
    /// starts and ends at cuts found in bytes that validated (its own decoding is then that
    /// of the whole); otherwise the slot is sent back.
    pub(crate) lossy: bool,
    /// Where the threads read slots themselves (see [`Flow::push_at`]).
    pub(crate) at: Option<&'c dyn ReadAt>,
    /// The normalization around the conversion, where there is one: a normalizer that has
    /// seen no text yet, which each slot's thread copies to normalize its slot as a whole,
    /// before the conversion and after it (see [`Normalizer::before_whole`],
    /// [`Normalizer::after_whole`]). The slots are then cut before ASCII whitespace only (a
    /// line end where quotation marks are paired, line by line), where the normalization of
    /// the text after the cut does not depend on the text before it.
    pub(crate) normalize: Option<&'c Normalizer>,
}

impl RawInput<'_> {
    /// The characters the slots may be cut before, if not any (see [`RawInput::normalize`]).
    fn cut_before(&self) -> Option<fn(char) -> bool> {
        let normalizer = self.normalize?;
        Some(match normalizer.has_after() {
            true => |c| c == '\n',
            false => ascii_whitespace,
        })
    }
}

/// An output of a [`Flow`], in order.
pub(crate) enum Piece<'a> {
    /// Converted text.
    Text(&'a str),
    /// Converted text, encoded by the slot's thread in the flow's encoding, and the encoder
    /// that did (what it counted: see [`Encoder::append`]). Where a character cannot be
    /// encoded (and is not to be replaced), the slot's output is [`Piece::Text`] instead, for
    /// the writer's encoder to meet it where it knows its position.
    Encoded(&'a [u8], &'a Encoder),
    /// Converted text that the slot's thread normalized after the conversion too (see
    /// [`RawInput::normalize`]), not encoded.
    Finished(&'a str),
}

/// Input that a [`Flow`] sends back, from the first slot of bytes read as they are that did
/// not validate (or held a NUL byte, or did not read whole), to go through the decoder
/// instead.
pub(crate) struct Recall {
    /// The input from that slot on, as read (none where the threads read at offsets: it is
    /// read again from there).
    pub(crate) input: Vec<u8>,
    /// What the slots written before it held: bytes, and lines and columns counted from line
    /// 1, column 1.
    pub(crate) bytes: u64,
    pub(crate) lines: LineCounter,
}

/// The bytes at the end of the input held that are searched for a safe cut, once they are a
/// slot's worth.
const CUT_WINDOW: usize = 4096;

/// The bytes before a cut that its search sees: those of the code points an IDS operator may
/// reach across it from, and of a character cut through at the start.
const CUT_LOOKBACK: usize = 4 * crate::ids::MAX_CODE_POINTS + 3;

/// In an encoding other than UTF-8, the bytes before a search's [`CUT_LOOKBACK`] in which it
/// looks for a character below 0x30 to decode from (see [`window_cut`]).
const RESTART_LOOKBACK: usize = 4096;

/// In an encoding other than UTF-8, the input held without a cut after which the rest of the
/// input goes through the calling thread's decoder instead (where the text has no character
/// below 0x30 to cut before, such as a file without line ends, memory stays bounded).
const RAW_HELD_MAX: usize = 4 * SLOT_BYTES;

/// A stream's text converted on several threads at once and written in order, with no
/// barrier between one push and the next: each push, up to its last safe cut, fills a slot
/// that the next free thread converts, while the calling thread goes on reading; outputs are
/// written as soon as they and those before them are done. The calling thread converts a slot
/// itself where it would otherwise wait (all slots busy, or at the end). Memory is the slots'
/// texts and outputs, whatever the length of the stream.
pub(crate) struct Flow<'f, 'scope> {
    shared: &'scope Shared<'scope>,
    scope: &'f rayon::Scope<'scope>,
    /// The text after the last safe cut, not handed over yet: `pending[lead..]` (see
    /// [`half_a_page_from`]).
    pending: String,
    lead: usize,
    /// `pending[lead..][..searched]` is known to hold no safe cut.
    searched: usize,
    /// Input read as it is, not handed over yet (see [`Flow::raw_space`]).
    raw: Bytes,
    /// `raw[..raw_searched]` holds no safe cut.
    raw_searched: usize,
    /// The bytes searched for the cut at the end of a slot read at an offset, and the offset
    /// of the last window that held none (or did not read whole).
    window: Vec<u8>,
    window_declined: Option<u64>,
    /// What the slots of such input written so far held, for a [`Recall`].
    raw_bytes: u64,
    raw_lines: LineCounter,
    /// The input held starts at a cut found in bytes that validated (or at the start).
    clean: bool,
    /// Malformed sequences the slots' threads replaced, and quotation marks without a partner
    /// they left alone, in the slots written.
    replaced: u64,
    unbalanced: u64,
    /// Slots handed over and slots written, by number.
    published: usize,
    written: usize,
}

impl Flow<'_, '_> {
    /// Appends `text` and hands everything up to the last safe cut over to the threads;
    /// writes the outputs that are done, in order, with `write`.
    pub(crate) fn push<E>(
        &mut self,
        text: &str,
        write: &mut impl FnMut(Piece<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.pending.is_empty() {
            self.lead = half_a_page_from(&mut self.pending, text.as_ptr(), 2 * SLOT_BYTES);
        }
        self.pending.push_str(text);
        let held = &self.pending[self.lead..];
        if held.len() < SLOT_BYTES {
            return Ok(());
        }
        match self.shared.converter.last_safe_cut(held, self.searched) {
            Some(cut) => self.hand_over(self.lead + cut, text.as_ptr(), write),
            None => {
                self.searched = held.len();
                Ok(())
            }
        }
    }

    /// Hands over what is held back and writes everything, in order, with `write`.
    pub(crate) fn finish<E>(
        &mut self,
        write: &mut impl FnMut(Piece<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.pending.len() > self.lead {
            self.hand_over(self.pending.len(), self.pending.as_ptr(), write)?;
        }
        let all = self.serve(write, |flow| flow.written == flow.published)?;
        assert!(all, "text pushed follows no input sent back");
        Ok(())
    }

    /// Malformed sequences the threads replaced in the slots written so far.
    pub(crate) fn replaced(&self) -> u64 {
        self.replaced
    }

    /// Quotation marks without a partner the threads left alone in the slots written so far.
    pub(crate) fn unbalanced(&self) -> u64 {
        self.unbalanced
    }

    /// Room for `n` more bytes of UTF-8 input, read as it is, after those held: the threads
    /// validate each slot (and count its lines) before they convert it. [`Flow::push_raw`]
    /// takes them.
    pub(crate) fn raw_space(&mut self, n: usize) -> &mut [u8] {
        self.raw.space(n)
    }

    /// Takes the first `n` bytes of [`Flow::raw_space`] and hands the input held over, up to
    /// its last safe cut (see [`Flow::raw_cut`]), once it is a slot's worth; writes the
    /// outputs that are done, in order, with `write`. Where a slot did not validate, stops at
    /// it and sends back the input from there on, which the flow no longer holds.
    pub(crate) fn push_raw<E>(
        &mut self,
        n: usize,
        write: &mut impl FnMut(Piece<'_>) -> Result<(), E>,
    ) -> Result<Option<Recall>, E> {
        self.raw.end += n;
        if self.raw.end < SLOT_BYTES {
            return Ok(None);
        }
        match self.raw_cut() {
            Some((cut, clean)) => self.hand_over_raw(cut, clean, false, write),
            None => Ok(None),
        }
    }

    /// Hands the input read as it is over, all of it, and writes everything, in order, with
    /// `write`; or sends it back from the first slot that did not validate.
    pub(crate) fn finish_raw<E>(
        &mut self,
        write: &mut impl FnMut(Piece<'_>) -> Result<(), E>,
    ) -> Result<Option<Recall>, E> {
        if self.raw.end > 0 {
            if let Some(recall) = self.hand_over_raw(self.raw.end, true, true, write)? {
                return Ok(Some(recall));
            }
        }
        Ok((!self.serve(write, |flow| flow.written == flow.published)?).then(|| self.recall()))
    }

    /// The last safe cut in the input read as it is, or the end of it where the bytes
    /// searched do not validate (the slot then goes to a thread that finds so). The last
    /// [`CUT_WINDOW`] bytes are searched first, which in most text hold one; where they hold
    /// none, the rest not searched yet, so that the input held stays a slot's worth wherever
    /// the text has safe cuts.
    fn raw_cut(&mut self) -> Option<(usize, bool)> {
        let bytes = self.raw.as_slice();
        let last = bytes.len().saturating_sub(CUT_WINDOW);
        let rest = (self.raw_searched < last).then_some(self.raw_searched);
        let encoding = self.shared.raw.encoding;
        let cut = [Some(last), rest].into_iter().flatten().find_map(|from| {
            let mut start = from.saturating_sub(CUT_LOOKBACK);
            if encoding != Encoding::Utf8 {
                start = start.saturating_sub(RESTART_LOOKBACK);
            }
            let converter = self.shared.converter;
            let window = Window {
                held: start == 0,
                before: self.shared.raw.cut_before(),
                odd: start % 2 == 1,
            };
            match window_cut(converter, encoding, &bytes[start..], from - start, window) {
                Ok(cut) => cut.map(|q| (start + q, true)),
                Err(()) => Some((bytes.len(), false)),
            }
        });
        // Where no character below 0x30 comes (or no ASCII whitespace, where the threads
        // normalize), the decoder takes the rest (the slot handed over is not clean: its
        // thread sends it back).
        let sparse = encoding != Encoding::Utf8 || self.shared.raw.normalize.is_some();
        let cut =
            cut.or_else(|| (sparse && bytes.len() >= RAW_HELD_MAX).then_some((bytes.len(), false)));
        // Positions before an incomplete character at the end are searched: whether a place
        // is a safe cut depends on the text before it only.
        self.raw_searched = match cut {
            Some(_) => 0,
            None => bytes.len().saturating_sub(3),
        };
        cut
    }

    /// Hands slots of the input from `offset` on over, each read by the thread that takes it
    /// (after the input held, for the first): as long as the bytes before a slot's end read
    /// whole and hold a safe cut. Returns where the input handed over ends, for the calling
    /// thread's reads to go on from; or the input sent back, where a slot did not validate
    /// or did not read whole.
    pub(crate) fn push_at<E>(
        &mut self,
        at: &dyn ReadAt,
        mut offset: u64,
        write: &mut impl FnMut(Piece<'_>) -> Result<(), E>,
    ) -> Result<Result<u64, Recall>, E> {
        let converter = self.shared.converter;
        self.window.resize(CUT_LOOKBACK + CUT_WINDOW, 0);
        loop {
            // The window ends where the slot has a slot's worth.
            let Some(ahead) = SLOT_BYTES.checked_sub(self.raw.end + self.window.len()) else {
                return Ok(Ok(offset));
            };
            let from = offset + ahead as u64;
            // (It stays where it is while the calling thread's reads fill the slot.)
            if self.window_declined == Some(from) {
                return Ok(Ok(offset));
            }
            let cut = match fill_at(at, &mut self.window, from) {
                Ok(n) if n == self.window.len() => {
                    let raw = self.shared.raw;
                    let window = Window {
                        held: false,
                        before: raw.cut_before(),
                        // (The input starts after a byte order mark of two bytes, or none.)
                        odd: from % 2 == 1,
                    };
                    window_cut(converter, raw.encoding, &self.window, CUT_LOOKBACK, window)
                }
                // The end of the input, or an error: the calling thread's reads meet them.
                _ => Ok(None),
            };
            let Ok(Some(cut)) = cut else {
                self.window_declined = Some(from);
                return Ok(Ok(offset));
            };
            let end = from + cut as u64;
            let range = Some((offset, (end - offset) as usize));
            if let Some(recall) =
                self.hand_over_bytes(true, false, write, |data, _| data.range = range)?
            {
                return Ok(Err(recall));
            }
            offset = end;
        }
    }

    /// Hands `raw[..cut]` over to the threads in the next slot, once it is free (see
    /// [`Flow::hand_over_bytes`] for `clean` and `last`).
    fn hand_over_raw<E>(
        &mut self,
        cut: usize,
        clean: bool,
        last: bool,
        write: &mut impl FnMut(Piece<'_>) -> Result<(), E>,
    ) -> Result<Option<Recall>, E> {
        self.hand_over_bytes(clean, last, write, |data, held| {
            held.extend(&data.raw.as_slice()[cut..]);
            data.raw.end = cut;
            data.range = None;
        })
    }

    /// Hands the input read as it is over to the threads in the next slot, once it is free,
    /// after `fill` has set the slot's range (given the slot and the flow's buffer, empty).
    /// `clean`: the slot ends at a cut found in bytes that validated, or at the end of the
    /// input (`last`).
    fn hand_over_bytes<E>(
        &mut self,
        clean: bool,
        last: bool,
        write: &mut impl FnMut(Piece<'_>) -> Result<(), E>,
        fill: impl FnOnce(&mut SlotData, &mut Bytes),
    ) -> Result<Option<Recall>, E> {
        let shared = self.shared;
        if !self.serve(write, |flow| {
            flow.published - flow.written < shared.slots.len()
        })? {
            return Ok(Some(self.recall()));
        }
        {
            let mut data = shared
                .slot(self.published)
                .data
                .lock()
                .expect("a written slot is free");
            data.raw.end = 0;
            std::mem::swap(&mut data.raw, &mut self.raw);
            self.raw_searched = 0;
            fill(&mut data, &mut self.raw);
            data.is_raw = true;
            data.clean = self.clean && clean;
            data.last = last;
            self.clean = clean;
        }
        self.publish();
        Ok(None)
    }

    /// Takes the slots from the next to write on back from the threads (waiting for those
    /// they are converting), and sends back their input and the input held.
    fn recall(&mut self) -> Recall {
        let shared = self.shared;
        let taken = shared.take_the_rest();
        let mut input = Vec::new();
        for k in self.written..self.published {
            if k < taken {
                shared.wait_for(k);
            }
            if shared.raw.at.is_none() {
                let data = shared.slot(k).data.lock().expect("a slot read as it is");
                input.extend_from_slice(data.raw.as_slice());
            }
        }
        if shared.raw.at.is_none() {
            input.extend_from_slice(self.raw.as_slice());
        }
        self.raw.end = 0;
        self.raw_searched = 0;
        self.published = self.written;
        shared.published.store(self.written, Ordering::SeqCst);
        shared.claimed.store(self.written, Ordering::SeqCst);
        Recall {
            input,
            bytes: self.raw_bytes,
            lines: self.raw_lines,
        }
    }

    /// Hands `pending[lead..cut]` over to the threads in the next slot, once it is free; the
    /// text after it starts the next slot, half a page from `read` (where the next pushes come
    /// from).
    fn hand_over<E>(
        &mut self,
        cut: usize,
        read: *const u8,
        write: &mut impl FnMut(Piece<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let shared = self.shared;
        let room = self.serve(write, |flow| {
            flow.published - flow.written < shared.slots.len()
        })?;
        assert!(room, "text pushed follows no input sent back");
        {
            let mut data = shared
                .slot(self.published)
                .data
                .lock()
                .expect("a written slot is free");
            std::mem::swap(&mut data.text, &mut self.pending);
            data.lead = self.lead;
            self.lead = half_a_page_from(&mut self.pending, read, 2 * SLOT_BYTES);
            self.pending.push_str(&data.text[cut..]);
            data.text.truncate(cut);
            data.is_raw = false;
            data.range = None;
        }
        self.searched = 0;
        self.publish();
        Ok(())
    }

    /// Hands the next slot, filled, over to the threads.
    fn publish(&mut self) {
        let shared = self.shared;
        shared
            .slot(self.published)
            .done
            .store(false, Ordering::Relaxed);
        self.published += 1;
        shared.published.store(self.published, Ordering::SeqCst);
        if shared.enlist() {
            self.scope.spawn(move |_| shared.work());
        }
    }

    /// Writes the slots that are done, in order, until `enough`; meanwhile converts a slot
    /// not taken yet, or waits for the next one to write. `false` where it stopped at a slot
    /// that did not validate.
    fn serve<E>(
        &mut self,
        write: &mut impl FnMut(Piece<'_>) -> Result<(), E>,
        enough: impl Fn(&Self) -> bool,
    ) -> Result<bool, E> {
        let shared = self.shared;
        loop {
            while self.written < self.published {
                let slot = shared.slot(self.written);
                if !slot.done.load(Ordering::Acquire) {
                    break;
                }
                let data = slot.data.lock().expect("no thread panicked converting");
                if data.bad {
                    return Ok(false);
                }
                // (A slot read as it is was normalized after the conversion by its thread.)
                let finished =
                    data.is_raw && shared.raw.normalize.is_some_and(Normalizer::has_after);
                match (&data.encoder, finished) {
                    (Some(encoder), _) => write(Piece::Encoded(&data.encoded, encoder))?,
                    (None, true) => write(Piece::Finished(data.output()))?,
                    (None, false) => write(Piece::Text(data.output()))?,
                }
                if data.is_raw {
                    self.raw_bytes += data.raw.end as u64;
                    self.raw_lines = self.raw_lines.then(data.lines);
                    self.replaced += data.replaced;
                    self.unbalanced += data.unbalanced;
                }
                self.written += 1;
            }
            if enough(self) {
                return Ok(true);
            }
            match shared.claim() {
                Some(k) => shared.convert(k),
                None => shared.wait_for(self.written),
            }
        }
    }
}

impl Drop for Flow<'_, '_> {
    /// Where the flow ends early (an error), the threads take no more slots.
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Relaxed);
    }
}

/// The threads' side of a [`Flow`]: the slots, and who converts which. Slot `k` (in the order
/// they are handed over) is `slots[k % slots.len()]`; the threads take them in that order.
struct Shared<'c> {
    converter: &'c Converter,
    slots: Box<[Slot]>,
    /// Slots handed over to the threads.
    published: AtomicUsize,
    /// Slots taken by a thread (never more than `published`).
    claimed: AtomicUsize,
    /// The pool's tasks converting slots, and the most there may be.
    active: AtomicUsize,
    workers: usize,
    /// Set when the flow ends early: no slot is taken any more.
    stopped: AtomicBool,
    /// How the slots of input read as it is are taken.
    raw: RawInput<'c>,
    /// The encoding the outputs are encoded in, and whether to replace what it lacks.
    encode: Option<(Encoding, bool)>,
    /// Where the calling thread waits for a slot to be done.
    lock: Mutex<()>,
    ready: Condvar,
}

#[derive(Default)]
struct Slot {
    /// Converted: `out` is complete.
    done: AtomicBool,
    data: Mutex<SlotData>,
}

#[derive(Default)]
struct SlotData {
    /// The text is `text[lead..]`, or the input read as it is in `raw`.
    text: String,
    lead: usize,
    raw: Bytes,
    is_raw: bool,
    /// Input to read (offset and length) after that in `raw`, by the thread that takes it.
    range: Option<(u64, usize)>,
    /// The input in `raw` starts and ends at cuts found in bytes that validated (or at the
    /// start or end of the input, `last`); the malformed sequences its thread replaced, and
    /// the text it decoded.
    clean: bool,
    last: bool,
    replaced: u64,
    decoded: String,
    /// The text normalized, where the flow normalizes and something changed.
    normalized: String,
    /// The input in `raw` did not validate (or did not read whole): the slot has no output.
    bad: bool,
    /// The lines and columns of the input in `raw`, from line 1, column 1.
    lines: LineCounter,
    /// The output is `out[skip..]` (see [`Shared::convert`]), or `after` where that is not
    /// empty: the output normalized after the conversion by the slot's thread, where it
    /// changed; and the quotation marks that had no partner.
    out: String,
    skip: usize,
    after: String,
    unbalanced: u64,
    /// The output encoded, where the flow encodes and it could be, and the encoder that did.
    encoded: Vec<u8>,
    encoder: Option<Encoder>,
}

impl SlotData {
    /// The slot's output (see [`SlotData::out`]).
    fn output(&self) -> &str {
        match self.after.is_empty() {
            true => &self.out[self.skip..],
            false => &self.after,
        }
    }
}

impl<'c> Shared<'c> {
    fn new(
        converter: &'c Converter,
        threads: usize,
        raw: RawInput<'c>,
        encode: Option<(Encoding, bool)>,
    ) -> Shared<'c> {
        let threads = threads.max(1);
        Shared {
            converter,
            slots: (0..threads * SLOTS_PER_THREAD)
                .map(|_| Slot::default())
                .collect(),
            published: AtomicUsize::new(0),
            claimed: AtomicUsize::new(0),
            active: AtomicUsize::new(0),
            // The calling thread converts too, where it would otherwise wait.
            workers: threads - 1,
            stopped: AtomicBool::new(false),
            raw,
            encode,
            lock: Mutex::new(()),
            ready: Condvar::new(),
        }
    }

    fn slot(&self, k: usize) -> &Slot {
        &self.slots[k % self.slots.len()]
    }

    /// Counts one more task converting, unless there are as many as there may be.
    fn enlist(&self) -> bool {
        self.active
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.workers).then_some(n + 1)
            })
            .is_ok()
    }

    /// Whether a slot handed over waits to be taken.
    fn waiting(&self) -> bool {
        !self.stopped.load(Ordering::Relaxed)
            && self.claimed.load(Ordering::SeqCst) < self.published.load(Ordering::SeqCst)
    }

    /// Takes the next slot handed over and not taken yet, if there is one.
    fn claim(&self) -> Option<usize> {
        if self.stopped.load(Ordering::Relaxed) {
            return None;
        }
        self.claimed
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |k| {
                (k < self.published.load(Ordering::SeqCst)).then_some(k + 1)
            })
            .ok()
    }

    /// Takes all the slots handed over that no thread has taken; returns the number of the
    /// first of them.
    fn take_the_rest(&self) -> usize {
        self.claimed
            .swap(self.published.load(Ordering::SeqCst), Ordering::SeqCst)
    }

    /// Waits until slot `k` is done.
    fn wait_for(&self, k: usize) {
        let slot = self.slot(k);
        let mut lock = self.lock.lock().expect("a lock without data");
        while !slot.done.load(Ordering::Acquire) {
            lock = self.ready.wait(lock).expect("a lock without data");
        }
    }

    /// Converts slot `k`, taken by this thread.
    fn convert(&self, k: usize) {
        /// Marks the slot done however the conversion ends (a panic too, which the scope
        /// passes on), so that the calling thread never waits for it in vain.
        struct Done<'s>(&'s Shared<'s>, &'s Slot);
        impl Drop for Done<'_> {
            fn drop(&mut self) {
                self.1.done.store(true, Ordering::Release);
                let _lock = self.0.lock.lock();
                self.0.ready.notify_all();
            }
        }
        let slot = self.slot(k);
        let _done = Done(self, slot);
        let mut data = slot.data.lock().expect("a slot is converted once");
        let SlotData {
            text,
            lead,
            raw,
            is_raw,
            range,
            clean,
            last,
            replaced,
            decoded,
            normalized,
            bad,
            lines,
            out,
            skip,
            after,
            unbalanced,
            encoded,
            encoder,
        } = &mut *data;
        *replaced = 0;
        *encoder = None;
        *unbalanced = 0;
        after.clear();
        // A slot read as it is is normalized by its thread, with a normalizer that has seen no
        // text (see `RawInput::normalize`).
        let mut normalizer = self.raw.normalize.filter(|_| *is_raw).cloned();
        if let Some((offset, len)) = range.take() {
            let at = self.raw.at.expect("slots with a range come with a source");
            match fill_at(at, raw.space(len), offset) {
                Ok(n) if n == len => raw.end += len,
                // Read again by the calling thread, which meets the error or the end.
                _ => {
                    *bad = true;
                    return;
                }
            }
        }
        let text = if *is_raw {
            let encoding = self.raw.encoding;
            // The text, and its lines where a decoder counted them.
            let (text, counted) = if encoding != Encoding::Utf8 {
                // Decoded with a decoder of its own, which at a clean start (a cut found in
                // bytes that decoded, or the start) and end (such a cut, before a character
                // below 0x30, or the input's end) decodes as the whole does. Elsewhere the bytes
                // did not decode.
                let mut decoder = Decoder::new(encoding, self.raw.lossy);
                decoded.clear();
                let text = (*clean || *last)
                    .then(|| decoder.decode(raw.as_slice(), true, decoded).ok())
                    .flatten()
                    .map(|()| decoded.as_str());
                *replaced = decoder.replaced();
                (text, Some(decoder.mark().0))
            } else {
                // A slot's input ends at a safe cut, before a character: it validates whole.
                // (One that ends elsewhere, not clean, goes back.)
                match simdutf8::basic::from_utf8(raw.as_slice()) {
                    Ok(text) if *clean || *last => (Some(text), None),
                    Err(_) if self.raw.lossy && *clean => {
                        let mut decoder = Decoder::new(Encoding::Utf8, true);
                        decoded.clear();
                        (decoder.decode(raw.as_slice(), *last, decoded))
                            .expect("a lossy decoder replaces");
                        *replaced = decoder.replaced();
                        (Some(decoded.as_str()), Some(decoder.mark().0))
                    }
                    _ => (None, None),
                }
            };
            let valid = text
                .filter(|t| !(self.raw.reject_nul && memchr::memchr(0, t.as_bytes()).is_some()));
            *bad = valid.is_none();
            let Some(text) = valid else { return };
            *lines = counted.unwrap_or_else(|| LineCounter::over(text));
            match &mut normalizer {
                Some(n) if n.has_before() => n.before_whole(text, normalized),
                _ => text,
            }
        } else {
            *bad = false;
            &text[*lead..]
        };
        *skip = half_a_page_from(out, text.as_ptr(), text.len() + text.len() / 4);
        self.converter.convert_into(text, out);
        let mut output = &out[*skip..];
        match normalizer.filter(Normalizer::has_after) {
            Some(mut n) => {
                output = n.after_whole(output, after);
                *unbalanced = n.unbalanced_quotes();
            }
            // A slot of text the calling thread normalized before the conversion goes back
            // to it for the normalization after it (in order), not encoded.
            None if self.raw.normalize.is_some_and(Normalizer::has_after) => return,
            None => {}
        }
        if let Some((encoding, replace)) = self.encode {
            let mut slot_encoder = Encoder::new(encoding, replace);
            encoded.clear();
            // (Encoders of these encodings hold nothing from one text to the next: the
            // output's end is no different.)
            if slot_encoder.encode(output, false, encoded).is_ok() {
                *encoder = Some(slot_encoder);
            }
        }
    }

    /// A task of the pool: converts slots as long as some are not taken.
    fn work(&self) {
        loop {
            while let Some(k) = self.claim() {
                self.convert(k);
            }
            self.active.fetch_sub(1, Ordering::SeqCst);
            // A slot handed over since the last look, while this task still counted, started
            // no task of its own: look once more.
            if !self.waiting() || !self.enlist() {
                return;
            }
        }
    }
}

/// How the bytes searched for a cut lie in the input (see [`window_cut`]).
#[derive(Clone, Copy)]
struct Window {
    /// They start the input held, at a cut (or the input's start).
    held: bool,
    /// The characters it may be cut before, if not any (see [`RawInput::cut_before`]).
    before: Option<fn(char) -> bool>,
    /// They start at an odd byte of the input (in UTF-16, the second of a unit).
    odd: bool,
}

/// The last safe cut in `bytes` at or after `from` (before which they hold [`CUT_LOOKBACK`]
/// bytes, unless they start the text or the input held), less the bytes that do not start a
/// character at their start and an incomplete one at their end; `Err` where they do not
/// validate (decode). In an encoding other than UTF-8, only before a character below 0x30 (see
/// [`low_units`]), and the bytes are decoded from their start where they start the input held,
/// else from their first such character, after which a cut needs 64 code points (an IDS
/// operator's reach).
fn window_cut(
    converter: &Converter,
    encoding: Encoding,
    bytes: &[u8],
    from: usize,
    window: Window,
) -> Result<Option<usize>, ()> {
    if encoding != Encoding::Utf8 {
        return restart_window_cut(converter, encoding, bytes, from, window);
    }
    // In valid UTF-8, the first byte that continues no character starts one.
    let mut start = 0;
    while start < 3 && bytes.get(start).is_some_and(|b| b & 0xC0 == 0x80) {
        start += 1;
    }
    let text = utf8_prefix(&bytes[start..], false).ok_or(())?;
    let min = from.saturating_sub(start);
    let cut = match window.before {
        Some(before) => converter.last_safe_cut_before(text, min, before),
        None => converter.last_safe_cut(text, min),
    };
    Ok(cut.map(|q| start + q))
}

/// [`window_cut`] for an encoding other than UTF-8.
fn restart_window_cut(
    converter: &Converter,
    encoding: Encoding,
    bytes: &[u8],
    from: usize,
    window: Window,
) -> Result<Option<usize>, ()> {
    let units = low_units(encoding, bytes, window.odd);
    let start = match (window.held, units.first()) {
        (true, _) => 0,
        (false, Some(&(p, _))) => p,
        (false, None) => return Ok(None),
    };
    let mut text = String::new();
    // (An incomplete character at the end stays in the decoder.)
    (Decoder::new(encoding, false).decode(&bytes[start..], false, &mut text)).map_err(|_| ())?;
    let min = match window.held {
        true => 0,
        false => text.char_indices().nth(64).map_or(text.len(), |(q, _)| q),
    };
    // These are characters of their own, and no other character decodes to one: the k-th of
    // the input is the k-th of the text.
    let in_text: Vec<usize> = (text.bytes().enumerate())
        .filter_map(|(q, b)| (b < 0x30).then_some(q))
        .collect();
    if in_text.len() != units.len() {
        return Err(());
    }
    for (&q, &(p, unit)) in in_text.iter().rev().zip(units.iter().rev()) {
        if p < from || q < min {
            break;
        }
        if window
            .before
            .is_some_and(|before| !before(char::from(unit)))
        {
            continue;
        }
        if converter.last_safe_cut(&text[..=q], q) == Some(q) {
            return Ok(Some(p));
        }
    }
    Ok(None)
}

/// The characters below 0x30 in `bytes` (in an encoding other than UTF-8), where they are and
/// what they are: the bytes below 0x30 in GB18030, GBK and Big5 (see
/// [`Encoding::restarts_at_low_bytes`]); in UTF-16, the code units below 0x30, at the places of
/// units (from the second byte where `odd`). Such a character is never part of another, and a
/// new decoder decodes the input from it as the whole's does: threads can decode input cut
/// before one.
fn low_units(encoding: Encoding, bytes: &[u8], odd: bool) -> Vec<(usize, u8)> {
    let big = match encoding {
        Encoding::Utf16Le => false,
        Encoding::Utf16Be => true,
        _ => {
            let low = bytes.iter().enumerate().filter(|&(_, &b)| b < 0x30);
            return low.map(|(p, &b)| (p, b)).collect();
        }
    };
    (usize::from(odd)..bytes.len().saturating_sub(1))
        .step_by(2)
        .filter_map(|p| {
            let [low, high] = match big {
                true => [bytes[p + 1], bytes[p]],
                false => [bytes[p], bytes[p + 1]],
            };
            (high == 0 && low < 0x30).then_some((p, low))
        })
        .collect()
}

/// ASCII whitespace, as [`char::is_whitespace`] has it (which the normalization takes as
/// ending a URL and the open parentheses).
fn ascii_whitespace(c: char) -> bool {
    c.is_ascii() && c.is_whitespace()
}

/// Empties `buf`, with room for `len` bytes, and fills it with spaces up to where text written
/// after them lies half a page from `other` in the page's addresses; returns how many.
///
/// A copy, or a conversion, that loads from one buffer and stores to another, both large
/// allocations at the start of their own pages, loads and stores at the same addresses within
/// a page: each load then waits on the store before it as if it depended on it (4K aliasing).
/// The threads' flow measured it twice: a read buffer placed like its slots cost -j2 9% more
/// CPU time in the copy into them, and a slot's output placed like its text 4% more.
fn half_a_page_from(buf: &mut String, other: *const u8, len: usize) -> usize {
    buf.clear();
    buf.reserve(len + 4096);
    let pad = (other as usize)
        .wrapping_sub(buf.as_ptr() as usize)
        .wrapping_add(2048)
        % 4096;
    buf.extend(std::iter::repeat_n(' ', pad));
    pad
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    #[test]
    fn a_cut_in_input_read_as_it_is_sees_an_ids_operator_before_the_window() {
        // The cut is searched for in the last CUT_WINDOW bytes; an IDS operator before them
        // still reaches a line end after their start (here the last operand of ⿲): no cut
        // there, wherever the window starts. With a plain character instead, the line end is
        // the cut. In UTF-8 and in GB18030 (decoded from the line end 500 characters before,
        // or, without one, from the start of the input held).
        let s2t = Converter::new(Config::S2t);
        for (encoding, before) in [
            (Encoding::Utf8, "头".repeat(SLOT_BYTES / 3)),
            (Encoding::Gb18030, "头".repeat(SLOT_BYTES / 3)),
            (
                Encoding::Gb18030,
                "头".repeat(SLOT_BYTES / 3) + "\n" + &"头".repeat(500),
            ),
        ] {
            let encode = |text: &str| encoding.rs().encode(text).0.into_owned();
            // Where the window holds no cut, the line end before it is the last.
            let earlier = before.rfind('\n').map(|q| encode(&before[..q]).len());
            // (In the third, the line end after the operator is the first byte below 0x30 in
            // GB18030's window: the operator is before what it decodes.)
            for (ids, cut) in [("⿲头头", false), ("头头头", true), ("⿲\n头", false)] {
                let newline = encode(&format!("{before}{ids}")).len();
                let want = if cut { Some(newline) } else { earlier };
                let ids = format!("{ids}\n");
                let text = encode(&format!("{before}{ids}{}", "头".repeat(2100)));
                for from in newline - 12..=newline {
                    let raw = RawInput {
                        encoding,
                        reject_nul: false,
                        lossy: false,
                        at: None,
                        normalize: None,
                    };
                    let cut = flow(&s2t, 2, raw, None, |flow| {
                        flow.raw.extend(&text[..from + CUT_WINDOW]);
                        flow.raw_cut()
                    });
                    assert_eq!(
                        cut.map(|(cut, _)| cut),
                        want,
                        "{encoding} {ids:?}, the window {} bytes before",
                        newline - from
                    );
                }
            }
        }
    }

    #[test]
    fn utf16_is_cut_only_before_whole_units_below_0x30() {
        // ਁ一ਁ (U+0A41 U+4E00 U+0A41) is 41 0A 00 4E 41 0A in UTF-16LE and 0A 41 4E 00 0A 41 in
        // UTF-16BE: a line end's bytes, one byte off the units. Only the line ends are found,
        // from the first byte or from the second; and the cut is the last line end's.
        let text = "ਁ一ਁ\n".repeat(40);
        let ends: Vec<usize> = (0..40).map(|k| 8 * k + 6).collect();
        let s2t = Converter::new(Config::S2t);
        for (encoding, big) in [(Encoding::Utf16Le, false), (Encoding::Utf16Be, true)] {
            let bytes: Vec<u8> = (text.encode_utf16())
                .flat_map(|u| {
                    if big {
                        u.to_be_bytes()
                    } else {
                        u.to_le_bytes()
                    }
                })
                .collect();
            let found = |bytes: &[u8], odd: bool| -> Vec<usize> {
                low_units(encoding, bytes, odd)
                    .iter()
                    .map(|u| u.0)
                    .collect()
            };
            assert_eq!(found(&bytes, false), ends, "{encoding}");
            let shifted: Vec<usize> = ends.iter().map(|p| p - 1).collect();
            assert_eq!(found(&bytes[1..], true), shifted, "{encoding}");
            for (start, odd) in [(0, false), (1, true), (100, false), (101, true)] {
                let window = Window {
                    held: start == 0,
                    before: None,
                    odd,
                };
                let cut = window_cut(&s2t, encoding, &bytes[start..], 0, window);
                assert_eq!(cut, Ok(Some(ends[39] - start)), "{encoding} from {start}");
            }
        }
    }
}
