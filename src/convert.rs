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

use std::borrow::Cow;

use crate::ids;
use crate::trie::{decode, Trie, TrieView};

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
    fn longest<'m>(&'m self, bytes: &[u8], pos: usize) -> Option<(usize, &'m str)> {
        match self {
            Matcher::Trie(t) => t.view().longest(bytes, pos),
            Matcher::ShortCircuit(members) => members.iter().find_map(|m| m.longest(bytes, pos)),
            Matcher::Union(members) => {
                let mut best: Option<(usize, &str)> = None;
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

    /// Whether some key starts with the character `c`.
    fn starts(&self, c: u32) -> bool {
        match self {
            Matcher::Trie(t) => t.view().root(c) != 0,
            Matcher::Union(members) | Matcher::ShortCircuit(members) => {
                members.iter().any(|m| m.starts(c))
            }
        }
    }

    fn ascii_starts(&self) -> bool {
        match self {
            Matcher::Trie(t) => t.view().ascii_starts,
            Matcher::Union(members) | Matcher::ShortCircuit(members) => {
                members.iter().any(Matcher::ascii_starts)
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

/// What the scanner needs from a dictionary: the best key at a position.
trait Prefix {
    /// Whether any key starts with an ASCII character (if not, ASCII is skipped without lookups).
    fn ascii_starts(&self) -> bool;
    /// The best key at `pos`, whose first character `c` is `len` bytes long: its end and value.
    fn at(&self, bytes: &[u8], pos: usize, c: u32, len: usize) -> Option<(usize, &str)>;
}

impl Prefix for TrieView<'_> {
    #[inline(always)]
    fn ascii_starts(&self) -> bool {
        self.ascii_starts
    }

    #[inline(always)]
    fn at(&self, bytes: &[u8], pos: usize, c: u32, len: usize) -> Option<(usize, &str)> {
        let node = self.root(c);
        if node == 0 {
            return None;
        }
        self.walk(node, bytes, pos + len)
            .map(|(end, id)| (end, self.value(id)))
    }
}

/// A tree-shaped group, with its ASCII answer computed once.
struct Tree<'m>(&'m Matcher, bool);

impl Prefix for Tree<'_> {
    fn ascii_starts(&self) -> bool {
        self.1
    }

    fn at(&self, bytes: &[u8], pos: usize, _c: u32, _len: usize) -> Option<(usize, &str)> {
        self.0.longest(bytes, pos)
    }
}

/// Scans `text` with OpenCC's greedy longest match. For every match it calls
/// `on_match(unmatched_run_before, key, value)`; returns the unmatched tail.
#[inline(always)]
fn scan<'t, P: Prefix>(
    p: &P,
    text: &'t str,
    mut on_match: impl FnMut(&'t str, &'t str, &str),
) -> &'t str {
    let bytes = text.as_bytes();
    let ascii_starts = p.ascii_starts();
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] < 0x80 && !ascii_starts {
            i += 1;
            continue;
        }
        let (c, len) = decode(bytes, i);
        if let Some((end, value)) = p.at(bytes, i, c, len) {
            on_match(&text[copied..i], &text[i..end], value);
            i = end;
            copied = end;
            continue;
        }
        if ids::arity(c) != 0 {
            let ids_len = ids::complete_len(&bytes[i..]);
            if ids_len != 0 {
                i += ids_len;
                continue;
            }
        }
        i += len;
    }
    &text[copied..]
}

/// Converts `text` with one dictionary, appending to `out`.
fn convert_step(m: &Matcher, text: &str, out: &mut String) {
    let mut emit = |run: &str, _key: &str, value: &str| {
        out.push_str(run);
        out.push_str(value);
    };
    let tail = match m {
        Matcher::Trie(t) => scan(&t.view(), text, &mut emit),
        tree => scan(&Tree(tree, tree.ascii_starts()), text, &mut emit),
    };
    out.push_str(tail);
}

/// Calls `segment` for each segment of `text` under dictionary `m`.
fn segment(m: &Matcher, text: &str, mut segment: impl FnMut(&str)) {
    let mut emit = |run: &str, key: &str, _value: &str| {
        if !run.is_empty() {
            segment(run);
        }
        segment(key);
    };
    let tail = match m {
        Matcher::Trie(t) => scan(&t.view(), text, &mut emit),
        tree => scan(&Tree(tree, tree.ascii_starts()), text, &mut emit),
    };
    if !tail.is_empty() {
        segment(tail);
    }
}

/// Buffers reused between segments.
#[derive(Default)]
struct Scratch {
    a: String,
    b: String,
}

/// Runs the steps of a chain over one segment, appending the result to `out`.
fn run_chain(steps: &[Matcher], text: &str, out: &mut String, scratch: &mut Scratch) {
    match steps {
        [] => out.push_str(text),
        [only] => convert_step(only, text, out),
        [first, middle @ .., last] => {
            scratch.a.clear();
            convert_step(first, text, &mut scratch.a);
            for step in middle {
                scratch.b.clear();
                convert_step(step, &scratch.a, &mut scratch.b);
                std::mem::swap(&mut scratch.a, &mut scratch.b);
            }
            convert_step(last, &scratch.a, out);
        }
    }
}

/// A compiled config: the three phases, each a list of matchers.
#[derive(Debug, Clone)]
pub(crate) struct Engine {
    pub(crate) normalization: Vec<Matcher>,
    pub(crate) segmentation: Option<Matcher>,
    pub(crate) chain: Vec<Matcher>,
}

impl Engine {
    /// Whether converting `text` could change it: some character starts a key of a step that
    /// rewrites text. (Segmentation never changes text, and IDS are copied.)
    pub(crate) fn may_change(&self, text: &str) -> bool {
        let steps: Vec<&Matcher> = self.normalization.iter().chain(&self.chain).collect();
        let ascii = steps.iter().any(|m| m.ascii_starts());
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] < 0x80 && !ascii {
                i += 1;
                continue;
            }
            let (c, len) = decode(bytes, i);
            if steps.iter().any(|m| m.starts(c)) {
                return true;
            }
            i += len;
        }
        false
    }

    /// Converts `text`, appending the result to `out`.
    pub(crate) fn convert_into(&self, text: &str, out: &mut String) {
        let mut scratch = Scratch::default();
        let normalized: Cow<'_, str> = if self.normalization.is_empty() {
            Cow::Borrowed(text)
        } else {
            let mut norm = String::with_capacity(text.len());
            run_chain(&self.normalization, text, &mut norm, &mut scratch);
            Cow::Owned(norm)
        };
        out.reserve(normalized.len() + normalized.len() / 4);
        match &self.segmentation {
            None => run_chain(&self.chain, &normalized, out, &mut scratch),
            Some(seg) => segment(seg, &normalized, |s| {
                run_chain(&self.chain, s, out, &mut scratch)
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trie_build::TrieBuilder;

    fn dict(entries: &[(&str, &str)]) -> Matcher {
        let mut b = TrieBuilder::new();
        for &(k, v) in entries {
            b.add(k, v, 0);
        }
        Matcher::Trie(Trie::from_image(&b.finish()))
    }

    fn run(e: &Engine, text: &str) -> String {
        let mut out = String::new();
        e.convert_into(text, &mut out);
        out
    }

    #[test]
    fn step_two_matches_inside_an_unmatched_segment() {
        // 勇敢的士兵 under s2twp: no phrase matches, so 的士 is found by the second step.
        let e = Engine {
            normalization: vec![],
            segmentation: Some(dict(&[("士兵", "士兵")])),
            chain: vec![dict(&[("的", "的")]), dict(&[("的士", "計程車")])],
        };
        assert_eq!(run(&e, "勇敢的士"), "勇敢計程車");
        // A segment boundary stops the second step's match.
        assert_eq!(run(&e, "的士兵"), "的士兵");
    }

    #[test]
    fn complete_ids_is_copied_whole() {
        let e = Engine {
            normalization: vec![],
            segmentation: None,
            chain: vec![dict(&[("木", "X")])],
        };
        assert_eq!(run(&e, "木⿰木木木"), "X⿰木木X");
        // Incomplete: the operator is an ordinary character.
        assert_eq!(run(&e, "⿰木"), "⿰X");
    }

    #[test]
    fn union_tree_evaluation() {
        let a = dict(&[("ab", "1")]);
        let b = dict(&[("abc", "2"), ("ab", "3")]);
        let u = Matcher::Union(vec![a.clone(), b.clone()]);
        assert_eq!(u.longest(b"abcd", 0), Some((3, "2")));
        assert_eq!(u.longest(b"abd", 0), Some((2, "1")));
        let sc = Matcher::ShortCircuit(vec![a, b]);
        assert_eq!(sc.longest(b"abcd", 0), Some((2, "1")));
    }
}
