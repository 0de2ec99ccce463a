//! A webhook receiver on loopback for tests and benchmarks: it keeps every
//! request it gets (headers and body) and answers each with the next
//! reply of its plan (200 once the plan is used up).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// What the receiver answers one request with.
#[derive(Debug, Clone)]
pub enum Reply {
    Status(u16),
    /// A 302 to this location.
    Redirect(String),
    /// No answer for this long (a receiver that hangs).
    Hang(std::time::Duration),
}

/// One request received.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Default)]
struct Inner {
    received: Mutex<Vec<Received>>,
    plan: Mutex<VecDeque<Reply>>,
}

#[derive(Clone)]
pub struct Receiver {
    /// `http://<addr>/hook`.
    pub url: String,
    pub addr: std::net::SocketAddr,
    inner: Arc<Inner>,
}

impl Receiver {
    /// A receiver listening on `ip` (e.g. "127.0.0.1"), on a free port.
    pub async fn start(ip: &str) -> Self {
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Inner::default());
        let state = inner.clone();
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let state = state.clone();
            async move { answer(&state, headers, body).await }
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://{addr}/hook"),
            addr,
            inner,
        }
    }

    /// The next requests are answered with `replies`, in order.
    pub fn plan(&self, replies: impl IntoIterator<Item = Reply>) {
        self.inner.plan.lock().unwrap().extend(replies);
    }

    /// Forgets what is left of the plan: 200 from now on.
    pub fn clear_plan(&self) {
        self.inner.plan.lock().unwrap().clear();
    }

    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    pub fn count(&self) -> usize {
        self.inner.received.lock().unwrap().len()
    }

    /// Waits (up to `secs` seconds of real time) until at least `n`
    /// requests arrived; returns them.
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<Received> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        while self.count() < n && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.received()
    }
}

async fn answer(state: &Inner, headers: HeaderMap, body: Bytes) -> Response {
    state
        .received
        .lock()
        .unwrap()
        .push(Received { headers, body });
    let next = state.plan.lock().unwrap().pop_front();
    match next {
        None => (StatusCode::OK, "ok").into_response(),
        Some(Reply::Status(s)) => (
            StatusCode::from_u16(s).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            format!("planned {s}"),
        )
            .into_response(),
        Some(Reply::Redirect(to)) => (
            StatusCode::FOUND,
            [(axum::http::header::LOCATION, to)],
            "moved",
        )
            .into_response(),
        Some(Reply::Hang(d)) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, "late").into_response()
        }
    }
}
