//! Credentials in `inventory_url` stay secret: never in the Pebble plan, a command line, the
//! environment, a status, a log line, relation data or a world-readable file. The URL reaches
//! the poller in a file only it can read (0600); a new URL restarts only the poller.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::common::process::ProcessCharm;
use crate::common::*;
use juju_hook::Event;
use serde_json::Value;

const PASSWORD: &str = "s3cr3t-pw";
const URL: &str = "http://ops:s3cr3t-pw@inventory:1337/hosts";
const URL_FILE: &str = "/etc/prometheus-rs-k8s/inventory-url";

/// Every regular file under `dir` that others may read and that holds `needle`.
fn world_readable_files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            found.extend(world_readable_files_containing(&path, needle));
        } else if meta.is_file() && meta.permissions().mode() & 0o004 != 0 {
            let bytes = std::fs::read(&path).unwrap_or_default();
            if String::from_utf8_lossy(&bytes).contains(needle) {
                found.push(path.display().to_string());
            }
        }
    }
    found
}

/// Everything the charm told Juju: statuses, log lines, relation data it wrote.
fn told_juju(c: &Charm) -> String {
    let state = c.sim.juju.state();
    let relations: Vec<_> = state
        .relations
        .iter()
        .map(|r| (&r.local_app_data, &r.local_unit_data))
        .collect();
    format!(
        "{:?} {:?} {:?} {:?}",
        state.status_history, state.logs, relations, state.unit_status
    )
}

#[test]
fn the_url_travels_in_a_0600_file_and_nowhere_else() {
    let c = Charm::leader();
    c.deploy();
    c.reset_records();
    c.configure("inventory_url", URL);
    c.assert_active();

    // The plan (what `pebble plan` and `ps` show) has the file's path and a hash, not the URL.
    let plan = c.sim.pebble.plan_yaml();
    assert!(!plan.contains(PASSWORD), "{plan}");
    assert!(!plan.contains("ops:"), "{plan}");
    assert!(
        plan.contains(&format!("--inventory-url-file={URL_FILE}")),
        "{plan}"
    );
    let poller = &c.sim.pebble.plan().services["inventory-sd"];
    assert_eq!(
        poller.environment.keys().collect::<Vec<_>>(),
        ["INVENTORY_URL_SHA256"]
    );
    for (label, layer) in c.sim.pebble.layers() {
        let text = serde_yaml_ng::to_string(&layer).unwrap();
        assert!(!text.contains(PASSWORD), "layer {label}: {text}");
    }

    // The file: exactly the URL, mode 0600, pushed with permissions 600.
    assert_eq!(c.file(URL_FILE).unwrap(), format!("{URL}\n"));
    let mode = std::fs::metadata(c.sim.pebble.host_path(URL_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let requests = c.requests();
    let pushed: Vec<Value> = file_requests(&requests, "write")
        .iter()
        .flat_map(|r| {
            r.body_json.as_ref().unwrap()["files"]
                .as_array()
                .unwrap()
                .clone()
        })
        .filter(|f| f["path"] == URL_FILE)
        .collect();
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    assert_eq!(pushed[0]["permissions"], "600");

    // No other request carried it (exec commands, layers, services).
    for r in requests.iter().filter(|r| r.path != "/v1/files") {
        let body = r
            .body_json
            .as_ref()
            .map(Value::to_string)
            .unwrap_or_default();
        assert!(!body.contains(PASSWORD), "{} {}: {body}", r.method, r.path);
    }
    assert!(!told_juju(&c).contains(PASSWORD));
    let leaks = world_readable_files_containing(c.sim.pebble.fs_root(), PASSWORD);
    assert!(leaks.is_empty(), "world-readable: {leaks:?}");
}

#[test]
fn a_new_url_restarts_only_the_poller_and_unsetting_it_removes_the_file() {
    let c = Charm::leader();
    c.deploy();
    c.configure("inventory_url", URL);
    let config = c.sim.pebble.read_file(CONFIG_FILE).unwrap();
    let before = c.counters();

    let rotated = "http://ops:n3w-pw@inventory:1337/hosts";
    c.configure("inventory_url", rotated);
    c.assert_active();
    assert_eq!(c.file(URL_FILE).unwrap(), format!("{rotated}\n"));
    let after = c.counters();
    assert_eq!(after.inventory_restarts, before.inventory_restarts + 1);
    assert_eq!(after.prometheus_starts, before.prometheus_starts);
    assert_eq!(
        after.reloads, before.reloads,
        "prometheus.yml did not change"
    );
    assert_eq!(c.sim.pebble.read_file(CONFIG_FILE).unwrap(), config);

    // The same URL again: nothing restarts.
    c.configure("inventory_url", rotated);
    assert_eq!(c.counters(), after);

    c.configure("inventory_url", Value::Null);
    c.assert_active();
    assert!(
        c.file(URL_FILE).is_none(),
        "credentials removed with the poller"
    );
}

#[test]
fn the_compiled_charm_never_prints_the_password() {
    let mut state = charm_sim::charm_model_state().expect("charm metadata loads");
    state.set_leader(true);
    let c = ProcessCharm::start(&state);
    let mut output = String::new();
    for event in [Event::Install, pebble_ready()] {
        let out = c.ok(&event);
        output += &(out.stdout + &out.stderr);
    }
    c.update(|s| s.set_config("inventory_url", URL).unwrap());
    let out = c.ok(&Event::ConfigChanged);
    output += &(out.stdout + &out.stderr);
    // An https URL is refused: the status names the option with the password masked.
    c.update(|s| {
        s.set_config("inventory_url", "https://ops:s3cr3t-pw@inventory/hosts")
            .unwrap()
    });
    let out = c.ok(&Event::ConfigChanged);
    output += &(out.stdout + &out.stderr);

    assert!(!output.contains(PASSWORD), "{output}");
    let state = c.state();
    let told = format!("{:?} {:?}", state.status_history, state.logs);
    assert!(!told.contains(PASSWORD), "{told}");
    assert!(
        c.status().message.contains("ops:***@inventory"),
        "{:?}",
        c.status()
    );
    assert!(!c.pebble.plan_yaml().contains(PASSWORD));
}
