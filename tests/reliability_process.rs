//! The compiled charm failing half-way through a hook because a hook tool fails AFTER the
//! workload was changed: Juju drops the hook's writes and retries it, and the retry neither
//! pushes nor reloads again (the change was recorded as applied in the workload), while the
//! status and relation data the failed run lost are written.

mod common;

use common::process::ProcessCharm;
use common::*;
use juju_hook::{Event, Status};
use prometheus_rs_k8s::simulate::charm_model_state;

#[test]
fn a_hook_retried_after_a_late_tool_failure_does_not_apply_the_workload_twice() {
    let mut state = charm_model_state().unwrap();
    state.set_leader(true);
    let c = ProcessCharm::start(&state);
    c.ok(&Event::Install);
    c.ok(&pebble_ready());
    assert_eq!(c.status(), Status::active(""));
    let reloads = c.web.reload_count();
    let starts = c.pebble.starts("prometheus");

    c.update(|s| s.set_config("evaluation_interval", "45s").unwrap());
    c.break_tool("status-set", "status-set: controller unavailable");
    let out = c.run(&Event::ConfigChanged);
    assert_eq!(out.code, Some(1), "{out:?}");
    // The workload moved before the failure; the status did not.
    assert!(c
        .file(CONFIG_FILE)
        .unwrap()
        .contains("evaluation_interval: 45s"));
    assert_eq!(c.web.reload_count(), reloads + 1);
    c.repair_tool("status-set");

    c.pebble.clear_requests();
    let out = c.ok(&Event::ConfigChanged);
    assert_eq!(c.status(), Status::active(""), "{}", out.stderr);
    assert_eq!(c.web.reload_count(), reloads + 1, "not reloaded twice");
    assert_eq!(c.pebble.starts("prometheus"), starts, "never restarted");
    assert_eq!(
        written_paths(&c.pebble.requests()),
        Vec::<String>::new(),
        "nothing pushed again"
    );
}
