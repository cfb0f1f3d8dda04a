//! OpenCC JSON configs: a small JSONC reader (comments and trailing commas allowed, as OpenCC's
//! rapidjson settings allow) and the config's shape as data ([`ConfigSpec`]).
//!
//! Shared by `build.rs` (which compiles the 16 built-in configs) and the library (which loads a
//! user's config at run time), so that both read configs the same way. This file is included by
//! `build.rs` with `#[path]`, so it uses nothing from the rest of the crate.

use std::fmt;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number (kept as its text; configs only use numbers nowhere that matters).
    Number(String),
    /// A string.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object, members in document order.
    Object(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, name: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == name).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// An error in a config: malformed JSON or a structure OpenCC would reject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    /// 1-based line of the problem, 0 when it is about the config as a whole.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{}:{}: {}", self.line, self.column, self.message)
        }
    }
}

impl std::error::Error for SpecError {}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> SpecError {
        let before = &self.text[..self.pos];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        SpecError {
            line,
            column,
            message: message.into(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_space(&mut self) -> Result<(), SpecError> {
        loop {
            let rest = &self.text[self.pos..];
            let trimmed = rest.trim_start_matches([' ', '\t', '\n', '\r', '\u{feff}']);
            self.pos += rest.len() - trimmed.len();
            if trimmed.starts_with("//") {
                self.pos += trimmed.find('\n').unwrap_or(trimmed.len());
            } else if let Some(body) = trimmed.strip_prefix("/*") {
                match body.find("*/") {
                    Some(end) => self.pos += end + 4,
                    None => return Err(self.error("unterminated comment")),
                }
            } else {
                return Ok(());
            }
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), SpecError> {
        self.skip_space()?;
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(format!("expected '{}'", byte as char)))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, SpecError> {
        if depth > 64 {
            return Err(self.error("nested too deeply"));
        }
        self.skip_space()?;
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                let mut members = Vec::new();
                loop {
                    self.skip_space()?;
                    if self.peek() == Some(b'}') {
                        self.pos += 1;
                        return Ok(Json::Object(members));
                    }
                    if self.peek() != Some(b'"') {
                        return Err(self.error("expected a member name in double quotes"));
                    }
                    let name = self.string()?;
                    self.expect(b':')?;
                    let value = self.value(depth + 1)?;
                    members.push((name, value));
                    self.skip_space()?;
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'}') => {}
                        _ => return Err(self.error("expected ',' or '}'")),
                    }
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_space()?;
                    if self.peek() == Some(b']') {
                        self.pos += 1;
                        return Ok(Json::Array(items));
                    }
                    items.push(self.value(depth + 1)?);
                    self.skip_space()?;
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {}
                        _ => return Err(self.error("expected ',' or ']'")),
                    }
                }
            }
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b't') if self.text[self.pos..].starts_with("true") => {
                self.pos += 4;
                Ok(Json::Bool(true))
            }
            Some(b'f') if self.text[self.pos..].starts_with("false") => {
                self.pos += 5;
                Ok(Json::Bool(false))
            }
            Some(b'n') if self.text[self.pos..].starts_with("null") => {
                self.pos += 4;
                Ok(Json::Null)
            }
            Some(b'-' | b'0'..=b'9') => {
                let rest = &self.text[self.pos..];
                let len = rest
                    .find(|c: char| !matches!(c, '0'..='9' | '-' | '+' | '.' | 'e' | 'E'))
                    .unwrap_or(rest.len());
                self.pos += len;
                Ok(Json::Number(rest[..len].to_string()))
            }
            None => Err(self.error("unexpected end of config")),
            Some(_) => Err(self.error("expected a JSON value")),
        }
    }

    fn string(&mut self) -> Result<String, SpecError> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            let rest = &self.text[self.pos..];
            let Some(i) = rest.find(['"', '\\']) else {
                return Err(self.error("unterminated string"));
            };
            out.push_str(&rest[..i]);
            self.pos += i + 1;
            if rest.as_bytes()[i] == b'"' {
                return Ok(out);
            }
            let escape = self
                .peek()
                .ok_or_else(|| self.error("unterminated string"))?;
            self.pos += 1;
            match escape {
                b'"' => out.push('"'),
                b'\\' => out.push('\\'),
                b'/' => out.push('/'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'n' => out.push('\n'),
                b'r' => out.push('\r'),
                b't' => out.push('\t'),
                b'u' => {
                    let hi = self.hex4()?;
                    let c = if (0xD800..0xDC00).contains(&hi)
                        && self.text[self.pos..].starts_with("\\u")
                    {
                        self.pos += 2;
                        let lo = self.hex4()?;
                        char::from_u32(
                            0x10000 + ((hi - 0xD800) << 10) + (lo.wrapping_sub(0xDC00) & 0x3FF),
                        )
                    } else {
                        char::from_u32(hi)
                    };
                    out.push(c.ok_or_else(|| self.error("invalid \\u escape"))?);
                }
                _ => return Err(self.error("invalid escape in string")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, SpecError> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("invalid \\u escape"))?;
        let v = u32::from_str_radix(digits, 16).map_err(|_| self.error("invalid \\u escape"))?;
        self.pos += 4;
        Ok(v)
    }
}

/// Parses JSON with `//` and `/* */` comments and trailing commas.
pub fn parse_jsonc(text: &str) -> Result<Json, SpecError> {
    let mut p = Parser { text, pos: 0 };
    let v = p.value(0)?;
    p.skip_space()?;
    if p.pos != text.len() {
        return Err(p.error("unexpected text after the config"));
    }
    Ok(v)
}

/// How a group of dictionaries picks its match.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchPolicy {
    /// The first child with any match at this position wins (OpenCC's default).
    ShortCircuit,
    /// The longest match over all children wins; on a tie the earlier child.
    Union,
}

/// A dictionary in a config: a text file or a group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DictSpec {
    /// A text dictionary, named as the config names it (relative to the config's folder).
    Text {
        /// The `file` member.
        file: String,
        /// `may_output_tofu`: left out unless tofu-risk dictionaries are included.
        tofu: bool,
    },
    /// A group of dictionaries.
    Group {
        /// The `match_policy` member (default short-circuit).
        policy: MatchPolicy,
        /// The members, in order.
        dicts: Vec<DictSpec>,
        /// `may_output_tofu` on the group itself.
        tofu: bool,
    },
}

impl DictSpec {
    /// This dictionary as OpenCC loads it: tofu-risk members dropped unless `include_tofu`,
    /// empty groups gone. `None` when nothing is left.
    pub fn resolve(&self, include_tofu: bool) -> Option<DictSpec> {
        match self {
            DictSpec::Text { tofu, .. } => (!*tofu || include_tofu).then(|| self.clone()),
            DictSpec::Group {
                policy,
                dicts,
                tofu,
            } => {
                if *tofu && !include_tofu {
                    return None;
                }
                let dicts: Vec<DictSpec> = dicts
                    .iter()
                    .filter_map(|d| d.resolve(include_tofu))
                    .collect();
                (!dicts.is_empty()).then_some(DictSpec::Group {
                    policy: *policy,
                    dicts,
                    tofu: false,
                })
            }
        }
    }
}

/// A config: normalization chain, optional segmentation dictionary, conversion chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigSpec {
    /// The `name` member.
    pub name: String,
    /// Whole-text passes applied first (OpenCC 1.4: CJK compatibility ideographs).
    pub normalization: Vec<DictSpec>,
    /// The `mmseg` segmentation dictionary, if any.
    pub segmentation: Option<DictSpec>,
    /// The conversion steps, applied in order to each segment.
    pub chain: Vec<DictSpec>,
}

fn spec_err(message: impl Into<String>) -> SpecError {
    SpecError {
        line: 0,
        column: 0,
        message: message.into(),
    }
}

fn parse_dict(doc: &Json) -> Result<DictSpec, SpecError> {
    let ty = match doc.get("type") {
        Some(Json::String(t)) => t.as_str(),
        _ => return Err(spec_err("a dictionary needs a string member \"type\"")),
    };
    let tofu = match doc.get("may_output_tofu") {
        None => false,
        Some(Json::Bool(b)) => *b,
        Some(_) => return Err(spec_err("\"may_output_tofu\" must be true or false")),
    };
    match ty {
        "text" => match doc.get("file") {
            Some(Json::String(f)) => Ok(DictSpec::Text {
                file: f.clone(),
                tofu,
            }),
            _ => Err(spec_err("a text dictionary needs a string member \"file\"")),
        },
        "group" => {
            let policy = match doc.get("match_policy") {
                None => MatchPolicy::ShortCircuit,
                Some(Json::String(p)) if p == "short_circuit" => MatchPolicy::ShortCircuit,
                Some(Json::String(p)) if p == "union" => MatchPolicy::Union,
                Some(_) => {
                    return Err(spec_err(
                        "\"match_policy\" must be \"short_circuit\" or \"union\"",
                    ))
                }
            };
            let Some(Json::Array(items)) = doc.get("dicts") else {
                return Err(spec_err("a group needs an array member \"dicts\""));
            };
            let dicts = items.iter().map(parse_dict).collect::<Result<_, _>>()?;
            Ok(DictSpec::Group {
                policy,
                dicts,
                tofu,
            })
        }
        "ocd" | "ocd2" => Err(spec_err(format!(
            "dictionary type \"{ty}\" is OpenCC's binary format; point the config at the text \
             dictionary (\"type\": \"text\") instead"
        ))),
        other => Err(spec_err(format!("unknown dictionary type \"{other}\""))),
    }
}

fn parse_chain(doc: &Json, member: &str) -> Result<Vec<DictSpec>, SpecError> {
    let Some(Json::Array(steps)) = doc.get(member) else {
        return Err(spec_err(format!("\"{member}\" must be an array")));
    };
    steps
        .iter()
        .map(|step| match step.get("dict") {
            Some(d) => parse_dict(d),
            None => Err(spec_err(format!(
                "each step of \"{member}\" needs a \"dict\""
            ))),
        })
        .collect()
}

/// Parses an OpenCC config (JSON with comments).
pub fn parse_config(text: &str) -> Result<ConfigSpec, SpecError> {
    let doc = parse_jsonc(text)?;
    if !matches!(doc, Json::Object(_)) {
        return Err(spec_err("a config must be a JSON object"));
    }
    let name = match doc.get("name") {
        Some(Json::String(n)) => n.clone(),
        _ => String::new(),
    };
    let segmentation = match doc.get("segmentation") {
        None => None,
        Some(seg) => {
            match seg.get("type") {
                Some(Json::String(t)) if t == "mmseg" => {}
                Some(Json::String(t)) => {
                    return Err(spec_err(format!(
                        "segmentation type \"{t}\" is not supported (only \"mmseg\")"
                    )))
                }
                _ => return Err(spec_err("segmentation needs a string member \"type\"")),
            }
            let dict = seg
                .get("dict")
                .ok_or_else(|| spec_err("segmentation needs a \"dict\""))?;
            Some(parse_dict(dict)?)
        }
    };
    if doc.get("conversion_chain").is_none() {
        return Err(spec_err("a config needs a \"conversion_chain\""));
    }
    let chain = parse_chain(&doc, "conversion_chain")?;
    let normalization = match doc.get("normalization") {
        None => Vec::new(),
        Some(_) => parse_chain(&doc, "normalization")?,
    };
    Ok(ConfigSpec {
        name,
        normalization,
        segmentation,
        chain,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonc_comments_and_trailing_commas() {
        let v = parse_jsonc("// c\n{ /* x */ \"a\": [1, \"b\\u00e9\\ud83d\\ude00\",], }").unwrap();
        assert_eq!(
            v,
            Json::Object(vec![(
                "a".into(),
                Json::Array(vec![Json::Number("1".into()), Json::String("bé😀".into())])
            )])
        );
    }

    #[test]
    fn jsonc_error_position() {
        let e = parse_jsonc("{\n  \"a\": ?\n}").unwrap_err();
        assert_eq!((e.line, e.column), (2, 8));
    }

    #[test]
    fn config_with_tofu_group() {
        let spec = parse_config(
            r#"{"name": "x", "conversion_chain": [{"dict": {"type": "group", "dicts": [
                {"type": "text", "file": "A.txt"},
                {"type": "text", "file": "B.txt", "may_output_tofu": true}]}}]}"#,
        )
        .unwrap();
        assert_eq!(spec.chain.len(), 1);
        let text = |file: &str, tofu| DictSpec::Text {
            file: file.into(),
            tofu,
        };
        let group = |dicts| DictSpec::Group {
            policy: MatchPolicy::ShortCircuit,
            dicts,
            tofu: false,
        };
        assert_eq!(
            spec.chain[0].resolve(false),
            Some(group(vec![text("A.txt", false)]))
        );
        assert_eq!(
            spec.chain[0].resolve(true),
            Some(group(vec![text("A.txt", false), text("B.txt", true)]))
        );
    }
}
