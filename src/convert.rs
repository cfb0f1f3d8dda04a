//! The conversion engine, with OpenCC 1.4.2's exact semantics.
//!
//! 1. *Normalization*: each normalization step runs over the whole text (OpenCC 1.4: CJK
//!    compatibility ideographs to unified ones).
//! 2. *Segmentation* (configs that have one): greedy forward longest match over the segmentation
//!    dictionary; each matched key is a segment, and each run of unmatched characters is ONE
//!    segment. Without segmentation the whole text is one segment.
//! 3. *Conversion chain*, segment by segment: step 1 scans the segment, at each position taking
//!    the best key that is a prefix of the rest of the segment (never looking past its end),
//!    emitting its value and jumping past it; where nothing matches it copies one character, or a
//!    whole complete Ideographic Description Sequence. Step 2 scans step 1's output the same way.
//!
//! Every pass is the same scanner ([`scan`]) over a [`Matcher`]: a trie (a dictionary or a group
//! flattened with priorities, see [`crate::trie_build`]) or, for the one group shape that does not
//! flatten, a tree of them.

use crate::ids;
#[cfg(test)]
use crate::trie::NO_ASCII_NEXT;
use crate::trie::{
    decode, is_variation_selector, listed, AsciiSkip, StartRanges, StartSkip, Trie, TrieView,
    Value, ANY_NEXT,
};
use crate::trie_build::{ROOT_LONGER, ROOT_NODE, VALUE_INLINE};

/// A compiled dictionary or dictionary group.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    /// A dictionary, or a group flattened into one trie.
    Trie(Trie),
    /// `union`: the longest match over the members; on a tie the earlier member.
    Union(Vec<Matcher>),
    /// `short_circuit`: the first member that has a match.
    ShortCircuit(Vec<Matcher>),
}

impl Matcher {
    fn longest<'m>(&'m self, bytes: &[u8], pos: usize) -> Option<(usize, Value<'m>)> {
        match self {
            Matcher::Trie(t) => t.view().longest(bytes, pos),
            Matcher::ShortCircuit(members) => members.iter().find_map(|m| m.longest(bytes, pos)),
            Matcher::Union(members) => {
                let mut best: Option<(usize, Value<'_>)> = None;
                for m in members {
                    if let Some(found) = m.longest(bytes, pos) {
                        match best {
                            Some(b) if found.0 <= b.0 => {}
                            _ => best = Some(found),
                        }
                    }
                }
                best
            }
        }
    }

    /// What the single character `c` becomes when it stands alone, if any key is just `c`.
    pub(crate) fn single(&self, c: char) -> Option<Value<'_>> {
        let mut buf = [0u8; 4];
        let s = c.encode_utf8(&mut buf);
        self.longest(s.as_bytes(), 0).map(|(_, v)| v)
    }

    /// Whether some key starts with the character `c`.
    fn starts(&self, c: u32) -> bool {
        match self {
            Matcher::Trie(t) => t.view().root(c) != 0,
            Matcher::Union(members) | Matcher::ShortCircuit(members) => {
                members.iter().any(|m| m.starts(c))
            }
        }
    }

    /// See [`TrieView::lead_step`].
    fn lead_step(&self) -> [u8; 256] {
        match self {
            Matcher::Trie(t) => *t.view().lead_step,
            Matcher::Union(members) | Matcher::ShortCircuit(members) => {
                // A byte is looked up if any member looks it up.
                members.iter().fold([u8::MAX; 256], |mut steps, m| {
                    steps
                        .iter_mut()
                        .zip(m.lead_step())
                        .for_each(|(a, b)| *a = (*a).min(b));
                    steps
                })
            }
        }
    }

    /// Whether `c` occurs anywhere in a key.
    fn in_keys(&self, c: u32) -> bool {
        match self {
            Matcher::Trie(t) => t.in_keys(c),
            Matcher::Union(members) | Matcher::ShortCircuit(members) => {
                members.iter().any(|m| m.in_keys(c))
            }
        }
    }

    /// The longest key in characters.
    pub(crate) fn max_key_chars(&self) -> usize {
        match self {
            Matcher::Trie(t) => t.max_key_chars(),
            Matcher::Union(m) | Matcher::ShortCircuit(m) => {
                m.iter().map(Matcher::max_key_chars).max().unwrap_or(0)
            }
        }
    }
}

/// `value` with the variation selectors of `key` after the characters they follow in `key`
/// (character for character when both have as many base characters, else at the end).
fn attach_selectors(key: &str, value: Value<'_>) -> String {
    let mut runs: Vec<String> = Vec::new();
    for c in key.chars() {
        if is_variation_selector(c as u32) {
            if let Some(run) = runs.last_mut() {
                run.push(c);
            }
        } else {
            runs.push(String::new());
        }
    }
    let value = value.with_str(str::to_string);
    let mut out = String::with_capacity(value.len() + key.len());
    if value.chars().count() == runs.len() {
        for (c, run) in value.chars().zip(&runs) {
            out.push(c);
            out.push_str(run);
        }
    } else {
        out.push_str(&value);
        runs.iter().for_each(|r| out.push_str(r));
    }
    out
}

/// What the scanner needs from a dictionary: the best key at a position.
trait Prefix {
    /// Whether matches walk over variation selectors.
    fn skips_vs(&self) -> bool {
        false
    }
    /// Whether each ASCII byte starts some key (the others are skipped without lookups).
    fn lead_step(&self) -> &[u8; 256];
    /// How runs of ASCII are skipped (see [`AsciiSkip`]).
    fn ascii_skip(&self) -> AsciiSkip;
    /// For a dictionary whose keys start with few characters: a bit per BMP code point, set
    /// where a key may start (see `Trie::starts`).
    fn starts(&self) -> Option<&[u64; 1024]> {
        None
    }
    /// With `starts`, where keys start at few characters: how to find those (see
    /// [`StartSkip`]).
    fn start_leads(&self) -> Option<&StartSkip> {
        None
    }
    /// The best key at `pos`, whose first character `c` is `len` bytes long: its end, its value
    /// and its priority class.
    fn at(&self, bytes: &[u8], pos: usize, c: u32, len: usize) -> Option<(usize, Value<'_>, u32)>;
}

impl Prefix for TrieView<'_> {
    #[inline(always)]
    fn skips_vs(&self) -> bool {
        self.skip_vs
    }

    #[inline(always)]
    fn lead_step(&self) -> &[u8; 256] {
        self.lead_step
    }

    #[inline(always)]
    fn ascii_skip(&self) -> AsciiSkip {
        self.ascii_skip
    }

    #[inline(always)]
    fn starts(&self) -> Option<&[u64; 1024]> {
        self.starts
    }

    #[inline(always)]
    fn start_leads(&self) -> Option<&StartSkip> {
        self.start_leads
    }

    #[inline(always)]
    fn at(&self, bytes: &[u8], pos: usize, c: u32, len: usize) -> Option<(usize, Value<'_>, u32)> {
        let (entry, val) = self.root_entry(c);
        let node = entry & ROOT_NODE;
        if node == 0 {
            return None;
        }
        let next = pos + len;
        // Most keys are one or two characters long, and at most positions no longer key starts
        // with the character and the next: the pair filter says so without the node's edges.
        if next < bytes.len() && !self.skip_vs {
            let (d, _) = decode(bytes, next);
            if !self.pair_may(c, d) {
                return (val != 0).then(|| (next, self.resolve(val), val >> 24));
            }
        }
        self.walk(node, bytes, next)
            .map(|(end, val)| (end, self.resolve(val), val >> 24))
    }
}

/// A tree-shaped group, with its skip table and ASCII skip computed once.
struct Tree<'m>(&'m Matcher, [u8; 256], AsciiSkip);

impl Prefix for Tree<'_> {
    fn lead_step(&self) -> &[u8; 256] {
        &self.1
    }

    fn ascii_skip(&self) -> AsciiSkip {
        self.2
    }

    fn at(
        &self,
        bytes: &[u8],
        pos: usize,
        _c: u32,
        _len: usize,
    ) -> Option<(usize, Value<'_>, u32)> {
        self.0
            .longest(bytes, pos)
            .map(|(end, value)| (end, value, 0))
    }
}

/// What a pass reports, in text order.
trait Sink<'t> {
    /// Unmatched text, copied as it is.
    fn copy(&mut self, run: &'t str);
    /// A key and the value it becomes; `class` is the key's priority class.
    fn replace(&mut self, key: &'t str, value: Value<'_>, class: u32);
    /// The end of a segment of the input was reached.
    fn end_segment(&mut self) {}
}

/// Scans `text` with OpenCC's greedy longest match, segment by segment: `segment_ends` are the
/// segments' end offsets, increasing, the last one `text.len()` (empty for an empty text). No
/// match reaches past the end of its segment.
#[inline(always)]
fn scan<'t, P: Prefix, S: Sink<'t>>(p: &P, text: &'t str, segment_ends: &[usize], sink: &mut S) {
    let lead_step = p.lead_step();
    let ascii_skip = p.ascii_skip();
    let starts = p.starts();
    let leads = p.start_leads();
    let mut start = 0;
    for &end in segment_ends {
        let bytes = &text.as_bytes()[..end];
        let mut copied = start;
        let mut i = start;
        while i < end {
            let skipped = skip_from(bytes, i, lead_step, ascii_skip, starts, leads);
            if skipped != i {
                i = skipped;
                continue;
            }
            let (c, len) = decode(bytes, i);
            if let Some((key_end, value, class)) = p.at(bytes, i, c, len) {
                if copied < i {
                    sink.copy(&text[copied..i]);
                }
                let key = &text[i..key_end];
                if p.skips_vs() && key.chars().any(|c| is_variation_selector(c as u32)) {
                    // The key was matched across variation selectors: put them back after the
                    // characters they followed.
                    let attached = attach_selectors(key, value);
                    sink.replace(key, Value::Text(&attached), class);
                } else {
                    sink.replace(key, value, class);
                }
                i = key_end;
                copied = key_end;
                continue;
            }
            // U+2FF0..=U+2FFF, every one an IDS operator (`ids::arity` != 0).
            if c & !0xF == 0x2FF0 {
                let ids_len = ids::complete_len(&bytes[i..]);
                if ids_len != 0 {
                    i += ids_len;
                    continue;
                }
            }
            i += len;
        }
        if copied < end {
            sink.copy(&text[copied..end]);
        }
        sink.end_segment();
        start = end;
    }
}

/// The code point of the character of three bytes at `bytes[i]`.
#[inline(always)]
fn three_byte(bytes: &[u8], i: usize) -> u32 {
    u32::from(bytes[i] & 0x0F) << 12
        | u32::from(bytes[i + 1] & 0x3F) << 6
        | u32::from(bytes[i + 2] & 0x3F)
}

/// The length of the character at `bytes[i]` if it starts no key, as the skip table
/// `lead_step` and the BMP bitmap `starts` (where there is one) tell without a lookup; else 0.
#[inline(always)]
fn no_start_at(
    bytes: &[u8],
    i: usize,
    lead_step: &[u8; 256],
    starts: Option<&[u64; 1024]>,
) -> usize {
    let b0 = bytes[i];
    match (lead_step[usize::from(b0)], starts) {
        (0, Some(starts)) if b0 & 0xF0 == 0xE0 => {
            if listed(starts, three_byte(bytes, i)) {
                0
            } else {
                3
            }
        }
        (step, _) => usize::from(step),
    }
}

/// From `i`: the end of the run of characters that start no key (see [`no_start_at`]), skipped
/// in a tight loop, or `i` itself where the character may start one.
#[inline(always)]
pub(crate) fn skip_from(
    bytes: &[u8],
    i: usize,
    lead_step: &[u8; 256],
    ascii_skip: AsciiSkip,
    starts: Option<&[u64; 1024]>,
    leads: Option<&StartSkip>,
) -> usize {
    match no_start_at(bytes, i, lead_step, starts) {
        0 => i,
        step => match (starts, leads) {
            (Some(starts), Some(leads)) => skip_to_start(bytes, i + step, starts, leads),
            _ => skip_run(bytes, i + step, lead_step, ascii_skip, starts),
        },
    }
}

/// The end of the run of characters from `i` that start no key (see [`no_start_at`]).
#[inline(always)]
fn skip_run(
    bytes: &[u8],
    mut i: usize,
    lead_step: &[u8; 256],
    ascii_skip: AsciiSkip,
    starts: Option<&[u64; 1024]>,
) -> usize {
    while i < bytes.len() {
        if bytes[i] < 0x80 {
            i = skip_ascii_run(ascii_skip, bytes, i, lead_step);
            if i >= bytes.len() {
                break;
            }
        }
        match no_start_at(bytes, i, lead_step, starts) {
            0 => break,
            step => i += step,
        }
    }
    i
}

/// [`skip_run`] where the skip table looks up few ranges of bytes (`leads`): the bytes in them
/// are found a block at a time, and each is looked at as [`no_start_at`] would (a character of
/// three bytes in the bitmap `starts`, another at once; not through it: its load of the skip
/// table cost 3% of t2tw's instructions). Neither the characters between them
/// nor their kind are looked at one by one: in Chinese text with a space between words, the
/// step-by-step loop's next position waited on two loads (the byte, its step) at every
/// character, and its branch on the kind of character went wrong at most changes of kind.
/// Where the characters that may start a key have fingerprints (see [`crate::bytes::Prints`]),
/// those are found 32 bytes at a time first, and only the candidates looked at: in Traditional
/// text, t2tw's keys start at 0.3% of the characters, but the lead bytes of 97% of them are
/// looked up.
#[inline(never)]
fn skip_to_start(bytes: &[u8], mut i: usize, starts: &[u64; 1024], skip: &StartSkip) -> usize {
    let lead = |x: u8| skip.lead(x);
    // At a lead byte the skip table looks up: whether a key may start there.
    let may_start = |k: usize| {
        let b0 = bytes[k];
        b0 & 0xF0 != 0xE0 || listed(starts, three_byte(bytes, k))
    };
    let mut found = bytes.len();
    if let Some(prints) = skip.prints(starts) {
        // (No candidate is a continuation byte.)
        let done = !prints.each(
            bytes,
            i,
            &mut i,
            #[inline(always)]
            |k| {
                // Of three bytes, the candidate's lead byte is looked up (see `Prints::new`).
                if (bytes[k] & 0xF0 == 0xE0 || lead(bytes[k])) && may_start(k) {
                    found = k;
                    return false;
                }
                true
            },
        );
        if done {
            return found;
        }
    }
    crate::bytes::each(
        bytes,
        i,
        |x, _, _| lead(x),
        |k| {
            if !may_start(k) {
                return true;
            }
            found = k;
            false
        },
    );
    found
}

/// The offset at or after `i` where a run of ASCII that starts no key ends, or one of the last
/// bytes, in the way `skip` says (no dependency from one byte's lookup to the next, unlike a
/// step per character).
#[inline(always)]
fn skip_ascii_run(skip: AsciiSkip, bytes: &[u8], i: usize, lead_step: &[u8; 256]) -> usize {
    match skip {
        AsciiSkip::Inert => skip_ascii(bytes, i),
        AsciiSkip::Except(starters, next) => skip_ascii_but(bytes, i, &starters, &next),
        AsciiSkip::Table => skip_inert_ascii(bytes, i, lead_step),
    }
}

/// The first offset at or after `i` that is not ASCII, or one of the last bytes: eight bytes
/// at a time, by their high bits (no dependency from one byte's lookup to the next, unlike a
/// step per character).
#[inline(always)]
fn skip_ascii(bytes: &[u8], mut i: usize) -> usize {
    while let Some(word) = bytes.get(i..i + 8) {
        let word = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let high = word & 0x8080_8080_8080_8080;
        if high != 0 {
            return i + (high.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    i
}

/// The first offset at or after `i` of a block of sixteen bytes that is not all ASCII other
/// than `starters` (padded with a byte that is not ASCII), or of the last bytes; past a first
/// clean block, the first such byte itself, found 64 bytes at a time (see [`crate::bytes`]).
/// Comparisons only, which vectorize. Where `next` says what must follow a letter for a key to
/// start at it (see [`AsciiSkip::Except`]), the letters found are looked at with the byte after
/// them, and the scan goes on past those no key starts at.
#[inline(always)]
fn skip_ascii_but(bytes: &[u8], i: usize, starters: &[u8; 8], next: &[u8; 8]) -> usize {
    let stops = |b: u8| (b >= 0x80) | starters.iter().fold(false, |hit, &s| hit | (b == s));
    match bytes.get(i..i + 16) {
        Some(block) if !block.iter().fold(false, |stop, &b| stop | stops(b)) => {
            starts_past(bytes, i + 16, starters, next, stops)
        }
        Some(_) if next.iter().any(|&n| n != ANY_NEXT) => {
            starts_past(bytes, i, starters, next, stops)
        }
        _ => i,
    }
}

/// The first offset at or after `i` where `stops` holds for the byte there and, for a letter
/// of `starters`, the byte after it may follow it in a key (see [`skip_ascii_but`]).
#[inline(always)]
fn starts_past(
    bytes: &[u8],
    i: usize,
    starters: &[u8; 8],
    next: &[u8; 8],
    stops: impl Fn(u8) -> bool,
) -> usize {
    let mut found = bytes.len();
    crate::bytes::each(
        bytes,
        i,
        |b, _, _| stops(b),
        |k| {
            let b = bytes[k];
            let may_start = b >= 0x80 || {
                let after = bytes.get(k + 1).copied().unwrap_or(0);
                let n = starters
                    .iter()
                    .position(|&s| s == b)
                    .map_or(ANY_NEXT, |at| next[at]);
                after >= 0x80 || after == n || n == ANY_NEXT
            };
            if may_start {
                found = k;
            }
            !may_start
        },
    );
    found
}

/// The first offset at or after `i` of a block of sixteen bytes that is not all ASCII
/// starting no key (`lead_step` 1), or of the last bytes: the bytes' lookups are independent of
/// each other.
#[inline(always)]
fn skip_inert_ascii(bytes: &[u8], mut i: usize, lead_step: &[u8; 256]) -> usize {
    while let Some(block) = bytes.get(i..i + 16) {
        let inert = block.iter().fold(true, |all, &b| {
            all & (b < 0x80) & (lead_step[usize::from(b)] == 1)
        });
        if !inert {
            break;
        }
        i += 16;
    }
    i
}

/// Texts from this length on are converted with a trie's per-code-point table where it has
/// one (see [`crate::dense`]; making it takes about 0.2 ms).
const DENSE_MIN_BYTES: usize = 16 * 1024;

/// What a conversion pass writes: the converted text, and, when asked, where each segment's
/// output ends (then `out` starts empty).
struct Output<'a> {
    out: &'a mut String,
    ends: Option<&'a mut Vec<usize>>,
    /// Segmentation is fused into this pass: a key of priority class 0 is a segment of its own
    /// (as with [`Fused`]).
    fused: bool,
}

impl Output<'_> {
    /// Writes the value of a key of priority class `class`.
    #[inline(always)]
    fn value(&mut self, value: Value<'_>, class: u32) {
        if self.fused && class == 0 {
            if let Some(ends) = self.ends.as_deref_mut() {
                push_end(ends, self.out.len());
                value.push_to(self.out);
                push_end(ends, self.out.len());
                return;
            }
        }
        value.push_to(self.out);
    }

    #[inline(always)]
    fn end_segment(&mut self) {
        if let Some(ends) = self.ends.as_deref_mut() {
            push_end(ends, self.out.len());
        }
    }
}

/// A conversion pass of one trie: [`scan`] with the [`Convert`] or [`Fused`] sink, written out
/// for the common case. A character that starts a key, and the next one, are looked up in the
/// pair filter first; where no longer key can start with them (most positions), the
/// character's own entry in the root table decides, without the trie's nodes.
fn convert_trie(v: &TrieView<'_>, text: &str, segment_ends: &[usize], out: &mut Output<'_>) {
    let lead_step = v.lead_step;
    let ascii_skip = v.ascii_skip;
    let starts = v.starts;
    let leads = v.start_leads;
    let mut start = 0;
    for &end in segment_ends {
        let bytes = &text.as_bytes()[..end];
        // Text from `copied` to `i` is unchanged and not yet written.
        let mut copied = start;
        let mut i = start;
        while i < end {
            if let Some(dense) = v.dense.filter(|_| crate::dense::worth_entering(bytes, i)) {
                // The table decides most positions; this loop takes one where it does not
                // (and ASCII, which it skips in runs).
                out.out.push_str(&text[copied..i]);
                i = crate::dense::run(v, dense, text, i, end, out.out);
                copied = i;
                if i == end {
                    break;
                }
            }
            let skipped = skip_from(bytes, i, lead_step, ascii_skip, starts, leads);
            if skipped != i {
                i = skipped;
                continue;
            }
            // Characters one after the other, each decoded once: as the next character when
            // looking for longer keys, then as the character.
            let (mut c, mut len) = decode(bytes, i);
            loop {
                let (entry, val) = v.root_entry(c);
                let next = i + len;
                let (d, d_len) = if next < end {
                    decode(bytes, next)
                } else {
                    (0, 0)
                };
                if entry & ROOT_LONGER != 0 && d_len != 0 && v.pair_may(c, d) {
                    if let Some((key_end, val)) = v.walk(entry & ROOT_NODE, bytes, next) {
                        out.out.push_str(&text[copied..i]);
                        out.value(v.resolve(val), val >> 24);
                        i = key_end;
                        copied = i;
                        break;
                    }
                } else if val != 0 {
                    out.out.push_str(&text[copied..i]);
                    if val & VALUE_INLINE != 0 && !(out.fused && val >> 24 == 0) {
                        // The builder inlines only characters.
                        out.out
                            .push(char::from_u32(val & 0x1F_FFFF).unwrap_or('\u{FFFD}'));
                    } else {
                        out.value(v.resolve(val), val >> 24);
                    }
                    copied = next;
                }
                // Else no key here (`val` is 0 after a failed walk: the walk starts from the
                // node's own value).
                if val == 0 && c & !0xF == 0x2FF0 {
                    // U+2FF0..=U+2FFF, every one an IDS operator: a complete IDS is copied whole.
                    let ids_len = ids::complete_len(&bytes[i..]);
                    if ids_len != 0 {
                        i += ids_len;
                        break;
                    }
                }
                i = next;
                if d_len == 0 || v.dense.is_some() || no_start_at(bytes, i, lead_step, starts) != 0
                {
                    break;
                }
                (c, len) = (d, d_len);
            }
        }
        out.out.push_str(&text[copied..end]);
        out.end_segment();
        start = end;
    }
}

/// Segments `text` with one trie (see [`Segments`]), appending the segments' ends to `ends`.
pub(crate) fn segment_into(v: &TrieView<'_>, text: &str, ends: &mut Vec<usize>) {
    if !text.is_empty() {
        scan(v, text, &[text.len()], &mut Segments { ends, pos: 0 });
    }
}

/// Converts the segments of `text` that end at `segment_ends` with one trie, appending to `out`
/// and, when asked, each segment's end in `out` to `ends` (see [`Output`]).
pub(crate) fn convert_trie_segments(
    v: &TrieView<'_>,
    text: &str,
    segment_ends: &[usize],
    out: &mut String,
    ends: Option<&mut Vec<usize>>,
    fused: bool,
) {
    convert_trie(v, text, segment_ends, &mut Output { out, ends, fused });
}

/// Converts `text` with one trie as one segment, appending to `out`.
pub(crate) fn convert_trie_into(v: &TrieView<'_>, text: &str, out: &mut String) {
    if !text.is_empty() {
        convert_trie_segments(v, text, &[text.len()], out, None, false);
    }
}

/// Runs one pass of `m` over `text` into `sink`, walking over variation selectors with `vs`
/// (see `Engine::attach_vs`).
fn pass_vs<'t>(
    m: &Matcher,
    text: &'t str,
    segment_ends: &[usize],
    sink: &mut impl Sink<'t>,
    vs: bool,
) {
    match m {
        Matcher::Trie(t) => {
            let mut view = t.view();
            view.skip_vs = vs;
            scan(&view, text, segment_ends, sink)
        }
        tree => {
            let lead_step = tree.lead_step();
            let ascii_skip = AsciiSkip::of(&lead_step);
            scan(&Tree(tree, lead_step, ascii_skip), text, segment_ends, sink)
        }
    }
}

/// Pushes `end` onto `ends` unless it repeats the last one (an empty segment changes nothing).
#[inline(always)]
fn push_end(ends: &mut Vec<usize>, end: usize) {
    if ends.last().is_none_or(|&last| end > last) {
        ends.push(end);
    }
}

/// Segmentation: records where each segment ends.
struct Segments<'a> {
    ends: &'a mut Vec<usize>,
    pos: usize,
}

impl<'t> Sink<'t> for Segments<'_> {
    fn copy(&mut self, run: &'t str) {
        self.pos += run.len();
    }

    fn replace(&mut self, key: &'t str, _value: Value<'_>, _class: u32) {
        // A matched key is a segment of its own, and ends the unmatched run before it.
        push_end(self.ends, self.pos);
        self.pos += key.len();
        push_end(self.ends, self.pos);
    }

    fn end_segment(&mut self) {
        push_end(self.ends, self.pos);
    }
}

/// A conversion step: appends to `out` and, when asked, records where each segment's output
/// ends (then `out` starts empty).
struct Convert<'a> {
    out: &'a mut String,
    ends: Option<&'a mut Vec<usize>>,
}

impl<'t> Sink<'t> for Convert<'_> {
    #[inline(always)]
    fn copy(&mut self, run: &'t str) {
        self.out.push_str(run);
    }

    #[inline(always)]
    fn replace(&mut self, _key: &'t str, value: Value<'_>, _class: u32) {
        value.push_to(self.out);
    }

    fn end_segment(&mut self) {
        if let Some(ends) = self.ends.as_deref_mut() {
            push_end(ends, self.out.len());
        }
    }
}

/// Segmentation fused into the first step (see [`Engine::fused`]): converts like [`Convert`],
/// and a key of priority class 0 is a segment of its own.
struct Fused<'a> {
    out: &'a mut String,
    ends: &'a mut Vec<usize>,
}

impl<'t> Sink<'t> for Fused<'_> {
    #[inline(always)]
    fn copy(&mut self, run: &'t str) {
        self.out.push_str(run);
    }

    #[inline(always)]
    fn replace(&mut self, _key: &'t str, value: Value<'_>, class: u32) {
        if class == 0 {
            push_end(self.ends, self.out.len());
            value.push_to(self.out);
            push_end(self.ends, self.out.len());
        } else {
            value.push_to(self.out);
        }
    }

    fn end_segment(&mut self) {
        push_end(self.ends, self.out.len());
    }
}

/// Splits `text` by the keys of `trie` (greedy longest match, as everywhere): `piece(run, None)`
/// for text between matches, `piece(key, Some(value))` for each match.
pub(crate) fn split_by(trie: &Trie, text: &str, mut piece: impl FnMut(&str, Option<&str>)) {
    struct Split<F>(F);
    impl<'t, F: FnMut(&str, Option<&str>)> Sink<'t> for Split<F> {
        fn copy(&mut self, run: &'t str) {
            (self.0)(run, None);
        }
        fn replace(&mut self, key: &'t str, value: Value<'_>, _class: u32) {
            value.with_str(|v| (self.0)(key, Some(v)));
        }
    }
    let ends = if text.is_empty() {
        vec![]
    } else {
        vec![text.len()]
    };
    scan(&trie.view(), text, &ends, &mut Split(&mut piece));
}

/// The shortest text for which an engine makes its composed chain's table (see
/// [`crate::compose`]); shorter texts are converted with the passes until some longer one has
/// made it.
const COMPOSE_MIN_BYTES: usize = 32 * 1024;

/// From this length on, a text's conversion starts by bringing the tables its loops read into
/// the cache (see `crate::dense::touch`), where its first bytes are mostly beyond ASCII.
const WARM_MIN_BYTES: usize = 32 * 1024;

/// Whether the table loops' tables are worth bringing into the cache before converting `text`
/// (see [`WARM_MIN_BYTES`]).
fn worth_warming(text: &str) -> bool {
    text.len() >= WARM_MIN_BYTES && crate::dense::mostly_wide(text)
}

/// A compiled config: the three phases, each a list of matchers.
#[derive(Debug, Clone)]
pub(crate) struct Engine {
    pub(crate) normalization: Vec<Matcher>,
    pub(crate) segmentation: Option<Matcher>,
    pub(crate) chain: Vec<Matcher>,
    /// Segmentation and the first step run as one pass. Set only where that is provably the
    /// same (see `trie_build::fusable`): the first step's priority class 0 holds exactly the
    /// segmentation dictionary's keys, and its other classes only single characters that are
    /// not IDS operators. Then both passes stop at the same positions and, there, the segmenter
    /// matches exactly when the step matches a class-0 key, with the same key; so the step's
    /// output over the whole text equals its outputs over the segments, and class-0 keys mark
    /// the segments.
    pub(crate) fused: bool,
    /// The first step's priority classes, as dictionary files (empty when not flattenable),
    /// and where a config file's dictionaries are (`None`: built in).
    pub(crate) first_classes: Vec<Vec<String>>,
    pub(crate) dict_dir: Option<std::path::PathBuf>,
    /// Variation selectors stay with their base character and do not block matches: a walk
    /// steps over them, and they are put back after the converted characters (OpenCC, and the
    /// default, treat them as ordinary characters that end every match).
    pub(crate) attach_vs: bool,
    /// The composed chain's table (see [`crate::compose`]), made on first use and shared by
    /// clones (a built-in config's engines share one).
    pub(crate) compose_table: std::sync::Arc<std::sync::OnceLock<crate::compose::Table>>,
}

impl Engine {
    /// One pass of `m`, with this engine's handling of variation selectors.
    fn pass<'t>(
        &self,
        m: &Matcher,
        text: &'t str,
        segment_ends: &[usize],
        sink: &mut impl Sink<'t>,
    ) {
        pass_vs(m, text, segment_ends, sink, self.attach_vs)
    }

    /// One conversion pass of `m` into `out` (see [`Output`]).
    fn convert_pass(
        &self,
        m: &Matcher,
        text: &str,
        segment_ends: &[usize],
        out: &mut String,
        ends: Option<&mut Vec<usize>>,
        fused: bool,
    ) {
        match (m, ends) {
            (Matcher::Trie(t), ends) if !self.attach_vs => {
                // The table loop records no segment ends (it writes a key of priority class 0,
                // a segment of its own where segmentation is fused, as any other).
                let v = if text.len() >= DENSE_MIN_BYTES && ends.is_none() {
                    t.view_for(text)
                } else {
                    t.view()
                };
                if let Some(dense) = v.dense.filter(|_| worth_warming(text)) {
                    dense.warm(v.pair_filter());
                }
                convert_trie_segments(&v, text, segment_ends, out, ends, fused)
            }
            (_, Some(ends)) if fused => self.pass(m, text, segment_ends, &mut Fused { out, ends }),
            (_, ends) => self.pass(m, text, segment_ends, &mut Convert { out, ends }),
        }
    }

    /// Runs normalization and the first conversion step over `text`, calling
    /// `found(offset, key, value, class)` for every match of that step, with the offset in the
    /// normalized text.
    pub(crate) fn first_step_matches(
        &self,
        text: &str,
        mut found: impl FnMut(usize, &str, &str, u32),
    ) {
        struct Matches<F> {
            pos: usize,
            found: F,
        }
        impl<'t, F: FnMut(usize, &str, &str, u32)> Sink<'t> for Matches<F> {
            fn copy(&mut self, run: &'t str) {
                self.pos += run.len();
            }
            fn replace(&mut self, key: &'t str, value: Value<'_>, class: u32) {
                value.with_str(|v| (self.found)(self.pos, key, v, class));
                self.pos += key.len();
            }
        }
        let Some(first) = self.chain.first() else {
            return;
        };
        let normalized = self.normalize(text);
        let text = &*normalized;
        if text.is_empty() {
            return;
        }
        let mut ends = vec![text.len()];
        if let (Some(seg), false) = (&self.segmentation, self.fused) {
            ends.clear();
            self.pass(
                seg,
                text,
                &[text.len()],
                &mut Segments {
                    ends: &mut ends,
                    pos: 0,
                },
            );
        }
        self.pass(
            first,
            text,
            &ends,
            &mut Matches {
                pos: 0,
                found: &mut found,
            },
        );
    }

    /// The normalization phase: each step over the whole text.
    pub(crate) fn normalize<'t>(&self, text: &'t str) -> std::borrow::Cow<'t, str> {
        let mut text = std::borrow::Cow::Borrowed(text);
        for step in &self.normalization {
            // Most text holds no key of a normalization step (compatibility ideographs are
            // rare): then the step would copy it unchanged.
            if !starts_any(&[step], &text) {
                continue;
            }
            if !self.attach_vs {
                if let Some(replaced) = replace_singles(step, &text) {
                    if let Some(replaced) = replaced {
                        text = std::borrow::Cow::Owned(replaced);
                    }
                    continue;
                }
            }
            let mut next = String::with_capacity(text.len());
            self.convert_pass(step, &text, &[text.len()], &mut next, None, false);
            text = std::borrow::Cow::Owned(next);
        }
        text
    }

    /// Whether converting `text` could change it: some character starts a key of a step that
    /// rewrites text. (Segmentation never changes text, and IDS are copied.)
    pub(crate) fn may_change(&self, text: &str) -> bool {
        let steps: Vec<&Matcher> = self.normalization.iter().chain(&self.chain).collect();
        starts_any(&steps, text)
    }

    /// Whether `c` occurs in no key of any phase and is not an IDS operator (see
    /// [`last_safe_cut`]).
    pub(crate) fn inert(&self, c: char) -> bool {
        // Attached variation selectors belong to the character before them.
        ids::arity(c as u32) == 0
            && !(self.attach_vs && is_variation_selector(c as u32))
            && !self
                .normalization
                .iter()
                .chain(&self.segmentation)
                .chain(&self.chain)
                .any(|m| m.in_keys(c as u32))
    }

    /// Converts `text`, appending the result to `out`.
    pub(crate) fn convert_into(&self, text: &str, out: &mut String) {
        if text.is_empty() {
            return;
        }
        let normalized = self.normalize(text);
        let text = &*normalized;
        // The composed chain's table takes about a millisecond to make: short texts go without
        // it (and without looking at the chain) until a longer one has made it.
        let short = text.len() < COMPOSE_MIN_BYTES && self.compose_table.get().is_none();
        match (!short).then(|| self.composed()).flatten() {
            Some(chain) => {
                let table = self
                    .compose_table
                    .get_or_init(|| crate::compose::Table::new(&chain));
                out.reserve(text.len() + text.len() / 4);
                if worth_warming(text) {
                    table.warm();
                }
                crate::compose::convert(&chain, table, text, out);
            }
            _ => self.convert_phases(text, out),
        }
    }

    /// The chain as one scan (see [`crate::compose`]), where it has that shape: two steps and
    /// every phase one trie, variation selectors not attached.
    pub(crate) fn composed(&self) -> Option<crate::compose::Chain<'_>> {
        fn trie(m: &Matcher) -> Option<TrieView<'_>> {
            match m {
                Matcher::Trie(t) => Some(t.view()),
                _ => None,
            }
        }
        match (&self.chain[..], &self.segmentation, self.attach_vs) {
            ([first, second], seg, false) => Some(crate::compose::Chain {
                seg: match seg {
                    Some(seg) if !self.fused => Some(trie(seg)?),
                    _ => None,
                },
                first: trie(first)?,
                fused: self.fused && seg.is_some(),
                second: trie(second)?,
            }),
            _ => None,
        }
    }

    /// Segmentation and the conversion chain over normalized `text`, as passes.
    pub(crate) fn convert_phases(&self, text: &str, out: &mut String) {
        if text.is_empty() {
            return;
        }
        let Some((first, rest)) = self.chain.split_first() else {
            out.push_str(text);
            return;
        };
        out.reserve(text.len() + text.len() / 4);
        // The segments of the text, then of each step's output.
        let mut ends = Vec::new();
        let mut buf = String::new();
        match &self.segmentation {
            Some(_) if self.fused => {
                buf.reserve(text.len() + text.len() / 4);
                self.convert_pass(first, text, &[text.len()], &mut buf, Some(&mut ends), true);
            }
            Some(seg) => {
                let mut seg_ends = Vec::new();
                self.pass(
                    seg,
                    text,
                    &[text.len()],
                    &mut Segments {
                        ends: &mut seg_ends,
                        pos: 0,
                    },
                );
                if rest.is_empty() {
                    return self.convert_pass(first, text, &seg_ends, out, None, false);
                }
                self.convert_pass(first, text, &seg_ends, &mut buf, Some(&mut ends), false);
            }
            None if rest.is_empty() => {
                return self.convert_pass(first, text, &[text.len()], out, None, false);
            }
            None => {
                self.convert_pass(first, text, &[text.len()], &mut buf, Some(&mut ends), false);
            }
        }
        let Some((last, middle)) = rest.split_last() else {
            out.push_str(&buf);
            return;
        };
        let mut next = String::new();
        let mut next_ends = Vec::new();
        for step in middle {
            next.clear();
            next_ends.clear();
            self.convert_pass(step, &buf, &ends, &mut next, Some(&mut next_ends), false);
            std::mem::swap(&mut buf, &mut next);
            std::mem::swap(&mut ends, &mut next_ends);
        }
        self.convert_pass(last, &buf, &ends, out, None, false);
    }
}

/// The skip table of several passes over one text (see `TrieView::lead_step`): a byte is
/// looked at if any of them looks at it.
pub(crate) fn merged_lead_steps(tables: impl IntoIterator<Item = [u8; 256]>) -> [u8; 256] {
    let mut lead = [u8::MAX; 256];
    for table in tables {
        lead.iter_mut()
            .zip(table)
            .for_each(|(a, b)| *a = (*a).min(b));
    }
    lead
}

/// A pass of `step` over `text` where its keys are single characters whose first two bytes lie
/// in at most four ranges (the compatibility ideographs: EF A4–AB and F0 AF): one scan that
/// finds them (and the IDS operators, whose complete sequences a pass copies whole), the text
/// between them copied as it is. (The general scan took 9 instructions a byte over such text.)
/// `None` for another step; `Some(None)` where the text holds none of the step's keys (the
/// pass would copy it unchanged).
fn replace_singles(step: &Matcher, text: &str) -> Option<Option<String>> {
    let Matcher::Trie(t) = step else {
        return None;
    };
    if t.max_key_chars() != 1 {
        return None;
    }
    let ranges = *t.start_ranges()?;
    let bytes = text.as_bytes();
    // The text is in `out` up to `copied`; an IDS copied whole ends at `skip_to`.
    let (mut out, mut copied, mut skip_to) = (None::<String>, 0, 0);
    crate::bytes::each(
        bytes,
        0,
        |x, y, z| {
            // An IDS operator: U+2FF0–U+2FFF, E2 BF B0–BF.
            ((x == 0xE2) & (y == 0xBF) & (z >= 0xB0)) | in_start_ranges(&ranges, x, y)
        },
        |i| {
            if i < skip_to {
                return true;
            }
            let (c, len) = decode(bytes, i);
            if c & !0xF == 0x2FF0 {
                skip_to = i + ids::complete_len(&bytes[i..]);
            } else if let Some(value) = char::from_u32(c).and_then(|c| step.single(c)) {
                let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
                o.push_str(&text[copied..i]);
                value.push_to(o);
                copied = i + len;
            }
            true
        },
    );
    Some(out.map(|mut o| {
        o.push_str(&text[copied..]);
        o
    }))
}

/// Whether a character whose first two bytes are `x` `y` lies in `ranges` (see
/// [`StartRanges`]). Comparisons only, for the block scans.
#[inline(always)]
fn in_start_ranges(ranges: &[(u8, u8, u8)], x: u8, y: u8) -> bool {
    ranges.iter().fold(false, |hit, &(lead, first, more)| {
        hit | ((x == lead) & (y.wrapping_sub(first) <= more))
    })
}

/// Whether some character of `text` starts a key of one of `steps`.
fn starts_any(steps: &[&Matcher], text: &str) -> bool {
    if let [Matcher::Trie(t)] = steps {
        if let Some(ranges) = t.start_ranges() {
            // Only the ranges in use (unused ones have lead byte FF), as many as there are.
            return match ranges.iter().filter(|r| r.0 != 0xFF).count() {
                0 => false,
                1 => starts_in::<1>(t, ranges, text),
                2 => starts_in::<2>(t, ranges, text),
                3 => starts_in::<3>(t, ranges, text),
                _ => starts_in::<4>(t, ranges, text),
            };
        }
    }
    let lead = merged_lead_steps(steps.iter().map(|m| m.lead_step()));
    let bytes = text.as_bytes();
    let views: Vec<Option<TrieView<'_>>> = steps
        .iter()
        .map(|m| match m {
            Matcher::Trie(t) => Some(t.view()),
            _ => None,
        })
        .collect();
    let starts = |i: usize| {
        let c = decode(bytes, i).0;
        steps.iter().zip(&views).any(|(m, v)| match v {
            Some(v) => v.root(c) != 0,
            None => m.starts(c),
        })
    };
    let ascii_skip = AsciiSkip::of(&lead);
    let mut i = 0;
    while i < bytes.len() {
        i = skip_ascii_run(ascii_skip, bytes, i, &lead);
        if i >= bytes.len() {
            break;
        }
        match lead[usize::from(bytes[i])] {
            0 if starts(i) => return true,
            0 => i += decode(bytes, i).1,
            step => i += usize::from(step),
        }
    }
    false
}

/// Whether a key of `t` starts in `text`, with the first `N` of its start ranges in use:
/// candidates by their first two bytes, a block at a time, then the root table.
fn starts_in<const N: usize>(t: &Trie, ranges: &StartRanges, text: &str) -> bool {
    let ranges: [(u8, u8, u8); N] = ranges[..N].try_into().expect("N ranges");
    let view = t.view();
    let bytes = text.as_bytes();
    let mut found = false;
    crate::bytes::each(
        bytes,
        0,
        |x, y, _| in_start_ranges(&ranges, x, y),
        |i| {
            found = view.root(decode(bytes, i).0) != 0;
            !found
        },
    );
    found
}

/// The last offset (at least `min`, above 0) where `text` can be cut without changing the
/// conversion: converting the two parts one after the other gives the same bytes as
/// converting `text` whole.
///
/// A cut right before a character `c` is safe when `c` is `inert`: it occurs in no key of any
/// dictionary of any phase and is not an IDS operator (for a chain of converters: in none of
/// them, since each copies `c` through to the next), and no IDS operator occurs in the 64 code points before
/// it. Then no key or IDS can span the cut in normalization, segmentation or the first step,
/// so each scan stops exactly at the cut with the same matches on both sides; the cut splits
/// at most an unmatched segment; and in every later step the character after the cut is
/// still `c` (copied by every step), so no later key can span it either.
pub(crate) fn last_safe_cut(text: &str, min: usize, inert: impl Fn(char) -> bool) -> Option<usize> {
    let mut candidates = text
        .char_indices()
        .rev()
        .take_while(|&(q, _)| q >= min.max(1));
    while let Some((q, c)) = candidates.next() {
        if !inert(c) {
            continue;
        }
        // An IDS operator up to 64 code points before the cut could start an IDS across it.
        match text[..q]
            .char_indices()
            .rev()
            .take(64)
            .find(|&(_, c)| ids::arity(c as u32) != 0)
        {
            None => return Some(q),
            Some((operator, _)) => {
                // Only cuts before the operator are clear of it (the operator itself is no
                // cut: it is not inert): skip the candidates down to it.
                for (p, _) in candidates.by_ref() {
                    if p <= operator {
                        break;
                    }
                }
            }
        }
    }
    None
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn text(found: Option<(usize, Value<'_>)>) -> Option<(usize, String)> {
        found.map(|(end, v)| (end, v.with_str(str::to_string)))
    }
    use crate::trie_build::TrieBuilder;

    pub(crate) fn dict(entries: &[(&str, &str)]) -> Matcher {
        let mut b = TrieBuilder::new();
        for &(k, v) in entries {
            b.add(k, v, 0);
        }
        Matcher::Trie(Trie::from_image(&b.finish()))
    }

    /// An engine of `chain` with `segmentation`, nothing else.
    pub(crate) fn engine(segmentation: Option<Matcher>, chain: Vec<Matcher>) -> Engine {
        Engine {
            normalization: vec![],
            segmentation,
            chain,
            fused: false,
            first_classes: vec![],
            dict_dir: None,
            attach_vs: false,
            compose_table: Default::default(),
        }
    }

    fn run(e: &Engine, text: &str) -> String {
        let mut out = String::new();
        e.convert_into(text, &mut out);
        out
    }

    #[test]
    fn step_two_matches_inside_an_unmatched_segment() {
        // 勇敢的士兵 under s2twp: no phrase matches, so 的士 is found by the second step.
        let e = engine(
            Some(dict(&[("士兵", "士兵")])),
            vec![dict(&[("的", "的")]), dict(&[("的士", "計程車")])],
        );
        assert_eq!(run(&e, "勇敢的士"), "勇敢計程車");
        // A segment boundary stops the second step's match.
        assert_eq!(run(&e, "的士兵"), "的士兵");
    }

    #[test]
    fn complete_ids_is_copied_whole() {
        let e = engine(None, vec![dict(&[("木", "X")])]);
        assert_eq!(run(&e, "木⿰木木木"), "X⿰木木X");
        // Incomplete: the operator is an ordinary character.
        assert_eq!(run(&e, "⿰木"), "⿰X");
    }

    #[test]
    fn union_tree_evaluation() {
        let a = dict(&[("ab", "1")]);
        let b = dict(&[("abc", "2"), ("ab", "3")]);
        let u = Matcher::Union(vec![a.clone(), b.clone()]);
        assert_eq!(text(u.longest(b"abcd", 0)), Some((3, "2".to_string())));
        assert_eq!(text(u.longest(b"abd", 0)), Some((2, "1".to_string())));
        let sc = Matcher::ShortCircuit(vec![a, b]);
        assert_eq!(text(sc.longest(b"abcd", 0)), Some((2, "1".to_string())));
    }

    #[test]
    fn keys_that_start_with_ascii_at_every_offset_of_a_skipped_run() {
        // Runs of ASCII are skipped a block at a time; keys that start with an ASCII letter
        // (SQL注入, PN结 in s2t's and s2twp's dictionaries) must still be found wherever the
        // run puts them, and a dictionary of many ASCII-led keys takes the general path.
        let many = dict(&[
            ("Ab", "1"),
            ("Bc", "2"),
            ("Cd", "3"),
            ("De", "4"),
            ("Ef", "5"),
            ("Fg", "6"),
            ("Gh", "7"),
            ("Hi", "8"),
            ("Ij", "9"),
            ("中", "X"),
        ]);
        let many = engine(None, vec![many]);
        for config in [crate::Config::S2t, crate::Config::S2twp] {
            let c = crate::Converter::new(config);
            for key in ["SQL注入", "PN结", "U盘"] {
                let converted = c.convert(key).into_owned();
                for pad in 0..40 {
                    for filler in ["x", "a Q", "é"] {
                        let before = filler.repeat(pad);
                        let text = format!("{before}{key}{before}");
                        assert_eq!(
                            c.convert(&text),
                            format!("{before}{converted}{before}"),
                            "{config:?} {text:?}"
                        );
                    }
                }
            }
        }
        for pad in 0..40 {
            let before = "xy".repeat(pad);
            assert_eq!(
                run(&many, &format!("{before}Ij{before}中Ab")),
                format!("{before}9{before}X1")
            );
        }
    }

    #[test]
    fn compatibility_ideographs_found_at_every_offset() {
        // The normalization step runs only where one of its keys occurs, found by the first
        // two bytes of each character a block at a time: a key at any offset, after ASCII or
        // after full-width punctuation (which shares the lead byte EF), must still be found.
        let c = crate::Converter::new(crate::Config::T2s);
        for key in ["\u{F900}", "\u{FA00}", "\u{2F800}"] {
            let converted = c.convert(key).into_owned();
            assert_ne!(converted, key);
            for pad in 0..70 {
                for filler in ["x", "，", "中"] {
                    let around = filler.repeat(pad);
                    assert_eq!(
                        c.convert(&format!("{around}{key}{around}")),
                        format!("{around}{converted}{around}"),
                        "{key:?} after {pad} {filler:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_compatibility_step_replaces_as_the_general_pass_does() {
        // One scan replaces the compatibility ideographs where a piece holds one: it must write
        // what the general pass writes, IDS (copied whole, the ideographs inside them too)
        // and variation selectors included.
        let engine = crate::config::builtin_engine(crate::Config::T2s, true);
        let step = &engine.normalization[0];
        let general = |text: &str| {
            let mut out = String::new();
            engine.convert_pass(step, text, &[text.len()], &mut out, None, false);
            out
        };
        let texts = [
            "\u{F900}",
            "中\u{F900}\u{FA0E}文\u{2F800}，",
            "⿰\u{F900}\u{F901}",
            "⿰\u{F900}中\u{F901}",
            "⿰\u{F900}",
            "⿱⿰\u{F900}\u{F901}\u{2F800}\u{F902}",
            "\u{F900}\u{FE00}\u{F901}\u{E0100}",
            "abc⿰中",
            "\u{2FFF}\u{F900}",
        ];
        for text in texts {
            let fast = replace_singles(step, text).expect("the step's keys are single characters");
            let expected = general(text);
            assert_eq!(fast.as_deref().unwrap_or(text), expected, "{text:?}");
            assert_eq!(fast.is_some(), expected != text, "{text:?}");
        }
        assert_eq!(replace_singles(step, "中文，abc"), Some(None));
    }

    #[test]
    fn the_block_skip_stops_where_the_step_by_step_skip_does() {
        // Where keys start at few characters, the scan finds the characters that may start
        // one a block of bytes at a time: it must stop at each of them wherever it falls in a
        // block (and at IDS operators and characters of other lengths), and convert as the
        // step-by-step skip does.
        use crate::Config;
        for config in [
            Config::T2tw,
            Config::T2hk,
            Config::Hk2t,
            Config::T2jp,
            Config::Jp2t,
        ] {
            let engine = crate::config::builtin_engine(config, false);
            let Matcher::Trie(t) = &engine.chain[0] else {
                panic!("{}'s first step is a trie", config.name())
            };
            let v = t.view();
            let starters: Vec<char> = crate::trie::key_starts(&v).collect();
            let quiet: Vec<char> = ('\u{4E00}'..'\u{9FA5}')
                .filter(|&c| v.root(c as u32) == 0)
                .step_by(97)
                .take(40)
                .collect();
            let mut text = String::new();
            let mut k = 0usize;
            while text.len() < 40 * 1024 {
                for _ in 0..(k * 7 % 71) {
                    text.push(quiet[k % quiet.len()]);
                    k += 1;
                }
                text.push(starters[k * 31 % starters.len()]);
                text.push_str(["", " ", "é", "😀", "⿰氵青", "ab ", "\n", "，"][k % 8]);
                k += 1;
            }
            // A sparse text: the skip is chosen where the starting characters have
            // fingerprints (t2tw; but the table loop's skip where it has its sieve and the
            // text is quiet), else the table loop, which decides every starting character of
            // these dictionaries; the skip itself is tested for all.
            crate::dense::tests::with_and_without_sieve(|| {
                let chosen = t.view_for(&text);
                let dense = t.dense_view();
                let table = dense.dense.expect("a table");
                let still = crate::dense::activity(table, dense.pair_filter(), &text).quiet();
                let prints = matches!(config, Config::T2tw) && !(crate::dense::sieved() && still);
                assert_eq!(chosen.start_leads.is_some(), prints, "{}", config.name());
                assert_eq!(chosen.dense.is_some(), !prints, "{}", config.name());
                assert_eq!(chosen.dense_skip, !prints && still, "{}", config.name());
            });
            let sampled = t.sparse_view();
            assert!(sampled.start_leads.is_some(), "{}", config.name());
            assert_eq!(
                sampled
                    .start_leads
                    .and_then(|s| s.prints(sampled.starts.expect("a bitmap")))
                    .is_some(),
                matches!(config, Config::T2tw),
                "{}",
                config.name()
            );
            let (mut blocks, mut steps) = (String::new(), String::new());
            convert_trie_segments(&sampled, &text, &[text.len()], &mut blocks, None, false);
            convert_trie_segments(&v, &text, &[text.len()], &mut steps, None, false);
            assert!(blocks == steps, "{}", config.name());
        }
    }

    #[test]
    fn start_leads_are_the_looked_up_bytes_in_ranges() {
        let mut steps = [1u8; 256];
        assert_eq!(crate::trie::start_leads(&steps), Some([(0xFF, 0); 4]));
        for b in [b'A', 0xE2, 0xE4, 0xE5, 0xE6, 0xF0] {
            steps[usize::from(b)] = 0;
        }
        assert_eq!(
            crate::trie::start_leads(&steps),
            Some([(b'A', 0), (0xE2, 0), (0xE4, 2), (0xF0, 0)])
        );
        steps[0xC3] = 0;
        assert_eq!(crate::trie::start_leads(&steps), None, "five ranges");
        let mut nul = [1u8; 256];
        nul[0] = 0;
        assert_eq!(
            crate::trie::start_leads(&nul),
            None,
            "blocks are padded with 0"
        );
    }

    #[test]
    fn the_ascii_skip_stops_where_a_key_may_start_and_not_before() {
        // Letters that start keys: S before Q only, P before N or anything beyond ASCII, B
        // before anything, A before anything beyond ASCII only.
        let starters = *b"SPBA\x80\x80\x80\x80";
        let next = [
            b'Q',
            b'N',
            ANY_NEXT,
            NO_ASCII_NEXT,
            ANY_NEXT,
            ANY_NEXT,
            ANY_NEXT,
            ANY_NEXT,
        ];
        let may_start = |t: &[u8], k: usize| {
            let after = t.get(k + 1).copied().unwrap_or(0);
            match t[k] {
                b if b >= 0x80 => true,
                b'S' => after == b'Q' || after >= 0x80,
                b'P' => after == b'N' || after >= 0x80,
                b'B' => true,
                b'A' => after >= 0x80,
                _ => false,
            }
        };
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for round in 0..400 {
            let mut t = Vec::new();
            while t.len() < 40 + round {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let piece: &[u8] = match seed % 12 {
                    0 => b"SQ",
                    1 => b"SX",
                    2 => b"PN",
                    3 => b"Pn",
                    4 => b"AB",
                    5 => "A肝".as_bytes(),
                    6 => b"B",
                    7 => "中".as_bytes(),
                    8 => b"S",
                    _ => b"xy z",
                };
                t.extend_from_slice(piece);
            }
            for i in 0..t.len() {
                if t[i] & 0xC0 == 0x80 {
                    continue;
                }
                let end = skip_ascii_but(&t, i, &starters, &next);
                let first = (i..t.len()).find(|&k| may_start(&t, k)).unwrap_or(t.len());
                assert!(end <= first, "{round} {i}: skipped past {first} to {end}");
                assert!(
                    end == first || end + 17 > t.len() || end == i,
                    "{round} {i}: stopped at {end}, not at {first}"
                );
            }
        }
    }
}
