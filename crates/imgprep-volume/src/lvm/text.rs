//! The LVM2 text metadata format: `name { ... }` sections, `key = value` assignments with integer,
//! float, string and flat array values, `#` comments.
//!
//! Strings are in double quotes with backslash escapes (`\"`, `\\`: a backslash takes the next
//! character literally), or in single quotes without escapes. Bare words that are not numbers are
//! accepted as strings. A NUL byte ends the text (metadata areas pad with zeros).

use crate::Error;

/// Sections nested deeper than this are refused (real metadata nests four levels).
pub const MAX_DEPTH: usize = 32;
/// Most items (assignments, sections and array elements) one text may hold. A VG with a
/// thousand LVs has some tens of thousands; each parsed item costs about a hundred bytes, so this
/// bounds the tree at a few tens of MiB whatever the text says.
pub const MAX_ITEMS: usize = 200_000;

/// A value on the right of `=`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Value>),
}

/// One item of a section: an assignment or a subsection.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Value(Value),
    Section(Section),
}

/// A section: its items in file order. Later duplicates of a key are kept; lookups take the first.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Section {
    pub items: Vec<(String, Item)>,
}

impl Section {
    /// The first item named `key`.
    pub fn get(&self, key: &str) -> Option<&Item> {
        self.items.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value of assignment `key` (not a subsection).
    pub fn value(&self, key: &str) -> Option<&Value> {
        match self.get(key)? {
            Item::Value(v) => Some(v),
            Item::Section(_) => None,
        }
    }

    /// The subsection `key`.
    pub fn section(&self, key: &str) -> Option<&Section> {
        match self.get(key)? {
            Item::Section(s) => Some(s),
            Item::Value(_) => None,
        }
    }

    /// The subsections, in order, with their names.
    pub fn sections(&self) -> impl Iterator<Item = (&str, &Section)> {
        self.items.iter().filter_map(|(k, v)| match v {
            Item::Section(s) => Some((k.as_str(), s)),
            Item::Value(_) => None,
        })
    }
}

/// Parses a whole metadata text (the top-level items, without surrounding braces).
pub fn parse(text: &[u8]) -> Result<Section, Error> {
    let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    let mut p = Parser {
        s: text.get(..end).unwrap_or_default(),
        pos: 0,
        line: 1,
        line_start: 0,
        tok_line: 1,
        tok_column: 1,
        items: 0,
    };
    let root = p.items(0)?;
    match p.next_token()? {
        Tok::Eof => Ok(root),
        t => Err(p.unexpected("a key or the end of the text", &t)),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Eof,
    Punct(u8),
    Word(String),
    Str(String),
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Eof => "the end of the text".into(),
            Tok::Punct(c) => format!("{:?}", *c as char),
            Tok::Word(w) => format!("{w:?}"),
            Tok::Str(s) => format!("string {s:?}"),
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    line: u32,
    line_start: usize,
    tok_line: u32,
    tok_column: u32,
    /// Items parsed so far, against [`MAX_ITEMS`].
    items: usize,
}

const PUNCT: &[u8] = b"{}[],=";

impl Parser<'_> {
    fn column(&self) -> u32 {
        u32::try_from(self.pos.saturating_sub(self.line_start) + 1).unwrap_or(u32::MAX)
    }

    fn unexpected(&self, expected: &'static str, found: &Tok) -> Error {
        Error::Syntax {
            line: self.tok_line,
            column: self.tok_column,
            expected,
            found: found.describe(),
        }
    }

    /// Counts one more item, refusing the text past [`MAX_ITEMS`].
    fn count_item(&mut self) -> Result<(), Error> {
        self.items += 1;
        if self.items > MAX_ITEMS {
            return Err(Error::TooManyItems {
                line: self.tok_line,
                limit: MAX_ITEMS,
            });
        }
        Ok(())
    }

    fn peek_byte(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek_byte()?;
        self.pos += 1;
        if b == b'\n' {
            self.line = self.line.saturating_add(1);
            self.line_start = self.pos;
        }
        Some(b)
    }

    fn skip_blank(&mut self) {
        while let Some(b) = self.peek_byte() {
            if b == b'#' {
                while let Some(c) = self.peek_byte() {
                    if c == b'\n' {
                        break;
                    }
                    self.bump();
                }
            } else if b.is_ascii_whitespace() {
                self.bump();
            } else {
                break;
            }
        }
    }

    fn peek_token(&mut self) -> Result<Tok, Error> {
        let saved = (self.pos, self.line, self.line_start);
        let t = self.next_token();
        (self.pos, self.line, self.line_start) = saved;
        t
    }

    fn next_token(&mut self) -> Result<Tok, Error> {
        self.skip_blank();
        (self.tok_line, self.tok_column) = (self.line, self.column());
        let Some(b) = self.peek_byte() else {
            return Ok(Tok::Eof);
        };
        if PUNCT.contains(&b) {
            self.bump();
            return Ok(Tok::Punct(b));
        }
        if b == b'"' || b == b'\'' {
            let (line, column) = (self.line, self.column());
            self.bump();
            let mut out = Vec::new();
            loop {
                match self.bump() {
                    None => {
                        return Err(Error::Syntax {
                            line,
                            column,
                            expected: "a closing quote for the string that starts here",
                            found: "the end of the text".into(),
                        });
                    }
                    Some(c) if c == b => break,
                    Some(b'\\') if b == b'"' => match self.bump() {
                        Some(c) => out.push(c),
                        None => continue,
                    },
                    Some(c) => out.push(c),
                }
            }
            return Ok(Tok::Str(String::from_utf8_lossy(&out).into_owned()));
        }
        let start = self.pos;
        while let Some(c) = self.peek_byte() {
            if c.is_ascii_whitespace() || PUNCT.contains(&c) || c == b'"' || c == b'\'' || c == b'#'
            {
                break;
            }
            self.bump();
        }
        let word = self.s.get(start..self.pos).unwrap_or_default();
        Ok(Tok::Word(String::from_utf8_lossy(word).into_owned()))
    }

    /// Items until `}` (left unread) or the end of the text.
    fn items(&mut self, depth: usize) -> Result<Section, Error> {
        let mut section = Section::default();
        loop {
            let key = match self.peek_token()? {
                Tok::Eof | Tok::Punct(b'}') => return Ok(section),
                Tok::Word(w) | Tok::Str(w) => {
                    self.next_token()?;
                    w
                }
                t => return Err(self.unexpected("a key or a section name", &t)),
            };
            self.count_item()?;
            match self.next_token()? {
                Tok::Punct(b'=') => {
                    let v = self.value()?;
                    section.items.push((key, Item::Value(v)));
                }
                Tok::Punct(b'{') => {
                    if depth + 1 >= MAX_DEPTH {
                        return Err(Error::TooDeep {
                            line: self.line,
                            limit: MAX_DEPTH,
                        });
                    }
                    let sub = self.items(depth + 1)?;
                    match self.next_token()? {
                        Tok::Punct(b'}') => {}
                        t => return Err(self.unexpected("'}' closing a section", &t)),
                    }
                    section.items.push((key, Item::Section(sub)));
                }
                t => return Err(self.unexpected("'=' or '{' after a key", &t)),
            }
        }
    }

    fn value(&mut self) -> Result<Value, Error> {
        match self.next_token()? {
            Tok::Punct(b'[') => {
                let mut items = Vec::new();
                loop {
                    match self.next_token()? {
                        Tok::Punct(b']') => return Ok(Value::Array(items)),
                        Tok::Punct(b',') if !items.is_empty() => {}
                        t => {
                            if !items.is_empty() {
                                return Err(self.unexpected("',' or ']' in an array", &t));
                            }
                            self.count_item()?;
                            items.push(self.scalar(t)?);
                            continue;
                        }
                    }
                    // After a comma: a scalar or (trailing comma) the closing bracket.
                    match self.next_token()? {
                        Tok::Punct(b']') => return Ok(Value::Array(items)),
                        t => {
                            self.count_item()?;
                            items.push(self.scalar(t)?);
                        }
                    }
                }
            }
            t => self.scalar(t),
        }
    }

    fn scalar(&self, t: Tok) -> Result<Value, Error> {
        match t {
            Tok::Str(s) => Ok(Value::Str(s)),
            Tok::Word(w) => {
                if let Ok(i) = w.parse::<i64>() {
                    Ok(Value::Int(i))
                } else if w.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
                    && let Ok(f) = w.parse::<f64>()
                {
                    Ok(Value::Float(f))
                } else {
                    Ok(Value::Str(w))
                }
            }
            t => Err(self.unexpected("a number, a string or '['", &t)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> Value {
        Value::Str(v.into())
    }

    #[test]
    fn parses_sections_values_and_comments() {
        let text = br#"# Generated by LVM2
contents = "Text Format Volume Group"
version = 1
vg {
	id = "abc"
	seqno = 7
	ratio = 1.5
	status = ["RESIZEABLE", "READ", "WRITE"]
	empty = []
	trailing = [1, 2, ]
	esc = "a\"b\\c"
	single = 'x\y'
	pv0 { dev_size = 131072 } # comment
}
"#;
        let root = parse(text).unwrap();
        assert_eq!(root.value("version"), Some(&Value::Int(1)));
        let vg = root.section("vg").unwrap();
        assert_eq!(vg.value("seqno"), Some(&Value::Int(7)));
        assert_eq!(vg.value("ratio"), Some(&Value::Float(1.5)));
        assert_eq!(
            vg.value("status"),
            Some(&Value::Array(vec![s("RESIZEABLE"), s("READ"), s("WRITE")]))
        );
        assert_eq!(vg.value("empty"), Some(&Value::Array(vec![])));
        assert_eq!(
            vg.value("trailing"),
            Some(&Value::Array(vec![Value::Int(1), Value::Int(2)]))
        );
        assert_eq!(vg.value("esc"), Some(&s("a\"b\\c")));
        assert_eq!(vg.value("single"), Some(&s("x\\y")));
        assert_eq!(
            vg.section("pv0").unwrap().value("dev_size"),
            Some(&Value::Int(131072))
        );
    }

    #[test]
    fn stops_at_nul() {
        let root = parse(b"a = 1\n\0garbage {{{").unwrap();
        assert_eq!(root.value("a"), Some(&Value::Int(1)));
    }

    fn check_err(text: &str, expected: &str) {
        let err = parse(text.as_bytes()).unwrap_err().to_string();
        assert_eq!(err, expected, "for {text:?}");
    }

    #[test]
    fn rejects_malformed_text() {
        check_err(
            "a = ",
            "LVM metadata text, line 1 column 5: expected a number, a string or '[', found the end of the text",
        );
        check_err(
            "vg {\n a = 1\n",
            "LVM metadata text, line 3 column 1: expected '}' closing a section, found the end of the text",
        );
        check_err(
            "a = \"open",
            "LVM metadata text, line 1 column 5: expected a closing quote for the string that starts here, found the end of the text",
        );
        check_err(
            "a = [1 2]",
            "LVM metadata text, line 1 column 8: expected ',' or ']' in an array, found \"2\"",
        );
        check_err(
            "a = [[1]]",
            "LVM metadata text, line 1 column 6: expected a number, a string or '[', found '['",
        );
        check_err(
            "}",
            "LVM metadata text, line 1 column 1: expected a key or the end of the text, found '}'",
        );
        check_err(
            "a b",
            "LVM metadata text, line 1 column 3: expected '=' or '{' after a key, found \"b\"",
        );
    }

    #[test]
    fn refuses_deep_nesting_without_recursing_forever() {
        let text = "a {".repeat(100_000);
        check_err(
            &text,
            "LVM metadata text, line 1: sections nest deeper than 32",
        );
    }

    #[test]
    fn refuses_more_items_than_real_metadata_holds() {
        // 8 MiB of empty sections: small text, millions of items.
        let text = "a{}".repeat(3 << 20);
        check_err(&text, "LVM metadata text, line 1: more than 200000 items");
        let array = format!("a = [{}1]", "1,".repeat(MAX_ITEMS));
        let err = parse(array.as_bytes()).map(|_| ()).unwrap_err().to_string();
        assert_eq!(err, "LVM metadata text, line 1: more than 200000 items");
        // Just under the limit is fine.
        let ok = "a{}".repeat(MAX_ITEMS - 1);
        assert_eq!(parse(ok.as_bytes()).unwrap().items.len(), MAX_ITEMS - 1);
    }
}
