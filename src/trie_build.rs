//! Compiles dictionaries into the trie image that [`crate::trie`] reads: the build script uses it
//! for the built-in tables (embedded in the binary), the library for configs and dictionaries
//! loaded at run time. One builder, one format.
//!
//! A dictionary group becomes one trie whose values carry a *priority*: OpenCC's `union` groups
//! merge into one priority class (the first dictionary's value wins for a key present in several),
//! and each member of a `short_circuit` group is a class of its own, in order. At a text position
//! the matcher then takes, among all keys that are prefixes of the text, those of the smallest
//! class, and of those the longest. That is exactly OpenCC's "first member with any match wins,
//! longest match within it" (proof in [`classes`]). Only a `union` that contains a `short_circuit`
//! group cannot be flattened this way; the library evaluates that rare shape as a tree.
//!
//! Image layout, all little-endian `u32` words, then the value bytes:
//!
//! ```text
//! header   MAGIC, flags (0), root_blocks, nodes, edges, values, value_bytes, max_key_chars,
//!          pair_words
//! root_hi  0x1100 words: block number for code point >> 8 (block 0 is all zeros)
//! root_lo  root_blocks * 256 pairs of words, per character: its node if keys start with it (0 =
//!          none) with flags (ROOT_IN_KEY, ROOT_LONGER), and the node's value word (the
//!          one-character key's value, read without the node)
//! nodes    NODE_WORDS * (nodes + 1) words, a record per node, numbered breadth first: its value
//!          (0 = no key ends here, else priority << 24 | VALUE_INLINE | the character, for a
//!          one-character value, or priority << 24 | (value index + 1)), where its edges
//!          start, and a 64-bit filter of its children's characters (child_filter_bit); node
//!          i's edges are edges start(i) .. start(i + 1) (the last record only ends the edges):
//!          up to MAX_LIST_EDGES sorted, or else a hash table of a power-of-two size
//! edges    2 * edges words, a pair per edge: the child's character (EMPTY_SLOT for a free hash
//!          slot) and the child node
//! val_off  values + 1 words: value i is value_bytes[val_off[i] .. val_off[i + 1]]
//! pairs    pair_words words (a power of two): a Bloom filter of the first two characters of
//!          every key of two or more, two bits in one word per pair (pair_hash)
//! bytes    value_bytes bytes, padded with zeros to a whole word
//! ```
//!
//! This file is included by `build.rs` with `#[path]`: it uses nothing from the rest of the crate
//! but `spec.rs`, which the build script includes too.

use std::collections::{BTreeMap, HashMap};

/// First word of every trie image.
pub const MAGIC: u32 = 0x4131_4A46; // "FJ1A"
/// Words in the header.
pub const HEADER_WORDS: usize = 9;
/// Words in `root_hi`: one per 256 code points.
pub const ROOT_HI_WORDS: usize = 0x1100;
/// Nodes with at most this many children list them sorted; larger ones use a hash table.
pub const MAX_LIST_EDGES: usize = 8;
/// An empty slot in a node's hash table (not a character).
pub const EMPTY_SLOT: u32 = u32::MAX;

/// The home slot of character `c` in a node hash table of `size` slots (a power of two > 8).
#[inline(always)]
pub fn edge_hash(c: u32, size: usize) -> usize {
    (c.wrapping_mul(0x9E37_79B9) >> (32 - size.trailing_zeros())) as usize
}

/// Where the pair of characters `a`, `b` lies in a pair filter of `1 << bits` words: the word,
/// and a mask of two bits in it (both set when some key starts with `a` `b`).
#[inline(always)]
pub fn pair_hash(a: u32, b: u32, bits: u32) -> (usize, u32) {
    // One multiplication of both characters (by a constant that fits the instruction); the
    // product's top bits depend on every bit of both (a character beyond the BMP shares its
    // bits above 16 with the first's low bits: only more pairs pass): its top `bits` bits (at
    // most 22) pick the word, the ten below them the two bits.
    let h = (a << 16 ^ b).wrapping_mul(0x9E37_79B9);
    let top = h >> (22 - bits);
    ((top >> 10) as usize, 1 << (top & 31) | 1 << (top >> 5 & 31))
}

/// Sets the two bits of the pair `a` `b` in a pair filter of `1 << bits` words.
pub fn pair_insert(words: &mut [u32], bits: u32, a: u32, b: u32) {
    let (word, mask) = pair_hash(a, b, bits);
    words[word] |= mask;
}

/// In a root entry's first word: the character occurs in a key.
pub const ROOT_IN_KEY: u32 = 1 << 31;
/// In a root entry's first word: a key of two or more characters starts with the character.
pub const ROOT_LONGER: u32 = 1 << 30;
/// In a root entry's first word: the node.
pub const ROOT_NODE: u32 = ROOT_LONGER - 1;

/// In a value word: the value is one character, held in the low 21 bits.
pub const VALUE_INLINE: u32 = 1 << 23;
/// In a value word without VALUE_INLINE: the value's index + 1.
pub const VALUE_ID: u32 = VALUE_INLINE - 1;

/// Words per node record: value, first edge, child filter (low and high half).
pub const NODE_WORDS: usize = 4;

/// The bit of character `c` in a node's 64-bit child filter.
#[inline(always)]
pub fn child_filter_bit(c: u32) -> u32 {
    c.wrapping_mul(0x9E37_79B9) >> 26
}

/// The largest priority class a value can carry.
pub const MAX_PRIORITY: usize = 255;

/// The priority classes of a dictionary tree, as lists of text-dictionary files: class 0 first.
/// `None` when the tree cannot be flattened (a `union` group with a `short_circuit` member).
///
/// Why this is exact: for a `short_circuit` group with members `M0..Mn`, OpenCC returns the
/// longest match of the first member that has one. Give every key the smallest class it occurs
/// in. If member `c` is the first with a match, every matching key belongs to some member
/// `>= c`, and one of them to `c`, so the smallest class among matching keys is `c`; a matching
/// key whose smallest class is `c` is in `c`, and every matching key of `c` has smallest class
/// `c` (a smaller one would be a match in an earlier member). Nested `short_circuit` groups
/// concatenate their classes; a `union` keeps one class, first file first.
pub fn classes(spec: &crate::spec::DictSpec) -> Option<Vec<Vec<String>>> {
    use crate::spec::{DictSpec, MatchPolicy};
    match spec {
        DictSpec::Text { file, .. } => Some(vec![vec![file.clone()]]),
        DictSpec::Group { policy, dicts, .. } => {
            let children: Vec<Vec<Vec<String>>> =
                dicts.iter().map(classes).collect::<Option<_>>()?;
            match policy {
                MatchPolicy::ShortCircuit => {
                    let flat: Vec<Vec<String>> = children.into_iter().flatten().collect();
                    (flat.len() <= MAX_PRIORITY + 1).then_some(flat)
                }
                MatchPolicy::Union => {
                    if children.iter().any(|c| c.len() > 1) {
                        return None;
                    }
                    Some(vec![children.into_iter().flatten().flatten().collect()])
                }
            }
        }
    }
}

/// Whether segmentation by `seg` and the first conversion step `step` may run as one pass (see
/// `Engine::fused` in `convert.rs` for why that is exact): `seg` is one priority class, the
/// step's class 0 reads exactly the same files, and every key of the step's later classes is a
/// single character that is not an IDS operator (`single_chars(file)` says so of a file).
pub fn fusable(
    seg: &crate::spec::DictSpec,
    step: &crate::spec::DictSpec,
    mut single_chars: impl FnMut(&str) -> bool,
) -> bool {
    let (Some(seg), Some(step)) = (classes(seg), classes(step)) else {
        return false;
    };
    let sorted = |files: &[String]| {
        let mut f = files.to_vec();
        f.sort();
        f.dedup();
        f
    };
    seg.len() == 1
        && sorted(&seg[0]) == sorted(&step[0])
        && step[1..].iter().flatten().all(|f| single_chars(f))
}

/// Whether every key is one character that is not an IDS operator (U+2FF0–U+2FFF).
pub fn single_char_keys<'a>(mut keys: impl Iterator<Item = &'a str>) -> bool {
    keys.all(|k| {
        let mut chars = k.chars();
        matches!((chars.next(), chars.next()), (Some(c), None) if !('\u{2FF0}'..='\u{2FFF}').contains(&c))
    })
}

#[derive(Default)]
struct Node {
    children: BTreeMap<char, u32>,
    value: u32,
}

/// Builds one trie image from entries added in priority order.
pub struct TrieBuilder {
    nodes: Vec<Node>,
    roots: BTreeMap<char, u32>,
    values: Vec<String>,
    value_ids: HashMap<String, u32>,
    max_key_chars: u32,
    key_chars: std::collections::BTreeSet<char>,
}

impl Default for TrieBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TrieBuilder {
    /// An empty builder.
    pub fn new() -> TrieBuilder {
        TrieBuilder {
            // Node 0 stands for "none" everywhere.
            nodes: vec![Node::default()],
            roots: BTreeMap::new(),
            values: Vec::new(),
            value_ids: HashMap::new(),
            max_key_chars: 0,
            key_chars: std::collections::BTreeSet::new(),
        }
    }

    /// Adds `key → value` in priority class `priority`. A key already present keeps its first
    /// value and class (entries must come in class order). Empty keys are ignored: they can never
    /// match, as in OpenCC.
    pub fn add(&mut self, key: &str, value: &str, priority: usize) {
        assert!(priority <= MAX_PRIORITY, "too many short-circuit members");
        self.key_chars.extend(key.chars());
        let mut chars = key.chars();
        let Some(first) = chars.next() else { return };
        let next = self.nodes.len() as u32;
        let mut node = *self.roots.entry(first).or_insert(next);
        if node == next {
            self.nodes.push(Node::default());
        }
        let mut count = 1;
        for c in chars {
            count += 1;
            let next = self.nodes.len() as u32;
            let child = *self.nodes[node as usize].children.entry(c).or_insert(next);
            if child == next {
                self.nodes.push(Node::default());
            }
            node = child;
        }
        self.max_key_chars = self.max_key_chars.max(count);
        if self.nodes[node as usize].value != 0 {
            return;
        }
        let id = match self.value_ids.get(value) {
            Some(&id) => id,
            None => {
                let id = self.values.len() as u32;
                assert!(id + 1 < VALUE_INLINE, "too many distinct values");
                self.values.push(value.to_string());
                self.value_ids.insert(value.to_string(), id);
                id
            }
        };
        self.nodes[node as usize].value = ((priority as u32) << 24) | (id + 1);
    }

    /// A node's value word as stored: a one-character value is held inline.
    fn value_word(&self, value: u32) -> u32 {
        if value == 0 {
            return 0;
        }
        let text = &self.values[((value & VALUE_ID) - 1) as usize];
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => (value & !VALUE_ID) | VALUE_INLINE | c as u32,
            _ => value,
        }
    }

    /// Serializes the trie (see the module docs for the layout).
    pub fn finish(self) -> Vec<u8> {
        // A root entry for every character in a key: its node if keys start with it.
        let mut blocks: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for &c in &self.key_chars {
            let cp = c as u32;
            let node = self.roots.get(&c).copied().unwrap_or(0);
            blocks.entry(cp >> 8).or_insert_with(|| vec![0; 256])[(cp & 0xFF) as usize] =
                node | ROOT_IN_KEY;
        }
        let mut root_hi = vec![0u32; ROOT_HI_WORDS];
        let mut root_lo = vec![0u32; 256]; // block 0: empty
        for (hi, block) in blocks {
            root_hi[hi as usize] = (root_lo.len() / 256) as u32;
            root_lo.extend(block);
        }
        // Nodes are numbered breadth first, children in character order: the nodes for keys'
        // first characters come first and in code point order, and each level's nodes and edges
        // lie together, which keeps the walks' memory accesses close.
        let mut order: Vec<u32> = vec![0];
        order.extend(self.roots.values().copied());
        let mut next = 1;
        while next < order.len() {
            let node = order[next] as usize;
            order.extend(self.nodes[node].children.values().copied());
            next += 1;
        }
        let mut renumber = vec![0u32; self.nodes.len()];
        for (new, &old) in order.iter().enumerate() {
            renumber[old as usize] = new as u32;
        }
        let root_lo: Vec<u32> = root_lo
            .iter()
            .flat_map(|&entry| {
                let node = &self.nodes[(entry & ROOT_NODE) as usize];
                let longer = if node.children.is_empty() {
                    0
                } else {
                    ROOT_LONGER
                };
                [
                    renumber[(entry & ROOT_NODE) as usize] | (entry & ROOT_IN_KEY) | longer,
                    self.value_word(node.value),
                ]
            })
            .collect();
        // Per node: its value and where its edges start; a last record ends the edges.
        let mut node_rec = Vec::with_capacity(NODE_WORDS * (self.nodes.len() + 1));
        // Per edge: the child's character and the child.
        let mut edges: Vec<u32> = Vec::new();
        for &old in &order {
            let node = &self.nodes[old as usize];
            node_rec.push(self.value_word(node.value));
            node_rec.push((edges.len() / 2) as u32);
            // A 64-bit filter of the children's characters: most walks end at a character no
            // key continues with, and the filter answers that without touching the edges.
            let filter = node
                .children
                .keys()
                .fold(0u64, |f, &c| f | 1 << child_filter_bit(c as u32));
            node_rec.push(filter as u32);
            node_rec.push((filter >> 32) as u32);
            if node.children.len() <= MAX_LIST_EDGES {
                for (&c, &child) in &node.children {
                    edges.push(c as u32);
                    edges.push(renumber[child as usize]);
                }
            } else {
                // An open-addressing table, at most half full, probed linearly.
                let size = (node.children.len() * 2).next_power_of_two();
                let start = edges.len() / 2;
                edges.resize(2 * (start + size), EMPTY_SLOT);
                for (&c, &child) in &node.children {
                    let mut slot = edge_hash(c as u32, size);
                    while edges[2 * (start + slot)] != EMPTY_SLOT {
                        slot = (slot + 1) & (size - 1);
                    }
                    edges[2 * (start + slot)] = c as u32;
                    edges[2 * (start + slot) + 1] = renumber[child as usize];
                }
            }
        }
        node_rec.extend([0, (edges.len() / 2) as u32, 0, 0]);
        // The pair filter: about 16 words' bits per pair, so that about one bit in eight is
        // set and a pair no key starts with passes about once in fifty.
        let mut pairs_of_keys = Vec::new();
        for (&a, &first) in &self.roots {
            for &b in self.nodes[first as usize].children.keys() {
                pairs_of_keys.push((a as u32, b as u32));
            }
        }
        // At most 1 << 22 words (16 MiB; see pair_hash): past some eight million pairs the
        // filter only lets more pairs through.
        let pair_bits = (pairs_of_keys.len() / 2)
            .max(1)
            .next_power_of_two()
            .trailing_zeros()
            .min(22);
        let mut pairs = vec![0u32; 1 << pair_bits];
        for &(a, b) in &pairs_of_keys {
            pair_insert(&mut pairs, pair_bits, a, b);
        }
        let mut val_off = vec![0u32];
        let mut bytes = Vec::new();
        for v in &self.values {
            bytes.extend_from_slice(v.as_bytes());
            val_off.push(bytes.len() as u32);
        }
        let header = [
            MAGIC,
            0, // flags: none defined
            (root_lo.len() / 512) as u32,
            self.nodes.len() as u32,
            (edges.len() / 2) as u32,
            self.values.len() as u32,
            bytes.len() as u32,
            self.max_key_chars,
            pairs.len() as u32,
        ];
        let mut out = Vec::new();
        for part in [
            &header[..],
            &root_hi,
            &root_lo,
            &node_rec,
            &edges,
            &val_off,
            &pairs,
        ] {
            for w in part.iter() {
                out.extend_from_slice(&w.to_le_bytes());
            }
        }
        out.extend_from_slice(&bytes);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out
    }
}
