//! `grafana_datasource_exchange` provider (`send-datasource`): the Grafana datasource UIDs of
//! this Prometheus, for charms (Tempo, Loki...) that link their datasources to it.
//!
//! Grafana answers on `grafana-source` (`grafana_datasource`) with app keys `grafana_uid` (its
//! own UID) and `datasource_uids`, a JSON object unit name → datasource UID it gave that unit's
//! datasource. The leader publishes on `send-datasource`, app key `datasources`, a compact JSON
//! list (no spaces) of `{"type":"prometheus","uid":<datasource UID>,"grafana_uid":<Grafana's
//! UID>}`, one per datasource of every related Grafana, sorted by `uid`. What the remote side
//! publishes under the same key is not used (this charm has no endpoint that requires it).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::Databag;

/// `send-datasource` application databag key.
pub const DATASOURCES_KEY: &str = "datasources";
/// `grafana-source` remote application key: Grafana's UID.
pub const GRAFANA_UID_KEY: &str = "grafana_uid";
/// `grafana-source` remote application key: unit name → datasource UID (JSON).
pub const DATASOURCE_UIDS_KEY: &str = "datasource_uids";

/// One Grafana's datasource UIDs for this application's units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrafanaUids {
    /// Grafana's own UID.
    pub grafana_uid: String,
    /// Unit name → datasource UID.
    pub datasource_uids: BTreeMap<String, String>,
}

/// What one Grafana wrote on `grafana-source`. `Ok(None)`: it has not answered yet (no
/// `grafana_uid` or no `datasource_uids`). `Err`: the values cannot be used, and why.
pub fn grafana_uids(app_data: &Databag) -> Result<Option<GrafanaUids>, String> {
    let grafana_uid = app_data.get(GRAFANA_UID_KEY).map_or("", String::as_str);
    let raw = app_data.get(DATASOURCE_UIDS_KEY).map_or("", String::as_str);
    if grafana_uid.is_empty() || raw.is_empty() {
        return Ok(None);
    }
    let datasource_uids: BTreeMap<String, String> = serde_json::from_str(raw).map_err(|e| {
        format!("`{DATASOURCE_UIDS_KEY}` is not a JSON object of unit names to UIDs: {e}")
    })?;
    Ok(Some(GrafanaUids {
        grafana_uid: grafana_uid.to_owned(),
        datasource_uids,
    }))
}

#[derive(Serialize)]
struct Entry<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    uid: &'a str,
    grafana_uid: &'a str,
}

/// The `send-datasource` application databag for these Grafanas' answers.
pub fn app_data(grafanas: &[GrafanaUids]) -> Databag {
    let mut entries: Vec<Entry<'_>> = grafanas
        .iter()
        .flat_map(|g| {
            g.datasource_uids.values().map(|uid| Entry {
                kind: "prometheus",
                uid,
                grafana_uid: &g.grafana_uid,
            })
        })
        .collect();
    entries.sort_by(|a, b| (a.uid, a.grafana_uid).cmp(&(b.uid, b.grafana_uid)));
    entries.dedup_by(|a, b| (a.uid, a.grafana_uid) == (b.uid, b.grafana_uid));
    // Serialising strings cannot fail.
    let json = serde_json::to_string(&entries).unwrap_or_else(|_| "[]".to_owned());
    Databag::from([(DATASOURCES_KEY.to_owned(), json)])
}
