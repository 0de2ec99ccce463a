//! Customers: list, show, export and erase a buyer's data.

#[allow(clippy::wildcard_imports)]
use super::*;

pub async fn customers(Extension(ctx): C, Extension(api): A, Query(q): Query<ListQ>) -> Response {
    // An email is looked up exactly, through the blind index, and only by
    // roles that may see emails; other terms match what the role sees.
    let term = q.q.trim();
    let listed = if !term.contains('@') {
        list(&api, &ctx, "/v1/customers", "", &q).await
    } else if ctx.role.sees_personal_data() {
        let exact = format!("email={}", enc(term));
        list(&api, &ctx, "/v1/customers", &exact, &ListQ::default()).await
    } else {
        Ok(ListedJson {
            data: Vec::new(),
            next: None,
            prev: None,
        })
    };
    let listed = match listed {
        Ok(l) => l,
        Err(e) => return fail(e),
    };
    let body = html! {
        (pages::search_box("/dashboard/customers", &q.q, if ctx.role.sees_personal_data() { "Search by exact email, name or id" } else { "Search by id" }))
        div class="card" {
            table {
                thead { tr { th { "Email" } th { "Name" } th { "Created" } } }
                tbody {
                    @for c in &listed.data {
                        tr {
                            td { a href={ "/dashboard/customers/" (s(&c["id"])) } { (mask_email(&ctx, s(&c["email"]))) } }
                            td { @if ctx.role.sees_personal_data() { (s(&c["name"])) } @else { "—" } }
                            td { (date(&c["created"])) }
                        }
                    }
                    @if listed.data.is_empty() { tr { td colspan="3" class="muted" { "No customers." } } }
                }
            }
            (pages::pager("/dashboard/customers", &q.q, listed.next.as_deref(), listed.prev.as_deref()))
        }
    };
    crate::dashboard::page(layout(&ctx, "Customers", "/dashboard/customers", body))
}

pub async fn customer_show(
    Extension(ctx): C,
    Extension(api): A,
    Path(id): Path<String>,
) -> Response {
    let c = match get_obj(&api, &ctx, &format!("/v1/customers/{}", enc(&id))).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let body = html! {
        div class="card" {
            p { "Email: " (mask_email(&ctx, s(&c["email"]))) }
            @if ctx.role.sees_personal_data() {
                p { "Name: " (s(&c["name"])) }
                p { "Phone: " (s(&c["phone"])) }
            }
            p class="muted" { (s(&c["id"])) " · since " (date(&c["created"])) }
            @if ctx.can(Permission::ManageCustomerData) {
                p { a href={ "/dashboard/customers/" (id) "/export" } { "Download everything held about this customer (JSON)" } }
                form method="post" action={ "/dashboard/customers/" (id) "/redact" } {
                    (csrf(&ctx))
                    label { input type="checkbox" name="confirm" value="yes" required; " I understand this erases the customer's personal data for good (amounts and dates stay)." }
                    p { button class="danger" type="submit" { "Erase personal data" } }
                }
            }
        }
    };
    crate::dashboard::page(layout(&ctx, "Customer", "/dashboard/customers", body))
}

pub async fn customer_export(
    Extension(ctx): C,
    Extension(api): A,
    Path(id): Path<String>,
) -> Response {
    match call_api_raw(&api, &ctx, &format!("/v1/customers/{}/export", enc(&id))).await {
        Ok((StatusCode::OK, _, bytes)) => {
            let mut resp = ([(header::CONTENT_TYPE, "application/json")], bytes).into_response();
            if let Ok(v) = HeaderValue::from_str(&format!(
                "attachment; filename=\"{}.json\"",
                id.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "")
            )) {
                resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            resp
        }
        Ok(_) => crate::dashboard::refusal(
            StatusCode::NOT_FOUND,
            "Not found",
            "There is no such customer.",
        ),
        Err(e) => fail(e),
    }
}

pub async fn customer_redact(
    Extension(ctx): C,
    Extension(api): A,
    Path(id): Path<String>,
    fo: Option<Extension<Form>>,
) -> Response {
    if form_of(fo).get("confirm") != "yes" {
        return see_other(&format!("/dashboard/customers/{}", enc(&id)));
    }
    match call_api(
        &api,
        &ctx,
        Method::POST,
        &format!("/v1/customers/{}/redact", enc(&id)),
        Some(Vec::new()),
    )
    .await
    {
        Ok(a) if a.ok() => see_other(&format!("/dashboard/customers/{}", enc(&id))),
        Ok(a) => fail(ApiError::invalid(a.error().1, a.error().0)),
        Err(e) => fail(e),
    }
}
