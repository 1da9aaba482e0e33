//! The dashboard served at `/`: server-rendered HTML with SVG charts, no JavaScript and no
//! external assets, so it works offline and from the binary alone. Every string from the
//! store goes through maud, which escapes by default (mention texts are untrusted), links
//! are limited to http(s), and a strict Content-Security-Policy forbids scripts anyway.

use super::alerts::{alert_rows, AlertView};
use super::{default_bucket, params, resolve_product, ApiError, ApiState, NoParams};
use crate::config::Config;
use crate::model::Label;
use crate::query::{self, MentionRow};
use crate::store::{MentionQuery, Store, StoreError};
use crate::trend::plot::{self, Chart, Marker};
use crate::trend::{parse_since, BucketCounts, Granularity};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use serde::Deserialize;
use std::collections::BTreeMap;

const CSS: &str = include_str!("../../assets/pulse.css");

/// Windows offered on a product page.
pub const WINDOWS: [&str; 5] = ["24h", "3d", "7d", "30d", "90d"];
/// Hourly buckets in an overview sparkline (7 days).
pub const SPARK_HOURS: i64 = 168;
/// Mentions scanned for the aspect breakdown of one page.
const ASPECT_SCAN_LIMIT: usize = 20_000;
/// Latest mentions listed per sentiment.
const LATEST: usize = 10;

/// Scripts are never needed: forbid them so a missed escape could not run anything.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn page_response(status: StatusCode, body: Markup) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    resp
}

fn layout(title: &str, now: DateTime<Utc>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Pulse" }
                link rel="stylesheet" href="/assets/pulse.css";
            }
            body {
                header.top {
                    a href="/" { "Pulse" }
                    a href="/api/openapi.json" { "API" }
                    a href="/metrics" { "Metrics" }
                    span.meta { "as of " (now.format("%Y-%m-%d %H:%M UTC")) }
                }
                main { (body) }
            }
        }
    }
}

fn error_page(e: ApiError) -> Response {
    let now = Utc::now();
    page_response(
        e.0,
        layout(
            "Error",
            now,
            html! {
                h1 { (e.0.as_u16()) " " (e.0.canonical_reason().unwrap_or("")) }
                section.card { p { (e.1) } p { a href="/" { "Back to all products" } } }
            },
        ),
    )
}

/// `GET /assets/pulse.css`.
pub async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        CSS,
    )
        .into_response()
}

/// Figures of one product for the overview.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub product: String,
    pub mentions_7d: u64,
    pub net_7d: Option<f64>,
    /// The detection window and the baseline before it.
    pub window: std::time::Duration,
    pub baseline: std::time::Duration,
    pub recent: BucketCounts,
    pub before: BucketCounts,
    /// Hourly volume over the last [`SPARK_HOURS`] hours.
    pub spark: Vec<u64>,
    pub last_mention_at: Option<DateTime<Utc>>,
}

impl Summary {
    /// Mentions per hour in the window against the baseline's rate: +0.5 = 50 % more.
    pub fn volume_change(&self) -> Option<f64> {
        let wh = self.window.as_secs_f64() / 3600.0;
        let bh = self.baseline.as_secs_f64() / 3600.0;
        let base_rate = self.before.count as f64 / bh;
        (base_rate > 0.0).then(|| (self.recent.count as f64 / wh) / base_rate - 1.0)
    }

    /// Net sentiment in the window minus the baseline's.
    pub fn net_change(&self) -> Option<f64> {
        Some(self.recent.net_sentiment()? - self.before.net_sentiment()?)
    }
}

fn sum_hours(
    store: &Store,
    product: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<BucketCounts, StoreError> {
    let mut c = BucketCounts::default();
    for (start, b) in store.buckets(product, None, Granularity::Hour, from, to)? {
        // `buckets` is inclusive of the bucket holding `to`; keep the half-open range.
        if start < Granularity::Hour.floor(to) {
            c.merge(&b);
        }
    }
    Ok(c)
}

/// Overview figures of every product.
pub fn summaries(
    store: &Store,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<Vec<Summary>, StoreError> {
    let rows = query::products(store, config, now)?;
    let mut out = Vec::new();
    let end = Granularity::Hour.floor(now) + 3600;
    let end_t = crate::store::time_from_secs(end);
    for r in rows {
        let pc = config.product(&r.product);
        let window = pc.and_then(|p| p.window).unwrap_or(config.detect.window);
        let baseline = pc
            .and_then(|p| p.baseline)
            .unwrap_or(config.detect.baseline);
        let w = Duration::from_std(window).unwrap_or(Duration::hours(6));
        let b = Duration::from_std(baseline).unwrap_or(Duration::days(14));
        // Whole hourly buckets: the window ends with the current hour.
        let recent = sum_hours(store, &r.product, end_t - w, end_t)?;
        let before = sum_hours(store, &r.product, end_t - w - b, end_t - w)?;
        let from = end_t - Duration::hours(SPARK_HOURS);
        let sparse = store.buckets(&r.product, None, Granularity::Hour, from, now)?;
        let dense = crate::trend::dense_series(&sparse, from, now, Granularity::Hour);
        let spark = dense
            .iter()
            .rev()
            .take(SPARK_HOURS as usize)
            .rev()
            .map(|t| t.count)
            .collect();
        out.push(Summary {
            product: r.product,
            mentions_7d: r.mentions_7d,
            net_7d: r.net_sentiment_7d,
            window,
            baseline,
            recent,
            before,
            spark,
            last_mention_at: r.last_mention_at,
        });
    }
    Ok(out)
}

/// A signed figure: sentiment coloured (green up, red down), volume percentages not
/// (more mentions is neither good nor bad by itself).
fn signed(x: Option<f64>, pct: bool) -> Markup {
    match x {
        None => html! { span.muted { "–" } },
        Some(v) if pct => html! { span { (format!("{:+.0}%", v * 100.0)) } },
        Some(v) => html! { span.pos[v > 0.0].neg[v < 0.0] { (format!("{v:+.2}")) } },
    }
}

/// A small inline SVG line of hourly volume.
pub fn sparkline_svg(values: &[u64]) -> Markup {
    let w = values.len().max(1) as f64;
    let h = 28.0;
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    let points: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{},{:.1}", i, h - 2.0 - (*v as f64 / max) * (h - 4.0)))
        .collect();
    html! {
        svg.spark xmlns="http://www.w3.org/2000/svg" width="168" height="28" viewBox=(format!("0 0 {w} {h}")) preserveAspectRatio="none" data-points=(values.len()) role="img" {
            polyline points=(points.join(" ")) {}
        }
    }
}

fn human(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}

/// `GET /`: every product at a glance.
pub async fn overview(
    State(s): State<ApiState>,
    q: Result<Query<NoParams>, QueryRejection>,
) -> Response {
    if let Err(e) = params(q) {
        return error_page(e);
    }
    let now = Utc::now();
    let st = s.clone();
    let result =
        tokio::task::spawn_blocking(move || -> Result<(Vec<Summary>, Alerts), ApiError> {
            Ok((
                summaries(&st.store, &st.config, now)?,
                alerts_or_note(&st.store, None),
            ))
        })
        .await;
    let (sums, alerts) = match result {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return error_page(e),
        Err(e) => return error_page(ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    };
    let (alerts, alerts_note) = alerts;
    let firing: Vec<&AlertView> = alerts.iter().filter(|a| a.status == "firing").collect();
    let body = html! {
        h1 { "Products" }
        section.card {
            table id="products" {
                thead { tr {
                    th { "Product" }
                    th.num { "Mentions 7d" }
                    th.num { "Net sentiment 7d" }
                    th.num title="Mentions per hour in the detection window against the baseline before it" { "Volume vs baseline" }
                    th.num title="Net sentiment in the detection window minus the baseline's" { "Net vs baseline" }
                    th { "Hourly volume, 7 days" }
                    th { "Last mention" }
                } }
                tbody {
                    @for p in &sums {
                        tr.product {
                            td { a href=(format!("/products/{}", path_segment(&p.product))) { (p.product) } }
                            td.num { (p.mentions_7d) }
                            td.num { (signed(p.net_7d, false)) }
                            td.num title=(format!("{} in the last {} vs {} in the {} before", p.recent.count, human(p.window), p.before.count, human(p.baseline))) { (signed(p.volume_change(), true)) }
                            td.num { (signed(p.net_change(), false)) }
                            td { (sparkline_svg(&p.spark)) }
                            td.muted { @if let Some(t) = p.last_mention_at { (t.format("%Y-%m-%d %H:%M")) } @else { "never" } }
                        }
                    }
                }
            }
            @if sums.is_empty() { p.muted { "No products configured yet: add [[products]] to the config." } }
        }
        h2 { "Firing alerts" }
        section.card {
            @if let Some(n) = &alerts_note { p.neg { (n) } }
            @if firing.is_empty() { p.muted { "No alert is firing." } }
            @else { (alerts_table(&firing, true)) }
        }
        footer { "Pulse " (env!("CARGO_PKG_VERSION")) " · JSON at " a href="/api/products" { "/api/products" } " · Prometheus at " a href="/metrics" { "/metrics" } }
    };
    page_response(StatusCode::OK, layout("Products", now, body))
}

/// `?window=7d&bucket=1h` of a product page.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PageParams {
    pub window: Option<String>,
    pub bucket: Option<String>,
}

fn path_segment(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

/// Only web links become anchors: a `javascript:` URL in a post must not be clickable.
fn safe_link(url: &Option<String>) -> Option<&str> {
    let u = url.as_deref()?;
    let parsed = url::Url::parse(u).ok()?;
    matches!(parsed.scheme(), "http" | "https").then_some(u)
}

fn mention_list(rows: &[MentionRow], id: &str) -> Markup {
    html! {
        ul.mentions id=(id) {
            @for m in rows {
                li.mention {
                    div.text { (m.text) }
                    div.meta {
                        span.pos[m.label == Label::Positive].neg[m.label == Label::Negative] { (m.label) " " (format!("{:+.2}", m.score)) }
                        " · " (m.source)
                        @if let Some(a) = &m.author { " · " (a) }
                        " · " (m.published_at.format("%Y-%m-%d %H:%M"))
                        @if let Some(u) = safe_link(&m.url) { " · " a href=(u) rel="noopener noreferrer nofollow" { "link" } }
                        @for a in &m.aspects { " " span.tag { (a) } }
                    }
                }
            }
            @if rows.is_empty() { li.muted { "None in this window." } }
        }
    }
}

/// Where an alert's subject links to: its product page, or, for an alert about Pulse
/// itself (which has no product page), the status API that shows the sources and channels.
fn alert_subject_link(a: &AlertView) -> String {
    if a.signal == crate::alert::engine::HEALTH_SIGNAL {
        "/api/status".into()
    } else {
        format!("/products/{}", path_segment(&a.product))
    }
}

fn alerts_table(alerts: &[&AlertView], with_product: bool) -> Markup {
    html! {
        table.alerts {
            thead { tr {
                @if with_product { th { "Product" } }
                th { "Started" } th { "Signal" } th { "Severity" } th { "Status" } th { "Summary" } th { "Delivery" }
            } }
            tbody {
                @for a in alerts {
                    tr.alert {
                        @if with_product { td { a href=(alert_subject_link(a)) { (a.product) } } }
                        td { (a.starts_at.format("%Y-%m-%d %H:%M")) }
                        td { (a.signal) @if !a.aspect.is_empty() { " (" (a.aspect) ")" } }
                        td { (a.severity) }
                        td.firing[a.status == "firing"] {
                            (a.status)
                            @if let Some(e) = a.ends_at { br; span.muted { "until " (e.format("%m-%d %H:%M")) } }
                        }
                        td { strong { (a.title) } br; (a.summary) }
                        td {
                            @if let Some(m) = &a.muted { span.muted { (m) } br; }
                            @for n in &a.notifications {
                                span class=(format!("state-{}", n.state)) title=(n.last_error.clone().unwrap_or_default()) {
                                    (n.channel) " " (n.kind) ": " (n.state)
                                    @if n.attempts > 1 { " (" (n.attempts) " tries)" }
                                }
                                br;
                            }
                            @if a.notifications.is_empty() && a.muted.is_none() { span.muted { "no notification" } }
                        }
                    }
                }
            }
        }
    }
}

/// Counts of one aspect in a window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AspectCount {
    pub mentions: u64,
    pub negative: u64,
}

/// Aspect counts of a product's mentions since `since`, grouped by department.
pub fn aspect_breakdown(
    store: &Store,
    config: &Config,
    product: &str,
    since: DateTime<Utc>,
) -> Result<BTreeMap<String, BTreeMap<String, AspectCount>>, StoreError> {
    let mentions = store.mentions(&MentionQuery {
        product: product.to_string(),
        since: Some(since),
        limit: ASPECT_SCAN_LIMIT,
        ..Default::default()
    })?;
    let departments = super::alerts::aspect_departments(config);
    let mut out: BTreeMap<String, BTreeMap<String, AspectCount>> = BTreeMap::new();
    for m in &mentions {
        for a in &m.aspects {
            let dept = departments
                .get(a)
                .cloned()
                .unwrap_or_else(|| "other".to_string());
            let c = out.entry(dept).or_default().entry(a.clone()).or_default();
            c.mentions += 1;
            if m.label == Label::Negative {
                c.negative += 1;
            }
        }
    }
    Ok(out)
}

struct ProductPage {
    product: String,
    window: String,
    bucket: Granularity,
    rows: Vec<crate::trend::TrendRow>,
    svg: String,
    markers: usize,
    points: usize,
    total: BucketCounts,
    aspects: BTreeMap<String, BTreeMap<String, AspectCount>>,
    negative: Vec<MentionRow>,
    positive: Vec<MentionRow>,
    alerts: Vec<AlertView>,
    alerts_note: Option<String>,
    summary: Option<Summary>,
}

/// Alerts, or none and a note saying why: unreadable alert records must not take the
/// rest of the page down.
type Alerts = (Vec<AlertView>, Option<String>);

fn alerts_or_note(store: &Store, product: Option<&str>) -> Alerts {
    match alert_rows(store, product) {
        Ok(a) => (a, None),
        Err(e) => {
            tracing::warn!(error = %e.1, "cannot list alerts for the dashboard");
            (Vec::new(), Some(e.1))
        }
    }
}

fn load_product_page(
    s: &ApiState,
    name: &str,
    p: &PageParams,
    now: DateTime<Utc>,
) -> Result<ProductPage, ApiError> {
    let product = resolve_product(&s.store, &s.config, name)?;
    let window = p.window.clone().unwrap_or_else(|| "7d".into());
    let since = parse_since(&window, now)
        .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e.replace("--since", "window")))?;
    if since >= now {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("window `{window}` is empty: use a duration like 7d"),
        ));
    }
    let bucket = match &p.bucket {
        Some(b) => b
            .parse()
            .map_err(|e| ApiError(StatusCode::BAD_REQUEST, e))?,
        None => default_bucket(since, now),
    };
    let rows = query::trend(&s.store, &product, since, bucket, now)?;
    if rows.len() > 5000 {
        return Err(ApiError(
            StatusCode::BAD_REQUEST,
            format!("window `{window}` with bucket {bucket} gives {} buckets: choose bucket=1d or a shorter window", rows.len()),
        ));
    }
    let mut total = BucketCounts::default();
    for r in &rows {
        total.merge(&BucketCounts {
            count: r.count,
            positive: r.positive,
            negative: r.negative,
            neutral: r.neutral,
            score_sum: 0.0,
        });
    }
    let (alerts, alerts_note) = alerts_or_note(&s.store, Some(&product));
    let markers: Vec<Marker> = alerts
        .iter()
        .map(|a| Marker {
            at: a.starts_at,
            label: a.signal.clone(),
        })
        .collect();
    let chart = Chart {
        title: &product,
        rows: &rows,
        markers: &markers,
    };
    let svg = plot::svg_string(&chart, 1100, 380)
        .map_err(|e| ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let visible = chart.visible_markers().count();
    let points = rows.iter().filter(|r| r.net_sentiment.is_some()).count();
    let latest = |label| {
        query::mentions(
            &s.store,
            &MentionQuery {
                product: product.clone(),
                since: Some(since),
                sentiment: Some(label),
                limit: LATEST,
                ..Default::default()
            },
        )
    };
    let negative = latest(Label::Negative)?;
    let positive = latest(Label::Positive)?;
    let aspects = aspect_breakdown(&s.store, &s.config, &product, since)?;
    let summary = summaries(&s.store, &s.config, now)?
        .into_iter()
        .find(|x| x.product == product);
    Ok(ProductPage {
        product,
        window,
        bucket,
        rows,
        svg,
        markers: visible,
        points,
        total,
        aspects,
        negative,
        positive,
        alerts,
        alerts_note,
        summary,
    })
}

/// `GET /products/{name}?window=7d`: one product's chart, aspects, mentions and alerts.
pub async fn product_page(
    State(s): State<ApiState>,
    Path(name): Path<String>,
    q: Result<Query<PageParams>, QueryRejection>,
) -> Response {
    let p = match params(q) {
        Ok(p) => p,
        Err(e) => return error_page(e),
    };
    let now = Utc::now();
    let st = s.clone();
    let page = match tokio::task::spawn_blocking(move || load_product_page(&st, &name, &p, now))
        .await
    {
        Ok(Ok(page)) => page,
        Ok(Err(e)) => return error_page(e),
        Err(e) => return error_page(ApiError(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    };
    let seg = path_segment(&page.product);
    let alert_refs: Vec<&AlertView> = page.alerts.iter().collect();
    let body = html! {
        h1 { (page.product) }
        nav.windows {
            @for w in WINDOWS {
                a.on[w == page.window] href=(format!("/products/{seg}?window={w}")) { (w) }
            }
        }
        div.stats {
            div.stat { div.v id="volume" { (page.total.count) } div.k { "mentions in " (page.window) } }
            div.stat { div.v { (signed(page.total.net_sentiment(), false)) } div.k { "net sentiment" } }
            div.stat { div.v { span.pos { (page.total.positive) } " / " span.neg { (page.total.negative) } } div.k { "positive / negative" } }
            @if let Some(sm) = &page.summary {
                div.stat { div.v { (signed(sm.volume_change(), true)) } div.k { "volume, last " (human(sm.window)) " vs baseline" } }
                div.stat { div.v { (signed(sm.net_change(), false)) } div.k { "net sentiment vs baseline" } }
            }
        }
        section.card {
            figure.chart id="trend-chart" data-buckets=(page.rows.len()) data-points=(page.points) data-markers=(page.markers) data-bucket=(page.bucket.to_string()) {
                (PreEscaped(&page.svg))
                figcaption.legend {
                    span { i.sw-bar {} "mentions per " (page.bucket) }
                    span { i.sw-line {} "net sentiment (right axis)" }
                    span { i.sw-alert {} "alert" }
                }
            }
            p.muted { a href=(format!("/api/products/{seg}/trend?since={}&bucket={}", page.window, page.bucket)) { "these buckets as JSON" } }
        }
        h2 { "Aspects" }
        section.card.cols id="aspects" {
            @for (dept, title) in [("it", "IT aspects"), ("marketing", "Marketing aspects")] {
                div {
                    h2 { (title) }
                    (aspect_table(page.aspects.get(dept)))
                }
            }
            @for (dept, list) in &page.aspects {
                @if dept != "it" && dept != "marketing" {
                    div { h2 { "Other aspects" } (aspect_table(Some(list))) }
                }
            }
        }
        div.cols {
            section.card { h2 { "Latest negative" } (mention_list(&page.negative, "negative")) }
            section.card { h2 { "Latest positive" } (mention_list(&page.positive, "positive")) }
        }
        h2 { "Alerts" }
        section.card {
            @if let Some(n) = &page.alerts_note { p.neg { (n) } }
            @if alert_refs.is_empty() { p.muted { "No alerts for this product." } }
            @else { (alerts_table(&alert_refs, false)) }
        }
    };
    page_response(StatusCode::OK, layout(&page.product, now, body))
}

fn aspect_table(list: Option<&BTreeMap<String, AspectCount>>) -> Markup {
    let mut items: Vec<(&String, &AspectCount)> =
        list.map(|l| l.iter().collect()).unwrap_or_default();
    items.sort_by(|a, b| b.1.mentions.cmp(&a.1.mentions).then(a.0.cmp(b.0)));
    let max = items.first().map(|(_, c)| c.mentions).unwrap_or(1).max(1);
    html! {
        @if items.is_empty() { p.muted { "No mentions tagged with these aspects in this window." } }
        @else {
            table.aspects {
                thead { tr { th { "Aspect" } th.num { "Mentions" } th.num { "Negative" } th {} } }
                tbody {
                    @for (name, c) in &items {
                        tr.aspect {
                            td { (name) }
                            td.num { (c.mentions) }
                            td.num.neg[c.negative > 0] { (c.negative) }
                            td {
                                // An SVG bar: sized by attributes, which the CSP allows (inline styles it does not).
                                svg.aspect-bar xmlns="http://www.w3.org/2000/svg" width="124" height="8" {
                                    rect width=(4 + c.mentions * 120 / max) height="8" rx="2" {}
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_only_for_web_urls() {
        assert_eq!(
            safe_link(&Some("https://x.example/a".into())),
            Some("https://x.example/a")
        );
        assert_eq!(safe_link(&Some("javascript:alert(1)".into())), None);
        assert_eq!(safe_link(&None), None);
    }

    #[test]
    fn mention_text_is_escaped() {
        let row = MentionRow {
            id: "1".into(),
            source: "hn".into(),
            url: Some("javascript:alert(1)".into()),
            author: Some("<b>eve</b>".into()),
            published_at: Utc::now(),
            label: Label::Negative,
            score: -0.5,
            text: "<script>alert(1)</script> & more".into(),
            aspects: vec!["<i>".into()],
            classifier: "lexicon".into(),
        };
        let out = mention_list(&[row], "x").into_string();
        assert!(
            out.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; more"),
            "{out}"
        );
        assert!(!out.contains("<script"), "{out}");
        assert!(!out.contains("<b>eve"), "{out}");
        assert!(!out.contains("javascript:"), "{out}");
    }

    #[test]
    fn health_alerts_link_to_the_status_api_not_a_product_page() {
        let view = |signal: &str, product: &str| AlertView {
            id: "a1".into(),
            product: product.into(),
            signal: signal.into(),
            direction: String::new(),
            aspect: String::new(),
            severity: "warning".into(),
            department: "it".into(),
            status: "firing".into(),
            starts_at: Utc::now(),
            ends_at: None,
            title: "t".into(),
            summary: "s".into(),
            muted: None,
            notifications: vec![],
        };
        let health = view(crate::alert::engine::HEALTH_SIGNAL, "Pulse");
        let product = view("sentiment_shift", "ACME Phone");
        let out = alerts_table(&[&health, &product], true).into_string();
        assert!(out.contains("href=\"/api/status\""), "{out}");
        assert!(out.contains("href=\"/products/ACME%20Phone\""), "{out}");
        assert!(!out.contains("/products/Pulse"), "{out}");
    }

    #[test]
    fn sparkline_has_one_point_per_value() {
        let out = sparkline_svg(&[0, 3, 1, 0]).into_string();
        assert!(out.contains("data-points=\"4\""), "{out}");
        assert_eq!(out.matches(',').count(), 4);
    }

    #[test]
    fn changes_against_baseline() {
        let mut recent = BucketCounts::default();
        for _ in 0..12 {
            recent.add(Label::Negative, -0.5);
        }
        let mut before = BucketCounts::default();
        for _ in 0..56 {
            before.add(Label::Positive, 0.5);
        }
        let s = Summary {
            product: "W".into(),
            mentions_7d: 0,
            net_7d: None,
            window: std::time::Duration::from_secs(6 * 3600),
            baseline: std::time::Duration::from_secs(14 * 86_400),
            recent,
            before,
            spark: vec![],
            last_mention_at: None,
        };
        // 2/h now against 56/336h = 1/6 per hour before: 12 times the rate.
        assert!((s.volume_change().unwrap() - 11.0).abs() < 1e-9);
        assert_eq!(s.net_change(), Some(-2.0));
    }
}
