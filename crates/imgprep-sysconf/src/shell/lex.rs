//! Splitting shell (and csh) text into commands.

use std::collections::BTreeSet;

/// What ends a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sep {
    Newline,
    Semi,
    DSemi,
    And,
    Or,
    Pipe,
    Amp,
    End,
}

/// One simple command: its words as written (quotes kept).
#[derive(Debug, Clone)]
pub(crate) struct Cmd {
    pub(crate) line: usize,
    pub(crate) words: Vec<String>,
    pub(crate) sep: Sep,
}

#[derive(Debug, Default)]
pub(crate) struct Lexed {
    pub(crate) cmds: Vec<Cmd>,
    /// Lines inside here-documents: text, not commands.
    pub(crate) heredoc: BTreeSet<usize>,
}

/// Splits shell (or csh) text into commands. Quotes, `$(…)`, backquotes, `${…}`, comments,
/// line continuations and here-documents are honoured; inside parentheses `&&`, `||` and `|`
/// stay words (csh conditions).
pub(crate) struct Lexer<'a> {
    pub(crate) cs: &'a [char],
    pub(crate) i: usize,
    pub(crate) line: usize,
    pub(crate) out: Lexed,
    pub(crate) words: Vec<String>,
    pub(crate) cmd_line: usize,
    pub(crate) depth: usize,
    pub(crate) heredocs: Vec<(String, bool)>,
}

pub(crate) fn lex(text: &str) -> Lexed {
    let cs: Vec<char> = text.chars().collect();
    let mut l = Lexer {
        cs: &cs,
        i: 0,
        line: 1,
        out: Lexed::default(),
        words: Vec::new(),
        cmd_line: 1,
        depth: 0,
        heredocs: Vec::new(),
    };
    l.run();
    l.out
}

impl Lexer<'_> {
    pub(crate) fn peek(&self) -> Option<char> {
        self.cs.get(self.i).copied()
    }

    pub(crate) fn peek2(&self) -> Option<char> {
        self.cs.get(self.i + 1).copied()
    }

    pub(crate) fn finish(&mut self, sep: Sep) {
        if !self.words.is_empty() || sep == Sep::DSemi {
            let words = std::mem::take(&mut self.words);
            let line = if words.is_empty() {
                self.line
            } else {
                self.cmd_line
            };
            self.out.cmds.push(Cmd { line, words, sep });
        }
    }

    pub(crate) fn push_word(&mut self, w: String) {
        if self.words.is_empty() {
            self.cmd_line = self.line;
        }
        self.words.push(w);
    }

    pub(crate) fn run(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' => self.i += 1,
                '\\' if self.peek2() == Some('\n') => {
                    self.i += 2;
                    self.line += 1;
                }
                '\n' => {
                    self.finish(Sep::Newline);
                    self.i += 1;
                    self.line += 1;
                    self.skip_heredocs();
                }
                '#' => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.i += 1;
                    }
                }
                ';' => {
                    if matches!(self.peek2(), Some(';' | '&')) {
                        self.finish(Sep::DSemi);
                        self.i += 2;
                    } else {
                        self.finish(Sep::Semi);
                        self.i += 1;
                    }
                }
                '&' | '|' if self.depth == 0 => {
                    let double = self.peek2() == Some(c);
                    self.finish(match (c, double) {
                        ('&', true) => Sep::And,
                        ('&', false) => Sep::Amp,
                        (_, true) => Sep::Or,
                        _ => Sep::Pipe,
                    });
                    self.i += if double { 2 } else { 1 };
                }
                '(' => {
                    self.push_word("(".into());
                    self.depth += 1;
                    self.i += 1;
                }
                ')' => {
                    self.push_word(")".into());
                    self.depth = self.depth.saturating_sub(1);
                    self.i += 1;
                }
                _ => self.word(),
            }
        }
        self.finish(Sep::End);
    }

    pub(crate) fn word(&mut self) {
        let start = self.i;
        let mut w = String::new();
        while let Some(c) = self.peek() {
            match c {
                ' ' | '\t' | '\r' | '\n' | ';' | '(' | ')' => break,
                '&' | '|' if self.depth == 0 && !(c == '&' && w.ends_with(['>', '<'])) => break,
                '\'' => {
                    w.push(c);
                    self.i += 1;
                    while let Some(c) = self.peek() {
                        self.i += 1;
                        w.push(c);
                        if c == '\n' {
                            self.line += 1;
                        }
                        if c == '\'' {
                            break;
                        }
                    }
                }
                '"' => {
                    w.push(c);
                    self.i += 1;
                    while let Some(c) = self.peek() {
                        match c {
                            '\\' => {
                                w.push(c);
                                self.i += 1;
                                if let Some(n) = self.peek() {
                                    w.push(n);
                                    self.i += 1;
                                    if n == '\n' {
                                        self.line += 1;
                                    }
                                }
                            }
                            '`' => self.backquote(&mut w),
                            '$' if self.peek2() == Some('(') => self.dollar_paren(&mut w),
                            _ => {
                                w.push(c);
                                self.i += 1;
                                if c == '\n' {
                                    self.line += 1;
                                }
                                if c == '"' {
                                    break;
                                }
                            }
                        }
                    }
                }
                '`' => self.backquote(&mut w),
                '$' if self.peek2() == Some('(') => self.dollar_paren(&mut w),
                '$' if self.peek2() == Some('{') => {
                    let mut n = 0usize;
                    while let Some(c) = self.peek() {
                        w.push(c);
                        self.i += 1;
                        match c {
                            '{' => n += 1,
                            '}' => {
                                n = n.saturating_sub(1);
                                if n == 0 {
                                    break;
                                }
                            }
                            '\n' => self.line += 1,
                            _ => {}
                        }
                    }
                }
                '\\' => {
                    self.i += 1;
                    match self.peek() {
                        Some('\n') => {
                            self.i += 1;
                            self.line += 1;
                        }
                        Some(n) => {
                            w.push('\\');
                            w.push(n);
                            self.i += 1;
                        }
                        None => w.push('\\'),
                    }
                }
                '<' if self.peek2() == Some('<') && self.cs.get(self.i + 2) != Some(&'<') => {
                    self.i += 2;
                    w.push_str("<<");
                    let strip = self.peek() == Some('-');
                    if strip {
                        self.i += 1;
                        w.push('-');
                    }
                    while matches!(self.peek(), Some(' ' | '\t')) {
                        self.i += 1;
                    }
                    let mut delim = String::new();
                    while let Some(c) = self.peek() {
                        if " \t\r\n;&|<>()".contains(c) {
                            break;
                        }
                        self.i += 1;
                        w.push(c);
                        if !"'\"\\".contains(c) {
                            delim.push(c);
                        }
                    }
                    if !delim.is_empty() {
                        self.heredocs.push((delim, strip));
                    }
                }
                _ => {
                    w.push(c);
                    self.i += 1;
                }
            }
        }
        if self.i == start {
            // Never stall on a character no rule consumed.
            if let Some(c) = self.peek() {
                w.push(c);
            }
            self.i += 1;
        }
        self.push_word(w);
    }

    pub(crate) fn backquote(&mut self, w: &mut String) {
        w.push('`');
        self.i += 1;
        while let Some(c) = self.peek() {
            self.i += 1;
            w.push(c);
            match c {
                '\\' => {
                    if let Some(n) = self.peek() {
                        w.push(n);
                        self.i += 1;
                    }
                }
                '\n' => self.line += 1,
                '`' => break,
                _ => {}
            }
        }
    }

    pub(crate) fn dollar_paren(&mut self, w: &mut String) {
        w.push_str("$(");
        self.i += 2;
        let mut n = 1usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek() {
            self.i += 1;
            w.push(c);
            match (quote, c) {
                (_, '\n') => self.line += 1,
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') => quote = Some(c),
                (None, '(') => n += 1,
                (None, ')') => {
                    n -= 1;
                    if n == 0 {
                        break;
                    }
                }
                _ => {}
            }
        }
    }

    pub(crate) fn skip_heredocs(&mut self) {
        for (delim, strip) in std::mem::take(&mut self.heredocs) {
            while self.i < self.cs.len() {
                let start = self.i;
                while self.peek().is_some_and(|c| c != '\n') {
                    self.i += 1;
                }
                let text: String = self
                    .cs
                    .get(start..self.i)
                    .unwrap_or_default()
                    .iter()
                    .collect();
                self.out.heredoc.insert(self.line);
                if self.peek() == Some('\n') {
                    self.i += 1;
                    self.line += 1;
                }
                let t = if strip {
                    text.trim_start_matches('\t')
                } else {
                    text.as_str()
                };
                if t.trim_end_matches('\r') == delim {
                    break;
                }
            }
        }
    }
}
