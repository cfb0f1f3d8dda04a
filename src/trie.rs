//! Reading compiled tries (the image [`crate::trie_build`] writes) and prefix matching.
//!
//! A trie is either borrowed from the image embedded in the binary (no copy, no parsing beyond
//! the header: loading a built-in config costs microseconds) or owned, when built at run time
//! from a user's config. The first character of a key is found with a two-level table indexed by
//! code point, so a position that starts no key costs two loads; a deeper level scans a short
//! sorted edge list or probes a node's hash table.

use std::borrow::Cow;

use crate::trie_build::{
    child_filter_bit, edge_hash, pair_hash, pair_insert, EMPTY_SLOT, HEADER_WORDS, MAGIC,
    MAX_LIST_EDGES, NODE_WORDS, ROOT_HI_WORDS, ROOT_IN_KEY, ROOT_LONGER, ROOT_NODE, VALUE_ID,
    VALUE_INLINE,
};

/// A dictionary value: text held in the trie, or a single character held inline in the node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Value<'a> {
    /// Any text (empty, or more than one character).
    Text(&'a str),
    /// One character.
    Char(char),
}

impl Value<'_> {
    /// Appends the value to `out`.
    #[inline(always)]
    pub(crate) fn push_to(self, out: &mut String) {
        match self {
            Value::Text(s) => out.push_str(s),
            Value::Char(c) => out.push(c),
        }
    }

    /// Calls `f` with the value as text.
    pub(crate) fn with_str<R>(self, f: impl FnOnce(&str) -> R) -> R {
        match self {
            Value::Text(s) => f(s),
            Value::Char(c) => f(c.encode_utf8(&mut [0; 4])),
        }
    }
}

/// A compiled dictionary (or flattened dictionary group).
#[derive(Debug, Clone)]
pub(crate) struct Trie {
    words: Cow<'static, [u32]>,
    values_text: Cow<'static, str>,
    lead_step: Box<[u8; 256]>,
    ascii_skip: AsciiSkip,
    /// Where keys start with few characters: a bit per BMP code point, set where a key starts
    /// (and for the IDS operators), so that a scan skips the others without the root table.
    starts: Option<Box<[u64; 1024]>>,
    /// With `starts`: the lead bytes that `lead_step` looks up, where they are few ranges,
    /// and the fingerprints of the characters that start keys.
    start_leads: Option<Box<StartSkip>>,
    /// Made on first use: only normalization steps need them.
    start_ranges: std::sync::OnceLock<Option<StartRanges>>,
    /// Made on first use by a long text (see [`Trie::view_for`]).
    dense: std::sync::OnceLock<Box<crate::dense::Dense>>,
    /// The sieve of the dense table's skip, made on first use (see [`crate::dense::Sieve`]).
    sieve: std::sync::OnceLock<Box<crate::dense::Sieve>>,
    root_lo: usize,
    node_rec: usize,
    edge_rec: usize,
    val_off: usize,
    pairs: usize,
    nodes: usize,
    edges: usize,
    values: usize,
}

/// Splits an image into its word part and its value bytes, checking the header.
fn layout(header: &[u32]) -> Option<(usize, [usize; 7])> {
    if header.len() < HEADER_WORDS || header[0] != MAGIC {
        return None;
    }
    let blocks = header[2] as usize;
    let nodes = header[3] as usize;
    let edges = header[4] as usize;
    let values = header[5] as usize;
    let root_lo = HEADER_WORDS + ROOT_HI_WORDS;
    let node_rec = root_lo + blocks * 512;
    let edge_rec = node_rec + NODE_WORDS * (nodes + 1);
    let val_off = edge_rec + 2 * edges;
    let pairs = val_off + values + 1;
    let pair_words = header[8] as usize;
    if !pair_words.is_power_of_two() {
        return None;
    }
    let end = pairs + pair_words;
    Some((
        end,
        [root_lo, node_rec, edge_rec, val_off, pairs, nodes, edges],
    ))
}

impl Trie {
    /// Reads an image held in memory (a trie built at run time).
    pub(crate) fn from_image(image: &[u8]) -> Trie {
        let words: Vec<u32> = image
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let (end, _) = layout(&words).expect("trie image written by TrieBuilder");
        let text = std::str::from_utf8(&image[end * 4..]).expect("values are UTF-8");
        Trie::assemble(
            Cow::Owned(words[..end].to_vec()),
            Cow::Owned(text.to_string()),
        )
    }

    /// Borrows an image embedded in the binary; `image` is 4-byte aligned.
    pub(crate) fn from_static(image: &'static [u8]) -> Trie {
        let words = crate::tables::words_of(image);
        let (end, _) = layout(words).expect("embedded trie image");
        let text = crate::tables::embedded_text(&image[end * 4..]);
        Trie::assemble(Cow::Borrowed(&words[..end]), Cow::Borrowed(text))
    }

    fn assemble(words: Cow<'static, [u32]>, values_text: Cow<'static, str>) -> Trie {
        let (end, [root_lo, node_rec, edge_rec, val_off, pairs, nodes, edges]) =
            layout(&words).expect("checked by the caller");
        assert!(words.len() >= end, "truncated trie image");
        let values = words[5] as usize;
        // The value text is padded with NULs to a whole word; drop the padding.
        let values_text = match values_text {
            Cow::Borrowed(t) => Cow::Borrowed(&t[..words[6] as usize]),
            Cow::Owned(mut t) => {
                t.truncate(words[6] as usize);
                Cow::Owned(t)
            }
        };
        // Value offsets need no check here: slicing `values_text` checks them at each use.
        let mut trie = Trie {
            lead_step: Box::new([0; 256]),
            starts: None,
            start_leads: None,
            ascii_skip: AsciiSkip::Table,
            start_ranges: std::sync::OnceLock::new(),
            dense: std::sync::OnceLock::new(),
            sieve: std::sync::OnceLock::new(),
            words,
            values_text,
            root_lo,
            node_rec,
            edge_rec,
            val_off,
            pairs,
            nodes,
            edges,
            values,
        };
        trie.lead_step = Box::new(lead_steps(&trie));
        trie.starts = starts_bitmap(&trie);
        trie.start_leads = trie.starts.as_ref().and_then(|_| {
            Some(Box::new(StartSkip {
                leads: start_leads(&trie.lead_step)?,
                prints: std::sync::OnceLock::new(),
            }))
        });
        trie.ascii_skip = AsciiSkip::of(&trie.lead_step).with_next(|s| ascii_next(&trie.view(), s));
        trie
    }

    /// Where the keys' first characters are few and not ASCII (the compatibility-ideograph
    /// step: EF A4–AB and F0 AF), their first two bytes (see [`StartRanges`]).
    pub(crate) fn start_ranges(&self) -> Option<&StartRanges> {
        self.start_ranges
            .get_or_init(|| start_ranges(self))
            .as_ref()
    }

    /// The longest key of any length this trie holds, in characters.
    pub(crate) fn max_key_chars(&self) -> usize {
        self.words[7] as usize
    }

    /// Every key and its value (in code point order).
    pub(crate) fn entries(&self) -> Vec<(String, String)> {
        let v = self.view();
        let mut out = Vec::new();
        let mut key = String::new();
        fn walk(v: &TrieView<'_>, node: u32, key: &mut String, out: &mut Vec<(String, String)>) {
            let val = v.nodes[NODE_WORDS * node as usize];
            if val != 0 {
                out.push((key.clone(), v.resolve(val).with_str(str::to_string)));
            }
            let mut children: Vec<(u32, u32)> = v.children(node).collect();
            children.sort();
            for (c, child) in children {
                key.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                walk(v, child, key, out);
                key.pop();
            }
        }
        for (hi, &block) in v.root_hi.iter().enumerate() {
            if block == 0 {
                continue;
            }
            for lo in 0..256u32 {
                let node = v.root_lo[root_slot(block, lo)] & ROOT_NODE;
                if node != 0 {
                    key.push(char::from_u32(((hi as u32) << 8) | lo).unwrap_or('\u{FFFD}'));
                    walk(&v, node, &mut key, &mut out);
                    key.clear();
                }
            }
        }
        out
    }

    /// Whether `c` occurs anywhere in a key.
    pub(crate) fn in_keys(&self, c: u32) -> bool {
        // The root entry alone, without making a whole view: the search for a safe cut asks
        // at every character of a text that has none.
        let w = &self.words[..];
        let block = w[HEADER_WORDS + (c >> 8) as usize];
        w[self.root_lo + root_slot(block, c)] & ROOT_IN_KEY != 0
    }

    /// Plain slices for the hot loop.
    #[inline]
    pub(crate) fn view(&self) -> TrieView<'_> {
        let w = &self.words[..];
        TrieView {
            root_hi: &w[HEADER_WORDS..HEADER_WORDS + ROOT_HI_WORDS],
            root_lo: &w[self.root_lo..self.node_rec],
            nodes: &w[self.node_rec..self.node_rec + NODE_WORDS * (self.nodes + 1)],
            edges: &w[self.edge_rec..self.edge_rec + 2 * self.edges],
            val_off: &w[self.val_off..self.val_off + self.values + 1],
            pairs: PairFilter::new(
                &w[self.pairs..self.pairs + self.words[8] as usize],
                self.words[8].trailing_zeros(),
            ),
            values_text: &self.values_text,
            lead_step: &self.lead_step,
            ascii_skip: self.ascii_skip,
            starts: self.starts.as_deref(),
            start_leads: None,
            skip_vs: false,
            dense: None,
            dense_busy: false,
            dense_skip: false,
            sieve: None,
        }
    }

    /// The view for converting `text`, with the per-code-point table of [`crate::dense`] where
    /// it pays: always where keys start with too many characters for a start bitmap, else where
    /// a sample of the text says so (see [`crate::dense::pays`]), but for a sparse text whose
    /// starting characters have fingerprints (their skip is twice the table loop's speed on
    /// t2tw), unless the table loop's skip has its sieve and the text is quiet (see
    /// [`crate::dense::Activity::quiet`]; t2tw: 0.67 of the fingerprints' time). The table is
    /// made on first use.
    pub(crate) fn view_for(&self, text: &str) -> TrieView<'_> {
        let view = self.view();
        // Where the table is made, one pass over the sample says what both passes would.
        let sampled = (self.dense.get()).map(|d| crate::dense::share_and_activity(&view, d, text));
        let share = match sampled {
            Some((share, _)) => share,
            None => crate::dense::start_share(&view, text),
        };
        let skip = (self.start_leads.as_deref()).filter(|_| crate::dense::sparse(share));
        let printed = skip
            .zip(view.starts)
            .is_some_and(|(skip, starts)| skip.prints(starts).is_some());
        let sparse = TrieView {
            start_leads: skip,
            ..view
        };
        if printed && !crate::dense::sieved() || !crate::dense::pays(share) {
            return sparse;
        }
        let view = self.dense_view();
        let activity = match sampled {
            Some((_, activity)) => Some(activity),
            None => (view.dense).map(|d| crate::dense::activity(d, view.pair_filter(), text)),
        };
        let quiet = activity.is_some_and(|a| a.quiet());
        if printed && !quiet {
            return sparse;
        }
        TrieView {
            dense_busy: activity.is_some_and(|a| a.busy()),
            dense_skip: quiet,
            ..view
        }
    }

    /// The view with the skip of sparse texts (see [`StartSkip`]) whatever the text, if the
    /// trie has one.
    #[cfg(test)]
    pub(crate) fn sparse_view(&self) -> TrieView<'_> {
        TrieView {
            start_leads: self.start_leads.as_deref(),
            ..self.view()
        }
    }

    /// The view with the per-code-point table of [`crate::dense`] (made on first use).
    pub(crate) fn dense_view(&self) -> TrieView<'_> {
        let view = self.view();
        let dense = self
            .dense
            .get_or_init(|| Box::new(crate::dense::Dense::new(&view)));
        TrieView {
            dense: Some(dense),
            sieve: Some(&self.sieve),
            ..view
        }
    }
}

/// A pair filter (see the image layout): `1 << bits` words.
#[derive(Clone, Copy)]
pub(crate) struct PairFilter<'a> {
    words: &'a [u32],
    bits: u32,
}

impl<'a> PairFilter<'a> {
    /// The filter of `words`, `1 << bits` of them.
    #[inline(always)]
    pub(crate) fn new(words: &'a [u32], bits: u32) -> PairFilter<'a> {
        assert_eq!(words.len(), 1 << bits, "a pair filter of 1 << bits words");
        PairFilter { words, bits }
    }

    /// Whether some key of two or more characters may start with `a` `b` (false: none does).
    #[inline(always)]
    pub(crate) fn may(self, a: u32, b: u32) -> bool {
        let (word, mask) = pair_hash(a, b, self.bits);
        // SAFETY: `pair_hash` gives a word below `1 << bits`, the filter's length (checked in
        // `new`).
        unsafe { *self.words.get_unchecked(word) & mask == mask }
    }

    /// Brings the filter into the cache.
    pub(crate) fn touch(self) {
        crate::dense::touch(self.words);
    }

    /// 0 where [`PairFilter::may`] is true, else not 0 (for one branch on several tests).
    #[inline(always)]
    pub(crate) fn miss(self, a: u32, b: u32) -> u32 {
        let (word, mask) = pair_hash(a, b, self.bits);
        // SAFETY: as in `may`.
        unsafe { (*self.words.get_unchecked(word) & mask) ^ mask }
    }
}

/// Where the root entry of `c` starts in the root's low table, given the block that the high
/// table holds for `c`'s high bits (see [`TrieView::root_entry`]).
#[inline(always)]
fn root_slot(block: u32, c: u32) -> usize {
    2 * ((block << 8) | (c & 0xFF)) as usize
}

impl<'a> TrieView<'a> {
    /// A pair filter of the keys of all of `views`, of `1 << bits` words (returned with the
    /// words): the largest of their filters, or `1 << min_bits` words if that is more, with the
    /// pairs of the keys of a filter of another size added (its words cannot be copied into a
    /// filter of another size: the two bits of a pair come from the hash's bits below the
    /// word's, which move with the size).
    pub(crate) fn pair_union(views: &[&TrieView<'_>], min_bits: u32) -> (Vec<u32>, u32) {
        let bits = views
            .iter()
            .fold(min_bits, |bits, v| bits.max(v.pairs.bits));
        let mut words = vec![0; 1 << bits];
        for v in views {
            if v.pairs.bits == bits {
                for (w, s) in words.iter_mut().zip(v.pairs.words) {
                    *w |= s;
                }
            } else {
                v.each_pair(|a, b| pair_insert(&mut words, bits, a, b));
            }
        }
        (words, bits)
    }

    /// Calls `f` with the first two characters of each key of two or more characters.
    pub(crate) fn each_pair(&self, mut f: impl FnMut(u32, u32)) {
        for a in key_starts(self).map(u32::from) {
            for (b, _) in self.children(self.root(a)) {
                f(a, b);
            }
        }
    }
}

/// A borrowed view of a [`Trie`] with every section as a plain slice.
#[derive(Clone, Copy)]
pub(crate) struct TrieView<'a> {
    pub(crate) root_hi: &'a [u32],
    pub(crate) root_lo: &'a [u32],
    /// Pairs per node: value, first edge (see the image layout).
    nodes: &'a [u32],
    /// Pairs per edge: character, child.
    edges: &'a [u32],
    val_off: &'a [u32],
    /// The pair filter (see the image layout) and its size as a power of two.
    pairs: PairFilter<'a>,
    values_text: &'a str,
    /// Per byte: 0 if a character that starts with it may start a key (or is an IDS
    /// operator), else the length of such a character, to skip it without a lookup.
    pub(crate) lead_step: &'a [u8; 256],
    /// How runs of ASCII are skipped, as the skip table allows.
    pub(crate) ascii_skip: AsciiSkip,
    /// See [`Trie::starts`](Trie).
    pub(crate) starts: Option<&'a [u64; 1024]>,
    /// With `starts`, where keys start at few of a text's characters (see
    /// [`crate::dense::sparse`]): the lead bytes a key's first character may have (see
    /// [`StartLeads`]).
    pub(crate) start_leads: Option<&'a StartSkip>,
    /// Walk over variation selectors as if they were not there (they stay in the key's text).
    pub(crate) skip_vs: bool,
    /// The per-code-point table for dense scans (see [`Trie::view_for`]).
    pub(crate) dense: Option<&'a crate::dense::Dense>,
    /// With `dense`: keys start at most of the text's characters (see
    /// [`crate::dense::Activity::busy`]).
    pub(crate) dense_busy: bool,
    /// With `dense`: the table changes few of the text's characters, and the loop skips the
    /// others a block at a time (see [`crate::dense::Activity::quiet`]; it takes precedence
    /// over `dense_busy`).
    pub(crate) dense_skip: bool,
    /// With `dense`: where the skip's sieve is kept (see [`crate::dense::Sieve`]).
    pub(crate) sieve: Option<&'a std::sync::OnceLock<Box<crate::dense::Sieve>>>,
}

/// The first two UTF-8 bytes of every character that starts a key, as up to four ranges
/// (lead byte, first second byte, count of further second bytes); unused ranges have lead byte
/// FF, which UTF-8 never has.
pub(crate) type StartRanges = [(u8, u8, u8); 4];

/// The bytes of a skip table (see [`TrieView::lead_step`]) that are looked up, as up to four
/// ranges (first byte, count of further bytes; unused ranges are (FF, 0): UTF-8 never has FF),
/// so that a scan finds the characters that may start a key a block of bytes at a time.
pub(crate) type StartLeads = [(u8, u8); 4];

/// How the general scan finds the characters that may start a key where they are few: the
/// lead bytes the skip table looks up ([`StartLeads`]), and the fingerprints of those
/// characters where a continuation byte is none of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StartSkip {
    pub(crate) leads: StartLeads,
    /// Made on first use (see [`StartSkip::prints`]).
    prints: std::sync::OnceLock<Option<crate::bytes::Prints>>,
}

impl StartSkip {
    /// Whether the skip table looks up the lead byte `b`.
    #[inline(always)]
    pub(crate) fn lead(&self, b: u8) -> bool {
        self.leads.iter().fold(false, |hit, &(first, more)| {
            hit | (b.wrapping_sub(first) <= more)
        })
    }

    /// The fingerprints of the characters whose bits are set in `starts` (the trie's start
    /// bitmap) and of the other lead bytes looked up, where there are some (see
    /// [`crate::bytes::Prints::new`]).
    #[inline(always)]
    pub(crate) fn prints(&self, starts: &[u64; 1024]) -> Option<&crate::bytes::Prints> {
        self.prints
            .get_or_init(|| crate::bytes::Prints::new(|b| self.lead(b), starts))
            .as_ref()
    }
}

/// The [`StartLeads`] of `lead_step`, where it looks up at most four ranges of bytes and not 0
/// (the block scans pad with zeros).
pub(crate) fn start_leads(lead_step: &[u8; 256]) -> Option<StartLeads> {
    let mut leads: StartLeads = [(0xFF, 0); 4];
    let mut used = 0usize;
    for b in 0..=255u8 {
        if lead_step[usize::from(b)] != 0 {
            continue;
        }
        match used.checked_sub(1).map(|last| &mut leads[last]) {
            _ if b == 0 => return None,
            Some((first, more)) if first.wrapping_add(*more).wrapping_add(1) == b => *more += 1,
            _ if used == 4 => return None,
            _ => {
                leads[used] = (b, 0);
                used += 1;
            }
        }
    }
    Some(leads)
}

/// How a scan skips runs of ASCII that start no key, as a skip table (see
/// [`TrieView::lead_step`]) allows: made once with the table, not at every scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AsciiSkip {
    /// No ASCII character starts a key (most dictionaries): eight bytes at a time by their high
    /// bits alone.
    Inert,
    /// At most eight do (every built-in dictionary: a few capital letters, as in SQL注入),
    /// padded with a byte that is not ASCII: a block is compared against them. With each, the
    /// byte that must follow it for a key to start there, beside any byte beyond ASCII (see
    /// [`ANY_NEXT`], [`NO_ASCII_NEXT`]): code is full of capital letters, and SQL注入's S
    /// stops the skip only before a Q.
    Except([u8; 8], [u8; 8]),
    /// More do: a block is looked up byte by byte in the table.
    Table,
}

/// In [`AsciiSkip::Except`]: a key may start at the letter whatever follows it.
pub(crate) const ANY_NEXT: u8 = 0xFF;
/// In [`AsciiSkip::Except`]: a key starts at the letter only before a byte beyond ASCII.
pub(crate) const NO_ASCII_NEXT: u8 = 0x80;

impl AsciiSkip {
    /// The way `lead_step` allows (a key may start at each letter it looks up whatever
    /// follows; see [`AsciiSkip::with_next`]).
    pub(crate) fn of(lead_step: &[u8; 256]) -> AsciiSkip {
        let mut starters = (0..0x80u8).filter(|&b| lead_step[usize::from(b)] != 1);
        let mut except = [0x80u8; 8];
        except
            .iter_mut()
            .zip(&mut starters)
            .for_each(|(s, b)| *s = b);
        match (except[0], starters.next()) {
            (0x80, _) => AsciiSkip::Inert,
            (_, None) => AsciiSkip::Except(except, [ANY_NEXT; 8]),
            _ => AsciiSkip::Table,
        }
    }

    /// With, for each letter that starts keys, the ASCII byte that must follow it as `next`
    /// says ([`ANY_NEXT`], [`NO_ASCII_NEXT`] or the byte).
    pub(crate) fn with_next(self, next: impl Fn(u8) -> u8) -> AsciiSkip {
        match self {
            AsciiSkip::Except(starters, _) => AsciiSkip::Except(
                starters,
                starters.map(|s| if s < 0x80 { next(s) } else { ANY_NEXT }),
            ),
            other => other,
        }
    }
}

/// What must follow the ASCII letter `s` for a key of `v` to start at it (see
/// [`AsciiSkip::Except`]): [`ANY_NEXT`] where `s` alone is a key or keys go on with more than
/// one ASCII byte, [`NO_ASCII_NEXT`] where they go on with none (or `s` starts no key).
pub(crate) fn ascii_next(v: &TrieView<'_>, s: u8) -> u8 {
    let (entry, val) = v.root_entry(u32::from(s));
    if val != 0 {
        return ANY_NEXT;
    }
    if entry & ROOT_LONGER == 0 {
        return NO_ASCII_NEXT;
    }
    let mut ascii = v
        .children(entry & ROOT_NODE)
        .map(|(c, _)| c)
        .filter(|&c| c < 0x80);
    match (ascii.next(), ascii.next()) {
        (None, _) => NO_ASCII_NEXT,
        (Some(c), None) => c as u8,
        _ => ANY_NEXT,
    }
}

/// Both requirements on what follows a letter (see [`ascii_next`]): either's byte.
pub(crate) fn either_next(a: u8, b: u8) -> u8 {
    match (a, b) {
        (NO_ASCII_NEXT, x) | (x, NO_ASCII_NEXT) => x,
        (x, y) if x == y => x,
        _ => ANY_NEXT,
    }
}

/// Keys that start with more characters than this get no start bitmap: too many characters
/// of a text would start a key for the bitmap to skip them.
const MAX_BITMAP_STARTS: usize = 2000;

/// The start bitmap of a trie (see `Trie::starts`), or `None` when keys start with too many
/// characters of the three-byte range.
fn starts_bitmap(trie: &Trie) -> Option<Box<[u64; 1024]>> {
    let v = trie.view();
    let mut bits = Box::new([0u64; 1024]);
    let mut count = 0;
    for hi in 0x08..0x100u32 {
        let block = v.root_hi[hi as usize];
        if block == 0 {
            continue;
        }
        let entries = &v.root_lo[(block as usize) << 9..][..512];
        for lo in 0..256u32 {
            if entries[2 * lo as usize] & ROOT_NODE != 0 {
                let c = (hi << 8 | lo) as usize;
                bits[c >> 6] |= 1 << (c & 63);
                count += 1;
            }
        }
        if count > MAX_BITMAP_STARTS {
            return None;
        }
    }
    // IDS operators are looked at wherever they are.
    bits[0x2FF0 >> 6] |= 0xFFFF << (0x2FF0 & 63);
    Some(bits)
}

/// Whether the start bitmap `starts` (see [`Trie::starts`](Trie)) has `c` (none beyond the
/// BMP).
#[inline(always)]
pub(crate) fn listed(starts: &[u64; 1024], c: u32) -> bool {
    c < 0x1_0000 && starts[(c >> 6) as usize] >> (c & 63) & 1 != 0
}

/// The skip table of a trie (see [`TrieView::lead_step`]): a lead byte is looked up when some
/// key starts with a character that has it, and always for IDS operators (U+2FF0–U+2FFF, lead
/// E2), whose rule applies at unmatched positions.
fn lead_steps(trie: &Trie) -> [u8; 256] {
    let mut steps = [0u8; 256];
    for (b, step) in steps.iter_mut().enumerate() {
        *step = match b {
            0x00..=0x7F | 0x80..=0xBF | 0xF8..=0xFF => 1,
            0xC0..=0xDF => 2,
            0xE0..=0xEF => 3,
            _ => 4,
        };
    }
    steps[0xE2] = 0;
    let v = trie.view();
    for (hi, &block) in v.root_hi.iter().enumerate() {
        if block == 0 {
            continue;
        }
        let hi = hi as u32;
        let entries = v.root_lo[(block as usize) << 9..][..512].iter().step_by(2);
        if hi >= 0x08 {
            // Three- and four-byte characters: one lead byte for the whole block of 256, so
            // one key start in it is enough.
            if entries.clone().any(|&node| node & ROOT_NODE != 0) {
                let lead = if hi < 0x100 {
                    0xE0 | hi >> 4
                } else {
                    0xF0 | hi >> 10
                };
                steps[lead as usize] = 0;
            }
            continue;
        }
        for (lo, &node) in entries.enumerate() {
            if node & ROOT_NODE != 0 {
                if let Some(c) = char::from_u32(hi << 8 | lo as u32) {
                    steps[usize::from(c.encode_utf8(&mut [0; 4]).as_bytes()[0])] = 0;
                }
            }
        }
    }
    steps
}

/// The characters keys start with, in code point order.
pub(crate) fn key_starts<'a>(v: &'a TrieView<'a>) -> impl Iterator<Item = char> + 'a {
    v.root_hi
        .iter()
        .enumerate()
        .filter(|&(_, &block)| block != 0)
        .flat_map(move |(hi, _)| {
            (0..256u32)
                .map(move |lo| ((hi as u32) << 8) | lo)
                .filter(move |&c| v.root(c) != 0)
                .filter_map(char::from_u32)
        })
}

/// See [`Trie::start_ranges`].
fn start_ranges(trie: &Trie) -> Option<StartRanges> {
    let mut ranges: StartRanges = [(0xFF, 0, 0); 4];
    let mut used = 0usize;
    // UTF-8 keeps code point order, so the prefixes come in order.
    for c in key_starts(&trie.view()) {
        let mut utf8 = [0; 4];
        c.encode_utf8(&mut utf8);
        if c.is_ascii() {
            return None;
        }
        let (lead, second) = (utf8[0], utf8[1]);
        match used.checked_sub(1).map(|last| &mut ranges[last]) {
            Some((l, first, more)) if *l == lead && first.wrapping_add(*more) == second => {}
            Some((l, first, more)) if *l == lead && first.wrapping_add(*more + 1) == second => {
                *more += 1
            }
            _ if used == 4 => return None,
            _ => {
                ranges[used] = (lead, second, 0);
                used += 1;
            }
        }
    }
    Some(ranges)
}

/// Variation selectors: U+FE00–U+FE0F and U+E0100–U+E01EF.
#[inline(always)]
pub(crate) fn is_variation_selector(c: u32) -> bool {
    matches!(c, 0xFE00..=0xFE0F | 0xE0100..=0xE01EF)
}

/// Whether a key with value word `v` that ends later wins over the best key so far, `best`
/// (value words, 0 for none): it has a value of the same or a smaller priority class.
#[inline(always)]
pub(crate) fn beats(v: u32, best: u32) -> bool {
    v != 0 && (best == 0 || v >> 24 <= best >> 24)
}

/// Decodes the character that starts at `bytes[i]`; `bytes` is valid UTF-8 and `i` a boundary.
#[inline(always)]
pub(crate) fn decode(bytes: &[u8], i: usize) -> (u32, usize) {
    let b0 = bytes[i] as u32;
    if b0 < 0x80 {
        (b0, 1)
    } else if b0 < 0xE0 {
        (((b0 & 0x1F) << 6) | (bytes[i + 1] as u32 & 0x3F), 2)
    } else if b0 < 0xF0 {
        (
            ((b0 & 0x0F) << 12)
                | ((bytes[i + 1] as u32 & 0x3F) << 6)
                | (bytes[i + 2] as u32 & 0x3F),
            3,
        )
    } else {
        (
            ((b0 & 0x07) << 18)
                | ((bytes[i + 1] as u32 & 0x3F) << 12)
                | ((bytes[i + 2] as u32 & 0x3F) << 6)
                | (bytes[i + 3] as u32 & 0x3F),
            4,
        )
    }
}

impl<'a> TrieView<'a> {
    /// The node for a key's first character `c`, 0 when no key starts with it.
    #[inline(always)]
    pub(crate) fn root(&self, c: u32) -> u32 {
        self.root_entry(c).0 & ROOT_NODE
    }

    /// The root entry of `c`: the node for keys that start with `c` (0 when none) with the flags
    /// `ROOT_IN_KEY` and `ROOT_LONGER`, and its value word (0 when `c` alone is no key).
    #[inline(always)]
    pub(crate) fn root_entry(&self, c: u32) -> (u32, u32) {
        let i = root_slot(self.root_hi[(c >> 8) as usize], c);
        (self.root_lo[i], self.root_lo[i + 1])
    }

    /// Whether some key of two or more characters may start with `a` `b` (false: none does).
    #[inline(always)]
    pub(crate) fn pair_may(&self, a: u32, b: u32) -> bool {
        self.pair_filter().may(a, b)
    }

    /// The pair filter, for loops that keep it in registers.
    #[inline(always)]
    pub(crate) fn pair_filter(&self) -> PairFilter<'a> {
        self.pairs
    }

    /// The value of a node's value word (nonzero; see the image layout).
    #[inline(always)]
    pub(crate) fn resolve(&self, val: u32) -> Value<'a> {
        if val & VALUE_INLINE != 0 {
            // The builder only inlines valid characters.
            Value::Char(char::from_u32(val & 0x1F_FFFF).unwrap_or('\u{FFFD}'))
        } else {
            Value::Text(self.value((val & VALUE_ID) - 1))
        }
    }

    /// The value with index `id`.
    #[inline(always)]
    pub(crate) fn value(&self, id: u32) -> &'a str {
        let start = self.val_off[id as usize] as usize;
        let end = self.val_off[id as usize + 1] as usize;
        // Offsets were checked to be character boundaries when the trie was loaded.
        &self.values_text[start..end]
    }

    /// The edges of `node`, as (first, end) edge indexes.
    #[inline(always)]
    fn edge_range(&self, node: u32) -> (usize, usize) {
        let n = NODE_WORDS * node as usize;
        (
            self.nodes[n + 1] as usize,
            self.nodes[n + NODE_WORDS + 1] as usize,
        )
    }

    /// The edges of `node`: each character a key continues with, and the child for it (in
    /// no particular order).
    pub(crate) fn children(&self, node: u32) -> impl Iterator<Item = (u32, u32)> + 'a {
        let (lo, hi) = self.edge_range(node);
        let edges = self.edges;
        (lo..hi)
            .filter(move |&e| edges[2 * e] != EMPTY_SLOT)
            .map(move |e| (edges[2 * e], edges[2 * e + 1]))
    }

    /// The child of `node` for the character `c`, 0 when no key continues with it (the child
    /// filter first, as in [`TrieView::walk`]).
    #[inline(always)]
    pub(crate) fn step(&self, node: u32, c: u32) -> u32 {
        let n = NODE_WORDS * node as usize;
        let filter = u64::from(self.nodes[n + 2]) | u64::from(self.nodes[n + 3]) << 32;
        if filter >> child_filter_bit(c) & 1 == 0 {
            return 0;
        }
        self.child(node, c)
    }

    /// The value word of `node` (0: no key ends there).
    #[inline(always)]
    pub(crate) fn node_value(&self, node: u32) -> u32 {
        self.nodes[NODE_WORDS * node as usize]
    }

    #[inline(always)]
    fn child(&self, node: u32, c: u32) -> u32 {
        let (lo, hi) = self.edge_range(node);
        let edges = &self.edges[2 * lo..2 * hi];
        if hi - lo <= MAX_LIST_EDGES {
            for pair in edges.chunks_exact(2) {
                if pair[0] == c {
                    return pair[1];
                }
            }
            return 0;
        }
        let mask = hi - lo - 1;
        let mut slot = edge_hash(c, hi - lo);
        loop {
            let e = edges[2 * slot];
            if e == c {
                return edges[2 * slot + 1];
            }
            if e == EMPTY_SLOT {
                return 0;
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Given `node` for the character ending at `bytes[pos]`, finds the best key that is a prefix
    /// of the text from the key's start up to `bytes.len()`: the smallest priority, then the
    /// longest. Returns the end of the key and its value word (priority in the top byte; see
    /// [`TrieView::resolve`]).
    #[inline(always)]
    pub(crate) fn walk(&self, node: u32, bytes: &[u8], pos: usize) -> Option<(usize, u32)> {
        self.walk_on(node, bytes, pos, self.node_value(node), pos)
    }

    /// [`TrieView::walk`] with the next character `d` already decoded: it ends at `d_end`.
    #[inline(always)]
    pub(crate) fn walk_with(
        &self,
        node: u32,
        bytes: &[u8],
        pos: usize,
        d: u32,
        d_end: usize,
    ) -> Option<(usize, u32)> {
        let best = self.node_value(node);
        if self.skip_vs && is_variation_selector(d) {
            return self.walk_on(node, bytes, pos, best, pos);
        }
        match self.step(node, d) {
            0 => (best != 0).then_some((pos, best)),
            child => match self.node_value(child) {
                v if beats(v, best) => self.walk_on(child, bytes, d_end, v, d_end),
                _ => self.walk_on(child, bytes, d_end, best, pos),
            },
        }
    }

    /// The rest of a walk at `node`, for the character ending at `bytes[pos]`, with the best
    /// key so far (`best`, 0 for none) ending at `best_end`.
    #[inline(always)]
    fn walk_on(
        &self,
        mut node: u32,
        bytes: &[u8],
        mut pos: usize,
        mut best: u32,
        mut best_end: usize,
    ) -> Option<(usize, u32)> {
        while pos < bytes.len() {
            let (c, len) = decode(bytes, pos);
            if self.skip_vs && is_variation_selector(c) {
                pos += len;
                continue;
            }
            node = self.step(node, c);
            if node == 0 {
                break;
            }
            pos += len;
            let v = self.node_value(node);
            if beats(v, best) {
                best = v;
                best_end = pos;
            }
        }
        if best == 0 {
            None
        } else {
            Some((best_end, best))
        }
    }

    /// The best key (see [`TrieView::walk`]) at `bytes[pos]`: its end and its value.
    #[inline]
    pub(crate) fn longest(&self, bytes: &[u8], pos: usize) -> Option<(usize, Value<'a>)> {
        let (c, len) = decode(bytes, pos);
        let node = self.root(c);
        if node == 0 {
            return None;
        }
        self.walk(node, bytes, pos + len)
            .map(|(end, val)| (end, self.resolve(val)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trie_build::ROOT_LONGER;

    fn text(found: Option<(usize, Value<'_>)>) -> Option<(usize, String)> {
        found.map(|(end, v)| (end, v.with_str(str::to_string)))
    }
    use crate::trie_build::TrieBuilder;

    fn build(entries: &[(&str, &str, usize)]) -> Trie {
        let mut b = TrieBuilder::new();
        for &(k, v, p) in entries {
            b.add(k, v, p);
        }
        Trie::from_image(&b.finish())
    }

    #[test]
    fn longest_match_and_first_value_wins() {
        let t = build(&[
            ("头", "頭", 0),
            ("头发", "頭髮", 0),
            ("头发", "X", 0),
            ("a", "b", 0),
        ]);
        let v = t.view();
        assert!(v.lead_step[usize::from(b'a')] == 0 && v.lead_step[usize::from(b'b')] == 1);
        // 头 starts a key: its lead byte (E5) is looked up; IDS operators' (E2) always are.
        assert_eq!(
            (v.lead_step[0xE5], v.lead_step[0xE2], v.lead_step[0xE4]),
            (0, 0, 3)
        );
        assert_eq!(
            text(v.longest("头发长".as_bytes(), 0)),
            Some((6, "頭髮".to_string()))
        );
        assert_eq!(
            text(v.longest("头长".as_bytes(), 0)),
            Some((3, "頭".to_string()))
        );
        assert_eq!(text(v.longest("长".as_bytes(), 0)), None);
        // The match never runs past the end of the slice it is given.
        assert_eq!(
            text(v.longest(&"头发".as_bytes()[..3], 0)),
            Some((3, "頭".to_string()))
        );
        assert_eq!(t.max_key_chars(), 2);
    }

    #[test]
    fn smaller_priority_beats_longer_key() {
        // short_circuit[A = {ab}, B = {abc, x}]: at "abc" A has a match, so A's "ab" wins.
        let t = build(&[("ab", "1", 0), ("abc", "2", 1), ("x", "3", 1)]);
        let v = t.view();
        assert_eq!(text(v.longest(b"abcd", 0)), Some((2, "1".to_string())));
        assert_eq!(text(v.longest(b"xabc", 0)), Some((1, "3".to_string())));
        // Within one class the longest wins.
        let t = build(&[("a", "1", 1), ("abc", "2", 1), ("ab", "3", 2)]);
        assert_eq!(
            text(t.view().longest(b"abcd", 0)),
            Some((3, "2".to_string()))
        );
    }

    #[test]
    fn ascii_skip_follows_the_keys_first_characters() {
        let skip = |keys: &[&str]| {
            let entries: Vec<(&str, &str, usize)> = keys.iter().map(|&k| (k, "v", 0)).collect();
            build(&entries).view().ascii_skip
        };
        assert_eq!(skip(&["中文"]), AsciiSkip::Inert);
        let mut except = [0x80; 8];
        except[..3].copy_from_slice(b"BPS");
        let mut next = [ANY_NEXT; 8];
        next[..3].copy_from_slice(&[NO_ASCII_NEXT, b'N', b'Q']);
        assert_eq!(
            skip(&["SQL注入", "PN结", "B肝", "中"]),
            AsciiSkip::Except(except, next)
        );
        // A letter that is a key by itself, or goes on with two ASCII letters: any next byte.
        next[..3].copy_from_slice(&[ANY_NEXT, ANY_NEXT, b'Q']);
        assert_eq!(
            skip(&["SQL注入", "PN结", "PQ", "B", "B肝"]),
            AsciiSkip::Except(except, next)
        );
        assert_eq!(
            skip(&["A", "B", "C", "D", "E", "F", "G", "H"]),
            AsciiSkip::Except(*b"ABCDEFGH", [ANY_NEXT; 8])
        );
        assert_eq!(
            skip(&["A", "B", "C", "D", "E", "F", "G", "H", "I"]),
            AsciiSkip::Table
        );
    }

    #[test]
    fn many_children_hash_table() {
        let keys: Vec<String> = (0..100u32)
            .map(|i| format!("的{}", char::from_u32(0x4E00 + i * 7).unwrap()))
            .collect();
        let mut b = TrieBuilder::new();
        for (i, k) in keys.iter().enumerate() {
            b.add(k, &i.to_string(), 0);
        }
        let t = Trie::from_image(&b.finish());
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(
                text(t.view().longest(k.as_bytes(), 0)),
                Some((k.len(), i.to_string()))
            );
        }
        assert_eq!(t.view().longest("的的".as_bytes(), 0), None);
    }

    #[test]
    fn root_entries_and_pair_filter_agree_with_the_keys() {
        // Every built-in trie: each key's characters are marked as in a key, a first character
        // is marked as starting a longer key exactly when one does, its value word is the
        // one-character key's, and the pair filter passes the first two characters of every
        // longer key (a Bloom filter may pass more, never fewer).
        for id in 0..crate::tables::trie_count() {
            let t = crate::tables::trie(id);
            let v = t.view();
            let entries = t.entries();
            let mut longer = std::collections::HashSet::new();
            for (key, _) in &entries {
                let chars: Vec<u32> = key.chars().map(|c| c as u32).collect();
                for &c in &chars {
                    assert!(v.root_entry(c).0 & ROOT_IN_KEY != 0, "{key}");
                }
                if chars.len() > 1 {
                    longer.insert(chars[0]);
                    assert!(v.pair_may(chars[0], chars[1]), "{key}");
                }
            }
            for (key, value) in &entries {
                let mut chars = key.chars();
                let first = chars.next().unwrap() as u32;
                let (entry, val) = v.root_entry(first);
                assert_eq!(entry & ROOT_LONGER != 0, longer.contains(&first), "{key}");
                if chars.next().is_none() {
                    assert_eq!(v.resolve(val).with_str(str::to_string), *value, "{key}");
                }
            }
            assert_eq!(v.root_entry('\u{10FFFD}' as u32), (0, 0));
        }
    }

    #[test]
    fn decode_every_length_near_and_far_from_the_end() {
        let text = "a\u{e9}\u{4e2d}\u{20bb7}\u{7f}\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}";
        for pad in ["", "xyzw"] {
            let padded = format!("{text}{pad}");
            let bytes = padded.as_bytes();
            for (i, c) in text.char_indices() {
                assert_eq!(decode(bytes, i), (c as u32, c.len_utf8()), "{c:?} {pad:?}");
            }
        }
    }
}
