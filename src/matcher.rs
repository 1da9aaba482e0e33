//! Matching mentions to configured products: names and aliases on word boundaries,
//! case-insensitive, with `exclude` words that veto an ambiguous match.

use crate::config::ProductConfig;
use aho_corasick::{AhoCorasick, MatchKind};

/// Matches text against every configured product with one automaton over all names,
/// aliases and exclude words, so the cost per mention does not grow with the product count.
#[derive(Debug, Clone)]
pub struct Matcher {
    names: Vec<String>,
    /// Automaton over normalised names and aliases; pattern i belongs to `name_owner[i]`.
    name_ac: Option<AhoCorasick>,
    name_owner: Vec<usize>,
    /// Automaton over normalised exclude words; pattern i belongs to `exclude_owner[i]`.
    exclude_ac: Option<AhoCorasick>,
    exclude_owner: Vec<usize>,
}

/// Lower-case, and fold every run of whitespace or hyphens into one space, so
/// "Apple-Watch" and "apple   watch" both read "apple watch".
fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.chars() {
        if c.is_whitespace() || c == '-' {
            gap = true;
            continue;
        }
        if gap && !out.is_empty() {
            out.push(' ');
        }
        gap = false;
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            out.extend(c.to_lowercase());
        }
    }
    out
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A match is a whole word (or phrase): no letter, digit or underscore right before or after.
fn on_boundaries(text: &str, start: usize, end: usize) -> bool {
    let before = text[..start].chars().next_back();
    let after = text[end..].chars().next();
    !before.is_some_and(is_word_char) && !after.is_some_and(is_word_char)
}

fn automaton(patterns: &[String]) -> Option<AhoCorasick> {
    if patterns.is_empty() {
        return None;
    }
    Some(
        AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(patterns)
            .expect("literal patterns always build"),
    )
}

impl Matcher {
    pub fn new(products: &[ProductConfig]) -> Matcher {
        let (mut name_patterns, mut name_owner) = (Vec::new(), Vec::new());
        let (mut exclude_patterns, mut exclude_owner) = (Vec::new(), Vec::new());
        for (i, p) in products.iter().enumerate() {
            for n in p.names() {
                let n = normalize(n);
                if !n.is_empty() {
                    name_patterns.push(n);
                    name_owner.push(i);
                }
            }
            for e in &p.exclude {
                let e = normalize(e);
                if !e.is_empty() {
                    exclude_patterns.push(e);
                    exclude_owner.push(i);
                }
            }
        }
        Matcher {
            names: products.iter().map(|p| p.name.clone()).collect(),
            name_ac: automaton(&name_patterns),
            name_owner,
            exclude_ac: automaton(&exclude_patterns),
            exclude_owner,
        }
    }

    /// Indices of the products whose patterns occur as whole words in normalised text.
    fn hits(ac: &Option<AhoCorasick>, owner: &[usize], text: &str, out: &mut [bool]) {
        let Some(ac) = ac else { return };
        // Overlapping search: "apple watch" and "watch" may both be names.
        for m in ac.find_overlapping_iter(text) {
            let o = owner[m.pattern().as_usize()];
            if !out[o] && on_boundaries(text, m.start(), m.end()) {
                out[o] = true;
            }
        }
    }

    /// Names of the products the text mentions, in config order.
    pub fn products_in(&self, text: &str) -> Vec<String> {
        if self.names.is_empty() {
            return Vec::new();
        }
        let norm = normalize(text);
        let mut named = vec![false; self.names.len()];
        Self::hits(&self.name_ac, &self.name_owner, &norm, &mut named);
        if !named.iter().any(|x| *x) {
            return Vec::new();
        }
        let mut excluded = vec![false; self.names.len()];
        Self::hits(&self.exclude_ac, &self.exclude_owner, &norm, &mut excluded);
        self.names
            .iter()
            .enumerate()
            .filter(|(i, _)| named[*i] && !excluded[*i])
            .map(|(_, n)| n.clone())
            .collect()
    }

    /// Does the text mention this product (by configured name)?
    pub fn mentions(&self, product: &str, text: &str) -> bool {
        self.products_in(text).iter().any(|p| p == product)
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
        assert_eq!(m.products_in("Ünïcode: I love RUST."), vec!["Rust"]);
        assert_eq!(m.products_in("rust_lang is not rustlang"), vec!["Rust"]);
        assert_eq!(m.products_in("rust_lang only"), Vec::<String>::new());
    }

    #[test]
    fn multiword_names_match_across_spacing() {
        let m = Matcher::new(&[product("Apple Watch", &[], &[])]);
        assert_eq!(m.products_in("my apple-watch died"), vec!["Apple Watch"]);
        assert_eq!(m.products_in("Apple   Watch!"), vec!["Apple Watch"]);
        assert_eq!(m.products_in("applewatch"), Vec::<String>::new());
    }
}
