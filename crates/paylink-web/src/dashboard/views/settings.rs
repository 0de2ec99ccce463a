//! Checkout settings and the payment provider.

#[allow(clippy::wildcard_imports)]
use super::*;

async fn settings_page(api: &InternalApi, ctx: &Ctx, f: &FormState) -> Response {
    let acct = match get_obj(api, ctx, "/v1/account").await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let color = if f.values.0.contains_key("primary_color") {
        f.value("primary_color").to_string()
    } else {
        s(&acct["settings"]["branding"]["primary_color"]).to_string()
    };
    let any = s(&acct["settings"]["card_payments"]["request_three_d_secure"]) == "any";
    let provider = &acct["provider"];
    let shown = FormState {
        values: Form::parse(&body(&[("primary_color", &color)])),
        errors: f.errors.clone(),
        alert: f.alert.clone(),
        notice: f.notice.clone(),
    };
    let body = html! {
        (pages::alerts(f))
        div class="card" {
            h2 { "Checkout" }
            @if ctx.scope.livemode {
                form method="post" action="/dashboard/settings" {
                    (csrf(ctx))
                    (field(&shown, "Brand colour (#rrggbb)", "primary_color", "text", "#4f46e5"))
                    label { input type="checkbox" name="three_d_secure_any" value="true" checked[any]; " Send every card payment through 3-D Secure" }
                    p { button type="submit" { "Save" } }
                }
            } @else {
                p { "Brand colour " span class="mono" { (color) } " · 3-D Secure on every payment: " (if any { "yes" } else { "no" }) }
                p class="muted" { "These settings apply to live payments too, so they change only in live mode (“Switch to live data” in the menu)." }
            }
        }
        div class="card" {
            h2 { "Payment provider (" (if ctx.scope.livemode { "live" } else { "test" }) ")" }
            @if provider.is_object() {
                p { (s(&provider["type"])) " · key ending " span class="mono" { (s(&provider["last4"])) } }
                (button(ctx, "/dashboard/settings/disconnect", "Disconnect and wipe the key", "danger"))
            } @else {
                p class="muted" { "Not connected." }
            }
            @if ctx.can(Permission::ConnectProvider) {
                h3 { @if provider.is_object() { "Replace the provider key" } @else { "Connect" } }
                p class="muted" { "Paste the secret key your provider gave you; it is checked with the provider, stored sealed and never shown again. This decides where buyers' money goes, so it asks for a fresh code from your authenticator app, and every owner is notified." }
                form method="post" action="/dashboard/settings/connect" {
                    (csrf(ctx))
                    input type="hidden" name="provider" value="sim";
                    label for="secret_key" { "Secret key (sk_sim_…)" }
                    input id="secret_key" name="secret_key" type="password" autocomplete="off" aria-invalid=[f.errors.get("secret_key").map(|_| "true")];
                    @if let Some(m) = f.errors.get("secret_key") { div class="err" id="secret_key-error" role="alert" { (m) } }
                    label for="code" { "Code from your authenticator app" }
                    input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" aria-invalid=[f.errors.get("code").map(|_| "true")];
                    @if let Some(m) = f.errors.get("code") { div class="err" id="code-error" role="alert" { (m) } }
                    p { button type="submit" { "Connect" } }
                }
            } @else {
                p class="muted" { "Only an owner can connect or replace the payment provider." }
            }
        }
    };
    crate::dashboard::page(layout(ctx, "Settings", "/dashboard/settings", body))
}

pub async fn settings(Extension(ctx): C, Extension(api): A) -> Response {
    settings_page(&api, &ctx, &FormState::default()).await
}

pub async fn settings_update(
    Extension(ctx): C,
    Extension(api): A,
    fo: Option<Extension<Form>>,
) -> Response {
    let form = form_of(fo);
    let mut f = FormState {
        values: form.clone(),
        ..Default::default()
    };
    let three = if form.get("three_d_secure_any").is_empty() {
        "automatic"
    } else {
        "any"
    };
    let pairs = [
        (
            "settings[branding][primary_color]",
            form.get("primary_color").trim(),
        ),
        ("settings[card_payments][request_three_d_secure]", three),
    ];
    match call_api(&api, &ctx, Method::POST, "/v1/account", Some(body(&pairs))).await {
        Ok(a) if a.ok() => {
            f = FormState::notice("Saved.");
            settings_page(&api, &ctx, &f).await
        }
        Ok(a) => {
            field_error(
                &mut f,
                &a,
                &[("settings[branding][primary_color]", "primary_color")],
                "",
            );
            settings_page(&api, &ctx, &f).await
        }
        Err(e) => fail(e),
    }
}

pub async fn settings_connect(
    State(state): State<AppState>,
    Extension(ctx): C,
    Extension(api): A,
    fo: Option<Extension<Form>>,
) -> Response {
    let form = form_of(fo);
    // Where the money goes changes only after a fresh second factor.
    match crate::dashboard::login::checked_second_factor(
        &state,
        &ctx.user.id,
        &ctx.ip,
        form.get("code"),
        true,
    )
    .await
    {
        Ok((Some(_), _)) => {
            if let Err(e) = state.store.code_passed(&ctx.user.id).await {
                return store_fail(e);
            }
        }
        Ok((None, locked)) => {
            let mut f = FormState::default();
            let msg = if locked {
                "Too many wrong codes: the code step is locked for a while."
            } else {
                "Enter the current code from your authenticator app to confirm."
            };
            f.errors.insert("code".into(), msg.into());
            ctx.audit(
                &state,
                "provider.connect_refused",
                Some(&ctx.scope.account_id),
                serde_json::json!({"reason": "second_factor", "locked": locked}),
            )
            .await;
            return settings_page(&api, &ctx, &f).await;
        }
        Err(e) => return fail(e),
    }
    let secret = Secret::new(form.get("secret_key").trim().to_string());
    match crate::service::provider::connect(&state, &ctx.scope, &ctx.actor(), "sim", secret).await {
        Ok(_) => {
            settings_page(
                &api,
                &ctx,
                &FormState::notice(
                    "Connected. The key is stored sealed and will not be shown again. Every owner was notified.",
                ),
            )
            .await
        }
        Err(e) if !e.status().is_server_error() => {
            // The key is never put back in the form.
            let mut f = FormState::default();
            let msg = e.body()["error"]["message"]
                .as_str()
                .unwrap_or("The provider did not accept this secret key.")
                .to_string();
            f.errors.insert("secret_key".into(), msg);
            settings_page(&api, &ctx, &f).await
        }
        Err(e) => fail(e),
    }
}

pub async fn settings_disconnect(Extension(ctx): C, Extension(api): A) -> Response {
    match call_api(
        &api,
        &ctx,
        Method::POST,
        "/v1/account/disconnect",
        Some(Vec::new()),
    )
    .await
    {
        Ok(a) if a.ok() => {
            settings_page(
                &api,
                &ctx,
                &FormState::notice("Disconnected; the key was wiped."),
            )
            .await
        }
        Ok(a) => fail(ApiError::invalid(a.error().1, a.error().0)),
        Err(e) => fail(e),
    }
}
