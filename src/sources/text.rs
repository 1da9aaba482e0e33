//! Text clean-up shared by sources: HTML to plain text, whitespace normalisation.

use scraper::Html;

/// Collapse runs of whitespace to single spaces and trim.
pub fn normalize_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Plain text of an HTML fragment: tags removed, entities decoded, block breaks kept as spaces.
pub fn html_to_text(html: &str) -> String {
    if !html.contains('<') && !html.contains('&') {
        return normalize_whitespace(html);
    }
    // Paragraph and line breaks separate words; without this "a<p>b" would read "ab".
    let spaced = html
        .replace("<p>", " <p>")
        .replace("<br>", " <br>")
        .replace("<br/>", " <br/>")
        .replace("<br />", " <br />");
    let fragment = Html::parse_fragment(&spaced);
    let text: String = fragment.root_element().text().collect::<Vec<_>>().join("");
    normalize_whitespace(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_tags_and_entities() {
        assert_eq!(
            html_to_text("I tried Widgetron&#x27;s retry logic.<p>Works <b>well</b>."),
            "I tried Widgetron's retry logic. Works well."
        );
        assert_eq!(html_to_text("<script>alert(1)</script>ok"), "alert(1)ok");
        assert_eq!(normalize_whitespace("  a \n\t b  "), "a b");
    }
}
