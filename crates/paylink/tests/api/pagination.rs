use crate::both;
use crate::helpers::*;

fn ids(r: &Resp) -> Vec<String> {
    r.ok()["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap().to_string())
        .collect()
}

async fn pages_with_inserts_in_between(app: TestApp) {
    let mut created = Vec::new();
    for i in 0..25 {
        created.push(app.product(&format!("P{i}")).await);
    }
    created.reverse(); // lists are newest first
    let p1 = app.get("/v1/products?limit=10").await;
    assert_eq!(p1.ok()["has_more"], true);
    assert_eq!(p1.body["url"], "/v1/products");
    assert_eq!(ids(&p1), created[..10].to_vec());
    // New objects arrive between page reads; they don't shift later pages.
    app.product("late 1").await;
    let last = ids(&p1).last().unwrap().clone();
    let p2 = app
        .get(&format!("/v1/products?limit=10&starting_after={last}"))
        .await;
    assert_eq!(ids(&p2), created[10..20].to_vec());
    assert_eq!(p2.body["has_more"], true);
    app.product("late 2").await;
    let last = ids(&p2).last().unwrap().clone();
    let p3 = app
        .get(&format!("/v1/products?limit=10&starting_after={last}"))
        .await;
    assert_eq!(ids(&p3), created[20..].to_vec());
    assert_eq!(p3.body["has_more"], false);
    // ending_before walks back towards the newest, including the late ones.
    let first = ids(&p2)[0].clone();
    let back = app
        .get(&format!("/v1/products?limit=3&ending_before={first}"))
        .await;
    assert_eq!(ids(&back), created[7..10].to_vec());
    assert_eq!(back.body["has_more"], true);
    let top = app
        .get(&format!("/v1/products?limit=100&ending_before={first}"))
        .await;
    assert_eq!(ids(&top).len(), 12);
    assert_eq!(top.body["has_more"], false);
    // Default limit is 10; the whole list at limit=100.
    assert_eq!(ids(&app.get("/v1/products").await).len(), 10);
    assert_eq!(ids(&app.get("/v1/products?limit=100").await).len(), 27);
}
both!(pages_with_inserts_in_between);

async fn pagination_bad_input(app: TestApp) {
    let p = app.product("x").await;
    app.get("/v1/products?limit=0")
        .await
        .assert_error(400, Some("limit"));
    app.get("/v1/products?limit=101")
        .await
        .assert_error(400, Some("limit"));
    app.get("/v1/products?limit=ten")
        .await
        .assert_error(400, Some("limit"));
    app.get("/v1/products?starting_after=prod_nope")
        .await
        .assert_error(400, Some("starting_after"));
    app.get("/v1/products?ending_before=prod_nope")
        .await
        .assert_error(400, Some("ending_before"));
    app.get(&format!(
        "/v1/products?starting_after={p}&ending_before={p}"
    ))
    .await
    .assert_error(400, Some("ending_before"));
    // A cursor from another list or account is not an object of this list.
    let price = app.price("usd", 100).await;
    app.get(&format!("/v1/products?starting_after={price}"))
        .await
        .assert_error(400, Some("starting_after"));
    let (_, other) = app.other_account().await;
    app.get_as(&other, &format!("/v1/products?starting_after={p}"))
        .await
        .assert_error(400, Some("starting_after"));
}
both!(pagination_bad_input);

async fn every_list_paginates(app: TestApp) {
    let coupon = app.coupon_pct("5").await;
    for _ in 0..3 {
        let price = app.price("usd", 100).await;
        app.post("/v1/coupons", json!({"percent_off": 1}))
            .await
            .ok();
        app.post("/v1/promotion_codes", json!({"coupon": coupon}))
            .await
            .ok();
        app.post(
            "/v1/payment_links",
            json!({"line_items": [{"price": price, "quantity": 1}]}),
        )
        .await
        .ok();
    }
    for list in [
        "/v1/prices",
        "/v1/coupons",
        "/v1/promotion_codes",
        "/v1/payment_links",
    ] {
        let a = app.get(&format!("{list}?limit=2")).await;
        assert_eq!(a.ok()["has_more"], true, "{list}");
        assert_eq!(a.body["object"], "list");
        let last = ids(&a)[1].clone();
        let b = app
            .get(&format!("{list}?limit=2&starting_after={last}"))
            .await;
        assert!(!ids(&b).is_empty(), "{list}");
        assert!(ids(&b).iter().all(|id| !ids(&a).contains(id)), "{list}");
    }
}
both!(every_list_paginates);

/// Stripe's `created` filter on every object list (`gt`, `gte`, `lt`,
/// `lte`, combined with the cursors), as reconciliation jobs page by time;
/// events take `type` wildcards; a list held in its object (line items)
/// has no `created`.
async fn lists_filter_by_created_time(app: TestApp) {
    let t0 = app.now();
    let a = app.product("Early").await;
    let ca = app
        .post("/v1/customers", json!({"name": "Early"}))
        .await
        .id();
    app.clock.advance(10);
    let b = app.product("Middle").await;
    let cb = app
        .post("/v1/customers", json!({"name": "Middle"}))
        .await
        .id();
    app.clock.advance(10);
    let c = app.product("Late").await;
    let list = |q: String| {
        let app = &app;
        async move { ids(&app.get(&q).await) }
    };
    assert_eq!(
        list(format!("/v1/products?created[gte]={}", t0 + 10)).await,
        vec![c.clone(), b.clone()]
    );
    assert_eq!(
        list(format!("/v1/products?created[lt]={}", t0 + 10)).await,
        vec![a.clone()]
    );
    assert_eq!(
        list(format!(
            "/v1/products?created[gt]={t0}&created[lte]={}",
            t0 + 10
        ))
        .await,
        vec![b.clone()]
    );
    // With the cursors and a limit, in the range only.
    let first = list(format!("/v1/products?created[gte]={t0}&limit=1")).await;
    assert_eq!(first, vec![c.clone()]);
    assert_eq!(
        list(format!(
            "/v1/products?created[gte]={t0}&limit=5&starting_after={c}"
        ))
        .await,
        vec![b.clone(), a.clone()]
    );
    assert_eq!(
        list(format!("/v1/customers?created[lte]={t0}")).await,
        vec![ca.clone()]
    );
    assert_eq!(
        list(format!("/v1/customers?created[gte]={}", t0 + 10)).await,
        vec![cb.clone()]
    );
    // Events: a wildcard type.
    let created_events = app
        .get("/v1/events?type=product.*&limit=100")
        .await
        .ok()
        .clone();
    let kinds: Vec<&str> = created_events["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 3, "{kinds:?}");
    assert!(kinds.iter().all(|k| k.starts_with("product.")), "{kinds:?}");
    assert_eq!(
        app.get("/v1/events?type=nothing.*").await.ok()["data"],
        json!([])
    );
    // Bad input, named; no created on line items.
    app.get("/v1/products?created[gte]=soon")
        .await
        .assert_error(400, Some("created[gte]"));
    app.get("/v1/products?created[since]=1")
        .await
        .assert_error(400, Some("created[since]"));
    let link = app.link_with("eur", 500, json!({})).await;
    app.get(&format!(
        "/v1/payment_links/{link}/line_items?created[gte]=1"
    ))
    .await
    .assert_error(400, Some("created"));
}
both!(lists_filter_by_created_time);
