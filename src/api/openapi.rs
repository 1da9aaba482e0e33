//! The OpenAPI 3 document served at `/api/openapi.json`, written by hand next to the rows
//! it describes. Tests keep it honest: every route of the router is documented, and every
//! schema's properties are exactly the fields the row serialises to.

use serde_json::{json, Map, Value};

fn string() -> Value {
    json!({"type": "string"})
}
fn nullable_string() -> Value {
    json!({"type": ["string", "null"]})
}
fn time() -> Value {
    json!({"type": "string", "format": "date-time"})
}
fn nullable_time() -> Value {
    json!({"type": ["string", "null"], "format": "date-time"})
}
fn uint() -> Value {
    json!({"type": "integer", "minimum": 0})
}
fn number() -> Value {
    json!({"type": "number"})
}
fn nullable_number() -> Value {
    json!({"type": ["number", "null"]})
}
fn label() -> Value {
    json!({"type": "string", "enum": ["positive", "negative", "neutral"]})
}
fn strings() -> Value {
    json!({"type": "array", "items": {"type": "string"}})
}
fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn object(props: &[(&str, Value)]) -> Value {
    let mut p = Map::new();
    for (k, v) in props {
        p.insert((*k).to_string(), v.clone());
    }
    let required: Vec<&str> = props.iter().map(|(k, _)| *k).collect();
    json!({"type": "object", "properties": p, "required": required, "additionalProperties": false})
}

/// Schemas by name, each the serialised form of one row type.
pub fn schemas() -> Map<String, Value> {
    let mut s = Map::new();
    s.insert(
        "ProductRow".into(),
        object(&[
            ("product", string()),
            ("mentions", uint()),
            ("positive", uint()),
            ("negative", uint()),
            ("neutral", uint()),
            ("net_sentiment", nullable_number()),
            ("mentions_7d", uint()),
            ("net_sentiment_7d", nullable_number()),
            ("last_mention_at", nullable_time()),
        ]),
    );
    s.insert(
        "TrendRow".into(),
        object(&[
            ("start", time()),
            ("count", uint()),
            ("positive", uint()),
            ("negative", uint()),
            ("neutral", uint()),
            ("mean_score", nullable_number()),
            ("net_sentiment", nullable_number()),
        ]),
    );
    s.insert(
        "MentionRow".into(),
        object(&[
            ("id", string()),
            ("source", string()),
            ("url", nullable_string()),
            ("author", nullable_string()),
            ("published_at", time()),
            ("label", label()),
            ("score", number()),
            ("text", string()),
            ("aspects", strings()),
            ("classifier", string()),
        ]),
    );
    s.insert(
        "SourceStatusRow".into(),
        object(&[
            ("source", string()),
            ("type", string()),
            ("interval", string()),
            ("last_poll", nullable_time()),
            ("last_success", nullable_time()),
            ("polls", uint()),
            ("errors", uint()),
            ("last_fetched", uint()),
            ("fetched_total", uint()),
            ("stored_total", uint()),
            ("last_stored", uint()),
            ("last_duplicates", uint()),
            ("last_unmatched", uint()),
            ("last_rejected", uint()),
            ("duplicates_total", uint()),
            ("unmatched_total", uint()),
            ("rejected_total", uint()),
            ("truncated", strings()),
            ("truncated_polls", uint()),
            ("last_error", nullable_string()),
            ("warnings", strings()),
            ("quota_remaining", json!({"type": ["integer", "null"]})),
        ]),
    );
    s.insert(
        "StatusReport".into(),
        object(&[
            (
                "mode",
                json!({"type": "string", "enum": ["daemon", "store"]}),
            ),
            ("daemon_pid", json!({"type": ["integer", "null"]})),
            ("api", nullable_string()),
            ("started_at", nullable_time()),
            ("store_path", string()),
            ("store_bytes", uint()),
            ("mentions_stored", uint()),
            (
                "sources",
                json!({"type": "array", "items": schema_ref("SourceStatusRow")}),
            ),
            (
                "health",
                json!({"type": "array", "items": schema_ref("HealthFinding")}),
            ),
        ]),
    );
    s.insert(
        "HealthFinding".into(),
        object(&[
            (
                "check",
                json!({"type": "string", "enum": ["source_failing", "source_auth", "source_quota", "source_selectors", "classifier", "channel_failing", "disk_space", "store_size"]}),
            ),
            (
                "severity",
                json!({"type": "string", "enum": ["warning", "critical"]}),
            ),
            ("subject", string()),
            ("since", nullable_time()),
            ("message", string()),
            ("action", string()),
        ]),
    );
    s.insert(
        "AlertRow".into(),
        object(&[
            ("alert_id", string()),
            ("at", time()),
            ("product", string()),
            ("signal", string()),
            ("direction", string()),
            ("aspect", string()),
            ("severity", string()),
            ("department", string()),
            ("status", json!({"type": "string", "enum": ["firing", "resolved"]})),
            (
                "kind",
                json!({"type": ["string", "null"], "enum": ["firing", "repeat", "resolved", "test", null]}),
            ),
            ("channel", nullable_string()),
            (
                "delivery",
                json!({"type": "string", "description": "pending, delivered, failed, cancelled, or `not sent (reason)`"}),
            ),
            ("attempts", uint()),
            ("delivered_at", nullable_time()),
            ("last_error", nullable_string()),
            ("summary", string()),
        ]),
    );
    s.insert(
        "SilenceRow".into(),
        object(&[
            ("id", string()),
            (
                "matchers",
                json!({"type": "string", "description": "label=value pairs separated by spaces"}),
            ),
            ("starts_at", time()),
            ("ends_at", time()),
            ("active", json!({"type": "boolean"})),
            ("created_by", string()),
            ("comment", string()),
        ]),
    );
    s.insert("Error".into(), object(&[("error", string())]));
    s.insert(
        "Health".into(),
        object(&[("status", json!({"type": "string", "enum": ["ok"]}))]),
    );
    s
}

fn query_param(name: &str, description: &str, schema: Value) -> Value {
    json!({"name": name, "in": "query", "required": false, "description": description, "schema": schema})
}

fn product_param() -> Value {
    json!({"name": "name", "in": "path", "required": true, "description": "Product name or alias (URL-encoded).", "schema": {"type": "string"}})
}

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": schema_ref("Error")}}})
}

fn json_get(summary: &str, parameters: Vec<Value>, schema: Value, not_found: bool) -> Value {
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json!({"description": "OK", "content": {"application/json": {"schema": schema}}}),
    );
    responses.insert(
        "400".into(),
        error_response("Bad or unknown query parameter"),
    );
    responses.insert("401".into(), error_response("Missing or wrong token"));
    if not_found {
        responses.insert("404".into(), error_response("Unknown product"));
    }
    json!({"get": {"summary": summary, "parameters": parameters, "responses": responses}})
}

fn array_of(name: &str) -> Value {
    json!({"type": "array", "items": schema_ref(name)})
}

fn other_get(summary: &str, content_type: &str, parameters: Vec<Value>) -> Value {
    json!({"get": {"summary": summary, "parameters": parameters, "responses": {
        "200": {"description": "OK", "content": {content_type: {"schema": {"type": "string"}}}},
        "400": error_response("Bad or unknown query parameter"),
        "401": error_response("Missing or wrong token")
    }}})
}

/// The whole document.
pub fn document() -> Value {
    let since = query_param(
        "since",
        "How far back: a duration (7d, 36h) or a date (2026-11-01).",
        json!({"type": "string", "default": "7d"}),
    );
    let mut paths = Map::new();
    paths.insert(
        "/healthz".into(),
        json!({"get": {"summary": "Liveness (no token needed)", "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": schema_ref("Health")}}}}}}),
    );
    paths.insert(
        "/api/status".into(),
        json_get(
            "Daemon, source and store status (`pulse status`)",
            vec![],
            schema_ref("StatusReport"),
            false,
        ),
    );
    paths.insert(
        "/api/products".into(),
        json_get(
            "Products with counts and net sentiment (`pulse products`)",
            vec![],
            array_of("ProductRow"),
            false,
        ),
    );
    paths.insert(
        "/api/products/{name}/trend".into(),
        json_get(
            "A product's trend buckets, oldest first (`pulse trend`)",
            vec![
                product_param(),
                since.clone(),
                query_param(
                    "bucket",
                    "Bucket width: 1h or 1d (default: 1h up to 3 days back, else 1d).",
                    json!({"type": "string", "enum": ["1h", "1d"]}),
                ),
            ],
            array_of("TrendRow"),
            true,
        ),
    );
    paths.insert(
        "/api/products/{name}/mentions".into(),
        json_get(
            "A product's newest mentions (`pulse mentions`)",
            vec![
                product_param(),
                since,
                query_param("sentiment", "Only this label.", label()),
                query_param("source", "Only this source (configured name).", string()),
                query_param(
                    "limit",
                    "Most rows returned (0 = all).",
                    json!({"type": "integer", "minimum": 0, "default": 50}),
                ),
            ],
            array_of("MentionRow"),
            true,
        ),
    );
    paths.insert(
        "/api/alerts".into(),
        json_get(
            "Alerts, newest first: one row per notification with its delivery state (`pulse alerts`)",
            vec![
                query_param("since", "Only alerts raised since then: a duration (7d) or a date.", string()),
                query_param("product", "Only this product (name or alias).", string()),
                query_param(
                    "status",
                    "Only firing or resolved alerts.",
                    json!({"type": "string", "enum": ["firing", "resolved"]}),
                ),
                query_param(
                    "limit",
                    "Most rows returned (0 = all).",
                    json!({"type": "integer", "minimum": 0, "default": 100}),
                ),
            ],
            array_of("AlertRow"),
            true,
        ),
    );
    paths.insert(
        "/api/silences".into(),
        json_get(
            "Silences, oldest first (`pulse silence list`)",
            vec![query_param(
                "active",
                "Only silences active now.",
                json!({"type": "boolean"}),
            )],
            array_of("SilenceRow"),
            false,
        ),
    );
    paths.insert(
        "/api/openapi.json".into(),
        json!({"get": {"summary": "This document", "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}}}}),
    );
    paths.insert(
        "/metrics".into(),
        other_get(
            "Prometheus metrics (OpenMetrics text format)",
            "application/openmetrics-text",
            vec![],
        ),
    );
    paths.insert(
        "/".into(),
        other_get("Dashboard: every product at a glance", "text/html", vec![]),
    );
    paths.insert(
        "/products/{name}".into(),
        other_get(
            "Dashboard page of one product",
            "text/html",
            vec![
                product_param(),
                query_param(
                    "window",
                    "How far back the chart goes: 24h, 7d, 30d, 90d or any duration.",
                    json!({"type": "string", "default": "7d"}),
                ),
                query_param(
                    "bucket",
                    "Bucket width: 1h or 1d.",
                    json!({"type": "string", "enum": ["1h", "1d"]}),
                ),
            ],
        ),
    );
    paths.insert(
        "/assets/pulse.css".into(),
        other_get("Dashboard stylesheet", "text/css", vec![]),
    );
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Pulse API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The daemon's local API: the CLI's queries as JSON with the same fields as `--format json` (snake_case, RFC 3339 times), the dashboard and Prometheus metrics. Off loopback every request but /healthz needs `Authorization: Bearer <api.token>`."
        },
        "components": {
            "schemas": schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}
        },
        "security": [{"bearer": []}],
        "paths": paths
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::alerts::{AlertListRow, SilenceRow};
    use crate::model::Label;
    use crate::query::{MentionRow, ProductRow, SourceStatusRow, StatusReport};
    use crate::trend::{BucketCounts, TrendRow};
    use chrono::Utc;
    use std::collections::BTreeSet;

    /// Paths registered in the router, read from its source so a new route cannot be
    /// added without documenting it.
    fn routed_paths() -> BTreeSet<String> {
        let src = include_str!("mod.rs");
        src.match_indices(".route(\"")
            .map(|(i, m)| {
                let rest = &src[i + m.len()..];
                rest[..rest.find('"').expect("closing quote")].to_string()
            })
            .collect()
    }

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let doc = document();
        let documented: BTreeSet<String> =
            doc["paths"].as_object().unwrap().keys().cloned().collect();
        let routed = routed_paths();
        assert!(routed.len() >= 10, "{routed:?}");
        assert_eq!(routed, documented);
    }

    fn keys(v: &Value) -> BTreeSet<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }

    fn assert_schema(name: &str, sample: impl serde::Serialize) {
        let schemas = schemas();
        let schema = &schemas[name];
        let value = serde_json::to_value(sample).unwrap();
        assert_eq!(keys(&schema["properties"]), keys(&value), "schema {name}");
        let required: BTreeSet<String> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(required, keys(&value), "required fields of {name}");
    }

    #[test]
    fn schemas_match_serialised_rows() {
        let now = Utc::now();
        assert_schema(
            "ProductRow",
            ProductRow {
                product: "W".into(),
                mentions: 1,
                positive: 1,
                negative: 0,
                neutral: 0,
                net_sentiment: Some(1.0),
                mentions_7d: 1,
                net_sentiment_7d: None,
                last_mention_at: Some(now),
            },
        );
        assert_schema("TrendRow", TrendRow::new(0, &BucketCounts::default()));
        assert_schema(
            "MentionRow",
            MentionRow {
                id: "1".into(),
                source: "hn".into(),
                url: None,
                author: None,
                published_at: now,
                label: Label::Neutral,
                score: 0.0,
                text: "t".into(),
                aspects: vec![],
                classifier: "lexicon".into(),
            },
        );
        let source = SourceStatusRow {
            source: "hn".into(),
            kind: "hackernews".into(),
            interval: "5m".into(),
            last_poll: None,
            last_success: None,
            polls: 0,
            errors: 0,
            last_fetched: 0,
            fetched_total: 0,
            stored_total: 0,
            last_stored: 0,
            last_duplicates: 0,
            last_unmatched: 0,
            last_rejected: 0,
            duplicates_total: 0,
            unmatched_total: 0,
            rejected_total: 0,
            truncated: vec![],
            truncated_polls: 0,
            last_error: None,
            warnings: vec![],
            quota_remaining: None,
        };
        assert_schema("SourceStatusRow", source.clone());
        assert_schema(
            "StatusReport",
            StatusReport {
                mode: "daemon".into(),
                daemon_pid: Some(1),
                api: None,
                started_at: None,
                store_path: "x".into(),
                store_bytes: 0,
                mentions_stored: 0,
                sources: vec![source],
                health: vec![],
            },
        );
        let finding = crate::health::HealthFinding {
            check: "source_auth".into(),
            severity: crate::health::Severity::Critical,
            subject: "reddit".into(),
            since: Some(now),
            message: "source `reddit` cannot authenticate".into(),
            action: "renew the token".into(),
        };
        assert_schema("HealthFinding", finding);
        assert_schema(
            "StatusReport",
            StatusReport {
                mode: "store".into(),
                daemon_pid: None,
                api: None,
                started_at: None,
                store_path: "x".into(),
                store_bytes: 0,
                mentions_stored: 0,
                sources: vec![],
                health: vec![],
            },
        );
        assert_schema(
            "AlertRow",
            AlertListRow {
                alert_id: "alt_1".into(),
                at: "2026-11-20T12:00:00Z".into(),
                product: "W".into(),
                signal: "volume_spike".into(),
                direction: "up".into(),
                aspect: String::new(),
                severity: "warning".into(),
                department: "it".into(),
                status: "firing".into(),
                kind: Some("firing".into()),
                channel: Some("slack".into()),
                delivery: "delivered".into(),
                attempts: 1,
                delivered_at: None,
                last_error: None,
                summary: "s".into(),
            },
        );
        assert_schema(
            "SilenceRow",
            SilenceRow {
                id: "sil_1".into(),
                matchers: "product=W".into(),
                starts_at: "2026-11-20T12:00:00Z".into(),
                ends_at: "2026-11-20T14:00:00Z".into(),
                active: true,
                created_by: "me".into(),
                comment: String::new(),
            },
        );
        assert_schema("Error", serde_json::json!({"error": "x"}));
        assert_schema("Health", serde_json::json!({"status": "ok"}));
    }

    #[test]
    fn every_schema_reference_resolves() {
        let doc = document();
        let text = doc.to_string();
        let schemas = schemas();
        for (i, _) in text.match_indices("#/components/schemas/") {
            let rest = &text[i + "#/components/schemas/".len()..];
            let name = &rest[..rest.find('"').unwrap()];
            assert!(schemas.contains_key(name), "dangling $ref {name}");
        }
    }
}
