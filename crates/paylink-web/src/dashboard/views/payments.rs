//! Payments and their refunds.

#[allow(clippy::wildcard_imports)]
use super::*;

pub async fn payments(Extension(ctx): C, Extension(api): A, Query(q): Query<ListQ>) -> Response {
    let listed = match list(&api, &ctx, "/v1/payment_intents", "", &q).await {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let body = html! {
        (pages::search_box("/dashboard/payments", &q.q, "Search by id or status"))
        div class="card" {
            table {
                thead { tr { th { "Amount" } th { "Status" } th { "Refunded" } th { "Card" } th { "Date" } } }
                tbody {
                    @for p in &listed.data {
                        tr {
                            td { a href={ "/dashboard/payments/" (s(&p["id"])) } { (money(p["amount"].as_i64().unwrap_or(0), s(&p["currency"]))) } }
                            td { (s(&p["status"])) }
                            td { (money(p["amount_refunded"].as_i64().unwrap_or(0), s(&p["currency"]))) }
                            td { (s(&p["payment_method_details"]["card"]["brand"])) " " (s(&p["payment_method_details"]["card"]["last4"])) }
                            td { (date(&p["created"])) }
                        }
                    }
                    @if listed.data.is_empty() { tr { td colspan="5" class="muted" { "No payments." } } }
                }
            }
            (pages::pager("/dashboard/payments", &q.q, listed.next.as_deref(), listed.prev.as_deref()))
        }
    };
    crate::dashboard::page(layout(&ctx, "Payments", "/dashboard/payments", body))
}

async fn payment_page(api: &InternalApi, ctx: &Ctx, id: &str, f: &FormState) -> Response {
    let p = match get_obj(api, ctx, &format!("/v1/payment_intents/{}", enc(id))).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let refunds = call_api(
        api,
        ctx,
        Method::GET,
        &format!("/v1/refunds?payment_intent={}&limit=100", enc(id)),
        None,
    )
    .await
    .ok()
    .map(|a| a.body["data"].as_array().cloned().unwrap_or_default())
    .unwrap_or_default();
    let cur = s(&p["currency"]).to_string();
    let left = p["amount"].as_i64().unwrap_or(0) - p["amount_refunded"].as_i64().unwrap_or(0);
    let body = html! {
        div class="card" {
            div class="big" { (money(p["amount"].as_i64().unwrap_or(0), &cur)) }
            p class="muted" { (s(&p["id"])) " · " (s(&p["status"])) " · " (date(&p["created"])) }
            @if let Some(c) = p["customer"].as_str() { p { "Customer: " a href={ "/dashboard/customers/" (c) } { (c) } } }
        }
        div class="card" {
            h2 { "Refunds" }
            table {
                thead { tr { th { "Amount" } th { "Status" } th { "Date" } } }
                tbody {
                    @for r in &refunds { tr { td { (money(r["amount"].as_i64().unwrap_or(0), &cur)) } td { (s(&r["status"])) } td { (date(&r["created"])) } } }
                    @if refunds.is_empty() { tr { td colspan="3" class="muted" { "None." } } }
                }
            }
            @if ctx.can(Permission::Refund) && left > 0 {
                h2 { "Refund" }
                (pages::alerts(f))
                form method="post" action={ "/dashboard/payments/" (id) "/refund" } {
                    (csrf(ctx))
                    (field(f, &format!("Amount (at most {})", money(left, &cur)), "amount", "text", ""))
                    p { button class="danger" type="submit" { "Refund" } }
                }
            }
        }
    };
    crate::dashboard::page(layout(ctx, "Payment", "/dashboard/payments", body))
}

pub async fn payment_show(
    Extension(ctx): C,
    Extension(api): A,
    Path(id): Path<String>,
) -> Response {
    payment_page(&api, &ctx, &id, &FormState::default()).await
}

pub async fn payment_refund(
    Extension(ctx): C,
    Extension(api): A,
    Path(id): Path<String>,
    fo: Option<Extension<Form>>,
) -> Response {
    let form = form_of(fo);
    let mut f = FormState {
        values: form.clone(),
        ..Default::default()
    };
    let p = match get_obj(&api, &ctx, &format!("/v1/payment_intents/{}", enc(&id))).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let cur = s(&p["currency"]).to_uppercase();
    let amount = match Currency::from_str(&cur)
        .ok()
        .and_then(|c| parse_major(form.get("amount"), c))
    {
        Some(a) if a > 0 => a.to_string(),
        _ => {
            f.errors.insert(
                "amount".into(),
                "Enter the amount to refund, such as 5.00.".into(),
            );
            return payment_page(&api, &ctx, &id, &f).await;
        }
    };
    match call_api(
        &api,
        &ctx,
        Method::POST,
        "/v1/refunds",
        Some(body(&[("payment_intent", &id), ("amount", &amount)])),
    )
    .await
    {
        Ok(a) if a.ok() => see_other(&format!("/dashboard/payments/{}", enc(&id))),
        Ok(a) => {
            field_error(&mut f, &a, &[("amount", "amount")], "amount");
            payment_page(&api, &ctx, &id, &f).await
        }
        Err(e) => fail(e),
    }
}
