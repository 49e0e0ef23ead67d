//! How the fake Pebble runs services: simulated by default, pluggable for end-to-end tests.
//!
//! The fake keeps the bookkeeping (which service is `active`, what definition it was started
//! with, counters) itself and asks a [`ServiceRunner`] only to make the process side happen.
//! An end-to-end test can plug in a runner that spawns the service's `command` as a real
//! process (with paths mapped under the fake's file-system root), kills it on stop and
//! delivers signals — [`ProcessRunner`](super::process_runner::ProcessRunner) does that; the
//! default [`SimulatedRunner`] does nothing, so services flip between `active` and `inactive`
//! instantly.

use std::path::Path;

use pebble::Service;

/// The process side of services. Calls come from a blocking thread of the fake's runtime, so an
/// implementation may block (e.g. wait a second to see that a process stays up, as Pebble does).
pub trait ServiceRunner: Send + Sync + 'static {
    /// Starts service `name` with definition `service`; `fs_root` is the host directory that
    /// stands for the container's `/`. An `Err` fails the start task with that message.
    fn start(&self, name: &str, service: &Service, fs_root: &Path) -> Result<(), String>;

    /// Stops service `name`. An `Err` fails the stop task with that message.
    fn stop(&self, name: &str) -> Result<(), String>;

    /// Delivers `signal` (e.g. `SIGHUP`) to service `name`.
    fn signal(&self, name: &str, signal: &str) -> Result<(), String> {
        let _ = (name, signal);
        Ok(())
    }

    /// Whether the process of a started service is still alive; `None` when the runner does
    /// not know (the fake then trusts its own bookkeeping). A service found dead is reported
    /// as `error`, and a replan starts it again if it is enabled.
    fn is_running(&self, name: &str) -> Option<bool> {
        let _ = name;
        None
    }

    /// Where a health check aimed at `host:port` should go instead (`host:port`), when this
    /// runner moved the service listening there (e.g. to a free loopback port); `None` keeps
    /// the check's own address.
    fn check_address(&self, host: &str, port: u16) -> Option<String> {
        let _ = (host, port);
        None
    }

    /// Whether starting and stopping take real time (a process to spawn and watch). The fake
    /// then runs a services change in the background and answers the `POST` at once, as
    /// Pebble does; otherwise the change is done before the answer, so a test sees the new
    /// state right after the call.
    fn takes_time(&self) -> bool {
        false
    }

    /// Stops everything; called when the fake is dropped.
    fn shutdown(&self) {}
}

/// Runs nothing: starting succeeds at once, stopping too.
#[derive(Debug, Default, Clone, Copy)]
pub struct SimulatedRunner;

impl ServiceRunner for SimulatedRunner {
    fn start(&self, _name: &str, _service: &Service, _fs_root: &Path) -> Result<(), String> {
        Ok(())
    }

    fn stop(&self, _name: &str) -> Result<(), String> {
        Ok(())
    }
}
