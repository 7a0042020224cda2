//! Text helpers for provider formats: cutting a long text into the pieces a
//! provider accepts, and escaping text for XML and HTML.

/// The non-empty pieces of `text`, each at most `max` characters (Unicode
/// scalar values), trimmed. A piece ends at the last whitespace in the second
/// half of its window, so words stay whole where possible; text without one
/// is cut after `max` characters.
pub fn split(text: &str, max: usize) -> Vec<&str> {
    let max = max.max(1);
    let mut rest = text.trim();
    let mut pieces = Vec::new();
    while !rest.is_empty() {
        let cut = match rest.char_indices().nth(max) {
            None => rest.len(),
            Some((limit, _)) => match rest[..limit].rfind(char::is_whitespace) {
                Some(at) if at >= limit / 2 => at,
                _ => limit,
            },
        };
        let (head, tail) = rest.split_at(cut);
        pieces.push(head.trim_end());
        rest = tail.trim_start();
    }
    pieces
}

/// `text` with `&`, `<`, `>`, `"` and `'` escaped, for XML (and HTML5)
/// content and attribute values.
pub fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_texts_are_split_at_whitespace_near_the_limit() {
        assert_eq!(split("  hello  ", 10), vec!["hello"]);
        assert_eq!(split("aaaa bbbb cccc", 10), vec!["aaaa bbbb", "cccc"]);
        assert_eq!(split("aaaa\n\n  bbbb", 6), vec!["aaaa", "bbbb"]);
        assert_eq!(split("abcdefghijkl", 5), vec!["abcde", "fghij", "kl"]);
        assert_eq!(split("ééééé ééééé", 6), vec!["ééééé", "ééééé"]);
        // A space early in the window is not worth a short piece.
        assert_eq!(split("a bcdefghij", 6), vec!["a bcde", "fghij"]);
        assert!(split("   ", 5).is_empty());
        assert!(split("", 5).is_empty());
        assert_eq!(split("abc", 0), vec!["a", "b", "c"]);
    }

    #[test]
    fn markup_characters_are_escaped() {
        assert_eq!(
            escape_xml("Tom & Jerry's <shop> \"24/7\""),
            "Tom &amp; Jerry&apos;s &lt;shop&gt; &quot;24/7&quot;"
        );
        assert_eq!(escape_xml("plain é"), "plain é");
    }
}
