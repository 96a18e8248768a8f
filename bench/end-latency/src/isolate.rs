//! `--isolate`: the servers on some cores, the load generator on the others, so that neither side's figures include
//! the other's work. Pinning is done with `taskset` (util-linux), which every Debian machine has.

use anyhow::{bail, Context, Result};
use std::fmt;

/// The CPUs this process may run on, from `Cpus_allowed_list` in /proc/self/status (e.g. `0-3,6`): in a container
/// these need not start at 0.
pub fn allowed_cpus() -> Result<Vec<usize>> {
    let status = std::fs::read_to_string("/proc/self/status").context("read /proc/self/status")?;
    let list = status
        .lines()
        .find_map(|line| line.strip_prefix("Cpus_allowed_list:"))
        .context("no Cpus_allowed_list in /proc/self/status")?;
    parse_cpu_list(list.trim())
}

/// Parses the kernel's CPU list format (`0-3,6,8-9`).
pub fn parse_cpu_list(list: &str) -> Result<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in list.split(',').filter(|part| !part.is_empty()) {
        match part.split_once('-') {
            Some((first, last)) => cpus.extend(first.parse::<usize>()?..=last.parse::<usize>()?),
            None => cpus.push(part.parse()?),
        }
    }
    Ok(cpus)
}

/// Which cores the servers (ours and the floor, one at a time) get and which the clients get.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreSplit {
    pub server: Vec<usize>,
    pub clients: Vec<usize>,
}

impl CoreSplit {
    /// On 2 cores one each; on more, two for the server (the size the targets are stated for) and the rest for the
    /// clients. Errors on one core: there is nothing to isolate.
    pub fn of(cpus: &[usize]) -> Result<CoreSplit> {
        let server_cores = match cpus.len() {
            0 | 1 => bail!("--isolate needs at least 2 cores, this process may use {}", cpus.len()),
            2 => 1,
            _ => 2,
        };
        Ok(CoreSplit { server: cpus[..server_cores].to_vec(), clients: cpus[server_cores..].to_vec() })
    }

    /// Pins every thread of process `pid` (this one: the tokio workers already exist) to the clients' cores.
    pub fn pin_clients(&self, pid: u32) -> Result<()> {
        let status = std::process::Command::new("taskset")
            .args(["--all-tasks", "--cpu-list", "--pid", &list(&self.clients), &pid.to_string()])
            .stdout(std::process::Stdio::null())
            .status()
            .context("run taskset (util-linux)")?;
        if !status.success() {
            bail!("taskset could not pin the load generator: {status}");
        }
        Ok(())
    }

    /// `taskset --cpu-list SERVER_CORES`, to put in front of a server's command line (taskset execs it, so the
    /// child's pid is the server's).
    pub fn server_prefix(&self) -> [String; 3] {
        ["taskset".into(), "--cpu-list".into(), list(&self.server)]
    }
}

impl fmt::Display for CoreSplit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "server on cpu {}, clients on cpu {}", list(&self.server), list(&self.clients))
    }
}

fn list(cpus: &[usize]) -> String {
    cpus.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse_like_the_kernel_writes_them() {
        assert_eq!(parse_cpu_list("0-1").unwrap(), vec![0, 1]);
        assert_eq!(parse_cpu_list("0-3,6,8-9").unwrap(), vec![0, 1, 2, 3, 6, 8, 9]);
        assert!(parse_cpu_list("x").is_err());
    }

    #[test]
    fn two_cores_split_one_each_and_more_give_the_server_two() {
        assert_eq!(CoreSplit::of(&[0, 1]).unwrap(), CoreSplit { server: vec![0], clients: vec![1] });
        assert_eq!(CoreSplit::of(&[4, 5, 6, 7]).unwrap(), CoreSplit { server: vec![4, 5], clients: vec![6, 7] });
        assert!(CoreSplit::of(&[0]).is_err());
    }
}
