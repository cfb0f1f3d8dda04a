//! Ambiguity reports: where a one-to-many character or phrase was decided by the dictionary's
//! first candidate (发 → 發, not 髮), so that a person can review those places.

use std::collections::HashMap;

use crate::config::load_dictionary;
use crate::{Converter, Error};

/// One place where the conversion chose the first of several candidates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ambiguity {
    /// Byte offset of the source text (in the text after normalization, which only changes
    /// CJK compatibility ideographs).
    pub byte: usize,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The text matched.
    pub source: String,
    /// What it became.
    pub chosen: String,
    /// The other candidates the dictionary lists.
    pub alternatives: Vec<String>,
}

impl Ambiguity {
    /// The ambiguity as one line of JSON.
    pub fn to_json(&self) -> String {
        let q = |s: &str| {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        };
        let alternatives: Vec<String> = self.alternatives.iter().map(|a| q(a)).collect();
        format!(
            "{{\"line\":{},\"column\":{},\"byte\":{},\"source\":{},\"chosen\":{},\"alternatives\":[{}]}}",
            self.line,
            self.column,
            self.byte,
            q(&self.source),
            q(&self.chosen),
            alternatives.join(",")
        )
    }
}

impl Converter {
    /// The places in `text` where the first conversion step (where Simplified and Traditional
    /// part ways) took the first of several candidates, in text order.
    ///
    /// ```
    /// use fanjian::{Config, Converter};
    /// let found = Converter::new(Config::S2t).ambiguities("我的头发和发展")?;
    /// // 头发 and 发展 are phrases with one answer; a lone 发 would be listed.
    /// assert!(found.is_empty());
    /// let found = Converter::new(Config::S2t).ambiguities("发")?;
    /// assert_eq!((found[0].chosen.as_str(), found[0].alternatives.as_slice()), ("發", &["髮".to_string()][..]));
    /// # Ok::<(), fanjian::Error>(())
    /// ```
    pub fn ambiguities(&self, text: &str) -> Result<Vec<Ambiguity>, Error> {
        let Some(engine) = self.engines.first() else {
            return Ok(Vec::new());
        };
        // Per priority class: each key's alternatives (the first file with the key decides).
        let mut classes: Vec<HashMap<String, Vec<String>>> = Vec::new();
        for files in &engine.first_classes {
            let mut map = HashMap::new();
            for file in files {
                for e in load_dictionary(engine.dict_dir.as_deref(), file)? {
                    map.entry(e.key).or_insert(e.others);
                }
            }
            classes.push(map);
        }
        let mut found = Vec::new();
        let (mut line, mut column, mut counted) = (1, 1, 0);
        engine.first_step_matches(text, |at, key, value, class| {
            let Some(others) = classes.get(class as usize).and_then(|m| m.get(key)) else {
                return;
            };
            if others.is_empty() {
                return;
            }
            for c in text.get(counted..at).unwrap_or("").chars() {
                if c == '\n' {
                    line += 1;
                    column = 1;
                } else {
                    column += 1;
                }
            }
            counted = at;
            found.push(Ambiguity {
                byte: at,
                line,
                column,
                source: key.to_string(),
                chosen: value.to_string(),
                alternatives: others.iter().filter(|o| *o != value).cloned().collect(),
            });
        });
        Ok(found)
    }
}
