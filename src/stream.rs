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
pub(crate) fn flow<R>(
    converter: &Converter,
    threads: usize,
    f: impl FnOnce(&mut Flow<'_, '_>) -> R,
) -> R {
    let shared = Shared::new(converter, threads);
    rayon::in_place_scope(|scope| {
        f(&mut Flow {
            shared: &shared,
            scope,
            pending: String::new(),
            lead: 0,
            searched: 0,
            published: 0,
            written: 0,
        })
    })
}

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
        write: &mut impl FnMut(&str) -> Result<(), E>,
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
        write: &mut impl FnMut(&str) -> Result<(), E>,
    ) -> Result<(), E> {
        if self.pending.len() > self.lead {
            self.hand_over(self.pending.len(), self.pending.as_ptr(), write)?;
        }
        self.serve(write, |flow| flow.written == flow.published)
    }

    /// Hands `pending[lead..cut]` over to the threads in the next slot, once it is free; the
    /// text after it starts the next slot, half a page from `read` (where the next pushes come
    /// from).
    fn hand_over<E>(
        &mut self,
        cut: usize,
        read: *const u8,
        write: &mut impl FnMut(&str) -> Result<(), E>,
    ) -> Result<(), E> {
        let shared = self.shared;
        self.serve(write, |flow| {
            flow.published - flow.written < shared.slots.len()
        })?;
        let slot = shared.slot(self.published);
        {
            let mut data = slot.data.lock().expect("a written slot is free");
            std::mem::swap(&mut data.text, &mut self.pending);
            data.lead = self.lead;
            self.lead = half_a_page_from(&mut self.pending, read, 2 * SLOT_BYTES);
            self.pending.push_str(&data.text[cut..]);
            data.text.truncate(cut);
        }
        self.searched = 0;
        slot.done.store(false, Ordering::Relaxed);
        self.published += 1;
        shared.published.store(self.published, Ordering::SeqCst);
        if shared.enlist() {
            self.scope.spawn(move |_| shared.work());
        }
        Ok(())
    }

    /// Writes the slots that are done, in order, until `enough`; meanwhile converts a slot
    /// not taken yet, or waits for the next one to write.
    fn serve<E>(
        &mut self,
        write: &mut impl FnMut(&str) -> Result<(), E>,
        enough: impl Fn(&Self) -> bool,
    ) -> Result<(), E> {
        let shared = self.shared;
        loop {
            while self.written < self.published {
                let slot = shared.slot(self.written);
                if !slot.done.load(Ordering::Acquire) {
                    break;
                }
                let data = slot.data.lock().expect("no thread panicked converting");
                write(&data.out[data.skip..])?;
                self.written += 1;
            }
            if enough(self) {
                return Ok(());
            }
            match shared.claim() {
                Some(k) => shared.convert(k),
                None => {
                    let slot = shared.slot(self.written);
                    let mut lock = shared.lock.lock().expect("a lock without data");
                    while !slot.done.load(Ordering::Acquire) {
                        lock = shared.ready.wait(lock).expect("a lock without data");
                    }
                }
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
    /// The text is `text[lead..]`.
    text: String,
    lead: usize,
    /// The output is `out[skip..]` (see [`Shared::convert`]).
    out: String,
    skip: usize,
}

impl<'c> Shared<'c> {
    fn new(converter: &'c Converter, threads: usize) -> Shared<'c> {
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
            out,
            skip,
        } = &mut *data;
        let text = &text[*lead..];
        *skip = half_a_page_from(out, text.as_ptr(), text.len() + text.len() / 4);
        self.converter.convert_into(text, out);
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
