//! Telling Simplified from Traditional Chinese, with the evidence.
//!
//! A character is evidence for Simplified when OpenCC's s2t turns it into something else on its
//! own and t2s leaves it alone (这, 发), for Traditional the other way round (這, 髮); characters
//! both scripts share (中, 人) say nothing. The verdict is the share of the evidence.

use std::fmt;
use std::sync::OnceLock;

use crate::config::{builtin_engine, Config};
use crate::convert::Engine;
use crate::trie::Value;

/// What a text is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// Simplified Chinese.
    Simplified,
    /// Traditional Chinese.
    Traditional,
    /// Both, in comparable amounts.
    Mixed,
    /// Chinese, but only with characters both scripts share.
    Neutral,
    /// No Han characters at all.
    NotChinese,
}

impl fmt::Display for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Script::Simplified => "simplified",
            Script::Traditional => "traditional",
            Script::Mixed => "mixed",
            Script::Neutral => "neutral",
            Script::NotChinese => "not-chinese",
        })
    }
}

/// The verdict of [`detect_script`] and its evidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScriptReport {
    /// The verdict.
    pub script: Script,
    /// The share of the evidence behind the verdict, 0 to 1 (0 without evidence).
    pub confidence: f64,
    /// Characters only Simplified uses.
    pub simplified: usize,
    /// Characters only Traditional uses.
    pub traditional: usize,
    /// Han characters in all.
    pub han: usize,
}

fn engines() -> &'static (Engine, Engine) {
    static ENGINES: OnceLock<(Engine, Engine)> = OnceLock::new();
    ENGINES.get_or_init(|| {
        (
            builtin_engine(Config::S2t, true),
            builtin_engine(Config::T2s, true),
        )
    })
}

fn changes(engine: &Engine, c: char) -> bool {
    engine
        .chain
        .iter()
        .any(|m| m.single(c).is_some_and(|v| v != Value::Char(c)))
}

fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F)
}

/// Tells whether `text` is Simplified, Traditional, mixed, neutral or not Chinese.
///
/// ```
/// use fanjian::{detect_script, Script};
/// assert_eq!(detect_script("这是简体中文").script, Script::Simplified);
/// assert_eq!(detect_script("這是繁體中文").script, Script::Traditional);
/// assert_eq!(detect_script("hello").script, Script::NotChinese);
/// ```
pub fn detect_script(text: &str) -> ScriptReport {
    let (s2t, t2s) = engines();
    let (mut simplified, mut traditional, mut han) = (0, 0, 0);
    for c in text.chars().filter(|&c| is_han(c)) {
        han += 1;
        match (changes(s2t, c), changes(t2s, c)) {
            (true, false) => simplified += 1,
            (false, true) => traditional += 1,
            _ => {}
        }
    }
    let evidence = simplified + traditional;
    let (script, confidence) = if han == 0 {
        (Script::NotChinese, 0.0)
    } else if evidence == 0 {
        (Script::Neutral, 0.0)
    } else {
        let s = simplified as f64 / evidence as f64;
        if s >= 0.8 {
            (Script::Simplified, s)
        } else if s <= 0.2 {
            (Script::Traditional, 1.0 - s)
        } else {
            (Script::Mixed, 1.0 - (s - 0.5).abs() * 2.0)
        }
    };
    ScriptReport {
        script,
        confidence,
        simplified,
        traditional,
        han,
    }
}
