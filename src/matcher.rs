//! Matching mentions to configured products: names and aliases on word boundaries,
//! case-insensitive, with `exclude` words that veto an ambiguous match.

use crate::config::ProductConfig;
use regex::{Regex, RegexBuilder};

/// Compiled matcher for one product.
#[derive(Debug, Clone)]
struct ProductMatcher {
    name: String,
    names: Regex,
    exclude: Option<Regex>,
}

/// Matches text against every configured product.
#[derive(Debug, Clone)]
pub struct Matcher {
    products: Vec<ProductMatcher>,
}

fn alternation(words: &[&str]) -> String {
    let mut words: Vec<&str> = words
        .iter()
        .map(|w| w.trim())
        .filter(|w| !w.is_empty())
        .collect();
    // Longest first so "Apple Watch" wins over "Apple" inside the alternation.
    words.sort_by_key(|w| std::cmp::Reverse(w.len()));
    let alts: Vec<String> = words
        .iter()
        .map(|w| {
            // Whitespace inside a name matches any run of whitespace or a hyphen.
            let parts: Vec<String> = w.split_whitespace().map(regex::escape).collect();
            parts.join(r"[\s\-]+")
        })
        .collect();
    // Word boundaries that also work for names that start or end with punctuation (C++, .NET).
    format!(
        r"(?:^|[^\p{{L}}\p{{N}}_])(?:{})(?:$|[^\p{{L}}\p{{N}}_])",
        alts.join("|")
    )
}

impl Matcher {
    pub fn new(products: &[ProductConfig]) -> Matcher {
        let products = products
            .iter()
            .map(|p| {
                let names: Vec<&str> = p.names().collect();
                let names = RegexBuilder::new(&alternation(&names))
                    .case_insensitive(true)
                    .build()
                    .expect("escaped alternation is a valid regex");
                let exclude = (!p.exclude.is_empty()).then(|| {
                    let ex: Vec<&str> = p.exclude.iter().map(String::as_str).collect();
                    RegexBuilder::new(&alternation(&ex))
                        .case_insensitive(true)
                        .build()
                        .expect("escaped alternation is a valid regex")
                });
                ProductMatcher {
                    name: p.name.clone(),
                    names,
                    exclude,
                }
            })
            .collect();
        Matcher { products }
    }

    /// Names of the products the text mentions, in config order.
    pub fn products_in(&self, text: &str) -> Vec<String> {
        self.products
            .iter()
            .filter(|p| {
                p.names.is_match(text) && !p.exclude.as_ref().is_some_and(|e| e.is_match(text))
            })
            .map(|p| p.name.clone())
            .collect()
    }

    /// Does the text mention this product (by configured name)?
    pub fn mentions(&self, product: &str, text: &str) -> bool {
        self.products.iter().any(|p| {
            p.name == product
                && p.names.is_match(text)
                && !p.exclude.as_ref().is_some_and(|e| e.is_match(text))
        })
    }

    /// Canonical product name for a name or alias given by a user or an import.
    pub fn canonical(&self, products: &[ProductConfig], name: &str) -> Option<String> {
        products
            .iter()
            .find(|p| p.names().any(|n| n.eq_ignore_ascii_case(name.trim())))
            .map(|p| p.name.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn product(name: &str, aliases: &[&str], exclude: &[&str]) -> ProductConfig {
        ProductConfig {
            name: name.into(),
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
            launch: None,
            window: None,
            baseline: None,
        }
    }

    #[test]
    fn word_boundaries_aliases_and_excludes() {
        let m = Matcher::new(&[
            product("Apple", &["iPhone"], &["pie", "fruit", "apple juice"]),
            product("Rust", &["rustlang"], &["rust belt"]),
            product("C++", &[], &[]),
        ]);
        assert_eq!(m.products_in("My new IPHONE is great"), vec!["Apple"]);
        assert_eq!(m.products_in("apple pie recipe"), Vec::<String>::new());
        assert_eq!(m.products_in("Pineapple smoothie"), Vec::<String>::new());
        assert_eq!(m.products_in("Trusty old tool"), Vec::<String>::new());
        assert_eq!(
            m.products_in("Apple and rust, together"),
            vec!["Apple", "Rust"]
        );
        assert_eq!(m.products_in("the rust belt economy"), Vec::<String>::new());
        assert_eq!(m.products_in("I write C++ daily"), vec!["C++"]);
        assert_eq!(m.products_in("I write C daily"), Vec::<String>::new());
    }

    #[test]
    fn multiword_names_match_across_spacing() {
        let m = Matcher::new(&[product("Apple Watch", &[], &[])]);
        assert_eq!(m.products_in("my apple-watch died"), vec!["Apple Watch"]);
        assert_eq!(m.products_in("Apple   Watch!"), vec!["Apple Watch"]);
    }
}
