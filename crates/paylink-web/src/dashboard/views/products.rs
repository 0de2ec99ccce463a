//! Products: list, create with a price (one transaction), show, image.

use axum::extract::{Multipart, Query, State};
use axum::Extension;
use maud::html;
use paylink_domain::catalog::Product;
use paylink_domain::clock::format_utc;
use paylink_domain::roles::Permission;
use paylink_domain::IdKind;
use paylink_store::catalog::ProductFilter;

use super::{
    date_of, enc, form_of, list_of, minor_amount, see_other, show_refusal, ListQ, Listable, C,
};
use crate::dashboard::error::{PageId, PageResult};
use crate::dashboard::pages::{self, button, csrf, field, layout, FormState};
use crate::dashboard::{Ctx, Form};
use crate::files::ImageRejection;
use crate::service::catalog::{self, NewPrice, NewProduct};
use crate::{ApiError, AppState};

impl Listable for Product {
    fn id(&self) -> &str {
        &self.id
    }
}

async fn products_page(state: &AppState, ctx: &Ctx, q: &ListQ, f: &FormState) -> PageResult {
    let listed = list_of(
        q,
        |lq| {
            let (state, scope) = (state, &ctx.scope);
            async move {
                state
                    .store
                    .list_products(scope, &ProductFilter::default(), &lq)
                    .await
            }
        },
        |p| {
            format!(
                "{} {} {}",
                p.id,
                p.name,
                p.description.as_deref().unwrap_or("")
            )
        },
    )
    .await?;
    let body = html! {
        (pages::search_box("/dashboard/products", &q.q, "Search products"))
        div class="card" {
            table {
                thead { tr { th { "Name" } th { "Id" } th { "Status" } th { "Created" } } }
                tbody {
                    @for p in &listed.data {
                        tr { td { a href={ "/dashboard/products/" (p.id) } { (p.name) } } td class="mono" { (p.id) } td { @if p.active { "Active" } @else { "Archived" } } td { (date_of(p.created)) } }
                    }
                    @if listed.data.is_empty() { tr { td colspan="4" class="muted" { "No products." } } }
                }
            }
            (pages::pager("/dashboard/products", &q.q, listed.next.as_deref(), listed.prev.as_deref()))
        }
        @if ctx.can(Permission::WriteCatalog) {
            div class="card" {
                h2 { "New product with a price" }
                (pages::alerts(f))
                form method="post" action="/dashboard/products" {
                    (csrf(ctx))
                    div class="row" {
                        div { (field(f, "Name", "name", "text", "")) }
                        div { (field(f, "Price", "amount", "text", "19.90")) }
                        div { (field(f, "Currency", "currency", "text", "eur")) }
                    }
                    (field(f, "Description (optional)", "description", "text", ""))
                    p { button type="submit" { "Create product" } }
                }
            }
        }
    };
    Ok(crate::dashboard::page(layout(
        ctx,
        "Products",
        "/dashboard/products",
        body,
    )))
}

pub async fn products(
    State(state): State<AppState>,
    Extension(ctx): C,
    Query(q): Query<ListQ>,
) -> PageResult {
    products_page(&state, &ctx, &q, &FormState::default()).await
}

/// Where each parameter of a new product and price is on the form.
const PRODUCT_FIELDS: [(&str, &str); 4] = [
    ("name", "name"),
    ("description", "description"),
    ("unit_amount", "amount"),
    ("currency", "currency"),
];

/// Creates a product with its price in one transaction.
pub async fn product_create(
    State(state): State<AppState>,
    Extension(ctx): C,
    fo: Option<Extension<Form>>,
) -> PageResult {
    let form = form_of(fo);
    let mut f = FormState {
        values: form.clone(),
        ..Default::default()
    };
    let amount = minor_amount(&form, &mut f, "amount", "currency");
    let name = form.get("name").trim();
    if name.is_empty() {
        f.errors.insert("name".into(), "Name the product.".into());
    }
    let Some((currency, minor)) = amount.filter(|_| f.errors.is_empty()) else {
        return products_page(&state, &ctx, &ListQ::default(), &f).await;
    };
    let description = form.get("description").trim();
    let product = NewProduct {
        name: name.to_string(),
        description: (!description.is_empty()).then(|| description.to_string()),
        ..NewProduct::default()
    };
    let price = NewPrice {
        currency,
        unit_amount: Some(minor),
        ..NewPrice::default()
    };
    match catalog::create_product_with_price(&state, &ctx.scope, product, price, None).await {
        Ok(_) => Ok(see_other("/dashboard/products")),
        Err(e) => {
            show_refusal(&mut f, e, &PRODUCT_FIELDS, "")?;
            products_page(&state, &ctx, &ListQ::default(), &f).await
        }
    }
}

async fn product_page(state: &AppState, ctx: &Ctx, id: &str, f: &FormState) -> PageResult {
    let p = state
        .store
        .get_product(&ctx.scope, id)
        .await
        .map_err(|e| ApiError::from_store(e, "product", id))?;
    let current = state.store.current_product_image(&ctx.scope, id).await?;
    let versions = state.store.product_images(&ctx.scope, id).await?;
    let action = format!("/dashboard/products/{}/image?csrf={}", enc(id), ctx.csrf);
    let body = html! {
        (pages::alerts(f))
        div class="card" {
            div class="big" { (p.name) }
            p class="muted" { (p.id) " · " (if p.active { "active" } else { "archived" }) }
            @if let Some(d) = p.description.as_deref().filter(|d| !d.is_empty()) { p { (d) } }
        }
        div class="card" {
            h2 { "Image" }
            @if let Some(img) = &current {
                img id="product-image" src=(crate::files::signed_url(state, &img.id)) alt={ "Image of " (p.name) } width="160";
                p class="muted" { (img.width) " × " (img.height) " · " (img.content_type) " · version " (img.version) }
            } @else {
                p class="muted" { "No image. Buyers see the product without one." }
            }
            @if ctx.can(Permission::WriteCatalog) {
                form method="post" action=(action) enctype="multipart/form-data" {
                    label for="image" { "Upload a PNG, JPEG or WebP image (at most 5 MB, 4096 × 4096)" }
                    input id="image" name="image" type="file" accept="image/png,image/jpeg,image/webp" aria-invalid=[f.errors.get("image").map(|_| "true")];
                    @if let Some(m) = f.errors.get("image") { div class="err" id="image-error" role="alert" { (m) } }
                    p { button type="submit" { "Upload" } }
                }
                @if current.is_some() {
                    (button(ctx, &format!("/dashboard/products/{}/image/delete", enc(id)), "Remove the image", "danger"))
                }
            }
            @if versions.len() > 1 || versions.iter().any(|v| v.deleted_at.is_some()) {
                h2 { "Earlier versions" }
                ul {
                    @for v in &versions {
                        li { "Version " (v.version) ", " (format_utc(v.created)) @if v.deleted_at.is_some() { " (removed)" } }
                    }
                }
            }
        }
    };
    Ok(crate::dashboard::page(layout(
        ctx,
        "Product",
        "/dashboard/products",
        body,
    )))
}

pub async fn product_show(
    State(state): State<AppState>,
    Extension(ctx): C,
    PageId(id): PageId<Product>,
) -> PageResult {
    product_page(&state, &ctx, &id, &FormState::default()).await
}

/// The bytes of the form's `image` field, or why there are none.
async fn image_field(multipart: &mut Multipart) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) if field.name() == Some("image") => match field.bytes().await {
                Ok(b) => bytes = b.to_vec(),
                Err(_) => return Err(ImageRejection::TooLarge.to_string()),
            },
            Ok(Some(_)) => {}
            Ok(None) => return Ok(bytes),
            Err(_) => return Err("The upload was cut short or is not a form; try again.".into()),
        }
    }
}

// Long: an upload's checks (size, type, decoding, re-encoding) in order, each
// with its message beside the field.
pub async fn product_image_upload(
    State(state): State<AppState>,
    Extension(ctx): C,
    PageId(id): PageId<Product>,
    mut multipart: Multipart,
) -> PageResult {
    let bytes = match image_field(&mut multipart).await {
        Ok(b) => b,
        Err(m) => return product_page(&state, &ctx, &id, &FormState::error("image", m)).await,
    };
    let clean = match tokio::task::spawn_blocking(move || crate::files::clean_image(&bytes))
        .await
        .map_err(ApiError::internal)?
    {
        Ok(c) => c,
        Err(rej) => {
            return product_page(
                &state,
                &ctx,
                &id,
                &FormState::error("image", rej.to_string()),
            )
            .await
        }
    };
    let file_id = paylink_domain::id::generate(IdKind::File).map_err(ApiError::internal)?;
    state
        .store
        .get_product(&ctx.scope, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "product", &id))?;
    let key = crate::files::object_key(&ctx.scope.account_id, ctx.scope.livemode, &id, &file_id);
    let size = i64::try_from(clean.bytes.len()).unwrap_or(i64::MAX);
    crate::files::put(state.files.as_ref(), &key, clean.bytes)
        .await
        .map_err(ApiError::internal)?;
    let version = state
        .store
        .add_product_image(
            &ctx.scope,
            paylink_store::files::NewFile {
                id: &file_id,
                product_id: &id,
                object_key: &key,
                content_type: clean.content_type,
                width: i64::from(clean.width),
                height: i64::from(clean.height),
                size,
                now: state.now(),
            },
        )
        .await
        .map_err(|e| ApiError::from_store(e, "product", &id))?;
    ctx.audit(
        &state,
        "product_image.uploaded",
        Some(&file_id),
        serde_json::json!({"product": id, "version": version, "type": clean.content_type}),
    )
    .await;
    Ok(see_other(&format!("/dashboard/products/{}", enc(&id))))
}

pub async fn product_image_delete(
    State(state): State<AppState>,
    Extension(ctx): C,
    PageId(id): PageId<Product>,
) -> PageResult {
    state
        .store
        .delete_product_image(&ctx.scope, &id, state.now())
        .await
        .map_err(|e| ApiError::from_store(e, "product", &id))?;
    ctx.audit(
        &state,
        "product_image.deleted",
        Some(&id),
        serde_json::json!({}),
    )
    .await;
    Ok(see_other(&format!("/dashboard/products/{}", enc(&id))))
}
