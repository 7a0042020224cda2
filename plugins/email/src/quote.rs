//! Stripping what a reply repeats: the quoted earlier message (an
//! "On … wrote:" attribution, `>` lines, Outlook's "-----Original Message-----"
//! or "From: … Sent: …" header block), the signature after "-- " and a
//! trailing "Sent from my …" line. Agents see only what the person wrote.

/// Lead words of an attribution line ("On …", "Le …", "Am …", …).
const ATTRIBUTION_LEADS: &[&str] = &["on ", "le ", "am ", "el ", "op ", "il ", "em ", "den ", "på "];
/// Endings of an attribution line, lower case, without the final colon.
const ATTRIBUTION_ENDS: &[&str] = &[
    "wrote",
    "writes",
    "a écrit",
    "schrieb",
    "escribió",
    "schreef",
    "ha scritto",
    "escreveu",
    "skrev",
];
/// Lines at the end of mobile mails that say nothing.
const DEVICE_FOOTERS: &[&str] = &["sent from my ", "get outlook for ", "sent from mail for windows"];

/// The text the person wrote, without the quoted reply and signature.
/// When stripping would leave nothing (say, a message that is all quote),
/// the whole text is kept.
pub fn strip(text: &str) -> String {
    let normalized = text.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<&str> = normalized.split('\n').collect();
    let cut = quote_start(&lines).unwrap_or(lines.len());
    let mut kept: Vec<&str> = lines[..cut]
        .iter()
        .filter(|line| !is_quoted(line))
        .map(|line| line.trim_end())
        .collect();
    while kept.last().is_some_and(|l| l.trim().is_empty()) {
        kept.pop();
    }
    if let Some(last) = kept.last() {
        let lower = last.trim().to_lowercase();
        if DEVICE_FOOTERS.iter().any(|f| lower.starts_with(f)) {
            kept.pop();
        }
    }
    let stripped = collapse_blank_lines(&kept);
    if stripped.is_empty() {
        collapse_blank_lines(&lines.iter().map(|l| l.trim_end()).collect::<Vec<_>>())
    } else {
        stripped
    }
}

/// The index of the first line of the quoted part or signature.
fn quote_start(lines: &[&str]) -> Option<usize> {
    for i in 0..lines.len() {
        let line = lines[i].trim();
        if is_forward_marker(line) {
            // What follows is the forwarded message: that is the content.
            return None;
        }
        // RFC 3676 signature separator; many clients drop its trailing space.
        if lines[i] == "-- " || lines[i].trim_end() == "--" {
            return Some(i);
        }
        if is_original_message_separator(line) {
            return Some(i);
        }
        if is_attribution(lines, i) {
            return Some(i);
        }
        if is_outlook_header_block(lines, i) {
            // Include an underscore rule Outlook puts right above the block.
            let mut start = i;
            while start > 0 && (lines[start - 1].trim().is_empty() || is_underscore_rule(lines[start - 1])) {
                start -= 1;
            }
            return Some(start);
        }
    }
    None
}

fn is_quoted(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

/// "-----Original Message-----", "----- Original message -----" and the like.
fn is_original_message_separator(line: &str) -> bool {
    if !line.starts_with("--") || !line.ends_with("--") {
        return false;
    }
    let inner = line.trim_matches('-').trim().to_lowercase();
    inner == "original message" || inner == "ursprüngliche nachricht" || inner == "message d'origine"
}

/// Gmail's "---------- Forwarded message ---------", Apple Mail's
/// "Begin forwarded message:" and the like.
fn is_forward_marker(line: &str) -> bool {
    let lower = line.to_lowercase();
    (lower.starts_with("--") && (lower.contains("forwarded message") || lower.contains("weitergeleitete nachricht")))
        || lower == "begin forwarded message:"
}

/// "On Tue, 5 Mar 2024 at 10:00, Ann <ann@example.com> wrote:", possibly
/// wrapped over up to three lines.
fn is_attribution(lines: &[&str], i: usize) -> bool {
    let first = lines[i].trim_start().to_lowercase();
    if !ATTRIBUTION_LEADS.iter().any(|lead| first.starts_with(lead)) {
        return false;
    }
    let mut joined = String::new();
    for line in lines.iter().skip(i).take(3) {
        if !joined.is_empty() {
            joined.push(' ');
        }
        joined.push_str(line.trim());
        let lower = joined.to_lowercase();
        if let Some(head) = lower.strip_suffix(':') {
            let head = head.trim_end();
            // German puts the name after the verb: "Am … schrieb Ann <…>:".
            if ATTRIBUTION_ENDS.iter().any(|end| head.ends_with(end)) || head.contains(" schrieb ") {
                return joined.chars().count() <= 400;
            }
        }
        if line.trim().is_empty() {
            break;
        }
    }
    false
}

/// Outlook's header block of the quoted message: a "From:" line followed by
/// "Sent:" (or "Date:") and "To:" or "Subject:" lines.
fn is_outlook_header_block(lines: &[&str], i: usize) -> bool {
    if !header_label(lines[i], &["from:", "von:", "de:"]) {
        return false;
    }
    let next: Vec<&str> = lines.iter().skip(i + 1).take(5).copied().collect();
    let sent = next
        .iter()
        .any(|l| header_label(l, &["sent:", "date:", "gesendet:", "envoyé :", "envoyé:", "enviado:"]));
    let addressed = next.iter().any(|l| {
        header_label(
            l,
            &[
                "to:", "subject:", "an:", "betreff:", "à :", "objet :", "para:", "asunto:",
            ],
        )
    });
    // Outlook forwards look the same; their subject says FW.
    let forwarded = next.iter().any(|l| {
        let lower = l.trim().trim_start_matches('*').to_lowercase().replace('*', "");
        ["subject:", "betreff:", "objet :", "asunto:"]
            .iter()
            .filter_map(|label| lower.strip_prefix(label))
            .any(|subject| {
                let subject = subject.trim_start();
                subject.starts_with("fw:")
                    || subject.starts_with("fwd:")
                    || subject.starts_with("wg:")
                    || subject.starts_with("tr:")
            })
    });
    sent && addressed && !forwarded
}

/// Whether the line starts with one of the labels, ignoring case and the
/// `*bold*` markers of text converted from HTML.
fn header_label(line: &str, labels: &[&str]) -> bool {
    let lower = line.trim().trim_start_matches('*').to_lowercase().replace('*', "");
    labels.iter().any(|label| lower.starts_with(label))
}

fn is_underscore_rule(line: &str) -> bool {
    let line = line.trim();
    line.len() >= 10 && line.chars().all(|c| c == '_')
}

/// Joins lines, trims the ends and keeps at most one blank line in a row.
fn collapse_blank_lines(lines: &[&str]) -> String {
    let mut out: Vec<&str> = Vec::new();
    for line in lines {
        if line.trim().is_empty() && out.last().is_none_or(|l| l.trim().is_empty()) {
            continue;
        }
        out.push(line);
    }
    while out.last().is_some_and(|l| l.trim().is_empty()) {
        out.pop();
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmail_attribution_and_quote() {
        let text = "Thanks, that worked!\r\n\r\nOn Tue, Mar 5, 2024 at 10:00 AM Acme Support <support@acme.example> wrote:\r\n> Please restart the router.\r\n>\r\n> Acme\r\n";
        assert_eq!(strip(text), "Thanks, that worked!");
    }

    #[test]
    fn wrapped_attribution() {
        let text = "Yes please.\n\nOn Tue, Mar 5, 2024 at 10:00 AM Acme Support <\nsupport@acme.example> wrote:\n\n> Shall we call you?\n";
        assert_eq!(strip(text), "Yes please.");
    }

    #[test]
    fn other_languages() {
        assert_eq!(
            strip("Merci !\n\nLe mar. 5 mars 2024 à 10:00, Acme <s@acme.example> a écrit :\n> Bonjour"),
            "Merci !"
        );
        assert_eq!(
            strip("Danke\n\nAm 05.03.2024 um 10:00 schrieb Acme <s@acme.example>:\n> Hallo"),
            "Danke"
        );
    }

    #[test]
    fn outlook_original_message() {
        let text = "See attached.\n\n-----Original Message-----\nFrom: Acme Support <support@acme.example>\nSent: Tuesday, March 5, 2024 10:00 AM\nTo: Bob\nSubject: Your order\n\nHello Bob";
        assert_eq!(strip(text), "See attached.");
    }

    #[test]
    fn outlook_header_block_without_separator() {
        let text = "I still have the problem.\n\n________________________________\nFrom: Acme Support <support@acme.example>\nSent: Tuesday, March 5, 2024 10:00\nTo: Bob <bob@example.com>\nSubject: RE: Your order\n\nHello Bob";
        assert_eq!(strip(text), "I still have the problem.");
        let bold = "Done.\n\n*From:* Acme <s@acme.example>\n*Sent:* Tuesday\n*To:* Bob\n\nHi";
        assert_eq!(strip(bold), "Done.");
    }

    #[test]
    fn a_from_line_in_prose_is_kept() {
        let text = "From: the warehouse, I got a parcel.\nIt was empty.";
        assert_eq!(strip(text), text);
    }

    #[test]
    fn signatures_and_device_footers() {
        assert_eq!(strip("Call me.\n\n-- \nBob Smith\nCEO, Example Inc."), "Call me.");
        assert_eq!(strip("Call me.\n--\nBob"), "Call me.");
        assert_eq!(strip("Call me.\n\nSent from my iPhone"), "Call me.");
        assert_eq!(strip("Call me.\n\nGet Outlook for Android"), "Call me.");
    }

    #[test]
    fn inline_quotes_are_removed_but_answers_kept() {
        let text = "> What is your order number?\n12345\n> And your postcode?\nAB1 2CD";
        assert_eq!(strip(text), "12345\nAB1 2CD");
    }

    #[test]
    fn forwarded_messages_are_kept() {
        let text = "FYI\n\n---------- Forwarded message ---------\nFrom: Shop <shop@example.com>\nDate: Tue, Mar 5, 2024\nSubject: Receipt\nTo: bob@example.com\n\nTotal: 10 EUR";
        assert_eq!(strip(text), text);
    }

    #[test]
    fn outlook_forwards_are_kept() {
        let text = "FYI\n\n________________________________\nFrom: Shop <shop@example.com>\nSent: Tuesday\nTo: Bob\nSubject: FW: Receipt\n\nTotal: 10 EUR";
        assert_eq!(strip(text), text.replace("\n\n\n", "\n\n"));
    }

    #[test]
    fn all_quote_keeps_everything() {
        let text = "> only a quote\n> nothing else";
        assert_eq!(strip(text), text);
    }

    #[test]
    fn blank_lines_collapse() {
        assert_eq!(strip("\n\nA\n\n\n\nB\n\n"), "A\n\nB");
    }
}
