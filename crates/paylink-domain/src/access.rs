//! What an API key may do. A secret key may do everything in its mode; a
//! restricted key holds a permission per resource (none, read or write,
//! as Stripe's restricted keys do); a publishable key may only do what a
//! public page may. Every `/v1` route names what it needs ([`Needs`]), and
//! a key's permissions never exceed what its creator's role could grant
//! ([`role_cap`]).

use std::collections::BTreeMap;
use std::fmt;

use crate::roles::{Permission, Role};

/// A level of access to one resource; write includes read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Access {
    None,
    Read,
    Write,
}

impl Access {
    pub const ALL: [Access; 3] = [Access::None, Access::Read, Access::Write];

    pub fn as_str(self) -> &'static str {
        match self {
            Access::None => "none",
            Access::Read => "read",
            Access::Write => "write",
        }
    }
    pub fn parse(s: &str) -> Option<Access> {
        Access::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// A kind of object a restricted key is given access to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    Products,
    Prices,
    PaymentLinks,
    /// Coupons and their promotion codes.
    PromotionCodes,
    CheckoutSessions,
    PaymentIntents,
    Refunds,
    Customers,
    WebhookEndpoints,
    Events,
}

impl Resource {
    pub const ALL: [Resource; 10] = [
        Resource::Products,
        Resource::Prices,
        Resource::PaymentLinks,
        Resource::PromotionCodes,
        Resource::CheckoutSessions,
        Resource::PaymentIntents,
        Resource::Refunds,
        Resource::Customers,
        Resource::WebhookEndpoints,
        Resource::Events,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Products => "products",
            Resource::Prices => "prices",
            Resource::PaymentLinks => "payment_links",
            Resource::PromotionCodes => "promotion_codes",
            Resource::CheckoutSessions => "checkout_sessions",
            Resource::PaymentIntents => "payment_intents",
            Resource::Refunds => "refunds",
            Resource::Customers => "customers",
            Resource::WebhookEndpoints => "webhook_endpoints",
            Resource::Events => "events",
        }
    }
    pub fn parse(s: &str) -> Option<Resource> {
        Resource::ALL.into_iter().find(|r| r.as_str() == s)
    }
    /// As the dashboard names it.
    pub fn label(self) -> &'static str {
        match self {
            Resource::Products => "Products",
            Resource::Prices => "Prices",
            Resource::PaymentLinks => "Payment links",
            Resource::PromotionCodes => "Coupons and promotion codes",
            Resource::CheckoutSessions => "Checkout sessions",
            Resource::PaymentIntents => "Payments (payment intents)",
            Resource::Refunds => "Refunds",
            Resource::Customers => "Customers",
            Resource::WebhookEndpoints => "Webhook endpoints",
            Resource::Events => "Events",
        }
    }
}

/// A restricted key's permissions: what is not listed is `none`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions(BTreeMap<Resource, Access>);

/// A permission list that can't be a key's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermissionError {
    #[error("Unknown resource '{0}'.")]
    UnknownResource(String),
    #[error("Unknown access '{0}': use none, read or write.")]
    UnknownAccess(String),
    #[error("A restricted key needs at least one permission of read or write.")]
    Empty,
}

impl Permissions {
    /// From `(resource, access)` names; at least one must grant something.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, PermissionError> {
        let mut map = BTreeMap::new();
        for (r, a) in pairs {
            let r = Resource::parse(r).ok_or_else(|| PermissionError::UnknownResource(r.into()))?;
            let a = Access::parse(a).ok_or_else(|| PermissionError::UnknownAccess(a.into()))?;
            if a != Access::None {
                map.insert(r, a);
            }
        }
        if map.is_empty() {
            return Err(PermissionError::Empty);
        }
        Ok(Permissions(map))
    }
    pub fn get(&self, r: Resource) -> Access {
        self.0.get(&r).copied().unwrap_or(Access::None)
    }
    /// `(resource, access)` of each granted resource.
    pub fn granted(&self) -> impl Iterator<Item = (Resource, Access)> + '_ {
        self.0.iter().map(|(r, a)| (*r, *a))
    }
    /// As stored: `products=write,prices=read`.
    pub fn to_text(&self) -> String {
        self.0
            .iter()
            .map(|(r, a)| format!("{}={}", r.as_str(), a.as_str()))
            .collect::<Vec<_>>()
            .join(",")
    }
    pub fn from_text(s: &str) -> Result<Self, PermissionError> {
        Permissions::parse(
            s.split(',')
                .filter(|p| !p.is_empty())
                .map(|p| p.split_once('=').unwrap_or((p, ""))),
        )
    }
}

/// What kind of key made a request, with what it may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyScope {
    /// Everything in its mode.
    Secret,
    Restricted(Permissions),
    /// Nothing of the `/v1` API: only what a public page may read (the
    /// buy button's endpoints).
    Publishable,
}

/// What a `/v1` route needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Only a secret key (the account's own settings and provider).
    Secret,
    On(Resource, Access),
}

impl fmt::Display for Needs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Needs::Secret => f.write_str("a secret key"),
            Needs::On(r, a) => write!(f, "{}: {}", r.as_str(), a.as_str()),
        }
    }
}

impl KeyScope {
    pub fn permits(&self, needs: Needs) -> bool {
        match (self, needs) {
            (KeyScope::Secret, _) => true,
            (KeyScope::Restricted(p), Needs::On(r, a)) => p.get(r) >= a,
            _ => false,
        }
    }
}

/// The most a member of `role` may grant a restricted key on `r`: no key
/// does more than its creator may do in the dashboard.
pub fn role_cap(role: Role, r: Resource) -> Access {
    use Permission as P;
    // The dashboard permissions reading and writing `r` need (`None`:
    // nothing writes it).
    let (read, write): (&[P], Option<&[P]>) = match r {
        Resource::Products
        | Resource::Prices
        | Resource::PaymentLinks
        | Resource::PromotionCodes => (&[P::ReadCatalog], Some(&[P::WriteCatalog])),
        Resource::CheckoutSessions => (&[P::ReadPayments], Some(&[P::WriteCatalog, P::Refund])),
        Resource::PaymentIntents | Resource::Refunds => (&[P::ReadPayments], Some(&[P::Refund])),
        Resource::Customers => (&[P::ReadCustomers], Some(&[P::ManageCustomerData])),
        Resource::WebhookEndpoints => (&[P::ManageWebhooks], Some(&[P::ManageWebhooks])),
        // Events hold catalog objects and buyers' checkouts.
        Resource::Events => (&[P::ReadCatalog, P::ReadPayments, P::ReadCustomers], None),
    };
    let all = |ps: &[P]| ps.iter().all(|p| role.allows(*p));
    if write.is_some_and(all) {
        Access::Write
    } else if all(read) {
        Access::Read
    } else {
        Access::None
    }
}

/// Whether `role` may grant every permission of `p`.
pub fn within_role(role: Role, p: &Permissions) -> Result<(), (Resource, Access)> {
    match p.granted().find(|(r, a)| *a > role_cap(role, *r)) {
        Some(over) => Err(over),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_parse_and_round_trip() {
        let p = Permissions::parse([
            ("products", "write"),
            ("refunds", "read"),
            ("events", "none"),
        ])
        .unwrap_or_default();
        assert_eq!(p.get(Resource::Products), Access::Write);
        assert_eq!(p.get(Resource::Refunds), Access::Read);
        assert_eq!(p.get(Resource::Events), Access::None);
        assert_eq!(p.to_text(), "products=write,refunds=read");
        assert_eq!(Permissions::from_text(&p.to_text()), Ok(p));
        assert_eq!(
            Permissions::parse([("products", "none")]),
            Err(PermissionError::Empty)
        );
        assert!(Permissions::parse([("charges", "read")]).is_err());
        assert!(Permissions::parse([("products", "admin")]).is_err());
    }

    #[test]
    fn write_includes_read_and_publishable_keys_get_nothing() {
        let p = Permissions::parse([("products", "write"), ("prices", "read")]).unwrap_or_default();
        let k = KeyScope::Restricted(p);
        assert!(k.permits(Needs::On(Resource::Products, Access::Read)));
        assert!(k.permits(Needs::On(Resource::Products, Access::Write)));
        assert!(k.permits(Needs::On(Resource::Prices, Access::Read)));
        assert!(!k.permits(Needs::On(Resource::Prices, Access::Write)));
        assert!(!k.permits(Needs::On(Resource::Refunds, Access::Read)));
        assert!(!k.permits(Needs::Secret));
        assert!(KeyScope::Secret.permits(Needs::Secret));
        for r in Resource::ALL {
            assert!(!KeyScope::Publishable.permits(Needs::On(r, Access::Read)));
        }
    }

    #[test]
    fn no_role_grants_more_than_it_holds() {
        assert_eq!(role_cap(Role::Owner, Resource::Refunds), Access::Write);
        assert_eq!(role_cap(Role::Developer, Resource::Products), Access::Read);
        assert_eq!(role_cap(Role::Developer, Resource::Refunds), Access::Read);
        assert_eq!(role_cap(Role::Developer, Resource::Customers), Access::Read);
        assert_eq!(
            role_cap(Role::Developer, Resource::WebhookEndpoints),
            Access::Write
        );
        assert_eq!(role_cap(Role::Developer, Resource::Events), Access::Read);
        assert_eq!(role_cap(Role::Support, Resource::Products), Access::None);
        assert_eq!(
            role_cap(Role::Analyst, Resource::WebhookEndpoints),
            Access::None
        );
        for r in Resource::ALL {
            assert!(role_cap(Role::Owner, r) >= role_cap(Role::Admin, r));
            assert!(role_cap(Role::Admin, r) >= role_cap(Role::Developer, r));
        }
        let over = Permissions::parse([("customers", "write")]).unwrap_or_default();
        assert_eq!(
            within_role(Role::Developer, &over),
            Err((Resource::Customers, Access::Write))
        );
        assert_eq!(within_role(Role::Admin, &over), Ok(()));
    }
}
