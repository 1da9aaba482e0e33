//! RSS source against a local server: RSS 2.0, Atom, JSON Feed and Google News search
//! feeds, `{query}` templating, conditional GET, and the usual failures.

#[path = "common/sources.rs"]
mod sources;

use pulse::sources::rss::{Rss, RssConfig};
use pulse::sources::{FetchError, PollContext, Source, SourceError};
use sources::*;
use std::collections::HashMap;
use std::time::Duration;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn rss(url: String) -> Rss {
    let c = RssConfig { url };
    assert!(c.validate().is_empty());
    Rss::new(c)
}

fn body(content_type: &str, text: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("content-type", content_type)
        .set_body_string(text.to_string())
}

fn plain_ctx() -> PollContext {
    ctx("feeds", vec![product("Widgetron", &[])], HashMap::new())
}

#[tokio::test]
async fn rss2_feed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/feed.xml"))
        .respond_with(body("application/rss+xml", &fixture("rss/blog_rss2.xml")))
        .expect(1)
        .mount(&server)
        .await;
    let out = rss(format!("{}/feed.xml", server.uri()))
        .poll(&plain_ctx())
        .await
        .unwrap();
    assert_eq!(out.mentions.len(), 2);
    let m = &out.mentions[0];
    assert_eq!(m.source, "feeds");
    assert_eq!(m.id, "https://eng.example.com/posts/widgetron-migration");
    assert_eq!(
        m.url.as_deref(),
        Some("https://eng.example.com/posts/widgetron-migration")
    );
    assert_eq!(m.author.as_deref(), Some("Carol Jones"));
    assert_eq!(
        m.text,
        "Why we moved our pollers to Widgetron. We replaced three cron scripts with Widgetron. Retries finally work."
    );
    assert_eq!(m.published_at.to_rfc3339(), "2024-05-01T12:34:56+00:00");
    assert_eq!(m.language.as_deref(), Some("en-us"));
    // Numeric zones are normalised to UTC.
    assert_eq!(
        out.mentions[1].published_at.to_rfc3339(),
        "2024-04-30T07:00:00+00:00"
    );
    assert_eq!(out.mentions[1].id, "post-9931");
}

#[tokio::test]
async fn atom_feed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/atom.xml"))
        .respond_with(body("application/atom+xml", &fixture("rss/blog_atom.xml")))
        .mount(&server)
        .await;
    let out = rss(format!("{}/atom.xml", server.uri()))
        .poll(&plain_ctx())
        .await
        .unwrap();
    assert_eq!(out.mentions.len(), 2);
    let m = &out.mentions[0];
    // The entry id, never the link, is the stable id.
    assert_eq!(m.id, "tag:blog.example.com,2024:post-42");
    assert_eq!(m.url.as_deref(), Some("https://blog.example.com/posts/42"));
    assert_eq!(m.author.as_deref(), Some("Carol"));
    // `published` (not `updated`) is the mention time, in UTC.
    assert_eq!(m.published_at.to_rfc3339(), "2024-05-01T10:30:00+00:00");
    assert_eq!(
        m.text,
        "Why we switched to Widgetron. Short summary about Widgetron."
    );
    // Without `published`, `updated`; HTML titles are stripped.
    let m = &out.mentions[1];
    assert_eq!(m.published_at.to_rfc3339(), "2024-04-29T08:00:00+00:00");
    assert_eq!(
        m.text,
        "Widgetron & friends: a retrospective. Looking back at a year of Widgetron."
    );
}

#[tokio::test]
async fn json_feed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/feed.json"))
        .respond_with(body(
            "application/feed+json",
            &fixture("rss/podcast_feed.json"),
        ))
        .mount(&server)
        .await;
    let out = rss(format!("{}/feed.json", server.uri()))
        .poll(&plain_ctx())
        .await
        .unwrap();
    assert_eq!(out.mentions.len(), 2);
    let m = &out.mentions[0];
    assert_eq!(m.id, "https://widgetweekly.example/episodes/17");
    assert_eq!(m.author.as_deref(), Some("Priya"));
    assert_eq!(m.published_at.to_rfc3339(), "2024-05-01T15:00:00+00:00");
    assert_eq!(
        m.text,
        "Episode 17: Widgetron under load. We benchmark Widgetron against cron."
    );
    assert_eq!(m.language.as_deref(), Some("en"));
    assert_eq!(
        out.mentions[1].text,
        "Episode 16: listener mail. Your questions about schedulers."
    );
}

#[tokio::test]
async fn google_news_search_feed_per_product_name() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/rss/search"))
        .and(query_param("q", "Widgetron when:1d"))
        .and(query_param("hl", "en-US"))
        .and(query_param("ceid", "US:en"))
        .respond_with(body(
            "application/xml; charset=utf-8",
            &fixture("rss/google_news.xml"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rss/search"))
        .and(query_param("q", "Widget Tron when:1d"))
        .respond_with(body(
            "application/xml; charset=utf-8",
            &fixture("rss/google_news.xml"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/rss/search"))
        .and(query_param("q", "Gizmo+ when:1d"))
        .respond_with(body(
            "application/xml; charset=utf-8",
            &fixture("rss/google_news.xml"),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let products = vec![
        product("Widgetron", &["Widget Tron", "widgetron"]),
        product("Gizmo+", &[]),
    ];
    let feed = rss(format!(
        "{}/rss/search?q={{query}}%20when:1d&hl=en-US&gl=US&ceid=US:en",
        server.uri()
    ));
    let out = feed
        .poll(&ctx("gnews", products, HashMap::new()))
        .await
        .unwrap();
    // One request per distinct name (the exact-duplicate alias is not fetched twice).
    assert_eq!(out.cursors.len(), 3, "{:?}", out.cursors);
    assert!(
        out.cursors
            .iter()
            .any(|(s, _)| s.contains("q=Gizmo%2B%20when")),
        "{:?}",
        out.cursors
    );
    let m = &out.mentions[0];
    assert_eq!(m.id, "CBMiakFVX3lxTE1hYmNkZWZn");
    assert_eq!(
        m.url.as_deref(),
        Some("https://news.google.com/rss/articles/CBMiakFVX3lxTE1hYmNkZWZn?oc=5")
    );
    assert!(
        m.text
            .starts_with("Widgetron startup raises seed round - Example Times"),
        "{}",
        m.text
    );
    assert!(
        !m.text.contains('<') && !m.text.contains("&nbsp;"),
        "{}",
        m.text
    );
    assert_eq!(m.language.as_deref(), Some("en-us"));
    assert_eq!(m.author, None);
}

#[tokio::test]
async fn conditional_get_after_restart() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/feed.xml"))
        .and(|r: &wiremock::Request| !r.headers.contains_key("if-none-match"))
        .respond_with(
            body("application/rss+xml", &fixture("rss/blog_rss2.xml"))
                .insert_header("etag", "W/\"feed-v1\"")
                .insert_header("last-modified", "Wed, 01 May 2024 12:45:00 GMT"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/feed.xml"))
        .and(header("if-none-match", "W/\"feed-v1\""))
        // (wiremock's `header` matcher splits on commas, which HTTP dates contain)
        .and(|r: &wiremock::Request| {
            r.headers
                .get("if-modified-since")
                .and_then(|v| v.to_str().ok())
                == Some("Wed, 01 May 2024 12:45:00 GMT")
        })
        .respond_with(ResponseTemplate::new(304))
        .expect(1)
        .mount(&server)
        .await;
    let url = format!("{}/feed.xml", server.uri());
    let first = rss(url.clone()).poll(&plain_ctx()).await.unwrap();
    assert_eq!(first.mentions.len(), 2);
    let second = rss(url)
        .poll(&ctx(
            "feeds",
            vec![product("Widgetron", &[])],
            saved(&first),
        ))
        .await
        .unwrap();
    assert!(second.mentions.is_empty() && second.errors.is_empty());
}

#[tokio::test]
async fn changed_feed_after_restart_reports_only_newer_entries() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/atom.xml"))
        .respond_with(body("application/atom+xml", &fixture("rss/blog_atom.xml")))
        .mount(&server)
        .await;
    let url = format!("{}/atom.xml", server.uri());
    let first = rss(url.clone()).poll(&plain_ctx()).await.unwrap();
    assert_eq!(first.mentions.len(), 2);
    let second = rss(url)
        .poll(&ctx(
            "feeds",
            vec![product("Widgetron", &[])],
            saved(&first),
        ))
        .await
        .unwrap();
    let ids: Vec<&str> = second.mentions.iter().map(|m| m.id.as_str()).collect();
    assert!(
        !ids.contains(&"tag:blog.example.com,2024:post-41"),
        "{ids:?}"
    );
}

#[tokio::test]
async fn failures_are_errors_and_other_feeds_continue() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/broken.xml"))
        .respond_with(body("application/rss+xml", &fixture("rss/malformed.xml")))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/down.xml"))
        .respond_with(ResponseTemplate::new(500))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/slow.xml"))
        .respond_with(
            body("application/rss+xml", &fixture("rss/blog_rss2.xml"))
                .set_delay(Duration::from_secs(3)),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/huge.xml"))
        .respond_with(body(
            "application/rss+xml",
            &fixture("rss/blog_rss2.xml").replace(
                "</channel>",
                &format!(
                    "<item><title>{}</title></item></channel>",
                    "x".repeat(100_000)
                ),
            ),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/limited.xml"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "3600"))
        .mount(&server)
        .await;
    let poll = |p: &str| {
        let url = format!("{}/{p}", server.uri());
        async move { rss(url).poll(&plain_ctx()).await }
    };
    assert!(
        matches!(poll("broken.xml").await, Err(SourceError::Parse(m)) if m.contains("malformed feed"))
    );
    assert!(matches!(
        poll("down.xml").await,
        Err(SourceError::Fetch(FetchError::Status { status: 500, .. }))
    ));
    assert!(matches!(
        poll("slow.xml").await,
        Err(SourceError::Fetch(FetchError::Timeout { .. }))
    ));
    assert!(matches!(
        poll("huge.xml").await,
        Err(SourceError::Fetch(FetchError::TooLarge { .. }))
    ));
    assert!(matches!(
        poll("limited.xml").await,
        Err(SourceError::Fetch(FetchError::RateLimited { .. }))
    ));
}

#[tokio::test]
async fn one_failing_feed_does_not_stop_the_others() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/search"))
        .and(query_param("q", "Gizmo"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/search"))
        .and(query_param("q", "Widgetron"))
        .respond_with(body("application/rss+xml", &fixture("rss/blog_rss2.xml")))
        .mount(&server)
        .await;
    let out = rss(format!("{}/search?q={{query}}", server.uri()))
        .poll(&ctx(
            "feeds",
            vec![product("Gizmo", &[]), product("Widgetron", &[])],
            HashMap::new(),
        ))
        .await
        .unwrap();
    assert_eq!(out.mentions.len(), 2);
    assert_eq!(out.errors.len(), 1);
    assert!(out.errors[0].contains("q=Gizmo"));
}
