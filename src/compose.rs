//! Two conversion steps (and a segmentation) in one scan, for every chain of two steps that are
//! tries: among the built-in configs s2tw, s2twp, s2hk, s2hkp (segmentation fused into the first
//! step) and tw2s, tw2sp, hk2s, hk2sp (segmentation of its own). `Engine::convert_into` uses it
//! for texts of 32 KiB or more (the table below takes about a millisecond to make).
//!
//! The passes of [`crate::convert`] scan the text once per phase. Here one scan goes through
//! the text, and at each position where every phase stands *fresh* (no match of any phase spans
//! the position: true at the start, and kept true below) it decides from the characters at the
//! position:
//!
//! - With `c` the character and `d` the next one: when no segmentation key and no key of the
//!   first step of two or more characters starts with `c` `d` (the root entries and pair
//!   filters say so), the segmenter and the first step take `c` alone: the first step writes
//!   `x`, its value for `c` alone or `c` itself.
//! - The second step then stands at `x`. When no key of the second step of two or more
//!   characters starts with `x` and the character the first step writes next, it takes `x`
//!   alone. That next character is the first step's value for `d` alone, or `d`, provided the
//!   first step takes `d` alone, which the same test on `d` and the character after it
//!   decides; otherwise the position is not decided here.
//! - Then `x`'s value in the second step (or `x`) is written, and every phase stands fresh after
//!   `c`.
//! - With the segmentation fused into the first step (see `Engine::fused`), a key of the first
//!   step's priority class 0 is a segment of its own: the first step walks it here, and the
//!   second step converts its value alone.
//!
//! The table loop ([`run`]) asks one pair filter per character: the pairs of the first phases'
//! keys and the pairs `c` `d` whose `x` start a longer key of the second step (taking `d` alone
//! in the first step). Where it lets no pair through, `c` is written at once; a `c` whose `x`
//! starts longer keys of the second step stands only once the first phases take `d` alone too
//! (or a segment starts at `d`), which the loop learns at `d`: where they do not, it goes back
//! to `c` and leaves it to [`decide`]. Where the filter lets a pair through, the pairs learned
//! per thread (see [`crate::dense`]) decide the fused chains' phrases without a walk.
//!
//! Wherever that does not decide (a longer key may start, an IDS operator, a value of more than
//! one character), the phases run as passes over a *window* from the position to the next safe
//! cut (see [`crate::convert::last_safe_cut`]: a character in no key of any phase and no IDS
//! operator in the 64 code points before it). The window is converted exactly as the whole
//! text would be there: every phase stands fresh at its start, and at its end, where no key or
//! IDS can span the cut.

use crate::convert::{merged_lead_steps, skip_from};
use crate::dense::{
    decode_at, decode_word, written, At, PairSlot, Pairs, Stretch, WalkSlot, STRETCH,
};
use crate::ids;
use crate::trie::{
    ascii_next, beats, decode, either_next, AsciiSkip, PairFilter, TrieView, ANY_NEXT,
    NO_ASCII_NEXT,
};
use crate::trie_build::{ROOT_IN_KEY, ROOT_LONGER, ROOT_NODE, VALUE_INLINE};
use std::hint::select_unpredictable;

/// The phases of a composed chain, as tries.
pub(crate) struct Chain<'a> {
    /// A segmentation of its own (not fused into the first step).
    pub(crate) seg: Option<TrieView<'a>>,
    pub(crate) first: TrieView<'a>,
    /// The segmentation is fused into the first step: its priority class 0 holds the
    /// segmentation's keys.
    pub(crate) fused: bool,
    pub(crate) second: TrieView<'a>,
}

/// The per-character summary of a composed chain (see [`Table::entry`]), made once per engine.
#[derive(Debug)]
pub(crate) struct Table {
    /// The entries of the BMP, one load each, and one more for every character beyond: open
    /// (see [`Table::bmp_entry`]).
    flat: Box<[u64]>,
    /// Beyond the BMP: block number for code point >> 8 (block 0: no character of any key).
    hi: Vec<u32>,
    /// 256 entries per block.
    lo: Vec<u64>,
    /// The skip table of all phases: a byte is looked at if any phase looks at it (see
    /// `TrieView::lead_step`).
    lead_step: [u8; 256],
    /// How runs of ASCII are skipped, by that table.
    ascii_skip: AsciiSkip,
    /// The pair filter of the segmentation's keys and the first step's (see
    /// [`TrieView::pair_union`]), and its size as a power of two.
    first_pairs: Vec<u32>,
    first_pair_bits: u32,
    /// The union filter with, besides, every pair `c` `d` whose characters through the first
    /// step alone (`x`) may start a key of two or more characters of the second step (see
    /// [`Table::with_second_pairs`]); the same size.
    event_pairs: Vec<u32>,
    /// Some entry has [`PAIR_SECOND`].
    pair_second: bool,
    /// The table's number for the pairs learned by each thread (see [`crate::dense::Pairs`]).
    id: u64,
}

/// The smallest pair filters of a table, as a power of two of words: the dictionaries of the
/// first phases of tw2s, tw2sp, hk2s and hk2sp are small (TSPhrases has 482 keys), and their
/// own filters let a pair of Traditional Chinese prose through about once in thirty-three.
const MIN_PAIR_BITS: u32 = 12;

/// In a table entry: a key of two or more characters of the segmentation or the first step
/// starts with the character.
const PAIR_FIRST: u64 = 1 << 62;
/// In a table entry: a key of two or more characters of the second step starts with the
/// first step's character `x`.
const PAIR_SECOND: u64 = 1 << 61;
/// In a table entry: the first step's character for the character alone (`x`), from this bit.
const X_SHIFT: u32 = 35;

/// The first step's character for `c` alone, by `c`'s table entry.
#[inline(always)]
fn x_of(entry: u64, c: u32) -> u32 {
    // Entry 0 has no `x` bits: then `c`.
    (entry >> X_SHIFT & 0x1F_FFFF) as u32 | c & u32::from(entry == 0).wrapping_neg()
}

/// In a table entry: not decided by the table (an IDS operator, a value of more than one
/// character, a priority-class-0 key of one character where the segmentation is fused; in
/// [`Table::bmp_entry`], a character beyond the BMP). The sign bit: one test.
const OPEN: u64 = 1 << 63;

impl Table {
    /// Brings the tables the loop reads into the cache.
    pub(crate) fn warm(&self) {
        crate::dense::touch(&self.flat[0x4E00..0xA000]);
        crate::dense::touch(&self.event_pairs);
        crate::dense::touch(&self.first_pairs);
        crate::dense::with_memo(self.id, |memo| memo.touch());
    }

    /// The summary of every character in a key of any phase.
    pub(crate) fn new(chain: &Chain<'_>) -> Table {
        // Zeroed memory comes from the allocator untouched: only the entries written here and
        // those a text reads are ever paged in.
        let mut flat = vec![0u64; 0x1_0001];
        let mut hi = vec![0u32; 0x1100];
        let mut lo = vec![0u64; 256];
        // The characters the first step takes alone to an `x` other than themselves, and that
        // `x` (see `with_second_pairs`).
        let mut to = Vec::new();
        for v in chain.seg.iter().chain([&chain.first, &chain.second]) {
            for (h, &block) in v.root_hi.iter().enumerate() {
                if block == 0 {
                    continue;
                }
                let entries = &v.root_lo[(block as usize) << 9..][..512];
                for l in 0..256u32 {
                    if entries[2 * l as usize] & ROOT_IN_KEY == 0 {
                        continue;
                    }
                    let c = (h as u32) << 8 | l;
                    let entry = if c < 0x1_0000 {
                        &mut flat[c as usize]
                    } else {
                        if hi[h] == 0 {
                            hi[h] = (lo.len() / 256) as u32;
                            lo.resize(lo.len() + 256, 0);
                        }
                        &mut lo[(hi[h] as usize) << 8 | l as usize]
                    };
                    if *entry == 0 {
                        *entry = chain.summary(c);
                        let x = x_of(*entry, c);
                        if x != c {
                            to.push((x, c));
                        }
                    }
                }
            }
        }
        // IDS operators, in keys or not.
        for c in 0x2FF0..=0x2FFFu32 {
            flat[c as usize] = chain.summary(c);
        }
        flat[0x1_0000] = OPEN;
        let lead_step = merged_lead_steps(
            chain
                .seg
                .iter()
                .chain([&chain.first, &chain.second])
                .map(|v| *v.lead_step),
        );
        // What must follow an ASCII letter for a key to start there: the segmentation and
        // the first step read the text; the second step reads what the first writes, which is
        // the text's own ASCII where no key of the first step starts with ASCII.
        let first_keeps_ascii = (0..0x80u8).all(|b| chain.first.lead_step[usize::from(b)] == 1);
        let ascii_skip = AsciiSkip::of(&lead_step).with_next(|s| {
            let second = if first_keeps_ascii {
                ascii_next(&chain.second, s)
            } else if chain.second.lead_step[usize::from(s)] == 1 {
                NO_ASCII_NEXT
            } else {
                ANY_NEXT
            };
            chain
                .seg
                .iter()
                .chain([&chain.first])
                .fold(second, |next, v| either_next(next, ascii_next(v, s)))
        });
        let first_phases: Vec<&TrieView<'_>> = chain.seg.iter().chain([&chain.first]).collect();
        let (first_pairs, first_pair_bits) = TrieView::pair_union(&first_phases, MIN_PAIR_BITS);
        let mut table = Table {
            pair_second: flat.iter().chain(&lo).any(|&e| e & PAIR_SECOND != 0),
            flat: flat.into_boxed_slice(),
            hi,
            lo,
            lead_step,
            ascii_skip,
            event_pairs: Vec::new(),
            first_pairs,
            first_pair_bits,
            id: crate::dense::next_id(),
        };
        table.event_pairs = table.with_second_pairs(&chain.second, to);
        table
    }

    /// [`Table::first_pairs`] with the pairs `c` `d` whose `x` may start a key of two or more
    /// characters of `second` (`to`: each `x` the first step makes of a character other than
    /// itself, and the character): for each pair of characters `X` `Z` that starts one, every
    /// `c` the first step takes alone to `X` with every `d` it takes alone to `Z`. (Where the
    /// first step takes `d` alone, it writes `Z` after `X`; where it does not, the table loop
    /// finds out at `d`.)
    fn with_second_pairs(&self, second: &TrieView<'_>, mut to: Vec<(u32, u32)>) -> Vec<u32> {
        let mut words = self.first_pairs.clone();
        if !self.pair_second {
            return words;
        }
        // The characters the first step takes alone to an `x` other than themselves, by `x`.
        to.sort_unstable();
        // The characters the first step takes alone to `x`.
        let from = |x: u32| {
            let itself = (x_of(self.entry(x), x) == x).then_some(x);
            let at = to.partition_point(|&(y, _)| y < x);
            let others = to[at..].iter().take_while(move |&&(y, _)| y == x);
            itself.into_iter().chain(others.map(|&(_, c)| c))
        };
        second.each_pair(|big_x, big_z| {
            for d in from(big_z) {
                for c in from(big_x) {
                    crate::trie_build::pair_insert(&mut words, self.first_pair_bits, c, d);
                }
            }
        });
        words
    }

    /// The union pair filter of the segmentation and the first step.
    #[inline(always)]
    fn first_filter(&self) -> PairFilter<'_> {
        PairFilter::new(&self.first_pairs, self.first_pair_bits)
    }

    /// The filter of [`Table::event_pairs`].
    #[inline(always)]
    fn event_filter(&self) -> PairFilter<'_> {
        PairFilter::new(&self.event_pairs, self.first_pair_bits)
    }

    /// Whether a key of two or more characters of the segmentation or the first step may
    /// start with `c` `d` (their union filter).
    #[inline(always)]
    fn pair_first(&self, c: u32, d: u32) -> bool {
        self.first_filter().may(c, d)
    }

    /// The entry of `c` if it is in the BMP, else an open entry (which sends the character to
    /// [`decide`]).
    #[inline(always)]
    fn bmp_entry(&self, c: u32) -> u64 {
        // SAFETY: `flat` has 0x10001 entries.
        unsafe { *self.flat.get_unchecked(c.min(0x1_0000) as usize) }
    }

    /// The summary of `c`: 0 when `c` is in no key (every phase leaves it as it is); else the
    /// flags, the first step's character for `c` alone (`x`, see [`X_SHIFT`]) and the second
    /// step's for `x` alone (`y`, in the table loops' output layout: see [`crate::dense::output`]).
    #[inline(always)]
    fn entry(&self, c: u32) -> u64 {
        debug_assert!(c < 0x11_0000);
        if c < 0x1_0000 {
            return self.bmp_entry(c);
        }
        // SAFETY: `hi` has an entry per 256 code points below U+110000 (`c` is a character),
        // each a block of `lo`.
        unsafe {
            let block = *self.hi.get_unchecked((c >> 8) as usize);
            *self
                .lo
                .get_unchecked((block as usize) << 8 | (c & 0xFF) as usize)
        }
    }
}

impl Chain<'_> {
    /// Whether a key of two or more characters of the segmentation or the first step (the key
    /// the step takes, by its priority classes) matches at the character `c` that ends at
    /// `next`. Wherever the answer is no, both take `c` alone.
    fn longer_first(&self, bytes: &[u8], c: u32, next: usize) -> bool {
        self.seg.iter().chain([&self.first]).any(|v| {
            let (entry, _) = v.root_entry(c);
            entry & ROOT_LONGER != 0
                && v.walk(entry & ROOT_NODE, bytes, next)
                    .is_some_and(|(end, _)| end > next)
        })
    }

    /// Where the first step does not take `d` (which ends at `after`) alone: the second step
    /// takes the character before it alone if a segment starts at `d` (a key of the
    /// segmentation matches there, or, fused, a key of the first step's class 0), since no key
    /// spans a segment's start; else the position is left to a window.
    fn segment_at(&self, bytes: &[u8], d: u32, after: usize) -> Decided {
        let starts = |v: &TrieView<'_>, class_zero: bool| {
            let (entry, val) = v.root_entry(d);
            let found = if entry & ROOT_LONGER != 0 {
                v.walk(entry & ROOT_NODE, bytes, after).map(|(_, val)| val)
            } else {
                (val != 0).then_some(val)
            };
            found.is_some_and(|val| !class_zero || val >> 24 == 0)
        };
        let segment = match &self.seg {
            Some(seg) => starts(seg, false),
            None => self.fused && starts(&self.first, true),
        };
        if segment {
            Decided::Alone
        } else {
            Decided::Window
        }
    }

    /// The table entry of `c` (see [`Table::entry`]).
    fn summary(&self, c: u32) -> u64 {
        let mut flags = 0;
        let is_ids = |c: u32| c & !0xF == 0x2FF0;
        let longer = |v: &TrieView<'_>, c: u32| v.root_entry(c).0 & ROOT_LONGER != 0;
        if self.seg.as_ref().is_some_and(|s| longer(s, c)) || longer(&self.first, c) {
            flags |= PAIR_FIRST;
        }
        let (_, val) = self.first.root_entry(c);
        let x = if val == 0 {
            c
        } else if val & VALUE_INLINE == 0 || self.fused && val >> 24 == 0 {
            flags |= OPEN;
            c
        } else {
            val & 0x1F_FFFF
        };
        if longer(&self.second, x) {
            flags |= PAIR_SECOND;
        }
        let (_, val) = self.second.root_entry(x);
        let y = if val == 0 {
            x
        } else if val & VALUE_INLINE == 0 {
            flags |= OPEN;
            x
        } else {
            val & 0x1F_FFFF
        };
        if is_ids(c) || is_ids(x) {
            flags |= OPEN;
        }
        flags | u64::from(x) << X_SHIFT | crate::dense::output(y)
    }
}

/// Buffers for converting windows.
#[derive(Default)]
struct Scratch {
    seg_ends: Vec<usize>,
    first: String,
    first_ends: Vec<usize>,
}

/// Converts `window` with the phases as passes (as `Engine::convert_phases` does), appending to
/// `out`.
fn convert_window(chain: &Chain<'_>, window: &str, out: &mut String, scratch: &mut Scratch) {
    use crate::convert::{convert_trie_segments, segment_into};
    scratch.seg_ends.clear();
    match &chain.seg {
        Some(seg) => segment_into(seg, window, &mut scratch.seg_ends),
        None => scratch.seg_ends.push(window.len()),
    }
    scratch.first.clear();
    scratch.first_ends.clear();
    convert_trie_segments(
        &chain.first,
        window,
        &scratch.seg_ends,
        &mut scratch.first,
        Some(&mut scratch.first_ends),
        chain.fused,
    );
    convert_trie_segments(
        &chain.second,
        &scratch.first,
        &scratch.first_ends,
        out,
        None,
        false,
    );
}

/// Converts `text` (normalized) with `chain` and its `table`, appending to `out`.
pub(crate) fn convert(chain: &Chain<'_>, table: &Table, text: &str, out: &mut String) {
    let mut scratch = Scratch::default();
    let bytes = text.as_bytes();
    let end = bytes.len();
    let lead_step = &table.lead_step;
    let mut i = 0;
    let mut value = String::new();
    while i < end {
        // Most positions: the table and the pair filters decide; below, one where they do not.
        if crate::dense::worth_entering(bytes, i) {
            i = run(chain, table, bytes, i, out, &mut value);
            if i >= end {
                break;
            }
        }
        // Characters that start no key of any phase (ASCII, mostly): unchanged.
        let skipped = skip_from(bytes, i, lead_step, table.ascii_skip, None, None);
        if skipped != i {
            out.push_str(&text[i..skipped]);
            i = skipped;
            continue;
        }
        let (c, len) = decode(bytes, i);
        let next = i + len;
        let entry = table.entry(c);
        if entry & (PAIR_FIRST | PAIR_SECOND | OPEN) != 0 {
            match decide(chain, table, bytes, c, next, entry) {
                Decided::Alone => {}
                Decided::Phrase(key_end, val) => {
                    phrase(chain, val, out, &mut value);
                    i = key_end;
                    continue;
                }
                Decided::Window => {
                    let cut = next_safe_cut(table, text, i);
                    convert_window(chain, &text[i..cut], out, &mut scratch);
                    i = cut;
                    continue;
                }
            }
        }
        // The second step's character for it, or itself (entry 0).
        if entry == 0 {
            out.push_str(&text[i..next]);
        } else {
            let y = (entry as u32).to_le_bytes();
            out.push(char::from_u32(decode(&y, 0).0).unwrap_or('\u{FFFD}'));
        }
        i = next;
    }
}

/// Converts the characters of `bytes` (valid UTF-8) from `i`, where every phase stands fresh, as
/// long as the table and the pair filters decide them, appending to `out`; returns where it
/// stopped: before the last 12 bytes, at the first of four ASCII bytes (a run to skip), or at
/// a character [`decide`] has to take. Every phase stands fresh there.
///
/// A character `c` followed by `d` and `e` is decided when it is not [`OPEN`], the first
/// phases' pair filters rule out a longer key at `c` `d` (or a walk of the first phases finds
/// none, or a phrase of the first step's priority class 0 where the segmentation is fused into
/// it), and, if the second step has longer keys that start with `x` (`c` through the first
/// step), `d` is not open, the filters rule out a longer key of the first phases at `d` `e`
/// (so the first step takes `d` alone and writes its `x`), and the second step's filter rules
/// out a key at the two `x`. These are the conditions under which [`decide`] answers
/// [`Decided::Alone`] (or [`Decided::Phrase`]), or stronger ones.
fn run(
    chain: &Chain<'_>,
    table: &Table,
    bytes: &[u8],
    i: usize,
    out: &mut String,
    value: &mut String,
) -> usize {
    let end = bytes.len();
    if end < 12 || i >= end - 12 {
        return i;
    }
    let l = Loop {
        chain,
        table,
        bytes,
        limit: end - 12,
        first: table.first_filter(),
        second: chain.second.pair_filter(),
        events: table.event_filter(),
    };
    crate::dense::with_memo(table.id, |memo| match (table.pair_second, chain.fused) {
        (true, true) => l.scan::<true, true>(i, out, value, memo),
        (true, false) => l.scan::<true, false>(i, out, value, memo),
        (false, true) => l.scan::<false, true>(i, out, value, memo),
        (false, false) => l.scan::<false, false>(i, out, value, memo),
    })
}

/// What the table loop of [`run`] reads.
struct Loop<'a> {
    chain: &'a Chain<'a>,
    table: &'a Table,
    bytes: &'a [u8],
    /// The loop stops before this offset: 12 bytes before the end (every character it decodes
    /// starts at most 8 bytes after a character before the limit, and 4 bytes are read from
    /// each).
    limit: usize,
    /// The first phases' pair filter and the second step's.
    first: PairFilter<'a>,
    second: PairFilter<'a>,
    /// The table's event filter (see [`Table::event_pairs`]).
    events: PairFilter<'a>,
}

/// What the table loop of [`run`] does after an event (see [`Loop::event`]).
enum Event {
    /// Go on from the first offset, the output's length now the second.
    Next(usize, usize),
    /// Write a phrase of the first step's priority class 0 (a segment of its own): its end and
    /// value word.
    Phrase(usize, u32),
    /// Write the output of a walk learned over the first phases and the second step (see
    /// [`learned_fused`]), and go on from its end.
    Learned(usize, WalkSlot),
    /// Leave the position to [`decide`].
    Stop,
}

/// What [`pair_stop`] found.
enum PairStop {
    /// The first phases take the character alone.
    Alone,
    /// A phrase of the first step's priority class 0 (the segmentation fused into it): its
    /// end and value word.
    Phrase(usize, u32),
    /// A longer key of the first phases may match: the passes take the position.
    Decide,
}

/// Where the first phases' pair filter lets `c` (which ends at `next`) and `d` (of `d_len`
/// bytes) through: walks the first phases.
#[inline(always)]
fn pair_stop(
    chain: &Chain<'_>,
    bytes: &[u8],
    c: u32,
    next: usize,
    (d, d_len): (u32, usize),
) -> PairStop {
    if !chain.fused {
        return if chain.longer_first(bytes, c, next) {
            PairStop::Decide
        } else {
            PairStop::Alone
        };
    }
    let (root, _) = chain.first.root_entry(c);
    if root & ROOT_LONGER == 0 {
        return PairStop::Alone;
    }
    match chain
        .first
        .walk_with(root & ROOT_NODE, bytes, next, d, next + d_len)
    {
        Some((key_end, val)) if val >> 24 == 0 => PairStop::Phrase(key_end, val),
        // Keys of the other classes are single characters: the table's.
        Some((key_end, _)) if key_end == next => PairStop::Alone,
        None => PairStop::Alone,
        Some(_) => PairStop::Decide,
    }
}

/// What the first phases and the second step make of the pair `c` `d` (BMP characters)
/// where the segmentation is fused into the first step (see [`Pairs`]): a phrase of the first
/// step's priority class 0, its value converted by the second step (as [`phrase`] writes it);
/// or `c` alone, as the table has it; or, for a key of two characters of another class, a
/// walk (which leaves the position to the passes).
fn walked_fused(chain: &Chain<'_>, c: u32, d: u32) -> PairSlot {
    let first = &chain.first;
    let (root, _) = first.root_entry(c);
    let node = root & ROOT_NODE;
    let child = if root & ROOT_LONGER != 0 {
        first.step(node, d)
    } else {
        0
    };
    if child == 0 {
        return PairSlot::new(c, d, None, std::iter::empty());
    }
    let continuations = first.children(child).map(|(e, _)| e);
    let val = first.node_value(child);
    if !beats(val, first.node_value(node)) {
        return PairSlot::new(c, d, None, continuations);
    }
    if val >> 24 != 0 {
        return PairSlot::walk(c, d);
    }
    let (mut value, mut converted) = (String::new(), String::new());
    phrase(chain, val, &mut converted, &mut value);
    PairSlot::new(c, d, Some(converted.as_bytes()), continuations)
}

/// Where a key of the fused first step continues after the pair at `at` (or the pair's slot
/// leaves it to a walk): the walk over three or four characters as the thread learned it,
/// where that decides (see [`crate::dense::learned_walk`]): the first character alone, or a
/// phrase of the first step's priority class 0 as [`phrase`] writes it, and its end; `None`
/// where [`pair_stop`] walks. (The chains with a segmentation of their own walk there: most
/// of their walks end at the second character, in nodes the cache keeps, where a table of
/// learned walks is a cache miss each; tw2s took 1.13 to 1.21 times the CPU time with one.)
#[inline(always)]
fn learned_fused<const FUSED: bool>(
    chain: &Chain<'_>,
    bytes: &[u8],
    at: &At,
    memo: &mut Pairs,
) -> Option<(WalkSlot, usize)> {
    if !FUSED || chain.first.skip_vs {
        return None;
    }
    crate::dense::learned_walk(memo, bytes, at, |chars| {
        let first = &chain.first;
        let (root, _) = first.root_entry(chars[0]);
        if root & ROOT_LONGER == 0 {
            return WalkSlot::over(chars).alone();
        }
        let (slot, best, taken) = WalkSlot::walked(first, root & ROOT_NODE, chars);
        if best != 0 && best >> 24 == 0 {
            let (mut value, mut converted) = (String::new(), String::new());
            phrase(chain, best, &mut converted, &mut value);
            slot.with_output(taken, Some(&converted))
        } else if best == 0 || taken == 1 {
            // Keys of the other classes are single characters: the table's.
            slot.alone()
        } else {
            slot.with_output(taken, None)
        }
    })
}

/// Writes a phrase of the first step's priority class 0 with value word `val` (the
/// segmentation fused into the first step): a segment of its own, which the second step
/// converts alone.
fn phrase(chain: &Chain<'_>, val: u32, out: &mut String, value: &mut String) {
    value.clear();
    chain.first.resolve(val).push_to(value);
    crate::convert::convert_trie_into(&chain.second, value, out);
}

impl Loop<'_> {
    /// The event at `at` of [`Loop::scan`] (the event filter lets the character there, which
    /// starts the word `w`, and the next through), with the output's bytes at `base`,
    /// `written_len` of them the string's: the
    /// second step's longer keys ruled out where the character has them, the first phases'
    /// pair learned or walked; writes the character or the pair.
    #[inline(never)]
    fn event<const SECOND: bool, const FUSED: bool>(
        &self,
        at: &At,
        w: u32,
        base: *mut u8,
        written_len: usize,
        memo: &mut Pairs,
    ) -> Event {
        let (chain, bytes) = (self.chain, self.bytes);
        let At {
            i,
            c,
            len,
            d,
            d_len,
        } = *at;
        let (len, d_len) = (len as usize, d_len as usize);
        let c_entry = self.table.bmp_entry(c);
        let next = i + len;
        if SECOND && c_entry & PAIR_SECOND != 0 {
            // The second step takes `x` alone if the first step takes `d` alone and its `x`
            // starts no key of the second step after this one, or (fused) if a phrase of the
            // first step starts at `d`: a segment of its own, which no key of the second step
            // spans (where the first phases take `c` alone; else this is moot).
            let d_entry = self.table.bmp_entry(d);
            let d_end = next + d_len;
            // SAFETY: as in the loop, `d_end` is at most 8 bytes after the loop's `i < limit`.
            let (_, e, e_len) = unsafe { decode_word(bytes, d_end) };
            let second = self.second.may(x_of(c_entry, c), x_of(d_entry, d));
            let stop = if d_entry & OPEN != 0 {
                true
            } else if !self.first.may(d, e) {
                second
            } else if FUSED {
                // The pair `d` `e` as learned (which the next event would learn anyway): 1,022
                // stops per 600 KB of zuozhuan for s2twp, 46% of them where the first step
                // takes `d` alone or starts a phrase there.
                let pair = crate::dense::pair(memo, bytes, d, e, d_end + e_len, || {
                    walked_fused(chain, d, e)
                });
                pair.is_none_or(|o| !o.both && second)
            } else {
                true
            };
            if stop {
                return Event::Stop;
            }
        }
        let (word, n) = written(c_entry, w, len);
        let (mut word, mut n, mut to) = (u64::from(word), n, next);
        // Fused, the pairs the first phases' filter would rule out are learned too (as the
        // first character alone): one lookup, not two in tables that the cache does not keep.
        if !SECOND || FUSED || self.first.may(c, d) {
            let d_end = next + d_len;
            // Fused, the outcome of most pairs is learned (see `walked_fused`), and chosen
            // without a branch; the first phases are walked where a key may continue after
            // the pair.
            let learned = FUSED.then(|| {
                crate::dense::pair(memo, bytes, c, d, d_end, || walked_fused(chain, c, d))
            });
            match learned.flatten() {
                Some(o) => {
                    word = select_unpredictable(o.both, o.out, word);
                    n = select_unpredictable(o.both, o.len, n);
                    to = select_unpredictable(o.both, d_end, to);
                }
                None => match learned_fused::<FUSED>(chain, bytes, at, memo) {
                    Some((slot, _)) if slot.is_alone() => {}
                    Some((slot, end)) => return Event::Learned(end, slot),
                    None => match pair_stop(chain, bytes, c, next, (d, d_len)) {
                        PairStop::Alone => {}
                        PairStop::Phrase(key_end, val) => return Event::Phrase(key_end, val),
                        PairStop::Decide => return Event::Stop,
                    },
                },
            }
        }
        // SAFETY: see `Stretch::push8`.
        unsafe {
            base.add(written_len)
                .cast::<u64>()
                .write_unaligned(word.to_le())
        };
        Event::Next(to, written_len + n)
    }

    /// [`run`]'s loop: it looks one character ahead, and two for characters with longer
    /// second-step keys, where `SECOND` says some character has them; `FUSED`: the
    /// segmentation is fused into the first step.
    #[inline(always)]
    fn scan<const SECOND: bool, const FUSED: bool>(
        &self,
        mut i: usize,
        out: &mut String,
        value: &mut String,
        memo: &mut Pairs,
    ) -> usize {
        let (chain, table, bytes, limit) = (self.chain, self.table, self.bytes, self.limit);
        let events = self.events;
        // The entries as a local slice, so that the loop keeps its address in a register.
        let flat: &[u64] = &table.flat;
        // The entry of `c` where it is in the BMP; another entry beyond (whose word from
        // `decode_word` is 0: the loop stops at it by the word).
        let bmp_entry = |c: u32| {
            // SAFETY: `flat` has 0x10001 entries.
            unsafe { *flat.get_unchecked(c as u16 as usize) }
        };
        // Where the output of the last event ends (or the scan began): every character from
        // there to where the loop stands it wrote alone from its entry, without an event.
        // The last of them may have an `x` that starts keys of the second step that are
        // longer, which no pair filter stopped at: then it stands once the first phases take
        // the next character alone or a segment starts there; where they may not, the scan
        // goes back to it (the exits look at its entry again). Kept by the events only: the
        // loop keeps nothing a character for it.
        let mut settled = i;
        let start = bytes.as_ptr();
        // The offset in `bytes` of `p`, which points into it.
        // SAFETY (every use): `p` points into `bytes`.
        let offset = |p: *const u8| unsafe { p.offset_from(start) } as usize;
        'stretches: while i < limit {
            let stop = limit.min(i + STRETCH);
            let mut stretch = Stretch::new(out);
            // The loop goes by pointers, into the text and into the stretch's output: fewer
            // values live across a character than with offsets and their bases (s2twp's loop
            // kept five of them on the stack).
            // SAFETY: `i < stop <= limit < bytes.len()`; the output pointer stays within the
            // capacity `Stretch` reserved, as `Stretch::push8` says.
            let (stop_p, mut p) = unsafe { (start.add(stop), start.add(i)) };
            let mut dst = stretch.end();
            // SAFETY (every `decode_at` below): the characters decoded start at most 8 bytes
            // after `p`, before `limit`, so 4 bytes from each are in `bytes`.
            let (mut w, mut c, mut len) = unsafe { decode_at(bytes, p) };
            loop {
                let c_entry = bmp_entry(c);
                // SAFETY: `p` is before `limit`, and `len` at most 4.
                let next = unsafe { p.add(len) };
                let (dw, d, d_len) = unsafe { decode_at(bytes, next) };
                if (c_entry & OPEN != 0) | (w & 0x8080_8080 == 0) {
                    i = offset(p);
                    stretch.set_end(dst);
                    break 'stretches;
                }
                let (word, n) = written(c_entry, w, len);
                // The pairs of the first phases' keys, and (`SECOND`) those that start a
                // longer key of the second step through the first step: out of the loop, from
                // `i` alone, so that no value of the loop lives across it.
                if events.may(c, d) {
                    let at = At {
                        i: offset(p),
                        c,
                        len: len as u32,
                        d,
                        d_len: d_len as u32,
                    };
                    stretch.set_end(dst);
                    match self.event::<SECOND, FUSED>(&at, w, stretch.base, stretch.len, memo) {
                        Event::Next(to, written) => {
                            // The first phases take `c` alone or with `d`, and it is decided.
                            stretch.len = written;
                            dst = stretch.end();
                            i = to;
                            settled = to;
                            if i >= stop {
                                break;
                            }
                            p = unsafe { start.add(i) };
                            (w, c, len) = unsafe { decode_at(bytes, p) };
                            continue;
                        }
                        Event::Phrase(key_end, val) => {
                            // A segment of its own starts at `c`: the character before stands.
                            drop(stretch);
                            phrase(chain, val, out, value);
                            i = key_end;
                            settled = i;
                            continue 'stretches;
                        }
                        Event::Learned(end, slot) => {
                            drop(stretch);
                            out.push_str(slot.output());
                            i = end;
                            settled = i;
                            continue 'stretches;
                        }
                        Event::Stop => {
                            i = offset(p);
                            break 'stretches;
                        }
                    }
                }
                // The first phases take `c` alone: the character before stands; `c` does where
                // the first phases take the next one alone.
                // SAFETY: see `Stretch::push8`.
                unsafe { Stretch::push8(&mut dst, u64::from(word), n) };
                p = next;
                if p >= stop_p {
                    i = offset(p);
                    stretch.set_end(dst);
                    break;
                }
                (w, c, len) = (dw, d, d_len);
            }
        }
        if SECOND && i > settled {
            // The last character written, just before `i`, and the first phases took it
            // alone: where its `x` starts longer keys of the second step, it is not known to
            // stand, and the scan goes back to it.
            let last = (settled..i)
                .rev()
                .find(|&k| bytes[k] & 0xC0 != 0x80)
                .expect("a character before `i`");
            // SAFETY: `last` is a character before `limit`, as above.
            let (w, c, len) = unsafe { decode_word(bytes, last) };
            let entry = self.table.bmp_entry(c);
            if entry & PAIR_SECOND != 0 {
                out.truncate(out.len() - written(entry, w, len).1);
                return last;
            }
        }
        i
    }
}

/// What happens at a position the table alone does not decide.
enum Decided {
    /// Every phase takes the character alone: the table entry stands.
    Alone,
    /// The first step matches a priority-class-0 key (the segmentation fused into it): its end
    /// and value word.
    Phrase(usize, u32),
    /// Convert a window from here with the phases as passes.
    Window,
}

/// Decides the position of character `c`, which ends at `next`, with table entry `entry`.
#[inline(always)]
fn decide(
    chain: &Chain<'_>,
    table: &Table,
    bytes: &[u8],
    c: u32,
    next: usize,
    entry: u64,
) -> Decided {
    if entry & OPEN != 0 {
        return Decided::Window;
    }
    if next >= bytes.len() {
        return Decided::Alone;
    }
    let (d, d_len) = decode(bytes, next);
    if entry & PAIR_FIRST != 0 && table.pair_first(c, d) {
        match pair_stop(chain, bytes, c, next, (d, d_len)) {
            // Most pairs that pass start no key that matches here.
            PairStop::Alone => {}
            PairStop::Phrase(key_end, val) => return Decided::Phrase(key_end, val),
            PairStop::Decide => return Decided::Window,
        }
    }
    second_alone(chain, table, bytes, next, (d, d_len), entry)
}

/// Whether the second step takes the first step's character of `entry` alone, followed by
/// what the first step writes for `d` at `next`.
#[inline(always)]
fn second_alone(
    chain: &Chain<'_>,
    table: &Table,
    bytes: &[u8],
    next: usize,
    (d, d_len): (u32, usize),
    entry: u64,
) -> Decided {
    if entry & PAIR_SECOND == 0 {
        return Decided::Alone;
    }
    let d_entry = table.entry(d);
    let after = next + d_len;
    if d_entry & OPEN != 0 {
        return chain.segment_at(bytes, d, after);
    }
    if d_entry & PAIR_FIRST != 0 {
        // Whether the first step takes `d` alone depends on the character after it.
        if after < bytes.len()
            && table.pair_first(d, decode(bytes, after).0)
            && chain.longer_first(bytes, d, after)
        {
            return chain.segment_at(bytes, d, after);
        }
    }
    let x = x_of(entry, 0);
    let y = x_of(d_entry, d);
    if !chain.second.pair_may(x, y) {
        return Decided::Alone;
    }
    // A key of the second step may start with `x` `y`: walk the second step over what the
    // first step writes, character by character, as long as some key continues and the first
    // step takes each character alone.
    let second = &chain.second;
    let mut node = second.root_entry(x).0 & ROOT_NODE;
    let best = second.node_value(node);
    let mut z = y;
    let mut p = next;
    loop {
        node = second.step(node, z);
        if node == 0 {
            return Decided::Alone;
        }
        let v = second.node_value(node);
        if beats(v, best) {
            // A key of two or more characters is the second step's best here.
            return Decided::Window;
        }
        // The next character the first step writes, if it takes the one after `p` alone.
        p += decode(bytes, p).1;
        if p >= bytes.len() {
            return Decided::Alone;
        }
        let (f, f_len) = decode(bytes, p);
        let f_entry = table.entry(f);
        if f_entry & OPEN != 0 {
            return Decided::Window;
        }
        let q = p + f_len;
        if f_entry & PAIR_FIRST != 0
            && q < bytes.len()
            && table.pair_first(f, decode(bytes, q).0)
            && chain.longer_first(bytes, f, q)
        {
            return Decided::Window;
        }
        z = x_of(f_entry, f);
    }
}

/// The first offset after `i` (or the end of `text`) before a character in no key of any phase
/// (table entry 0) with no IDS operator in the 64 code points before it.
fn next_safe_cut(table: &Table, text: &str, i: usize) -> usize {
    let is_operator = |c: char| ids::arity(c as u32) != 0;
    // Code points since the last IDS operator, counting those before `i`. Operators (U+2FF0 to
    // U+2FFF) start with E2 BF: most texts have none in the 256 bytes before `i`.
    let before = &text.as_bytes()[i.saturating_sub(256)..i];
    let mut since = if memchr::memchr_iter(0xE2, before).any(|j| before.get(j + 1) == Some(&0xBF)) {
        text[..i]
            .chars()
            .rev()
            .take(64)
            .position(is_operator)
            .unwrap_or(64)
    } else {
        64
    };
    for (q, c) in text[i..].char_indices() {
        if q > 0 && since >= 64 && table.entry(c as u32) == 0 {
            return i + q;
        }
        since = if is_operator(c) { 0 } else { since + 1 };
    }
    text.len()
}

#[cfg(test)]
pub(crate) mod tests {
    use crate::config::builtin_engine;
    use crate::convert::Matcher;
    use crate::Config;

    /// `text` converted by the composed chain of `engine` (whatever its length).
    fn composed(engine: &crate::convert::Engine, text: &str) -> String {
        let chain = engine.composed().expect("a composed chain");
        let table = super::Table::new(&chain);
        let mut out = String::new();
        super::convert(&chain, &table, &engine.normalize(text), &mut out);
        out
    }

    /// Adds to `pool` every `every.0`-th entry of `t` and every `every.1`-th of its keys of two or
    /// more characters: the key, its first character and its value.
    fn key_pieces(t: &crate::trie::Trie, every: (usize, usize), pool: &mut Vec<String>) {
        for (i, (k, v)) in t.entries().into_iter().enumerate() {
            if i % every.0 == 0 || k.chars().count() > 1 && i % every.1 == 0 {
                let cut = k.char_indices().nth(1).map_or(k.len(), |(j, _)| j);
                pool.push(k[..cut].to_string());
                pool.push(k);
                pool.push(v);
            }
        }
    }

    /// The pieces of test texts: `fixed`, and the pieces of the keys of `tries` (see
    /// [`key_pieces`]).
    pub(crate) fn pool<'t>(
        fixed: &[&str],
        tries: impl IntoIterator<Item = &'t crate::trie::Trie>,
        every: (usize, usize),
    ) -> Vec<String> {
        let mut pool: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
        for t in tries {
            key_pieces(t, every, &mut pool);
        }
        pool
    }

    /// A text of `n` pieces drawn from `pool` by a fixed pseudo-random sequence.
    pub(crate) fn text(pool: &[String], n: usize, seed: &mut u64) -> String {
        let mut t = String::new();
        for _ in 0..n {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            t.push_str(&pool[(*seed % pool.len() as u64) as usize]);
        }
        t
    }

    #[test]
    fn one_scan_equals_the_passes() {
        // Texts made of the phases' keys and values, their pieces, IDS and punctuation: keys
        // that overlap, span what the first step writes, or meet at segment ends. The composed
        // scan must give what the passes give, byte for byte.
        let mut seed = 0x2545_F491_4F6C_DD1D;
        for config in Config::ALL {
            for tofu in [false, true] {
                let engine = builtin_engine(config, tofu);
                if engine.composed().is_none() {
                    continue;
                }
                let tries = engine.segmentation.iter().chain(&engine.chain);
                let pool = pool(
                    &["，", "。", "\n", " ", "a", "⿰氵青", "⿱", "⿰", "〇"],
                    tries.filter_map(|m| match m {
                        Matcher::Trie(t) => Some(t),
                        _ => None,
                    }),
                    (7, 3),
                );
                for round in 0..40 {
                    let t = text(&pool, 200 + round, &mut seed);
                    let mut passes = String::new();
                    engine.convert_phases(&engine.normalize(&t), &mut passes);
                    assert!(
                        composed(&engine, &t) == passes,
                        "{} tofu {tofu}: {t:?}",
                        config.name()
                    );
                }
            }
        }
    }

    #[test]
    fn the_filters_hold_every_pair_that_starts_a_key() {
        // The segmentation's filter and the first step's have different sizes in tw2s, tw2sp
        // and hk2s: their union must hold the pairs of both (copying the smaller one's words
        // lost a third of its pairs). The event filter holds those and, for each pair of
        // characters that starts a longer key of the second step, the pairs the first step
        // takes to it.
        for config in Config::ALL {
            let engine = builtin_engine(config, true);
            let Some(chain) = engine.composed() else {
                continue;
            };
            let table = super::Table::new(&chain);
            let (first, events) = (table.first_filter(), table.event_filter());
            let mut pairs = 0;
            for v in chain.seg.iter().chain([&chain.first]) {
                v.each_pair(|c, d| {
                    pairs += 1;
                    assert!(first.may(c, d) && events.may(c, d), "{}", config.name());
                });
            }
            assert!(pairs > 600, "{}: {pairs}", config.name());
            // And few others: the filters are at least `MIN_PAIR_BITS` in size (the first
            // phases' own filters of tw2s, tw2sp and hk2s let about 3% of these pairs through).
            let starts = |c: u32, d: u32| {
                chain
                    .seg
                    .iter()
                    .chain([&chain.first])
                    .any(|v| v.step(v.root(c), d) != 0)
            };
            let (mut others, mut passed) = (0, 0);
            for c in (0x4E00..0xA000).step_by(61) {
                for d in (0x4E00..0xA000).step_by(67).filter(|&d| !starts(c, d)) {
                    others += 1;
                    passed += usize::from(first.may(c, d));
                }
            }
            assert!(
                passed * 100 < others,
                "{}: {passed} of {others}",
                config.name()
            );
            let x = |c: u32| super::x_of(table.entry(c), c);
            let firsts: Vec<u32> = (0x3000..0xA000)
                .filter(|&c| table.entry(c) & super::PAIR_SECOND != 0)
                .collect();
            let mut seconds = 0;
            for &c in &firsts {
                for d in 0x3000..0xA000 {
                    if chain.second.pair_may(x(c), x(d))
                        && chain.second.step(chain.second.root(x(c)), x(d)) != 0
                    {
                        seconds += 1;
                        assert!(events.may(c, d), "{}", config.name());
                    }
                }
            }
            assert_eq!(seconds > 0, table.pair_second, "{}", config.name());
        }
    }

    #[test]
    fn a_phrase_of_the_first_step_after_a_character_the_second_step_continues() {
        use crate::convert::tests::{dict, engine};
        // The first step writes 乙丁 for 丙戊, and 丙 alone would be 己; the second step has
        // 甲乙. Taking 甲 alone by the next character's single value (己) would miss 甲乙.
        let first = dict(&[("丙戊", "乙丁"), ("丙", "己")]);
        let second = dict(&[("甲乙", "庚")]);
        for seg in [None, Some(dict(&[("壬癸", "壬癸")]))] {
            let e = engine(seg, vec![first.clone(), second.clone()]);
            assert!(e.composed().is_some());
            for (text, want) in [
                ("甲丙戊", "庚丁"),
                ("甲丙", "甲己"),
                ("壬甲丙戊。", "壬庚丁。"),
            ] {
                assert_eq!(composed(&e, text), want, "{text}");
                let mut out = String::new();
                e.convert_into(text, &mut out);
                assert_eq!(out, want, "{text}");
                // The same between runs of characters the table loop takes (where it writes
                // 甲 alone before it finds the phrase at 丙, and has to go back to 甲), near
                // the loop's start, in its stretches and at its end.
                for (before, after) in [(3, 20), (40, 40), (20, 3), (1500, 1500)] {
                    let (fill_a, fill_b) = ("。".repeat(before), "，".repeat(after));
                    let long = format!("{fill_a}{text}{fill_b}").repeat(3);
                    let want = format!("{fill_a}{want}{fill_b}").repeat(3);
                    assert_eq!(composed(&e, &long), want, "{text} {before} {after}");
                }
            }
        }
    }
}
