//! A private Keystone process of one test, over the testbed's own database,
//! configuration and fernet keys: the same Keystone (same users, tokens,
//! objects), on a port of its own, that the test may freeze (`SIGSTOP`),
//! thaw (`SIGCONT`), stop (its processes gone: connection refused) and
//! start again without touching the testbed's Keystones, which other tests
//! use at the same time.
//!
//! ```ignore
//! let mut keystone = PrivateKeystone::of_b().await;
//! // point the service under test at keystone.url() ...
//! keystone.freeze();   // a hung Keystone: connections accepted, nothing answered
//! keystone.thaw();
//! keystone.stop();     // connection refused
//! keystone.start().await;
//! ```
//!
//! It is the Keystone venv's uwsgi serving `testbed/lib/keystone_wsgi.py`
//! as `testbed.sh` starts the processes of A's other SAML identities
//! (`--http`, one worker, the Keystone's `keystone.conf` and write lock;
//! for B also `--enable-threads`, as B's own uwsgi), in a process
//! group of its own so that one signal reaches the master, the HTTP router
//! and the worker. Killed (by its process group id) when dropped.

use std::os::unix::fs::MetadataExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mercador_core::keystone::{HttpClient, HttpConfig};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use url::Url;

use crate::{Identity, Testbed};

/// How long a (re)start may take on a loaded machine.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// A Keystone process of one test; see the module's documentation.
#[derive(Debug)]
pub struct PrivateKeystone {
    what: String,
    config: PathBuf,
    write_lock: PathBuf,
    /// Keystone B's catalog driver reads the vregions in a thread.
    enable_threads: bool,
    port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl PrivateKeystone {
    /// Keystone B (`KEYSTONE_B_CONFIG`), started and answering. Callers
    /// reaching it bypass B's Apache and Shibboleth; K2K logins keep going
    /// through the testbed's `KEYSTONE_B_URL`.
    pub async fn of_b() -> Self {
        let tb = Testbed::get();
        Self::start_new(
            "Keystone B".into(),
            PathBuf::from(tb.var("KEYSTONE_B_CONFIG")),
            PathBuf::from(tb.var("KEYSTONE_B_WRITE_LOCK")),
            true,
        )
        .await
    }

    /// Keystone A as SAML `identity` (its `keystone.conf`: the same entity
    /// id and signing key), started and answering.
    pub async fn of_a(identity: &Identity) -> Self {
        let tb = Testbed::get();
        let config = if identity.index == 0 {
            tb.var("KEYSTONE_A_CONFIG").to_owned()
        } else {
            tb.var(&format!("KEYSTONE_A_IDP_{}_CONFIG", identity.index)).to_owned()
        };
        Self::start_new(
            format!("Keystone A (identity {})", identity.index),
            PathBuf::from(config),
            PathBuf::from(tb.var("KEYSTONE_A_WRITE_LOCK")),
            false,
        )
        .await
    }

    async fn start_new(what: String, config: PathBuf, write_lock: PathBuf, enable_threads: bool) -> Self {
        assert!(config.is_file(), "{what}: no configuration {} (restart the testbed)", config.display());
        let dir = tempfile::Builder::new().prefix("mercador-private-keystone-").tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
        let mut keystone = Self { what, config, write_lock, enable_threads, port, dir, child: None };
        keystone.start().await;
        keystone
    }

    /// Its identity v3 URL (`http://127.0.0.1:<port>/v3`).
    pub fn url(&self) -> Url {
        Url::parse(&format!("http://127.0.0.1:{}/v3", self.port)).expect("url")
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The uwsgi master's process id, which is also the process group's
    /// (panics when stopped).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap_or_else(|| panic!("{} is stopped", self.what)).id()
    }

    /// uwsgi's log (Keystone's own goes where its `keystone.conf` says,
    /// the testbed's log of that Keystone).
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("uwsgi.log")
    }

    /// Starts the processes (again, on the same port) and waits until
    /// `GET /v3` answers 200.
    pub async fn start(&mut self) {
        assert!(self.child.is_none(), "{} runs already", self.what);
        let tb = Testbed::get();
        let mut command = Command::new(tb.var("KEYSTONE_UWSGI"));
        command
            .args(["--http", &format!("127.0.0.1:{}", self.port), "--http-keepalive"])
            .args(["--pythonpath", tb.var("KEYSTONE_WSGI_PYTHONPATH")])
            .args(["--module", "keystone_wsgi:application", "--master", "--threads", "1", "--processes", "1"])
            .args(["--die-on-term", "--lazy-apps", "--virtualenv", tb.var("MERCADOR_TESTBED_VENV")])
            .arg("--env")
            .arg(format!("OS_KEYSTONE_CONFIG_FILES={}", self.config.display()))
            .arg("--env")
            .arg(format!("MERCADOR_KEYSTONE_WRITE_LOCK={}", self.write_lock.display()))
            .arg("--logto")
            .arg(self.log_path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        if self.enable_threads {
            command.arg("--enable-threads");
        }
        self.child = Some(command.spawn().unwrap_or_else(|e| panic!("start {} (uwsgi): {e}", self.what)));
        let http = HttpClient::new(&HttpConfig { timeout: Duration::from_secs(10), ..HttpConfig::default() })
            .expect("HTTP client");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().expect("try_wait")) {
                self.child = None;
                panic!("{} exited during start ({status}); uwsgi log:\n{}", self.what, self.log_tail(40));
            }
            if let Ok(answer) = http.reqwest().get(self.url()).send().await
                && answer.status().as_u16() == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} does not answer on {} after {START_TIMEOUT:?}; uwsgi log:\n{}",
                self.what,
                self.url(),
                self.log_tail(40)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// `SIGSTOP` to every process of it, as a hung Keystone: the kernel
    /// still accepts connections, nothing is answered. Done at a moment
    /// when none of its processes holds the Keystone's write lock (which
    /// the testbed's processes of the same Keystone share): a frozen
    /// holder would hold up other tests' logins; it retries for a while
    /// (thawing in between) until it finds one.
    pub fn freeze(&mut self) {
        let pgid = Pid::from_raw(self.pid() as i32);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            killpg(pgid, Signal::SIGSTOP).unwrap_or_else(|e| panic!("SIGSTOP {}: {e}", self.what));
            // Signals are delivered asynchronously: check the locks once
            // every process of it has stopped.
            let stopping = Instant::now();
            while !group_members(pgid.as_raw(), true).iter().all(|pid| state_and_group(*pid).is_none_or(|s| s.0 == "T"))
            {
                assert!(stopping.elapsed() < Duration::from_secs(10), "{}: not stopped 10 s after SIGSTOP", self.what);
                std::thread::sleep(Duration::from_millis(5));
            }
            let holders = self.lock_holders();
            if holders.is_empty() {
                return;
            }
            killpg(pgid, Signal::SIGCONT).unwrap_or_else(|e| panic!("SIGCONT {}: {e}", self.what));
            assert!(Instant::now() < deadline, "{}: processes {holders:?} hold its write lock for 30 s", self.what);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// `SIGCONT` to every process of it: it answers what it was sent.
    pub fn thaw(&mut self) {
        let pgid = Pid::from_raw(self.pid() as i32);
        killpg(pgid, Signal::SIGCONT).unwrap_or_else(|e| panic!("SIGCONT {}: {e}", self.what));
    }

    /// Stops it for real: `SIGKILL` to every process of it, and waits until
    /// they are gone (connections to its port are refused from then on).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else { return };
        let pgid = Pid::from_raw(child.id() as i32);
        let _ = killpg(pgid, Signal::SIGKILL);
        let _ = child.wait();
        // The HTTP router and the worker got the SIGKILL too (zombies
        // until whoever inherits them reaps them: they hold nothing).
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let alive = group_members(pgid.as_raw(), true);
            if alive.is_empty() {
                break;
            }
            assert!(Instant::now() < deadline, "{}: processes {alive:?} still there 30 s after SIGKILL", self.what);
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Its processes that hold the write lock (`/proc/locks`).
    fn lock_holders(&self) -> Vec<i32> {
        let Ok(meta) = std::fs::metadata(&self.write_lock) else { return Vec::new() };
        let members = self.child.as_ref().map(|c| group_members(c.id() as i32, false)).unwrap_or_default();
        let locks = std::fs::read_to_string("/proc/locks").unwrap_or_default();
        lock_holders_of(&locks, meta.ino()).into_iter().filter(|pid| members.contains(pid)).collect()
    }

    fn log_tail(&self, lines: usize) -> String {
        let log = std::fs::read_to_string(self.log_path()).unwrap_or_default();
        let all: Vec<&str> = log.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

/// The processes of group `pgid` (`/proc/<pid>/stat`), zombies left out
/// when `alive_only`.
fn group_members(pgid: i32, alive_only: bool) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            state_and_group(*pid).is_some_and(|(state, group)| group == pgid && !(alive_only && state == "Z"))
        })
        .collect()
}

/// The state (`R`, `S`, `T`, `Z`...) and process group of `pid`, from
/// `/proc/<pid>/stat` (after the command's name: state, parent, group).
fn state_and_group(pid: i32) -> Option<(String, i32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.to_owned();
    Some((state, fields.nth(1)?.parse().ok()?))
}

/// The pids holding a lock on the file of inode `ino`, from `/proc/locks`
/// (`1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF`; waiters, marked
/// `->`, hold nothing).
fn lock_holders_of(locks: &str, ino: u64) -> Vec<i32> {
    locks
        .lines()
        .filter(|l| !l.contains("->"))
        .filter_map(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            let inode = fields.get(5)?.rsplit(':').next()?.parse::<u64>().ok()?;
            (inode == ino).then(|| fields.get(4)?.parse().ok()).flatten()
        })
        .collect()
}

impl Drop for PrivateKeystone {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            let pgid = Pid::from_raw(child.id() as i32);
            let _ = killpg(pgid, Signal::SIGCONT);
        }
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_holders_from_proc_locks() {
        let locks = "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF\n\
                     1: -> FLOCK  ADVISORY  WRITE 999 08:01:5678 0 EOF\n\
                     2: POSIX  ADVISORY  WRITE 42 00:2a:77 0 EOF\n";
        assert_eq!(lock_holders_of(locks, 5678), vec![1234]);
        assert_eq!(lock_holders_of(locks, 77), vec![42]);
        assert!(lock_holders_of(locks, 1).is_empty());
    }

    #[test]
    fn a_process_group_stopped_continued_and_killed() {
        let mut child = Command::new("sleep").arg("60").process_group(0).spawn().expect("sleep");
        let pgid = child.id() as i32;
        assert_eq!(group_members(pgid, true), vec![pgid]);
        killpg(Pid::from_raw(pgid), Signal::SIGSTOP).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while state_and_group(pgid).map(|s| s.0) != Some("T".to_owned()) {
            assert!(Instant::now() < deadline, "not stopped");
            std::thread::sleep(Duration::from_millis(10));
        }
        killpg(Pid::from_raw(pgid), Signal::SIGCONT).unwrap();
        killpg(Pid::from_raw(pgid), Signal::SIGKILL).unwrap();
        child.wait().unwrap();
        assert!(group_members(pgid, true).is_empty());
    }
}
