//! Cutting a long text into pieces `sendMessage` accepts.
//!
//! Telegram refuses texts over 4096 characters, counted in UTF-16 code units
//! (the unit of its entity offsets). Pieces end at a line break, else at a
//! space, in the second half of the window, so words and paragraphs stay
//! whole where possible.

/// The longest text of one `sendMessage`, in UTF-16 code units.
pub const MAX_TEXT_UNITS: usize = 4096;

/// The non-blank pieces of `text`, each at most `max_units` UTF-16 code units.
pub fn pieces(text: &str, max_units: usize) -> Vec<&str> {
    let max_units = max_units.max(2);
    let mut out = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let Some(cut) = window_end(rest, max_units) else {
            push_piece(&mut out, rest);
            break;
        };
        let window = &rest[..cut];
        let half = cut / 2;
        let boundary = window
            .rfind('\n')
            .filter(|&at| at >= half)
            .or_else(|| window.rfind(char::is_whitespace).filter(|&at| at >= half));
        match boundary {
            Some(at) => {
                push_piece(&mut out, &rest[..at]);
                // Drop the line break or space the cut falls on.
                let skip = rest[at..].chars().next().map_or(1, char::len_utf8);
                rest = &rest[at + skip..];
            }
            None => {
                push_piece(&mut out, window);
                rest = &rest[cut..];
            }
        }
    }
    out
}

/// The byte index where the first `max_units` UTF-16 units of `text` end,
/// or `None` when the whole text fits.
fn window_end(text: &str, max_units: usize) -> Option<usize> {
    let mut units = 0;
    for (at, c) in text.char_indices() {
        units += c.len_utf16();
        if units > max_units {
            return Some(at);
        }
    }
    None
}

fn push_piece<'a>(out: &mut Vec<&'a str>, piece: &'a str) {
    if !piece.trim().is_empty() {
        out.push(piece);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn units(text: &str) -> usize {
        text.encode_utf16().count()
    }

    #[test]
    fn short_texts_stay_whole() {
        assert_eq!(pieces("hello", MAX_TEXT_UNITS), vec!["hello"]);
        assert_eq!(pieces(&"a".repeat(4096), MAX_TEXT_UNITS).len(), 1);
        assert!(pieces("  \n ", MAX_TEXT_UNITS).is_empty());
    }

    #[test]
    fn long_texts_break_at_lines_then_spaces() {
        let text = format!("{}\n{}", "a".repeat(3000), "b".repeat(3000));
        assert_eq!(pieces(&text, MAX_TEXT_UNITS), vec!["a".repeat(3000), "b".repeat(3000)]);
        let words = "word ".repeat(2000);
        let parts = pieces(&words, MAX_TEXT_UNITS);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| units(p) <= MAX_TEXT_UNITS && !p.starts_with(' ')));
        assert!(parts[..2].iter().all(|p| p.ends_with("word")));
        assert_eq!(parts.iter().map(|p| p.len()).sum::<usize>(), words.len() - 2);
    }

    #[test]
    fn unbroken_text_is_cut_hard_without_splitting_characters() {
        // Each emoji is two UTF-16 units and four bytes.
        let text = "😀".repeat(3000);
        let parts = pieces(&text, MAX_TEXT_UNITS);
        assert_eq!(parts.iter().map(|p| units(p)).collect::<Vec<_>>(), vec![4096, 1904]);
        assert_eq!(parts.concat(), text);
    }
}
