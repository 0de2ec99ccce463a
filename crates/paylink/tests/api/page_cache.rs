//! The checkout page's data is cached (issue 12): a change made through
//! this instance shows at once; one made through another instance behind
//! the same database shows within the cache's lifetime, never later.

use crate::both;
use crate::buyer::*;
use crate::helpers::*;

async fn page_changes_show_at_once_here_and_within_a_second_elsewhere(app: TestApp) {
    let ttl = paylink_web::checkout::cache::TTL_SECS;
    let link = app.link_with("eur", 1200, json!({})).await;
    let b = Buyer::new();
    let other = app.second_instance().await;
    let here = |base: &str| format!("{base}/l/{link}");
    // Both instances have the page cached; the CSP nonce is still new on
    // every response.
    let nonce = |url: String| {
        let b = Buyer::new();
        async move {
            let r = b.client.get(url).send().await.unwrap();
            let csp = r.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .to_string();
            csp.split("'nonce-")
                .nth(1)
                .unwrap()
                .split('\'')
                .next()
                .unwrap()
                .to_string()
        }
    };
    let (n1, n2) = (nonce(here(&app.base)).await, nonce(here(&app.base)).await);
    assert_ne!(n1, n2);
    assert_eq!(n1.len(), 22, "{n1}");
    assert_eq!(b.get(&here(&app.base)).await.status, 200);
    let page = b.get(&here(&other)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Thing"), "{}", page.body);
    // A product rename through this instance shows here at once.
    let product = app
        .get(&format!("/v1/payment_links/{link}/line_items"))
        .await
        .ok()["data"][0]["price"]["product"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        &format!("/v1/products/{product}"),
        json!({"name": "Renamed mug"}),
    )
    .await
    .ok();
    let page = b.get(&here(&app.base)).await;
    assert!(page.body.contains("Renamed mug"), "{}", page.body);
    // Deactivating the link: here at once (410 Gone).
    app.post(
        &format!("/v1/payment_links/{link}"),
        json!({"active": "false"}),
    )
    .await
    .ok();
    assert_eq!(b.get(&here(&app.base)).await.status, 410);
    // The other instance may serve its copy until the cache's lifetime
    // ends (it does here: the clock has not moved), and not a second
    // longer.
    let stale = b.get(&here(&other)).await;
    assert_eq!(stale.status, 200, "served from the other instance's cache");
    assert!(stale.body.contains("Thing"));
    // A buyer who submits that stale page is refused: the form is checked
    // against the database, never the cache.
    let s = b
        .post(
            &here(&other),
            &[("email", "late@example.com"), ("quantity_0", "1")],
        )
        .await;
    assert_eq!(s.status, 410, "no checkout opens on an inactive link");
    app.clock.advance(ttl);
    assert_eq!(b.get(&here(&other)).await.status, 410);
}
both!(page_changes_show_at_once_here_and_within_a_second_elsewhere);
