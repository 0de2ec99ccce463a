//! Roles and permissions of the dashboard: the one table that says which
//! role may do what. Every dashboard route names one [`Permission`]; a route
//! that names none is refused (see `paylink-web`'s route table and its
//! test, which checks every route against every role).

use std::fmt;

/// A member's role in one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// Everything, including the team, security settings, ownership.
    Owner,
    /// Everything but transferring ownership and deleting the account.
    Admin,
    /// API keys and webhooks, and reading everything.
    Developer,
    /// Read-only; no export of personal data.
    Analyst,
    /// Payments, customers and refunds.
    Support,
}

/// Something a dashboard route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// One's own sign-in: own sessions, own recovery codes, sign out.
    OwnLogin,
    /// The overview: revenue and payments per day.
    ViewOverview,
    /// Products, prices, coupons, promotion codes and payment links.
    ReadCatalog,
    WriteCatalog,
    /// Payments and refunds, read.
    ReadPayments,
    /// Refund a payment.
    Refund,
    /// Customers, read (personal data shown masked for analysts).
    ReadCustomers,
    /// Export or erase a customer's personal data.
    ManageCustomerData,
    /// API keys: list and revoke.
    ManageApiKeys,
    /// Create a secret key: it holds every API power, so only roles that
    /// hold them all (owner, admin) may make one.
    CreateSecretKey,
    /// Webhook endpoints: add, change, roll their secret, resend.
    ManageWebhooks,
    /// See a webhook endpoint's current secret again (after a fresh
    /// second factor, audited).
    RevealWebhookSecret,
    /// The team: members, invitations, roles, unlocking.
    ManageTeam,
    /// The account's security: IP allowlist, security events, audit log.
    ManageSecurity,
    /// Account settings: name, colour, 3-D Secure, provider connection.
    ManageSettings,
    /// Connect or replace the payment provider's credentials: where the
    /// money goes. Owners only, after a fresh second factor.
    ConnectProvider,
    /// Make another member the owner.
    TransferOwnership,
    /// Delete the account.
    DeleteAccount,
}

impl Permission {
    pub const ALL: [Permission; 18] = [
        Permission::OwnLogin,
        Permission::ViewOverview,
        Permission::ReadCatalog,
        Permission::WriteCatalog,
        Permission::ReadPayments,
        Permission::Refund,
        Permission::ReadCustomers,
        Permission::ManageCustomerData,
        Permission::ManageApiKeys,
        Permission::CreateSecretKey,
        Permission::ManageWebhooks,
        Permission::RevealWebhookSecret,
        Permission::ManageTeam,
        Permission::ManageSecurity,
        Permission::ManageSettings,
        Permission::ConnectProvider,
        Permission::TransferOwnership,
        Permission::DeleteAccount,
    ];
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Owner,
        Role::Admin,
        Role::Developer,
        Role::Analyst,
        Role::Support,
    ];

    /// The permission table: whether this role may do `p`.
    pub fn allows(self, p: Permission) -> bool {
        use Permission as P;
        match self {
            Role::Owner => true,
            Role::Admin => !matches!(
                p,
                P::TransferOwnership | P::DeleteAccount | P::ConnectProvider
            ),
            Role::Developer => matches!(
                p,
                P::OwnLogin
                    | P::ViewOverview
                    | P::ReadCatalog
                    | P::ReadPayments
                    | P::ReadCustomers
                    | P::ManageApiKeys
                    | P::ManageWebhooks
            ),
            Role::Analyst => matches!(
                p,
                P::OwnLogin | P::ViewOverview | P::ReadCatalog | P::ReadPayments | P::ReadCustomers
            ),
            Role::Support => matches!(
                p,
                P::OwnLogin
                    | P::ViewOverview
                    | P::ReadPayments
                    | P::Refund
                    | P::ReadCustomers
                    | P::ManageCustomerData
            ),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Analyst => "analyst",
            Role::Support => "support",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// Whether personal data (emails, names, phones) is shown unmasked.
    pub fn sees_personal_data(self) -> bool {
        self.allows(Permission::ManageCustomerData) || self == Role::Developer
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Some(r));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn least_privilege() {
        assert!(!Role::Admin.allows(Permission::TransferOwnership));
        assert!(!Role::Developer.allows(Permission::ManageTeam));
        assert!(!Role::Developer.allows(Permission::WriteCatalog));
        assert!(!Role::Analyst.allows(Permission::ManageCustomerData));
        assert!(!Role::Support.allows(Permission::ManageApiKeys));
        // Developers run the webhooks but never see a secret again.
        assert!(Role::Developer.allows(Permission::ManageWebhooks));
        assert!(!Role::Developer.allows(Permission::RevealWebhookSecret));
        assert!(Role::Admin.allows(Permission::RevealWebhookSecret));
        assert!(!Role::Analyst.allows(Permission::ManageWebhooks));
        assert!(!Role::Support.allows(Permission::ManageWebhooks));
        assert!(Role::Support.allows(Permission::Refund));
        for r in Role::ALL {
            assert!(r.allows(Permission::OwnLogin));
        }
        // Only owners point the money somewhere else.
        assert!(Role::Owner.allows(Permission::ConnectProvider));
        assert!(!Role::Admin.allows(Permission::ConnectProvider));
        assert!(!Role::Developer.allows(Permission::ConnectProvider));
    }

    /// Finding 3 of the security review: a secret key holds every API
    /// power, so whoever may create one must already hold each of them.
    #[test]
    fn a_key_never_carries_more_than_its_creator() {
        use Permission as P;
        let api_powers = [
            P::ReadCatalog,
            P::WriteCatalog,
            P::ReadPayments,
            P::Refund,
            P::ReadCustomers,
            P::ManageCustomerData,
            P::ManageSettings,
        ];
        for r in Role::ALL {
            if r.allows(P::CreateSecretKey) {
                for p in api_powers {
                    assert!(r.allows(p), "{r} creates secret keys but lacks {p:?}");
                }
            }
        }
        assert!(!Role::Developer.allows(P::CreateSecretKey));
        assert!(!Role::Support.allows(P::CreateSecretKey));
        assert!(!Role::Analyst.allows(P::CreateSecretKey));
    }
}
