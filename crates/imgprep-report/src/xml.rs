//! A minimal indenting XML writer with libxml2's escaping and layout.

use std::io;

/// Bytes of document kept before they are handed to the sink, when there is one.
const FLUSH_AT: usize = 64 << 10;

/// Builds an XML document the way libxml2's text writer lays it out with a two-space indent,
/// into a string or, piece by piece, into a sink.
#[derive(Default)]
pub(crate) struct Writer<'a> {
    out: String,
    /// Where the document goes as it grows (`None`: it is kept whole for [`Writer::finish`]).
    sink: Option<&'a mut dyn io::Write>,
    /// The first error the sink gave; nothing more is written after it.
    failed: Option<io::Error>,
    /// Open elements, and whether each has child elements yet.
    stack: Vec<(String, bool)>,
    /// The innermost open element has been given text.
    text: bool,
    /// The innermost open element's start tag is still open (`<name` written, `>` not yet).
    pending: bool,
}

impl std::fmt::Debug for Writer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("stack", &self.stack)
            .field("buffered", &self.out.len())
            .finish_non_exhaustive()
    }
}

impl<'a> Writer<'a> {
    pub(crate) fn new() -> Self {
        Self {
            out: "<?xml version=\"1.0\"?>\n".into(),
            ..Default::default()
        }
    }

    /// A writer that hands the document to `sink` as it grows.
    pub(crate) fn to_sink(sink: &'a mut dyn io::Write) -> Self {
        Self {
            sink: Some(sink),
            ..Self::new()
        }
    }

    /// Hands what is buffered to the sink, if there is one.
    fn flush(&mut self) {
        if let Some(sink) = &mut self.sink
            && self.failed.is_none()
        {
            if let Err(e) = sink.write_all(self.out.as_bytes()) {
                self.failed = Some(e);
            }
            self.out.clear();
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
        if self.out.len() >= FLUSH_AT {
            self.flush();
        }
    }

    /// `<name>text</name>`.
    pub(crate) fn element(&mut self, name: &str, text: &str) {
        self.start(name);
        self.text(text);
        self.end();
    }

    /// The document (for a writer without a sink).
    pub(crate) fn finish(self) -> String {
        self.out
    }

    /// Hands the rest of the document to the sink; the first error the sink gave, if any.
    pub(crate) fn finish_to_sink(mut self) -> io::Result<()> {
        self.flush();
        self.failed.map_or(Ok(()), Err)
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

    #[test]
    fn a_sink_gets_the_same_document_in_pieces() {
        let build = |w: &mut Writer<'_>| {
            w.start("a");
            for i in 0..20_000 {
                w.element("b", &format!("item {i} & more"));
            }
            w.end();
        };
        let mut whole = Writer::new();
        build(&mut whole);
        let whole = whole.finish();
        /// Records the size of each write.
        struct Pieces(Vec<u8>, usize);
        impl io::Write for Pieces {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.1 = self.1.max(b.len());
                self.0.extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut sink = Pieces(Vec::new(), 0);
        let mut w = Writer::to_sink(&mut sink);
        build(&mut w);
        w.finish_to_sink().unwrap();
        assert_eq!(String::from_utf8(sink.0).unwrap(), whole);
        assert!(
            whole.len() > 4 * FLUSH_AT && sink.1 < 2 * FLUSH_AT,
            "{}",
            sink.1
        );
    }
}
