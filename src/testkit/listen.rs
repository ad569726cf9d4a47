//! A child process on a port the kernel picks: `sloop run --listen 127.0.0.1:0` logs the address
//! it bound (`status page at http://ADDR/`), Prometheus too (`msg="Listening on"
//! address=ADDR`), and the test reads it from there. A port chosen by the test (bind, note,
//! release, pass it on) could be taken by anything else on the machine in between; a child
//! process cannot be handed a listener, only an address.

use std::{
    io::{BufRead, BufReader, Read},
    net::SocketAddr,
    sync::mpsc,
    thread::JoinHandle,
    time::Duration,
};

/// The address in `sloop run`'s "status page at http://ADDR/" log line, if `line` is that one.
pub fn listen_address(line: &str) -> Option<SocketAddr> {
    let rest = line.split("status page at http://").nth(1)?;
    rest.split('/').next()?.parse().ok()
}

/// The address in Prometheus's `msg="Listening on" address=ADDR` log line.
pub fn prometheus_address(line: &str) -> Option<SocketAddr> {
    let rest = line.split("msg=\"Listening on\"").nth(1)?;
    rest.split("address=")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The log of a running child, copied on a thread until the child closes it.
pub struct FollowedLog {
    /// Where the child's server listens.
    pub addr: SocketAddr,
    copier: JoinHandle<String>,
}

impl FollowedLog {
    /// Follows `log` (the child's standard error) until it names the address it listens on,
    /// for at most `within`; every line is kept. `Err` holds what was read when the address did
    /// not come in time (the child failed to start, or took too long).
    pub fn until_listening(log: impl Read + Send + 'static, within: Duration) -> Result<Self, String> {
        Self::until(log, within, listen_address)
    }

    /// As [`FollowedLog::until_listening`], with `find` reading the address from a line.
    pub fn until(
        log: impl Read + Send + 'static,
        within: Duration,
        find: fn(&str) -> Option<SocketAddr>,
    ) -> Result<Self, String> {
        let (found, address) = mpsc::channel();
        let copier = std::thread::spawn(move || {
            let mut text = String::new();
            let mut found = Some(found);
            for line in BufReader::new(log).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = find(&line)
                    && let Some(tx) = found.take()
                {
                    let _ = tx.send(addr);
                }
                text.push_str(&line);
                text.push('\n');
            }
            text
        });
        match address.recv_timeout(within) {
            Ok(addr) => Ok(Self { addr, copier }),
            Err(_) if copier.is_finished() => Err(format!(
                "the child closed its log without saying where it listens:\n{}",
                copier.join().unwrap_or_default()
            )),
            Err(_) => Err(format!("no listen address logged within {within:?}")),
        }
    }

    /// The whole log; call once the child has ended (or been killed), or this waits for it.
    pub fn text(self) -> String {
        self.copier.join().unwrap_or_default()
    }
}
