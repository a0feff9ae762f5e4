//! A minimal indenting XML writer with libxml2's escaping and layout.

/// Builds an XML document the way libxml2's text writer lays it out with a two-space indent.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    out: String,
    /// Open elements, and whether each has child elements yet.
    stack: Vec<(String, bool)>,
    /// The innermost open element has been given text.
    text: bool,
    /// The innermost open element's start tag is still open (`<name` written, `>` not yet).
    pending: bool,
}

impl Writer {
    pub(crate) fn new() -> Self {
        Self {
            out: "<?xml version=\"1.0\"?>\n".into(),
            ..Default::default()
        }
    }

    fn close_pending(&mut self) {
        if self.pending {
            self.out.push('>');
            self.pending = false;
        }
    }

    pub(crate) fn start(&mut self, name: &str) {
        self.close_pending();
        if let Some(top) = self.stack.last_mut() {
            if !top.1 {
                self.out.push('\n');
            }
            top.1 = true;
        }
        self.out.push_str(&"  ".repeat(self.stack.len()));
        self.out.push('<');
        self.out.push_str(name);
        self.stack.push((name.to_owned(), false));
        self.pending = true;
        self.text = false;
    }

    pub(crate) fn attribute(&mut self, name: &str, value: &str) {
        self.out.push(' ');
        self.out.push_str(name);
        self.out.push_str("=\"");
        self.out.push_str(&escape(value, true));
        self.out.push('"');
    }

    pub(crate) fn text(&mut self, s: &str) {
        self.close_pending();
        self.out.push_str(&escape(s, false));
        self.text = true;
    }

    pub(crate) fn end(&mut self) {
        let Some((name, had_children)) = self.stack.pop() else {
            return;
        };
        if self.pending && !self.text {
            self.out.push_str("/>\n");
            self.pending = false;
        } else {
            self.close_pending();
            if had_children {
                self.out.push_str(&"  ".repeat(self.stack.len()));
            }
            self.out.push_str("</");
            self.out.push_str(&name);
            self.out.push_str(">\n");
        }
        self.text = false;
    }

    /// `<name>text</name>`.
    pub(crate) fn element(&mut self, name: &str, text: &str) {
        self.start(name);
        self.text(text);
        self.end();
    }

    pub(crate) fn finish(self) -> String {
        self.out
    }
}

fn escape(s: &str, attribute: bool) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '\r' => o.push_str("&#13;"),
            '"' if attribute => o.push_str("&quot;"),
            '\n' if attribute => o.push_str("&#10;"),
            '\t' if attribute => o.push_str("&#9;"),
            c => o.push(c),
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_libxml2() {
        let mut w = Writer::new();
        w.start("a");
        w.element("b", "x & <y>");
        w.start("c");
        w.attribute("dev", "\"q\"");
        w.text("/");
        w.end();
        w.start("empty");
        w.end();
        w.end();
        assert_eq!(
            w.finish(),
            "<?xml version=\"1.0\"?>\n<a>\n  <b>x &amp; &lt;y&gt;</b>\n  <c dev=\"&quot;q&quot;\">/</c>\n  <empty/>\n</a>\n"
        );
    }
}
