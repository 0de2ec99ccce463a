//! `/v1/payment_links` — shareable links to a hosted checkout page. A link
//! is never deleted, only deactivated.

use axum::extract::State;
use axum::response::Response;
use axum::Extension;
use paylink_domain::catalog::{
    PaymentLink, MAX_ADJUSTABLE_QUANTITY, MAX_CUSTOM_FIELDS, MAX_LINE_ITEMS,
};
use paylink_store::payment_links::LinkFilter;
use paylink_store::{ListQuery, Scope};
use serde::Deserialize;
use serde_json::Value;

use super::RetrieveArgs;
use super::{item_expansions, ok, page_in_memory, Items, ListArgs};
use crate::auth::Auth;
use crate::error::ApiError;
use crate::extract::{Input, ObjectId};
use crate::objects;
use crate::schema::*;
use crate::service::payment_links as links;
use crate::AppState;

const MAX_QTY: i64 = MAX_ADJUSTABLE_QUANTITY;

pub(crate) fn adjustable_schema() -> Kind {
    obj(vec![
        req(
            "enabled",
            Kind::Bool,
            "Whether the buyer may change the quantity.",
        ),
        f("minimum", int(0, MAX_QTY), "Smallest quantity (default 1)."),
        f(
            "maximum",
            int(1, MAX_QTY),
            "Largest quantity (default 99, at most 999).",
        ),
    ])
}

fn after_completion_schema() -> Kind {
    obj(vec![
        req(
            "type",
            one_of(&["hosted_confirmation", "redirect"]),
            "What the buyer sees after paying.",
        ),
        f(
            "hosted_confirmation",
            obj(vec![f(
                "custom_message",
                string(500),
                "Message on the confirmation page.",
            )]),
            "Settings of the confirmation page.",
        ),
        f(
            "redirect",
            obj(vec![req(
                "url",
                string(2048),
                "Where to send the buyer; {CHECKOUT_SESSION_ID} is replaced by the session id.",
            )]),
            "Redirect settings.",
        ),
    ])
}

fn text_bounds_schema() -> Kind {
    obj(vec![
        f(
            "default_value",
            string(255),
            "Value filled in for the buyer.",
        ),
        f("maximum_length", int(1, 255), "Longest answer."),
        f("minimum_length", int(1, 255), "Shortest answer."),
    ])
}

pub(crate) fn custom_fields_schema() -> Kind {
    arr(
        obj(vec![
            req("key", string(200), "Identifier of the field, alphanumeric."),
            req(
                "label",
                obj(vec![
                    req("type", one_of(&["custom"]), "Always custom."),
                    req("custom", string(50), "The label shown."),
                ]),
                "The field's label.",
            ),
            req(
                "type",
                one_of(&["dropdown", "numeric", "text"]),
                "Kind of field.",
            ),
            f(
                "optional",
                Kind::Bool,
                "Whether the buyer may leave it empty (default false).",
            ),
            f(
                "dropdown",
                obj(vec![
                    f("default_value", string(100), "Value selected at first."),
                    req(
                        "options",
                        arr(
                            obj(vec![
                                req("label", string(100), "Shown to the buyer."),
                                req("value", string(100), "Stored value, alphanumeric."),
                            ]),
                            200,
                        ),
                        "The choices (1 to 200).",
                    ),
                ]),
                "Settings of a dropdown.",
            ),
            f(
                "numeric",
                text_bounds_schema(),
                "Settings of a numeric field.",
            ),
            f("text", text_bounds_schema(), "Settings of a text field."),
        ]),
        MAX_CUSTOM_FIELDS,
    )
}

fn restrictions_schema() -> Kind {
    obj(vec![req(
        "completed_sessions",
        obj(vec![req(
            "limit",
            int(1, 1_000_000),
            "The link deactivates itself after this many completed payments.",
        )]),
        "Limit on completed checkout sessions.",
    )])
}

fn slug_field() -> Field {
    f("slug", string(64), "paylink extension: the link's own URL path, `<public-url>/l/<slug>` (3 to 64 lower-case letters, digits and dashes, unique on this instance).")
}

/// `payment_intent_data`: what each payment made gets.
fn intent_data_schema() -> Kind {
    obj(vec![
        f(
            "description",
            string(paylink_domain::catalog::MAX_PAYMENT_DESCRIPTION),
            "The payment's description (empty to unset).",
        )
        .unsettable(),
        metadata(),
        f(
            "statement_descriptor",
            string(22),
            "What the buyer's card statement shows: 5 to 22 Latin characters, at least one letter (empty to unset).",
        )
        .unsettable(),
        f(
            "capture_method",
            one_of(&["automatic"]),
            "Only automatic: paylink captures every payment at once.",
        ),
    ])
}

/// `custom_text`: the texts beside the Pay button.
fn custom_text_schema() -> Kind {
    let message = || {
        obj(vec![req(
            "message",
            string(paylink_domain::catalog::MAX_CUSTOM_TEXT),
            "The text (up to 1,200 characters).",
        )])
    };
    obj(vec![
        f("submit", message(), "Shown above the Pay button.").unsettable(),
        f("after_submit", message(), "Shown below the Pay button.").unsettable(),
        f(
            "shipping_address",
            message(),
            "Shown above the shipping address form.",
        )
        .unsettable(),
        f(
            "terms_of_service_acceptance",
            message(),
            "The label of the terms of service checkbox (with consent_collection[terms_of_service]=required).",
        )
        .unsettable(),
    ])
}

/// The parameters links and API-created sessions share.
pub(crate) fn common_fields() -> Vec<Field> {
    vec![
        f(
            "custom_text",
            custom_text_schema(),
            "Texts beside the Pay button (submit, after_submit) and above the shipping address form (shipping_address).",
        )
        .unsettable(),
        f(
            "shipping_address_collection",
            obj(vec![req(
                "allowed_countries",
                arr(
                    one_of(paylink_domain::countries::shipping_country_codes()),
                    paylink_domain::countries::SHIPPING_COUNTRIES.len(),
                ),
                "The countries the page ships to (two-letter codes, upper case; at least one).",
            )]),
            "Ask the buyer for a shipping address in one of these countries (sealed at rest; on the session as shipping_details). Empty to stop asking.",
        )
        .unsettable(),
        f(
            "consent_collection",
            obj(vec![
                f(
                    "terms_of_service",
                    one_of(&["none", "required"]),
                    "required: the buyer must tick a checkbox accepting the account's terms of service (a URL set in the dashboard's settings) before paying.",
                ),
                f(
                    "promotions",
                    one_of(&["none", "auto"]),
                    "Only none: paylink does not collect consent to promotional emails.",
                ),
                f(
                    "payment_method_reuse_agreement",
                    obj(vec![req(
                        "position",
                        one_of(&["auto", "hidden"]),
                        "Accepted; paylink saves no card, so there is no agreement to show.",
                    )]),
                    "Accepted; nothing to show.",
                ),
            ]),
            "What the buyer is asked to agree to. Empty to stop asking.",
        )
        .unsettable(),
        f(
            "payment_intent_data",
            intent_data_schema(),
            "What each payment made gets: description, metadata (else the link's metadata), statement descriptor.",
        ),
        f(
            "after_completion",
            after_completion_schema(),
            "Behaviour after the purchase (default hosted_confirmation).",
        ),
        f(
            "allow_promotion_codes",
            Kind::Bool,
            "Whether the checkout page accepts promotion codes (default false).",
        ),
        f(
            "billing_address_collection",
            one_of(&["auto", "required"]),
            "Whether to ask for a billing address (default auto).",
        ),
        f(
            "phone_number_collection",
            obj(vec![req(
                "enabled",
                Kind::Bool,
                "Whether to ask for a phone number.",
            )]),
            "Phone number collection.",
        ),
        f(
            "submit_type",
            one_of(&["auto", "book", "donate", "pay", "subscribe"]),
            "Wording of the pay button (default auto).",
        ),
        f(
            "automatic_tax",
            obj(vec![
                req(
                    "enabled",
                    Kind::Bool,
                    "Must be false: paylink does not calculate tax.",
                ),
                f(
                    "liability",
                    obj(vec![
                        req("type", one_of(&["self", "account"]), "Who would owe the tax."),
                        f("account", string(255), "The connected account (type account)."),
                    ]),
                    "Accepted with enabled=false (no tax is calculated).",
                ),
            ]),
            "Accepted at its off value only.",
        ),
        f(
            "name_collection",
            obj(vec![
                f("business", name_collection_schema(), "A business name field."),
                f("individual", name_collection_schema(), "An individual's name field."),
            ]),
            "Accepted at its off value only (enabled=false): the page asks for the name it needs for the address.",
        ),
        f(
            "payment_method_options",
            obj(vec![f(
                "card",
                obj(vec![f(
                    "request_three_d_secure",
                    one_of(&["automatic"]),
                    "Only automatic here; 3-D Secure on every payment is the account's setting (settings[card_payments][request_three_d_secure]=any).",
                )]),
                "Card options.",
            )]),
            "Card options: their defaults.",
        ),
        f(
            "invoice_creation",
            obj(vec![req(
                "enabled",
                Kind::Bool,
                "Must be false: paylink does not create invoices.",
            )]),
            "Accepted at its off value only.",
        ),
        f(
            "tax_id_collection",
            obj(vec![
                req(
                    "enabled",
                    Kind::Bool,
                    "Must be false: paylink does not collect tax ids.",
                ),
                f("required", one_of(&["never"]), "Only never."),
            ]),
            "Accepted at its off value only.",
        ),
        f(
            "customer_creation",
            one_of(&["always", "if_required"]),
            "Accepted; paylink makes every paying buyer a customer (always).",
        ),
        f(
            "payment_method_types",
            arr(one_of(&["card"]), 10),
            "Only card (each entry: another method is refused, naming it).",
        ),
        f(
            "payment_method_collection",
            one_of(&["always"]),
            "Only always (every payment takes a card).",
        ),
        metadata(),
    ]
}

/// `name_collection[business|individual]`.
fn name_collection_schema() -> Kind {
    obj(vec![
        req("enabled", Kind::Bool, "Must be false."),
        f("optional", Kind::Bool, "Accepted."),
    ])
}

/// Stripe's parameters for features paylink does not offer, accepted at
/// their off values (copied snippets send them) and refused, naming the
/// parameter, when they would promise what paylink doesn't do.
#[derive(Debug, Default, Deserialize)]
pub struct OffFeatures {
    automatic_tax: Option<Enabled>,
    invoice_creation: Option<Enabled>,
    tax_id_collection: Option<Enabled>,
    name_collection: Option<NameCollection>,
    /// Sessions only.
    adaptive_pricing: Option<Enabled>,
    after_expiration: Option<AfterExpiration>,
}

#[derive(Debug, Deserialize)]
struct NameCollection {
    business: Option<Enabled>,
    individual: Option<Enabled>,
}

#[derive(Debug, Deserialize)]
struct AfterExpiration {
    recovery: Option<Enabled>,
}

#[derive(Debug, Deserialize)]
struct Enabled {
    enabled: bool,
}

impl OffFeatures {
    pub(crate) fn check(&self) -> Result<(), ApiError> {
        let names = self.name_collection.as_ref();
        let recovery = self
            .after_expiration
            .as_ref()
            .and_then(|a| a.recovery.as_ref());
        for (name, set, what) in [
            (
                "automatic_tax",
                self.automatic_tax.as_ref(),
                "calculate tax",
            ),
            (
                "name_collection[business]",
                names.and_then(|n| n.business.as_ref()),
                "ask for a business name",
            ),
            (
                "name_collection[individual]",
                names.and_then(|n| n.individual.as_ref()),
                "ask for a name of its own",
            ),
            (
                "adaptive_pricing",
                self.adaptive_pricing.as_ref(),
                "convert prices to the buyer's currency",
            ),
            (
                "after_expiration[recovery]",
                recovery,
                "send recovery links for expired sessions",
            ),
            (
                "invoice_creation",
                self.invoice_creation.as_ref(),
                "create invoices",
            ),
            (
                "tax_id_collection",
                self.tax_id_collection.as_ref(),
                "collect tax ids",
            ),
        ] {
            if set.is_some_and(|e| e.enabled) {
                return Err(ApiError::invalid(
                    Some(format!("{name}[enabled]")),
                    format!("paylink does not {what}: {name}[enabled] can only be false."),
                ));
            }
        }
        Ok(())
    }
}

pub fn create_params() -> Kind {
    let mut fields = vec![
        req(
            "line_items",
            arr(
                obj(vec![
                    req("price", string(255), "The price of this line item."),
                    req(
                        "quantity",
                        int(0, MAX_QTY),
                        "Quantity, 1 to 999 (0 allowed with an adjustable quantity).",
                    ),
                    f(
                        "adjustable_quantity",
                        adjustable_schema(),
                        "Lets the buyer change the quantity.",
                    ),
                ]),
                MAX_LINE_ITEMS,
            ),
            "What the link sells: 1 to 20 line items in one currency.",
        ),
        f(
            "custom_fields",
            custom_fields_schema(),
            "Up to 3 questions for the buyer.",
        ),
        f(
            "inactive_message",
            string(500),
            "Shown when the link is inactive.",
        ),
        f("restrictions", restrictions_schema(), "Limits of the link."),
        f(
            "currency",
            string(3),
            "The link's currency: that of its prices (a link sells in one currency).",
        ),
    ];
    fields.push(slug_field());
    fields.extend(common_fields());
    fields.push(expand_of(LINK_EXPAND));
    obj(fields)
}

pub fn update_params() -> Kind {
    let mut fields = vec![
        f(
            "active",
            Kind::Bool,
            "Whether the link accepts buyers; a link is deactivated, never deleted.",
        ),
        f(
            "line_items",
            arr(
                obj(vec![
                    req(
                        "id",
                        string(255),
                        "The id of an existing line item; items left out are removed.",
                    ),
                    f("quantity", int(0, MAX_QTY), "New quantity."),
                    f(
                        "adjustable_quantity",
                        adjustable_schema(),
                        "New adjustable quantity settings.",
                    ),
                ]),
                MAX_LINE_ITEMS,
            ),
            "The link's line items after the update.",
        ),
        f(
            "custom_fields",
            custom_fields_schema(),
            "Up to 3 questions for the buyer.",
        )
        .unsettable(),
        f(
            "inactive_message",
            string(500),
            "Shown when the link is inactive.",
        )
        .unsettable(),
        f("restrictions", restrictions_schema(), "Limits of the link.").unsettable(),
    ];
    fields.push(slug_field().unsettable());
    fields.extend(common_fields());
    fields.push(expand_of(LINK_EXPAND));
    obj(fields)
}

/// What a link's answer can expand.
const LINK_EXPAND: &[&str] = &["line_items", "line_items.data.price.product"];

pub fn retrieve_params() -> Kind {
    obj(vec![expand_of(LINK_EXPAND)])
}

pub fn list_params() -> Kind {
    crate::schema::list_params_expanding(
        &["data.line_items", "data.line_items.data.price.product"],
        vec![f("active", Kind::Bool, "Only active (or inactive) links.")],
    )
}

/// Renders a link, with its line items when `expand` asks for them.
async fn render(
    state: &AppState,
    scope: &Scope,
    l: &PaymentLink,
    with_items: Items,
) -> Result<Value, ApiError> {
    let items = if with_items != Items::No {
        let q = ListQuery {
            limit: 100,
            starting_after: None,
            ending_before: None,
            ..Default::default()
        };
        let (data, has_more) =
            items_page(state, scope, l, &q, with_items == Items::WithProducts).await?;
        Some(objects::list(
            &format!("/v1/payment_links/{}/line_items", l.id),
            data,
            has_more,
        ))
    } else {
        None
    };
    Ok(objects::payment_link(l, &state.public_url, items))
}

/// One page of a link's line items (at most 20 exist, so paging is done
/// in memory over the ordered list).
async fn items_page(
    state: &AppState,
    scope: &Scope,
    l: &PaymentLink,
    q: &ListQuery,
    with_products: bool,
) -> Result<(Vec<Value>, bool), ApiError> {
    let (items, has_more) = page_in_memory(&l.line_items, |i| i.id.as_str(), q, "payment link")?;
    let mut data = Vec::new();
    for item in items {
        let price = state.store.get_price(scope, &item.price).await?;
        let product = state.store.get_product(scope, &price.product).await?;
        let expanded = with_products.then(|| objects::product(&product));
        data.push(objects::line_item(item, &price, &product.name, expanded));
    }
    Ok((data, has_more))
}

#[derive(Deserialize)]
pub struct Create {
    #[serde(flatten)]
    cmd: links::NewLink,
    #[serde(flatten)]
    off: OffFeatures,
    expand: Option<Vec<String>>,
}

pub async fn create(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<Create>,
) -> Result<Response, ApiError> {
    let exp = item_expansions(&p.expand, "line_items");
    p.off.check()?;
    let link = links::create_link(&state, &auth.scope, p.cmd, None).await?;
    Ok(ok(render(&state, &auth.scope, &link, exp).await?))
}

pub async fn retrieve(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<PaymentLink>,
    Input(p): Input<RetrieveArgs>,
) -> Result<Response, ApiError> {
    let exp = item_expansions(&p.expand, "line_items");
    let link = state
        .store
        .get_payment_link(&auth.scope, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "payment_link", &id))?;
    Ok(ok(render(&state, &auth.scope, &link, exp).await?))
}

#[derive(Deserialize)]
pub struct Update {
    #[serde(flatten)]
    cmd: links::LinkUpdate,
    #[serde(flatten)]
    off: OffFeatures,
    expand: Option<Vec<String>>,
}

pub async fn update(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<PaymentLink>,
    Input(p): Input<Update>,
) -> Result<Response, ApiError> {
    let exp = item_expansions(&p.expand, "line_items");
    p.off.check()?;
    let link = links::update_link(&state, &auth.scope, &id, p.cmd).await?;
    Ok(ok(render(&state, &auth.scope, &link, exp).await?))
}

#[derive(Deserialize)]
pub struct List {
    #[serde(flatten)]
    page: ListArgs,
    active: Option<bool>,
}

pub async fn list(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    Input(p): Input<List>,
) -> Result<Response, ApiError> {
    let exp = item_expansions(&p.page.expand, "data.line_items");
    let page = state
        .store
        .list_payment_links(
            &auth.scope,
            &LinkFilter { active: p.active },
            &p.page.query()?,
        )
        .await?;
    let mut data = Vec::with_capacity(page.data.len());
    for l in &page.data {
        data.push(render(&state, &auth.scope, l, exp).await?);
    }
    Ok(ok(objects::list("/v1/payment_links", data, page.has_more)))
}

pub async fn line_items(
    State(state): State<AppState>,
    Extension(auth): Extension<Auth>,
    ObjectId(id): ObjectId<PaymentLink>,
    Input(p): Input<ListArgs>,
) -> Result<Response, ApiError> {
    let exp = expanded(&p.expand);
    let link = state
        .store
        .get_payment_link(&auth.scope, &id)
        .await
        .map_err(|e| ApiError::from_store(e, "payment_link", &id))?;
    let (data, has_more) =
        items_page(&state, &auth.scope, &link, &p.query()?, !exp.is_empty()).await?;
    Ok(ok(objects::list(
        &format!("/v1/payment_links/{id}/line_items"),
        data,
        has_more,
    )))
}
