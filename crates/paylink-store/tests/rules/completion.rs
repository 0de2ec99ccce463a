//! A provider's "paid" event completes its session exactly once, only for
//! the payment the session created, and for its exact amount.

use paylink_store::checkout::{Completion, OpenRefusal};
use paylink_store::StoreError;
use paylink_testkit::db::Db;

use crate::on_both;
use crate::shop::{paid, shop, Ids};

async fn an_event_completes_once(db: Db) {
    let shop = shop(db).await;
    let (link, s) = shop.opened(4200, Some(1)).await;
    let ids = Ids::for_session(&s);
    let done = shop
        .store
        .complete_session(paid(&s, "evt_1", 4200, &ids))
        .await
        .unwrap();
    assert_eq!(
        done,
        Completion::Recorded {
            payment_intent: ids.payment_intent.clone()
        }
    );
    // The same event again, and another event for the same payment.
    let again = shop
        .store
        .complete_session(paid(&s, "evt_1", 4200, &ids))
        .await
        .unwrap();
    assert_eq!(again, Completion::DuplicateEvent);
    let other = Ids::for_session(&s);
    let second = shop
        .store
        .complete_session(paid(&s, "evt_2", 4200, &other))
        .await
        .unwrap();
    assert_eq!(second, Completion::AlreadyComplete);
    // One payment, for the session's amount, by one new customer.
    let pi = shop
        .store
        .get_payment_intent(&shop.scope, &ids.payment_intent)
        .await
        .unwrap();
    assert_eq!((pi.amount, pi.amount_refunded), (4200, 0));
    assert_eq!(pi.customer.as_deref(), Some(ids.customer.as_str()));
    assert!(matches!(
        shop.store
            .get_payment_intent(&shop.scope, &other.payment_intent)
            .await,
        Err(StoreError::NotFound)
    ));
    let customer = shop
        .store
        .get_customer(&shop.scope, &ids.customer)
        .await
        .unwrap();
    assert_eq!(customer.email.as_deref(), Some("buyer@rules.example"));
    // The reservation became a count: the link's one place is used up.
    let link = shop
        .store
        .get_payment_link(&shop.scope, &link.id)
        .await
        .unwrap();
    assert_eq!(link.completed_sessions_count, 1);
    assert_eq!(
        shop.open(&shop.session(&link, 4200, None)).await,
        Err(OpenRefusal::LinkUnavailable)
    );
}
on_both!(an_event_completes_once);

async fn a_wrong_amount_or_payment_records_nothing(db: Db) {
    let shop = shop(db).await;
    let (_, s) = shop.opened(1000, None).await;
    let ids = Ids::for_session(&s);
    // Paid less than the session's total: an error, and nothing recorded.
    let short = shop
        .store
        .complete_session(paid(&s, "evt_short", 999, &ids))
        .await;
    assert!(
        matches!(short, Err(StoreError::AmountMismatch { .. })),
        "{short:?}"
    );
    // A payment this session did not create.
    let mut forged = Ids::for_session(&s);
    forged.provider_ref = "pay_someone_else".into();
    let refused = shop
        .store
        .complete_session(paid(&s, "evt_forged", 1000, &forged))
        .await
        .unwrap();
    assert!(matches!(refused, Completion::Refused(_)), "{refused:?}");
    for pi in [&ids.payment_intent, &forged.payment_intent] {
        assert!(matches!(
            shop.store.get_payment_intent(&shop.scope, pi).await,
            Err(StoreError::NotFound)
        ));
    }
    // Neither event was kept as processed: the real one still completes.
    let done = shop
        .store
        .complete_session(paid(&s, "evt_short", 1000, &ids))
        .await
        .unwrap();
    assert!(matches!(done, Completion::Recorded { .. }), "{done:?}");
}
on_both!(a_wrong_amount_or_payment_records_nothing);

async fn a_payment_after_expiry_is_given_back(db: Db) {
    let shop = shop(db).await;
    let (link, s) = shop.opened(700, Some(1)).await;
    shop.store.expire_session(&shop.scope, &s.id).await.unwrap();
    let ids = Ids::for_session(&s);
    let late = shop
        .store
        .complete_session(paid(&s, "evt_late", 700, &ids))
        .await
        .unwrap();
    assert_eq!(late, Completion::SessionExpired);
    // Recorded as processed (the refund happens once), nothing else.
    let again = shop
        .store
        .complete_session(paid(&s, "evt_late", 700, &ids))
        .await
        .unwrap();
    assert_eq!(again, Completion::DuplicateEvent);
    let link = shop
        .store
        .get_payment_link(&shop.scope, &link.id)
        .await
        .unwrap();
    assert_eq!(link.completed_sessions_count, 0);
}
on_both!(a_payment_after_expiry_is_given_back);
