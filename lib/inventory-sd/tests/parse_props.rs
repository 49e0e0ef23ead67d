//! Properties of the parser on arbitrary inventories.

use std::collections::BTreeMap;

use inventory_sd::parse::{
    normalize_target, parse_file_sd, parse_inventory, ParseError, ParseOptions,
};
use proptest::prelude::*;

fn opts(labels: &BTreeMap<String, String>) -> ParseOptions<'_> {
    ParseOptions {
        target_port: 9100,
        max_targets: 100_000,
        labels,
    }
}

/// Host-like strings, plus arbitrary junk.
fn entry() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9_.-]{0,12}",
        "[a-z][a-z0-9_]{0,8}:[0-9]{1,5}",
        "\\[::[0-9a-f]{1,4}\\](:[0-9]{1,5})?",
        any::<String>(),
    ]
}

proptest! {
    #[test]
    fn any_list_of_strings_gives_sorted_unique_valid_targets(entries in prop::collection::vec(entry(), 0..60)) {
        let body = serde_json::to_vec(&entries).unwrap();
        let valid = entries.iter().filter(|e| normalize_target(e, 9100).is_ok()).count() as u64;
        let parsed = parse_inventory(&body, opts(&BTreeMap::new()));
        if valid == 0 && !entries.is_empty() {
            // Entries, none valid: a failed poll, not an empty list.
            let nothing_valid = matches!(parsed, Err(ParseError::NothingValid { .. }));
            prop_assert!(nothing_valid);
            return Ok(());
        }
        let inv = parsed.unwrap();
        prop_assert_eq!(inv.skipped, entries.len() as u64 - valid);
        prop_assert!(inv.groups.len() <= 1);
        for g in &inv.groups {
            prop_assert!(g.targets.windows(2).all(|w| w[0] < w[1]), "sorted and unique");
            for t in &g.targets {
                prop_assert!(t.contains(':'));
                prop_assert!(!t.contains(['/', ' ', '@']));
                // A written target is already normalized: normalizing it again keeps it.
                let again = normalize_target(t, 1);
                prop_assert_eq!(again.as_deref(), Ok(t.as_str()));
            }
        }
        // The output is valid file_sd JSON and parses back to the same groups.
        prop_assert_eq!(parse_file_sd(&inv.render()).unwrap(), inv.groups.clone());
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_inventory(&body, opts(&BTreeMap::new()));
    }

    #[test]
    fn entry_order_does_not_change_the_output(mut entries in prop::collection::vec(entry(), 0..40)) {
        let a = parse_inventory(&serde_json::to_vec(&entries).unwrap(), opts(&BTreeMap::new()));
        entries.reverse();
        let b = parse_inventory(&serde_json::to_vec(&entries).unwrap(), opts(&BTreeMap::new()));
        prop_assert_eq!(a.map(|i| i.render()).ok(), b.map(|i| i.render()).ok());
    }
}
