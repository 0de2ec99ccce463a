//! The parts of the benchmarks: the served product, the load generators,
//! the baselines and the report.

pub mod completions;
pub mod report;
pub mod scale;
pub mod sdk;
pub mod seed;
pub mod served;
pub mod webhooks;
pub mod writes;
pub mod wrk;

use std::time::Duration;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// A process's CPU time so far, user and system, from `/proc/<pid>/stat`.
pub fn proc_cpu(pid: u32) -> Result<Duration, Error> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(')').ok_or("no /proc stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the command name: state is field 3, utime 14 and stime 15.
    let ticks = |i: usize| -> Result<u64, Error> {
        Ok(fields.get(i).ok_or("short /proc stat")?.parse::<u64>()?)
    };
    let total = ticks(11)? + ticks(12)?;
    Ok(Duration::from_secs_f64(total as f64 / clock_ticks()?))
}

fn clock_ticks() -> Result<f64, Error> {
    let o = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()?;
    Ok(String::from_utf8_lossy(&o.stdout).trim().parse()?)
}

/// A process's resident memory in bytes, from `/proc/<pid>/status`.
pub fn proc_rss(pid: u32) -> Result<u64, Error> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .ok_or("no VmRSS")?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse::<u64>()?;
    Ok(kb * 1024)
}

/// What the figures were measured on.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|m| m.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores ({cpu}); server, load generator and baseline share them")
}

/// Today's date (UTC), `YYYY-MM-DD`.
pub fn today() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let s = paylink_domain::clock::format_utc(i64::try_from(now).unwrap_or(0));
    s.get(..10).unwrap_or(&s).to_string()
}
