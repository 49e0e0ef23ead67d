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

/// The units of a relation that advertise a valid address, ordered by unit number then name so
/// the output does not depend on the order the charm listed them in. Units whose address is
/// not a host name or IP address are left out (see [`unit_address_problems`]).
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
            let address = unit_address(data).ok()??;
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

/// One message per unit left out of [`unit_hosts`] because of its address, naming the unit.
pub(crate) fn unit_address_problems(units: &[(&str, &Databag)]) -> Vec<String> {
    units
        .iter()
        .filter_map(|(juju_name, data)| {
            let problem = unit_address(data).err()?;
            Some(format!(
                "unit {:?} left out (its targets are not scraped): {problem}",
                crate::validate::brief(juju_name, 64)
            ))
        })
        .collect()
}

/// The address a unit advertises (`prometheus_scrape_unit_address`, else the legacy
/// `prometheus_scrape_host`), `Ok(None)` when it advertises none, an error when it is not
/// something Prometheus can take as the host of a target.
fn unit_address(data: &Databag) -> Result<Option<String>, String> {
    let Some((key, value)) = ["prometheus_scrape_unit_address", "prometheus_scrape_host"]
        .into_iter()
        .find_map(|k| data.get(k).filter(|v| !v.is_empty()).map(|v| (k, v)))
    else {
        return Ok(None);
    };
    check_host(value)
        .map(|host| Some(host.to_owned()))
        .map_err(|reason| format!("{key} {reason}"))
}

/// A host for a `host:port` target: an IPv4 or IPv6 address (brackets allowed and removed) or
/// a DNS name (labels of `[A-Za-z0-9_-]`, at most 63 bytes each, 253 in all).
pub(crate) fn check_host(value: &str) -> Result<&str, String> {
    if value.len() > crate::validate::MAX_JOB_TEXT {
        return Err(format!(
            "is {} bytes long, more than the {} allowed",
            value.len(),
            crate::validate::MAX_JOB_TEXT
        ));
    }
    let bare = value
        .strip_prefix('[')
        .and_then(|v| v.strip_suffix(']'))
        .unwrap_or(value);
    if bare.parse::<IpAddr>().is_ok() {
        return Ok(bare);
    }
    let name = value.strip_suffix('.').unwrap_or(value);
    let valid = !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        });
    if valid {
        Ok(value)
    } else {
        Err(format!(
            "{:?} is not a host name or IP address",
            crate::validate::brief(value, 64)
        ))
    }
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
