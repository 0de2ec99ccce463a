//! The tamper-evident audit log and `paylink audit verify`.

use crate::both;
use crate::buyer::*;
use crate::helpers::*;

fn cli(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let o = app.run_cli(args);
    (o.ok, o.stdout, o.stderr)
}

async fn audit_chain_catches_tampering(app: TestApp) {
    // Security-relevant actions are recorded: account and key creation (at
    // spawn), settings, export, redaction.
    app.post_as(
        &app.live_key,
        "/v1/account",
        json!({"settings": {"branding": {"primary_color": "#123456"}}}),
    )
    .await
    .ok();
    let link = app.link_with("eur", 1000, json!({})).await;
    Buyer::new()
        .pay(&app, &link, &[("email", "audited@example.com")])
        .await;
    let cus = app.get("/v1/customers").await.ok()["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.get(&format!("/v1/customers/{cus}/export")).await.ok();
    app.post(&format!("/v1/customers/{cus}/redact"), json!({}))
        .await
        .ok();
    let entries = app.audit_log().await;
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        vec![
            "account.created",
            "api_key.created",
            "api_key.created",
            "account.settings_updated",
            "customer.exported",
            "customer.redacted"
        ]
    );
    assert!(
        entries
            .iter()
            .all(|e| !e.detail.contains("audited@example.com")),
        "no personal data in the log"
    );
    let (ok, out, _) = cli(&app, &["audit", "verify"]);
    assert!(ok && out.contains("audit log intact: 6 entries"), "{out}");
    let (_, lines, _) = cli(&app, &["audit", "export", "--account", &app.account]);
    assert_eq!(lines.lines().count(), 6);
    assert!(lines
        .lines()
        .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));

    // An edited entry.
    let e4 = &entries[3];
    app.raw_exec(&format!(
        "UPDATE audit_log SET detail = '{{}}' WHERE seq = {}",
        e4.seq
    ))
    .await;
    let (ok, _, err) = cli(&app, &["audit", "verify"]);
    assert!(
        !ok && err.contains(&format!("broken at entry #{} ({})", e4.seq, e4.id))
            && err.contains("changed"),
        "{err}"
    );
    app.raw_exec(&format!(
        "UPDATE audit_log SET detail = '{}' WHERE seq = {}",
        e4.detail, e4.seq
    ))
    .await;
    assert!(cli(&app, &["audit", "verify"]).0, "restored");

    // Two entries swapped (their contents moved between places).
    let (a, b) = (&entries[1], &entries[2]);
    for (to, from) in [(a, b), (b, a)] {
        app.raw_exec(&format!(
            "UPDATE audit_log SET id = 'x{}', action = '{}', target = '{}', detail = '{}', prev_hash = '{}', hash = '{}' WHERE seq = {}",
            from.id, from.action, from.target.clone().unwrap_or_default(), from.detail, from.prev_hash, from.hash, to.seq
        ))
        .await;
    }
    let (ok, _, err) = cli(&app, &["audit", "verify"]);
    assert!(
        !ok && err.contains(&format!("broken at entry #{}", a.seq)),
        "{err}"
    );
    for e in [a, b] {
        app.raw_exec(&format!(
            "UPDATE audit_log SET id = '{}', action = '{}', target = '{}', detail = '{}', prev_hash = '{}', hash = '{}' WHERE seq = {}",
            e.id, e.action, e.target.clone().unwrap_or_default(), e.detail, e.prev_hash, e.hash, e.seq
        ))
        .await;
    }
    assert!(cli(&app, &["audit", "verify"]).0, "restored");

    // A deleted entry: the next one is named.
    app.raw_exec(&format!(
        "DELETE FROM audit_log WHERE seq = {}",
        entries[4].seq
    ))
    .await;
    let (ok, _, err) = cli(&app, &["audit", "verify"]);
    assert!(
        !ok && err.contains(&format!(
            "broken at entry #{} ({})",
            entries[5].seq, entries[5].id
        )),
        "{err}"
    );
}
both!(audit_chain_catches_tampering);
