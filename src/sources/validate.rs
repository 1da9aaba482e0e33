//! Checks source configs share, each returning `(key, message)` problems like every
//! `validate()` (the URL scheme check is done once for all in [`super::SourceConfig`]).

/// Two keys that only work together (an id and its secret): one without the other.
pub fn paired(
    a: (&str, bool),
    b: (&str, bool),
    hint_a: &str,
    hint_b: &str,
) -> Option<(String, String)> {
    match (a.1, b.1) {
        (true, false) => Some((
            b.0.to_string(),
            format!("`{}` is set but `{}` is not: {hint_b}", a.0, b.0),
        )),
        (false, true) => Some((
            a.0.to_string(),
            format!("`{}` is set but `{}` is not: {hint_a}", b.0, a.0),
        )),
        _ => None,
    }
}

/// A list that needs at least one entry.
pub fn non_empty<T>(key: &str, list: &[T], example: &str) -> Option<(String, String)> {
    list.is_empty().then(|| {
        (
            key.to_string(),
            format!("list at least one, e.g. {key} = {example}"),
        )
    })
}

/// A page size the platform accepts.
pub fn limit(value: u32, max: u32) -> Option<(String, String)> {
    (!(1..=max).contains(&value)).then(|| {
        (
            "limit".to_string(),
            format!("limit must be between 1 and {max}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_missing_key() {
        let p = paired(("id", true), ("secret", false), "add id", "add secret").unwrap();
        assert_eq!(
            p,
            (
                "secret".into(),
                "`id` is set but `secret` is not: add secret".into()
            )
        );
        assert!(paired(("id", true), ("secret", true), "", "").is_none());
        assert_eq!(non_empty::<u8>("sites", &[], "[\"x\"]").unwrap().0, "sites");
        assert!(limit(0, 40).is_some() && limit(40, 40).is_none());
    }
}
