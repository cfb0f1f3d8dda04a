//! fanjian (繁簡) converts between Simplified, Traditional, Taiwan, Hong Kong and Japanese
//! Shinjitai Chinese with output byte-identical to OpenCC 1.4.2, for all 16 of its configs.
//!
//! The conversion tables are OpenCC 1.4.2's, compiled into the binary at build time: nothing is
//! read from disk at run time and building a [`Converter`] for a built-in config costs
//! microseconds.
//!
//! ```
//! use fanjian::{Config, Converter};
//!
//! let s2twp = Converter::new(Config::S2twp);
//! assert_eq!(s2twp.convert("鼠标和内存"), "滑鼠和記憶體");
//!
//! // Text that needs no change comes back borrowed, without a copy.
//! assert!(matches!(s2twp.convert("plain ASCII"), std::borrow::Cow::Borrowed(_)));
//!
//! // A Converter is Send + Sync: build it once, share it between threads.
//! let t2s = std::sync::Arc::new(Converter::new(Config::T2s));
//! let handle = { let t2s = t2s.clone(); std::thread::spawn(move || t2s.convert("漢字").into_owned()) };
//! assert_eq!(handle.join().unwrap(), "汉字");
//! ```
//!
//! # Semantics
//! The engine reproduces OpenCC's algorithm exactly (see the `convert` module docs): a
//! normalization pass, greedy longest-match segmentation, and a chain of dictionary steps applied
//! segment by segment, with `short_circuit` and `union` dictionary groups and complete Ideographic
//! Description Sequences copied whole. Like OpenCC's command line, the tofu-risk dictionaries
//! (characters many fonts cannot show) are left out unless asked for with
//! [`Converter::builder`].
//!
//! One deliberate difference: OpenCC 1.4.2 drops the text that follows a NUL character inside a
//! segment (it passes segments on as C strings); fanjian converts NUL like any other character
//! and never loses text.

#![warn(missing_docs)]

mod ambiguity;
mod bytes;
mod compose;
mod config;
mod convert;
mod dense;
mod dict;
mod encoding;
mod error;
mod ids;
mod normalize;
mod pipeline;
mod script;
mod spec;
mod stream;
mod tables;
mod trie;
mod trie_build;

use std::borrow::Cow;
use std::path::Path;

pub use ambiguity::Ambiguity;
pub use config::{Config, UnknownConfig};
pub use encoding::{
    detect, DecodeError, Decoder, Detected, EncodeError, Encoder, Encoding, Position,
    UnknownEncoding,
};
pub use error::{DictError, Error, SpecError};
pub use normalize::{Normalize, Normalizer, QuoteStyle};
pub use pipeline::{
    convert_file, convert_stream, OutputEncoding, ReadAt, StreamError, StreamOptions, StreamReport,
};
pub use script::{detect_script, Script, ScriptReport};
pub use stream::StreamConverter;

/// Reads a dictionary in OpenCC's text format (`key<TAB>value`, `#` comments) as (key, first
/// value) pairs, for [`Converter::with_overrides`]. Errors name the file and line.
pub fn read_dictionary(path: impl AsRef<Path>) -> Result<Vec<(String, String)>, Error> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let entries = dict::parse_text_dict(&text, &path.display().to_string())?;
    Ok(entries.into_iter().map(|e| (e.key, e.value)).collect())
}

/// Converts text with one config (or several in a row, see [`Converter::then`]). Immutable,
/// cheap to build, `Send + Sync`.
#[derive(Debug, Clone)]
pub struct Converter {
    /// Applied one after the other to the whole text (none: the identity).
    engines: Vec<convert::Engine>,
    /// The user's own entries, applied first: their keys are replaced by their values and kept
    /// out of the conversion (see [`Converter::with_overrides`]).
    overrides: Option<Box<trie::Trie>>,
}

/// Options for building a [`Converter`]; see [`Converter::builder`].
#[derive(Debug, Clone)]
pub struct ConverterBuilder {
    config: Config,
    include_tofu_risk_dictionaries: bool,
}

impl ConverterBuilder {
    /// Includes the dictionaries OpenCC marks `may_output_tofu` (rare characters that many fonts
    /// cannot display; only the t2s family has one). Off by default, as in OpenCC's command line;
    /// OpenCC's Python API turns it on.
    pub fn include_tofu_risk_dictionaries(mut self, yes: bool) -> ConverterBuilder {
        self.include_tofu_risk_dictionaries = yes;
        self
    }

    /// Builds the converter.
    pub fn build(self) -> Converter {
        Converter {
            engines: vec![config::builtin_engine(
                self.config,
                self.include_tofu_risk_dictionaries,
            )],
            overrides: None,
        }
    }
}

impl Converter {
    /// A converter for a built-in config, tofu-risk dictionaries excluded.
    pub fn new(config: Config) -> Converter {
        Converter::builder(config).build()
    }

    /// A builder for a built-in config, to set options:
    ///
    /// ```
    /// use fanjian::{Config, Converter};
    /// let t2s = Converter::builder(Config::T2s).include_tofu_risk_dictionaries(true).build();
    /// assert_eq!(t2s.convert("圞"), "𪢮");
    /// assert_eq!(Converter::new(Config::T2s).convert("圞"), "圞");
    /// ```
    pub fn builder(config: Config) -> ConverterBuilder {
        ConverterBuilder {
            config,
            include_tofu_risk_dictionaries: false,
        }
    }

    /// Loads an OpenCC JSON config (comments and trailing commas allowed). Its text dictionaries
    /// (`"type": "text"`) are looked up in the config's folder, then among OpenCC 1.4.2's own
    /// dictionaries, which are built in: a config may name `STPhrases.txt` without shipping it.
    pub fn from_config_file(
        path: impl AsRef<Path>,
        include_tofu_risk_dictionaries: bool,
    ) -> Result<Converter, Error> {
        Ok(Converter {
            engines: vec![config::file_engine(
                path.as_ref(),
                include_tofu_risk_dictionaries,
            )?],
            overrides: None,
        })
    }

    /// Converts `text`. Returns it borrowed when the conversion changes nothing.
    pub fn convert<'a>(&self, text: &'a str) -> Cow<'a, str> {
        // If no step changes the text, each sees the same text: nothing changes.
        // (`identity()` has no steps and so borrows.)
        if self.overrides.is_none() && !self.engines.iter().any(|e| e.may_change(text)) {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len() + text.len() / 4);
        self.convert_into(text, &mut out);
        if out == text {
            Cow::Borrowed(text)
        } else {
            Cow::Owned(out)
        }
    }

    /// Converts `text` and appends the result to `out`.
    ///
    /// ```
    /// use fanjian::{Config, Converter};
    /// let mut out = String::from("> ");
    /// Converter::new(Config::S2t).convert_into("头发", &mut out);
    /// assert_eq!(out, "> 頭髮");
    /// ```
    pub fn convert_into(&self, text: &str, out: &mut String) {
        // A long text goes through in pieces cut at safe places (see `last_safe_cut`), the same
        // bytes as whole: each piece's intermediate buffers then stay in the cache with the
        // tables, instead of a whole copy of the text per step.
        const PIECE: usize = 64 * 1024;
        let mut rest = text;
        while rest.len() > 2 * PIECE {
            let mut window = PIECE;
            let cut = loop {
                match self.safe_cut_below(rest, window.min(rest.len()), window / 2) {
                    Some(cut) => break cut,
                    None if window >= rest.len() => break rest.len(),
                    None => window *= 2,
                }
            };
            self.convert_piece_into(&rest[..cut], out);
            rest = &rest[cut..];
        }
        self.convert_piece_into(rest, out);
    }

    /// Converts `text` whole (see [`Converter::convert_into`]).
    fn convert_piece_into(&self, text: &str, out: &mut String) {
        match &self.overrides {
            None => self.convert_engines_into(text, out),
            Some(overrides) => convert::split_by(overrides, text, |piece, value| match value {
                Some(value) => out.push_str(value),
                None => self.convert_engines_into(piece, out),
            }),
        }
    }

    /// The same converter with the user's own entries applied first, before anything else:
    /// wherever a key occurs (longest first, left to right) it becomes its value, whole, and
    /// the text around it is converted as usual. A phrase you add is thus converted as a whole
    /// in every config, segmentation or not, and an entry whose value is its key keeps a term
    /// unconverted. Among entries with the same key, the first wins; entries added here win
    /// over earlier `with_overrides` calls.
    ///
    /// ```
    /// use fanjian::{Config, Converter};
    /// let c = Converter::new(Config::S2twp).with_overrides([("乾安县", "乾安縣"), ("内存", "內存")]);
    /// assert_eq!(c.convert("乾安县的内存"), "乾安縣的內存");
    /// ```
    pub fn with_overrides<K: AsRef<str>, V: AsRef<str>>(
        mut self,
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Converter {
        let mut builder = trie_build::TrieBuilder::new();
        for (k, v) in entries {
            builder.add(k.as_ref(), v.as_ref(), 0);
        }
        if let Some(old) = &self.overrides {
            for (k, v) in old.entries() {
                builder.add(&k, &v, 0);
            }
        }
        self.overrides = Some(Box::new(trie::Trie::from_image(&builder.finish())));
        self
    }

    fn convert_engines_into(&self, text: &str, out: &mut String) {
        match &self.engines[..] {
            [only] => only.convert_into(text, out),
            [first, rest @ ..] => {
                let mut current = String::new();
                first.convert_into(text, &mut current);
                for (k, engine) in rest.iter().enumerate() {
                    if k + 1 == rest.len() {
                        engine.convert_into(&current, out);
                    } else {
                        let mut next = String::with_capacity(current.len());
                        engine.convert_into(&current, &mut next);
                        current = next;
                    }
                }
            }
            [] => out.push_str(text),
        }
    }

    /// Keeps variation selectors (U+FE00–FE0F, U+E0100–E01EF) with their base characters:
    /// phrases match across them and they follow the converted characters. Off by default,
    /// where, as in OpenCC, a selector is an ordinary character that ends every match.
    ///
    /// ```
    /// use fanjian::{Config, Converter};
    /// let text = "头\u{FE00}发";
    /// assert_eq!(Converter::new(Config::S2t).convert(text), "頭\u{FE00}發");
    /// let attached = Converter::new(Config::S2t).attach_variation_selectors(true);
    /// assert_eq!(attached.convert(text), "頭\u{FE00}髮");
    /// ```
    pub fn attach_variation_selectors(mut self, yes: bool) -> Converter {
        self.engines.iter_mut().for_each(|e| e.attach_vs = yes);
        self
    }

    /// A converter that changes nothing (useful with [`convert_stream`], which still
    /// re-encodes, and as the neutral element of [`Converter::then`]).
    pub fn identity() -> Converter {
        Converter {
            engines: Vec::new(),
            overrides: None,
        }
    }

    /// This conversion followed by `next`'s, as one converter (for streaming too):
    ///
    /// ```
    /// use fanjian::{Config, Converter};
    /// let s2jp = Converter::new(Config::S2t).then(Converter::new(Config::T2jp));
    /// assert_eq!(s2jp.convert("广东"), "広東");
    /// ```
    ///
    /// Entries from [`Converter::with_overrides`] of either part apply to the whole chain,
    /// this converter's first.
    pub fn then(mut self, next: Converter) -> Converter {
        self.engines.extend(next.engines);
        match next.overrides {
            Some(theirs) => self.with_overrides(theirs.entries()),
            None => self,
        }
    }

    /// See [`convert::last_safe_cut`]: a cut is safe for a chain when it is for every step.
    pub(crate) fn last_safe_cut(&self, text: &str, min: usize) -> Option<usize> {
        self.last_safe_cut_before(text, min, |_| true)
    }

    /// [`Converter::last_safe_cut`] among the cuts before a character for which `before`
    /// holds.
    pub(crate) fn last_safe_cut_before(
        &self,
        text: &str,
        min: usize,
        before: impl Fn(char) -> bool,
    ) -> Option<usize> {
        convert::last_safe_cut(text, min, |c| {
            before(c)
                && self.engines.iter().all(|e| e.inert(c))
                && !self.overrides.as_ref().is_some_and(|t| t.in_keys(c as u32))
        })
    }

    /// The last safe cut in `text` at or below `target` (moved back to a character boundary)
    /// and at least `min`.
    pub(crate) fn safe_cut_below(
        &self,
        text: &str,
        mut target: usize,
        min: usize,
    ) -> Option<usize> {
        while !text.is_char_boundary(target) {
            target -= 1;
        }
        self.last_safe_cut(&text[..target], min)
    }

    /// A converter for text that arrives in pieces, with output byte-identical to converting
    /// it whole (see [`StreamConverter`]).
    pub fn stream(&self) -> StreamConverter<'_> {
        StreamConverter::new(self)
    }

    /// The longest dictionary key any step of this converter can match, in characters.
    pub fn max_key_chars(&self) -> usize {
        self.engines
            .iter()
            .flat_map(|e| {
                e.normalization
                    .iter()
                    .chain(&e.chain)
                    .chain(&e.segmentation)
            })
            .map(|m| m.max_key_chars())
            .max()
            .unwrap_or(0)
    }
}
