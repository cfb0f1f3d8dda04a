//! The OpenCC text-dictionary format: one parser for the build script (which compiles the
//! built-in tables) and for dictionaries loaded at run time.
//!
//! Format, as OpenCC 1.4.2 reads it: UTF-8, an optional leading BOM, one entry a line,
//! `key<TAB>value1 value2 ...`. Lines that start with `#` and empty lines are skipped; a trailing
//! `\r` is dropped. Only the first value is used for conversion; the others are alternatives.
//! A key given twice is an error, as in OpenCC.
//!
//! This file is included by `build.rs` with `#[path]`, so it uses nothing from the rest of the
//! crate.

use std::fmt;

/// One dictionary entry: the key, its first value and how many values the line listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The text matched in the input.
    pub key: String,
    /// The replacement (the first value on the line).
    pub value: String,
    /// The number of values on the line (more than one means the conversion is ambiguous).
    pub candidates: u32,
    /// The values after the first (the alternatives an ambiguity report lists).
    pub others: Vec<String>,
}

/// A malformed line in a text dictionary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DictError {
    /// The dictionary's name or path, as the caller gave it.
    pub source: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for DictError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.source, self.line, self.message)
    }
}

impl std::error::Error for DictError {}

/// Parses a text dictionary. `source` names it in error messages.
pub fn parse_text_dict(text: &str, source: &str) -> Result<Vec<Entry>, DictError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut entries = Vec::new();
    let err = |line: usize, message: String| DictError {
        source: source.to_string(),
        line,
        message,
    };
    for (index, raw) in text.split('\n').enumerate() {
        let line_no = index + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((key, values)) = line.split_once('\t') else {
            return Err(err(
                line_no,
                format!("no tab between key and value in {line:?}"),
            ));
        };
        if key.is_empty() {
            return Err(err(line_no, "empty key".to_string()));
        }
        // OpenCC splits the values at single spaces; an empty value is allowed (it deletes the key).
        let mut parts = values.split(' ');
        let value = parts.next().unwrap_or("");
        let others: Vec<String> = parts.map(str::to_string).collect();
        entries.push(Entry {
            key: key.to_string(),
            value: value.to_string(),
            candidates: 1 + others.len() as u32,
            others,
        });
    }
    let mut order: Vec<usize> = (0..entries.len()).collect();
    order.sort_by(|&a, &b| entries[a].key.cmp(&entries[b].key));
    if let Some(w) = order
        .windows(2)
        .find(|w| entries[w[0]].key == entries[w[1]].key)
    {
        let key = &entries[w[1]].key;
        let line = line_of_entry(text, w[0].max(w[1]));
        return Err(err(line, format!("duplicate key {key:?}")));
    }
    Ok(entries)
}

/// The 1-based line number of the `n`th entry (0-based) of a dictionary already known to parse.
fn line_of_entry(text: &str, n: usize) -> usize {
    text.split('\n')
        .enumerate()
        .filter(|(_, l)| {
            let l = l.strip_suffix('\r').unwrap_or(l);
            !l.is_empty() && !l.starts_with('#')
        })
        .nth(n)
        .map_or(0, |(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries_comments_bom_and_crlf() {
        let text = "\u{feff}# comment\n\n头\t頭\r\n发\t發 髮\n干\t\n";
        let entries = parse_text_dict(text, "t.txt").unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[0].key, "头");
        assert_eq!(entries[0].value, "頭");
        assert_eq!(entries[1].value, "發");
        assert_eq!(entries[1].candidates, 2);
        assert_eq!(entries[2].value, "");
    }

    #[test]
    fn reports_missing_tab_with_line() {
        let e = parse_text_dict("a\tb\n# x\nno tab here\n", "d.txt").unwrap_err();
        assert_eq!(e.line, 3);
        assert_eq!(
            e.to_string(),
            "d.txt:3: no tab between key and value in \"no tab here\""
        );
    }

    #[test]
    fn reports_duplicate_key_at_second_occurrence() {
        let e = parse_text_dict("a\tb\nc\td\n\na\te\n", "d.txt").unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.message.contains("duplicate key \"a\""));
    }

    #[test]
    fn rejects_empty_key() {
        let e = parse_text_dict("\tb\n", "d.txt").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (1, "empty key"));
    }
}
