//! Debian's `wrk` as the load generator, and a minimal axum server as the
//! baseline it is compared with.

use std::process::Command;

use super::Error;

/// What `wrk --latency` reported.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Load {
    pub requests_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Responses that were not 2xx or 3xx, and socket errors.
    pub errors: u64,
}

/// `wrk -t2 -c32 -d{secs}s --latency url`.
pub fn run(url: &str, secs: u64) -> Result<Load, Error> {
    run_with(url, secs, &[])
}

/// `wrk` against `base` with its requests going round `paths` (a Lua
/// script of wrk's, one list per thread).
pub fn run_paths(base: &str, paths: &[String], secs: u64) -> Result<Load, Error> {
    let list: Vec<String> = paths
        .iter()
        .map(|p| format!("{:?}", p.replace(['"', '\\'], "")))
        .collect();
    let script = format!(
        "local paths = {{{}}}\nlocal i = 0\nrequest = function()\n  i = i + 1\n  return wrk.format(\"GET\", paths[(i % #paths) + 1])\nend\n",
        list.join(", ")
    );
    let file = tempfile::Builder::new().suffix(".lua").tempfile()?;
    std::fs::write(file.path(), script)?;
    let path = file.path().to_string_lossy().to_string();
    run_args(base, secs, &["-s", &path])
}

/// [`run`] with request `headers` (`"Name: value"`, each a `-H`).
pub fn run_with(url: &str, secs: u64, headers: &[&str]) -> Result<Load, Error> {
    let mut args = Vec::new();
    for h in headers {
        args.extend(["-H", h]);
    }
    run_args(url, secs, &args)
}

/// `wrk -t1 -c1`: one client, one request at a time, so latency is the
/// server's time per request rather than queueing.
pub fn single(url: &str, secs: u64, headers: &[&str]) -> Result<Load, Error> {
    let mut args = vec!["-t1", "-c1"];
    for h in headers {
        args.extend(["-H", h]);
    }
    run_conns(url, secs, &args)
}

/// `wrk -t2 -c32` POSTing `body` as JSON.
pub fn post(url: &str, body: &str, secs: u64) -> Result<Load, Error> {
    let script = format!(
        "wrk.method = \"POST\"\nwrk.body = {body:?}\nwrk.headers[\"Content-Type\"] = \"application/json\"\n"
    );
    let file = tempfile::Builder::new().suffix(".lua").tempfile()?;
    std::fs::write(file.path(), script)?;
    let path = file.path().to_string_lossy().to_string();
    run_args(url, secs, &["-s", &path])
}

fn run_args(url: &str, secs: u64, extra: &[&str]) -> Result<Load, Error> {
    let mut args = vec!["-t2", "-c32"];
    args.extend_from_slice(extra);
    run_conns(url, secs, &args)
}

fn run_conns(url: &str, secs: u64, extra: &[&str]) -> Result<Load, Error> {
    let mut cmd = Command::new("wrk");
    cmd.args([&format!("-d{secs}s"), "--latency"]);
    cmd.args(extra);
    let o = cmd
        .arg(url)
        .output()
        .map_err(|e| format!("wrk (Debian's package wrk) could not run: {e}"))?;
    if !o.status.success() {
        return Err(format!("wrk: {}", String::from_utf8_lossy(&o.stderr)).into());
    }
    parse(&String::from_utf8_lossy(&o.stdout))
}

fn ms(v: &str) -> Option<f64> {
    let (n, unit) = v
        .find(|c: char| c.is_ascii_alphabetic())
        .map(|i| v.split_at(i))?;
    let n: f64 = n.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return None,
    })
}

fn parse(out: &str) -> Result<Load, Error> {
    let mut load = Load {
        requests_per_sec: 0.0,
        p50_ms: 0.0,
        p99_ms: 0.0,
        errors: 0,
    };
    for line in out.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => load.requests_per_sec = v.parse()?,
            ["50%", v] => load.p50_ms = ms(v).ok_or("wrk p50")?,
            ["99%", v] => load.p99_ms = ms(v).ok_or("wrk p99")?,
            ["Non-2xx", "or", "3xx", "responses:", n] => load.errors += n.parse::<u64>()?,
            ["Socket", "errors:", rest @ ..] => {
                for n in rest
                    .iter()
                    .filter_map(|w| w.trim_end_matches(',').parse::<u64>().ok())
                {
                    load.errors += n;
                }
            }
            _ => {}
        }
    }
    if load.requests_per_sec == 0.0 {
        return Err(format!("wrk printed no rate:\n{out}").into());
    }
    Ok(load)
}

/// A minimal axum server (on its own runtime thread) answering every
/// request with `body` as HTML: the baseline for a page of those bytes.
pub fn baseline_server(body: Vec<u8>) -> Result<String, Error> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    listener.set_nonblocking(true)?;
    let url = format!("http://{}/", listener.local_addr()?);
    let body = axum::body::Bytes::from(body);
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build();
        let Ok(rt) = rt else { return };
        rt.block_on(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                return;
            };
            let app = axum::Router::new().fallback(move || {
                let body = body.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
                        body,
                    )
                }
            });
            let _ = axum::serve(listener, app).await;
        });
    });
    // Bound above: connections wait in its backlog until it accepts.
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_output() -> Result<(), Error> {
        let out = "Running 5s test @ http://127.0.0.1:1/\n  2 threads and 32 connections\n  Latency Distribution\n     50%  210.00us\n     75%  300.00us\n     90%    1.20ms\n     99%    4.80ms\n  600000 requests in 5.00s, 1.00GB read\n  Non-2xx or 3xx responses: 3\nRequests/sec: 131031.20\nTransfer/sec:    200.00MB\n";
        let l = parse(out)?;
        assert_eq!(l.requests_per_sec, 131031.2);
        assert!((l.p50_ms - 0.21).abs() < 1e-9);
        assert_eq!(l.p99_ms, 4.8);
        assert_eq!(l.errors, 3);
        Ok(())
    }
}
