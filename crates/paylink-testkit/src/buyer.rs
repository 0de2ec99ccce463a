//! A buyer, over plain HTTP: fills the checkout form of a link, then the
//! sim's card form, following redirects by hand so each step is checked.

use crate::helpers::*;

pub struct Buyer {
    pub client: reqwest::Client,
}

/// Where a step ended.
#[derive(Debug)]
pub struct Step {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
}

impl Step {
    /// Where a response left the buyer: its status, redirect and page.
    async fn of(r: reqwest::Response) -> Step {
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        Step {
            status,
            location,
            body: r.text().await.unwrap(),
        }
    }
}

pub const CARD_OK: &str = "4242424242424242";
pub const CARD_DECLINED: &str = "4000000000000002";
pub const CARD_NO_FUNDS: &str = "4000000000009995";
pub const CARD_3DS: &str = "4000002500003155";

impl Default for Buyer {
    fn default() -> Self {
        Self::new()
    }
}

impl Buyer {
    /// A buyer with a browser of their own (no cookies shared, redirects
    /// followed by hand).
    pub fn new() -> Self {
        Buyer {
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    pub async fn post(&self, url: &str, form: &[(&str, &str)]) -> Step {
        Step::of(self.client.post(url).form(form).send().await.unwrap()).await
    }

    pub async fn get(&self, url: &str) -> Step {
        self.get_with(url, &[("accept-language", "en-US")]).await
    }

    /// A GET with these request headers (a browser's language, …).
    pub async fn get_with(&self, url: &str, headers: &[(&str, &str)]) -> Step {
        let r = headers
            .iter()
            .fold(self.client.get(url), |r, (k, v)| r.header(*k, *v));
        Step::of(r.send().await.unwrap()).await
    }

    /// Submits the checkout form with `action=pay`; on success returns the
    /// sim's card page URL.
    pub async fn checkout(&self, app: &TestApp, link: &str, fields: &[(&str, &str)]) -> Step {
        let s = self.open(app, link, fields).await;
        // The way to the provider's page goes through paylink's own hop,
        // which holds a scarce place for the payment's duration.
        match s.location.as_deref() {
            Some(go) if go.starts_with(&app.url("/checkout/")) && go.ends_with("/go") => {
                self.get(go).await
            }
            _ => s,
        }
    }

    /// Submits the checkout form and stops at paylink's answer (the hop to
    /// the provider is not followed).
    pub async fn open(&self, app: &TestApp, link: &str, fields: &[(&str, &str)]) -> Step {
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("action", "pay"));
        self.post(&app.url(&format!("/l/{link}")), &form).await
    }

    /// Pays on the sim's card page.
    pub async fn card(&self, sim_url: &str, number: &str) -> Step {
        self.post(
            sim_url,
            &[
                ("number", number),
                ("exp", "12 / 30"),
                ("cvc", "123"),
                ("name", "Ann Buyer"),
            ],
        )
        .await
    }

    /// The whole flow with a card that succeeds; returns the session id.
    pub async fn pay(&self, app: &TestApp, link: &str, fields: &[(&str, &str)]) -> String {
        let s = self.checkout(app, link, fields).await;
        assert_eq!(s.status, 303, "checkout: {}", s.body);
        let sim = s.location.unwrap();
        assert!(sim.starts_with(&app.sim_base), "{sim}");
        let paid = self.card(&sim, CARD_OK).await;
        assert_eq!(paid.status, 303, "card: {}", paid.body);
        let ret = paid.location.unwrap();
        ret.rsplit('/').next().unwrap().to_string()
    }
}

impl TestApp {
    /// A link selling `amount` in `currency`, with extra link params.
    pub async fn link_with(&self, currency: &str, amount: i64, extra: serde_json::Value) -> String {
        let price = self.price(currency, amount).await;
        let mut params = json!({"line_items": [{"price": price, "quantity": 1, "adjustable_quantity": {"enabled": true, "maximum": 10}}]});
        for (k, v) in extra.as_object().unwrap() {
            params.as_object_mut().unwrap().insert(k.clone(), v.clone());
        }
        self.post("/v1/payment_links", params).await.id()
    }
}
