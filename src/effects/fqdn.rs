//! This unit's fully-qualified domain name, as the pod itself resolves it.
//!
//! The Python charm publishes `socket.getfqdn()`: the host name, resolved through the name
//! service, taking the first name with a dot among the canonical name and its aliases. In a
//! Kubernetes pod the kubelet writes that answer into `/etc/hosts` (`<pod IP> <pod>.<subdomain>.
//! <namespace>.svc.<cluster domain> <pod>` for a StatefulSet pod with a subdomain, as Juju
//! creates them), so reading that file gives the same name with no DNS query and no process:
//! the cluster domain is whatever the cluster uses, not an assumed `cluster.local`.

use std::path::{Path, PathBuf};

use tracing::warn;

/// Where the host name and the hosts file are read from (tests point them at their own files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FqdnSource {
    /// A file holding the host name (`/proc/sys/kernel/hostname`).
    pub hostname_file: PathBuf,
    /// The hosts file (`/etc/hosts`).
    pub hosts_file: PathBuf,
}

impl Default for FqdnSource {
    fn default() -> Self {
        Self {
            hostname_file: PathBuf::from("/proc/sys/kernel/hostname"),
            hosts_file: PathBuf::from("/etc/hosts"),
        }
    }
}

impl FqdnSource {
    /// The FQDN from these files, or `None` when they do not give one.
    pub fn resolve(&self) -> Option<String> {
        let hostname = read(&self.hostname_file)?;
        let hostname = hostname.trim();
        let hosts = read(&self.hosts_file).unwrap_or_default();
        fqdn_from_hosts(hostname, &hosts)
    }
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// What `getfqdn` answers for `hostname` when the name service is the `hosts` file: among the
/// names of the first line listing `hostname` (canonical name first, then aliases), the first
/// that contains a dot; failing that, `hostname` itself when it contains a dot; else `None`.
/// Host names compare case-insensitively.
pub fn fqdn_from_hosts(hostname: &str, hosts: &str) -> Option<String> {
    if hostname.is_empty() {
        return None;
    }
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let Some(_address) = fields.next() else {
            continue;
        };
        let names: Vec<&str> = fields.collect();
        if names.iter().any(|n| n.eq_ignore_ascii_case(hostname)) {
            if let Some(full) = names.iter().find(|n| n.contains('.')) {
                return Some((*full).to_owned());
            }
            break;
        }
    }
    hostname.contains('.').then(|| hostname.to_owned())
}

/// The name Juju's Kubernetes provider gives a unit's pod in the application's headless
/// service, with the default cluster domain: the fallback when the pod's files say nothing.
pub fn conventional_fqdn(app: &str, unit_number: u32, model: &str) -> String {
    format!("{app}-{unit_number}.{app}-endpoints.{model}.svc.cluster.local")
}

/// This unit's FQDN: `override_fqdn` when given (render, tests), else what the pod resolves
/// (see the module documentation), else [`conventional_fqdn`].
pub fn unit_fqdn(
    override_fqdn: Option<&str>,
    source: &FqdnSource,
    app: &str,
    unit_number: u32,
    model: &str,
) -> String {
    if let Some(fqdn) = override_fqdn {
        return fqdn.to_owned();
    }
    source.resolve().unwrap_or_else(|| {
        let fallback = conventional_fqdn(app, unit_number, model);
        warn!("cannot resolve this pod's FQDN from its hosts file; using {fallback}");
        fallback
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `/etc/hosts` as the kubelet writes it for a StatefulSet pod with a subdomain.
    const KUBELET_HOSTS: &str = "# Kubernetes-managed hosts file.
127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
10.1.2.3\tprom-0.prom-endpoints.cos.svc.corp.example\tprom-0
";

    #[test]
    fn the_kubelet_hosts_entry_gives_the_cluster_domain() {
        assert_eq!(
            fqdn_from_hosts("prom-0", KUBELET_HOSTS).as_deref(),
            Some("prom-0.prom-endpoints.cos.svc.corp.example")
        );
        assert_eq!(
            fqdn_from_hosts("PROM-0", KUBELET_HOSTS).as_deref(),
            Some("prom-0.prom-endpoints.cos.svc.corp.example")
        );
    }

    #[test]
    fn like_getfqdn_a_dotless_entry_or_no_entry_leaves_the_hostname() {
        let hosts = "10.0.0.1 box alias.example\n10.0.0.2 other\n";
        // getfqdn takes the first name with a dot among canonical name and aliases.
        assert_eq!(
            fqdn_from_hosts("box", hosts).as_deref(),
            Some("alias.example")
        );
        assert_eq!(fqdn_from_hosts("other", hosts), None);
        assert_eq!(fqdn_from_hosts("missing", hosts), None);
        assert_eq!(
            fqdn_from_hosts("host.example", "").as_deref(),
            Some("host.example")
        );
        assert_eq!(fqdn_from_hosts("", KUBELET_HOSTS), None);
    }

    #[test]
    fn files_then_override_then_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let source = FqdnSource {
            hostname_file: dir.path().join("hostname"),
            hosts_file: dir.path().join("hosts"),
        };
        // Nothing to read: the conventional name.
        assert_eq!(
            unit_fqdn(None, &source, "prom", 0, "cos"),
            "prom-0.prom-endpoints.cos.svc.cluster.local"
        );
        std::fs::write(&source.hostname_file, "prom-0\n").unwrap();
        std::fs::write(&source.hosts_file, KUBELET_HOSTS).unwrap();
        assert_eq!(
            unit_fqdn(None, &source, "prom", 0, "cos"),
            "prom-0.prom-endpoints.cos.svc.corp.example"
        );
        assert_eq!(
            unit_fqdn(Some("given.example"), &source, "prom", 0, "cos"),
            "given.example"
        );
    }
}
