//! The trail a security-relevant action leaves: an audit entry (chained,
//! with client addresses pseudonymized) and, for what a person must hear
//! about, a security notice queued for email and the security page.
//! Failures here are logged, never fatal to the action's answer.

use paylink_domain::IdKind;

use crate::AppState;

/// A client address as the audit log keeps it: a keyed hash, so entries
/// kept for years hold no address in clear (the same address always gives
/// the same reference, for following one source across entries).
pub fn ip_ref(state: &AppState, ip: &str) -> String {
    let full = paylink_crypto::envelope::blind_index(&state.dashboard_key, &format!("ip:{ip}"));
    full.chars().take(16).collect()
}

/// Replaces a detail's `ip` by its [`ip_ref`].
pub fn pseudonymize(state: &AppState, mut detail: serde_json::Value) -> serde_json::Value {
    if let Some(obj) = detail.as_object_mut() {
        if let Some(ip) = obj.remove("ip") {
            let r = ip_ref(state, ip.as_str().unwrap_or(""));
            obj.insert("ip_ref".into(), serde_json::Value::String(r));
        }
    }
    detail
}

/// Audit entry helper (failures are logged, never fatal to the answer).
pub async fn audit(
    state: &AppState,
    account: Option<&str>,
    actor: &str,
    action: &str,
    target: Option<&str>,
    detail: serde_json::Value,
) {
    let r = state
        .store
        .audit(paylink_store::audit::AuditEvent {
            account_id: account,
            actor,
            action,
            target,
            detail: pseudonymize(state, detail),
            now: state.now(),
        })
        .await;
    if let Err(e) = r {
        tracing::error!(error = %e, action, "audit entry failed");
    }
}

/// Queues a security notice for the email sender (and the security page).
pub async fn notice(
    state: &AppState,
    account: Option<&str>,
    user: &str,
    kind: &str,
    detail: serde_json::Value,
) {
    let id = match paylink_domain::id::generate(IdKind::Event) {
        Ok(id) => id,
        Err(e) => {
            tracing::error!(error = %e, "no id for a security notice");
            return;
        }
    };
    if let Err(e) = state
        .store
        .security_notice(&id, account, Some(user), kind, &detail, state.now())
        .await
    {
        tracing::error!(error = %e, kind, "security notice failed");
    }
}
