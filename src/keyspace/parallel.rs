//! Work on pages of a scan (decoding values, mostly) spread over a pool of
//! threads while the next pages are read, with the results handed back in
//! the order the work was given: output stays in key order, byte for byte
//! what one thread would print. Never prints, never talks to etcd.
//!
//! Decoding a value to Kubernetes JSON costs more CPU than etcd spends
//! reading it, so one decoding thread bounds `get --all` on a machine with
//! cores to spare. Memory stays bounded: at most a few jobs per worker are
//! in flight or waiting for an earlier one, and the caller blocks (the
//! scan's readers keep reading ahead meanwhile) until one is done.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;

use etcd_client::KeyValue;

use crate::error::{Error, Result};

/// Jobs in flight per worker: enough to keep every worker busy while the
/// caller prints the oldest.
const JOBS_PER_WORKER: usize = 4;

/// A job of about this many bytes of values (or [`CHUNK_KEYS`] keys),
/// whichever comes first: small enough to spread a page over the workers.
const CHUNK_BYTES: usize = 512 * 1024;
const CHUNK_KEYS: usize = 128;

/// How many threads decode: `--decode-workers`, else one per core.
pub fn workers(asked: Option<usize>) -> usize {
    asked
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        })
        .max(1)
}

/// Cut a page into jobs of about [`CHUNK_BYTES`] or [`CHUNK_KEYS`] each,
/// in order.
pub fn chunks(kvs: &[KeyValue]) -> Vec<Vec<KeyValue>> {
    let mut out = Vec::new();
    let mut chunk = Vec::new();
    let mut bytes = 0;
    for kv in kvs {
        bytes += kv.key().len() + kv.value().len();
        chunk.push(kv.clone());
        if bytes >= CHUNK_BYTES || chunk.len() >= CHUNK_KEYS {
            out.push(std::mem::take(&mut chunk));
            bytes = 0;
        }
    }
    if !chunk.is_empty() {
        out.push(chunk);
    }
    out
}

/// A pool of threads applying one function to jobs, results in job order.
pub struct Pool<J, R> {
    jobs: Option<mpsc::Sender<(u64, J)>>,
    results: mpsc::Receiver<(u64, Option<R>)>,
    threads: Vec<JoinHandle<()>>,
    /// The number the next job gets.
    next_job: u64,
    /// The number of the next result to hand back.
    next_result: u64,
    /// Results that came back before an earlier one.
    early: BTreeMap<u64, R>,
    limit: usize,
}

impl<J: Send + 'static, R: Send + 'static> Pool<J, R> {
    /// `workers` threads applying `work`.
    pub fn new<F>(workers: usize, work: F) -> Pool<J, R>
    where
        F: Fn(J) -> R + Send + Sync + 'static,
    {
        let (jobs, job_rx) = mpsc::channel::<(u64, J)>();
        let (result_tx, results) = mpsc::channel();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let work = Arc::new(work);
        let threads = (0..workers.max(1))
            .map(|_| {
                let (job_rx, result_tx, work) = (job_rx.clone(), result_tx.clone(), work.clone());
                std::thread::spawn(move || loop {
                    let job = match job_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok((number, job)) = job else { return };
                    // A panic becomes a missing result the caller reports,
                    // not a pool that waits forever.
                    let result = catch_unwind(AssertUnwindSafe(|| work(job))).ok();
                    let failed = result.is_none();
                    if result_tx.send((number, result)).is_err() || failed {
                        return;
                    }
                })
            })
            .collect();
        Pool {
            jobs: Some(jobs),
            results,
            threads,
            next_job: 0,
            next_result: 0,
            early: BTreeMap::new(),
            limit: workers.max(1) * JOBS_PER_WORKER,
        }
    }

    /// Hand over a job, and give `done` every result now ready in order.
    /// Blocks while the pool is full, until the oldest job is done.
    pub fn submit(&mut self, job: J, done: &mut dyn FnMut(R) -> Result<()>) -> Result<()> {
        let sender = self.jobs.as_ref().ok_or_else(stopped)?;
        sender.send((self.next_job, job)).map_err(|_| stopped())?;
        self.next_job += 1;
        // Whatever is ready, without waiting.
        while let Ok(r) = self.results.try_recv() {
            self.take(r, done)?;
        }
        while self.next_job - self.next_result > self.limit as u64 {
            let r = self.results.recv().map_err(|_| stopped())?;
            self.take(r, done)?;
        }
        Ok(())
    }

    /// Wait for every job given so far, giving `done` their results in
    /// order; the pool takes more jobs after.
    pub fn drain(&mut self, done: &mut dyn FnMut(R) -> Result<()>) -> Result<()> {
        while self.next_result < self.next_job {
            let r = self.results.recv().map_err(|_| stopped())?;
            self.take(r, done)?;
        }
        Ok(())
    }

    /// Wait for every job, giving `done` the remaining results in order.
    pub fn finish(mut self, done: &mut dyn FnMut(R) -> Result<()>) -> Result<()> {
        self.drain(done)
    }

    fn take(
        &mut self,
        (number, result): (u64, Option<R>),
        done: &mut dyn FnMut(R) -> Result<()>,
    ) -> Result<()> {
        let result = result.ok_or_else(stopped)?;
        self.early.insert(number, result);
        while let Some(r) = self.early.remove(&self.next_result) {
            self.next_result += 1;
            done(r)?;
        }
        Ok(())
    }
}

impl<J, R> Drop for Pool<J, R> {
    fn drop(&mut self) {
        // Closing the job channel ends every thread once its job is done.
        self.jobs = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A worker ended without a result; the caller's errors stay its own.
fn stopped() -> Error {
    super::Error::WorkerStopped.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_back_in_job_order_whatever_the_timing() {
        let mut pool = Pool::new(4, |n: u64| {
            // Later jobs finish first.
            std::thread::sleep(std::time::Duration::from_millis((50 - n % 50) / 10));
            n * 2
        });
        let mut seen = Vec::new();
        for n in 0..200 {
            pool.submit(n, &mut |r| {
                seen.push(r);
                Ok(())
            })
            .unwrap();
            // Never more than the limit in flight or waiting.
            assert!(pool.next_job - pool.next_result <= pool.limit as u64);
        }
        pool.finish(&mut |r| {
            seen.push(r);
            Ok(())
        })
        .unwrap();
        assert_eq!(seen, (0..200).map(|n| n * 2).collect::<Vec<_>>());
    }

    #[test]
    fn a_panicking_job_is_an_error_not_a_hang() {
        let mut pool = Pool::new(2, |n: u32| {
            assert!(n != 3, "job 3 fails");
            n
        });
        let mut outcome = Ok(());
        for n in 0..50 {
            outcome = pool.submit(n, &mut |_| Ok(()));
            if outcome.is_err() {
                break;
            }
        }
        let outcome = outcome.and_then(|()| pool.finish(&mut |_| Ok(())));
        assert!(matches!(
            outcome.unwrap_err().keyspace(),
            Some(super::super::Error::WorkerStopped)
        ));
    }
}
