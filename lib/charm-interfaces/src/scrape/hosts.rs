//! Scrape addresses advertised by the remote units, and matching targets against them.

use std::net::IpAddr;

use crate::Databag;

/// Where one remote unit can be scraped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnitHost {
    /// Unit name as advertised (`prometheus_scrape_unit_name`, else the Juju unit name).
    pub name: String,
    /// Address (`prometheus_scrape_unit_address`, else legacy `prometheus_scrape_host`).
    pub address: String,
    /// Path prefix (ingress per unit), `""` when none.
    pub path: String,
    /// FQDN, `""` when unknown.
    pub fqdn: String,
}

impl UnitHost {
    /// The unit number (text after the last `/`).
    pub fn number(&self) -> &str {
        self.name.rsplit('/').next().unwrap_or(&self.name)
    }

    /// The address as it goes into a `host:port` target: IPv6 literals get brackets.
    pub fn target_host(&self) -> String {
        match self.address.parse::<IpAddr>() {
            Ok(IpAddr::V6(_)) => format!("[{}]", self.address),
            _ => self.address.clone(),
        }
    }

    /// Does `host` (from a target) name this unit, by address or FQDN?
    pub fn matches(&self, host: &str) -> bool {
        same_host(host, &self.address) || (!self.fqdn.is_empty() && same_host(host, &self.fqdn))
    }
}

/// The units of a relation that advertise an address, ordered by unit number then name so the
/// output does not depend on the order the charm listed them in.
pub(crate) fn unit_hosts(units: &[(&str, &Databag)]) -> Vec<UnitHost> {
    let mut hosts: Vec<UnitHost> = units
        .iter()
        .filter_map(|(juju_name, data)| {
            // A host name is at most 253 bytes: anything over the job text limit is not an
            // address, and would be copied into every expanded job.
            let non_empty = |k: &str| {
                data.get(k)
                    .filter(|v| !v.is_empty() && v.len() <= crate::validate::MAX_JOB_TEXT)
                    .cloned()
            };
            let name = non_empty("prometheus_scrape_unit_name")
                .or_else(|| Some(juju_name.to_string()).filter(|n| !n.is_empty()))?;
            let address = non_empty("prometheus_scrape_unit_address")
                .or_else(|| non_empty("prometheus_scrape_host"))?;
            Some(UnitHost {
                name,
                address,
                path: non_empty("prometheus_scrape_unit_path").unwrap_or_default(),
                fqdn: non_empty("prometheus_scrape_unit_fqdn").unwrap_or_default(),
            })
        })
        .collect();
    hosts.sort_by(|a, b| {
        let num = |h: &UnitHost| h.number().parse::<u64>().unwrap_or(u64::MAX);
        num(a).cmp(&num(b)).then_with(|| a.name.cmp(&b.name))
    });
    hosts.dedup_by(|a, b| a.name == b.name);
    hosts
}

/// The host part of a `host:port` target: `[fd00::1]:9100` → `fd00::1`, `a.b:80` → `a.b`,
/// a bare IPv6 literal stays whole.
pub(crate) fn target_host(target: &str) -> &str {
    if let Some(rest) = target.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    if target.parse::<IpAddr>().is_ok() {
        return target;
    }
    match target.rsplit_once(':') {
        Some((host, _)) => host,
        None => target,
    }
}

fn same_host(a: &str, b: &str) -> bool {
    let strip = |s: &str| s.trim_start_matches('[').trim_end_matches(']').to_owned();
    let (a, b) = (strip(a), strip(b));
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.eq_ignore_ascii_case(&b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_of_targets() {
        assert_eq!(target_host("10.0.0.1:9100"), "10.0.0.1");
        assert_eq!(target_host("[fd00::1]:9100"), "fd00::1");
        assert_eq!(target_host("fd00::1"), "fd00::1");
        assert_eq!(target_host("a.example.com"), "a.example.com");
    }

    #[test]
    fn ipv6_matching_is_textual_form_independent() {
        let h = UnitHost {
            name: "a/0".into(),
            address: "fd00:0:0::1".into(),
            path: String::new(),
            fqdn: "A-0.svc".into(),
        };
        assert!(h.matches("fd00::1"));
        assert!(h.matches("a-0.svc"));
        assert!(!h.matches("fd00::2"));
        assert_eq!(h.target_host(), "[fd00:0:0::1]");
    }
}
