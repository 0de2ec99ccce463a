//! A fresh store with one account and the catalog objects the rules act
//! on, made through the store's own functions.

use paylink_domain::catalog::{
    AfterCompletion, Coupon, CouponDuration, LinkLineItem, Metadata, PaymentLink, Price,
    PriceAmount, Product, PromotionCode, PromotionRestrictions,
};
use paylink_domain::checkout::{CheckoutSession, OrderLine, SessionStatus};
use paylink_domain::{Currency, Discount, IdKind, PercentOff};
use paylink_store::catalog::PriceProduct;
use paylink_store::checkout::{Completion, OpenRefusal, PaidEvent};
use paylink_store::{Scope, Store};
use paylink_testkit::db::{fresh, Db, FreshData};

pub const NOW: i64 = 1_795_000_000;
pub const MERCHANT: &str = "simm_rules";

pub fn id(kind: IdKind) -> String {
    paylink_domain::id::generate(kind).unwrap()
}

pub struct Shop {
    pub store: Store,
    pub scope: Scope,
    pub data: FreshData,
}

/// A fresh database on `db` with one account, in test mode.
pub async fn shop(db: Db) -> Shop {
    let data = fresh(db).await;
    let store = data.opened.store.clone();
    let account = id(IdKind::Account);
    store
        .create_account(&account, "Rules Shop", "owner@rules.example", NOW)
        .await
        .unwrap();
    Shop {
        store,
        scope: Scope {
            account_id: account,
            livemode: false,
        },
        data,
    }
}

fn eur() -> Currency {
    "eur".parse().unwrap()
}

impl Shop {
    /// A new product with a price of `amount` cents.
    pub async fn price(&self, amount: i64) -> Price {
        let product = Product {
            id: id(IdKind::Product),
            livemode: false,
            created: NOW,
            updated: NOW,
            name: "Thing".into(),
            description: None,
            active: true,
            images: Vec::new(),
            metadata: Metadata::default(),
            default_price: None,
            url: None,
        };
        let price = Price {
            id: id(IdKind::Price),
            livemode: false,
            created: NOW,
            product: product.id.clone(),
            currency: eur(),
            amount: PriceAmount::Fixed(amount),
            nickname: None,
            active: true,
            lookup_key: None,
            metadata: Metadata::default(),
        };
        self.store
            .create_price(&self.scope, PriceProduct::New(Box::new(product)), &price)
            .await
            .unwrap();
        price
    }

    /// A link selling one of `price`, for at most `limit` completed
    /// sessions.
    pub async fn link(&self, price: &Price, limit: Option<i64>) -> PaymentLink {
        let link = PaymentLink {
            id: id(IdKind::PaymentLink),
            livemode: false,
            created: NOW,
            active: true,
            currency: eur(),
            line_items: vec![LinkLineItem {
                id: id(IdKind::LineItem),
                price: price.id.clone(),
                quantity: 1,
                adjustable_quantity: None,
            }],
            allow_promotion_codes: true,
            after_completion: AfterCompletion::HostedConfirmation {
                custom_message: None,
            },
            inactive_message: None,
            completed_sessions_limit: limit,
            completed_sessions_count: 0,
            custom_fields: Vec::new(),
            billing_address_collection: "auto".into(),
            phone_number_collection: false,
            submit_type: "auto".into(),
            metadata: Metadata::default(),
            slug: None,
            payment_intent_data: None,
            custom_text: Default::default(),
            shipping_address_collection: None,
            consent_terms: false,
        };
        self.store
            .create_payment_link(&self.scope, &link)
            .await
            .unwrap();
        link
    }

    /// A 10% coupon and its promotion code, the code usable `max` times.
    pub async fn code(&self, max: Option<i64>) -> PromotionCode {
        let coupon = Coupon {
            id: id(IdKind::Coupon),
            livemode: false,
            created: NOW,
            name: None,
            discount: Discount::Percent(PercentOff::parse("10").unwrap()),
            duration: CouponDuration::Once,
            max_redemptions: None,
            redeem_by: None,
            times_redeemed: 0,
            metadata: Metadata::default(),
        };
        let code = PromotionCode {
            id: id(IdKind::PromotionCode),
            livemode: false,
            created: NOW,
            code: format!("SAVE{}", &id(IdKind::Coupon)[7..13]).to_uppercase(),
            coupon: coupon.id.clone(),
            active: true,
            max_redemptions: max,
            expires_at: None,
            restrictions: PromotionRestrictions {
                minimum_amount: None,
                first_time_transaction: false,
            },
            times_redeemed: 0,
            metadata: Metadata::default(),
        };
        self.store
            .create_coupon_with_code(&self.scope, &coupon, &code)
            .await
            .unwrap();
        code
    }

    /// A session a buyer would open on `link` for `amount` cents (with
    /// `code` applied, if any), open for an hour.
    pub fn session(
        &self,
        link: &PaymentLink,
        amount: i64,
        code: Option<&PromotionCode>,
    ) -> CheckoutSession {
        let item = link.line_items.first().unwrap();
        CheckoutSession {
            id: id(IdKind::CheckoutSession),
            livemode: false,
            created: NOW,
            expires_at: NOW + 3600,
            payment_link: Some(link.id.clone()),
            status: SessionStatus::Open,
            paid: false,
            currency: eur(),
            amount_subtotal: amount,
            amount_discount: 0,
            amount_total: amount,
            promotion_code: code.map(|c| c.id.clone()),
            coupon: code.map(|c| c.coupon.clone()),
            customer_email: Some("buyer@rules.example".into()),
            customer_name: Some("Ada Buyer".into()),
            customer_phone: None,
            customer_address: None,
            custom_fields: Vec::new(),
            line_items: vec![OrderLine {
                id: id(IdKind::LineItem),
                price: item.price.clone(),
                product: String::new(),
                description: "Thing".into(),
                quantity: 1,
                unit_amount: amount,
                amount_subtotal: amount,
                amount_discount: 0,
                amount_total: amount,
            }],
            metadata: Metadata::default(),
            customer: None,
            payment_intent: None,
            provider: "sim".into(),
            provider_ref: None,
            client_reference_id: None,
            offer: None,
            link_page: None,
            submitted_at: Some(NOW),
            payment_intent_data: None,
            shipping_details: None,
            terms_accepted: false,
        }
    }

    /// A link of one `amount` price (for at most `limit` completed
    /// sessions) and a session opened on it.
    pub async fn opened(&self, amount: i64, limit: Option<i64>) -> (PaymentLink, CheckoutSession) {
        let price = self.price(amount).await;
        let link = self.link(&price, limit).await;
        let s = self.session(&link, amount, None);
        self.open(&s).await.unwrap();
        (link, s)
    }

    /// A session of `amount` opened and paid: the session and the ids its
    /// completion made.
    pub async fn paid(&self, amount: i64) -> (CheckoutSession, Ids) {
        let (_, s) = self.opened(amount, None).await;
        let ids = Ids::for_session(&s);
        let done = self
            .store
            .complete_session(paid(&s, &id(IdKind::Event), amount, &ids))
            .await
            .unwrap();
        assert!(matches!(done, Completion::Recorded { .. }), "{done:?}");
        (s, ids)
    }

    /// Opens `s` and, when it opened, records the provider payment made
    /// for it (`pay_<session id>`, with [`MERCHANT`]).
    pub async fn open(&self, s: &CheckoutSession) -> Result<(), OpenRefusal> {
        let opened = self
            .store
            .open_session(&self.scope, s, false)
            .await
            .unwrap();
        if opened.is_ok() {
            self.store
                .set_session_provider_ref(
                    &self.scope,
                    &s.id,
                    &format!("pay_{}", s.id),
                    MERCHANT,
                    "http://127.0.0.1:9/pay",
                )
                .await
                .unwrap();
        }
        opened
    }
}

/// The provider's "paid" event `event_id` for session `s`, for `amount`.
pub fn paid<'a>(
    s: &'a CheckoutSession,
    event_id: &'a str,
    amount: i64,
    ids: &'a Ids,
) -> PaidEvent<'a> {
    PaidEvent {
        provider: "sim",
        event_id,
        session_id: &s.id,
        provider_ref: &ids.provider_ref,
        merchant: MERCHANT,
        livemode: false,
        amount,
        currency: "eur",
        card_brand: Some("visa"),
        card_last4: Some("4242"),
        payment_intent_id: &ids.payment_intent,
        new_customer_id: &ids.customer,
        now: NOW + 60,
    }
}

/// The ids a completion names: the provider's payment, and the payment
/// intent and customer paylink makes for it.
pub struct Ids {
    pub provider_ref: String,
    pub payment_intent: String,
    pub customer: String,
}

impl Ids {
    pub fn for_session(s: &CheckoutSession) -> Self {
        Ids {
            provider_ref: format!("pay_{}", s.id),
            payment_intent: id(IdKind::PaymentIntent),
            customer: id(IdKind::Customer),
        }
    }
}
