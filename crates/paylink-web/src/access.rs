//! Where a request comes from: the client's address (the TCP peer) and an
//! account's IP allowlist, checked by the API's key authentication, the
//! dashboard's guard and the checkout pages alike.

use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use paylink_domain::net::{allowed, Cidr};

use crate::AppState;

/// The client's address (the TCP peer).
pub fn client_ip(req_ext: &axum::http::Extensions) -> String {
    req_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether `ip` may pass an account's allowlist (`raw`: CIDR ranges, one
/// per line; empty: everyone).
pub fn allowlist_permits(raw: &str, ip: &str) -> bool {
    let list: Vec<Cidr> = raw
        .split_whitespace()
        .filter_map(|s| s.parse().ok())
        .collect();
    match ip.parse::<IpAddr>() {
        Ok(addr) => allowed(&list, addr),
        Err(_) => list.is_empty(),
    }
}

/// Writes the audit entry of a refused address.
pub async fn audit_ip_refused(
    state: &AppState,
    account_id: &str,
    actor: &str,
    ip: &str,
    door: &str,
) {
    let r = state
        .store
        .audit(paylink_store::audit::AuditEvent {
            account_id: Some(account_id),
            actor,
            action: "ip.refused",
            target: Some(account_id),
            detail: crate::service::trail::pseudonymize(
                state,
                serde_json::json!({"ip": ip, "door": door}),
            ),
            now: state.now(),
        })
        .await;
    if let Err(e) = r {
        tracing::error!(error = %e, "audit of a refused address failed");
    }
}
