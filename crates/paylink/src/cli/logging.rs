//! Logging: to stderr and, with `--log-dir`, to daily files kept 14
//! days; every line scrubbed of card-like numbers and email addresses.

/// Log files are kept this many days (one file a day).
pub(super) const LOG_RETENTION_DAYS: usize = 14;

/// A log writer that scrubs each formatted line before it is written.
struct Scrubbed<M>(M);

struct ScrubLine<W: std::io::Write> {
    inner: W,
    buf: Vec<u8>,
}

impl<W: std::io::Write> std::io::Write for ScrubLine<W> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let text = String::from_utf8_lossy(&self.buf).into_owned();
            self.buf.clear();
            self.inner
                .write_all(paylink_domain::redact::scrub(&text).as_bytes())?;
        }
        self.inner.flush()
    }
}

impl<W: std::io::Write> Drop for ScrubLine<W> {
    fn drop(&mut self) {
        let _ = std::io::Write::flush(self);
    }
}

impl<'a, M: tracing_subscriber::fmt::MakeWriter<'a>> tracing_subscriber::fmt::MakeWriter<'a>
    for Scrubbed<M>
{
    type Writer = ScrubLine<M::Writer>;
    fn make_writer(&'a self) -> Self::Writer {
        ScrubLine {
            inner: self.0.make_writer(),
            buf: Vec::new(),
        }
    }
}

/// Makes the log directory owner-only (0700) and every log file in it
/// 0600 (older installs wrote 0644). New files are 0600 through the
/// process umask set in [`main`].
fn private_log_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                std::fs::set_permissions(entry.path(), std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    Ok(())
}

/// Installs the global subscriber. Lines are formatted (and scrubbed) on
/// the thread that logs, and written by a thread of their own, so that a
/// request never waits on the terminal, a pipe or the disk. The writer
/// blocks rather than drop a line when it falls behind. The guards flush what is left
/// when they are dropped, at exit.
pub(super) fn init_logging(
    log_dir: Option<&std::path::Path>,
) -> Result<Vec<tracing_appender::non_blocking::WorkerGuard>, String> {
    use tracing_subscriber::fmt::writer::MakeWriterExt;
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("PAYLINK_LOG").unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    let json = std::env::var("PAYLINK_LOG_FORMAT").is_ok_and(|v| v == "json");
    let (file, guard) = match log_dir {
        Some(dir) => {
            private_log_dir(dir).map_err(|e| format!("--log-dir {}: {e}", dir.display()))?;
            let appender = tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix("paylink")
                .filename_suffix("log")
                .max_log_files(LOG_RETENTION_DAYS)
                .build(dir)
                .map_err(|e| format!("--log-dir {}: {e}", dir.display()))?;
            let (w, g) = writer_thread(std::io::BufWriter::new(appender));
            (Some(w), Some(g))
        }
        None => (None, None),
    };
    let (stderr, stderr_guard) = writer_thread(std::io::BufWriter::new(std::io::stderr()));
    let inner = match file {
        Some(w) => tracing_subscriber::fmt::writer::BoxMakeWriter::new(stderr.and(w)),
        None => tracing_subscriber::fmt::writer::BoxMakeWriter::new(stderr),
    };
    let writer = Scrubbed(inner);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(log_dir.is_none() && std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(std::iter::once(stderr_guard).chain(guard).collect())
}

/// Lines queued for a writer thread at most; a logger waits when it is full.
const QUEUED_LINES: usize = 16_384;

/// A writer whose lines a dedicated thread writes to `w` (a `BufWriter`,
/// flushed whenever the queue is empty: one system call for many lines),
/// in order, blocking instead of dropping lines when it falls behind.
fn writer_thread<W: std::io::Write + Send + 'static>(
    w: W,
) -> (
    tracing_appender::non_blocking::NonBlocking,
    tracing_appender::non_blocking::WorkerGuard,
) {
    tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(QUEUED_LINES)
        .finish(w)
}
