//! The Python literal subset `included_plugins.py` is read with: strings (with prefixes and
//! escapes), lists and tuples of them, adjacent-literal concatenation, comments and line
//! joining. Anything whose value needs running the file is an error naming the line. Bounded
//! in nesting depth and item count.

use std::fmt;

/// Deepest bracket nesting accepted.
const MAX_DEPTH: usize = 32;
/// Most names accepted in the list.
pub const MAX_ITEMS: usize = 4096;
/// The assignment `included_plugins.py` holds.
const LIST_NAME: &str = "included_plugins";

/// A plugin name listed in `included_plugins.py`, and its line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The name as written.
    pub name: String,
    /// 1-based line of the string.
    pub line: usize,
}

/// Why `included_plugins.py` is not a literal list of names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong there.
    pub message: String,
}

impl SyntaxError {
    fn new(line: usize, message: impl Into<String>) -> Self {
        Self {
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Name(String),
    Str(String),
    Number(String),
    Op(String),
    Open(char),
    Close(char),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Name(s) | Tok::Number(s) | Tok::Op(s) => write!(f, "`{s}`"),
            Tok::Str(s) => write!(f, "the string {s:?}"),
            Tok::Open(c) | Tok::Close(c) => write!(f, "`{c}`"),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    tok: Tok,
    line: usize,
}

/// One logical line: the indentation of its first token and its tokens.
#[derive(Debug)]
struct Logical {
    indent: usize,
    tokens: Vec<Token>,
}

/// Splits Python source into logical lines of tokens: comments dropped, backslash continuations
/// and newlines inside brackets joined, strings decoded.
fn logical_lines(text: &str) -> Result<Vec<Logical>, SyntaxError> {
    let cs: Vec<char> = text.chars().collect();
    let at = |i: usize| cs.get(i).copied();
    let mut out = Vec::new();
    let mut toks: Vec<Token> = Vec::new();
    let mut indent = 0usize;
    let mut col = 0usize;
    let mut line_start = true;
    let mut open: Vec<(char, usize)> = Vec::new();
    let mut line = 1usize;
    let mut i = 0usize;
    while let Some(c) = at(i) {
        let tok_line = line;
        let tok = match c {
            '\n' => {
                line += 1;
                i += 1;
                col = 0;
                line_start = true;
                if open.is_empty() && !toks.is_empty() {
                    out.push(Logical {
                        indent,
                        tokens: std::mem::take(&mut toks),
                    });
                }
                continue;
            }
            ' ' | '\t' | '\x0c' | '\r' => {
                if line_start {
                    col += 1;
                }
                i += 1;
                continue;
            }
            '#' => {
                while at(i).is_some_and(|c| c != '\n') {
                    i += 1;
                }
                continue;
            }
            '\\' => {
                let mut j = i + 1;
                if at(j) == Some('\r') {
                    j += 1;
                }
                if at(j) != Some('\n') {
                    return Err(SyntaxError::new(
                        line,
                        "a backslash outside a string that does not end the line",
                    ));
                }
                i = j + 1;
                line += 1;
                line_start = false;
                continue;
            }
            '\'' | '"' => {
                let (s, next) = string(&cs, i, &mut line, false)?;
                i = next;
                Tok::Str(s)
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while at(i).is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    i += 1;
                }
                let word: String = cs.get(start..i).unwrap_or_default().iter().collect();
                if matches!(at(i), Some('\'' | '"')) {
                    let raw = match word.to_ascii_lowercase().as_str() {
                        "u" | "b" => false,
                        "r" | "ur" | "br" | "rb" => true,
                        p if p.contains('f') => {
                            return Err(SyntaxError::new(
                                line,
                                "an f-string is computed when the file runs; it is not a literal",
                            ));
                        }
                        _ => {
                            return Err(SyntaxError::new(
                                line,
                                format!("unknown string prefix `{word}`"),
                            ));
                        }
                    };
                    let (s, next) = string(&cs, i, &mut line, raw)?;
                    i = next;
                    Tok::Str(s)
                } else {
                    Tok::Name(word)
                }
            }
            c if c.is_ascii_digit() => {
                let start = i;
                while at(i).is_some_and(|c| c.is_alphanumeric() || c == '.' || c == '_') {
                    i += 1;
                }
                Tok::Number(cs.get(start..i).unwrap_or_default().iter().collect())
            }
            '(' | '[' | '{' => {
                open.push((c, line));
                if open.len() > MAX_DEPTH {
                    return Err(SyntaxError::new(
                        line,
                        format!("brackets nested more than {MAX_DEPTH} deep"),
                    ));
                }
                i += 1;
                Tok::Open(c)
            }
            ')' | ']' | '}' => {
                let want = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                match open.pop() {
                    Some((o, _)) if o == want => {}
                    Some((o, l)) => {
                        return Err(SyntaxError::new(
                            line,
                            format!("`{c}` does not close the `{o}` opened on line {l}"),
                        ));
                    }
                    None => {
                        return Err(SyntaxError::new(line, format!("`{c}` closes nothing")));
                    }
                }
                i += 1;
                Tok::Close(c)
            }
            c if "+-*/%&|^<>=!:@~.".contains(c) => {
                let start = i;
                while at(i).is_some_and(|c| "+-*/%&|^<>=!:@~.".contains(c)) {
                    i += 1;
                }
                Tok::Op(cs.get(start..i).unwrap_or_default().iter().collect())
            }
            other => {
                i += 1;
                Tok::Op(other.to_string())
            }
        };
        if toks.is_empty() {
            indent = if line_start { col } else { indent };
        }
        line_start = false;
        toks.push(Token {
            tok,
            line: tok_line,
        });
    }
    if let Some((o, l)) = open.last() {
        return Err(SyntaxError::new(*l, format!("`{o}` is never closed")));
    }
    if !toks.is_empty() {
        out.push(Logical {
            indent,
            tokens: toks,
        });
    }
    Ok(out)
}

/// A string literal starting at `cs[i]` (the quote): its value and the index after it.
fn string(
    cs: &[char],
    mut i: usize,
    line: &mut usize,
    raw: bool,
) -> Result<(String, usize), SyntaxError> {
    let at = |i: usize| cs.get(i).copied();
    let start = *line;
    let Some(q) = at(i) else {
        return Err(SyntaxError::new(start, "the file ends in a string"));
    };
    let triple = at(i + 1) == Some(q) && at(i + 2) == Some(q);
    i += if triple { 3 } else { 1 };
    let mut s = String::new();
    loop {
        let Some(c) = at(i) else {
            return Err(SyntaxError::new(start, "a string that never ends"));
        };
        match c {
            c if c == q => {
                if !triple {
                    return Ok((s, i + 1));
                }
                if at(i + 1) == Some(q) && at(i + 2) == Some(q) {
                    return Ok((s, i + 3));
                }
                s.push(c);
                i += 1;
            }
            '\n' => {
                if !triple {
                    return Err(SyntaxError::new(
                        start,
                        "a string that does not end on its line",
                    ));
                }
                *line += 1;
                s.push(c);
                i += 1;
            }
            '\\' => {
                let Some(n) = at(i + 1) else {
                    return Err(SyntaxError::new(start, "a string that never ends"));
                };
                if n == '\n' {
                    *line += 1;
                }
                if raw {
                    s.push('\\');
                    s.push(n);
                } else {
                    match n {
                        '\n' => {}
                        '\\' | '\'' | '"' => s.push(n),
                        'n' => s.push('\n'),
                        't' => s.push('\t'),
                        'r' => s.push('\r'),
                        'x' | 'u' | 'U' | 'N' | '0'..='7' => {
                            return Err(SyntaxError::new(
                                *line,
                                format!("the escape \\{n} is not read in plugin names"),
                            ));
                        }
                        other => {
                            s.push('\\');
                            s.push(other);
                        }
                    }
                }
                i += 2;
            }
            c => {
                s.push(c);
                i += 1;
            }
        }
    }
}

/// A literal value: a string, or a list or tuple of values.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    Str(String, usize),
    Seq(Vec<Val>, usize, &'static str),
}

struct Parser<'a> {
    t: &'a [Token],
    i: usize,
    /// Line of the last token, for errors at the end.
    last: usize,
}

impl Parser<'_> {
    fn next(&mut self) -> Option<&Token> {
        let t = self.t.get(self.i)?;
        self.i += 1;
        Some(t)
    }

    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i).map(|t| &t.tok)
    }

    fn unexpected(&self, t: Option<&Token>, expected: &str) -> SyntaxError {
        match t {
            Some(t) => SyntaxError::new(t.line, format!("{} where {expected} was expected", t.tok)),
            None => SyntaxError::new(
                self.last,
                format!("the statement ends where {expected} was expected"),
            ),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Val, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(SyntaxError::new(
                self.last,
                format!("values nested more than {MAX_DEPTH} deep"),
            ));
        }
        let Some(t) = self.next().cloned() else {
            return Err(self.unexpected(None, "a value"));
        };
        match t.tok {
            Tok::Str(mut s) => {
                // Adjacent literals are one string ('cloudify-' 'script-plugin').
                while let Some(Tok::Str(more)) = self.peek() {
                    s.push_str(more);
                    self.i += 1;
                }
                Ok(Val::Str(s, t.line))
            }
            Tok::Open('[') => self.items(depth, ']', t.line, "list", Vec::new()),
            Tok::Open('(') => {
                if self.peek() == Some(&Tok::Close(')')) {
                    self.i += 1;
                    return Ok(Val::Seq(Vec::new(), t.line, "tuple"));
                }
                let first = self.value(depth + 1)?;
                match self.next().cloned() {
                    // Parentheses around one value without a comma are only grouping.
                    Some(Token {
                        tok: Tok::Close(')'),
                        ..
                    }) => Ok(first),
                    Some(Token {
                        tok: Tok::Op(o), ..
                    }) if o == "," => self.items(depth, ')', t.line, "tuple", vec![first]),
                    other => Err(self.unexpected(other.as_ref(), "`,` or `)`")),
                }
            }
            Tok::Open(_) => Err(SyntaxError::new(
                t.line,
                "a dict or set, not a list of plugin names",
            )),
            Tok::Name(n) if matches!(n.as_str(), "None" | "True" | "False") => Err(
                SyntaxError::new(t.line, format!("`{n}` is not a plugin name")),
            ),
            Tok::Name(n) => Err(SyntaxError::new(
                t.line,
                format!(
                    "`{n}` is a name, not a literal: its value is known only when the file runs"
                ),
            )),
            Tok::Number(n) => Err(SyntaxError::new(
                t.line,
                format!("{n} is a number, not a plugin name"),
            )),
            _ => Err(self.unexpected(Some(&t), "a value")),
        }
    }

    /// The rest of a list or tuple after its first items, up to `close`.
    fn items(
        &mut self,
        depth: usize,
        close: char,
        line: usize,
        kind: &'static str,
        mut out: Vec<Val>,
    ) -> Result<Val, SyntaxError> {
        loop {
            if self.peek() == Some(&Tok::Close(close)) {
                self.i += 1;
                return Ok(Val::Seq(out, line, kind));
            }
            if out.len() >= MAX_ITEMS {
                return Err(SyntaxError::new(
                    line,
                    format!("more than {MAX_ITEMS} plugin names"),
                ));
            }
            out.push(self.value(depth + 1)?);
            match self.next().cloned() {
                Some(Token {
                    tok: Tok::Op(o), ..
                }) if o == "," => {}
                Some(Token {
                    tok: Tok::Close(c), ..
                }) if c == close => return Ok(Val::Seq(out, line, kind)),
                other => {
                    return Err(self.unexpected(other.as_ref(), &format!("`,` or `{close}`")));
                }
            }
        }
    }
}

/// The names `included_plugins.py` assigns to `included_plugins`, and the line of the
/// assignment. Only top-level `included_plugins = [...]` (or a tuple) of string literals is
/// accepted; the last such assignment wins, as when Python runs the file. Anything whose value
/// depends on running the file (names, calls, operators, other statements that touch
/// `included_plugins`, assignments inside blocks) is an error naming the line.
pub fn parse_included_plugins(text: &str) -> Result<(usize, Vec<Listed>), SyntaxError> {
    let mut found: Option<(usize, Vec<Listed>)> = None;
    for logical in logical_lines(text)? {
        let mut stmts: Vec<&[Token]> = Vec::new();
        let mut start = 0usize;
        for (i, t) in logical.tokens.iter().enumerate() {
            if t.tok == Tok::Op(";".into()) {
                stmts.push(logical.tokens.get(start..i).unwrap_or_default());
                start = i + 1;
            }
        }
        stmts.push(logical.tokens.get(start..).unwrap_or_default());
        for stmt in stmts {
            let mentions = stmt.iter().any(|t| t.tok == Tok::Name(LIST_NAME.into()));
            if !mentions {
                continue;
            }
            let line = stmt.first().map_or(1, |t| t.line);
            let rest = match stmt {
                [
                    Token {
                        tok: Tok::Name(n), ..
                    },
                    Token {
                        tok: Tok::Op(eq), ..
                    },
                    rest @ ..,
                ] if n == LIST_NAME && eq == "=" => rest,
                _ => {
                    return Err(SyntaxError::new(
                        line,
                        format!(
                            "{LIST_NAME} is used in a statement other than `{LIST_NAME} = [...]`, \
                             so its value is known only when the file runs"
                        ),
                    ));
                }
            };
            if logical.indent > 0 {
                return Err(SyntaxError::new(
                    line,
                    format!(
                        "{LIST_NAME} is assigned inside an indented block, so its value is known \
                         only when the file runs"
                    ),
                ));
            }
            let mut p = Parser {
                t: rest,
                i: 0,
                last: rest.last().map_or(line, |t| t.line),
            };
            let v = p.value(0)?;
            if let Some(t) = p.next() {
                return Err(SyntaxError::new(
                    t.line,
                    format!(
                        "{} after the value: only a literal list or tuple of strings is read",
                        t.tok
                    ),
                ));
            }
            let items = match v {
                Val::Seq(items, _, _) => items,
                Val::Str(s, l) => {
                    return Err(SyntaxError::new(
                        l,
                        format!("{LIST_NAME} is the string {s:?}, not a list or tuple of names"),
                    ));
                }
            };
            let mut names = Vec::with_capacity(items.len());
            for (n, item) in items.into_iter().enumerate() {
                match item {
                    Val::Str(s, l) if s.trim().is_empty() => {
                        return Err(SyntaxError::new(
                            l,
                            format!("element {} is an empty name", n + 1),
                        ));
                    }
                    Val::Str(s, l) => names.push(Listed { name: s, line: l }),
                    Val::Seq(_, l, kind) => {
                        return Err(SyntaxError::new(
                            l,
                            format!("element {} is a {kind}, not a plugin name", n + 1),
                        ));
                    }
                }
            }
            found = Some((line, names));
        }
    }
    found.ok_or_else(|| {
        SyntaxError::new(
            1,
            format!("no top-level `{LIST_NAME} = [...]` assignment in the file"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Ok(names)` or `Err((line, message fragment))`.
    type Want<'a> = Result<&'a [&'a str], (usize, &'a str)>;

    fn check(src: &str, want: Want<'_>) {
        let got = parse_included_plugins(src);
        match (want, got) {
            (Ok(names), Ok((_, listed))) => {
                let got: Vec<&str> = listed.iter().map(|l| l.name.as_str()).collect();
                assert_eq!(got, names, "{src:?}");
            }
            (Err((line, frag)), Err(e)) => {
                assert_eq!(e.line, line, "{src:?}: {e}");
                assert!(e.message.contains(frag), "{src:?}: {e} lacks {frag:?}");
            }
            (want, got) => panic!("{src:?}: want {want:?}, got {got:?}"),
        }
    }

    #[test]
    fn included_plugins_literals() {
        let cases: &[(&str, Want<'_>)] = &[
            // As cloudify-agent 3.3 ships it, under a licence header.
            (
                "#####\n# Copyright\n\nincluded_plugins = [\n    'cloudify-script-plugin',\n    \
                 'cloudify-diamond-plugin'\n]\n",
                Ok(&["cloudify-script-plugin", "cloudify-diamond-plugin"]),
            ),
            // As the packager's template renders it: one line, trailing comma and space.
            (
                "included_plugins = [\n    'a-plugin', 'b_plugin', \n]\n",
                Ok(&["a-plugin", "b_plugin"]),
            ),
            ("included_plugins = []\n", Ok(&[])),
            ("included_plugins = ()", Ok(&[])),
            ("included_plugins = ('a',)", Ok(&["a"])),
            ("included_plugins = ('a', \"b\")", Ok(&["a", "b"])),
            // Parentheses that only group.
            ("included_plugins = (['a', ('b')])", Ok(&["a", "b"])),
            ("included_plugins = [((('a')))]", Ok(&["a"])),
            // Comments everywhere, a '#' inside a string is not one.
            (
                "# head\nincluded_plugins = [  # the list\n  'a#1',  # first\n  # 'b',\n]  # end\n",
                Ok(&["a#1"]),
            ),
            // Backslash continuations.
            (
                "included_plugins = \\\n  ['a', \\\n 'b']\n",
                Ok(&["a", "b"]),
            ),
            ("included_plugins \\\r\n= ['a']\r\n", Ok(&["a"])),
            // Implicit concatenation, prefixes, quotes and escapes.
            (
                "included_plugins = ['cloudify-' 'script-plugin']",
                Ok(&["cloudify-script-plugin"]),
            ),
            (
                "included_plugins = [u'a', r'b\\c', b'd', U\"e\"]",
                Ok(&["a", "b\\c", "d", "e"]),
            ),
            (
                "included_plugins = ['it\\'s', \"q\\\"\"]",
                Ok(&["it's", "q\""]),
            ),
            (
                "included_plugins = ['''a''', \"\"\"b\"\"\"]",
                Ok(&["a", "b"]),
            ),
            // The last top-level assignment wins; other statements are ignored.
            (
                "import os\nX = 1; included_plugins = ['a']\nincluded_plugins = ['b']\n",
                Ok(&["b"]),
            ),
            // A docstring naming the variable is not a use of it.
            (
                "\"\"\"included_plugins = [x]\"\"\"\nincluded_plugins = ['a']",
                Ok(&["a"]),
            ),
            // Not literals.
            (
                "included_plugins = plugins",
                Err((1, "`plugins` is a name")),
            ),
            (
                "included_plugins = ['a'] + extra",
                Err((1, "`+` after the value")),
            ),
            (
                "included_plugins = ['a', 'b'.upper()]",
                Err((1, "`.` where `,` or `]`")),
            ),
            (
                "included_plugins = list(['a'])",
                Err((1, "`list` is a name")),
            ),
            (
                "included_plugins = [p for p in x]",
                Err((1, "`p` is a name")),
            ),
            ("included_plugins = [f'{x}']", Err((1, "f-string"))),
            ("included_plugins = ['a', 1]", Err((1, "1 is a number"))),
            (
                "included_plugins = ['a', None]",
                Err((1, "`None` is not a plugin name")),
            ),
            ("included_plugins = {'a'}", Err((1, "a dict or set"))),
            (
                "included_plugins = ['a', ['b']]",
                Err((1, "element 2 is a list")),
            ),
            (
                "included_plugins = [('a', 'b')]",
                Err((1, "element 1 is a tuple")),
            ),
            ("included_plugins = ('a')", Err((1, "is the string \"a\""))),
            (
                "included_plugins = ['a', '']",
                Err((1, "element 2 is an empty name")),
            ),
            ("included_plugins = ['\\x41']", Err((1, "escape \\x"))),
            ("included_plugins = x = ['a']", Err((1, "`x` is a name"))),
            // Other statements that change the list.
            (
                "included_plugins = ['a']\nincluded_plugins.append('b')",
                Err((2, "statement other")),
            ),
            (
                "included_plugins = ['a']\nincluded_plugins += ['b']",
                Err((2, "statement other")),
            ),
            (
                "if x: included_plugins = ['a']",
                Err((1, "statement other")),
            ),
            (
                "if x:\n    included_plugins = ['a']\n",
                Err((2, "indented block")),
            ),
            (
                "if x:\n    pass\n    included_plugins = ['a']\n",
                Err((3, "indented block")),
            ),
            ("del included_plugins", Err((1, "statement other"))),
            // Broken syntax.
            ("included_plugins = ['a'", Err((1, "never closed"))),
            (
                "included_plugins = ['a')",
                Err((1, "does not close the `[`")),
            ),
            ("included_plugins = 'a']", Err((1, "closes nothing"))),
            (
                "included_plugins = ['a\n]",
                Err((1, "does not end on its line")),
            ),
            ("included_plugins = ['''a", Err((1, "never ends"))),
            ("included_plugins = ['a' \\ 'b']", Err((1, "backslash"))),
            ("included_plugins = ['a',,]", Err((1, "`,` where a value"))),
            ("included_plugins =", Err((1, "ends where a value"))),
            ("included_plugins = [\n\n'a'\n\n", Err((1, "never closed"))),
            ("\n\nplugins = ['a']\n", Err((1, "no top-level"))),
            ("", Err((1, "no top-level"))),
        ];
        for (src, want) in cases {
            check(src, *want);
        }
    }

    #[test]
    fn included_plugins_hostile_sizes() {
        let deep = format!(
            "included_plugins = {}'a'{}",
            "(".repeat(200),
            ")".repeat(200)
        );
        check(&deep, Err((1, "nested more than")));
        let wide = format!("included_plugins = [{}]", "'a', ".repeat(MAX_ITEMS + 1));
        check(&wide, Err((1, "more than 4096")));
        let lines = parse_included_plugins("included_plugins = [\n'a',\n\n  'b']").unwrap();
        assert_eq!(
            lines,
            (
                1,
                vec![
                    Listed {
                        name: "a".into(),
                        line: 2
                    },
                    Listed {
                        name: "b".into(),
                        line: 4
                    }
                ]
            )
        );
        // Mutations of a real file (bytes replaced, inserted, removed, picked by a fixed LCG)
        // give a result or an error, never a panic or a hang.
        let seed = "#####\n# Licensed\nincluded_plugins = [\n    'cloudify-script-plugin', \
                    \"x\" '''y''',  # c\n    ('d'), r'\\e', \\\n]\n";
        let alphabet = b"'\"\\#()[]{},=;:\n\r\t xurfb_.+0";
        let mut state: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(state >> 33).unwrap_or(0)
        };
        assert!(parse_included_plugins(seed).is_ok(), "the seed parses");
        for _ in 0..20_000 {
            let mut b = seed.as_bytes().to_vec();
            for _ in 0..1 + next() % 4 {
                let at = next() % (b.len() + 1);
                let c = alphabet[next() % alphabet.len()];
                match next() % 3 {
                    0 if at < b.len() => b[at] = c,
                    1 => b.insert(at, c),
                    _ if at < b.len() => {
                        b.remove(at);
                    }
                    _ => {}
                }
            }
            let _ = parse_included_plugins(&String::from_utf8_lossy(&b));
        }
        // Non-ASCII and control characters do not panic.
        for src in [
            "included_plugins = ['é', 'ü']",
            "\u{0}\u{7f}included_plugins = ['a']",
            "'\\",
        ] {
            let _ = parse_included_plugins(src);
        }
    }
}
