//! Opening a session reserves a place under every limit it touches, in the
//! same transaction: the link's completed-sessions limit and a promotion
//! code's redemptions. Expiry gives the place back.

use paylink_store::checkout::OpenRefusal;
use paylink_testkit::db::Db;

use crate::on_both;
use crate::shop::shop;

async fn a_link_limit_counts_open_sessions(db: Db) {
    let shop = shop(db).await;
    let price = shop.price(1500).await;
    let link = shop.link(&price, Some(1)).await;
    let first = shop.session(&link, 1500, None);
    assert_eq!(shop.open(&first).await, Ok(()));
    // The one place is reserved by the open session.
    let second = shop.session(&link, 1500, None);
    assert_eq!(shop.open(&second).await, Err(OpenRefusal::LinkUnavailable));
    // Expiring the first gives its place back.
    let (expired, changed) = shop
        .store
        .expire_session(&shop.scope, &first.id)
        .await
        .unwrap();
    assert!(changed);
    assert_eq!(expired.status.as_str(), "expired");
    assert_eq!(shop.open(&second).await, Ok(()));
    // A session that is not open expires no second time.
    let (_, again) = shop
        .store
        .expire_session(&shop.scope, &first.id)
        .await
        .unwrap();
    assert!(!again);
    assert_eq!(
        shop.open(&shop.session(&link, 1500, None)).await,
        Err(OpenRefusal::LinkUnavailable)
    );
}
on_both!(a_link_limit_counts_open_sessions);

async fn a_code_limit_counts_open_sessions(db: Db) {
    let shop = shop(db).await;
    let price = shop.price(2000).await;
    let link = shop.link(&price, None).await;
    let code = shop.code(Some(2)).await;
    for _ in 0..2 {
        assert_eq!(
            shop.open(&shop.session(&link, 1800, Some(&code))).await,
            Ok(())
        );
    }
    assert_eq!(
        shop.open(&shop.session(&link, 1800, Some(&code))).await,
        Err(OpenRefusal::PromotionExhausted)
    );
    // A refused opening leaves nothing behind: the link still takes
    // buyers without the code.
    assert_eq!(shop.open(&shop.session(&link, 2000, None)).await, Ok(()));
}
on_both!(a_code_limit_counts_open_sessions);

async fn a_refused_opening_reserves_nothing(db: Db) {
    let shop = shop(db).await;
    let price = shop.price(900).await;
    let link = shop.link(&price, Some(1)).await;
    let code = shop.code(Some(1)).await;
    // The code's one use is taken by another link's session.
    let other = shop.link(&price, None).await;
    assert_eq!(
        shop.open(&shop.session(&other, 810, Some(&code))).await,
        Ok(())
    );
    // This opening reserves the link's place, then fails on the code: the
    // whole transaction is undone, so the link's place is still free.
    assert_eq!(
        shop.open(&shop.session(&link, 810, Some(&code))).await,
        Err(OpenRefusal::PromotionExhausted)
    );
    assert_eq!(shop.open(&shop.session(&link, 900, None)).await, Ok(()));
}
on_both!(a_refused_opening_reserves_nothing);

async fn concurrent_openings_never_pass_a_limit(db: Db) {
    let shop = shop(db).await;
    let price = shop.price(500).await;
    let link = shop.link(&price, Some(3)).await;
    let shop = std::sync::Arc::new(shop);
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (shop, link) = (shop.clone(), link.clone());
        tasks.push(tokio::spawn(async move {
            shop.open(&shop.session(&link, 500, None)).await
        }));
    }
    let mut opened = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => opened += 1,
            Err(r) => assert_eq!(r, OpenRefusal::LinkUnavailable),
        }
    }
    assert_eq!(opened, 3, "exactly the limit's places are taken");
}
on_both!(concurrent_openings_never_pass_a_limit);
