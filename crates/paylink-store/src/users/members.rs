//! Who belongs to which account with which role; a change of role or a
//! removal ends the member's sessions in the same transaction, and an
//! account always keeps an owner.

use paylink_domain::roles::Role;
use sqlx::Row;

use crate::error::StoreError;
use crate::sql::{Insert, Sql};
use crate::store::Store;

use super::sessions::end_sessions_in;
use super::{email_place, User};

/// One member of an account (the access review).
#[derive(Debug, Clone)]
pub struct Member {
    pub user: User,
    pub role: Role,
    pub since: i64,
}

/// One account a user belongs to.
#[derive(Debug, Clone)]
pub struct Membership {
    pub account_id: String,
    pub account_name: String,
    pub role: Role,
    /// The account's IP allowlist (CIDR ranges; empty: everywhere).
    pub ip_allowlist: String,
}

pub(super) async fn owners(
    tx: &mut crate::db::WriteTx<'_>,
    account_id: &str,
) -> Result<i64, StoreError> {
    let mut sql =
        Sql::new("SELECT COUNT(*) AS n FROM memberships WHERE role = 'owner' AND account_id = ");
    sql.bind(account_id);
    Ok(sql.fetch_row(tx.conn()).await?.try_get("n")?)
}

impl Store {
    /// Adds `email` to `account_id` with `role`, creating the user if the
    /// email is new (the operator's setup link then lets them set a
    /// password and enrol TOTP). Returns the user id, and whether the user
    /// already existed. An existing member is a conflict. Only the operator
    /// (the CLI) calls this: members join through invitations.
    pub async fn add_member(
        &self,
        new_user_id: &str,
        email: &str,
        email_key: &str,
        account_id: &str,
        role: Role,
        now: i64,
    ) -> Result<(String, bool), StoreError> {
        let existing = self.user_id_by_email(email_key).await?;
        let user_id = existing.clone().unwrap_or_else(|| new_user_id.to_string());
        let mut tx = self.write().await?;
        if existing.is_none() {
            // A new user's data key is made with the user.
            let sealed = self
                .new_field_key(&mut tx, &user_id)
                .await?
                .seal(&email_place(&user_id), email)?;
            let ins = Insert::new("users")
                .set("id", user_id.as_str())
                .set("email_key", email_key)
                .set("email", sealed)
                .set("created", now)
                .sql();
            ins.query().execute(tx.conn()).await?;
        }
        let m = Insert::new("memberships")
            .set("account_id", account_id)
            .set("user_id", user_id.as_str())
            .set("role", role.as_str())
            .set("created", now)
            .sql();
        m.query().execute(tx.conn()).await?;
        tx.commit().await?;
        Ok((user_id, existing.is_some()))
    }

    pub async fn memberships(&self, user_id: &str) -> Result<Vec<Membership>, StoreError> {
        let mut sql = Sql::new(
            "SELECT m.account_id, a.name, a.ip_allowlist, m.role FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE m.user_id = ",
        );
        sql.bind(user_id).push(" ORDER BY a.name, m.account_id");
        let rows = sql.query().fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| {
                let role: String = r.try_get("role")?;
                Ok(Membership {
                    account_id: r.try_get("account_id")?,
                    account_name: r.try_get("name")?,
                    role: Role::parse(&role)
                        .ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
                    ip_allowlist: r.try_get("ip_allowlist")?,
                })
            })
            .collect()
    }

    /// The user's role in `account_id`, if a member.
    pub async fn role_of(
        &self,
        user_id: &str,
        account_id: &str,
    ) -> Result<Option<Role>, StoreError> {
        let mut sql = Sql::new("SELECT role FROM memberships WHERE user_id = ");
        sql.bind(user_id)
            .push(" AND account_id = ")
            .bind(account_id);
        match sql.query().fetch_optional(&self.pool).await? {
            Some(r) => {
                let role: String = r.try_get("role")?;
                Ok(Some(Role::parse(&role).ok_or_else(|| {
                    StoreError::Corrupt(format!("role {role}"))
                })?))
            }
            None => Ok(None),
        }
    }

    /// Every member of an account, for the team page and access review.
    pub async fn members(&self, account_id: &str) -> Result<Vec<Member>, StoreError> {
        let mut sql = Sql::new(
            "SELECT u.id, u.email, u.password_hash, u.totp_seed, u.failed_count, u.locked_until, u.code_failed_count, u.code_locked_until, u.created, u.last_login, u.last_seen, m.role, m.created AS since FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.account_id = ",
        );
        sql.bind(account_id).push(" ORDER BY m.created, u.id");
        let rows = sql.query().fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let role: String = r.try_get("role")?;
            out.push(Member {
                user: self.user_from_row(r).await?,
                role: Role::parse(&role)
                    .ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
                since: r.try_get("since")?,
            });
        }
        Ok(out)
    }

    /// Changes a member's role and ends the member's sessions in this
    /// account (a privilege change means a new session token). The last
    /// owner can't be demoted ([`StoreError::LastOwner`]).
    pub async fn set_role(
        &self,
        account_id: &str,
        user_id: &str,
        role: Role,
        now: i64,
    ) -> Result<Role, StoreError> {
        let mut tx = self.write().await?;
        let mut sel = Sql::new("SELECT role FROM memberships WHERE account_id = ");
        sel.bind(account_id).push(" AND user_id = ").bind(user_id);
        let old: String = sel.fetch_row(tx.conn()).await?.try_get("role")?;
        let old = Role::parse(&old).ok_or_else(|| StoreError::Corrupt(format!("role {old}")))?;
        if old == Role::Owner && role != Role::Owner && owners(&mut tx, account_id).await? <= 1 {
            return Err(StoreError::LastOwner);
        }
        let mut upd = Sql::new("UPDATE memberships SET role = ");
        upd.bind(role.as_str())
            .push(" WHERE account_id = ")
            .bind(account_id)
            .push(" AND user_id = ")
            .bind(user_id);
        upd.query().execute(tx.conn()).await?;
        // Any change of privilege: the member signs in again and gets a
        // new session token.
        if old != role {
            end_sessions_in(&mut tx, user_id, Some(account_id), now).await?;
        }
        tx.commit().await?;
        Ok(old)
    }

    /// Removes a member and ends their sessions in this account at once.
    /// The last owner can't be removed ([`StoreError::LastOwner`]).
    pub async fn remove_member(
        &self,
        account_id: &str,
        user_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let mut sel = Sql::new("SELECT role FROM memberships WHERE account_id = ");
        sel.bind(account_id).push(" AND user_id = ").bind(user_id);
        let old: String = sel.fetch_row(tx.conn()).await?.try_get("role")?;
        if old == "owner" && owners(&mut tx, account_id).await? <= 1 {
            return Err(StoreError::LastOwner);
        }
        let mut del = Sql::new("DELETE FROM memberships WHERE account_id = ");
        del.bind(account_id).push(" AND user_id = ").bind(user_id);
        del.query().execute(tx.conn()).await?;
        end_sessions_in(&mut tx, user_id, Some(account_id), now).await?;
        tx.commit().await?;
        Ok(())
    }
}
