//! The one builder for `paylink` run as a process: every test that starts
//! the binary starts it through [`paylink`], so that nothing from the test
//! runner's environment (a `PAYLINK_DATABASE_URL` pointing at a real
//! database, a `PAYLINK_MASTER_KEY`) reaches the process under test.

use std::path::PathBuf;
use std::process::Command;

/// The `paylink` binary that cargo built beside the running one:
/// `target/<profile>/paylink`, next to a benchmark binary, or one level up
/// from a test binary (which runs from `target/<profile>/deps`).
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let name = format!("paylink{}", std::env::consts::EXE_SUFFIX);
    let here = exe.parent();
    let bin = [here, here.and_then(std::path::Path::parent)]
        .into_iter()
        .flatten()
        .map(|dir| dir.join(&name))
        .find(|bin| bin.exists());
    bin.unwrap_or_else(|| {
        panic!(
            "no {name} beside {}: build it with cargo (cargo build --release -p paylink for the benchmarks)",
            exe.display()
        )
    })
}

/// `paylink` with a clean environment: every `PAYLINK_*` variable of the
/// test runner removed, and logs at `warn` unless the test sets
/// `PAYLINK_LOG` itself.
pub fn paylink() -> Command {
    let mut cmd = Command::new(binary());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("PAYLINK_") {
            cmd.env_remove(name);
        }
    }
    cmd.env("PAYLINK_LOG", "warn");
    cmd
}

/// What a finished command said: whether it succeeded, its stdout and
/// its stderr.
#[derive(Debug, Clone)]
pub struct Output {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` to its end.
pub fn run(cmd: &mut Command) -> Output {
    let o = cmd
        .output()
        .unwrap_or_else(|e| panic!("running paylink: {e}"));
    Output {
        ok: o.status.success(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}
