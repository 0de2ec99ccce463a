//! Webhook delivery: drains the store's outbox of deliveries.
//!
//! A worker claims due deliveries under a lease, posts each event to its
//! endpoint signed two ways ([`paylink_crypto::webhook`]), and records the
//! outcome: a 2xx is delivered; anything else (another status, a timeout
//! after 10 s, a refused or failed connection) is tried again with
//! exponential back-off and jitter, for up to 3 days; an endpoint whose
//! deliveries have all failed for 3 days is disabled and the account's
//! owners notified. Delivery is at least once: a delivery whose worker
//! died (SIGKILL, power loss) is claimed again when its lease runs out.
//! While others' deliveries wait, no endpoint holds more than a quarter of
//! the attempts in flight, and no account more than half, so one
//! merchant's receivers that hang can't hold up the others' deliveries;
//! an endpoint alone may use three quarters (the rest stays free for
//! whoever comes next).
//!
//! Server-side request forgery (OWASP ASVS 5.0 1.3.6, 15.3.2): the host of
//! an endpoint is resolved at each connection by [`Guard`], and the
//! connection goes only to the addresses it checked (no second lookup a
//! rebinding DNS server could answer differently); loopback, private,
//! link-local, unique-local, multicast and other internal addresses
//! ([`paylink_domain::net::is_internal`]) are refused unless the operator
//! allows their range. Redirects are not followed, proxies from the
//! environment are not used, and at most [`READ_BYTES`] of an answer are
//! read.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use paylink_crypto::Secret;
use paylink_domain::net::{is_internal, Cidr};
use paylink_domain::Clock;
use paylink_store::events::Event;
use paylink_store::webhooks::{ClaimLimits, Claimed, InFlight, Outcome, WebhookEndpoint};
use paylink_store::{Store, StoreError};
use tokio::sync::{mpsc, Semaphore};

/// How long a delivery is retried before it is given up, and how long an
/// endpoint may fail before it is disabled.
pub const GIVE_UP_SECS: i64 = 3 * 86_400;

/// How long a claim holds: longer than an attempt can take.
pub const LEASE_SECS: i64 = 30;

/// The first retry comes after about this long; each next one after
/// twice as long, up to [`MAX_BACKOFF_SECS`].
pub const FIRST_BACKOFF_SECS: i64 = 30;
pub const MAX_BACKOFF_SECS: i64 = 6 * 3_600;

/// Bytes of a receiver's answer read (the rest is not).
pub const READ_BYTES: usize = 4_096;

/// Settings of webhook delivery.
#[derive(Clone)]
pub struct Config {
    /// Internal ranges deliveries may reach anyway (the operator's
    /// choice, e.g. a receiver on the same network; tests allow 127.0.0.1).
    pub allow: Vec<Cidr>,
    /// An attempt's limit, connection and answer together.
    pub timeout: Duration,
    /// Attempts in flight at once.
    pub concurrency: usize,
    /// How long a claim holds its deliveries (longer than `timeout`): an
    /// instance that dies mid-attempt leaves them to others after this.
    pub lease_secs: i64,
    /// How often the outbox is looked at when nothing woke the worker
    /// (deliveries queued by another instance, retries falling due).
    pub poll: Duration,
    /// The clock of the signatures' timestamps: the wall clock, which is
    /// what receivers compare them with (the schedule runs on the app's).
    pub signing_clock: Arc<dyn Clock>,
    /// How host names are resolved (the system's resolver; tests swap in
    /// one that changes its answers).
    pub lookup: Lookup,
}

/// Resolves a host name to addresses.
pub type Lookup = Arc<
    dyn Fn(String) -> Pin<Box<dyn Future<Output = std::io::Result<Vec<SocketAddr>>> + Send>>
        + Send
        + Sync,
>;

/// The system's resolver.
pub fn system_lookup() -> Lookup {
    Arc::new(|host: String| {
        Box::pin(async move { Ok(tokio::net::lookup_host((host.as_str(), 0)).await?.collect()) })
    })
}

impl Default for Config {
    fn default() -> Self {
        Config {
            allow: Vec::new(),
            timeout: Duration::from_secs(10),
            concurrency: 64,
            lease_secs: LEASE_SECS,
            poll: Duration::from_secs(1),
            signing_clock: Arc::new(paylink_domain::clock::SystemClock),
            lookup: system_lookup(),
        }
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("allow", &self.allow)
            .field("timeout", &self.timeout)
            .field("concurrency", &self.concurrency)
            .field("poll", &self.poll)
            .finish_non_exhaustive()
    }
}

/// Why a URL can't be an endpoint, or can't be delivered to.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("Invalid URL: {0}")]
    Invalid(String),
    #[error("The URL must use https or http.")]
    Scheme,
    #[error("Live mode webhook endpoints must use https.")]
    NotHttps,
    /// The message names neither the address the host resolved to nor
    /// whether it resolved (no map of the operator's network).
    #[error("The URL's host {host} is not a public address; webhooks are only sent to public addresses.")]
    Internal { host: String, addr: IpAddr },
    #[error("The URL must not hold credentials (user:password@); receivers tell paylink's deliveries by their signature.")]
    Credentials,
    #[error("The URL's host {0} could not be resolved.")]
    Unresolved(String),
}

/// Whether deliveries may reach `ip`.
pub fn permitted(allow: &[Cidr], ip: IpAddr) -> bool {
    !is_internal(ip) || allow.iter().any(|c| c.contains(ip))
}

/// Parses an endpoint URL: http or https (https only in live mode), with
/// a host, and not an internal address literal (in any spelling: the URL
/// parser reads decimal, octal and hex IPv4 forms as the address they
/// mean, and IPv4-mapped IPv6 forms are checked as IPv4).
pub fn parse_url(raw: &str, livemode: bool, allow: &[Cidr]) -> Result<reqwest::Url, UrlError> {
    let url = reqwest::Url::parse(raw.trim()).map_err(|e| UrlError::Invalid(e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if livemode => return Err(UrlError::NotHttps),
        "http" => {}
        _ => return Err(UrlError::Scheme),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlError::Credentials);
    }
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| UrlError::Invalid("the URL has no host".into()))?;
    if let Some(ip) = ip_literal(host) {
        if !permitted(allow, ip) {
            return Err(UrlError::Internal {
                host: host.to_string(),
                addr: ip,
            });
        }
    }
    Ok(url)
}

/// The address a URL host names literally (`[::1]` included).
fn ip_literal(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// Resolves `host` and checks every address it has: all must be
/// permitted (an answer mixing public and internal addresses is refused
/// whole, so a connection can't fall back to the internal one).
pub async fn resolve_checked(
    lookup: &Lookup,
    allow: &[Cidr],
    host: &str,
) -> Result<Vec<SocketAddr>, UrlError> {
    if let Some(ip) = ip_literal(host) {
        return if permitted(allow, ip) {
            Ok(vec![SocketAddr::new(ip, 0)])
        } else {
            Err(UrlError::Internal {
                host: host.to_string(),
                addr: ip,
            })
        };
    }
    let addrs = lookup(host.to_string())
        .await
        .map_err(|_| UrlError::Unresolved(host.to_string()))?;
    if addrs.is_empty() {
        return Err(UrlError::Unresolved(host.to_string()));
    }
    if let Some(bad) = addrs.iter().find(|a| !permitted(allow, a.ip())) {
        return Err(UrlError::Internal {
            host: host.to_string(),
            addr: bad.ip(),
        });
    }
    Ok(addrs)
}

/// The HTTP client's resolver: [`resolve_checked`], so the connection
/// goes to exactly the addresses checked.
struct Guard {
    allow: Arc<Vec<Cidr>>,
    lookup: Lookup,
}

impl reqwest::dns::Resolve for Guard {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (allow, lookup) = (self.allow.clone(), self.lookup.clone());
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs = resolve_checked(&lookup, &allow, &host).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The client deliveries are made with.
pub fn client(cfg: &Config) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .dns_resolver(Arc::new(Guard {
            allow: Arc::new(cfg.allow.clone()),
            lookup: cfg.lookup.clone(),
        }))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(cfg.timeout)
        .connect_timeout(cfg.timeout)
        .pool_idle_timeout(Duration::from_secs(30))
        .user_agent(concat!(
            "paylink/",
            env!("CARGO_PKG_VERSION"),
            " (webhooks)"
        ))
        .build()
}

/// When to try again after `attempts` failed attempts (this one
/// included) of a delivery queued at `created`, at `now`: about
/// [`FIRST_BACKOFF_SECS`] doubled each time, up to [`MAX_BACKOFF_SECS`],
/// ±20% at random so that many failures don't come back at once; `None`
/// once the delivery has been tried for [`GIVE_UP_SECS`].
pub fn next_attempt(attempts: i64, created: i64, now: i64, jitter: f64) -> Option<i64> {
    let give_up = created.saturating_add(GIVE_UP_SECS);
    if now >= give_up {
        return None;
    }
    let exp = u32::try_from(attempts.saturating_sub(1).clamp(0, 20)).unwrap_or(20);
    let base = FIRST_BACKOFF_SECS
        .saturating_mul(1_i64 << exp)
        .min(MAX_BACKOFF_SECS);
    // `base` is at most 6 hours: exact in an f64.
    #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
    let delay = ((base as f64) * (0.8 + 0.4 * jitter.clamp(0.0, 1.0))).round() as i64;
    Some(now.saturating_add(delay.max(1)).min(give_up))
}

/// The error chain of a failed request, in words (URLs are left out).
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    let mut cause: Option<&dyn std::error::Error> = Some(e);
    while let Some(c) = cause {
        if let Some(u) = c.downcast_ref::<UrlError>() {
            return format!("refused: {u}");
        }
        cause = c.source();
    }
    if e.is_timeout() {
        return format!("timed out after {} s", timeout.as_secs());
    }
    let mut root: &dyn std::error::Error = e;
    while let Some(s) = root.source() {
        root = s;
    }
    if e.is_connect() {
        format!("could not connect: {root}")
    } else {
        format!("request failed: {root}")
    }
}

/// Delivers claimed deliveries.
pub struct Deliverer {
    store: Store,
    clock: Arc<dyn Clock>,
    client: reqwest::Client,
    cfg: Config,
}

impl Deliverer {
    pub fn new(store: Store, clock: Arc<dyn Clock>, cfg: Config) -> Result<Self, reqwest::Error> {
        Ok(Deliverer {
            client: client(&cfg)?,
            store,
            clock,
            cfg,
        })
    }

    /// Reads what the attempts of `claimed` need, once for them all: each
    /// endpoint with its signing secrets, and the events.
    pub async fn load(&self, claimed: &[Claimed]) -> Loaded {
        let mut loaded = Loaded::default();
        let now = self.clock.now();
        for c in claimed {
            let ep = (
                c.scope.account_id.clone(),
                c.scope.livemode,
                c.endpoint_id.clone(),
            );
            if loaded.endpoints.contains_key(&ep) {
                continue;
            }
            let got = match self
                .store
                .webhook_endpoint_with_secrets(&c.scope, &c.endpoint_id, now)
                .await
            {
                Ok(e) => Got::Found(e),
                Err(StoreError::NotFound) => Got::Gone,
                Err(e) => Got::Failed(format!("not attempted: {e}")),
            };
            loaded.endpoints.insert(ep, got);
        }
        let mut scopes: std::collections::BTreeMap<(String, bool), Vec<&str>> =
            std::collections::BTreeMap::new();
        for c in claimed {
            scopes
                .entry((c.scope.account_id.clone(), c.scope.livemode))
                .or_default()
                .push(c.event_id.as_str());
        }
        for ((account_id, livemode), ids) in scopes {
            let scope = paylink_store::Scope {
                account_id: account_id.clone(),
                livemode,
            };
            match self.store.get_events(&scope, &ids).await {
                Ok(events) => {
                    for e in events {
                        loaded
                            .events
                            .insert((account_id.clone(), livemode, e.id.clone()), Got::Found(e));
                    }
                    for id in ids {
                        loaded
                            .events
                            .entry((account_id.clone(), livemode, id.to_string()))
                            .or_insert(Got::Gone);
                    }
                }
                Err(e) => {
                    for id in ids {
                        loaded.events.insert(
                            (account_id.clone(), livemode, id.to_string()),
                            Got::Failed(format!("not attempted: {e}")),
                        );
                    }
                }
            }
        }
        loaded
    }

    /// One attempt of `c`, not yet recorded.
    pub async fn attempt(&self, c: Claimed) -> Outcome {
        let loaded = self.load(std::slice::from_ref(&c)).await;
        self.attempt_loaded(c, &loaded).await
    }

    /// One attempt of `c` with what [`Deliverer::load`] read for it.
    pub async fn attempt_loaded(&self, c: Claimed, loaded: &Loaded) -> Outcome {
        let started = Instant::now();
        let now = self.clock.now();
        let mut o = Outcome {
            claimed: c,
            at: now,
            status: None,
            latency_ms: 0,
            error: None,
            excerpt: None,
            delivered: false,
            retry_at: None,
            disable_if_failing_since: now.saturating_sub(GIVE_UP_SECS),
        };
        match self.post(&o.claimed, loaded).await {
            Ok(Posted::Answered { status, excerpt }) => {
                o.status = Some(status);
                o.excerpt = Some(excerpt);
                o.delivered = (200..300).contains(&status);
            }
            Ok(Posted::Failed(e)) => o.error = Some(e),
            // Nothing to deliver any more: recorded, never retried.
            Err(Gone(why)) => {
                o.error = Some(why.into());
                o.latency_ms = 0;
                return o;
            }
        }
        o.latency_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
        if !o.delivered {
            o.retry_at = next_attempt(
                o.claimed.attempts + 1,
                o.claimed.created,
                now,
                rand::random::<f64>(),
            );
        }
        o
    }

    async fn post(&self, c: &Claimed, loaded: &Loaded) -> Result<Posted, Gone> {
        let ep = (
            c.scope.account_id.clone(),
            c.scope.livemode,
            c.endpoint_id.clone(),
        );
        let (endpoint, secrets) = match loaded.endpoints.get(&ep) {
            Some(Got::Found(e)) => e,
            Some(Got::Failed(e)) => return Ok(Posted::Failed(e.clone())),
            Some(Got::Gone) | None => return Err(Gone("the endpoint was deleted")),
        };
        if !endpoint.enabled() {
            return Err(Gone("the endpoint is disabled"));
        }
        let ev = (
            c.scope.account_id.clone(),
            c.scope.livemode,
            c.event_id.clone(),
        );
        let event = match loaded.events.get(&ev) {
            Some(Got::Found(e)) => e,
            Some(Got::Failed(e)) => return Ok(Posted::Failed(e.clone())),
            Some(Got::Gone) | None => return Err(Gone("the event is no longer kept")),
        };
        let url = match parse_url(&endpoint.url, c.scope.livemode, &self.cfg.allow) {
            Ok(u) => u,
            Err(e) => return Ok(Posted::Failed(format!("refused: {e}"))),
        };
        let body = event.to_api().to_string().into_bytes();
        let refs: Vec<&Secret<String>> = secrets.iter().collect();
        let t = self.cfg.signing_clock.now();
        let headers = match paylink_crypto::webhook::headers(&refs, &event.id, t, &body) {
            Ok(h) => h,
            Err(e) => return Ok(Posted::Failed(format!("not attempted: {e}"))),
        };
        let mut req = self
            .client
            .post(url)
            .header("content-type", "application/json; charset=utf-8");
        for (name, value) in headers {
            req = req.header(name, value);
        }
        let mut resp = match req.body(body).send().await {
            Ok(r) => r,
            Err(e) => return Ok(Posted::Failed(describe(&e, self.cfg.timeout))),
        };
        let status = resp.status().as_u16();
        let mut read = Vec::new();
        while read.len() < READ_BYTES {
            match resp.chunk().await {
                Ok(Some(chunk)) => read.extend_from_slice(&chunk),
                Ok(None) => break,
                // An answer cut short still answered with its status.
                Err(_) => break,
            }
        }
        read.truncate(READ_BYTES);
        Ok(Posted::Answered {
            status,
            excerpt: String::from_utf8_lossy(&read).into_owned(),
        })
    }
}

/// What a claim's attempts need, read once for them all
/// ([`Deliverer::load`]), by (account, mode, id).
#[derive(Default)]
pub struct Loaded {
    endpoints: std::collections::HashMap<Key, Got<Signing>>,
    events: std::collections::HashMap<Key, Got<Event>>,
}

/// (account, mode, id).
type Key = (String, bool, String);

/// An endpoint and the secrets its deliveries are signed with.
type Signing = (WebhookEndpoint, Vec<Secret<String>>);

/// A read for a delivery: found, gone (deleted, or no longer kept), or
/// failed (the database was away: tried again later).
enum Got<T> {
    Found(T),
    Gone,
    Failed(String),
}

enum Posted {
    Answered { status: u16, excerpt: String },
    Failed(String),
}

/// The delivery has nothing left to deliver to, or nothing to deliver.
struct Gone(&'static str);

/// How often a claim looks past the backlog of endpoints at their share
/// of the slots, for other endpoints' deliveries queued behind it.
const LOOK_PAST: Duration = Duration::from_millis(100);

/// Outcomes recorded in one transaction at most.
const FINISH_BATCH: usize = 256;

/// Runs deliveries until the task is dropped: claims what is due (woken
/// when this process queues deliveries, and every `poll` otherwise), keeps
/// up to `concurrency` attempts in flight, and records their outcomes in
/// batches.
pub fn spawn_delivery(
    store: Store,
    clock: Arc<dyn Clock>,
    cfg: Config,
) -> Result<tokio::task::JoinHandle<()>, reqwest::Error> {
    let concurrency = cfg.concurrency.max(1);
    let poll = cfg.poll;
    let lease_secs = cfg.lease_secs.max(1);
    let wake = store.outbox_signal();
    let deliverer = Arc::new(Deliverer::new(store.clone(), clock.clone(), cfg)?);
    let (done, mut outcomes) = mpsc::channel::<Outcome>(concurrency * 2);
    let recorder = {
        let store = store.clone();
        // Recorded outcomes free their endpoint's and account's share:
        // the claimer looks again at once.
        let freed = wake.clone();
        tokio::spawn(async move {
            while let Some(first) = outcomes.recv().await {
                let mut batch = vec![first];
                while batch.len() < FINISH_BATCH {
                    match outcomes.try_recv() {
                        Ok(o) => batch.push(o),
                        Err(_) => break,
                    }
                }
                record(&store, &batch).await;
                freed.notify_one();
            }
        })
    };
    // This worker's claims: tokens "<worker>:<n>", and what it has in
    // flight, counted here as attempts start and end.
    let worker = format!(
        "{}:",
        paylink_domain::id::generate(paylink_domain::IdKind::Event)
            .unwrap_or_else(|_| format!("w{}", std::process::id()))
    );
    let mine = Arc::new(std::sync::Mutex::new(InFlight::default()));
    let ended = Arc::new(tokio::sync::Notify::new());
    let slots_of = |n: usize| i64::try_from(n).unwrap_or(1).max(1);
    // While others wait, no endpoint more than a quarter of the slots, no
    // account more than half (a receiver that hangs holds only its own
    // share); alone, up to three quarters, the last quarter kept for
    // whoever comes next. `batch`: the least a claim waits for.
    let shares = ClaimLimits {
        batch: slots_of(concurrency.div_ceil(4)),
        per_endpoint: slots_of(concurrency.div_ceil(4)),
        per_account: slots_of(concurrency.div_ceil(2)),
        when_alone: slots_of(concurrency - concurrency / 4),
    };
    Ok(tokio::spawn(async move {
        let _recorder = AbortOnDrop(recorder);
        let slots = Arc::new(Semaphore::new(concurrency));
        let mut claims = 0_u64;
        let mut last_look = Instant::now()
            .checked_sub(LOOK_PAST)
            .unwrap_or_else(Instant::now);
        loop {
            let free = slots.available_permits();
            // Claims go in batches: while attempts are in flight, wait
            // until a quarter of the slots are free (one claim is a write).
            let batch = concurrency.div_ceil(4);
            if free < batch {
                // Wait until that many attempts have ended.
                let n = u32::try_from(batch).unwrap_or(1);
                if let Ok(p) = slots.clone().acquire_many_owned(n).await {
                    drop(p);
                }
                continue;
            }
            // At the ceiling of a lone endpoint's share (three quarters in
            // flight here): claim again once a batch of attempts has
            // ended, or when it is time to look past the capped backlog
            // for others' deliveries; not at every wake-up, which would
            // claim nothing.
            let room_alone = shares.when_alone - lock(&mine).total;
            let since = last_look.elapsed();
            if room_alone < shares.batch && since < LOOK_PAST {
                let _ = tokio::time::timeout(LOOK_PAST - since, ended.notified()).await;
                continue;
            }
            claims += 1;
            let token = format!("{worker}{claims}");
            let now = clock.now();
            let limits = ClaimLimits {
                batch: slots_of(free),
                ..shares
            };
            let snapshot = lock(&mine).clone();
            // Past a capped endpoint's backlog at most every LOOK_PAST: no
            // other merchant's delivery waits longer for a slot.
            let look_past = last_look.elapsed() >= LOOK_PAST;
            if look_past {
                last_look = Instant::now();
            }
            let claimed = match store
                .claim_deliveries(
                    now,
                    now + lease_secs,
                    (&worker, &token),
                    limits,
                    &snapshot,
                    look_past,
                )
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim webhook deliveries; will retry");
                    tokio::time::sleep(poll).await;
                    continue;
                }
            };
            let full = claimed.len() == free;
            let loaded = Arc::new(deliverer.load(&claimed).await);
            for c in claimed {
                let Ok(permit) = slots.clone().acquire_owned().await else {
                    return;
                };
                lock(&mine).add(&c);
                let (deliverer, done, mine) = (deliverer.clone(), done.clone(), mine.clone());
                let (loaded, ended) = (loaded.clone(), ended.clone());
                tokio::spawn(async move {
                    let o = deliverer.attempt_loaded(c, &loaded).await;
                    lock(&mine).remove(&o.claimed);
                    ended.notify_one();
                    drop(permit);
                    let _ = done.send(o).await;
                });
            }
            if !full {
                let _ = tokio::time::timeout(poll, wake.notified()).await;
            }
        }
    }))
}

/// The worker's count of attempts in flight (never poisoned in practice:
/// nothing panics while holding it; a poisoned one is used as it stands).
fn lock(m: &std::sync::Mutex<InFlight>) -> std::sync::MutexGuard<'_, InFlight> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Records outcomes, trying again a few times if the database is away;
/// outcomes that can't be recorded are attempted again when their lease
/// runs out (at least once).
async fn record(store: &Store, batch: &[Outcome]) {
    for wait in [0_u64, 1, 2, 4] {
        if wait > 0 {
            tokio::time::sleep(Duration::from_secs(wait)).await;
        }
        match store.finish_deliveries(batch).await {
            Ok(disabled) => {
                for id in disabled {
                    tracing::warn!(endpoint = %id, "webhook endpoint disabled after failing for 3 days; owners notified");
                }
                return;
            }
            Err(e) => tracing::warn!(error = %e, "could not record webhook attempts; will retry"),
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Vec<Cidr> {
        s.parse().map(|c| vec![c]).unwrap_or_default()
    }

    #[test]
    fn back_off_doubles_with_jitter_and_gives_up_after_three_days() {
        assert_eq!(next_attempt(1, 0, 0, 0.5), Some(30));
        assert_eq!(next_attempt(2, 0, 100, 0.5), Some(160));
        assert_eq!(next_attempt(1, 0, 0, 0.0), Some(24));
        assert_eq!(next_attempt(1, 0, 0, 1.0), Some(36));
        assert_eq!(
            next_attempt(30, 0, 1000, 0.5),
            Some(1000 + MAX_BACKOFF_SECS)
        );
        // Never past the last moment, then never again.
        assert_eq!(
            next_attempt(30, 0, GIVE_UP_SECS - 10, 0.5),
            Some(GIVE_UP_SECS)
        );
        assert_eq!(next_attempt(30, 0, GIVE_UP_SECS, 0.5), None);
    }

    #[test]
    fn internal_literals_are_refused_in_every_spelling() {
        for url in [
            "http://127.0.0.1/",
            "http://2130706433/",
            "http://0x7f000001/",
            "http://0177.0.0.1/",
            "http://0x7f.1/",
            "http://127.1/",
            "http://[::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://[::ffff:7f00:1]/",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.1/",
            "http://[fd00::1]/",
            "http://0.0.0.0/",
            "http://224.0.0.1/",
        ] {
            assert!(
                matches!(parse_url(url, false, &[]), Err(UrlError::Internal { .. })),
                "{url}: {:?}",
                parse_url(url, false, &[])
            );
        }
        assert!(parse_url("http://127.0.0.1:9/", false, &cidr("127.0.0.1/32")).is_ok());
        assert!(parse_url("http://[::ffff:127.0.0.1]/", false, &cidr("127.0.0.1/32")).is_ok());
        assert_eq!(
            parse_url("http://example.com/", true, &[]),
            Err(UrlError::NotHttps)
        );
        assert_eq!(
            parse_url("ftp://example.com/", false, &[]),
            Err(UrlError::Scheme)
        );
        assert!(parse_url("https://example.com/hook", true, &[]).is_ok());
        assert_eq!(
            parse_url("https://user:pw@example.com/hook", true, &[]),
            Err(UrlError::Credentials)
        );
        assert!(matches!(
            parse_url("not a url", false, &[]),
            Err(UrlError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn a_name_with_any_internal_address_is_refused() {
        let lookup: Lookup = Arc::new(|_| {
            Box::pin(async {
                Ok(vec![
                    SocketAddr::from(([93, 184, 216, 34], 0)),
                    SocketAddr::from(([10, 0, 0, 1], 0)),
                ])
            })
        });
        assert!(matches!(
            resolve_checked(&lookup, &[], "mixed.example").await,
            Err(UrlError::Internal { .. })
        ));
        let ok = resolve_checked(&lookup, &cidr("10.0.0.0/8"), "mixed.example").await;
        assert_eq!(ok.map(|a| a.len()), Ok(2));
    }
}
