//! Invitations to join an account, and the outbox of mail that carries
//! their links.
//!
//! Finding 1 of the security review: identity was "whoever first claims an
//! email". Now joining an account takes the invitee's own action through a
//! link sent to the invited address: the link goes into the mail outbox
//! (sealed under the account's data key), never to the inviter's screen,
//! and an existing user accepts explicitly while signed in as themselves.
//! Only the link's hash is stored with the invitation.

use paylink_crypto::Secret;
use paylink_domain::roles::Role;
use sqlx::Row;

use crate::error::StoreError;
use crate::sql::{Insert, Sql};
use crate::store::Store;

/// An invitation as the team page and the invitation page show it.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub id: String,
    pub account_id: String,
    pub account_name: String,
    pub email: String,
    pub email_key: String,
    pub role: Role,
    pub created: i64,
    pub expires_at: i64,
}

/// A new invitation and the mail that carries its link.
pub struct NewInvitation<'a> {
    pub id: &'a str,
    pub token_hash: &'a str,
    pub account_id: &'a str,
    pub email: &'a str,
    pub email_key: &'a str,
    pub role: Role,
    pub invited_by: &'a str,
    pub now: i64,
    pub expires_at: i64,
    pub mail_id: &'a str,
    /// The message, link included (sealed in the outbox).
    pub mail_body: &'a Secret<String>,
}

/// A message waiting in the outbox.
#[derive(Clone)]
pub struct Mail {
    pub id: String,
    pub account_id: String,
    pub created: i64,
    pub kind: String,
    pub to: String,
    pub body: Secret<String>,
    pub sent_at: Option<i64>,
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// How an acceptance ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// The user is now a member with this role.
    Joined { account_id: String, role: Role },
    /// The link is used, revoked or expired.
    Gone,
    /// The user was already a member (the invitation is used up).
    AlreadyMember { account_id: String },
}

const COLS: &str =
    "i.id, i.account_id, a.name, i.email, i.email_key, i.role, i.created, i.expires_at";

impl Store {
    async fn invitation_of(&self, r: &sqlx::any::AnyRow) -> Result<Invitation, StoreError> {
        let id: String = r.try_get("id")?;
        let account_id: String = r.try_get("account_id")?;
        let sealed: String = r.try_get("email")?;
        let role: String = r.try_get("role")?;
        Ok(Invitation {
            email: self
                .field_key(&account_id)
                .await?
                .open(&format!("invitations.email:{id}"), &sealed)?,
            email_key: r.try_get("email_key")?,
            role: Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?,
            account_name: r.try_get("name")?,
            created: r.try_get("created")?,
            expires_at: r.try_get("expires_at")?,
            id,
            account_id,
        })
    }

    /// Records an invitation and queues the mail with its link, in one
    /// transaction.
    pub async fn create_invitation(&self, n: NewInvitation<'_>) -> Result<(), StoreError> {
        let k = self.field_key(n.account_id).await?;
        let email = k.seal(&format!("invitations.email:{}", n.id), n.email)?;
        let to = k.seal(&format!("mail_outbox.recipient:{}", n.mail_id), n.email)?;
        let body = k.seal(
            &format!("mail_outbox.body:{}", n.mail_id),
            n.mail_body.expose(),
        )?;
        let mut tx = self.write().await?;
        let ins = Insert::new("invitations")
            .set("id", n.id)
            .set("token_hash", n.token_hash)
            .set("account_id", n.account_id)
            .set("email_key", n.email_key)
            .set("email", email)
            .set("role", n.role.as_str())
            .set("invited_by", n.invited_by)
            .set("created", n.now)
            .set("expires_at", n.expires_at)
            .sql();
        ins.query().execute(tx.conn()).await?;
        let mail = Insert::new("mail_outbox")
            .set("id", n.mail_id)
            .set("account_id", n.account_id)
            .set("created", n.now)
            .set("kind", "invitation")
            .set("recipient", to)
            .set("body", body)
            .set("expires_at", n.expires_at)
            .sql();
        mail.query().execute(tx.conn()).await?;
        tx.commit().await
    }

    /// The usable invitation whose link hashes to `token_hash`.
    pub async fn find_invitation(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<Invitation>, StoreError> {
        let mut sql = Sql::new(&format!(
            "SELECT {COLS} FROM invitations i JOIN accounts a ON a.id = i.account_id WHERE i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > "
        ));
        sql.bind(now).push(" AND i.token_hash = ").bind(token_hash);
        match sql.query().fetch_optional(&self.pool).await? {
            Some(r) => Ok(Some(self.invitation_of(&r).await?)),
            None => Ok(None),
        }
    }

    /// The open invitations of an account, newest first.
    pub async fn open_invitations(
        &self,
        account_id: &str,
        now: i64,
    ) -> Result<Vec<Invitation>, StoreError> {
        let mut sql = Sql::new(&format!(
            "SELECT {COLS} FROM invitations i JOIN accounts a ON a.id = i.account_id WHERE i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > "
        ));
        sql.bind(now)
            .push(" AND i.account_id = ")
            .bind(account_id)
            .push(" ORDER BY i.created DESC, i.id");
        let rows = sql.query().fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.invitation_of(r).await?);
        }
        Ok(out)
    }

    /// Revokes an open invitation of `account_id` (and drops its unsent
    /// mail). Returns whether there was one.
    pub async fn revoke_invitation(
        &self,
        account_id: &str,
        id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut up = Sql::new("UPDATE invitations SET revoked_at = ");
        up.bind(now)
            .push(" WHERE account_id = ")
            .bind(account_id)
            .push(" AND id = ")
            .bind(id)
            .push(" AND accepted_at IS NULL AND revoked_at IS NULL");
        Ok(self.write_one(&up).await? == 1)
    }

    /// Uses up the invitation `token_hash` for the existing user `user_id`,
    /// whose email must be the invited one (`email_key`), and makes the
    /// user a member: one transaction.
    pub async fn accept_invitation(
        &self,
        token_hash: &str,
        user_id: &str,
        now: i64,
    ) -> Result<Accepted, StoreError> {
        let mut tx = self.write().await?;
        let mut sel = Sql::new(
            "SELECT i.account_id, i.role FROM invitations i JOIN users u ON u.email_key = i.email_key WHERE u.id = ",
        );
        sel.bind(user_id)
            .push(" AND i.token_hash = ")
            .bind(token_hash)
            .push(" AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > ")
            .bind(now);
        let Some(r) = sel.query().fetch_optional(tx.conn()).await? else {
            return Ok(Accepted::Gone);
        };
        let account_id: String = r.try_get("account_id")?;
        let role: String = r.try_get("role")?;
        let role = Role::parse(&role).ok_or_else(|| StoreError::Corrupt(format!("role {role}")))?;
        let mut up = Sql::new("UPDATE invitations SET accepted_at = ");
        up.bind(now)
            .push(", accepted_by = ")
            .bind(user_id)
            .push(" WHERE token_hash = ")
            .bind(token_hash)
            .push(" AND accepted_at IS NULL AND revoked_at IS NULL");
        if up.query().execute(tx.conn()).await?.rows_affected() != 1 {
            return Ok(Accepted::Gone);
        }
        let m = Insert::new("memberships")
            .set("account_id", account_id.as_str())
            .set("user_id", user_id)
            .set("role", role.as_str())
            .set("created", now)
            .or_skip()
            .sql();
        let joined = m.query().execute(tx.conn()).await?.rows_affected() == 1;
        tx.commit().await?;
        Ok(if joined {
            Accepted::Joined { account_id, role }
        } else {
            Accepted::AlreadyMember { account_id }
        })
    }

    /// Uses up the invitation `token_hash` for someone with no sign-in
    /// yet: creates the user (the invited email, password hash `phc`) and
    /// the membership, in one transaction. [`StoreError::Conflict`] when
    /// the email has a user by now (they accept while signed in instead).
    pub async fn accept_invitation_new_user(
        &self,
        token_hash: &str,
        new_user_id: &str,
        phc: &str,
        now: i64,
    ) -> Result<Accepted, StoreError> {
        let Some(inv) = self.find_invitation(token_hash, now).await? else {
            return Ok(Accepted::Gone);
        };
        let mut tx = self.write().await?;
        let mut up = Sql::new("UPDATE invitations SET accepted_at = ");
        up.bind(now)
            .push(", accepted_by = ")
            .bind(new_user_id)
            .push(" WHERE token_hash = ")
            .bind(token_hash)
            .push(" AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ")
            .bind(now);
        if up.query().execute(tx.conn()).await?.rows_affected() != 1 {
            return Ok(Accepted::Gone);
        }
        // The new user's data key is made with the user.
        let sealed = self
            .new_field_key(&mut tx, new_user_id)
            .await?
            .seal(&format!("users.email:{new_user_id}"), &inv.email)?;
        let ins = Insert::new("users")
            .set("id", new_user_id)
            .set("email_key", inv.email_key.as_str())
            .set("email", sealed)
            .set("password_hash", phc)
            .set("password_changed", now)
            .set("created", now)
            .sql();
        // A unique email_key: someone claimed the address meanwhile.
        ins.query().execute(tx.conn()).await?;
        let m = Insert::new("memberships")
            .set("account_id", inv.account_id.as_str())
            .set("user_id", new_user_id)
            .set("role", inv.role.as_str())
            .set("created", now)
            .sql();
        m.query().execute(tx.conn()).await?;
        tx.commit().await?;
        Ok(Accepted::Joined {
            account_id: inv.account_id,
            role: inv.role,
        })
    }

    /// The messages in the outbox created since `since`, oldest first,
    /// opened (for the operator's CLI until email delivery exists).
    pub async fn outbox(&self, since: i64) -> Result<Vec<Mail>, StoreError> {
        let mut sql = Sql::new(
            "SELECT id, account_id, created, kind, recipient, body, sent_at FROM mail_outbox WHERE created >= ",
        );
        sql.bind(since).push(" ORDER BY seq");
        let rows = sql.query().fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let id: String = r.try_get("id")?;
            let account_id: String = r.try_get("account_id")?;
            let k = self.field_key(&account_id).await?;
            let to: String = r.try_get("recipient")?;
            let body: String = r.try_get("body")?;
            out.push(Mail {
                to: k.open(&format!("mail_outbox.recipient:{id}"), &to)?,
                body: Secret::new(k.open(&format!("mail_outbox.body:{id}"), &body)?),
                created: r.try_get("created")?,
                kind: r.try_get("kind")?,
                sent_at: r.try_get("sent_at")?,
                id,
                account_id,
            });
        }
        Ok(out)
    }

    /// Deletes outbox messages whose link expired before `before`.
    pub async fn purge_outbox(&self, before: i64) -> Result<u64, StoreError> {
        let mut sql = Sql::new("DELETE FROM mail_outbox WHERE expires_at < ");
        sql.bind(before);
        self.write_one(&sql).await
    }
}
