//! Scans of bytes that find, a block of 64 at a time, where a condition on a byte and the two
//! after it holds: the condition is written with comparisons only, combined without branches,
//! which the compiler turns into vector instructions (SSE2 on every x86-64, AVX2 where the
//! processor has it, chosen at run time). Most blocks of most text hold no match, and cost a
//! few instructions per byte.

/// The first offset at or after `i` where `at(x, y, z)` holds for the byte there and the two
/// after it (0 past the end), or `bytes.len()`.
#[inline(always)]
pub(crate) fn find(bytes: &[u8], i: usize, at: impl Fn(u8, u8, u8) -> bool) -> usize {
    let mut found = bytes.len();
    each(bytes, i, at, |k| {
        found = k;
        false
    });
    found
}

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
    let rest = &bytes[i.min(bytes.len())..];
    let mut w = [0u8; BLOCK + 2];
    w[..rest.len()].copy_from_slice(rest);
    visit(i, block_hits(&w, &at), rest.len(), &mut f);
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
