//! A dashboard action that makes several objects makes all of them or
//! none: when a later step fails (a code already used, or the database
//! refusing a row), nothing of the earlier steps is left behind, not even
//! a soft-deleted row.

use paylink_domain::roles::Role;
use paylink_domain::Clock;

use crate::both;
use crate::dash::*;
use crate::helpers::*;

/// Rows of `table`, deleted ones included.
async fn rows(app: &TestApp, table: &str) -> i64 {
    app.raw_strings(&format!("SELECT CAST(COUNT(*) AS TEXT) FROM {table}"))
        .await[0]
        .parse()
        .unwrap()
}

/// Makes the database refuse every new row of `table` (a trigger), as a
/// failing disk or constraint would.
async fn refuse_inserts(app: &TestApp, table: &str) {
    if matches!(app.db, Db::Postgres) {
        app.raw_exec(
            "CREATE OR REPLACE FUNCTION refuse_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
        )
        .await;
        app.raw_exec(&format!(
            "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION refuse_row()"
        ))
        .await;
    } else {
        app.raw_exec(&format!(
            "CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        ))
        .await;
    }
}

async fn accept_inserts(app: &TestApp, table: &str) {
    if matches!(app.db, Db::Postgres) {
        app.raw_exec(&format!("DROP TRIGGER refuse_{table} ON {table}"))
            .await;
    } else {
        app.raw_exec(&format!("DROP TRIGGER refuse_{table}")).await;
    }
}

/// The count of each catalog table.
async fn catalog(app: &TestApp) -> Vec<i64> {
    let mut out = Vec::new();
    for t in [
        "products",
        "prices",
        "payment_links",
        "payment_link_items",
        "coupons",
        "promotion_codes",
    ] {
        out.push(rows(app, t).await);
    }
    out
}

async fn coupon_with_a_taken_code_leaves_no_coupon(app: TestApp) {
    let mut owner = member(&app, "owner@shop.example", Role::Owner).await;
    owner.get("/dashboard/coupons").await;
    let p = owner
        .post(
            "/dashboard/coupons",
            &[("code", "SUMMER"), ("percent_off", "15")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let before = catalog(&app).await;
    // The same code in another letter case, for another discount.
    let p = owner
        .post(
            "/dashboard/coupons",
            &[("code", "summer"), ("amount_off", "5"), ("currency", "eur")],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("id=\"code-error\""), "{}", p.body);
    assert!(p.body.contains("value=\"summer\""), "kept what was typed");
    assert_eq!(
        catalog(&app).await,
        before,
        "no coupon left, not even deleted"
    );
    // The API sees one coupon.
    let list = app.get("/v1/coupons").await;
    assert_eq!(list.ok()["data"].as_array().unwrap().len(), 1);
}
both!(coupon_with_a_taken_code_leaves_no_coupon);

async fn failing_second_steps_leave_nothing_behind(app: TestApp) {
    let mut owner = member(&app, "owner@shop.example", Role::Owner).await;
    owner.get("/dashboard/payment-links/new").await;
    let before = catalog(&app).await;

    // A link with a new product and price: the link's row is refused.
    refuse_inserts(&app, "payment_links").await;
    let p = owner
        .post(
            "/dashboard/payment-links",
            &[
                ("product_name", "Poster"),
                ("amount", "12.50"),
                ("currency", "eur"),
                ("quantity", "1"),
            ],
        )
        .await;
    assert_eq!(p.status, 500, "{}", p.body);
    assert!(!p.body.contains("refused by the test"), "cause not shown");
    accept_inserts(&app, "payment_links").await;
    assert_eq!(catalog(&app).await, before, "no product, no price");

    // A link's line item refused: neither the link nor its new price stays.
    refuse_inserts(&app, "payment_link_items").await;
    let p = owner
        .post(
            "/dashboard/payment-links",
            &[
                ("product_name", "Poster"),
                ("amount", "12.50"),
                ("currency", "eur"),
            ],
        )
        .await;
    assert_eq!(p.status, 500, "{}", p.body);
    accept_inserts(&app, "payment_link_items").await;
    assert_eq!(catalog(&app).await, before);

    // A coupon whose code's row is refused.
    owner.get("/dashboard/coupons").await;
    refuse_inserts(&app, "promotion_codes").await;
    let p = owner
        .post(
            "/dashboard/coupons",
            &[("code", "WINTER"), ("percent_off", "10")],
        )
        .await;
    assert_eq!(p.status, 500, "{}", p.body);
    accept_inserts(&app, "promotion_codes").await;
    assert_eq!(catalog(&app).await, before, "no coupon");

    // A product whose price's row is refused.
    owner.get("/dashboard/products").await;
    refuse_inserts(&app, "prices").await;
    let p = owner
        .post(
            "/dashboard/products",
            &[("name", "Mug"), ("amount", "9"), ("currency", "usd")],
        )
        .await;
    assert_eq!(p.status, 500, "{}", p.body);
    accept_inserts(&app, "prices").await;
    assert_eq!(catalog(&app).await, before, "no product");

    // With the database accepting rows again, each action makes it all.
    let p = owner
        .post(
            "/dashboard/payment-links",
            &[
                ("product_name", "Poster"),
                ("amount", "12.50"),
                ("currency", "eur"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let after = catalog(&app).await;
    assert_eq!(
        after[..4],
        [before[0] + 1, before[1] + 1, before[2] + 1, before[3] + 1]
    );
    let p = owner
        .post(
            "/dashboard/coupons",
            &[("code", "WINTER"), ("percent_off", "10")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(rows(&app, "coupons").await, before[4] + 1);
    assert_eq!(rows(&app, "promotion_codes").await, before[5] + 1);
}
both!(failing_second_steps_leave_nothing_behind);

async fn a_refused_link_keeps_the_form_and_creates_nothing(app: TestApp) {
    let mut owner = member(&app, "owner@shop.example", Role::Owner).await;
    owner.get("/dashboard/payment-links/new").await;
    let before = catalog(&app).await;
    // The limit is past what a link takes: refused beside its field,
    // before anything is stored.
    let p = owner
        .post(
            "/dashboard/payment-links",
            &[
                ("product_name", "Poster"),
                ("amount", "12.50"),
                ("currency", "eur"),
                ("limit", "5000000"),
            ],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("id=\"limit-error\""), "{}", p.body);
    assert!(p.body.contains("value=\"Poster\""), "{}", p.body);
    // A product name with NUL in it is refused like the API refuses it.
    let p = owner
        .post(
            "/dashboard/payment-links",
            &[
                ("product_name", "Pos\0ter"),
                ("amount", "12.50"),
                ("currency", "eur"),
            ],
        )
        .await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains("id=\"product_name-error\""), "{}", p.body);
    assert_eq!(catalog(&app).await, before);
}
both!(a_refused_link_keeps_the_form_and_creates_nothing);

/// An account's data key is made in the transaction that creates the
/// account, and a user's in the one that creates the user: when the
/// database refuses the account (or the new user's membership), no data
/// key is left behind.
async fn owners_and_their_data_keys_are_made_together(app: TestApp) {
    let keys = rows(&app, "data_keys").await;
    let accounts = rows(&app, "accounts").await;
    refuse_inserts(&app, "accounts").await;
    let refused = app
        .cli_in_process(&[
            "account",
            "create",
            "--name",
            "Refused",
            "--owner-email",
            "refused@shop.example",
        ])
        .await;
    assert!(refused.is_err(), "{refused:?}");
    accept_inserts(&app, "accounts").await;
    assert_eq!(rows(&app, "accounts").await, accounts);
    assert_eq!(rows(&app, "data_keys").await, keys, "no stray account key");

    let users = rows(&app, "users").await;
    refuse_inserts(&app, "memberships").await;
    let email_key = app.opened.store.blind("new@shop.example").await.unwrap();
    let added = app
        .opened
        .store
        .add_member(
            "usr_refused",
            "new@shop.example",
            &email_key,
            &app.account,
            Role::Developer,
            app.clock.now(),
        )
        .await;
    assert!(added.is_err(), "{added:?}");
    accept_inserts(&app, "memberships").await;
    assert_eq!(rows(&app, "users").await, users);
    assert_eq!(rows(&app, "data_keys").await, keys, "no stray user key");

    // Once the database accepts rows again, both are made.
    let out = app
        .cli_in_process(&[
            "account",
            "create",
            "--name",
            "Accepted",
            "--owner-email",
            "accepted@shop.example",
            "--json",
        ])
        .await
        .unwrap();
    let id = serde_json::from_str::<serde_json::Value>(out.trim()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let own = app
        .raw_strings(&format!("SELECT owner FROM data_keys WHERE owner = '{id}'"))
        .await;
    assert_eq!(own, vec![id], "the account's key is made with it");
}
both!(owners_and_their_data_keys_are_made_together);
