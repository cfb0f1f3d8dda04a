//! Scans of bytes that find, a block of 64 at a time, where a condition on a byte and the two
//! after it holds: the condition is written with comparisons only, combined without branches,
//! which the compiler turns into vector instructions (SSE2 on every x86-64, AVX2 where the
//! processor has it, chosen at run time). Most blocks of most text hold no match, and cost a
//! few instructions per byte. And [`Prints`]: the characters that may start a key, where they
//! are few, found by their bytes' nibbles 32 bytes at a time.

/// Calls `f` with each offset at or after `i` where `at(x, y, z)` holds for the byte there and
/// the two after it (0 past the end), in order, while `f` returns true. `at` should only compare
/// and combine without branches, and hold for no zero byte: a block of bytes is tested at once
/// (the last one padded with zeros), and most blocks hold no match.
///
/// Where the processor has AVX2 (checked at run time), the same code is compiled for it: twice
/// the bytes per instruction of the SSE2 that every x86-64 has.
#[inline(always)]
pub(crate) fn each(
    bytes: &[u8],
    i: usize,
    at: impl Fn(u8, u8, u8) -> bool,
    f: impl FnMut(usize) -> bool,
) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: `each_avx2` only needs the processor to have AVX2, checked just above.
        return unsafe { each_avx2(bytes, i, at, f) };
    }
    each_blocks(bytes, i, at, f)
}

/// [`each_blocks`] compiled for AVX2.
///
/// # Safety
///
/// The processor must have AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn each_avx2(
    bytes: &[u8],
    i: usize,
    at: impl Fn(u8, u8, u8) -> bool,
    f: impl FnMut(usize) -> bool,
) {
    each_blocks(bytes, i, at, f)
}

/// Bytes per block.
const BLOCK: usize = 64;

/// See [`each`].
#[inline(always)]
fn each_blocks(
    bytes: &[u8],
    mut i: usize,
    at: impl Fn(u8, u8, u8) -> bool,
    mut f: impl FnMut(usize) -> bool,
) {
    while let Some(w) = bytes.get(i..i + BLOCK + 2) {
        let w: &[u8; BLOCK + 2] = w.try_into().expect("block length");
        // Most blocks hold no match: one reduction says so, without the matches' positions.
        if (0..BLOCK).fold(false, |any, k| any | at(w[k], w[k + 1], w[k + 2])) {
            let hits = block_hits(w, &at);
            if !visit(i, hits, BLOCK, &mut f) {
                return;
            }
        }
        i += BLOCK;
    }
    // The last bytes, up to BLOCK + 1 of them: one block padded with zeros, or two.
    while i < bytes.len() {
        let rest = &bytes[i..];
        let mut w = [0u8; BLOCK + 2];
        w[..rest.len()].copy_from_slice(rest);
        if !visit(i, block_hits(&w, &at), rest.len().min(BLOCK), &mut f) {
            return;
        }
        i += BLOCK;
    }
}

/// A block's matches, as words of eight bytes, each byte 1 for a match. (A function rather
/// than a closure, so that it is always inlined, into the AVX2 build too.)
#[inline(always)]
fn block_hits(w: &[u8; BLOCK + 2], at: &impl Fn(u8, u8, u8) -> bool) -> [u64; BLOCK / 8] {
    let mut hits = [0u8; BLOCK];
    for (k, hit) in hits.iter_mut().enumerate() {
        *hit = u8::from(at(w[k], w[k + 1], w[k + 2]));
    }
    std::array::from_fn(|n| u64::from_le_bytes(hits[8 * n..8 * n + 8].try_into().expect("8")))
}

/// Calls `f` with `start` plus the offset of each match in `hits` below `len`, while it
/// returns true; returns false once it returned false. The matches are gathered into one word
/// of 64 bits first: one loop over them, whose end is mispredicted once a block rather than
/// once for each word of eight bytes.
#[inline(always)]
fn visit(
    start: usize,
    hits: [u64; BLOCK / 8],
    len: usize,
    f: &mut impl FnMut(usize) -> bool,
) -> bool {
    // Each byte of a word of `hits` is 0 or 1: the multiplication gathers byte k's bit at bit
    // 56 + k (the other products fall below bit 56 or beyond 63, at positions of their own).
    let mut mask = hits.iter().enumerate().fold(0u64, |mask, (n, &w)| {
        mask | (w.wrapping_mul(0x0102_0408_1020_4080) >> 56) << (8 * n)
    });
    if len < BLOCK {
        mask &= (1 << len) - 1;
    }
    while mask != 0 {
        if !f(start + mask.trailing_zeros() as usize) {
            return false;
        }
        mask &= mask - 1;
    }
    true
}

/// The most characters of three bytes that [`Prints`] takes.
const MAX_PRINTED: usize = 256;
/// The most byte triples of three-byte characters that [`Prints`] may let through (an eighth).
const MAX_THROUGH: u32 = 8192;

/// Adds to `masks` the nibbles of `bytes` in `bucket` (all nibbles for `None`).
fn add(masks: &mut [[[u8; 16]; 2]; 3], bucket: u32, bytes: [Option<u8>; 3]) {
    for (at, byte) in masks.iter_mut().zip(bytes) {
        for (nibbles, half) in at.iter_mut().zip([0, 4]) {
            match byte {
                Some(b) => nibbles[usize::from(b >> half & 15)] |= 1 << bucket,
                None => nibbles.iter_mut().for_each(|n| *n |= 1 << bucket),
            }
        }
    }
}

/// Fingerprints of the characters that may start a key, for finding them 32 bytes at a time
/// where they are few (as the Teddy algorithm of Hyperscan and the `aho-corasick` crate finds
/// short patterns): each byte of a character (its first three) splits into two nibbles, and a
/// table per nibble says which of eight buckets of characters have that nibble there. A byte
/// is a candidate where some bucket has all six of the nibbles at it and the two bytes after
/// it: one table lookup (a byte shuffle) per nibble for 32 bytes at once. Buckets 0 to 6 hold
/// the characters of three bytes, each in the bucket whose nibble sets it grows least (see
/// [`Prints::new`]); bucket 7 the other lead bytes that may start a key, whatever follows
/// them.
///
/// Every character that may start a key is a candidate; others are too where their nibbles
/// fall into one bucket's by chance, and the caller looks at each candidate as it would
/// without the fingerprints. No continuation byte is a candidate: no bucket has the high
/// nibbles 8 to B at the first byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Prints {
    /// Per byte of the character (first, second, third) and nibble (low, high): the buckets
    /// with that nibble there, one bit each.
    masks: [[[u8; 16]; 2]; 3],
}

impl Prints {
    /// The fingerprints of the characters that may start a key, for a skip that looks at the
    /// lead bytes for which `lead(b)` holds and, of a character of three bytes, at its bit in
    /// `starts` (a bit per BMP code point); `None` where a continuation byte is such a lead
    /// byte, or where more than [`MAX_PRINTED`] characters of three bytes start keys, or the
    /// buckets would let through more than [`MAX_THROUGH`] triples of bytes.
    pub(crate) fn new(lead: impl Fn(u8) -> bool, starts: &[u64; 1024]) -> Option<Prints> {
        if (0x80..0xC0).any(&lead) {
            return None;
        }
        // The characters of three bytes (U+0800 to U+FFFF) whose bits are set.
        let three = &starts[0x800 / 64..];
        if three.iter().map(|w| w.count_ones() as usize).sum::<usize>() > MAX_PRINTED {
            return None;
        }
        let mut chars = Vec::new();
        for (w, &bits) in (0x800 / 64..).zip(three) {
            let mut bits = bits;
            while bits != 0 {
                let c = w * 64 + bits.trailing_zeros();
                if !(0xD800..0xE000).contains(&c) && lead(0xE0 | (c >> 12) as u8) {
                    chars.push(c);
                }
                bits &= bits - 1;
            }
        }
        let mut masks = [[[0u8; 16]; 2]; 3];
        for b in (0..=255u8).filter(|&b| lead(b) && b & 0xF0 != 0xE0) {
            add(&mut masks, 7, [Some(b), None, None]);
        }
        // Each character into the bucket whose nibble sets grow least with it (their product
        // is how many characters the bucket lets through), taken by their last byte first:
        // on Traditional text with t2tw's 66 characters, 11% of the characters of three
        // bytes are candidates, against 17% for buckets of characters in code point order.
        chars.sort_by_key(|&c| (c & 0x3F, c));
        // Per bucket, the sizes of its six nibble sets.
        let mut counts = [[0u32; 6]; 7];
        for c in chars {
            let bytes =
                [0xE0 | c >> 12, 0x80 | (c >> 6 & 0x3F), 0x80 | (c & 0x3F)].map(|b| b as u8);
            let nibbles = bytes.map(|b| [b & 15, b >> 4]);
            // Whether the character's nibble `k` (of six) is new to the bucket's set.
            let new = |bucket: usize, k: usize| {
                let nibble = nibbles[k / 2][k % 2];
                u32::from(masks[k / 2][k % 2][usize::from(nibble)] >> bucket & 1 == 0)
            };
            // How much the product of the bucket's set sizes grows with the character.
            let growth = |bucket: usize| {
                let sizes = &counts[bucket];
                let with: u32 = (0..6).map(|k| sizes[k] + new(bucket, k)).product();
                with - sizes.iter().product::<u32>()
            };
            let bucket = (0..7)
                .min_by_key(|&k| (growth(k), k))
                .expect("seven buckets");
            let grown: [u32; 6] = std::array::from_fn(|k| new(bucket, k));
            for (n, g) in counts[bucket].iter_mut().zip(grown) {
                *n += g;
            }
            add(&mut masks, bucket as u32, bytes.map(Some));
        }
        // How many of the 65,536 byte triples of a lead byte E0 to EF and two continuation
        // bytes the buckets let through, at most: t2tw's 4,236 (11% of the characters of
        // Traditional text are candidates), t2hk's 26,852 (the lead bytes alone were faster).
        let through: u32 = counts.iter().map(|c| c.iter().product::<u32>()).sum();
        (through <= MAX_THROUGH).then_some(Prints { masks })
    }

    /// Whether the byte `x` is a candidate, followed by `y` and `z` (see [`Prints`]).
    pub(crate) fn candidate(&self, x: u8, y: u8, z: u8) -> bool {
        let m = &self.masks;
        let at = |k: usize, b: u8| m[k][0][usize::from(b & 15)] & m[k][1][usize::from(b >> 4)];
        at(0, x) & at(1, y) & at(2, z) != 0
    }

    /// Calls `f` with each candidate at or after `i` (see [`Prints`]), in order, while it
    /// returns true; returns false once it returned false, else true, having looked at every
    /// byte before an offset from which fewer than 34 bytes remain, which it returns in `rest`.
    #[inline(always)]
    pub(crate) fn each(
        &self,
        bytes: &[u8],
        i: usize,
        rest: &mut usize,
        f: impl FnMut(usize) -> bool,
    ) -> bool {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: `each_avx2` only needs the processor to have AVX2, checked just above.
            return unsafe { self.each_avx2(bytes, i, rest, f) };
        }
        self.each_bytes(bytes, i, rest, f)
    }

    /// [`Prints::each`] a byte at a time.
    fn each_bytes(
        &self,
        bytes: &[u8],
        mut i: usize,
        rest: &mut usize,
        mut f: impl FnMut(usize) -> bool,
    ) -> bool {
        while i + 34 <= bytes.len() {
            if self.candidate(bytes[i], bytes[i + 1], bytes[i + 2]) && !f(i) {
                return false;
            }
            i += 1;
        }
        *rest = i;
        true
    }

    /// [`Prints::each`] with AVX2: 32 bytes at a time.
    ///
    /// # Safety
    ///
    /// The processor must have AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn each_avx2(
        &self,
        bytes: &[u8],
        mut i: usize,
        rest: &mut usize,
        mut f: impl FnMut(usize) -> bool,
    ) -> bool {
        use std::arch::x86_64::*;
        // Each table of 16 bytes in both halves of a vector: the byte shuffle looks up within
        // each half.
        let table = |t: &[u8; 16]| _mm256_broadcastsi128_si256(_mm_loadu_si128(t.as_ptr().cast()));
        let m = self.masks.each_ref().map(|at| at.each_ref().map(table));
        let low = _mm256_set1_epi8(0x0F);
        while i + 34 <= bytes.len() {
            let p = bytes.as_ptr().add(i);
            let mut all = _mm256_set1_epi8(-1);
            for (k, [lo, hi]) in m.iter().enumerate() {
                // SAFETY: `i + k + 32 <= i + 34 <= bytes.len()`.
                let v = _mm256_loadu_si256(p.add(k).cast());
                let v_lo = _mm256_and_si256(v, low);
                let v_hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low);
                let found = _mm256_and_si256(
                    _mm256_shuffle_epi8(*lo, v_lo),
                    _mm256_shuffle_epi8(*hi, v_hi),
                );
                all = _mm256_and_si256(all, found);
            }
            let mut hits =
                !(_mm256_movemask_epi8(_mm256_cmpeq_epi8(all, _mm256_setzero_si256())) as u32);
            while hits != 0 {
                if !f(i + hits.trailing_zeros() as usize) {
                    return false;
                }
                hits &= hits - 1;
            }
            i += 32;
        }
        *rest = i;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::{each, Prints};

    #[test]
    fn each_visits_every_match_in_order_whatever_the_length_and_start() {
        // Matches at every place of texts of every length up to five blocks, from every
        // start: the last bytes too (the tail after the whole blocks may be a block and one
        // byte), in order, and no more once `f` says stop.
        for len in 0..5 * super::BLOCK + 3 {
            let bytes: Vec<u8> = (0..len)
                .map(|k| [b'a', b'!', b'b', b'!', b'!'][k * 7 % 5])
                .collect();
            let at = |x: u8, y: u8, _| (x == b'!') & (y != b'b');
            for start in 0..len.min(70) {
                let want: Vec<usize> = (start..len)
                    .filter(|&k| at(bytes[k], bytes.get(k + 1).copied().unwrap_or(0), 0))
                    .collect();
                let mut got = Vec::new();
                each(&bytes, start, at, |k| {
                    got.push(k);
                    true
                });
                assert_eq!(got, want, "length {len}, from {start}");
                let mut first = Vec::new();
                each(&bytes, start, at, |k| {
                    first.push(k);
                    false
                });
                assert_eq!(
                    first,
                    want[..want.len().min(1)],
                    "length {len}, from {start}"
                );
            }
        }
    }
    use crate::config::builtin_engine;
    use crate::convert::Matcher;
    use crate::Config;

    /// The start bitmap of `chars`.
    fn bitmap(chars: impl IntoIterator<Item = u32>) -> Box<[u64; 1024]> {
        let mut starts = Box::new([0u64; 1024]);
        for c in chars {
            starts[c as usize / 64] |= 1 << (c % 64);
        }
        starts
    }

    /// The start bitmap of `config`'s first step, and the lead bytes its skip looks up.
    fn starts_of(config: Config) -> (Box<[u64; 1024]>, impl Fn(u8) -> bool) {
        let engine = builtin_engine(config, true);
        let Matcher::Trie(t) = &engine.chain[0] else {
            panic!("{}'s first step is a trie", config.name())
        };
        let v = t.view();
        let leads = crate::trie::start_leads(v.lead_step).expect("few lead bytes");
        let lead = move |b: u8| {
            leads
                .iter()
                .any(|&(first, more)| b.wrapping_sub(first) <= more)
        };
        (Box::new(*v.starts.expect("a start bitmap")), lead)
    }

    /// The characters of three bytes whose bits are set in `starts` and whose lead byte is
    /// looked up.
    fn three_byte_starts(starts: &[u64; 1024], lead: impl Fn(u8) -> bool) -> Vec<u32> {
        (0x800..0x1_0000u32)
            .filter(|&c| starts[c as usize / 64] >> (c % 64) & 1 != 0)
            .filter(|&c| lead(0xE0 | (c >> 12) as u8))
            .collect()
    }

    /// The UTF-8 bytes of `c`, padded with zeros.
    fn utf8(c: u32) -> [u8; 4] {
        let mut b = [0; 4];
        char::from_u32(c).expect("a character").encode_utf8(&mut b);
        b
    }

    #[test]
    fn every_start_is_a_candidate_and_no_continuation_byte_is() {
        let (starts, lead) = starts_of(Config::T2tw);
        let p = Prints::new(&lead, &starts).expect("t2tw's prints");
        let chars = three_byte_starts(&starts, &lead);
        assert!(chars.len() > 40, "{}", chars.len());
        for &c in &chars {
            let b = utf8(c);
            assert!(p.candidate(b[0], b[1], b[2]), "U+{c:04X}");
        }
        // Neither a continuation byte nor a byte that the skip does not look up is one.
        for y in (0..=255u8).step_by(3) {
            for z in (0..=255u8).step_by(5) {
                for x in (0x80..0xC0).chain([b'a', 0xE3, 0xEF]).filter(|&x| !lead(x)) {
                    assert!(!p.candidate(x, y, z), "{x:02X} {y:02X} {z:02X}");
                }
            }
        }
        // A lead byte of another length that is looked up is, whatever follows.
        let mut with_c3 = starts.clone();
        with_c3[0xC0 / 64] |= 1 << (0xC0 % 64);
        let c3 = |b: u8| lead(b) || b == 0xC3;
        let p3 = Prints::new(c3, &with_c3).expect("prints");
        assert!((0..=255u8).all(|y| p3.candidate(0xC3, y, 255 - y)));
        // Most other characters of the CJK block are not candidates.
        let others = (0x4E00..0xA000u32).filter(|c| !chars.contains(c));
        let through = others
            .clone()
            .filter(|&c| {
                let b = utf8(c);
                p.candidate(b[0], b[1], b[2])
            })
            .count();
        assert!(through * 4 < others.count(), "{through}");
    }

    #[test]
    fn each_finds_every_candidate_in_order_until_told_to_stop() {
        let (starts, lead) = starts_of(Config::T2tw);
        let p = Prints::new(&lead, &starts).expect("t2tw's prints");
        let chars = three_byte_starts(&starts, &lead);
        let mut text = String::new();
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        while text.len() < 5000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let c = match seed >> 60 {
                0 => 'a',
                1 => 'é',
                2 => '⿰',
                3 => '，',
                4 => char::from_u32(chars[(seed >> 32) as usize % chars.len()]).expect("char"),
                _ => char::from_u32(0x4E00 + (seed >> 32) as u32 % 0x5000).expect("CJK"),
            };
            text.push(c);
        }
        let bytes = text.as_bytes();
        for from in [0, 1, 7, 100, 4000] {
            let (mut fast, mut slow) = (Vec::new(), Vec::new());
            let (mut fast_rest, mut slow_rest) = (0, 0);
            assert!(p.each(bytes, from, &mut fast_rest, |k| {
                fast.push(k);
                true
            }));
            assert!(p.each_bytes(bytes, from, &mut slow_rest, |k| {
                slow.push(k);
                true
            }));
            // The vector scan stops at a whole block; the bytes after are the caller's.
            let want: Vec<usize> = (from..fast_rest)
                .filter(|&k| p.candidate(bytes[k], bytes[k + 1], bytes[k + 2]))
                .collect();
            assert_eq!(fast, want);
            assert!(fast_rest + 34 > bytes.len() && (fast_rest - from) % 32 == 0);
            let before: Vec<usize> = fast.iter().copied().filter(|&k| k < slow_rest).collect();
            assert_eq!(slow, before);
            assert_eq!(slow_rest, (bytes.len() - 33).max(from));
            // Told to stop at the third candidate, it stops there.
            let mut seen = Vec::new();
            assert!(!p.each(bytes, from, &mut fast_rest, |k| {
                seen.push(k);
                seen.len() < 3
            }));
            assert_eq!(seen, want[..3]);
        }
    }

    #[test]
    fn no_prints_where_they_would_let_through_too_much() {
        let cjk = |b: u8| (0xE4..=0xE9).contains(&b);
        assert!(Prints::new(cjk, &bitmap(0x4E00..0x4E00 + 256)).is_some());
        assert!(Prints::new(cjk, &bitmap(0x4E00..0x4E00 + 257)).is_none());
        // 200 characters spread evenly over the CJK block: their nibbles differ too much.
        assert!(Prints::new(cjk, &bitmap((0..200).map(|k| 0x4E00 + k * 101))).is_none());
        let (starts, lead) = starts_of(Config::T2hk);
        assert!(Prints::new(&lead, &starts).is_none(), "t2hk's");
        let (starts, lead) = starts_of(Config::T2tw);
        assert!(Prints::new(|b| lead(b) || b == 0x80, &starts).is_none());
    }
}
