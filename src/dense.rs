//! The scan of a trie whose keys start at many of a text's characters (the ST and TS
//! dictionaries start a key at nearly every Chinese character; tw2t's at a third of those of
//! Traditional text), written for the positions where one character's table entry and a pair
//! filter decide.
//!
//! With such a trie the general scan branches at every character on facts that change from
//! one character to the next (does a longer key start here, does the character change), and
//! those branches are mispredicted about once a character. Here a per-code-point table holds,
//! for each BMP character, what the trie makes of it alone as ready UTF-8 bytes (its own
//! bytes where it stays). The pair filter is asked with the next character at every character
//! (a character that starts no longer key passes it only by a false positive); where it rules
//! out a longer key, the character is written with one store, changed or not.
//!
//! Where the filter lets a pair through (9% of the characters of Classical Chinese for s2t),
//! the pair's outcome is looked up in the pairs this thread has learned ([`Pairs`]): whether
//! the pair is a key that wins (its value, up to six bytes, replaces both characters) and
//! which characters continue a key after it. The outcome is chosen without a branch. (Walking
//! the trie at each of those 9% cost half of the scan's time: a mispredicted branch and a
//! chain of dependent loads through the trie's nodes, edges and values.) Where the character
//! after the pair continues a key (0.6% of the characters), the walk over three or four
//! characters is learned the same way ([`Walks`]); the trie is walked only for a pair or walk
//! not yet learned, or where a key continues after four characters. The other branches that
//! depend on the text are the rare ones: back to the general scan (a value of more than one
//! character, an IDS operator, a character beyond the BMP, a run of ASCII).
//!
//! Where the table acts at few of a text's characters (hk2t, t2hk, jp2t, tw2t and t2tw on
//! Traditional text: changes or pairs let through at 1-2% of them, though keys start at 5-35%),
//! the loop skips the others a block of 64 bytes at a time ([`skip`]): where the processor has
//! AVX-512 with VBMI, by a [`Sieve`] of byte permutations, 64 characters at once; elsewhere by a
//! hash of each character's bytes in a bitmap of those that may act, without a branch. The few
//! let through are looked at by their entries and the pair filter; the block is copied as it
//! is up to the first character that acts, which the loop takes as before.

use crate::trie::{beats, decode, listed, TrieView};
use crate::trie_build::{ROOT_LONGER, ROOT_NODE, VALUE_INLINE};
use std::hint::select_unpredictable;

/// In an output word (see [`output`]; the composed chains' entries hold one): the
/// character's output in bytes 0..4 (UTF-8, first byte lowest), its length in bits 32..35; in
/// the composed chains' entries 0 means the character is written as it is (see [`written`]).
const LEN_SHIFT: u32 = 32;
/// In an entry of [`Dense`]: the trie's node for keys that start with the character, from this
/// bit ([`NODE_BITS`] bits; 0 when no key of two or more characters starts with it), above the
/// output's length (bits 0..3, never 0 but for the characters the table does not decide) and
/// below its bytes (bits 32..64; see [`swapped`]).
const NODE_SHIFT: u32 = 3;
/// See [`NODE_SHIFT`].
const NODE_BITS: u32 = 28;

/// The output length of a [`Dense`] entry `e`.
#[inline(always)]
fn len_of(e: u64) -> usize {
    (e & 7) as usize
}

/// The node of a [`Dense`] entry `e` (0 for none).
#[inline(always)]
fn node_of(e: u64) -> u32 {
    e as u32 >> NODE_SHIFT
}

/// The per-code-point table of one trie (see the module).
#[derive(Debug, Clone)]
pub(crate) struct Dense {
    /// An entry per code point: its output (the character's own bytes where it stays) and
    /// node. Output length 0 marks a character the table does not decide, left to the general
    /// scan: a value of more than one character, an IDS operator, a character beyond the BMP
    /// (whose entries are never written: zeroed memory that is never paged in). A value of
    /// priority class 0 is decided like any other: the table is used only where no segment
    /// ends are recorded (`Engine::convert_pass`), where a key of class 0 is written as any
    /// other is.
    entries: Box<[u64]>,
    /// This table's own number, naming its [`Pairs`] in each thread's memo.
    id: u64,
    /// A bit per [`act_hash`] of a character of three bytes, set for every such character
    /// whose entry is not its own bytes alone (it changes, starts a longer key, or is left to
    /// the general scan): what [`skip`] looks at first where it has no [`Sieve`] (8 KiB, in
    /// the L1 cache; the entries of those characters are spread over as many cache lines as
    /// there are of them).
    acts: Box<[u64; ACT_WORDS]>,
    /// Whether no ASCII character acts (every one's entry is its own byte alone): the
    /// condition for [`skip`], which copies ASCII without a look.
    ascii_plain: bool,
    /// Whether a key of two or more characters starts with some character of the BMP (not
    /// with t2jp's: the skip then asks no pair filter).
    longer: bool,
    /// A bit per [`astral_hash`] of a character beyond the BMP, set for every such character
    /// that starts a key: the others [`skip`] goes past (the table has no entries for them,
    /// and the loop leaves them to the general scan; Hong Kong text has one every 2 KB).
    astral: Box<[u64; ASTRAL_WORDS]>,
}

/// For [`skip`] with AVX-512 (VBMI): three sets of characters of three bytes, each as two
/// bitmaps small enough for byte permutations to look up 64 characters at once: one of the
/// first byte's low four bits with the second byte's low six, one of the second byte's and
/// the third byte's low six. A character passes where both have its bit (a superset of the
/// set: characters that share those bits with one in it pass too).
#[derive(Debug, Clone)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) struct Sieve {
    /// Per set ([`SIEVE_CHANGES`], [`SIEVE_LONGER`], [`SIEVE_SECOND`]): the first bitmap
    /// (1,024 bits) and the second (4,096 bits), each bit `x << 6 | y` at byte `x << 3 | y >> 3`,
    /// bit `y & 7`.
    first: [[u8; 128]; 3],
    second: [[u8; 512]; 3],
    /// For [`SIEVE_CHANGES`] where the set is large (see `precise`), a bitmap of 4,096 bits
    /// that the skip looks up instead of the first: bit `x << 6 | y` with `x = (b1 ^ b0) & 63`
    /// and `y = (b2 ^ b0 << 2) & 63`, the first byte's low four bits mixed into the others'.
    /// The second bitmap lets through the characters whose last two bytes' bits are those of
    /// one in the set, whatever their first byte (the six blocks of 4,096 code points of the
    /// CJK ideographs); with a set of hundreds, the first, of 1,024 bits, holds more than half
    /// of its bits and stops few of them, this one most.
    third: [u8; 512],
    /// Whether the skip looks at `third`: for jp2t, whose table changes 351 characters, 9.8%
    /// of the characters of Traditional text pass the first and second bitmaps, 2.5% the
    /// second and third, and 1.6% act.
    precise: bool,
    /// For keys of two or more characters (see `seconds`): a bitmap of 4,096 bits of their
    /// first two characters where both are of three bytes, bit `x << 6 | y` with
    /// `x = (a1 ^ b2) & 63` and `y = (a2 ^ b1) & 63` (the second and third bytes of the first
    /// character, `a1` `a2`, and of the second, `b1` `b2`).
    pairs: [u8; 512],
    /// How the skip tells whether the character after one that starts a longer key may be a
    /// key's second with it, where both are of three bytes (see [`Seconds`]).
    seconds: Seconds,
    /// Whether the second character of some key of two or more characters is ASCII.
    ascii_second: bool,
}

/// Whether [`skip`] has a [`Sieve`] here: the processor has AVX-512 with VBMI.
pub(crate) fn sieved() -> bool {
    #[cfg(test)]
    if tests::SIEVE.get() == tests::Sieve::None {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx512f")
        && std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("avx512vbmi")
        && std::arch::is_x86_feature_detected!("bmi2");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The characters that change from which the skip looks at [`Sieve::third`]: between tw2t's
/// 54, t2tw's 55, t2hk's 75, hk2t's 77 and jp2t's 351, t2jp's 424 (jp2t took 0.86 of its time
/// with the third bitmap, t2jp 0.95; the four others 1.04-1.13).
const PRECISE_FROM: usize = 200;

/// How the skip tells whether a character of three bytes after one that starts a longer key
/// may be a key's second with it (see [`Sieve`]), by the number of pairs of characters of
/// three bytes that start keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seconds {
    /// Under [`PAIRS_FROM`] pairs: by the set of second characters ([`SIEVE_SECOND`]) alone,
    /// which needs no bytes beyond those the sieve has (with the pairs' bitmap instead, t2tw,
    /// 11 pairs, took 1.06-1.24 of its time, t2jp, none, 1.02).
    Set,
    /// From [`PAIRS_FROM`] pairs: by [`Sieve::pairs`] alone, from two more loads of the text
    /// (of jp2t's characters 2.5% passed with the set, 1.9% with the pairs: 0.98 of its time,
    /// 0.94-1.00 in three measurements; hk2t 2.6% and 1.6%, 0.95-0.96; t2hk 1.4% and 1.0%,
    /// 1.00).
    Pairs,
    /// From [`BOTH_FROM`] pairs: by both (tw2t, 858 pairs: 14% of its characters passed with
    /// the set, 8.5% with the pairs, 4.8% with both; with both, 0.90 of its time).
    Both,
}

/// See [`Seconds::Pairs`].
const PAIRS_FROM: usize = 100;
/// See [`Seconds::Both`].
const BOTH_FROM: usize = 400;

/// The characters whose entries are not their own bytes (see [`Sieve`]).
const SIEVE_CHANGES: usize = 0;
/// The characters that start keys of two or more characters (see [`Sieve`]).
const SIEVE_LONGER: usize = 1;
/// The second characters of keys of two or more characters (see [`Sieve`]).
const SIEVE_SECOND: usize = 2;

impl Sieve {
    /// The sieve of `dense`, the table of `v`.
    pub(crate) fn new(v: &TrieView<'_>, dense: &Dense) -> Sieve {
        let mut sieve = Sieve {
            first: [[0; 128]; 3],
            second: [[0; 512]; 3],
            third: [0; 512],
            precise: false,
            pairs: [0; 512],
            seconds: Seconds::Set,
            ascii_second: false,
        };
        let mut changes = 0;
        for c in (0x800..0x1_0000).filter(|c| !(0xD800..0xE000).contains(c)) {
            let e = dense.entries[c as usize];
            if e & !NODE_MASK != own(c) {
                sieve.add(SIEVE_CHANGES, c);
                set_bit(
                    &mut sieve.third,
                    (c >> 6 ^ c >> 12) << 6 & 0xFC0 | ((c ^ (c >> 12) << 2) & 0x3F),
                );
                changes += 1;
            }
            if node_of(e) != 0 {
                sieve.add(SIEVE_LONGER, c);
            }
        }
        let mut pairs = 0;
        v.each_pair(|a, b| match b {
            0..0x80 => sieve.ascii_second = true,
            0x800..0x1_0000 => {
                sieve.add(SIEVE_SECOND, b);
                if (0x800..0x1_0000).contains(&a) {
                    set_bit(
                        &mut sieve.pairs,
                        ((a >> 6 ^ b) & 0x3F) << 6 | ((a ^ b >> 6) & 0x3F),
                    );
                    pairs += 1;
                }
            }
            // Characters of two or four bytes are taken as second characters by `skip`.
            _ => {}
        });
        sieve.precise = changes >= PRECISE_FROM;
        sieve.seconds = match pairs {
            n if n >= BOTH_FROM => Seconds::Both,
            n if n >= PAIRS_FROM => Seconds::Pairs,
            _ => Seconds::Set,
        };
        sieve
    }

    /// Adds the character of three bytes `c` to the set `set`.
    fn add(&mut self, set: usize, c: u32) {
        let [b0, b1, b2] = [0xE0 | c >> 12, 0x80 | (c >> 6 & 0x3F), 0x80 | (c & 0x3F)];
        set_bit(&mut self.first[set], (b0 & 0xF) << 6 | (b1 & 0x3F));
        set_bit(&mut self.second[set], (b1 & 0x3F) << 6 | (b2 & 0x3F));
    }
}

/// Sets bit `bit` of a bitmap of the sieve: at byte `bit >> 3`, bit `bit & 7`, as the skip
/// looks it up.
fn set_bit(map: &mut [u8], bit: u32) {
    map[(bit >> 3) as usize] |= 1 << (bit & 7);
}

/// Words of [`Dense::astral`]: a bit per value of [`astral_hash`].
const ASTRAL_WORDS: usize = 64;

/// A hash of the code point `c` below `64 * ASTRAL_WORDS`.
#[inline(always)]
fn astral_hash(c: u32) -> usize {
    (c.wrapping_mul(0x9E37_79B1) >> 20) as usize
}

/// Words of [`Dense::acts`]: a bit per value of [`act_hash`].
const ACT_WORDS: usize = 1 << 10;

/// A hash of the character of three bytes whose UTF-8 the low three bytes of `x` are (the
/// fourth is ignored), below `64 * ACT_WORDS`: the bits of the code point, which the bytes
/// hold apart, gathered by one multiplication (no decoding).
#[inline(always)]
fn act_hash(x: u32) -> usize {
    ((x & 0x3F_3F0F).wrapping_mul(0x9E37_79B1) >> 16) as usize
}

/// What the walk finds over pairs of characters that start keys of two or more characters,
/// learned pair by pair as a text brings them: a pair the filter lets through is then decided
/// with one lookup instead of a walk through the trie's nodes. (A table of every pair of a
/// dictionary would touch all of the trie's second level to be made: for STPhrases, megabytes
/// of memory and milliseconds before the first character; a text brings a few thousand pairs.)
/// Each thread keeps its own, per table, in [`MEMOS`].
#[derive(Debug, Default)]
pub(crate) struct Pairs {
    /// Open addressing, linear probing over buckets of two slots (half a cache line each); a
    /// free slot is all zero (see [`FREE`]).
    buckets: Box<[Bucket]>,
    /// The hash's shift: `32 - log2(buckets)`.
    shift: u32,
    /// Slots in use.
    used: usize,
    /// The walks over three or four characters learned so far (see [`Walks`]).
    walks: Walks,
}

/// What the walk finds over three or four characters where a key continues after a pair,
/// learned as a text brings them, as [`Pairs`] learns pairs: the walks there went through
/// nodes the table loops never touch, a chain of cache misses each (s2t on Classical Chinese:
/// 0.6% of the characters, 15% of the time). Nearly all such walks end within four
/// characters or at the fifth; the others are walked.
#[derive(Debug, Default)]
struct Walks {
    /// Open addressing, linear probing; a free slot is all zero.
    slots: Vec<WalkSlot>,
    /// Slots in use.
    used: usize,
}

/// One slot of [`Walks`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct WalkSlot {
    /// The characters walked over, 16 bits each, the last lowest (three or four of them: the
    /// first is never 0, which `learned_walk` makes sure of, so the two make different keys);
    /// 0 in a free slot.
    key: u64,
    /// The output's length in bytes (bits 0..5), the characters the best key takes less one
    /// (two bits from [`TAKEN_SHIFT`]; one character with no key), and [`WALK_LONGER`],
    /// [`WALK_MANY`], [`WALK_WALK`], [`WALK_ALONE`].
    meta: u32,
    /// With [`WALK_LONGER`] but not [`WALK_MANY`]: the one character that continues a key
    /// after those walked over.
    next: u32,
    /// The output: the best key's value, or the first character where no key matches.
    out: [u8; 16],
    /// With [`WALK_MANY`]: a filter of the characters that continue a key after those
    /// walked over (see [`third_bit`]).
    nexts: u64,
}

/// The key of the walk over `chars` in [`Walks`] (see [`WalkSlot::key`]).
fn walk_key(chars: &[u32]) -> u64 {
    chars.iter().fold(0, |key, &c| key << 16 | u64::from(c))
}

/// In a walk's meta: where the number of characters the best key takes is (see
/// [`WalkSlot::meta`]).
const TAKEN_SHIFT: u32 = 5;
/// In a walk's meta: keys continue after the characters walked over (see [`WalkSlot::next`]).
const WALK_LONGER: u32 = 1 << 8;
/// In a walk's meta: more than one character continues a key after those walked over.
const WALK_MANY: u32 = 1 << 9;
/// In a walk's meta: the trie's walk decides (a value longer than sixteen bytes).
const WALK_WALK: u32 = 1 << 10;
/// In a walk's meta: the first character is taken alone, as a table has it (the slot has no
/// output).
const WALK_ALONE: u32 = 1 << 11;
/// The most walks a thread learns per table.
const MAX_WALKS: usize = 1 << 15;

impl Walks {
    /// The slot of the walk over the characters of `key`, learned from `walked` where it is not
    /// known yet (or returned without being learned where the table is full).
    fn get_or_learn(&mut self, key: u64, walked: impl FnOnce() -> WalkSlot) -> WalkSlot {
        if let Some(slot) = self.find(key) {
            return slot;
        }
        let slot = walked();
        if self.used < MAX_WALKS {
            if 2 * (self.used + 1) > self.slots.len() {
                let size = (2 * self.slots.len()).max(256);
                let old = std::mem::replace(&mut self.slots, vec![WalkSlot::default(); size]);
                for s in old.into_iter().filter(|s| s.key != 0) {
                    self.put(s);
                }
            }
            self.put(slot);
            self.used += 1;
        }
        slot
    }

    /// The first slot to look at for `key`: the product's top bits, which depend on all of
    /// the key's.
    fn home(&self, key: u64) -> usize {
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - self.slots.len().trailing_zeros()))
            as usize
    }

    /// The slot of `key`, if learned.
    fn find(&self, key: u64) -> Option<WalkSlot> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut at = self.home(key);
        loop {
            match self.slots[at] {
                slot if slot.key == key => return Some(slot),
                slot if slot.key == 0 => return None,
                _ => at = (at + 1) & mask,
            }
        }
    }

    /// Stores `slot` in the first free slot from its home on.
    fn put(&mut self, slot: WalkSlot) {
        let mask = self.slots.len() - 1;
        let mut at = self.home(slot.key);
        while self.slots[at].key != 0 {
            at = (at + 1) & mask;
        }
        self.slots[at] = slot;
    }
}

impl WalkSlot {
    /// The slot of the walk over `chars` (BMP characters; the first not 0), its outcome still
    /// to be written.
    pub(crate) fn over(chars: &[u32]) -> WalkSlot {
        WalkSlot {
            key: walk_key(chars),
            ..WalkSlot::default()
        }
    }

    /// What the walk from `node`, the node of `chars[0]`, finds over `chars` (BMP
    /// characters; two to four): the slot with the characters that continue a key after
    /// them (its output still to be written by [`WalkSlot::with_output`]), the best key's
    /// value word among them (0 for none) and the number of characters it takes (1 with
    /// none).
    pub(crate) fn walked(v: &TrieView<'_>, node: u32, chars: &[u32]) -> (WalkSlot, u32, u32) {
        let mut slot = WalkSlot::over(chars);
        let (mut best, mut taken) = (v.node_value(node), 1);
        let mut at = node;
        for (k, &c) in chars.iter().enumerate().skip(1) {
            at = v.step(at, c);
            if at == 0 {
                break;
            }
            if beats(v.node_value(at), best) {
                (best, taken) = (v.node_value(at), k as u32 + 1);
            }
        }
        if at != 0 {
            let (first, many, filter) = continuation_set(v.children(at).map(|(e, _)| e));
            if let Some(e) = first {
                (slot.next, slot.meta) = (e, slot.meta | WALK_LONGER);
            }
            if many {
                slot.meta |= WALK_MANY;
            }
            slot.nexts = filter;
        }
        (slot, best, taken)
    }

    /// The slot with its outcome: `text` written for the first `taken` characters, or (for
    /// `None`, or a text of more than sixteen bytes) the trie's walk.
    pub(crate) fn with_output(mut self, taken: u32, text: Option<&str>) -> WalkSlot {
        match text {
            Some(text) if text.len() <= 16 => {
                self.out[..text.len()].copy_from_slice(text.as_bytes());
                self.meta |= text.len() as u32 | (taken - 1) << TAKEN_SHIFT;
            }
            _ => self.meta |= WALK_WALK,
        }
        self
    }

    /// The slot with its outcome: the first character alone, as a table has it.
    pub(crate) fn alone(mut self) -> WalkSlot {
        self.meta |= WALK_ALONE;
        self
    }

    /// Whether the first character is taken alone, as a table has it (see
    /// [`WalkSlot::alone`]).
    pub(crate) fn is_alone(&self) -> bool {
        self.meta & WALK_ALONE != 0
    }

    /// The slot's output.
    pub(crate) fn output(&self) -> &str {
        // SAFETY: the output was copied from a `&str` (see `with_output`).
        unsafe { std::str::from_utf8_unchecked(&self.out[..(self.meta & 0x1F) as usize]) }
    }
}

thread_local! {
    /// Per table (by [`Dense::id`]), the pairs this thread has learned.
    static MEMOS: std::cell::RefCell<Vec<(u64, Pairs)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Numbers for [`Dense::id`] and the composed chains' tables.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A number of its own for a table, naming its pairs in the memos.
pub(crate) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Calls `f` with the pairs this thread has learned for the table numbered `id`.
pub(crate) fn with_memo<R>(id: u64, f: impl FnOnce(&mut Pairs) -> R) -> R {
    MEMOS.with(|memos| {
        // A conversion inside a table loop (none does) would find the memos in use: it would
        // learn its pairs afresh.
        let Ok(mut memos) = memos.try_borrow_mut() else {
            return f(&mut Pairs::default());
        };
        let at = match memos.iter().position(|(other, _)| *other == id) {
            Some(at) => at,
            None => {
                if memos.len() == MAX_MEMOS {
                    memos.remove(0);
                }
                memos.push((id, Pairs::default()));
                memos.len() - 1
            }
        };
        f(&mut memos[at].1)
    })
}

/// Two slots of [`Pairs`], looked at together: 32 bytes, aligned so that they are in one
/// cache line.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(32))]
struct Bucket([PairSlot; 2]);

/// One slot of [`Pairs`]: 16 bytes, so that the pairs a text brings (5,400 for s2twp on
/// zuozhuan) take 256 KiB, not 512, of the L2 cache the loops share with their tables.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C)]
pub(crate) struct PairSlot {
    /// The first character in the top 16 bits, the second in the low 16 ([`FREE`] in a free
    /// slot).
    key: u32,
    /// With [`PAIR_LONGER`]: the character that continues a key after the pair or, with
    /// [`PAIR_MANY`], a filter of those characters (see [`third_bit`]).
    next: u32,
    /// With [`PAIR_BOTH`]: the value of the pair's key, UTF-8, first byte lowest, in bits
    /// 0..48; the meta from [`META_SHIFT`]: the output length in bytes (bits 0..4) and flags
    /// ([`PAIR_BOTH`], [`PAIR_LONGER`], [`PAIR_WALK`], [`PAIR_MANY`], [`PAIR_KNOWN`]).
    word: u64,
}

/// Where a slot's meta is in its word (see [`PairSlot::word`]).
const META_SHIFT: u32 = 48;
/// The longest value a slot holds.
const MAX_PAIR_OUT: usize = 6;

/// The key of a free slot: all of a free slot is zero (the table is zeroed memory). A pair
/// that starts no key is known by a slot of its own too (one of two NULs is never looked up: a
/// free slot reads as unknown).
const FREE: u32 = 0;
/// In a pair's meta: the pair is a key that wins over the first character's own (the slot's
/// output replaces both characters); without it the first character is decided alone.
const PAIR_BOTH: u32 = 1 << 4;
/// In a pair's meta: keys continue after the pair, with the character in the slot's `next` or
/// (with [`PAIR_MANY`]) characters that pass the filter there.
const PAIR_LONGER: u32 = 1 << 5;
/// In a pair's meta: the walk decides (a value longer than [`MAX_PAIR_OUT`] bytes; see also
/// [`PairSlot::walk`]).
const PAIR_WALK: u32 = 1 << 6;
/// In a pair's meta, with [`PAIR_LONGER`]: keys continue after the pair with more than one
/// character, which pass the filter in the slot's `next`; without it, with the one
/// character there.
const PAIR_MANY: u32 = 1 << 7;
/// In a pair's meta: the slot holds a pair (a free slot is all zero).
const PAIR_KNOWN: u32 = 1 << 15;
/// The most pairs a thread learns per table (a table of 2 MiB; STPhrases has 33,000 pairs
/// of first characters); beyond, pairs not yet known are walked.
const MAX_PAIRS: usize = 1 << 16;

/// The most tables a thread keeps pairs for (configs read from files make new tables each
/// time they are loaded): beyond, the pairs learned first are forgotten.
const MAX_MEMOS: usize = 16;

/// `n` buckets of free slots, from zeroed memory.
fn zeroed_buckets(n: usize) -> Box<[Bucket]> {
    let layout = std::alloc::Layout::array::<Bucket>(n).expect("a table within memory");
    // SAFETY: `layout` has a nonzero size (`n > 0`, buckets of 32 bytes); a bucket of zero
    // bytes is a valid `Bucket` (integers only), so the memory holds `n` of them, owned by
    // the box with the layout it was allocated with.
    unsafe {
        let ptr = std::alloc::alloc_zeroed(layout).cast::<Bucket>();
        if ptr.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, n))
    }
}

/// The characters that continue a key (after a pair, or a learned walk): the first of
/// them, whether there are more, and the filter of all of them (see [`third_bit`]).
fn continuation_set(chars: impl Iterator<Item = u32>) -> (Option<u32>, bool, u64) {
    let (mut first, mut many, mut filter) = (None, false, 0);
    for c in chars {
        filter |= 1 << third_bit(c);
        many = first.is_some();
        first = first.or(Some(c));
    }
    (first, many, filter)
}

/// The bit of the character `c` in a filter of the characters after a pair (32 bits) or a
/// learned walk (64).
#[inline(always)]
fn third_bit(c: u32) -> u32 {
    (u64::from(c).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as u32
}

impl PairSlot {
    /// The slot of the pair `c` `d`: `value`, where the pair is a key that wins over `c`
    /// alone, and the characters that continue a key after the pair.
    pub(crate) fn new(
        c: u32,
        d: u32,
        value: Option<&[u8]>,
        continuations: impl Iterator<Item = u32>,
    ) -> PairSlot {
        let (mut meta, mut out) = (PAIR_KNOWN, 0);
        match value {
            Some(text) if text.len() <= MAX_PAIR_OUT => {
                let mut bytes = [0u8; 8];
                bytes[..text.len()].copy_from_slice(text);
                out = u64::from_le_bytes(bytes);
                meta |= PAIR_BOTH | text.len() as u32;
            }
            Some(_) => meta |= PAIR_WALK,
            None => {}
        }
        let (first, many, filter) = continuation_set(continuations);
        let mut next = 0;
        if let Some(e) = first {
            (meta, next) = (meta | PAIR_LONGER, e);
        }
        if many {
            // The 32-bit filter: the bits of the 64-bit one folded.
            (meta, next) = (meta | PAIR_MANY, (filter | filter >> 32) as u32);
        }
        PairSlot {
            key: c << 16 | d,
            next,
            word: out | u64::from(meta) << META_SHIFT,
        }
    }

    /// The slot's meta (see [`PairSlot::word`]).
    #[inline(always)]
    fn meta(&self) -> u32 {
        (self.word >> META_SHIFT) as u32
    }

    /// The slot's output (see [`PairSlot::word`]).
    #[inline(always)]
    fn out(&self) -> u64 {
        self.word & ((1 << META_SHIFT) - 1)
    }

    /// The slot of a pair the walk decides.
    pub(crate) fn walk(c: u32, d: u32) -> PairSlot {
        PairSlot {
            word: u64::from(PAIR_KNOWN | PAIR_WALK) << META_SHIFT,
            ..PairSlot::new(c, d, None, std::iter::empty())
        }
    }
}

impl Pairs {
    /// What the walk finds over the pair `c` `d` (BMP characters; `node` is `c`'s).
    fn walked(v: &TrieView<'_>, c: u32, node: u32, d: u32) -> PairSlot {
        let child = v.step(node, d);
        if child == 0 {
            return PairSlot::new(c, d, None, std::iter::empty());
        }
        let value = v.node_value(child);
        let continuations = v.children(child).map(|(e, _)| e);
        if !crate::trie::beats(value, v.node_value(node)) {
            return PairSlot::new(c, d, None, continuations);
        }
        v.resolve(value)
            .with_str(|s| PairSlot::new(c, d, Some(s.as_bytes()), continuations))
    }

    /// Learns `slot` and returns it.
    #[cold]
    #[inline(never)]
    fn learn(&mut self, slot: PairSlot) -> PairSlot {
        if slot.key == FREE || self.used >= MAX_PAIRS {
            return slot;
        }
        // At most half of the slots in use (one a bucket, on average).
        if self.used + 1 > self.buckets.len() {
            let size = (2 * self.buckets.len()).max(512);
            let old = std::mem::replace(&mut self.buckets, zeroed_buckets(size));
            self.shift = 32 - self.buckets.len().trailing_zeros();
            for s in old.iter().flat_map(|b| b.0).filter(|s| s.key != FREE) {
                self.put(s);
            }
        }
        self.put(slot);
        self.used += 1;
        slot
    }

    /// Stores `slot` in the first free slot from its home bucket on.
    fn put(&mut self, slot: PairSlot) {
        let mask = self.buckets.len() - 1;
        let mut at = self.home(slot.key);
        loop {
            let bucket = &mut self.buckets[at].0;
            if let Some(free) = bucket.iter_mut().find(|s| s.key == FREE) {
                *free = slot;
                return;
            }
            at = (at + 1) & mask;
        }
    }

    /// The first bucket to look at for `key`.
    #[inline(always)]
    fn home(&self, key: u32) -> usize {
        (key.wrapping_mul(0x9E37_79B9) >> self.shift) as usize
    }

    /// The slot of the pair `c` `d` (BMP characters); not [`PAIR_KNOWN`] where the pair is
    /// not learned yet.
    #[inline(always)]
    fn get(&self, c: u32, d: u32) -> PairSlot {
        let key = c << 16 | d;
        let mask = self.buckets.len().wrapping_sub(1);
        if self.buckets.is_empty() {
            return PairSlot::default();
        }
        let mut at = self.home(key);
        loop {
            // The two slots of a bucket are looked at without a branch between them: a key
            // is nearly always in its home bucket.
            // SAFETY: `at` is masked to the table's power-of-two length.
            let [first, second] = &unsafe { self.buckets.get_unchecked(at) }.0;
            let slot = select_unpredictable(first.key == key, first, second);
            if slot.key == key {
                return *slot;
            }
            // A key is stored in the first free slot from its home on: where the second
            // slot is free, the key is not in the table.
            if second.key == FREE {
                return PairSlot::default();
            }
            at = (at + 1) & mask;
        }
    }
}

impl Dense {
    /// The table of `v`'s keys.
    pub(crate) fn new(v: &TrieView<'_>) -> Dense {
        // Zeroed memory comes from the allocator untouched: only the BMP entries written
        // below and those a text reads are ever paged in.
        let mut entries = vec![0u64; 0x11_0000];
        let mut acts = Box::new([0u64; ACT_WORDS]);
        let mut longer = false;
        for (h, &block) in v.root_hi.iter().enumerate().take(0x100) {
            for l in 0..256 {
                let c = (h as u32) << 8 | l;
                entries[c as usize] = if block == 0 && h != 0x2F {
                    // No key has a character of this block.
                    own(c)
                } else {
                    let (root, val) = v.root_entry(c);
                    let node = if root & ROOT_LONGER != 0 {
                        root & ROOT_NODE
                    } else {
                        0
                    };
                    if node < 1 << NODE_BITS {
                        entry(c, val) | u64::from(node) << NODE_SHIFT
                    } else {
                        // A node beyond the entry's bits (a dictionary of over 268 million
                        // nodes): the general scan takes the character.
                        0
                    }
                };
                let e = entries[c as usize];
                longer |= node_of(e) != 0;
                if c >= 0x800 && e != own(c) {
                    let at = act_hash(output(c) as u32);
                    acts[at / 64] |= 1 << (at % 64);
                }
            }
        }
        let mut astral = Box::new([0u64; ASTRAL_WORDS]);
        for (h, _) in v
            .root_hi
            .iter()
            .enumerate()
            .skip(0x100)
            .filter(|&(_, &b)| b != 0)
        {
            for c in (h as u32) << 8..((h as u32) + 1) << 8 {
                if v.root_entry(c) != (0, 0) {
                    let at = astral_hash(c);
                    astral[at / 64] |= 1 << (at % 64);
                }
            }
        }
        Dense {
            ascii_plain: (0..0x80).all(|c| entries[c as usize] == own(c)),
            longer,
            astral,
            entries: entries.into_boxed_slice(),
            id: next_id(),
            acts,
        }
    }
}

/// The entry of `c` with value word `val` (see the image layout), without its node; 0 where the
/// table does not decide the character (see [`Dense::entries`]).
fn entry(c: u32, val: u32) -> u64 {
    if c & !0xF == 0x2FF0 || val != 0 && val & VALUE_INLINE == 0 {
        return 0;
    }
    if val == 0 {
        return own(c);
    }
    swapped(output(val & 0x1F_FFFF))
}

/// An [`output`] in this table's layout: the bytes in the high half, the length in the low
/// bits (both read with one instruction, no mask constant).
fn swapped(output: u64) -> u64 {
    (output & 0xFFFF_FFFF) << 32 | output >> LEN_SHIFT
}

/// The entry of a BMP character written as it is: its own bytes (0, undecided, for a
/// surrogate, which valid text never holds).
fn own(c: u32) -> u64 {
    if (0xD800..0xE000).contains(&c) {
        0
    } else {
        swapped(output(c))
    }
}

/// The output word of the character `c`: its UTF-8 bytes in bits 0..32, their number from
/// [`LEN_SHIFT`].
pub(crate) fn output(c: u32) -> u64 {
    let (utf8, len) = if c < 0x80 {
        (c, 1)
    } else if c < 0x800 {
        (0xC0 | c >> 6 | (0x80 | c & 0x3F) << 8, 2)
    } else if c < 0x1_0000 {
        (
            0xE0 | c >> 12 | (0x80 | c >> 6 & 0x3F) << 8 | (0x80 | c & 0x3F) << 16,
            3,
        )
    } else {
        (
            0xF0 | c >> 18
                | (0x80 | c >> 12 & 0x3F) << 8
                | (0x80 | c >> 6 & 0x3F) << 16
                | (0x80 | c & 0x3F) << 24,
            4,
        )
    };
    u64::from(utf8) | len << LEN_SHIFT
}

/// What a table loop writes for a character decided alone, by its entry: the entry's output,
/// or (output length 0) the character's own `len` bytes, which start `w`.
#[inline(always)]
pub(crate) fn written(entry: u64, w: u32, len: usize) -> (u32, usize) {
    match (entry >> LEN_SHIFT & 7) as usize {
        0 => (w, len),
        n => (entry as u32, n),
    }
}

/// Whether a table loop is worth entering at `i`: the eight bytes from there are all beyond
/// ASCII (the loops stop at ASCII, and entering one costs about as much as a few characters
/// of the position-by-position scans).
#[inline(always)]
pub(crate) fn worth_entering(bytes: &[u8], i: usize) -> bool {
    bytes.get(i..i + 8).is_some_and(|b| {
        u64::from_le_bytes(b.try_into().expect("eight bytes")) & 0x8080_8080_8080_8080
            == 0x8080_8080_8080_8080
    })
}

/// Brings `items` into the cache: a prefetch per cache line, all issued at once. Before the
/// table loops go through a text of some length, the lines of their tables are brought in
/// this way: a loop that finds them missing from the cache (after other work, or after the
/// text streaming through evicted them) waits for each on its own, one character's lookup
/// after the other.
pub(crate) fn touch<T>(items: &[T]) {
    #[cfg(target_arch = "x86_64")]
    for k in (0..std::mem::size_of_val(items)).step_by(64) {
        // SAFETY: `k` is within `items`; a prefetch reads nothing and never faults.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                items.as_ptr().cast::<i8>().add(k),
            );
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = items;
}

impl Pairs {
    /// Brings the learned pairs into the cache (see [`touch`]).
    pub(crate) fn touch(&self) {
        touch(&self.buckets);
    }
}

impl Dense {
    /// Brings what the table loop reads for most text into the cache (see [`touch`]): the
    /// entries of the CJK Unified Ideographs, the trie's pair filter `pairs`, and the pairs
    /// this thread has learned.
    pub(crate) fn warm(&self, pairs: crate::trie::PairFilter<'_>) {
        touch(&self.entries[0x4E00..0xA000]);
        pairs.touch();
        with_memo(self.id, |memo| memo.touch());
    }
}

/// Bytes of a text sampled by [`start_share`].
const SAMPLE: usize = 1024;

/// What the first [`SAMPLE`] bytes of a text say about a trie's keys there (see
/// [`start_share`]): of the characters beyond ASCII, how many start a key, how many of those
/// the table loop leaves to the general scan, and how many there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Share {
    pub(crate) at_start: usize,
    pub(crate) undecided: usize,
    pub(crate) wide: usize,
}

/// The [`Share`] of `text` for the trie `v`, by its start bitmap (`None` without one).
/// Decides [`pays`] and [`sparse`].
pub(crate) fn start_share(v: &TrieView<'_>, text: &str) -> Option<Share> {
    let starts = v.starts?;
    let mut share = Share {
        at_start: 0,
        undecided: 0,
        wide: 0,
    };
    for c in sample(text) {
        share.wide += 1;
        if listed(starts, c) {
            share.at_start += 1;
            // As `Dense::new` makes the character's entry: 0 where the table does not decide.
            share.undecided += usize::from(entry(c, v.root_entry(c).1) == 0);
        }
    }
    Some(share)
}

/// Whether the table scan pays for a text whose [`start_share`] is `share`: always where keys
/// start with too many characters for a start bitmap; with one, where keys start at a quarter
/// or more of the characters beyond ASCII in the text's first [`SAMPLE`] bytes, or where the
/// table decides nearly all of them (fewer than one in 32 is left to the general scan, which
/// the loop leaves and enters again for). Measured on the Hong Kong text, where keys start at
/// fewer than a quarter of the characters, against the general scan: hk2t (keys at 9% of the
/// characters) 0.82–0.85 of the CPU time, jp2t 0.84–0.85, t2hk 0.94–0.95, tw2t 0.90–0.94,
/// t2jp 0.72–0.74 (once the table decided keys of priority class 0 too).
pub(crate) fn pays(share: Option<Share>) -> bool {
    share.is_none_or(|s| s.wide > 0 && (4 * s.at_start >= s.wide || 32 * s.undecided < s.wide))
}

/// Whether keys start at fewer than a sixteenth of the characters beyond ASCII in the first
/// [`SAMPLE`] bytes of a text whose [`start_share`] is `share` (no bitmap: false). There the
/// general scan finds the characters that may start a key a block of bytes at a time (see
/// `convert::skip_to_start`; t2tw on Traditional text, keys at 0.3% of the characters: CPU
/// time 0.75 of the step-by-step skip, then 0.75 of that with fingerprints, and half of the
/// table loop's); where they start more often, the blocks are cut short and the step-by-step
/// skip wins (with a tenth as the bound, t2hk's pieces, keys at 11%, took 1.03–1.09 and
/// jp2t's 1.06–1.13; with an eighth or a fifth and the fingerprints, t2hk 1.05, jp2t
/// 1.11–1.14).
pub(crate) fn sparse(share: Option<Share>) -> bool {
    share.is_some_and(|s| 16 * s.at_start < s.wide)
}

/// Whether a quarter or more of the first [`SAMPLE`] bytes of `text` are beyond ASCII: text
/// whose table lookups are worth bringing the tables into the cache for (see [`touch`]; for
/// mostly-ASCII text, which the loops skip a block at a time, they cost s2t 3-6%).
pub(crate) fn mostly_wide(text: &str) -> bool {
    let bytes = &text.as_bytes()[..SAMPLE.min(text.len())];
    4 * bytes.iter().filter(|&&b| b >= 0x80).count() >= bytes.len()
}

/// The characters beyond ASCII in the first [`SAMPLE`] bytes of `text`.
fn sample(text: &str) -> impl Iterator<Item = u32> + '_ {
    let mut end = SAMPLE.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].chars().map(u32::from).filter(|&c| c >= 0x80)
}

/// What the table of a trie does with the characters beyond ASCII in the first [`SAMPLE`]
/// bytes of a text (see [`activity`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Activity {
    /// The characters beyond ASCII.
    wide: usize,
    /// Those that start keys of two or more characters.
    longer: usize,
    /// Those at which the table loop does something other than write the character's own
    /// bytes, or three other bytes for a character of three: a character that changes into
    /// another length (or that the table leaves to the general scan), or one whose pair with
    /// the next character the pair filter lets through.
    acting: usize,
    /// Those of three bytes that change into three other bytes (and ask for no pair).
    changing: usize,
    /// Whether no ASCII character acts (see [`Dense::ascii_plain`]).
    ascii_plain: bool,
}

impl Activity {
    /// Whether keys of two or more characters start at a quarter or more of the characters
    /// (ST's at 78% of those of Classical Chinese, tw2t's at 35% of those of Cantonese, TS's
    /// at 10%). Where they do, the table loop asks the pair filter at every character, and
    /// one branch follows both answers; where they do not, it asks only at the characters
    /// that start keys, and a branch that mostly goes one way skips the others. (tw2t: CPU
    /// time 0.88–0.95 of asking only at the characters that start keys.)
    pub(crate) fn busy(self) -> bool {
        self.wide > 0 && 4 * self.longer >= self.wide
    }

    /// Whether the table acts at fewer than one in [`QUIET`] of the characters, changes
    /// fewer than an eighth into three other bytes, and acts at no ASCII character: there the
    /// loop skips the others a block at a time (see [`skip`], which writes those changes
    /// itself: t2jp, 9% of the characters of the Hong Kong text, 0.77 of the loop's time; t2s,
    /// 25%, 1.14 of it where the bound was a quarter).
    pub(crate) fn quiet(self) -> bool {
        self.ascii_plain
            && self.wide > 0
            && QUIET * self.acting < self.wide
            && 8 * self.changing < self.wide
    }
}

/// See [`Activity`]: one pass over the sample.
pub(crate) fn activity(dense: &Dense, pairs: crate::trie::PairFilter<'_>, text: &str) -> Activity {
    sampled(dense, pairs, None, text).1
}

/// The [`start_share`] of `text` for the trie `v` and its [`activity`] under `dense`, the
/// trie's table, from one pass over the sample: a character starts a key where the start
/// bitmap says so, and the table leaves it to the general scan where its entry's length is 0
/// (as [`Dense::new`] makes it). (Two passes, the first looking up the trie's root, took 11%
/// of t2hk's time on the Hong Kong text, a sample of 1 KB per piece of 64 KB: each a cache
/// miss or two per character.)
pub(crate) fn share_and_activity(
    v: &TrieView<'_>,
    dense: &Dense,
    text: &str,
) -> (Option<Share>, Activity) {
    sampled(dense, v.pair_filter(), v.starts, text)
}

/// See [`share_and_activity`]: the share only with `starts`.
#[inline(always)]
fn sampled(
    dense: &Dense,
    pairs: crate::trie::PairFilter<'_>,
    starts: Option<&[u64; 1024]>,
    text: &str,
) -> (Option<Share>, Activity) {
    let mut share = Share {
        at_start: 0,
        undecided: 0,
        wide: 0,
    };
    let mut a = Activity {
        wide: 0,
        longer: 0,
        acting: 0,
        changing: 0,
        ascii_plain: dense.ascii_plain,
    };
    let mut chars = sample(text).peekable();
    while let Some(c) = chars.next() {
        let e = dense.entries[c as usize];
        let d = chars.peek().copied().unwrap_or(0);
        let longer = node_of(e) != 0;
        if starts.is_some_and(|starts| listed(starts, c)) {
            share.at_start += 1;
            share.undecided += usize::from(len_of(e) == 0);
        }
        a.wide += 1;
        a.longer += usize::from(longer);
        if longer && pairs.may(c, d) {
            a.acting += 1;
        } else if e & !NODE_MASK != own(c) {
            let three = (0x800..0x1_0000).contains(&c) && len_of(e) == 3;
            a.changing += usize::from(three);
            a.acting += usize::from(!three);
        }
    }
    share.wide = a.wide;
    (starts.map(|_| share), a)
}

/// See [`Activity::quiet`].
const QUIET: usize = 32;

/// The bits of a [`Dense`] entry that hold its node.
const NODE_MASK: u64 = ((1 << NODE_BITS) - 1) << NODE_SHIFT;

/// From `i`, a character boundary of `bytes` before `stop`: the first character at which the
/// table loop of `dense` (with the pair filter `pairs`) may do anything but write the
/// character's own bytes, or three other bytes for a character of three (which the skip
/// writes itself: t2jp's changes), or the first character boundary at or after `stop`, or,
/// near the end of `bytes` (within 72 bytes), an earlier boundary. The output of the
/// characters before it is written to `dst`, which is advanced past it (up to 64 bytes after
/// it are overwritten).
///
/// Looked at a block of 64 bytes at a time: first the character of three bytes at each lead
/// byte in [`Dense::acts`] (a hash of its bytes, one load), without a branch; then, for those
/// it lets through, the entry and the pair filter with the next character. A character of two
/// bytes is looked at by its entry, one of four by [`Dense::astral`]; ASCII is not looked at
/// (`dense.ascii_plain` must hold).
///
/// With a [`Sieve`] (AVX-512 with VBMI), the characters of three bytes that may act are found
/// by its bitmaps, 64 bytes at once: those that may change, and those that may start a longer
/// key where the next character may be a second character of one; only those are looked at
/// further. `sifted` keeps the block where a call stopped, for the next (see [`Sifted`]).
///
/// # Safety
///
/// `i < stop <= bytes.len()`, `i` is a character boundary of valid UTF-8, `dst` has room for
/// 64 bytes more than the bytes from `i` to `stop`, and `sifted` is the last call's over the
/// same `bytes`, or fresh.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn skip(
    dense: &Dense,
    sieve: Option<&Sieve>,
    pairs: crate::trie::PairFilter<'_>,
    bytes: &[u8],
    i: usize,
    stop: usize,
    dst: &mut *mut u8,
    sifted: &mut Sifted,
) -> usize {
    #[cfg(target_arch = "x86_64")]
    if let Some(sieve) = sieve {
        // SAFETY: a sieve is only used where the processor has what `skip_sieved` is
        // compiled for (see `sieved`).
        let args = (dense, sieve, pairs, bytes, i, stop, dst, sifted);
        // (Each bitmap only stops characters that do not act: the tests use them all too.)
        #[cfg(test)]
        let every = tests::SIEVE.get() == tests::Sieve::Every;
        #[cfg(not(test))]
        let every = false;
        let seconds = if every { Seconds::Both } else { sieve.seconds };
        const SET: u8 = Seconds::Set as u8;
        const PAIRS: u8 = Seconds::Pairs as u8;
        const BOTH: u8 = Seconds::Both as u8;
        return match (sieve.precise || every, seconds) {
            (false, Seconds::Set) => skip_sieved::<false, SET>(args),
            (false, Seconds::Pairs) => skip_sieved::<false, PAIRS>(args),
            (false, Seconds::Both) => skip_sieved::<false, BOTH>(args),
            (true, Seconds::Set) => skip_sieved::<true, SET>(args),
            (true, Seconds::Pairs) => skip_sieved::<true, PAIRS>(args),
            (true, Seconds::Both) => skip_sieved::<true, BOTH>(args),
        };
    }
    let _ = (sieve, sifted);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("bmi2") {
        // SAFETY: the processor has what `skip_avx2` is compiled for.
        return skip_avx2(dense, pairs, bytes, i, stop, dst);
    }
    skip_blocks(dense, pairs, bytes, i, stop, dst)
}

/// [`skip_blocks`] compiled for AVX2 and BMI2.
///
/// # Safety
///
/// As [`skip`], and the processor must have AVX2 and BMI2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,bmi1,bmi2")]
unsafe fn skip_avx2(
    dense: &Dense,
    pairs: crate::trie::PairFilter<'_>,
    bytes: &[u8],
    i: usize,
    stop: usize,
    dst: &mut *mut u8,
) -> usize {
    skip_blocks(dense, pairs, bytes, i, stop, dst)
}

/// See [`skip`].
#[inline(always)]
unsafe fn skip_blocks(
    dense: &Dense,
    pairs: crate::trie::PairFilter<'_>,
    bytes: &[u8],
    i: usize,
    stop: usize,
    dst: &mut *mut u8,
) -> usize {
    let read = |k: usize| u64::from_le(bytes.as_ptr().add(k).cast::<u64>().read_unaligned());
    let mut b = i;
    while b < stop && b + 64 + 8 <= bytes.len() {
        let block = bytes.as_ptr().add(b);
        // The block is copied whatever it holds: the output's end is set after it.
        dst.add(b - i).copy_from_nonoverlapping(block, 64);
        let (lead3, other, cont) = classes(block);
        // First every character of three bytes, independently of each other.
        let mut hits = 0u64;
        let mut left = lead3;
        while left != 0 {
            let k = left.trailing_zeros();
            left &= left - 1;
            let at = act_hash(read(b + k as usize) as u32);
            hits |= (dense.acts.get_unchecked(at / 64) >> (at % 64) & 1) << k;
        }
        let acting = first_acting(dense, pairs, bytes, b, hits | other, *dst, i);
        if let Some(to) = stop_in(b, stop, acting, cont) {
            *dst = dst.add(to - i);
            return to;
        }
        b += 64;
    }
    skip_tail(bytes, i, b, dst)
}

/// Where [`skip`] stops in the block at `b` (with continuation bytes `cont`), if it does: at
/// the character that acts (`acting`, its bit; 0 for none) or the first character boundary at
/// or after `stop`, whichever comes first.
#[inline(always)]
fn stop_in(b: usize, stop: usize, acting: u64, cont: u64) -> Option<usize> {
    let beyond = match stop - b {
        n if n < 64 => !cont & !0 << n,
        _ => 0,
    };
    let at = acting | beyond;
    (at != 0).then(|| b + at.trailing_zeros() as usize)
}

/// The end of [`skip`] where its blocks stop (at `b`, from `i`) without a character that
/// acts: the next character boundary, after copying the rest of the character at `b` if
/// it started before.
///
/// # Safety
///
/// As [`skip`], with the bytes from `i` to `b` copied to `dst`.
#[inline(always)]
unsafe fn skip_tail(bytes: &[u8], i: usize, mut b: usize, dst: &mut *mut u8) -> usize {
    let copied = b;
    while b < bytes.len() && bytes[b] & 0xC0 == 0x80 {
        b += 1;
    }
    dst.add(copied - i)
        .copy_from_nonoverlapping(bytes.as_ptr().add(copied), b - copied);
    *dst = dst.add(b - i);
    b
}

/// What the table loop does at the character of three bytes `c` at `bytes[at]`, which starts
/// the word `w` (see [`decode_at`]): whether it acts itself, and otherwise the word it writes.
/// It acts where it asks for a pair (the character starts a longer key and the pair filter
/// lets its pair with the next character through, decoded as the loop decodes it), writes
/// something of another length or leaves the character to the general scan; else it writes
/// three bytes, the character's own or others, here with the text's next byte after them (to
/// write the word whole over a copy of the text). Without a branch on the entry: which of
/// those it is, is as hard to predict as the text (jp2t on Traditional text: of the
/// characters the sieve passes, 40% change, 1.4% ask for a pair).
///
/// # Safety
///
/// 4 bytes are readable from the next character (7 from `at`).
#[inline(always)]
unsafe fn at_three(
    dense: &Dense,
    pairs: crate::trie::PairFilter<'_>,
    bytes: &[u8],
    at: usize,
    w: u32,
    c: u32,
) -> (bool, u32) {
    let e = *dense.entries.get_unchecked(c as usize);
    let pair = dense.longer && {
        let next = decode_at(bytes, bytes.as_ptr().add(at + 3)).1;
        (node_of(e) != 0) & (pairs.miss(c, next) == 0)
    };
    (pair | (len_of(e) != 3), (e >> 32) as u32 | w & 0xFF00_0000)
}

/// Of the characters at `mask`'s bits in the block at `b` (each a lead byte beyond ASCII),
/// the first at which the table loop has to act itself, as a bit (0 for none). A character
/// that only changes into three other bytes, within the block, is written over its copy in
/// the output on the way (at `out`, where the output of `bytes[i]` goes). A character of two
/// bytes acts where its entry is not its own bytes alone, one of four where it may start a
/// key (see [`Dense::astral`]; the loop leaves those to the general scan).
///
/// # Safety
///
/// 8 bytes are readable from each character; the block from `i` is copied to `out`, with
/// room for 4 bytes from each character's place.
#[inline(always)]
unsafe fn first_acting(
    dense: &Dense,
    pairs: crate::trie::PairFilter<'_>,
    bytes: &[u8],
    b: usize,
    mut mask: u64,
    out: *mut u8,
    i: usize,
) -> u64 {
    while mask != 0 {
        let k = mask.trailing_zeros();
        mask &= mask - 1;
        let at = b + k as usize;
        let (w, c, len) = decode_at(bytes, bytes.as_ptr().add(at));
        let acts = match len {
            3 => {
                // The word is written whatever it is: where the loop acts, it writes the
                // character's output over it.
                let (acts, word) = at_three(dense, pairs, bytes, at, w, c);
                out.add(at - i).cast::<u32>().write_unaligned(word.to_le());
                // (A character that changes and goes on into the next block is left to the
                // loop: the next block's copy would write over it.)
                acts | (k >= 62) & ((word ^ w) & 0xFF_FFFF != 0)
            }
            2 => *dense.entries.get_unchecked(c as usize) != own(c),
            _ => {
                let h = astral_hash(c);
                dense.astral[h / 64] >> (h % 64) & 1 != 0
            }
        };
        if acts {
            return 1 << k;
        }
    }
    0
}

/// A block of 64 bytes the sieve looked at (see [`skip`]): where it starts (`usize::MAX`
/// for none yet), its characters that may act, its continuation bytes. The next call that
/// starts within it goes on from there without looking at the block again (where the table
/// acts at many characters, as t2jp's does at 9% of those of Traditional text, the loop
/// comes back to the skip a few times a block).
#[derive(Clone, Copy)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) struct Sifted {
    at: usize,
    may: u64,
    cont: u64,
}

impl Default for Sifted {
    fn default() -> Sifted {
        Sifted {
            at: usize::MAX,
            may: 0,
            cont: 0,
        }
    }
}

/// [`skip`] with the sieve.
///
/// # Safety
///
/// As [`skip`], and the processor must have AVX-512 (F, BW, VBMI) and BMI2; `sifted` is the
/// last call's, over the same `bytes`, or fresh.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi,bmi1,bmi2")]
unsafe fn skip_sieved<const PRECISE: bool, const SECONDS: u8>(
    (dense, sieve, pairs, bytes, i, stop, dst, sifted): (
        &Dense,
        &Sieve,
        crate::trie::PairFilter<'_>,
        &[u8],
        usize,
        usize,
        &mut *mut u8,
        &mut Sifted,
    ),
) -> usize {
    use std::arch::x86_64::*;
    let load = |p: *const u8| _mm512_loadu_si512(p.cast());
    let splat = |b: u8| _mm512_set1_epi8(b as i8);
    // Per set, the first bitmap in two vectors and the second in eight.
    let tables: [[__m512i; 10]; 3] = std::array::from_fn(|set| {
        std::array::from_fn(|n| match n {
            0 | 1 => load(sieve.first[set].as_ptr().add(64 * n)),
            _ => load(sieve.second[set].as_ptr().add(64 * (n - 2))),
        })
    });
    // Bit `y & 7` of a byte, by a byte permutation of `1 << n`.
    let bit_of = |y: __m512i| {
        _mm512_permutexvar_epi8(
            _mm512_and_si512(y, splat(7)),
            _mm512_set1_epi64(0x8040_2010_0804_0201_u64 as i64),
        )
    };
    // The byte index (low seven bits) of `x << 6 | y` in a bitmap: `(x & 15) << 3 | y >> 3`
    // for `y` below 64.
    let index = |x: __m512i, y: __m512i| {
        _mm512_or_si512(
            _mm512_and_si512(_mm512_slli_epi16::<3>(x), splat(0x78)),
            _mm512_and_si512(_mm512_srli_epi16::<3>(y), splat(0x07)),
        )
    };
    // The positions whose bit `x << 6 | y` (of the low six bits of `x` and `y` there) is set
    // in the bitmap of 4,096 bits in `map`.
    let wide = |map: &[__m512i], x: __m512i, y: __m512i| {
        let at = index(x, y);
        let quarter = |n: usize| _mm512_permutex2var_epi8(map[2 * n], at, map[2 * n + 1]);
        let (q4, q5) = (
            _mm512_test_epi8_mask(x, splat(0x10)),
            _mm512_test_epi8_mask(x, splat(0x20)),
        );
        let bits = _mm512_mask_blend_epi8(
            q5,
            _mm512_mask_blend_epi8(q4, quarter(0), quarter(1)),
            _mm512_mask_blend_epi8(q4, quarter(2), quarter(3)),
        );
        _mm512_test_epi8_mask(bits, bit_of(y))
    };
    // Of the characters of three bytes whose bytes are `b0`, `b1`, `b2` (one at each of 64
    // positions), those in the set `set`.
    let member = |set: &[__m512i; 10], b0: __m512i, b1: __m512i, b2: __m512i| {
        let first = _mm512_permutex2var_epi8(set[0], index(b0, b1), set[1]);
        _mm512_test_epi8_mask(first, bit_of(b1)) & wide(&set[2..], b1, b2)
    };
    let third: [__m512i; 8] = std::array::from_fn(|n| load(sieve.third.as_ptr().add(64 * n)));
    let pair_map: [__m512i; 8] = std::array::from_fn(|n| load(sieve.pairs.as_ptr().add(64 * n)));
    // Of those characters, those in the set CHANGES: where it is large, by the second bitmap
    // and the third (see `Sieve::third`).
    let changes = |b0: __m512i, b1: __m512i, b2: __m512i| match PRECISE {
        false => member(&tables[SIEVE_CHANGES], b0, b1, b2),
        true => {
            let x = _mm512_ternarylogic_epi32::<0x78>(b1, b0, splat(0x0F));
            let y = _mm512_ternarylogic_epi32::<0x78>(b2, _mm512_slli_epi16::<2>(b0), splat(0x3C));
            wide(&tables[SIEVE_CHANGES][2..], b1, b2) & wide(&third, x, y)
        }
    };
    let lead3 = |v: __m512i| _mm512_cmpeq_epi8_mask(_mm512_and_si512(v, splat(0xF0)), splat(0xE0));
    // As signed bytes, lead bytes beyond ASCII are -64..=-1, continuation bytes -128..=-65.
    let lead = |v: __m512i| _mm512_cmpgt_epi8_mask(v, splat(0xBF)) & _mm512_movepi8_mask(v);
    let ascii_second = if sieve.ascii_second { !0u64 } else { 0 };
    // The characters of the block at `b` that may act, and its continuation bytes; the block
    // is copied whatever it holds (the output's end is set after it).
    let sift = |b: usize, dst: *mut u8| {
        let p = bytes.as_ptr().add(b);
        let v: [__m512i; 3] = std::array::from_fn(|r| load(p.add(r)));
        _mm512_storeu_si512(dst.cast(), v[0]);
        let here = lead3(v[0]);
        let other = lead(v[0]) & !here;
        // Whether the character three bytes on (the next after one of three bytes) may be a
        // key's second after this one: of three bytes, in the set of second characters or
        // where the pair's bit is set or both (see `Seconds`); ASCII where a key's second is;
        // of two or four bytes; in the next block (for the last three bytes: taken as one).
        let set = || here & member(&tables[SIEVE_SECOND], v[0], v[1], v[2]);
        let pair = || {
            let (x, y) = (
                _mm512_xor_si512(v[1], load(p.add(5))),
                _mm512_xor_si512(v[2], load(p.add(4))),
            );
            wide(&pair_map, x, y)
        };
        let three = match SECONDS {
            s if s == Seconds::Set as u8 => set() >> 3,
            s if s == Seconds::Pairs as u8 => here >> 3 & pair(),
            _ => set() >> 3 & pair(),
        };
        let next = three | (!_mm512_movepi8_mask(v[0]) & ascii_second | other) >> 3 | 0b111 << 61;
        let may = here
            & (changes(v[0], v[1], v[2]) | member(&tables[SIEVE_LONGER], v[0], v[1], v[2]) & next)
            | other;
        (may, _mm512_cmplt_epi8_mask(v[0], splat(0xC0)))
    };
    let fits = |b: usize| b < stop && b + 64 + 8 <= bytes.len();
    // From `from` on, in the block at `b`.
    let (mut b, mut from) = (sifted.at, i);
    let (mut may, mut cont) = (sifted.may, sifted.cont);
    if i.checked_sub(b).is_some_and(|n| n < 64) {
        // The block the last call stopped in: its rest is copied again, at this call's place.
        let rest = match b + 64 - i {
            64 => !0,
            n => (1u64 << n) - 1,
        };
        let x = _mm512_maskz_loadu_epi8(rest, bytes.as_ptr().add(i).cast());
        _mm512_mask_storeu_epi8(dst.cast(), rest, x);
    } else if fits(i) {
        b = i;
        (may, cont) = sift(b, *dst);
    } else {
        return skip_tail(bytes, i, i, dst);
    }
    loop {
        let acting = first_acting(dense, pairs, bytes, b, may & !0 << (from - b), *dst, i);
        if let Some(to) = stop_in(b, stop, acting, cont) {
            *dst = dst.add(to - i);
            *sifted = Sifted { at: b, may, cont };
            return to;
        }
        b += 64;
        from = b;
        if !fits(b) {
            break;
        }
        (may, cont) = sift(b, dst.add(b - i));
    }
    skip_tail(bytes, i, b, dst)
}

/// Of the 64 bytes from `p`: a bit for each lead byte of a character of three bytes, each
/// lead byte of one of two or four, each continuation byte.
///
/// # Safety
///
/// 64 bytes from `p` are readable.
#[inline(always)]
unsafe fn classes(p: *const u8) -> (u64, u64, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        let (mut lead3, mut lead, mut cont) = (0u64, 0u64, 0u64);
        for n in 0..4 {
            let v = _mm_loadu_si128(p.add(16 * n).cast());
            let bits = |m: __m128i| u64::from(_mm_movemask_epi8(m) as u16) << (16 * n);
            lead3 |= bits(_mm_cmpeq_epi8(
                _mm_and_si128(v, _mm_set1_epi8(0xF0_u8 as i8)),
                _mm_set1_epi8(0xE0_u8 as i8),
            ));
            // As signed bytes, lead bytes beyond ASCII are -64..=-1, continuation bytes
            // -128..=-65.
            lead |= bits(_mm_cmpgt_epi8(v, _mm_set1_epi8(-65))) & bits(v);
            cont |= bits(_mm_cmpgt_epi8(_mm_set1_epi8(-64), v));
        }
        (lead3, lead & !lead3, cont)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let (mut lead3, mut other, mut cont) = (0u64, 0u64, 0u64);
        for k in 0..64 {
            let x = *p.add(k);
            lead3 |= u64::from(x & 0xF0 == 0xE0) << k;
            other |= u64::from(x >= 0xC0 && x & 0xF0 != 0xE0) << k;
            cont |= u64::from(x & 0xC0 == 0x80) << k;
        }
        (lead3, other, cont)
    }
}

/// The four bytes from `i` as a little-endian word, and the character that starts there
/// with its length; the word is 0 for a character beyond the BMP (the table loops stop at it
/// as at four bytes of ASCII, by the word, and need not look at its entry).
///
/// # Safety
/// `i + 4 <= bytes.len()`, and `i` is a character boundary of valid UTF-8.
#[inline(always)]
pub(crate) unsafe fn decode_word(bytes: &[u8], i: usize) -> (u32, u32, usize) {
    debug_assert!(i + 4 <= bytes.len());
    decode_at(bytes, bytes.as_ptr().add(i))
}

/// [`decode_word`] at the byte `p` points to, in `bytes`.
///
/// # Safety
///
/// `p` must point into `bytes`, with 4 bytes of it from there.
#[inline(always)]
pub(crate) unsafe fn decode_at(bytes: &[u8], p: *const u8) -> (u32, u32, usize) {
    let w = u32::from_le(p.cast::<u32>().read_unaligned());
    let b0 = w & 0xFF;
    // Chinese text is mostly characters of three bytes: those first.
    if b0 & 0xF0 == 0xE0 {
        (
            w,
            (b0 & 0x0F) << 12 | (w >> 2 & 0x3F << 6) | (w >> 16 & 0x3F),
            3,
        )
    } else if b0 < 0x80 {
        (w, b0, 1)
    } else if b0 < 0xE0 {
        (w, (b0 & 0x1F) << 6 | (w >> 8 & 0x3F), 2)
    } else {
        let (c, len) = decode(bytes, p.offset_from(bytes.as_ptr()) as usize);
        (0, c, len)
    }
}

/// Bytes of input per stretch of a table loop (see [`Stretch`]).
pub(crate) const STRETCH: usize = 4096;

/// The output of a table loop over a stretch of at most [`STRETCH`] characters: each
/// character's (or pair's) output is stored as eight bytes at the end of the string, in
/// capacity reserved for the stretch, and counted by its length. The string's length is set
/// to the count when the stretch ends (is dropped), so the string only ever holds whole
/// characters.
pub(crate) struct Stretch<'a> {
    vec: &'a mut Vec<u8>,
    /// The string's bytes, and the length it will have (see [`Stretch::push8`]).
    pub(crate) base: *mut u8,
    pub(crate) len: usize,
}

impl<'a> Stretch<'a> {
    /// A stretch appending to `out`.
    #[inline(always)]
    pub(crate) fn new(out: &'a mut String) -> Stretch<'a> {
        // SAFETY: the string's length is only ever set to `len`, the end of the last whole
        // character stored (see `push8`); what lies after it is spare capacity.
        let vec = unsafe { out.as_mut_vec() };
        vec.reserve(4 * STRETCH + 64);
        Stretch {
            base: vec.as_mut_ptr(),
            len: vec.len(),
            vec,
        }
    }
}

impl Stretch<'_> {
    /// Where the next push writes. The loops write through it with [`Stretch::push8`],
    /// keeping one pointer in a register rather than the base and the length (s2twp's loop
    /// kept five of its values on the stack), and hand the end back with
    /// [`Stretch::set_end`].
    #[inline(always)]
    pub(crate) fn end(&self) -> *mut u8 {
        // SAFETY: `len` is within the string's capacity.
        unsafe { self.base.add(self.len) }
    }

    /// The stretch's output ends at `end`, a pointer from [`Stretch::end`] advanced by
    /// [`Stretch::push8`].
    #[inline(always)]
    pub(crate) fn set_end(&mut self, end: *mut u8) {
        debug_assert!(end as usize - self.base as usize <= self.vec.capacity());
        // SAFETY: `end` is `base` advanced within the capacity.
        self.len = unsafe { end.offset_from(self.base) } as usize;
    }

    /// Appends at `end` the `n` bytes (0 to 8) held in `word` (first byte lowest; the bytes
    /// after them are overwritten by the next or left as spare capacity), and advances `end`
    /// by `n`.
    ///
    /// # Safety
    ///
    /// `end` is the stretch's end (see [`Stretch::end`]), advanced by pushes only, and the
    /// bytes stand for at least `n / 4` characters of the stretch, at most two. At most
    /// [`STRETCH`] characters start in a stretch: before the last push, at most
    /// `4 * (STRETCH - 1)` bytes are stored, and its eight bytes end within the
    /// `4 * STRETCH + 64` reserved (64 for the blocks [`skip`] copies whole).
    #[inline(always)]
    pub(crate) unsafe fn push8(end: &mut *mut u8, word: u64, n: usize) {
        end.cast::<u64>().write_unaligned(word.to_le());
        *end = end.add(n);
    }
}

impl Drop for Stretch<'_> {
    fn drop(&mut self) {
        // SAFETY: see `new`.
        unsafe { self.vec.set_len(self.len) };
    }
}

/// Converts the characters of `text` from `i` (where the scan stands fresh) as long as the
/// table decides them, appending to `out`; returns where it stopped: before `end - 8`, at a
/// character the general scan has to take (see the module), or at the first of four ASCII
/// bytes (which the general scan skips as a run). The scan stands fresh there.
pub(crate) fn run(
    v: &TrieView<'_>,
    dense: &Dense,
    text: &str,
    i: usize,
    end: usize,
    out: &mut String,
) -> usize {
    if end < 8 || i >= end - 8 {
        return i;
    }
    debug_assert!(!v.dense_skip || dense.ascii_plain);
    with_memo(dense.id, |memo| match (v.dense_busy, v.dense_skip) {
        (_, true) => run_with::<false, true>(v, dense, memo, text, i, end, out),
        (true, false) => run_with::<true, false>(v, dense, memo, text, i, end, out),
        (false, false) => run_with::<false, false>(v, dense, memo, text, i, end, out),
    })
}

/// [`run`] with the pairs this thread has learned for the table, for a text where keys start
/// at most characters (`BUSY`) or not (see [`Activity::busy`]), and where the loop skips the characters
/// the table does not change a block at a time (`SKIP`, see [`Activity::quiet`]).
fn run_with<const BUSY: bool, const SKIP: bool>(
    v: &TrieView<'_>,
    dense: &Dense,
    memo: &mut Pairs,
    text: &str,
    mut i: usize,
    end: usize,
    out: &mut String,
) -> usize {
    let bytes = &text.as_bytes()[..end];
    let limit = end - 8;
    let pairs = v.pair_filter();
    // The sieve, where the processor has the instructions for it, is made on first use. (It
    // is kept with the trie, not in `Dense`: a cell there would let the compiler assume
    // nothing about the table across the loops' stores, and s2t's loop and events took 5%
    // more instructions.)
    let sieve = match v.sieve {
        Some(cell) if SKIP && sieved() => {
            Some(&**cell.get_or_init(|| Box::new(Sieve::new(v, dense))))
        }
        _ => None,
    };
    let mut sifted = Sifted::default();
    let start = bytes.as_ptr();
    // SAFETY (every use): `p` points into `bytes`.
    let offset = |p: *const u8| unsafe { p.offset_from(start) } as usize;
    'stretches: while i < limit {
        let stop = limit.min(i + STRETCH);
        let mut stretch = Stretch::new(out);
        // The loop goes by pointers into the text and the output (see `compose::Loop::scan`).
        // SAFETY: `i < stop <= limit < bytes.len()`.
        let (stop_p, mut p) = unsafe { (start.add(stop), start.add(i)) };
        let mut dst = stretch.end();
        // SAFETY (every `decode_at` below): `p` is before `limit` and `next <= p + 4`, so 4
        // bytes from `next` are in `bytes`.
        let (mut w, mut c, mut len) = unsafe { decode_at(bytes, p) };
        loop {
            if SKIP {
                // SAFETY: `p` is a character boundary before `stop`; the characters skipped
                // start before `stop` (but the last one may end after it), and their output is
                // their own bytes: at most four a character, within the stretch's room, with
                // the 64 bytes after them (see `Stretch::push8`).
                let to = unsafe {
                    skip(
                        dense,
                        sieve,
                        pairs,
                        bytes,
                        offset(p),
                        stop,
                        &mut dst,
                        &mut sifted,
                    )
                };
                if to != offset(p) {
                    // SAFETY: `to` is in `bytes`.
                    p = unsafe { start.add(to) };
                    if to >= stop {
                        i = to;
                        stretch.set_end(dst);
                        break;
                    }
                    // SAFETY: as below.
                    (w, c, len) = unsafe { decode_at(bytes, p) };
                }
            }
            // SAFETY: `entries` has an entry for every code point.
            let e = unsafe { *dense.entries.get_unchecked(c as usize) };
            let next = unsafe { p.add(len) };
            let (dw, d, d_len) = unsafe { decode_at(bytes, next) };
            if (len_of(e) == 0) | (w & 0x8080_8080 == 0) {
                i = offset(p);
                stretch.set_end(dst);
                break 'stretches;
            }
            // Only pairs that start a key of two or more characters are in the filter: a
            // character with no such key passes only by a false positive. (Where keys start
            // at most characters, the filter alone: whether a key starts with the character
            // follows the text as little as the filter's answer does, and the false positives
            // cost less than the test; `event_at` takes them.)
            let node = node_of(e);
            let event = if BUSY {
                pairs.miss(c, d) == 0
            } else {
                node != 0 && pairs.may(c, d)
            };
            if event {
                // Out of the loop, from `i` alone: no value of the loop lives across it.
                let at = At {
                    i: offset(p),
                    c,
                    len: len as u32,
                    d,
                    d_len: d_len as u32,
                };
                stretch.set_end(dst);
                let (to, written) = event_at(v, dense, memo, bytes, &at, stretch.base, stretch.len);
                match to {
                    Some(to) => {
                        stretch.len = written;
                        dst = stretch.end();
                        i = to;
                        if i >= stop {
                            break;
                        }
                        // SAFETY: as above.
                        p = unsafe { start.add(i) };
                        (w, c, len) = unsafe { decode_at(bytes, p) };
                        continue;
                    }
                    None => {
                        drop(stretch);
                        i = walk(v, dense, memo, bytes, &at, out);
                        continue 'stretches;
                    }
                }
            }
            // SAFETY: see `Stretch::push8`.
            unsafe { Stretch::push8(&mut dst, e >> 32, len_of(e)) };
            p = next;
            if p >= stop_p {
                i = offset(p);
                stretch.set_end(dst);
                break;
            }
            (w, c, len) = (dw, d, d_len);
        }
    }
    i
}

/// Where a table loop's event is: the offset of a character, the character and the next one
/// with their lengths. (Handed to the events, which are out of the loops, in memory: the loops
/// keep none of it across the call.)
#[derive(Clone, Copy)]
pub(crate) struct At {
    pub(crate) i: usize,
    pub(crate) c: u32,
    pub(crate) len: u32,
    pub(crate) d: u32,
    pub(crate) d_len: u32,
}

/// The event at `at` of the table loop (the pair filter lets the character there and the next
/// through): the pair's learned outcome, written; returns where the loop goes on, or `None`
/// where the trie has to be walked (see [`pair`]).
#[inline(never)]
fn event_at(
    v: &TrieView<'_>,
    dense: &Dense,
    memo: &mut Pairs,
    bytes: &[u8],
    at: &At,
    base: *mut u8,
    written: usize,
) -> (Option<usize>, usize) {
    let At {
        i,
        c,
        len,
        d,
        d_len,
    } = *at;
    let e = dense.entries[c as usize];
    let node = node_of(e);
    let next = i + len as usize;
    let d_end = next + d_len as usize;
    // (Where keys start at most characters, the loop asks the filter alone: a character that
    // starts no longer key gets here by a false positive, and stands.)
    let o = match node {
        0 => Outcome::default(),
        _ => match pair(memo, bytes, c, d, d_end, || Pairs::walked(v, c, node, d)) {
            Some(o) => o,
            None => return (None, written),
        },
    };
    // SAFETY: see `Stretch::push8`.
    unsafe {
        base.add(written)
            .cast::<u64>()
            .write_unaligned(select_unpredictable(o.both, o.out, e >> 32).to_le())
    };
    (
        Some(select_unpredictable(o.both, d_end, next)),
        written + select_unpredictable(o.both, o.len, len_of(e)),
    )
}

/// What the walk finds over a pair that no key continues at the character after it.
#[derive(Default)]
pub(crate) struct Outcome {
    /// Whether the pair is a key that wins over the first character alone.
    pub(crate) both: bool,
    /// With `both`: the key's value (UTF-8, first byte lowest) and its length in bytes.
    pub(crate) out: u64,
    pub(crate) len: usize,
}

/// The outcome of the pair of `c` and `d`, which ends at `d_end`, as `memo` knows it or learns
/// it from `walked`; `None` where the trie has to be walked: a key may continue after the
/// pair (or the pair ends within four bytes of the end of `bytes`), or its value is longer
/// than eight bytes, or `d` is beyond the BMP. Called from the loops' events, which are out of
/// the loops (to keep the loops' own values in registers): the filters let few pairs through.
#[inline(always)]
pub(crate) fn pair(
    memo: &mut Pairs,
    bytes: &[u8],
    c: u32,
    d: u32,
    d_end: usize,
    walked: impl FnOnce() -> PairSlot,
) -> Option<Outcome> {
    let end = bytes.len();
    let mut slot = if d <= 0xFFFF {
        memo.get(c, d)
    } else {
        PairSlot::walk(c, d)
    };
    if slot.meta() & PAIR_KNOWN == 0 {
        slot = memo.learn(walked());
    }
    // The character after the pair, where keys continue after it (clamped into the text, to
    // be read without a branch: the walk takes the pairs near the end).
    // SAFETY: `end - 4` is in the text (the loop stops 8 bytes before the end); the bytes
    // from there are read as a word.
    let third = unsafe { decode_word(bytes, d_end.min(end - 4)) }.1;
    let meta = slot.meta();
    let continues = select_unpredictable(
        meta & PAIR_MANY != 0,
        slot.next >> (third_bit(third) & 31) & 1 != 0,
        slot.next == third,
    );
    let walk_on =
        (meta & PAIR_WALK != 0) | (meta & PAIR_LONGER != 0) & ((d_end + 4 > end) | continues);
    (!walk_on).then_some(Outcome {
        both: meta & PAIR_BOTH != 0,
        out: slot.out(),
        len: (meta & 0xF) as usize,
    })
}

/// The walk from the pair at `at` (whose first character's node `dense` holds) in `bytes`, a
/// text's bytes up to a character boundary: appends the best key's value, or the character
/// itself where no key is found; returns where the scan goes on.
#[inline(never)]
fn walk(
    v: &TrieView<'_>,
    dense: &Dense,
    memo: &mut Pairs,
    bytes: &[u8],
    at: &At,
    out: &mut String,
) -> usize {
    let next = at.i + at.len as usize;
    let node = node_of(dense.entries[at.c as usize]);
    if !v.skip_vs {
        let learned = learned_walk(memo, bytes, at, |chars| {
            let (slot, best, taken) = WalkSlot::walked(v, node, chars);
            match best {
                // No key: the first character stays (it was decoded from the text).
                0 => {
                    let own = char::from_u32(chars[0]).unwrap_or('\u{FFFD}');
                    slot.with_output(1, Some(own.encode_utf8(&mut [0; 4])))
                }
                _ => v
                    .resolve(best)
                    .with_str(|s| slot.with_output(taken, Some(s))),
            }
        });
        if let Some((slot, end)) = learned {
            out.push_str(slot.output());
            return end;
        }
    }
    // The walk starts from the character's own value: it finds the key of one character
    // too, and no key means the character stays.
    match v.walk_with(node, bytes, next, at.d, next + at.d_len as usize) {
        Some((key_end, val)) => {
            v.resolve(val).push_to(out);
            key_end
        }
        None => {
            // SAFETY: `at.i..next` is a character of `bytes`, valid UTF-8.
            out.push_str(unsafe { std::str::from_utf8_unchecked(&bytes[at.i..next]) });
            next
        }
    }
}

/// The walk from the pair at `at` where the walks `memo` has learned decide it: the slot
/// (learned from `walked`, given the characters walked over) and where its output ends in
/// the text. `None` where the trie has to be walked: a key continues after four characters,
/// or the slot says so (see [`WalkSlot::with_output`]), or a character is beyond the BMP, or
/// the text ends within four bytes of the character after those walked over.
#[inline(always)]
pub(crate) fn learned_walk(
    memo: &mut Pairs,
    bytes: &[u8],
    at: &At,
    walked: impl Fn(&[u32]) -> WalkSlot,
) -> Option<(WalkSlot, usize)> {
    let next = at.i + at.len as usize;
    let mut ends = [next, next + at.d_len as usize, 0, 0];
    let mut chars = [at.c, at.d, 0, 0];
    // A first character 0 (a NUL, which a dictionary may start a key with) would give three
    // characters the key of four, or the other way round (see `walk_key`).
    if (at.c | at.d) > 0xFFFF || at.c == 0 {
        return None;
    }
    for k in 2..4 {
        let pos = ends[k - 1];
        if pos + 8 > bytes.len() {
            return None;
        }
        // SAFETY: `pos + 8 <= bytes.len()`, and `pos` ends a character of the text, as does
        // `ends[k]`, at most four bytes later.
        let (_, c, len) = unsafe { decode_word(bytes, pos) };
        (chars[k], ends[k]) = (c, pos + len);
        let after = unsafe { decode_word(bytes, ends[k]) }.1;
        if c > 0xFFFF {
            return None;
        }
        let chars = &chars[..=k];
        let slot = memo.walks.get_or_learn(walk_key(chars), || walked(chars));
        let meta = slot.meta;
        if meta & WALK_WALK != 0 {
            return None;
        }
        let continues = match meta & WALK_MANY {
            0 => meta & WALK_LONGER != 0 && slot.next == after,
            _ => slot.nexts >> third_bit(after) & 1 != 0,
        };
        if !continues {
            let taken = (meta >> TAKEN_SHIFT & 3) as usize;
            debug_assert!(
                taken <= k,
                "a slot of {} characters for {}",
                taken + 1,
                k + 1
            );
            return Some((slot, ends[taken]));
        }
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    /// How [`super::skip`] sieves in a thread of the tests (to test every way on a processor
    /// that has the sieve).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Sieve {
        /// With the bitmaps the sieve chose for its table.
        Chosen,
        /// With all of its bitmaps (see [`super::Sieve::third`], [`super::Sieve::pairs`]).
        Every,
        /// Without the sieve.
        None,
    }

    std::thread_local! {
        pub(super) static SIEVE: std::cell::Cell<Sieve> = const { std::cell::Cell::new(Sieve::Chosen) };
    }

    /// Runs `f` with the skip's sieve as it chose its bitmaps, with all of them, and without
    /// the sieve.
    pub(crate) fn with_and_without_sieve(mut f: impl FnMut()) {
        for sieve in [Sieve::Chosen, Sieve::Every, Sieve::None] {
            SIEVE.set(sieve);
            f();
        }
        SIEVE.set(Sieve::Chosen);
    }

    use crate::config::builtin_engine;
    use crate::convert::{convert_trie_segments, Matcher};
    use crate::Config;

    /// Calls `f` with the trie of the first conversion step of `config`.
    fn with_step<R>(config: Config, f: impl FnOnce(&crate::trie::Trie) -> R) -> R {
        let engine = builtin_engine(config, true);
        let Matcher::Trie(t) = &engine.chain[0] else {
            panic!("{}'s first step is a trie", config.name())
        };
        f(t)
    }

    #[test]
    fn the_table_pays_where_keys_start_at_a_quarter_of_the_characters_or_it_decides_them() {
        // t2tw's table decides its keys of one character: it pays wherever keys start at a
        // sixteenth of the characters or more (below, the sparse skip with fingerprints). A
        // value of two characters the table leaves to the general scan: with such a key, it
        // pays from a quarter on.
        let two = crate::convert::tests::dict(&[("僞", "偽偽"), ("丁", "丁")]);
        let Matcher::Trie(two) = &two else {
            unreachable!()
        };
        with_step(Config::T2tw, |t2tw| {
            for (t, one_in_five) in [(t2tw, true), (two, false)] {
                let v = t.view();
                assert!(v.starts.is_some(), "few starting characters");
                let starter = '僞';
                let decided = super::entry(starter as u32, v.root_entry(starter as u32).1) != 0;
                assert_eq!(decided, one_in_five);
                assert_eq!(v.root('甲' as u32), 0);
                // 甲 starts no key.
                for (text, pays) in [
                    (format!("{starter}甲甲甲").repeat(50), true),
                    (format!("{starter}甲甲甲甲").repeat(50), one_in_five),
                    ("abc".repeat(50), false),
                ] {
                    let share = super::start_share(&v, &text);
                    assert_eq!(super::pays(share), pays, "{text}");
                    assert!(!super::sparse(share));
                    assert_eq!(t.view_for(&text).dense.is_some(), pays);
                }
            }
        })
    }

    #[test]
    fn keys_are_busy_where_they_start_at_a_quarter_of_the_characters() {
        with_step(Config::S2t, |t| {
            let v = t.view();
            let dense = t.dense_view().dense.expect("a table");
            let starter = crate::trie::key_starts(&v)
                .find(|&c| ('\u{4E00}'..'\u{A000}').contains(&c))
                .expect("a key starts with a CJK character");
            let quiet = ('\u{4E00}'..'\u{A000}')
                .find(|&c| v.root(c.into()) == 0)
                .expect("a CJK character starts no key");
            for (text, busy) in [
                (format!("{starter}{quiet}{quiet}{quiet}").repeat(100), true),
                (
                    format!("{starter}{quiet}{quiet}{quiet}{quiet}").repeat(100),
                    false,
                ),
                (format!("{starter}, ").repeat(100), true),
            ] {
                let activity = super::activity(dense, v.pair_filter(), &text);
                assert_eq!(activity.busy(), busy, "{text}");
                assert_eq!(t.view_for(&text).dense_busy, busy);
            }
        })
    }

    #[test]
    fn learned_pairs_are_found_as_walked_and_others_are_unknown() {
        // Every pair of ST's keys that starts with a BMP character, learned one by one (the
        // table grows from 1,024 slots to 64 Ki on the way): each is then found as it was
        // walked, the pair of two NULs never is, and a pair never learned is unknown.
        with_step(Config::S2t, |t| {
            let v = t.view();
            let mut pairs = super::Pairs::default();
            let mut learned = Vec::new();
            v.each_pair(|c, d| {
                if c <= 0xFFFF && d <= 0xFFFF {
                    let slot = pairs.learn(super::Pairs::walked(&v, c, v.root(c), d));
                    assert_ne!(slot.meta() & super::PAIR_KNOWN, 0);
                    learned.push((c, d, slot));
                }
            });
            assert!(learned.len() > 30_000, "{}", learned.len());
            assert_eq!(pairs.used, learned.len());
            assert!(2 * pairs.buckets.len() >= 2 * learned.len());
            for &(c, d, slot) in &learned {
                let found = pairs.get(c, d);
                assert_eq!(
                    (found.key, found.next, found.word),
                    (slot.key, slot.next, slot.word)
                );
            }
            // Some pairs the filter lets through start no key: known as such once learned.
            let (c, d) = (u32::from('中'), u32::from('a'));
            assert_eq!(pairs.get(c, d).meta() & super::PAIR_KNOWN, 0);
            let node = v.root(c);
            let no_key = pairs.learn(super::Pairs::walked(&v, c, node, d));
            assert_eq!(no_key.meta(), super::PAIR_KNOWN);
            assert_eq!(pairs.get(c, d).meta(), super::PAIR_KNOWN);
            // What the pairs say agrees with the trie: 一干 is a key of ST (一干 → 一干) that
            // 一干二净, 一干人 and more continue; 干杯 is one (→ 乾杯) that nothing continues.
            let walked =
                |a: char, b: char| super::Pairs::walked(&v, a.into(), v.root(a.into()), b.into());
            let gan = walked('一', '干');
            let flags = super::PAIR_BOTH | super::PAIR_LONGER | super::PAIR_MANY;
            assert_eq!(gan.meta() & (flags | super::PAIR_WALK), flags);
            assert_eq!(gan.meta() & 0xF, 6);
            assert_eq!(&gan.out().to_le_bytes()[..6], "一干".as_bytes());
            assert_ne!(gan.next >> (super::third_bit('二'.into()) & 31) & 1, 0);
            // Beyond the most pairs a table holds, a pair is walked each time, not learned.
            pairs.used = super::MAX_PAIRS;
            let (c, d) = (u32::from('中'), u32::from('b'));
            assert_ne!(
                pairs
                    .learn(super::Pairs::walked(&v, c, v.root(c), d))
                    .meta(),
                0
            );
            assert_eq!(pairs.get(c, d).meta() & super::PAIR_KNOWN, 0);
            let bei = walked('干', '杯');
            assert_eq!(bei.meta() & (flags | super::PAIR_WALK), super::PAIR_BOTH);
            let len = (bei.meta() & 0xF) as usize;
            assert_eq!(&bei.out().to_le_bytes()[..len], "乾杯".as_bytes());
        })
    }

    #[test]
    fn tables_are_warmed_for_text_mostly_beyond_ascii() {
        // Classical Chinese, Cantonese with spaces between words, code with Chinese comments.
        assert!(super::mostly_wide(&"晉侯使韓簡視師，".repeat(200)));
        assert!(super::mostly_wide(&"佢 哋 喺 度 食 緊 飯 。 ".repeat(200)));
        let code = "def convert(text):\n    # 轉換\n    return text.strip()\n".repeat(40);
        assert!(!super::mostly_wide(&code));
    }

    #[test]
    fn learned_walks_are_found_as_walked() {
        with_step(Config::S2t, |t| {
            let v = t.view();
            let walked = |chars: &[u32]| super::WalkSlot::walked(&v, v.root(chars[0]), chars);
            let chars = |s: &str| s.chars().map(u32::from).collect::<Vec<_>>();
            // 一干 is a key of ST (→ 一干), 一干二净 one (→ 一乾二淨): over 一干二 the best key
            // takes two characters and 净 alone continues a key; over 一干二净 it takes four.
            let (slot, best, taken) = walked(&chars("一干二"));
            assert_eq!(
                (taken, v.resolve(best).with_str(str::to_owned)),
                (2, "一干".into())
            );
            let flags = super::WALK_LONGER | super::WALK_MANY;
            assert_eq!(slot.meta & flags, super::WALK_LONGER);
            assert_eq!(slot.next, u32::from('净'));
            let (_, best, taken) = walked(&chars("一干二净"));
            assert_eq!(
                (taken, v.resolve(best).with_str(str::to_owned)),
                (4, "一乾二淨".into())
            );
            let slot = super::WalkSlot::over(&chars("一干二净")).with_output(4, Some("一乾二淨"));
            assert_eq!(
                (slot.output(), slot.meta >> super::TAKEN_SHIFT & 3),
                ("一乾二淨", 3)
            );
            // A value of more than sixteen bytes is left to the trie's walk.
            let long = super::WalkSlot::over(&chars("一干二")).with_output(3, Some("一二三四五六"));
            assert_ne!(long.meta & super::WALK_WALK, 0);
            // Every walk over the first three characters of ST's keys, learned one by one
            // (the table grows on the way): each is then found as it was learned; a walk not
            // learned is unknown.
            let mut walks = super::Walks::default();
            let mut learned = Vec::new();
            v.each_pair(|a, b| {
                let node = v.step(v.root(a), b);
                for (c, _) in v.children(node).filter(|_| a.max(b) <= 0xFFFF) {
                    if c <= 0xFFFF && learned.len() < 20_000 {
                        let slot = walked(&[a, b, c]).0.alone();
                        assert_eq!(walks.get_or_learn(slot.key, || slot), slot);
                        learned.push(slot);
                    }
                }
            });
            assert_eq!((walks.used, learned.len()), (20_000, 20_000));
            for slot in &learned {
                assert_eq!(walks.find(slot.key), Some(*slot));
            }
            let unknown = super::walk_key(&chars("中中中"));
            assert_eq!(walks.find(unknown), None);
            // Beyond the most walks a table holds, a walk is not learned.
            walks.used = super::MAX_WALKS;
            let slot = super::WalkSlot::over(&chars("中中中")).alone();
            assert_eq!(walks.get_or_learn(unknown, || slot), slot);
            assert_eq!(walks.find(unknown), None);
        })
    }

    #[test]
    fn learned_walks_keep_apart_keys_that_start_with_a_nul() {
        // With a NUL first, the three characters 甲乙丙 and the four \0甲乙丙 would pack into
        // the same key of the learned walks: neither may decide the other. Both orders, since
        // which one is learned first matters.
        let m = crate::convert::tests::dict(&[("\0甲乙丙", "A"), ("甲乙丙", "B"), ("甲乙", "C")]);
        let Matcher::Trie(t) = &m else { unreachable!() };
        for text in [
            "中\0甲乙丙甲乙丙甲乙丁".repeat(2000),
            format!("中中中中中中\0甲乙丙{}", "甲乙丙".repeat(3000)),
            format!("{}中\0甲乙丙", "甲乙丙中".repeat(3000)),
        ] {
            let run = |v: &crate::trie::TrieView<'_>| {
                let mut out = String::new();
                convert_trie_segments(v, &text, &[text.len()], &mut out, None, false);
                out
            };
            assert!(run(&t.dense_view()) == run(&t.view()));
        }
    }

    #[test]
    fn a_thread_keeps_the_pairs_of_its_last_tables() {
        let ids: Vec<u64> = (0..=super::MAX_MEMOS).map(|_| super::next_id()).collect();
        let learn = |id: u64| {
            super::with_memo(id, |memo| {
                memo.learn(super::PairSlot::new(1, 2, None, std::iter::empty()));
            })
        };
        let known = |id: u64| super::with_memo(id, |memo| memo.used);
        learn(ids[0]);
        assert_eq!(known(ids[0]), 1);
        for &id in &ids[1..] {
            learn(id);
        }
        // The first table's pairs made room for the last one's; the others are kept.
        assert_eq!(known(ids[1]), 1);
        assert_eq!(known(ids[super::MAX_MEMOS]), 1);
        assert_eq!(known(ids[0]), 0);
        // Inside the use of a memo, another use starts afresh instead of failing.
        super::with_memo(ids[2], |outer| {
            assert_eq!(outer.used, 1);
            assert_eq!(known(ids[2]), 0);
        });
    }

    #[test]
    fn the_skip_stops_at_keys_with_ascii_or_characters_of_two_or_four_bytes() {
        // No built-in key has a Chinese first character and a second one of ASCII: a trie of
        // such keys, with the skip (and its sieve, where the processor has one).
        let mut builder = crate::trie_build::TrieBuilder::new();
        for (key, value) in [
            ("中A", "甲"),
            ("中é", "乙"),
            ("中𠮷", "丙"),
            ("国", "國"),
            ("国家", "國家"),
            ("𠀀", "丁"),
            ("𠮷野", "吉野"),
            ("ü", "u"),
        ] {
            builder.add(key, value, 0);
        }
        let trie = crate::trie::Trie::from_image(&builder.finish());
        let mut dense = trie.dense_view();
        assert!(dense.dense.is_some_and(|d| d.ascii_plain));
        dense.dense_skip = true;
        let filler = "一二三四五六七八九十，";
        with_and_without_sieve(|| {
            for middle in [
                "中A", "中B", "中é", "中è", "中𠮷", "中𠮸", "国", "国家", "中 A", "中", "𠀀", "𠀁",
                "𠮷野", "𠮷", "ü", "ö",
            ] {
                for before in 0..40 {
                    let text = format!(
                        "{}{middle}{}",
                        filler.repeat(5).chars().take(before).collect::<String>(),
                        filler.repeat(10)
                    );
                    let run = |v| {
                        let mut out = String::new();
                        convert_trie_segments(v, &text, &[text.len()], &mut out, None, false);
                        out
                    };
                    assert_eq!(run(&dense), run(&trie.view()), "{text}");
                }
            }
        });
    }

    /// Calls `f` with every trie of every config: normalization, segmentation and chain.
    fn each_trie(mut f: impl FnMut(Config, &crate::trie::Trie)) {
        for config in Config::ALL {
            let engine = builtin_engine(config, true);
            let steps = engine.normalization.iter().chain(&engine.segmentation);
            for m in steps.chain(&engine.chain) {
                if let Matcher::Trie(t) = m {
                    f(config, t);
                }
            }
        }
    }

    #[test]
    fn one_pass_over_the_sample_says_what_the_two_say() {
        // Every trie of every config that has a start bitmap, on texts of its keys, their
        // first characters and values, and characters no key has (one of them beyond the BMP,
        // one an IDS operator the table leaves to the general scan).
        let mut seed = 0x2545_F491_4F6C_DD1D;
        let mut compared = 0;
        each_trie(|config, t| {
            let v = t.dense_view();
            let (Some(dense), Some(_)) = (v.dense, v.starts) else {
                return;
            };
            let pool =
                crate::compose::tests::pool(&["甲", "，", "a", "𠮷", "⿰", "é"], [t], (7, 3));
            for round in 0..20 {
                let text = crate::compose::tests::text(&pool, 50 + 20 * round, &mut seed);
                let (share, activity) = super::share_and_activity(&v, dense, &text);
                assert_eq!(share, super::start_share(&v, &text), "{}", config.name());
                assert_eq!(activity, super::activity(dense, v.pair_filter(), &text));
                compared += 1;
            }
        });
        assert!(compared >= 200, "{compared}");
    }

    #[test]
    fn the_table_scan_equals_the_general_scan() {
        // Texts of keys, their first characters, values, runs of ASCII (some starting a key, as
        // in SQL注入), IDS, and characters of two and four bytes, cut at every length near the
        // end (the table scan stops eight bytes before it): converted with and without the
        // table, with and without segments fused into the step.
        let mut seed = 0x9E37_79B9_7F4A_7C15;
        let mut tries = 0;
        each_trie(|config, t| {
            let dense = t.dense_view();
            tries += 1;
            let fixed = [
                "，",
                "。",
                "\n",
                " ",
                "abcdefgh ",
                "SQL",
                "PN",
                "é",
                "𠮷",
                "⿰氵青",
                "⿱",
                "〇",
            ];
            let pool = crate::compose::tests::pool(&fixed, [t], (11, 5));
            for round in 0..30 {
                let text = crate::compose::tests::text(&pool, 100 + round, &mut seed);
                for cut in (0..=12).map(|k| text.len().saturating_sub(k)) {
                    let Some(text) = text.get(..cut) else {
                        continue;
                    };
                    for (fused, busy, skip, sieve) in [
                        (false, false, false, Sieve::Chosen),
                        (true, false, false, Sieve::Chosen),
                        (false, true, false, Sieve::Chosen),
                        (true, true, false, Sieve::Chosen),
                        (false, false, true, Sieve::Chosen),
                        (true, false, true, Sieve::Chosen),
                        (false, false, true, Sieve::Every),
                        (true, false, true, Sieve::Every),
                        (false, false, true, Sieve::None),
                        (true, false, true, Sieve::None),
                    ] {
                        let mut dense = dense;
                        dense.dense_busy = busy;
                        // (The skip is only for tables under which ASCII stays.)
                        dense.dense_skip = skip && dense.dense.is_some_and(|d| d.ascii_plain);
                        SIEVE.set(sieve);
                        let run = |v| {
                            let mut out = String::new();
                            convert_trie_segments(v, text, &[text.len()], &mut out, None, fused);
                            out
                        };
                        let (a, b) = (run(&dense), run(&t.view()));
                        if a != b {
                            let k = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
                            let at = text
                                .char_indices()
                                .nth(k.saturating_sub(3))
                                .map_or(0, |x| x.0);
                            panic!(
                                "{} fused {fused} busy {busy} skip {skip} sieve {sieve:?}: text {:?} dense {:?} general {:?}",
                                config.name(),
                                text[at..].chars().take(10).collect::<String>(),
                                a.chars()
                                    .skip(k.saturating_sub(3))
                                    .take(8)
                                    .collect::<String>(),
                                b.chars()
                                    .skip(k.saturating_sub(3))
                                    .take(8)
                                    .collect::<String>()
                            );
                        }
                    }
                }
            }
        });
        SIEVE.set(Sieve::Chosen);
        assert!(tries >= 16, "{tries}");
    }
}
