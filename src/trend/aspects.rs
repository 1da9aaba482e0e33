//! Aspect tagging: a keyword taxonomy (`[detect.aspects]`) that labels each mention with
//! what it is about (outage, crash, price, ...), each aspect owned by a department.
//!
//! Keywords match case-insensitively on word boundaries; a trailing `*` matches any word
//! ending (`crash*` → crash, crashes, crashed, crashing); spaces inside a keyword match any
//! run of whitespace or a hyphen.

use crate::alert::Department;
use crate::trend::detect::DetectConfig;
use regex::{Regex, RegexBuilder};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One `[detect.aspects.NAME]` entry.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AspectConfig {
    /// Department that cares about this aspect (`it` or `marketing`).
    pub department: Department,
    /// Words or phrases; `*` at the end matches any ending. An empty list disables the aspect.
    #[serde(default)]
    pub keywords: Vec<String>,
}

fn aspect(department: Department, keywords: &[&str]) -> AspectConfig {
    AspectConfig {
        department,
        keywords: keywords.iter().map(|k| k.to_string()).collect(),
    }
}

/// The built-in taxonomy: IT cares about things that are broken, marketing about opinion.
pub fn default_aspects() -> BTreeMap<String, AspectConfig> {
    use Department::{It, Marketing};
    let mut m = BTreeMap::new();
    m.insert(
        "outage".into(),
        aspect(
            It,
            &[
                "outage*",
                "is down",
                "was down",
                "went down",
                "goes down",
                "down again",
                "down for",
                "not working",
                "stopped working",
                "offline",
                "unavailable",
                "unreachable",
                "503",
            ],
        ),
    );
    m.insert(
        "crash".into(),
        aspect(
            It,
            &[
                "crash*",
                "freez*",
                "froze",
                "frozen",
                "hangs",
                "force close*",
            ],
        ),
    );
    m.insert(
        "bug".into(),
        aspect(
            It,
            &[
                "bug",
                "bugs",
                "buggy",
                "error*",
                "glitch*",
                "broken",
                "broke",
                "regression*",
            ],
        ),
    );
    m.insert(
        "slow".into(),
        aspect(
            It,
            &[
                "slow*",
                "lag",
                "lags",
                "lagging",
                "laggy",
                "latency",
                "sluggish",
                "takes forever",
                "timeout*",
                "timed out",
            ],
        ),
    );
    m.insert(
        "login".into(),
        aspect(
            It,
            &[
                "login*",
                "log in",
                "logged out",
                "sign in",
                "signin",
                "account*",
                "password*",
                "2fa",
                "locked out",
            ],
        ),
    );
    m.insert(
        "security".into(),
        aspect(
            It,
            &[
                "security",
                "breach*",
                "hacked",
                "hacker*",
                "leak*",
                "vulnerab*",
                "exploit*",
                "phishing",
                "compromised",
                "malware",
            ],
        ),
    );
    m.insert(
        "data_loss".into(),
        aspect(
            It,
            &[
                "data loss",
                "lost my data",
                "lost all my",
                "lost everything",
                "deleted my",
                "wiped",
                "corrupt*",
            ],
        ),
    );
    m.insert(
        "price".into(),
        aspect(
            Marketing,
            &[
                "price*",
                "pricing",
                "expensive",
                "overpriced",
                "cheap*",
                "cost*",
                "subscription*",
                "refund*",
                "worth the money",
                "rip-off",
                "ripoff",
            ],
        ),
    );
    m.insert(
        "design".into(),
        aspect(
            Marketing,
            &[
                "design*",
                "ugly",
                "beautiful",
                "sleek",
                "gorgeous",
                "ui",
                "interface",
                "layout",
                "look and feel",
            ],
        ),
    );
    m.insert(
        "support".into(),
        aspect(
            Marketing,
            &[
                "support",
                "customer service",
                "helpdesk",
                "help desk",
                "no response",
                "ticket*",
            ],
        ),
    );
    m.insert(
        "campaign".into(),
        aspect(
            Marketing,
            &[
                "campaign*",
                "ad",
                "ads",
                "advert*",
                "commercial*",
                "billboard*",
                "sponsor*",
                "promo*",
                "influencer*",
            ],
        ),
    );
    m.insert(
        "competitor".into(),
        aspect(
            Marketing,
            &[
                "competitor*",
                "switched to",
                "switching to",
                "better than",
                "alternative*",
                "instead of",
            ],
        ),
    );
    m
}

/// Compiled taxonomy.
#[derive(Debug, Clone)]
pub struct AspectTagger {
    aspects: Vec<(String, Department, Regex)>,
}

fn pattern(keywords: &[String]) -> Option<String> {
    let mut alts: Vec<String> = keywords
        .iter()
        .map(|k| k.trim().to_lowercase())
        .filter(|k| !k.is_empty() && k != "*")
        .map(|k| {
            let (body, wild) = match k.strip_suffix('*') {
                Some(b) => (b.to_string(), true),
                None => (k, false),
            };
            let parts: Vec<String> = body.split_whitespace().map(regex::escape).collect();
            let mut p = parts.join(r"[\s\-]+");
            if wild {
                p.push_str(r"[\p{L}\p{N}_']*");
            }
            p
        })
        .collect();
    if alts.is_empty() {
        return None;
    }
    alts.sort_by_key(|a| std::cmp::Reverse(a.len()));
    Some(format!(
        r"(?:^|[^\p{{L}}\p{{N}}_])(?:{})(?:$|[^\p{{L}}\p{{N}}_])",
        alts.join("|")
    ))
}

impl AspectTagger {
    /// Build the tagger from `[detect]`: the defaults (unless `default_aspects = false`)
    /// with `[detect.aspects.*]` entries added or replacing them by name.
    pub fn new(config: &DetectConfig) -> AspectTagger {
        let taxonomy = config.taxonomy();
        let aspects = taxonomy
            .into_iter()
            .filter_map(|(name, a)| {
                let p = pattern(&a.keywords)?;
                let re = RegexBuilder::new(&p).case_insensitive(true).build().ok()?;
                Some((name, a.department, re))
            })
            .collect();
        AspectTagger { aspects }
    }

    /// Aspect names found in `text`, in taxonomy (alphabetical) order.
    pub fn tag(&self, text: &str) -> Vec<String> {
        self.aspects
            .iter()
            .filter(|(_, _, re)| re.is_match(text))
            .map(|(n, _, _)| n.clone())
            .collect()
    }

    /// Department owning an aspect.
    pub fn department(&self, aspect: &str) -> Option<Department> {
        self.aspects
            .iter()
            .find(|(n, _, _)| n == aspect)
            .map(|(_, d, _)| *d)
    }

    /// Every (aspect, department), in order.
    pub fn aspects(&self) -> impl Iterator<Item = (&str, Department)> {
        self.aspects.iter().map(|(n, d, _)| (n.as_str(), *d))
    }
}

/// Check keyword lists: a keyword must not be empty and must compile.
pub fn validate(aspects: &BTreeMap<String, AspectConfig>) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (name, a) in aspects {
        if name.trim().is_empty() {
            out.push(("aspects".into(), "aspect names may not be empty".into()));
        }
        for (i, k) in a.keywords.iter().enumerate() {
            if k.trim().trim_end_matches('*').trim().is_empty() {
                out.push((
                    format!("aspects.{name}.keywords[{i}]"),
                    "keyword is empty".into(),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tagger() -> AspectTagger {
        AspectTagger::new(&DetectConfig::default())
    }

    #[test]
    fn tags_it_and_marketing_aspects() {
        let t = tagger();
        assert_eq!(
            t.tag("The app keeps crashing and login is broken"),
            vec!["bug", "crash", "login"]
        );
        assert_eq!(
            t.tag("Way too expensive compared to the competitor"),
            vec!["competitor", "price"]
        );
        assert_eq!(t.tag("Service is DOWN again, total outage"), vec!["outage"]);
        assert!(t.tag("I love it").is_empty());
    }

    #[test]
    fn word_boundaries_hold() {
        let t = tagger();
        // "ad" must not match inside "read"; "bug" not inside "debugger".
        assert!(t.tag("I read the debugger docs").is_empty());
        assert_eq!(t.tag("saw the new ad today"), vec!["campaign"]);
        assert_eq!(t.tag("data-loss after update"), vec!["data_loss"]);
    }

    #[test]
    fn departments_and_overrides() {
        let t = tagger();
        assert_eq!(t.department("outage"), Some(Department::It));
        assert_eq!(t.department("price"), Some(Department::Marketing));
        let cfg: DetectConfig = toml::from_str(
            "default_aspects = false\n[aspects.battery]\ndepartment = \"it\"\nkeywords = [\"battery\", \"drain*\"]\n",
        )
        .unwrap();
        let t = AspectTagger::new(&cfg);
        assert_eq!(
            t.tag("Battery drains by noon; crashes too"),
            vec!["battery"]
        );
        assert_eq!(t.department("battery"), Some(Department::It));
        assert_eq!(t.department("crash"), None);
    }
}
