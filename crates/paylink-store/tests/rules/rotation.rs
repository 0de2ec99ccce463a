//! Data-key rotation re-seals an account's personal data under a new
//! key and destroys the old one; the data reads the same throughout.

use paylink_testkit::db::Db;

use crate::on_both;
use crate::shop::shop;

async fn rotation_reseals_and_data_reads_the_same(db: Db) {
    let shop = shop(db).await;
    let (s, ids) = shop.paid(1200).await;
    let mut steps = Vec::new();
    let report = shop
        .store
        .rotate_data_key(
            &shop.scope.account_id,
            std::time::Duration::ZERO,
            &mut |s| steps.push(s),
        )
        .await
        .unwrap();
    assert_eq!(report.generation, 1);
    assert!(report.resealed > 0, "{report:?}");
    assert!(report.destroyed_keys >= 1, "{report:?}");
    assert!(!steps.is_empty());
    let customer = shop
        .store
        .get_customer(&shop.scope, &ids.customer)
        .await
        .unwrap();
    assert_eq!(customer.email.as_deref(), Some("buyer@rules.example"));
    assert_eq!(customer.name.as_deref(), Some("Ada Buyer"));
    let session = shop.store.get_session(&shop.scope, &s.id).await.unwrap();
    assert_eq!(
        session.customer_email.as_deref(),
        Some("buyer@rules.example")
    );
    // Again: the next generation, and the data still reads.
    let next = shop
        .store
        .rotate_data_key(
            &shop.scope.account_id,
            std::time::Duration::ZERO,
            &mut |_| {},
        )
        .await
        .unwrap();
    assert_eq!(next.generation, 2);
    let customer = shop
        .store
        .get_customer(&shop.scope, &ids.customer)
        .await
        .unwrap();
    assert_eq!(customer.email.as_deref(), Some("buyer@rules.example"));
}
on_both!(rotation_reseals_and_data_reads_the_same);

async fn master_key_rewrap_keeps_data_readable(db: Db) {
    let shop = shop(db).await;
    let (_, s) = shop.opened(800, None).await;
    // A new master key version; every data key is re-wrapped under it.
    let path = shop.data.opts.key_path();
    paylink_crypto::KeyFile::load(&path)
        .unwrap()
        .add_version(&path)
        .unwrap();
    let reopened = &shop.store;
    let before = reopened.data_key_status().await.unwrap();
    assert!(
        before.iter().any(|(version, _)| *version == 1),
        "{before:?}"
    );
    while reopened.rewrap_data_keys(2).await.unwrap() > 0 {}
    let after = reopened.data_key_status().await.unwrap();
    assert!(after.iter().all(|(version, _)| *version == 2), "{after:?}");
    let session = reopened.get_session(&shop.scope, &s.id).await.unwrap();
    assert_eq!(session.customer_name.as_deref(), Some("Ada Buyer"));
}
on_both!(master_key_rewrap_keeps_data_readable);
