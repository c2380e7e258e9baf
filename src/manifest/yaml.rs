//! A span-aware YAML tree: every node keeps where it was written, so validation can point at
//! `file:line:column`. Built from saphyr-parser's events with an explicit stack (no recursion,
//! nesting bounded), and strict where serde_yaml is lenient or silent: duplicate keys, aliases,
//! tags and non-string keys are reported here, each at its own position.

use std::collections::HashSet;

use saphyr_parser::{Event, Parser, ScalarStyle};

/// Manifests are a handful of levels deep; anything deeper is a mistake or an attack.
pub const MAX_DEPTH: usize = 32;

/// A position in a file: 1-based line, 0-based column counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: Pos,
    pub end: Pos,
}

impl Span {
    fn from_saphyr(span: saphyr_parser::Span) -> Self {
        let pos = |m: saphyr_parser::Marker| Pos {
            line: m.line(),
            col: m.col(),
        };
        Span {
            start: pos(span.start),
            end: pos(span.end),
        }
    }

    pub fn point(pos: Pos) -> Self {
        Span {
            start: pos,
            end: pos,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub span: Span,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(Scalar),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
    /// Something already reported while parsing (an alias, a tagged node). Later checks accept it
    /// silently so one mistake is reported once.
    Invalid,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: Node,
    pub value: Node,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    pub text: String,
    /// Quoted and block scalars are always strings; plain ones are resolved by the YAML 1.2
    /// core schema, as serde_yaml does.
    pub plain: bool,
}

/// What a scalar means under the YAML 1.2 core schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarKind {
    Null,
    Bool(bool),
    Number,
    String,
}

impl Scalar {
    pub fn kind(&self) -> ScalarKind {
        if !self.plain {
            return ScalarKind::String;
        }
        match self.text.as_str() {
            "" | "~" | "null" | "Null" | "NULL" => ScalarKind::Null,
            "true" | "True" | "TRUE" => ScalarKind::Bool(true),
            "false" | "False" | "FALSE" => ScalarKind::Bool(false),
            t if is_core_number(t) => ScalarKind::Number,
            _ => ScalarKind::String,
        }
    }
}

/// Integers (decimal, `0o`, `0x`) and floats (including `.inf` and `.nan`) of the core schema.
fn is_core_number(t: &str) -> bool {
    let all = |s: &str, f: fn(char) -> bool| !s.is_empty() && s.chars().all(f);
    if let Some(oct) = t.strip_prefix("0o") {
        return all(oct, |c| c.is_digit(8));
    }
    if let Some(hex) = t.strip_prefix("0x") {
        return all(hex, |c| c.is_ascii_hexdigit());
    }
    if matches!(t, ".nan" | ".NaN" | ".NAN") {
        return true;
    }
    let unsigned = t.strip_prefix(['-', '+']).unwrap_or(t);
    if matches!(unsigned, ".inf" | ".Inf" | ".INF") {
        return true;
    }
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], Some(&unsigned[i + 1..])),
        None => (unsigned, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((whole, frac)) => {
            (whole.is_empty() || all(whole, |c| c.is_ascii_digit()))
                && (frac.is_empty() || all(frac, |c| c.is_ascii_digit()))
                && !(whole.is_empty() && frac.is_empty())
        }
        None => all(mantissa, |c| c.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let digits = e.strip_prefix(['-', '+']).unwrap_or(e);
        all(digits, |c| c.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

impl Node {
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) => Some(&s.text),
            _ => None,
        }
    }

    /// The value under `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key.as_str() == Some(key)),
            _ => None,
        }
    }

    pub fn index(&self, i: usize) -> Option<&Node> {
        match &self.value {
            Value::Seq(items) => items.get(i),
            _ => None,
        }
    }
}

/// One `---`-separated document of a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// `None` for an empty document (a stray `---`, or only comments).
    pub root: Option<Node>,
    /// Where the document starts, for errors about the document as a whole.
    pub start: Pos,
}

/// A problem found while building the tree.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseProblem {
    pub span: Span,
    pub message: String,
    pub hint: Option<String>,
}

#[derive(Debug, Default)]
pub struct Parsed {
    pub documents: Vec<Document>,
    /// Problems in the order found. When `fatal`, the last one stopped parsing and `documents`
    /// holds only what came before it.
    pub problems: Vec<ParseProblem>,
    pub fatal: bool,
}

enum Frame {
    Seq {
        start: Span,
        items: Vec<Node>,
    },
    Map {
        start: Span,
        entries: Vec<Entry>,
        /// A key waiting for its value; `None` inside means the key was refused and its entry
        /// is dropped when the value arrives.
        pending: Option<Option<Node>>,
        seen: HashSet<String>,
    },
}

/// Parses every document in `text`.
pub fn parse(text: &str) -> Parsed {
    let mut out = Parsed::default();
    let mut parser = Parser::new_from_str(text);
    let mut stack: Vec<Frame> = Vec::new();
    let mut root: Option<Node> = None;
    let mut doc_start = Pos::default();

    while let Some(next) = parser.next_event() {
        let (event, span) = match next {
            Ok((event, span)) => (event, Span::from_saphyr(span)),
            Err(err) => {
                let marker = err.marker();
                let pos = Pos {
                    line: marker.line(),
                    col: marker.col(),
                };
                out.problems
                    .push(if err.info().contains("recursion limit") {
                        too_deep(Span::point(pos))
                    } else {
                        syntax_problem(text, pos, err.info())
                    });
                out.fatal = true;
                return out;
            }
        };
        let node = match event {
            Event::StreamStart | Event::Nothing => continue,
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                doc_start = span.start;
                root = None;
                continue;
            }
            Event::DocumentEnd => {
                // `---` with nothing after it is an empty document, not a manifest.
                let root = root.take().filter(
                    |r| !matches!(&r.value, Value::Scalar(s) if s.kind() == ScalarKind::Null),
                );
                out.documents.push(Document {
                    root,
                    start: doc_start,
                });
                continue;
            }
            Event::Alias(_) => {
                let name = source_slice(text, span).unwrap_or_default();
                out.problems.push(ParseProblem {
                    span,
                    message: format!(
                        "YAML aliases{} are not supported in manifests",
                        if name.is_empty() {
                            String::new()
                        } else {
                            format!(" (`{name}`)")
                        }
                    ),
                    hint: Some(
                        "write the value out in full, so every manifest reads on its own"
                            .to_owned(),
                    ),
                });
                Node {
                    span,
                    value: Value::Invalid,
                }
            }
            Event::Scalar(value, style, _anchor, tag) => {
                let mut node = Node {
                    span,
                    value: Value::Scalar(Scalar {
                        text: value.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    }),
                };
                if let Some(tag) = tag {
                    out.problems.push(tag_problem(span, &tag));
                    node.value = Value::Invalid;
                }
                node
            }
            Event::SequenceStart(_, ref tag) | Event::MappingStart(_, ref tag) => {
                if stack.len() >= MAX_DEPTH {
                    out.problems.push(too_deep(span));
                    out.fatal = true;
                    return out;
                }
                if let Some(tag) = tag {
                    out.problems.push(tag_problem(span, tag));
                }
                stack.push(if matches!(event, Event::SequenceStart(..)) {
                    Frame::Seq {
                        start: span,
                        items: Vec::new(),
                    }
                } else {
                    Frame::Map {
                        start: span,
                        entries: Vec::new(),
                        pending: None,
                        seen: HashSet::new(),
                    }
                });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = stack.pop() else {
                    continue;
                };
                let end = if span.end > span.start {
                    span.end
                } else {
                    span.start
                };
                match frame {
                    Frame::Seq { start, items } => Node {
                        span: Span {
                            start: start.start,
                            end,
                        },
                        value: Value::Seq(items),
                    },
                    Frame::Map { start, entries, .. } => Node {
                        span: Span {
                            start: start.start,
                            end,
                        },
                        value: Value::Map(entries),
                    },
                }
            }
        };
        attach(&mut stack, &mut root, node, &mut out.problems);
    }
    out
}

fn attach(
    stack: &mut [Frame],
    root: &mut Option<Node>,
    node: Node,
    problems: &mut Vec<ParseProblem>,
) {
    match stack.last_mut() {
        None => *root = Some(node),
        Some(Frame::Seq { items, .. }) => items.push(node),
        Some(Frame::Map {
            entries,
            pending,
            seen,
            ..
        }) => match pending.take() {
            None => {
                let key = match &node.value {
                    Value::Scalar(s) => {
                        if seen.insert(s.text.clone()) {
                            Some(node)
                        } else {
                            problems.push(ParseProblem {
                                span: node.span,
                                message: format!("duplicate key `{}`", s.text),
                                hint: Some(
                                    "YAML keys must be unique within a mapping; remove or merge \
                                     this one"
                                        .to_owned(),
                                ),
                            });
                            None
                        }
                    }
                    // Already reported (alias or tag).
                    Value::Invalid => None,
                    Value::Seq(_) | Value::Map(_) => {
                        problems.push(ParseProblem {
                            span: node.span,
                            message: "mapping keys must be plain strings".to_owned(),
                            hint: None,
                        });
                        None
                    }
                };
                *pending = Some(key);
            }
            Some(Some(key)) => entries.push(Entry { key, value: node }),
            Some(None) => {}
        },
    }
}

fn too_deep(span: Span) -> ParseProblem {
    ParseProblem {
        span,
        message: format!("the document is nested deeper than {MAX_DEPTH} levels"),
        hint: Some(
            "a manifest needs only a few levels; check the indentation and brackets".to_owned(),
        ),
    }
}

fn tag_problem(span: Span, tag: &saphyr_parser::Tag) -> ParseProblem {
    // Shown the way it was written: `!!str`, `!custom`.
    let shown = match tag.handle.as_str() {
        "tag:yaml.org,2002:" => format!("!!{}", tag.suffix),
        "!" | "" => format!("!{}", tag.suffix),
        handle => format!("{handle}{}", tag.suffix),
    };
    ParseProblem {
        span,
        message: format!("YAML tags (`{shown}`) are not supported in manifests"),
        hint: Some("remove the tag; quote the value if it must be a string".to_owned()),
    }
}

/// Turns the parser's terse messages into something a person can act on.
fn syntax_problem(text: &str, pos: Pos, info: &str) -> ParseProblem {
    let line = text.lines().nth(pos.line.saturating_sub(1)).unwrap_or("");
    let tab_in_indent = line
        .chars()
        .take_while(|c| c.is_whitespace())
        .any(|c| c == '\t');
    let hint = if tab_in_indent || (info.contains("tab") && line.contains('\t')) {
        Some("YAML indentation must use spaces, not tabs".to_owned())
    } else if let Some((open, at)) = unclosed_bracket(text, pos.line) {
        Some(format!("check that the `{open}` on line {at} is closed"))
    } else if info.contains("mapping values are not allowed") {
        Some("a value that contains `: ` must be quoted".to_owned())
    } else {
        None
    };
    let tab_col = line.chars().position(|c| c == '\t');
    let pos = match (tab_in_indent, tab_col) {
        (true, Some(col)) => Pos {
            line: pos.line,
            col,
        },
        _ => pos,
    };
    ParseProblem {
        span: Span::point(pos),
        message: if tab_in_indent {
            "YAML syntax error: tab character in indentation".to_owned()
        } else {
            format!("YAML syntax error: {info}")
        },
        hint,
    }
}

/// The last `[` or `{` left open before `line`, when brackets do not balance up to there:
/// the usual cause of a syntax error reported lines later. Quotes and comments are skipped
/// roughly; this only chooses a hint.
fn unclosed_bracket(text: &str, line: usize) -> Option<(char, usize)> {
    let mut open: Vec<(char, usize)> = Vec::new();
    for (i, l) in text.lines().take(line).enumerate() {
        let mut quote: Option<char> = None;
        let mut prev = ' ';
        for c in l.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') if prev == ' ' || prev == '\t' => break,
                (None, '[' | '{') => open.push((c, i + 1)),
                (None, ']' | '}') => {
                    open.pop();
                }
                _ => {}
            }
            prev = c;
        }
    }
    open.last().copied().filter(|(_, at)| *at < line)
}

/// The source text a single-line span covers, for naming things in messages.
fn source_slice(text: &str, span: Span) -> Option<String> {
    if span.start.line != span.end.line || span.end.col <= span.start.col {
        return None;
    }
    let line = text.lines().nth(span.start.line.checked_sub(1)?)?;
    Some(
        line.chars()
            .skip(span.start.col)
            .take(span.end.col - span.start.col)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Node {
        let parsed = parse(text);
        assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
        parsed.documents[0].root.clone().unwrap()
    }

    #[test]
    fn keys_and_values_keep_their_positions() {
        let r = root("a: 1\nspec:\n  web:\n    redirectUris: [http://localhost]\n");
        let spec = r.get("spec").unwrap();
        assert_eq!(spec.key.span.start, Pos { line: 2, col: 0 });
        let web = spec.value.get("web").unwrap();
        let uris = &web.value.get("redirectUris").unwrap();
        assert_eq!(uris.key.span.start, Pos { line: 4, col: 4 });
        let first = uris.value.index(0).unwrap();
        assert_eq!(first.as_str(), Some("http://localhost"));
        assert_eq!(first.span.start, Pos { line: 4, col: 19 });
        assert_eq!(first.span.end, Pos { line: 4, col: 35 });
    }

    #[test]
    fn plain_scalars_resolve_like_the_yaml_core_schema() {
        let kind = |t: &str| {
            Scalar {
                text: t.to_owned(),
                plain: true,
            }
            .kind()
        };
        for n in [
            "1", "-1", "+3", "0x1F", "0o17", "1.5", ".5", "1e3", "-.inf", ".nan",
        ] {
            assert_eq!(kind(n), ScalarKind::Number, "{n}");
        }
        for s in [
            "365d",
            "yes",
            "on",
            "1.2.3",
            "0x",
            "e3",
            ".",
            "2024-01-01",
            "1_000",
        ] {
            assert_eq!(kind(s), ScalarKind::String, "{s}");
        }
        assert_eq!(kind("True"), ScalarKind::Bool(true));
        assert_eq!(kind("~"), ScalarKind::Null);
        let quoted = Scalar {
            text: "true".to_owned(),
            plain: false,
        };
        assert_eq!(quoted.kind(), ScalarKind::String);
    }

    #[test]
    fn a_duplicate_key_is_reported_at_the_second_occurrence() {
        let parsed = parse("a: 1\nb: 2\na: 3\n");
        assert_eq!(parsed.problems.len(), 1);
        assert_eq!(parsed.problems[0].span.start, Pos { line: 3, col: 0 });
        assert!(!parsed.fatal);
        // The first value is kept.
        let r = parsed.documents[0].root.as_ref().unwrap();
        assert_eq!(r.get("a").unwrap().value.as_str(), Some("1"));
    }

    #[test]
    fn aliases_and_tags_are_refused_where_they_are_written() {
        let parsed = parse("a: &x 1\nb: *x\nc: !!str 3\n");
        let lines: Vec<usize> = parsed.problems.iter().map(|p| p.span.start.line).collect();
        assert_eq!(lines, [2, 3]);
        assert!(
            parsed.problems[0].message.contains("`*x`"),
            "{:?}",
            parsed.problems
        );
    }

    #[test]
    fn deep_nesting_stops_parsing_without_recursion() {
        let flow = "[".repeat(100_000);
        let block: String = (0..10_000)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        for text in [flow, block] {
            let parsed = parse(&text);
            assert!(parsed.fatal);
            let last = parsed.problems.last().unwrap();
            assert!(last.message.contains("nested deeper"), "{last:?}");
        }
    }

    #[test]
    fn documents_are_split_and_empty_ones_kept_as_none() {
        let parsed = parse("---\na: 1\n---\n---\nb: 2\n");
        assert_eq!(parsed.documents.len(), 3);
        assert!(parsed.documents[1].root.is_none());
    }

    #[test]
    fn tabs_in_indentation_get_a_plain_message() {
        let parsed = parse("a:\n\tb: 1\n");
        assert!(parsed.fatal);
        let p = parsed.problems.last().unwrap();
        assert!(p.message.contains("tab"), "{p:?}");
        assert_eq!(p.span.start.line, 2);
    }
}
