//! A [`ServiceRunner`] that runs services as real host processes, for end-to-end tests.
//!
//! The service's `command` is split like Pebble splits it (shell-like quoting, no shell; an
//! optional trailing `[ … ]` group of default arguments is kept as arguments). Container paths
//! in arguments and the working directory are mapped under the fake's file-system root when
//! they lie under one of the mapped prefixes (`/etc/`, `/opt/`, `/var/lib/` by default), and
//! the executable is looked up in a table of container path → host path (e.g.
//! `/bin/prometheus` → `/usr/bin/prometheus`). Listen addresses can be rewritten too
//! (`0.0.0.0:9090` → `127.0.0.1:<free port>`), so several fakes run side by side. As in Pebble, a start succeeds once the process
//! has stayed up for the okay delay (1 s), and a stop sends SIGTERM, then SIGKILL after 5 s.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pebble::Service;

use super::files::{host_path, map_arg};
use super::runner::ServiceRunner;

const DEFAULT_PREFIXES: [&str; 3] = ["/etc/", "/opt/", "/var/lib/"];
const OKAY_DELAY: Duration = Duration::from_secs(1);
const KILL_DELAY: Duration = Duration::from_secs(5);
const POLL: Duration = Duration::from_millis(20);

/// Runs services as host processes (see the module docs).
#[derive(Debug)]
pub struct ProcessRunner {
    executables: BTreeMap<String, PathBuf>,
    prefixes: Vec<String>,
    extra_args: BTreeMap<String, Vec<String>>,
    addresses: BTreeMap<String, String>,
    okay_delay: Duration,
    log_dir: Option<PathBuf>,
    children: Mutex<BTreeMap<String, Child>>,
}

impl Default for ProcessRunner {
    fn default() -> Self {
        Self::new()
    }
}

impl ProcessRunner {
    /// A runner mapping `/etc/`, `/opt/` and `/var/lib/`, with Pebble's 1 s okay delay.
    pub fn new() -> Self {
        ProcessRunner {
            executables: BTreeMap::new(),
            prefixes: DEFAULT_PREFIXES.iter().map(|p| p.to_string()).collect(),
            extra_args: BTreeMap::new(),
            addresses: BTreeMap::new(),
            okay_delay: OKAY_DELAY,
            log_dir: None,
            children: Mutex::new(BTreeMap::new()),
        }
    }

    /// Runs `host_path` wherever a command names the container executable `container_path`.
    pub fn executable(mut self, container_path: &str, host_path: impl Into<PathBuf>) -> Self {
        self.executables
            .insert(container_path.to_string(), host_path.into());
        self
    }

    /// Also maps container paths under `prefix` (e.g. `/tmp/`) into the fake's file system.
    pub fn map_prefix(mut self, prefix: &str) -> Self {
        let prefix = format!("{}/", prefix.trim_end_matches('/'));
        self.prefixes.push(prefix);
        self
    }

    /// Appends arguments to service `name`'s command (e.g. a free `--web.listen-address`).
    pub fn extra_args(mut self, name: &str, args: &[&str]) -> Self {
        self.extra_args.insert(
            name.to_string(),
            args.iter().map(|a| a.to_string()).collect(),
        );
        self
    }

    /// Rewrites the address `from` (e.g. `0.0.0.0:9090`) to `to` (e.g. `127.0.0.1:41234`)
    /// wherever an argument holds it, as `--flag=<from>` or on its own.
    pub fn address(mut self, from: &str, to: impl Into<String>) -> Self {
        self.addresses.insert(from.to_string(), to.into());
        self
    }

    /// How long a process must stay up for its start to succeed.
    pub fn okay_delay(mut self, delay: Duration) -> Self {
        self.okay_delay = delay;
        self
    }

    /// Writes each service's stdout and stderr to `<dir>/<service>.log`.
    pub fn log_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.log_dir = Some(dir.into());
        self
    }

    /// Host process id of a running service.
    pub fn pid(&self, name: &str) -> Option<u32> {
        self.children().get(name).map(Child::id)
    }

    fn children(&self) -> MutexGuard<'_, BTreeMap<String, Child>> {
        self.children.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The host command line for `service`.
    fn command_line(
        &self,
        name: &str,
        service: &Service,
        fs_root: &Path,
    ) -> Result<Vec<String>, String> {
        let text = service.command.as_deref().unwrap_or_default();
        let mut words =
            shlex::split(text).ok_or_else(|| format!("cannot parse command {text:?}"))?;
        // `cmd a [ b c ]`: the bracketed defaults apply when no arguments are given.
        if words.last().map(String::as_str) == Some("]") {
            if let Some(open) = words.iter().position(|w| w == "[") {
                words.remove(words.len() - 1);
                words.remove(open);
            }
        }
        if words.is_empty() {
            return Err(format!("service {name:?} has an empty command"));
        }
        let prefixes: Vec<&str> = self.prefixes.iter().map(String::as_str).collect();
        let executable = match self.executables.get(&words[0]) {
            Some(host) => host.to_string_lossy().into_owned(),
            None => map_arg(fs_root, &words[0], &prefixes),
        };
        let mut line = vec![executable];
        line.extend(
            words[1..]
                .iter()
                .map(|w| self.map_address(&map_arg(fs_root, w, &prefixes))),
        );
        line.extend(self.extra_args.get(name).cloned().unwrap_or_default());
        Ok(line)
    }

    /// `arg` with a mapped address replaced, if it is one (`--listen=a:1` or `a:1`).
    fn map_address(&self, arg: &str) -> String {
        let (flag, value) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with('-') => (Some(flag), value),
            _ => (None, arg),
        };
        match (self.addresses.get(value), flag) {
            (Some(to), Some(flag)) => format!("{flag}={to}"),
            (Some(to), None) => to.clone(),
            (None, _) => arg.to_string(),
        }
    }

    fn output(&self, name: &str) -> Result<(Stdio, Stdio), String> {
        let Some(dir) = &self.log_dir else {
            return Ok((Stdio::null(), Stdio::null()));
        };
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
        let file = File::create(dir.join(format!("{name}.log"))).map_err(|e| e.to_string())?;
        let err = file.try_clone().map_err(|e| e.to_string())?;
        Ok((Stdio::from(file), Stdio::from(err)))
    }
}

fn signal_number(signal: &str) -> Option<libc::c_int> {
    let name = signal.trim_start_matches("SIG");
    Some(match name {
        "HUP" => libc::SIGHUP,
        "INT" => libc::SIGINT,
        "QUIT" => libc::SIGQUIT,
        "KILL" => libc::SIGKILL,
        "TERM" => libc::SIGTERM,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        _ => return None,
    })
}

fn send_signal(child: &Child, signal: libc::c_int) -> Result<(), String> {
    let pid = libc::pid_t::try_from(child.id()).map_err(|e| e.to_string())?;
    // SAFETY: kill(2) has no memory effects; the pid is our own child's.
    let rc = unsafe { libc::kill(pid, signal) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error().to_string())
    }
}

/// SIGTERM, then SIGKILL after the kill delay; reaps the child.
fn terminate(mut child: Child) {
    let _ = send_signal(&child, libc::SIGTERM);
    let deadline = Instant::now() + KILL_DELAY;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(POLL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl ServiceRunner for ProcessRunner {
    fn start(&self, name: &str, service: &Service, fs_root: &Path) -> Result<(), String> {
        let line = self.command_line(name, service, fs_root)?;
        let dir = service
            .working_dir
            .as_deref()
            .map(|d| host_path(fs_root, d))
            .unwrap_or_else(|| fs_root.to_path_buf());
        let (stdout, stderr) = self.output(name)?;
        let mut child = Command::new(&line[0])
            .args(&line[1..])
            .envs(&service.environment)
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("cannot start service: {e}"))?;
        let deadline = Instant::now() + self.okay_delay;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                let code = status.code().unwrap_or(-1);
                return Err(format!(
                    "cannot start service: exited quickly with code {code}"
                ));
            }
            std::thread::sleep(POLL);
        }
        if let Some(old) = self.children().insert(name.to_string(), child) {
            terminate(old);
        }
        Ok(())
    }

    fn stop(&self, name: &str) -> Result<(), String> {
        let child = self.children().remove(name);
        if let Some(child) = child {
            terminate(child);
        }
        Ok(())
    }

    fn signal(&self, name: &str, signal: &str) -> Result<(), String> {
        let number = signal_number(signal).ok_or_else(|| format!("invalid signal {signal:?}"))?;
        match self.children().get(name) {
            Some(child) => send_signal(child, number),
            None => Err(format!("service {name:?} is not running")),
        }
    }

    fn is_running(&self, name: &str) -> Option<bool> {
        let mut children = self.children();
        let child = children.get_mut(name)?;
        Some(matches!(child.try_wait(), Ok(None)))
    }

    fn check_address(&self, host: &str, port: u16) -> Option<String> {
        let loopback = matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]");
        self.addresses.iter().find_map(|(from, to)| {
            let (from_host, from_port) = from.rsplit_once(':')?;
            let any = matches!(from_host, "" | "0.0.0.0" | "[::]" | "::");
            let same_host = from_host == host || (loopback && any);
            (from_port.parse() == Ok(port) && same_host).then(|| to.clone())
        })
    }

    fn takes_time(&self) -> bool {
        true
    }

    fn shutdown(&self) {
        let children: Vec<Child> = std::mem::take(&mut *self.children())
            .into_values()
            .collect();
        for child in children {
            terminate(child);
        }
    }
}

impl Drop for ProcessRunner {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_split_and_mapped() {
        let runner = ProcessRunner::new()
            .executable("/bin/prometheus", "/usr/bin/prometheus")
            .extra_args("prometheus", &["--web.listen-address=127.0.0.1:1"]);
        let service = Service {
            command: Some(
                "/bin/prometheus --config.file=/etc/prometheus/prometheus.yml \"--web.page-title=a b\" [ --storage.tsdb.path=/var/lib/prometheus ]"
                    .into(),
            ),
            ..Service::default()
        };
        let line = runner
            .command_line("prometheus", &service, Path::new("/r/fs"))
            .unwrap();
        assert_eq!(
            line,
            [
                "/usr/bin/prometheus",
                "--config.file=/r/fs/etc/prometheus/prometheus.yml",
                "--web.page-title=a b",
                "--storage.tsdb.path=/r/fs/var/lib/prometheus",
                "--web.listen-address=127.0.0.1:1",
            ]
        );
    }

    #[test]
    fn listen_addresses_are_rewritten_only_where_they_match_whole() {
        let runner = ProcessRunner::new()
            .address("0.0.0.0:9090", "127.0.0.1:41000")
            .address("127.0.0.1:9099", "127.0.0.1:41001");
        let service = Service {
            command: Some(
                "/opt/x/x poll --web.listen-address=0.0.0.0:9090 127.0.0.1:9099 --url=http://0.0.0.0:9090/a --listen=127.0.0.1:9099"
                    .into(),
            ),
            ..Service::default()
        };
        let line = runner
            .command_line("x", &service, Path::new("/r/fs"))
            .unwrap();
        assert_eq!(
            line,
            [
                "/r/fs/opt/x/x",
                "poll",
                "--web.listen-address=127.0.0.1:41000",
                "127.0.0.1:41001",
                "--url=http://0.0.0.0:9090/a",
                "--listen=127.0.0.1:41001",
            ]
        );
    }

    #[test]
    fn checks_of_a_moved_listen_address_follow_it() {
        let runner = ProcessRunner::new()
            .address("0.0.0.0:9090", "127.0.0.1:41000")
            .address("127.0.0.1:9099", "127.0.0.1:41001");
        let to = |host: &str, port: u16| runner.check_address(host, port);
        assert_eq!(to("localhost", 9090).as_deref(), Some("127.0.0.1:41000"));
        assert_eq!(to("127.0.0.1", 9099).as_deref(), Some("127.0.0.1:41001"));
        assert_eq!(to("localhost", 9099), None);
        assert_eq!(to("example.com", 9090), None);
        assert_eq!(to("localhost", 9091), None);
    }

    #[test]
    fn a_process_that_exits_at_once_fails_its_start() {
        let runner = ProcessRunner::new().okay_delay(Duration::from_millis(300));
        let service = Service {
            command: Some("sh -c 'exit 3'".into()),
            ..Service::default()
        };
        let err = runner.start("x", &service, Path::new("/")).unwrap_err();
        assert_eq!(err, "cannot start service: exited quickly with code 3");
        assert_eq!(runner.is_running("x"), None);
    }

    #[test]
    fn a_long_running_process_starts_takes_signals_and_stops() {
        let runner = ProcessRunner::new().okay_delay(Duration::from_millis(100));
        let service = Service {
            command: Some("sleep 30".into()),
            ..Service::default()
        };
        runner.start("sleeper", &service, Path::new("/")).unwrap();
        assert_eq!(runner.is_running("sleeper"), Some(true));
        // sleep dies of SIGUSR1; the runner notices.
        runner.signal("sleeper", "SIGUSR1").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while runner.is_running("sleeper") == Some(true) && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        assert_eq!(runner.is_running("sleeper"), Some(false));
        runner.stop("sleeper").unwrap();
        assert_eq!(runner.is_running("sleeper"), None);
        assert!(runner.signal("sleeper", "SIGHUP").is_err());
    }
}
