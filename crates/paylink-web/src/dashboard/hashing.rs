//! Where password hashing runs: a few dedicated threads at a lower CPU
//! priority (nice 10 on Linux), fed through a bounded queue. A sign-in is
//! admitted to the queue before any other work is done for it; when the
//! queue is full it is turned away at once (429), so a flood of sign-ins
//! costs the server little beyond the hashes it chose to run, and the
//! scheduler keeps serving API requests first.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// The queue is full (or the pool stopped).
#[derive(Debug)]
pub struct Busy;

pub struct HashPool {
    jobs: SyncSender<Job>,
    waiting: Arc<AtomicUsize>,
    queue: usize,
}

/// A place in the queue; given back when the job is done or dropped.
pub struct Ticket(Arc<AtomicUsize>);

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Lowers the calling thread's scheduling priority (Linux: nice 10).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        if let Err(e) = rustix::process::setpriority_process(Some(tid), 10) {
            tracing::warn!(error = %e, "could not lower the hashing thread's priority");
        }
    }
}

fn worker(rx: Arc<Mutex<Receiver<Job>>>) {
    lower_priority();
    loop {
        let job = match rx.lock() {
            Ok(guard) => guard.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return, // the pool was dropped
        }
    }
}

impl HashPool {
    /// `threads` hashing threads, at most `queue` sign-ins queued or running.
    pub fn new(threads: usize, queue: usize) -> Self {
        let threads = threads.max(1);
        let queue = queue.max(threads);
        let (tx, rx) = sync_channel::<Job>(queue);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            if let Err(e) = std::thread::Builder::new()
                .name(format!("paylink-hash-{i}"))
                .spawn(move || worker(rx))
            {
                tracing::error!(error = %e, "could not start a hashing thread");
            }
        }
        HashPool {
            jobs: tx,
            waiting: Arc::new(AtomicUsize::new(0)),
            queue,
        }
    }

    /// One thread per two cores (at least one), 32 sign-ins queued.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        HashPool::new((cores / 2).max(1), 32)
    }

    /// A place in the queue, or [`Busy`] at once.
    pub fn admit(&self) -> Result<Ticket, Busy> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(Busy);
        }
        Ok(Ticket(self.waiting.clone()))
    }

    /// Runs `work` on a hashing thread with an admitted ticket.
    pub async fn run_admitted<T: Send + 'static>(
        &self,
        ticket: Ticket,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let out = work();
            // The place is free before the answer is: a caller that got
            // its answer never finds its own place still taken.
            drop(ticket);
            let _ = tx.send(out);
        });
        self.jobs.try_send(job).map_err(|_| Busy)?;
        rx.await.map_err(|_| Busy)
    }

    /// Admits and runs `work`.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let ticket = self.admit()?;
        self.run_admitted(ticket, work).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_work_and_turns_away_past_the_queue() {
        let pool = HashPool::new(1, 2);
        assert_eq!(pool.run(|| 2 + 2).await.ok(), Some(4));
        let a = pool.admit();
        let b = pool.admit();
        assert!(a.is_ok() && b.is_ok());
        assert!(pool.admit().is_err(), "the queue holds two");
        drop(a);
        assert!(pool.admit().is_ok(), "a place is given back");
    }
}
