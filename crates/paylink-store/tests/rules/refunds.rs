//! Refunds reserve their amount under the payment's row lock: together
//! they never exceed what was paid, and a failed one gives its amount back.

use paylink_domain::catalog::Metadata;
use paylink_domain::IdKind;
use paylink_store::checkout::NewRefund;
use paylink_store::StoreError;
use paylink_testkit::db::Db;

use crate::on_both;
use crate::shop::{id, shop, Shop, NOW};

/// A completed payment of `amount`; its payment intent's id.
async fn payment(shop: &Shop, amount: i64) -> String {
    shop.paid(amount).await.1.payment_intent
}

async fn refund(
    shop: &Shop,
    pi: &str,
    amount: Option<i64>,
) -> Result<paylink_domain::checkout::Refund, StoreError> {
    let refund_id = id(IdKind::Refund);
    shop.store
        .begin_refund(
            &shop.scope,
            NewRefund {
                payment_intent: pi,
                amount,
                reason: None,
                refund_id: &refund_id,
                metadata: &Metadata::default(),
                now: NOW + 120,
            },
        )
        .await
}

async fn refunds_never_exceed_the_payment(db: Db) {
    let shop = shop(db).await;
    let pi = payment(&shop, 3000).await;
    let first = refund(&shop, &pi, Some(2000)).await.unwrap();
    assert_eq!((first.amount, first.status.as_str()), (2000, "pending"));
    let over = refund(&shop, &pi, Some(1001)).await;
    assert!(matches!(over, Err(StoreError::Rule(_))), "{over:?}");
    // No amount: all that is left.
    let rest = refund(&shop, &pi, None).await.unwrap();
    assert_eq!(rest.amount, 1000);
    let nothing = refund(&shop, &pi, None).await;
    assert!(matches!(nothing, Err(StoreError::Rule(_))), "{nothing:?}");
    // A failed refund gives its amount back; a settled one stays settled.
    let failed = shop
        .store
        .finish_refund(&shop.scope, &rest, None)
        .await
        .unwrap();
    assert_eq!(failed.status, "failed");
    let settled = shop
        .store
        .finish_refund(&shop.scope, &rest, Some("re_provider"))
        .await
        .unwrap();
    assert_eq!(settled.status, "failed", "only a pending refund changes");
    let pi_now = shop
        .store
        .get_payment_intent(&shop.scope, &pi)
        .await
        .unwrap();
    assert_eq!(pi_now.amount_refunded, 2000);
    assert_eq!(refund(&shop, &pi, None).await.unwrap().amount, 1000);
    // The overview's daily totals follow every step: the payment, each
    // refund taken, the failed one given back.
    let kept = shop.store.payment_days_since(&shop.scope, 0).await.unwrap();
    assert_eq!(
        kept,
        shop.store.payment_days_counted(&shop.scope).await.unwrap()
    );
    assert_eq!((kept.len(), kept[0].payments, kept[0].net), (1, 1, 0));
}
on_both!(refunds_never_exceed_the_payment);

async fn concurrent_refunds_never_exceed_the_payment(db: Db) {
    let shop = std::sync::Arc::new(shop(db).await);
    let pi = payment(&shop, 1000).await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (shop, pi) = (shop.clone(), pi.clone());
        tasks.push(tokio::spawn(
            async move { refund(&shop, &pi, Some(300)).await },
        ));
    }
    let mut taken = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(r) => taken += r.amount,
            Err(StoreError::Rule(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        taken, 900,
        "three refunds of 300 fit in 1000, a fourth does not"
    );
    let pi_now = shop
        .store
        .get_payment_intent(&shop.scope, &pi)
        .await
        .unwrap();
    assert_eq!(pi_now.amount_refunded, 900);
    let kept = shop.store.payment_days_since(&shop.scope, 0).await.unwrap();
    assert_eq!(
        kept,
        shop.store.payment_days_counted(&shop.scope).await.unwrap()
    );
    assert_eq!(kept[0].net, 100);
}
on_both!(concurrent_refunds_never_exceed_the_payment);
