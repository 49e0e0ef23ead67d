//! Writing databags only when something changed.

use crate::Databag;

/// The keys of `desired` whose value differs from `current`, plus every key of `current` absent
/// from `desired` mapped to `""`. Juju deletes a key set to `""`, so an absent key and `""` are
/// the same value here: desiring `""` for an absent key is no change. Writing exactly this map
/// makes `current` equal `desired`; an empty map means nothing to do.
pub fn diff(current: &Databag, desired: &Databag) -> Databag {
    let mut out: Databag = desired
        .iter()
        .filter(|(k, v)| current.get(*k).map_or("", String::as_str) != v.as_str())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for k in current
        .iter()
        .filter(|(k, v)| !v.is_empty() && !desired.contains_key(*k))
        .map(|(k, _)| k)
    {
        out.insert(k.clone(), String::new());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bag(pairs: &[(&str, &str)]) -> Databag {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn only_changed_keys() {
        let current = bag(&[("a", "1"), ("b", "2")]);
        assert!(diff(&current, &current).is_empty());
        assert_eq!(
            diff(&current, &bag(&[("a", "1"), ("b", "3")])),
            bag(&[("b", "3")])
        );
        assert_eq!(diff(&current, &bag(&[("a", "1")])), bag(&[("b", "")]));
        assert_eq!(
            diff(&Databag::new(), &bag(&[("c", "x")])),
            bag(&[("c", "x")])
        );
    }
}
