//! Making API keys from the dashboard: a key never holds more than the
//! member who makes it (finding 3 of the security review). Owners and
//! admins make secret keys; developers and up make restricted keys within
//! their role's reach ([`paylink_domain::access::role_cap`]) and
//! publishable keys.

use paylink_crypto::{ApiKeyKind, PlaintextApiKey};
use paylink_domain::access::{within_role, Permissions};
use paylink_domain::roles::{Permission, Role};
use paylink_store::api_keys::KeySpec;
use paylink_store::Scope;

use crate::{ApiError, AppState};

/// A key a member asks for.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub kind: ApiKeyKind,
    pub name: Option<String>,
    /// A restricted key's permissions.
    pub permissions: Option<Permissions>,
    /// CIDR ranges it may be used from, as typed (space or comma
    /// separated; empty: anywhere the account allows).
    pub allowed_ips: String,
    /// Seconds until it stops working (`None`: until revoked).
    pub expires_in: Option<i64>,
}

/// The expiries offered when a key is made, in seconds.
pub const EXPIRIES: &[(i64, &str)] = &[
    (0, "never (until revoked)"),
    (7 * 86_400, "in 7 days"),
    (30 * 86_400, "in 30 days"),
    (90 * 86_400, "in 90 days"),
    (365 * 86_400, "in 1 year"),
];

/// How long a rolled key keeps working, in seconds.
pub const ROLL_OVERLAPS: &[(i64, &str)] = &[
    (0, "now"),
    (3_600, "in 1 hour"),
    (86_400, "in 24 hours"),
    (7 * 86_400, "in 7 days"),
];

/// Parses IP ranges as typed: each must be a CIDR range or address.
pub fn ip_ranges(raw: &str) -> Result<Option<String>, ApiError> {
    let mut out = Vec::new();
    for part in raw
        .split([',', ' ', '\n', '\r', '\t'])
        .filter(|p| !p.is_empty())
    {
        let c: paylink_domain::net::Cidr =
            part.parse().map_err(|e: paylink_domain::net::CidrError| {
                ApiError::invalid(Some("allowed_ips".into()), e.to_string())
            })?;
        out.push(c.to_string());
    }
    if out.len() > 50 {
        return Err(ApiError::invalid(
            Some("allowed_ips".into()),
            "At most 50 IP ranges per key.",
        ));
    }
    Ok((!out.is_empty()).then(|| out.join(" ")))
}

/// Whether `role` may make (or roll) a key of `kind`.
fn may_make(role: Role, kind: ApiKeyKind) -> Result<(), ApiError> {
    let may = match kind {
        ApiKeyKind::Secret => role.allows(Permission::CreateSecretKey),
        ApiKeyKind::Restricted | ApiKeyKind::Publishable => role.allows(Permission::ManageApiKeys),
    };
    if may {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "Your role ({role}) may not create {} keys.",
            kind.as_str()
        )))
    }
}

fn over_role(role: Role, p: &Permissions) -> Result<(), ApiError> {
    within_role(role, p).map_err(|(r, a)| {
        ApiError::invalid(
            Some(format!("permissions[{}]", r.as_str())),
            format!(
                "Your role ({role}) may grant at most {} on {}, not {}.",
                paylink_domain::access::role_cap(role, r).as_str(),
                r.as_str(),
                a.as_str()
            ),
        )
    })
}

/// Makes the key `k` for a member of `role`; returns its id and the
/// plaintext, to show once.
pub async fn create_key(
    state: &AppState,
    scope: &Scope,
    role: Role,
    actor: &str,
    k: NewKey,
) -> Result<(String, PlaintextApiKey), ApiError> {
    may_make(role, k.kind)?;
    let permissions = match (k.kind, &k.permissions) {
        (ApiKeyKind::Restricted, Some(p)) => {
            over_role(role, p)?;
            Some(p.to_text())
        }
        (ApiKeyKind::Restricted, None) => {
            return Err(ApiError::invalid(
                Some("permissions".into()),
                "A restricted key needs at least one permission of read or write.",
            ))
        }
        (_, _) => None,
    };
    if let Some(n) = &k.name {
        paylink_domain::catalog::check_text("name", n, 100)?;
    }
    let name = k.name.as_deref().filter(|n| !n.is_empty());
    let allowed_ips = ip_ranges(&k.allowed_ips)?;
    let now = state.now();
    let expires_at = match k.expires_in {
        None | Some(0) => None,
        Some(s) if (60..=5 * 365 * 86_400).contains(&s) => Some(now + s),
        Some(_) => {
            return Err(ApiError::invalid(
                Some("expires_in".into()),
                "A key may expire from a minute to five years from now.",
            ))
        }
    };
    let spec = KeySpec {
        kind: k.kind,
        permissions: permissions.as_deref(),
        name,
        created_by: actor,
        allowed_ips: allowed_ips.as_deref(),
        expires_at,
    };
    let (id, secret) = state
        .store
        .create_api_key(scope, spec, &state.api_key_pepper, state.now())
        .await?;
    super::trail::audit(
        state,
        Some(&scope.account_id),
        actor,
        "api_key.created",
        Some(&id),
        serde_json::json!({"type": k.kind.as_str(), "livemode": scope.livemode, "last4": secret.last4(), "permissions": permissions, "name": name, "allowed_ips": allowed_ips, "expires_at": expires_at}),
    )
    .await;
    Ok((id, secret))
}

/// Rolls key `id` for a member of `role`: a new key like it, the old one
/// working `overlap_secs` more (0 to 7 days). A member can only roll a key
/// they could make: rolling never hands out more than the roller holds.
pub async fn roll_key(
    state: &AppState,
    scope: &Scope,
    role: Role,
    actor: &str,
    id: &str,
    overlap_secs: i64,
) -> Result<(String, PlaintextApiKey), ApiError> {
    if !ROLL_OVERLAPS.iter().any(|(s, _)| *s == overlap_secs) {
        return Err(ApiError::invalid(
            Some("expires_in".into()),
            "The old key may keep working for 0 seconds, 1 hour, 24 hours or 7 days.",
        ));
    }
    let old = state
        .store
        .get_api_key(scope, id)
        .await
        .map_err(|e| ApiError::from_store(e, "API key", id))?;
    let kind = ApiKeyKind::parse(&old.kind).ok_or_else(|| ApiError::internal("key kind"))?;
    may_make(role, kind)?;
    if let Some(p) = old.permissions.as_deref() {
        let p = Permissions::from_text(p).map_err(ApiError::internal)?;
        over_role(role, &p)?;
    }
    let now = state.now();
    let (new_id, secret) = state
        .store
        .roll_api_key(
            scope,
            id,
            actor,
            &state.api_key_pepper,
            now,
            now + overlap_secs,
        )
        .await
        .map_err(|e| ApiError::from_store(e, "active API key", id))?;
    super::trail::audit(
        state,
        Some(&scope.account_id),
        actor,
        "api_key.rolled",
        Some(id),
        serde_json::json!({"new_key": new_id, "old_works_for_secs": overlap_secs, "type": kind.as_str()}),
    )
    .await;
    Ok((new_id, secret))
}
