//! Relation data contracts of the observability charms, as pure functions over databags.
