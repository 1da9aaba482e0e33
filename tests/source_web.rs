//! Web (HTML page) source against a local server: selectors for item/text/link/author/time,
//! relative links, time formats, `next` paging, conditional GET and seen-id cursors, and a
//! warning (not silence) when a selector stops matching.

#[path = "common/sources.rs"]
mod sources;

use pulse::sources::web::{Web, WebConfig};
use pulse::sources::{PollContext, Source};
use sources::*;
use std::collections::HashMap;
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PATH: &str = "/forum/search";

fn config(url: &str, extra: &str) -> WebConfig {
    let c: WebConfig = toml::from_str(&format!(
        r#"url = "{url}"
item = "li.result"
text = ".blurb"
link = "a.topic"
author = "a.user"
time = "time"
next = "a[rel=next]"
{extra}"#
    ))
    .unwrap();
    assert!(c.validate().is_empty(), "{:?}", c.validate());
    c
}

fn source(server: &MockServer) -> Web {
    Web::new(config(
        &format!("{}/forum/search?q={{query}}", server.uri()),
        "",
    ))
}

fn html(body: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", "text/html; charset=utf-8")
        .set_body_string(body.to_string())
}

fn one_page(products: Vec<pulse::config::ProductConfig>) -> PollContext {
    let mut c = ctx("forum", products, HashMap::new());
    c.max_pages = 1;
    c
}

fn widgetron() -> Vec<pulse::config::ProductConfig> {
    vec![product("Widgetron", &[])]
}

#[tokio::test]
async fn normal_page_extracts_items_with_selectors() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("q", "Widgetron"))
        .respond_with(html(&fixture("web/forum_search.html")))
        .expect(1)
        .mount(&server)
        .await;
    let out = source(&server).poll(&one_page(widgetron())).await.unwrap();
    assert!(out.errors.is_empty() && out.warnings.is_empty(), "{out:?}");
    assert_eq!(out.mentions.len(), 3);
    let base = server.uri();
    let m = &out.mentions[0];
    assert_eq!(m.source, "forum");
    // Relative to `<base href="/forum/">`, not to the page.
    let link = format!("{base}/forum/t/widgetron-saved-my-weekend/4211#post-1");
    assert_eq!(m.url.as_deref(), Some(link.as_str()));
    assert_eq!(m.id, link);
    assert_eq!(
        m.text,
        "Switched our cron jobs to Widgetron & it just works. Would recommend."
    );
    assert_eq!(m.author.as_deref(), Some("dana"));
    assert_eq!(m.published_at.to_rfc3339(), "2024-05-01T12:50:00+00:00");
    assert_eq!(m.language.as_deref(), Some("en"));
    let m = &out.mentions[1];
    assert_eq!(
        m.url.as_deref(),
        Some("https://other.example/blog/widgetron-review")
    );
    assert_eq!(
        m.text,
        "Widgetron's docs are thin and the CLI crashed twice."
    );
    assert_eq!(m.published_at.to_rfc3339(), "2024-04-30T21:15:00+00:00");
    // No link: the id is a hash of the text; no time: first seen now.
    let m = &out.mentions[2];
    assert!(m.id.starts_with("text:"), "{}", m.id);
    assert_eq!(m.url, None);
    assert_eq!(m.published_at, now());
}

#[tokio::test]
async fn pagination_follows_the_next_link() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param_is_missing("page"))
        .respond_with(html(&fixture("web/forum_search.html")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("q", "Widgetron"))
        .and(query_param("page", "2"))
        .respond_with(html(&fixture("web/forum_search_page2.html")))
        .expect(1)
        .mount(&server)
        .await;
    let out = source(&server)
        .poll(&ctx("forum", widgetron(), HashMap::new()))
        .await
        .unwrap();
    assert_eq!(out.mentions.len(), 4, "{:?}", out.warnings);
    let last = &out.mentions[3];
    assert_eq!(last.text, "Cron is fine, Widgetron is nicer for retries.");
    assert_eq!(last.published_at.to_rfc3339(), "2024-04-28T06:00:00+00:00");
    // The `next` selector missing on the last page is normal, not a warning.
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
}

#[tokio::test]
async fn query_template_fetches_each_name_and_a_plain_url_once() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("q", "Widgetron"))
        .respond_with(html(&fixture("web/forum_search.html")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("q", "Widget Tron"))
        .respond_with(html(&fixture("web/forum_search_empty.html")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/forum/latest"))
        .respond_with(html(&fixture("web/forum_search.html")))
        .expect(1)
        .mount(&server)
        .await;
    let products = vec![product("Widgetron", &["Widget Tron"])];
    let out = source(&server)
        .poll(&one_page(products.clone()))
        .await
        .unwrap();
    assert_eq!(out.mentions.len(), 3);
    let scopes: Vec<&str> = out.cursors.iter().map(|(s, _)| s.as_str()).collect();
    // The empty result page leaves nothing to remember: only the first URL saves a cursor.
    assert_eq!(scopes.len(), 1);
    assert!(scopes[0].ends_with("q=Widgetron"), "{scopes:?}");
    let plain = Web::new(config(&format!("{}/forum/latest", server.uri()), ""));
    let mut products = products;
    products.push(product("Gizmo", &[]));
    let out = plain.poll(&one_page(products)).await.unwrap();
    assert_eq!(out.mentions.len(), 3);
}

#[tokio::test]
async fn empty_result_page_warns_that_the_item_selector_matched_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .respond_with(html(&fixture("web/forum_search_empty.html")))
        .expect(1)
        .mount(&server)
        .await;
    let out = source(&server).poll(&one_page(widgetron())).await.unwrap();
    assert!(out.mentions.is_empty() && out.errors.is_empty());
    assert_eq!(out.warnings.len(), 1);
    assert!(
        out.warnings[0].starts_with("selector `li.result` matched nothing on http://127.0.0.1:")
            && out.warnings[0].ends_with("q=Widgetron: the page layout may have changed"),
        "{:?}",
        out.warnings
    );
}

#[tokio::test]
async fn changed_layout_is_a_warning_not_silence() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .respond_with(html(&fixture("web/forum_redesigned.html")))
        .mount(&server)
        .await;
    let out = source(&server).poll(&one_page(widgetron())).await.unwrap();
    assert!(out.mentions.is_empty());
    assert!(out.warnings[0].contains("selector `li.result` matched nothing"));
    // A sub-selector that matches in no item is reported too.
    Mock::given(method("GET"))
        .and(path("/forum/old"))
        .respond_with(html(&fixture("web/forum_search.html")))
        .mount(&server)
        .await;
    let mut c = config(&format!("{}/forum/old", server.uri()), "");
    c.author = Some("span.writer".into());
    let out = Web::new(c).poll(&one_page(widgetron())).await.unwrap();
    assert_eq!(out.mentions.len(), 3);
    assert_eq!(out.mentions[0].author, None);
    assert_eq!(out.warnings.len(), 1);
    assert!(
        out.warnings[0].contains("selector `span.writer` matched nothing"),
        "{:?}",
        out.warnings
    );
}

#[tokio::test]
async fn restart_revalidates_and_rereads_a_changed_page() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(|r: &wiremock::Request| !r.headers.contains_key("if-none-match"))
        .respond_with(
            html(&fixture("web/forum_search.html"))
                .insert_header("etag", "\"v1\"")
                .insert_header("last-modified", "Wed, 01 May 2024 12:50:00 GMT"),
        )
        .expect(1)
        .mount(&server)
        .await;
    // Second poll: the stored validators come back and the page has not changed.
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(header("if-none-match", "\"v1\""))
        // (wiremock's `header` matcher splits on commas, which HTTP dates contain)
        .and(|r: &wiremock::Request| {
            r.headers
                .get("if-modified-since")
                .and_then(|v| v.to_str().ok())
                == Some("Wed, 01 May 2024 12:50:00 GMT")
        })
        .respond_with(ResponseTemplate::new(304))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    let first = source(&server).poll(&one_page(widgetron())).await.unwrap();
    assert_eq!(first.mentions.len(), 3);
    let cursors = saved(&first);
    let mut c = ctx("forum", widgetron(), cursors.clone());
    c.max_pages = 1;
    let second = source(&server).poll(&c).await.unwrap();
    assert!(second.mentions.is_empty() && second.warnings.is_empty());
    assert!(second.cursors.is_empty(), "a 304 keeps the stored cursor");
    // Third poll: the page changed. A web page has no order or times to rely on: every
    // item on it is handed on again (the store drops the ones it has), the new one first.
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(header("if-none-match", "\"v1\""))
        .respond_with(
            html(&fixture("web/forum_search_updated.html")).insert_header("etag", "\"v2\""),
        )
        .expect(1)
        .mount(&server)
        .await;
    let mut c = ctx("forum", widgetron(), cursors);
    c.max_pages = 1;
    let third = source(&server).poll(&c).await.unwrap();
    let texts: Vec<&str> = third.mentions.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(
        texts,
        [
            "Widgetron 1.0 is out with a stable API.",
            "Switched our cron jobs to Widgetron & it just works. Would recommend.",
            "Widgetron's docs are thin and the CLI crashed twice."
        ]
    );
    // The two old posts keep the ids they had (so the store drops them).
    let first_ids: Vec<&str> = first.mentions.iter().map(|m| m.id.as_str()).collect();
    assert!(third.mentions[1..]
        .iter()
        .all(|m| first_ids.contains(&m.id.as_str())));
    assert_accounted(&third);
    let cursor: serde_json::Value =
        serde_json::from_str(saved(&third).values().next().unwrap()).unwrap();
    assert_eq!(cursor["etag"], "\"v2\"", "{cursor}");
    // The new post's id is remembered with the others on the page.
    assert!(cursor["seen"]
        .as_array()
        .unwrap()
        .iter()
        .any(|id| id == third.mentions[0].id.as_str()));
}

#[tokio::test]
async fn malformed_html_keeps_what_is_whole_and_garbage_warns() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("q", "Widgetron"))
        .respond_with(html(&fixture("web/forum_search_truncated.html")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("q", "Gizmo"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "text/html")
                .set_body_bytes(vec![
                    0xff, 0xfe, 0x00, 0x9c, 0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad,
                ]),
        )
        .mount(&server)
        .await;
    let out = source(&server)
        .poll(&one_page(vec![
            product("Widgetron", &[]),
            product("Gizmo", &[]),
        ]))
        .await
        .unwrap();
    // The cut-off second item has no text and is dropped; the whole first item survives.
    assert_eq!(out.mentions.len(), 1, "{:?}", out.mentions);
    assert!(out.mentions[0].text.starts_with("Switched our cron jobs"));
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    assert!(out.warnings[0].contains("q=Gizmo"));
}

#[tokio::test]
async fn one_failing_url_does_not_stop_the_others() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("q", "Gizmo"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(PATH))
        .and(query_param("q", "Widgetron"))
        .respond_with(html(&fixture("web/forum_search.html")))
        .mount(&server)
        .await;
    let out = source(&server)
        .poll(&one_page(vec![
            product("Gizmo", &[]),
            product("Widgetron", &[]),
        ]))
        .await
        .unwrap();
    assert_eq!(out.mentions.len(), 3);
    assert_eq!(out.errors.len(), 1);
    assert!(out.errors[0].contains("q=Gizmo") && out.errors[0].contains("404"));
}

/// The README example, through the real config loader.
#[test]
fn readme_example_parses() {
    let text = r#"
[[products]]
name = "Widgetron"

[[sources]]
type = "web"
name = "example-forum"
interval = "30m"
url = "https://forum.example.com/search?q={query}"
item = "li.result"
text = ".blurb"
link = "a.topic"
author = "a.user"
time = "time"
next = "a[rel=next]"
"#;
    let config = pulse::config::Config::parse(text, std::path::Path::new("t.toml")).unwrap();
    assert_eq!(config.sources[0].name, "example-forum");
    assert_eq!(config.sources[0].kind.type_name(), "web");
    let bad = pulse::config::Config::parse(
        &text.replace("li.result", "li.result["),
        std::path::Path::new("t.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        bad.contains("`sources[0].item`: invalid CSS selector"),
        "{bad}"
    );
}
