//! The scan of a trie whose keys start at many of a text's characters (the ST and TS
//! dictionaries start a key at nearly every Chinese character; tw2t's at a third of those of
//! Traditional text), written for the positions where one character's table entry and a pair
//! filter decide.
//!
//! With such a trie the general scan branches at every character on facts that change from
//! one character to the next (does a longer key start here, does the character change), and
//! those branches are mispredicted about once a character. Here a per-code-point table holds,
//! for each BMP character, what the trie makes of it alone as ready UTF-8 bytes (or "itself").
//! The pair filter is asked with the next character at every character (a character that
//! starts no longer key passes it only by a false positive); where it rules out a longer key,
//! the character is written with one four-byte store, changed or not. The branches that depend
//! on the text are the rare ones: to walk the trie where the filter lets the pair through, and
//! back to the general scan (a value of more than one character, an IDS operator, a character
//! beyond the BMP, a run of ASCII).

use crate::trie::{decode, TrieView};
use crate::trie_build::{ROOT_LONGER, ROOT_NODE, VALUE_INLINE};

/// In an entry (of this table and of the composed chains' one): the character's output in
/// bytes 0..4 (UTF-8, first byte lowest), its length in bits 32..35 (0: the character is
/// written as it is); see [`output`] and [`written`].
const LEN_SHIFT: u32 = 32;
/// In an entry: the trie's node for keys that start with the character, from this bit
/// ([`NODE_BITS`] bits; 0 when no key of two or more characters starts with it).
const NODE_SHIFT: u32 = 35;
/// See [`NODE_SHIFT`].
const NODE_BITS: u32 = 28;
/// In an entry: the table does not decide the character (a value of more than one character
/// or of priority class 0, an IDS operator, a character beyond the BMP). The sign bit: one
/// test.
const OPEN: u64 = 1 << 63;

/// The per-code-point table of one trie (see the module).
#[derive(Debug, Clone)]
pub(crate) struct Dense {
    /// An entry per BMP code point, and one more for every character beyond (open: the
    /// general scan takes those).
    entries: Box<[u64]>,
}

impl Dense {
    /// The table of `v`'s keys.
    pub(crate) fn new(v: &TrieView<'_>) -> Dense {
        // Zeroed memory comes from the allocator untouched: only the blocks written below and
        // those a text reads are ever paged in.
        let mut entries = vec![0u64; 0x1_0001];
        for (h, &block) in v.root_hi.iter().enumerate().take(0x100) {
            if block == 0 && h != 0x2F {
                continue;
            }
            for l in 0..256 {
                let c = (h as u32) << 8 | l;
                let (root, val) = v.root_entry(c);
                let node = if root & ROOT_LONGER != 0 {
                    root & ROOT_NODE
                } else {
                    0
                };
                entries[c as usize] = if node < 1 << NODE_BITS {
                    entry(c, val) | u64::from(node) << NODE_SHIFT
                } else {
                    // A node beyond the entry's bits (a dictionary of over 268 million nodes):
                    // the general scan takes the character.
                    OPEN
                };
            }
        }
        entries[0x1_0000] = OPEN;
        Dense {
            entries: entries.into_boxed_slice(),
        }
    }

    /// The entry of `c`, a character.
    #[inline(always)]
    fn entry(&self, c: u32) -> u64 {
        // SAFETY: `entries` has 0x10001 entries.
        unsafe { *self.entries.get_unchecked(c.min(0x1_0000) as usize) }
    }
}

/// The entry of `c` with value word `val` (see the image layout).
fn entry(c: u32, val: u32) -> u64 {
    if c & !0xF == 0x2FF0 || val != 0 && (val & VALUE_INLINE == 0 || val >> 24 == 0) {
        return OPEN;
    }
    if val == 0 {
        return 0;
    }
    output(val & 0x1F_FFFF)
}

/// The output part of an entry (bits 0..35) for the character `c`.
pub(crate) fn output(c: u32) -> u64 {
    let mut utf8 = [0u8; 4];
    let len = char::from_u32(c)
        .unwrap_or('\u{FFFD}')
        .encode_utf8(&mut utf8)
        .len();
    u64::from(u32::from_le_bytes(utf8)) | (len as u64) << LEN_SHIFT
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

/// Bytes of a text sampled by [`pays`].
const SAMPLE: usize = 1024;

/// Whether the table scan pays for `text` with the trie `v`: always where keys start with
/// too many characters for a start bitmap; with one, where keys start at a quarter or more
/// of the characters beyond ASCII in the text's first [`SAMPLE`] bytes. (Where they start at fewer, the general scan's skipping wins: with
/// Traditional text t2tw's keys start at 7% of them, hk2t's at 16%, and the table scan
/// takes 7–10% more time; tw2t's at 35%, and it takes 22% less.)
pub(crate) fn pays(v: &TrieView<'_>, text: &str) -> bool {
    let Some(starts) = v.starts else {
        return true;
    };
    let mut end = SAMPLE.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let (mut wide, mut at_start) = (0usize, 0usize);
    for c in text[..end].chars().map(u32::from).filter(|&c| c >= 0x80) {
        wide += 1;
        if c < 0x1_0000 && starts[(c >> 6) as usize] >> (c & 63) & 1 != 0 {
            at_start += 1;
        }
    }
    wide > 0 && 4 * at_start >= wide
}

/// The four bytes from `i` as a little-endian word, and the character that starts there
/// with its length.
///
/// # Safety
/// `i + 4 <= bytes.len()`, and `i` is a character boundary of valid UTF-8.
#[inline(always)]
pub(crate) unsafe fn decode_word(bytes: &[u8], i: usize) -> (u32, u32, usize) {
    debug_assert!(i + 4 <= bytes.len());
    let w = u32::from_le(bytes.as_ptr().add(i).cast::<u32>().read_unaligned());
    let b0 = w & 0xFF;
    // Chinese text is mostly characters of three bytes: those first.
    let (c, len) = if b0 & 0xF0 == 0xE0 {
        (
            (b0 & 0x0F) << 12 | (w >> 2 & 0x3F << 6) | (w >> 16 & 0x3F),
            3,
        )
    } else if b0 < 0x80 {
        (b0, 1)
    } else if b0 < 0xE0 {
        ((b0 & 0x1F) << 6 | (w >> 8 & 0x3F), 2)
    } else {
        decode(bytes, i)
    };
    (w, c, len)
}

/// Bytes of input per stretch of a table loop (see [`Stretch`]).
pub(crate) const STRETCH: usize = 4096;

/// The output of a table loop over a stretch of at most [`STRETCH`] characters: each is
/// stored as four bytes at the end of the string, in capacity reserved for the stretch, and
/// counted by its length. The string's length is set to the count when the stretch ends
/// (is dropped), so the string only ever holds whole characters.
pub(crate) struct Stretch<'a> {
    vec: &'a mut Vec<u8>,
    base: *mut u8,
    len: usize,
}

impl<'a> Stretch<'a> {
    /// A stretch appending to `out`.
    #[inline(always)]
    pub(crate) fn new(out: &'a mut String) -> Stretch<'a> {
        // SAFETY: the string's length is only ever set to `len`, the end of the last whole
        // character stored (see `push`); what lies after it is spare capacity.
        let vec = unsafe { out.as_mut_vec() };
        vec.reserve(4 * STRETCH + 4);
        Stretch {
            base: vec.as_mut_ptr(),
            len: vec.len(),
            vec,
        }
    }

    /// Appends a character of `n` bytes (1 to 4), held in `word` (first byte lowest; the
    /// bytes after the character are overwritten by the next one or left as spare capacity).
    /// At most [`STRETCH`] characters per stretch.
    #[inline(always)]
    pub(crate) fn push(&mut self, word: u32, n: usize) {
        debug_assert!(self.len + 4 <= self.vec.capacity());
        // SAFETY: at most `STRETCH` characters of at most four bytes each are stored after
        // `new` reserved `4 * STRETCH + 4` bytes: the four bytes are within capacity.
        unsafe {
            self.base
                .add(self.len)
                .cast::<u32>()
                .write_unaligned(word.to_le())
        };
        self.len += n;
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
    mut i: usize,
    end: usize,
    out: &mut String,
) -> usize {
    let bytes = &text.as_bytes()[..end];
    if end < 8 || i >= end - 8 {
        return i;
    }
    let limit = end - 8;
    let pairs = v.pair_filter();
    'stretches: while i < limit {
        let stop = limit.min(i + STRETCH);
        let mut stretch = Stretch::new(out);
        // SAFETY (every `decode_word` below): `i < limit` and `next <= i + 4`, so
        // `next + 4 <= end`.
        let (mut w, mut c, mut len) = unsafe { decode_word(bytes, i) };
        loop {
            let e = dense.entry(c);
            let next = i + len;
            let (dw, d, d_len) = unsafe { decode_word(bytes, next) };
            if (e & OPEN != 0) | (w & 0x8080_8080 == 0) {
                break 'stretches;
            }
            // Only pairs that start a key of two or more characters are in the filter: a
            // character with no such key passes only by a false positive.
            if pairs.may(c, d) {
                let node = (e >> NODE_SHIFT) as u32 & ((1 << NODE_BITS) - 1);
                if node != 0 {
                    drop(stretch);
                    // The walk starts from the character's own value: it finds the key of
                    // one character too, and no key means the character stays.
                    match v.walk_with(node, bytes, next, d, next + d_len) {
                        Some((key_end, val)) => {
                            v.resolve(val).push_to(out);
                            i = key_end;
                        }
                        None => {
                            out.push_str(&text[i..next]);
                            i = next;
                        }
                    }
                    continue 'stretches;
                }
            }
            let (word, n) = written(e, w, len);
            stretch.push(word, n);
            i = next;
            if i >= stop {
                break;
            }
            (w, c, len) = (dw, d, d_len);
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use crate::config::builtin_engine;
    use crate::convert::{convert_trie_segments, Matcher};
    use crate::Config;

    #[test]
    fn the_table_pays_where_keys_start_at_a_quarter_of_the_characters() {
        let engine = builtin_engine(Config::T2tw, true);
        let Matcher::Trie(t) = &engine.chain[0] else {
            panic!("t2tw's step is a trie")
        };
        let v = t.view();
        assert!(v.starts.is_some(), "t2tw's keys start with few characters");
        let starter = crate::trie::key_starts(&v)
            .find(|&c| ('\u{80}'..'\u{10000}').contains(&c))
            .expect("a key starts beyond ASCII");
        assert_eq!(v.root('甲' as u32), 0);
        // 甲 starts no key of t2tw: one starter in four characters pays, one in five not.
        for (text, pays) in [
            (format!("{starter}甲甲甲").repeat(50), true),
            (format!("{starter}甲甲甲甲").repeat(50), false),
            ("abc".repeat(50), false),
        ] {
            assert_eq!(super::pays(&v, &text), pays, "{text}");
            assert_eq!(t.view_for(&text).dense.is_some(), pays);
        }
    }

    #[test]
    fn the_table_scan_equals_the_general_scan() {
        // Texts of keys, their first characters, values, runs of ASCII (some starting a key, as
        // in SQL注入), IDS, and characters of two and four bytes, cut at every length near the
        // end (the table scan stops eight bytes before it): converted with and without the
        // table, with and without segments fused into the step.
        let mut seed = 0x9E37_79B9_7F4A_7C15;
        let mut tries = 0;
        for config in Config::ALL {
            let engine = builtin_engine(config, true);
            let steps = engine.normalization.iter().chain(&engine.segmentation);
            for m in steps.chain(&engine.chain) {
                let Matcher::Trie(t) = m else { continue };
                let dense = t.dense_view();
                tries += 1;
                let mut pool: Vec<String> = [
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
                ]
                .iter()
                .map(|s| s.to_string())
                .collect();
                crate::compose::tests::key_pieces(t, (11, 5), &mut pool);
                for round in 0..30 {
                    let text = crate::compose::tests::text(&pool, 100 + round, &mut seed);
                    for cut in (0..=12).map(|k| text.len().saturating_sub(k)) {
                        let Some(text) = text.get(..cut) else {
                            continue;
                        };
                        for fused in [false, true] {
                            let run = |v| {
                                let mut out = String::new();
                                convert_trie_segments(
                                    v,
                                    text,
                                    &[text.len()],
                                    &mut out,
                                    None,
                                    fused,
                                );
                                out
                            };
                            assert!(run(&dense) == run(&t.view()), "{}: {text:?}", config.name());
                        }
                    }
                }
            }
        }
        assert!(tries >= 16, "{tries}");
    }
}
