//! `GET /v1/{products,prices,customers,payment_intents}/search`: Stripe's
//! query language, its pages, its errors, and tenancy.

use crate::both;
use crate::buyer::*;
use crate::helpers::*;
use serde_json::Value;

/// The ids a search answers, checking the search result's shape.
async fn found(app: &TestApp, resource: &str, query: &str) -> Vec<String> {
    let url = format!("/v1/{resource}/search?query={}", urlencode(query));
    let r = app.get(&url).await;
    let body = r.ok();
    assert_eq!(body["object"], "search_result", "{body}");
    assert_eq!(body["url"], format!("/v1/{resource}/search"));
    assert_eq!(body["has_more"], false, "{body}");
    assert_eq!(body["next_page"], Value::Null);
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_string())
        .collect()
}

/// `s` as a query-string value.
fn urlencode(s: &str) -> String {
    let u = reqwest::Url::parse_with_params("http://x/", &[("q", s)]).unwrap();
    u.query().unwrap().trim_start_matches("q=").to_string()
}

async fn search_finds_what_the_query_says(app: TestApp) {
    let t0 = app.now();
    let blue = app
        .post(
            "/v1/products",
            json!({"name": "Blue shirt", "description": "Cotton", "metadata": {"color": "blue"}}),
        )
        .await
        .id();
    app.clock.advance(10);
    let red = app
        .post(
            "/v1/products",
            json!({"name": "Red SHIRT", "metadata": {"color": "red"}}),
        )
        .await
        .id();
    app.post(&format!("/v1/products/{red}"), json!({"active": false}))
        .await
        .ok();
    app.clock.advance(10);
    let mug = app.post("/v1/products", json!({"name": "Mug"})).await.id();
    let p = "products";
    assert_eq!(
        found(&app, p, r#"name~"shirt""#).await,
        vec![red.clone(), blue.clone()]
    );
    assert_eq!(
        found(&app, p, r#"name~"shirt" AND active:"true""#).await,
        vec![blue.clone()]
    );
    assert_eq!(
        found(&app, p, r#"name~"shirt" active:"false""#).await,
        vec![red.clone()]
    );
    assert_eq!(
        found(&app, p, r#"metadata["color"]:"blue""#).await,
        vec![blue.clone()]
    );
    // Single quotes, as Stripe's API reference and SDK examples write.
    assert_eq!(
        found(&app, p, "name~'shirt' AND metadata['color']:'blue'").await,
        vec![blue.clone()]
    );
    assert_eq!(
        found(&app, p, r#"name:"mug" OR name:"blue shirt""#).await,
        vec![mug.clone(), blue.clone()]
    );
    assert_eq!(found(&app, p, r#"-name~"shirt""#).await, vec![mug.clone()]);
    assert_eq!(
        found(&app, p, r#"description:"cotton""#).await,
        vec![blue.clone()]
    );
    assert_eq!(
        found(&app, p, &format!("created>{t0} created<={}", t0 + 10)).await,
        vec![red.clone()]
    );
    assert!(
        found(&app, p, r#"name:"shirt""#).await.is_empty(),
        "exact, not a substring"
    );
    // Pages: limit 1, then next_page until has_more is false.
    let mut seen = Vec::new();
    let mut page: Option<String> = None;
    loop {
        let mut url = format!(
            "/v1/products/search?limit=1&query={}",
            urlencode(r#"name~"shirt" OR name:"mug""#)
        );
        if let Some(p) = &page {
            url.push_str(&format!("&page={p}"));
        }
        let r = app.get(&url).await;
        let body = r.ok().clone();
        let data = body["data"].as_array().unwrap();
        assert_eq!(data.len(), 1, "{body}");
        seen.push(data[0]["id"].as_str().unwrap().to_string());
        if body["has_more"] == false {
            assert_eq!(body["next_page"], Value::Null);
            break;
        }
        page = Some(body["next_page"].as_str().unwrap().to_string());
        assert!(seen.len() < 5, "paging does not end: {seen:?}");
    }
    assert_eq!(seen, vec![mug.clone(), red.clone(), blue.clone()]);

    // Prices.
    let eur = app
        .post(
            "/v1/prices",
            json!({"product": blue, "currency": "eur", "unit_amount": 1500, "lookup_key": "blue-std"}),
        )
        .await
        .id();
    let usd = app
        .post(
            "/v1/prices",
            json!({"product": blue, "currency": "usd", "unit_amount": 1700}),
        )
        .await
        .id();
    assert_eq!(
        found(
            &app,
            "prices",
            &format!(r#"product:"{blue}" AND currency:"eur""#)
        )
        .await,
        vec![eur.clone()]
    );
    assert_eq!(
        found(&app, "prices", r#"lookup_key:"blue-std""#).await,
        vec![eur.clone()]
    );
    assert_eq!(
        found(&app, "prices", r#"type:"one_time" active:"true""#).await,
        vec![usd.clone(), eur.clone()]
    );

    // Customers and payments, from two buyers.
    let link = app.link_with("eur", 2500, json!({})).await;
    Buyer::new()
        .pay(&app, &link, &[("email", "ann@example.com")])
        .await;
    Buyer::new()
        .pay(
            &app,
            &link,
            &[("email", "bob@example.org"), ("quantity_0", "2")],
        )
        .await;
    let ann = found(&app, "customers", r#"email:"ANN@example.com""#).await;
    assert_eq!(ann.len(), 1);
    app.post(
        &format!("/v1/customers/{}", ann[0]),
        json!({"name": "Ann Lee", "metadata": {"tier": "gold"}}),
    )
    .await
    .ok();
    assert_eq!(
        found(&app, "customers", r#"email~"example.org""#)
            .await
            .len(),
        1
    );
    assert_eq!(found(&app, "customers", r#"name~"ann l""#).await, ann);
    assert_eq!(
        found(
            &app,
            "customers",
            r#"email:"ann@example.com" metadata["tier"]:"gold""#
        )
        .await,
        ann
    );
    assert!(found(
        &app,
        "customers",
        r#"email:"ann@example.com" metadata["tier"]:"silver""#
    )
    .await
    .is_empty());
    let big = found(
        &app,
        "payment_intents",
        r#"status:"succeeded" AND amount>2500"#,
    )
    .await;
    assert_eq!(big.len(), 1);
    let pi = app.get(&format!("/v1/payment_intents/{}", big[0])).await;
    assert_eq!(pi.ok()["amount"], 5000);
    assert_eq!(
        found(
            &app,
            "payment_intents",
            &format!(r#"customer:"{}""#, ann[0])
        )
        .await
        .len(),
        1
    );
    assert_eq!(
        found(&app, "payment_intents", r#"currency:"eur""#)
            .await
            .len(),
        2
    );

    // Another account's key finds none of them.
    let (_, other) = app.other_account().await;
    let r = app
        .get_as(
            &other,
            &format!("/v1/products/search?query={}", urlencode(r#"name~"shirt""#)),
        )
        .await;
    assert_eq!(r.ok()["data"].as_array().unwrap().len(), 0);
    let r = app
        .get_as(
            &other,
            &format!(
                "/v1/customers/search?query={}",
                urlencode(r#"email:"ann@example.com""#)
            ),
        )
        .await;
    assert_eq!(r.ok()["data"].as_array().unwrap().len(), 0);
}
both!(search_finds_what_the_query_says);

async fn search_refuses_what_it_cannot_answer(app: TestApp) {
    for (resource, query) in [
        ("products", r#"colour:"blue""#),
        ("products", r#"name>5"#),
        ("products", r#"name~"ab""#),
        ("products", r#"name:"open"#),
        ("products", r#"name:"a" AND name:"b" OR name:"c""#),
        ("products", r#"created>"soon""#),
        ("products", "name"),
        ("prices", r#"unit_amount>5"#),
        ("customers", r#"address:"x""#),
        ("payment_intents", r#"amount~"100""#),
        ("products", r#"active:"yes""#),
        ("prices", r#"active:1"#),
    ] {
        let r = app
            .get(&format!("/v1/{resource}/search?query={}", urlencode(query)))
            .await;
        r.assert_error(400, Some("query"));
    }
    let r = app.get("/v1/products/search").await;
    r.assert_error(400, Some("query"));
    assert_eq!(r.body["error"]["code"], "parameter_missing");
    let r = app
        .get(&format!(
            "/v1/products/search?query={}&page=prod_nothing",
            urlencode(r#"name:"a""#)
        ))
        .await;
    r.assert_error(400, Some("page"));
    let r = app
        .get(&format!(
            "/v1/products/search?query={}&limit=101",
            urlencode(r#"name:"a""#)
        ))
        .await;
    r.assert_error(400, Some("limit"));
}
both!(search_refuses_what_it_cannot_answer);
