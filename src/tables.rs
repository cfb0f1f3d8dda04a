//! The built-in tables: trie images compiled from `tables/opencc/` by `build.rs` and embedded in
//! the binary, and the 16 configs as lists of those tries.
//!
//! The `unsafe` here views the embedded, 4-byte aligned image as `u32` words without copying
//! it, and its value text as `str` without validating it again. (The crate's other `unsafe`
//! is in the scans: the AVX2 builds of the byte scans in `bytes.rs`, where the processor has
//! AVX2, and the table loops of `dense.rs` and `compose.rs`, which read their tables and the
//! text's bytes without bounds checks where each says why they are in bounds.)

use std::sync::OnceLock;

use crate::trie::Trie;

/// The steps of a built-in config for one tofu setting: indexes into [`TRIE_RANGES`].
pub(crate) struct Steps {
    pub(crate) normalization: &'static [u16],
    pub(crate) segmentation: Option<u16>,
    pub(crate) chain: &'static [u16],
    /// Segmentation may be fused into the first step (see `Engine::fused`).
    pub(crate) fused: bool,
    /// The first step's priority classes, as dictionary files (for ambiguity reports).
    pub(crate) first_classes: &'static [&'static [&'static str]],
}

/// A built-in config: its OpenCC name and its steps without (`[0]`) and with (`[1]`) the
/// tofu-risk dictionaries.
pub(crate) struct BuiltinDef {
    pub(crate) title: &'static str,
    pub(crate) steps: [Steps; 2],
}

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

#[repr(C, align(8))]
struct Aligned<T: ?Sized>(T);

static BLOB: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/tables.bin")));

/// The text of a built-in OpenCC dictionary, by file name (`"STPhrases.txt"`).
pub(crate) fn dictionary_text(file: &str) -> Option<&'static str> {
    DICTIONARY_TEXTS
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(_, text)| *text)
}

/// The embedded trie number `id`: its header and value text are checked once per process.
pub(crate) fn trie(id: u16) -> Trie {
    static LOADED: [OnceLock<Trie>; TRIE_RANGES.len()] =
        [const { OnceLock::new() }; TRIE_RANGES.len()];
    LOADED[id as usize]
        .get_or_init(|| {
            let (start, len) = TRIE_RANGES[id as usize];
            Trie::from_static(&BLOB.0[start..start + len])
        })
        .clone()
}

/// How many tries are embedded.
#[cfg(test)]
pub(crate) fn trie_count() -> u16 {
    TRIE_RANGES.len() as u16
}

/// The value text of an embedded trie image, without validating it again at run time.
pub(crate) fn embedded_text(bytes: &'static [u8]) -> &'static str {
    debug_assert!(std::str::from_utf8(bytes).is_ok());
    // SAFETY: `bytes` is the value section of a trie image that build.rs wrote into BLOB: the
    // concatenation of Rust `String`s followed by NUL padding, so it is valid UTF-8. (Offsets
    // into it are still checked as character boundaries by every slice taken of it.)
    unsafe { std::str::from_utf8_unchecked(bytes) }
}

/// Views a 4-byte aligned slice of the embedded image as little-endian words.
#[cfg(target_endian = "little")]
pub(crate) fn words_of(image: &'static [u8]) -> &'static [u32] {
    // SAFETY: every bit pattern is a valid u32, and `align_to` only yields the middle slice at
    // an address aligned for u32. The image starts 4-aligned (BLOB is 8-aligned and every trie
    // image is a whole number of words), which the assertion checks, so nothing is skipped.
    let (head, words, _) = unsafe { image.align_to::<u32>() };
    assert!(head.is_empty(), "embedded trie image is not 4-byte aligned");
    words
}

/// On a big-endian target the embedded image is decoded once into leaked words.
#[cfg(not(target_endian = "little"))]
pub(crate) fn words_of(image: &'static [u8]) -> &'static [u32] {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static CACHE: Mutex<Option<HashMap<usize, &'static [u32]>>> = Mutex::new(None);
    let mut cache = CACHE.lock().unwrap();
    let cache = cache.get_or_insert_with(HashMap::new);
    cache.entry(image.as_ptr() as usize).or_insert_with(|| {
        let words: Vec<u32> = image
            .chunks_exact(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        Box::leak(words.into_boxed_slice())
    })
}
