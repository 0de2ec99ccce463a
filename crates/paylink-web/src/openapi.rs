//! The OpenAPI 3.1 document, generated from the endpoint table (paths,
//! methods and parameter schemas) and the documented object shapes below.
//! `conforms` checks a rendered object against its shape, so a test can
//! prove the document describes what the server really sends.

use serde_json::{json, Map, Value};

use crate::api::{self, Resp};
use crate::schema;

/// The documented shape of a response value.
#[derive(Debug, Clone)]
pub enum Out {
    Str,
    Int,
    Bool,
    Num,
    /// A string with this exact value (e.g. `"object": "product"`).
    Lit(&'static str),
    /// String to string (metadata).
    Map,
    Null(Box<Out>),
    Arr(Box<Out>),
    Obj(Vec<(&'static str, Out)>),
    /// A field that may be absent (expandable includes).
    Opt(Box<Out>),
    /// One of these.
    Any(Vec<Out>),
    /// A named component.
    Ref(&'static str),
}

/// `fields` and the off fields of `table` (see [`crate::objects::Off`]).
fn with_off(
    table: &[(&'static str, crate::objects::Off)],
    mut fields: Vec<(&'static str, Out)>,
) -> Vec<(&'static str, Out)> {
    use crate::objects::Off;
    use Out::{Bool, Int, Lit, Str};
    for (name, o) in table {
        fields.push((
            name,
            match o {
                Off::Null => null(Str),
                Off::Text(t) => Lit(t),
                Off::Zero => Int,
                Off::False => Bool,
                Off::Empty => arr(Str),
                Off::Cards => arr(Lit("card")),
            },
        ));
    }
    fields
}

/// Tax is never calculated (`session`: the session's shape, with
/// `provider` and `status`).
fn automatic_tax(session: bool) -> Out {
    use Out::{Bool, Obj, Str};
    let mut f = vec![("enabled", Bool), ("liability", null(Str))];
    if session {
        f.extend([("provider", null(Str)), ("status", null(Str))]);
    }
    Obj(f)
}

fn custom_text() -> Out {
    use Out::{Obj, Str};
    let message = || null(Obj(vec![("message", Str)]));
    Obj(vec![
        ("after_submit", message()),
        ("shipping_address", message()),
        ("submit", message()),
        ("terms_of_service_acceptance", message()),
    ])
}

fn consent_collection() -> Out {
    null(Out::Obj(vec![
        ("terms_of_service", Out::Str),
        ("promotions", Out::Str),
        ("payment_method_reuse_agreement", null(Out::Str)),
    ]))
}

fn shipping_collection() -> Out {
    null(Out::Obj(vec![("allowed_countries", arr(Out::Str))]))
}

fn shipping_details() -> Out {
    null(Out::Obj(vec![
        ("name", Out::Str),
        ("address", Out::Ref("address")),
    ]))
}

fn tax_ids() -> Out {
    use Out::{Bool, Lit, Obj};
    Obj(vec![("enabled", Bool), ("required", Lit("never"))])
}

fn null(o: Out) -> Out {
    Out::Null(Box::new(o))
}
fn arr(o: Out) -> Out {
    Out::Arr(Box::new(o))
}
fn list_of(component: &'static str) -> Out {
    Out::Obj(vec![
        ("object", Out::Lit("list")),
        ("data", arr(Out::Ref(component))),
        ("has_more", Out::Bool),
        ("url", Out::Str),
    ])
}

/// Stripe's `search_result` of `component`.
fn search_of(component: &'static str) -> Out {
    Out::Obj(vec![
        ("object", Out::Lit("search_result")),
        ("data", arr(Out::Ref(component))),
        ("has_more", Out::Bool),
        ("next_page", null(Out::Str)),
        ("url", Out::Str),
    ])
}

/// Every object shape the API returns.
#[rustfmt::skip]
// Long: a table: every object shape the API returns, one entry per object.
pub fn components() -> Vec<(&'static str, Out)> {
    use Out::*;
    let text_bounds = || null(Obj(vec![("default_value", null(Str)), ("maximum_length", null(Int)), ("minimum_length", null(Int))]));
    // A session's answer to a question, with the question's bounds (or
    // options) where it was kept.
    let answered = |dropdown: bool| {
        let opt = |o: Out| Opt(Box::new(o));
        let mut f = vec![("value", null(Str)), ("default_value", opt(null(Str)))];
        if dropdown {
            f.push(("options", opt(arr(Obj(vec![("label", Str), ("value", Str)])))));
        } else {
            f.extend([("maximum_length", opt(null(Int))), ("minimum_length", opt(null(Int)))]);
        }
        null(Obj(f))
    };
    vec![
        ("product", Obj(with_off(crate::objects::PRODUCT_OFF, vec![
            ("id", Str), ("object", Lit("product")), ("active", Bool), ("created", Int), ("updated", Int),
            ("default_price", null(Any(vec![Str, Ref("price")]))), ("description", null(Str)), ("images", arr(Str)), ("livemode", Bool),
            ("metadata", Map), ("name", Str), ("url", null(Str)),
        ]))),
        ("deleted_product", Obj(vec![("id", Str), ("object", Lit("product")), ("deleted", Bool)])),
        ("price", Obj(with_off(crate::objects::PRICE_OFF, vec![
            ("id", Str), ("object", Lit("price")), ("active", Bool), ("billing_scheme", Lit("per_unit")), ("created", Int),
            ("currency", Str),
            ("custom_unit_amount", null(Obj(vec![("minimum", null(Int)), ("maximum", null(Int)), ("preset", null(Int))]))),
            ("livemode", Bool), ("lookup_key", null(Str)), ("metadata", Map), ("nickname", null(Str)),
            ("product", Any(vec![Str, Ref("product")])), ("recurring", null(Str)), ("tax_behavior", Lit("unspecified")),
            ("type", Lit("one_time")), ("unit_amount", null(Int)), ("unit_amount_decimal", null(Str)),
        ]))),
        ("coupon", Obj(vec![
            ("id", Str), ("object", Lit("coupon")), ("amount_off", null(Int)), ("created", Int), ("currency", null(Str)),
            ("duration", Lit("once")), ("duration_in_months", null(Int)), ("livemode", Bool), ("max_redemptions", null(Int)),
            ("metadata", Map), ("name", null(Str)), ("percent_off", null(Num)), ("redeem_by", null(Int)),
            ("times_redeemed", Int), ("valid", Bool),
        ])),
        ("deleted_coupon", Obj(vec![("id", Str), ("object", Lit("coupon")), ("deleted", Bool)])),
        ("promotion_code", Obj(with_off(crate::objects::PROMO_OFF, vec![
            ("id", Str), ("object", Lit("promotion_code")), ("active", Bool), ("code", Str), ("created", Int),
            ("customer", null(Str)), ("expires_at", null(Int)), ("livemode", Bool), ("max_redemptions", null(Int)),
            ("metadata", Map), ("promotion", Obj(vec![("type", Lit("coupon")), ("coupon", Str)])),
            ("restrictions", Obj(vec![
                ("first_time_transaction", Bool), ("minimum_amount", null(Int)), ("minimum_amount_currency", null(Str)),
            ])),
            ("times_redeemed", Int),
        ]))),
        ("item", Obj(with_off(crate::objects::LINE_ITEM_OFF, vec![
            ("id", Str), ("object", Lit("item")),
            ("adjustable_quantity", null(Obj(vec![("enabled", Bool), ("minimum", null(Int)), ("maximum", null(Int))]))),
            ("amount_discount", Int), ("amount_subtotal", Int), ("amount_tax", Int), ("amount_total", Int),
            ("currency", Str), ("description", null(Str)), ("price", Ref("price")), ("quantity", Int),
        ]))),
        ("payment_link", Obj(with_off(crate::objects::LINK_OFF, vec![
            ("id", Str), ("object", Lit("payment_link")), ("active", Bool),
            ("payment_intent_data", null(Obj(vec![
                ("capture_method", Lit("automatic")), ("description", null(Str)), ("metadata", Map),
                ("setup_future_usage", null(Str)), ("statement_descriptor", null(Str)),
                ("statement_descriptor_suffix", null(Str)), ("transfer_group", null(Str)),
            ]))),
            ("after_completion", Obj(vec![
                ("type", Str),
                ("hosted_confirmation", null(Obj(vec![("custom_message", null(Str))]))),
                ("redirect", null(Obj(vec![("url", Str)]))),
            ])),
            ("allow_promotion_codes", Bool), ("billing_address_collection", Str), ("currency", Str),
            ("custom_fields", arr(Obj(vec![
                ("key", Str), ("label", Obj(vec![("type", Lit("custom")), ("custom", Str)])), ("type", Str), ("optional", Bool),
                ("dropdown", null(Obj(vec![("default_value", null(Str)), ("options", arr(Obj(vec![("label", Str), ("value", Str)])))]))),
                ("numeric", text_bounds()), ("text", text_bounds()),
            ]))),
            ("inactive_message", null(Str)), ("livemode", Bool), ("metadata", Map),
            ("phone_number_collection", Obj(vec![("enabled", Bool)])),
            ("restrictions", null(Obj(vec![("completed_sessions", Obj(vec![("count", Int), ("limit", Int)]))]))),
            ("slug", null(Str)), ("submit_type", Str), ("url", Str),
            ("line_items", Opt(Box::new(list_of("item")))),
            // Stripe's fields for features paylink does not offer, at
            // their "off" values (and objects::LINK_OFF, added below).
            ("automatic_tax", automatic_tax(false)),
            ("custom_text", custom_text()),
            ("shipping_address_collection", shipping_collection()),
            ("consent_collection", consent_collection()),
            ("invoice_creation", Obj(vec![("enabled", Bool), ("invoice_data", null(Str))])),
            ("tax_id_collection", tax_ids()),
        ]))),
        ("address", Obj(vec![
            ("line1", null(Str)), ("line2", null(Str)), ("city", null(Str)), ("postal_code", null(Str)),
            ("state", null(Str)), ("country", null(Str)),
        ])),
        ("checkout.session", Obj(with_off(crate::objects::SESSION_OFF, vec![
            ("id", Str), ("object", Lit("checkout.session")), ("amount_subtotal", Int), ("amount_total", Int),
            ("client_reference_id", null(Str)), ("created", Int), ("currency", Str),
            // Each question as it was asked (label, optional, bounds; not
            // in sessions recorded before questions were kept) with its answer.
            ("custom_fields", arr(Obj(vec![
                ("key", Str), ("type", Str),
                ("label", Opt(Box::new(Obj(vec![("type", Lit("custom")), ("custom", Str)])))),
                ("optional", Opt(Box::new(Bool))),
                ("text", answered(false)), ("numeric", answered(false)), ("dropdown", answered(true)),
            ]))),
            ("customer", null(Any(vec![Str, Ref("customer_or_deleted")]))),
            ("customer_details", Obj(vec![
                ("business_name", null(Str)), ("individual_name", null(Str)), ("tax_exempt", Lit("none")), ("tax_ids", arr(Obj(vec![("type", Str), ("value", null(Str))]))),
                ("email", null(Str)), ("name", null(Str)), ("phone", null(Str)), ("address", null(Ref("address"))),
            ])),
            ("discounts", arr(Obj(vec![("coupon", null(Str)), ("promotion_code", null(Str))]))),
            ("expires_at", Int), ("livemode", Bool), ("metadata", Map), ("mode", Lit("payment")),
            ("payment_intent", null(Any(vec![Str, Ref("payment_intent")]))), ("payment_link", null(Str)), ("payment_status", Str), ("status", Str),
            ("allow_promotion_codes", null(Bool)), ("phone_number_collection", Obj(vec![("enabled", Bool)])),
            ("total_details", Obj(vec![("amount_discount", Int), ("amount_shipping", Int), ("amount_tax", Int)])),
            ("line_items", Opt(Box::new(list_of("item")))),
            ("automatic_tax", automatic_tax(true)),
            ("custom_text", custom_text()),
            ("tax_id_collection", tax_ids()),
            ("shipping_address_collection", shipping_collection()),
            ("consent_collection", consent_collection()),
            ("consent", null(Out::Obj(vec![("terms_of_service", null(Out::Str)), ("promotions", null(Out::Str))]))),
            ("shipping_details", shipping_details()),
            ("collected_information", Obj(vec![
                ("business_name", null(Str)), ("individual_name", null(Str)), ("shipping_details", shipping_details()),
            ])),
        ]))),
        ("payment_intent", Obj(with_off(crate::objects::PI_OFF, vec![
            ("id", Str), ("object", Lit("payment_intent")), ("amount", Int), ("amount_received", Int), ("amount_refunded", Int),
            ("created", Int), ("currency", Str), ("customer", null(Str)), ("livemode", Bool), ("metadata", Map),
            ("payment_method_details", Obj(vec![("type", Lit("card")), ("card", Obj(vec![("brand", null(Str)), ("last4", null(Str))]))])),
            ("payment_method_types", arr(Str)), ("status", Str), ("cancellation_reason", null(Str)), ("canceled_at", null(Int)),
            ("description", null(Str)), ("statement_descriptor", null(Str)),
            ("last_payment_error", null(Obj(vec![
                ("type", Lit("card_error")), ("code", Str), ("decline_code", null(Str)), ("message", Str),
                ("doc_url", Str), ("payment_method_type", Lit("card")),
                ("advice_code", null(Str)), ("charge", null(Str)), ("network_advice_code", null(Str)),
                ("network_decline_code", null(Str)), ("param", null(Str)), ("payment_intent", null(Str)), ("payment_method", null(Str)),
                ("request_log_url", null(Str)), ("setup_intent", null(Str)), ("source", null(Str)),
            ]))),
        ]))),
        ("customer", Obj(with_off(crate::objects::CUSTOMER_OFF, vec![
            ("id", Str), ("object", Lit("customer")), ("address", null(Ref("address"))), ("created", Int),
            ("email", null(Str)), ("livemode", Bool), ("metadata", Map), ("name", null(Str)), ("phone", null(Str)),
            ("description", null(Str)), ("preferred_locales", arr(Str)),
            ("shipping", null(Obj(vec![("name", Str), ("phone", null(Str)), ("address", Ref("address"))]))),
        ]))),
        ("deleted_customer", Obj(vec![("id", Str), ("object", Lit("customer")), ("deleted", Bool)])),
        ("customer_or_deleted", Any(vec![Ref("customer"), Ref("deleted_customer")])),
        ("customer_export", Obj(vec![
            ("object", Lit("customer_export")), ("exported_at", Int), ("customer", Ref("customer")),
            ("checkout_sessions", arr(Ref("checkout.session"))), ("payment_intents", arr(Ref("payment_intent"))),
            ("refunds", arr(Ref("refund"))),
        ])),
        ("refund", Obj(with_off(crate::objects::REFUND_OFF, vec![
            ("id", Str), ("object", Lit("refund")), ("amount", Int), ("created", Int), ("currency", Str),
            ("metadata", Map), ("payment_intent", Str), ("reason", null(Str)), ("status", Str),
            ("failure_reason", null(Str)), ("customer", null(Str)),
        ]))),
        ("event", Obj(vec![
            ("id", Str), ("object", Lit("event")), ("api_version", Str), ("created", Int),
            ("data", Obj(vec![
                ("object", Any(vec![Ref("product"), Ref("price"), Ref("payment_link"), Ref("checkout.session"), Ref("coupon"), Ref("promotion_code"), Ref("payment_intent"), Ref("customer"), Ref("refund")])),
                ("previous_attributes", Opt(Box::new(Any(vec![Obj(vec![]), Map, Ref("product"), Ref("price"), Ref("payment_link"), Ref("coupon"), Ref("promotion_code")])))),
            ])),
            ("livemode", Bool), ("pending_webhooks", Int),
            ("request", Obj(vec![("id", null(Str)), ("idempotency_key", null(Str))])),
            ("type", Str),
        ])),
        ("webhook_endpoint", Obj(vec![
            ("id", Str), ("object", Lit("webhook_endpoint")), ("api_version", null(Str)), ("application", null(Str)),
            ("created", Int), ("description", null(Str)), ("enabled_events", arr(Str)), ("livemode", Bool),
            ("metadata", Map), ("secret", Opt(Box::new(Str))), ("status", Str), ("url", Str),
        ])),
        ("deleted_webhook_endpoint", Obj(vec![("id", Str), ("object", Lit("webhook_endpoint")), ("deleted", Bool)])),
        ("account", Obj(vec![
            ("id", Str), ("object", Lit("account")),
            ("provider", null(Obj(vec![("type", Str), ("last4", Str), ("account", Str), ("connected", Int)]))),
            ("business_profile", Obj(vec![("name", Str)])),
            ("settings", Obj(vec![
                ("branding", Obj(vec![("primary_color", Str)])),
                ("card_payments", Obj(vec![("request_three_d_secure", Str)])),
                ("checkout", Obj(vec![("terms_of_service_url", null(Str))])),
            ])),
        ])),
        ("error", Obj(vec![("error", Obj(vec![
            ("type", Str), ("code", Opt(Box::new(Str))), ("doc_url", Opt(Box::new(Str))), ("message", Str), ("param", Opt(Box::new(Str))),
        ]))])),
    ]
}

/// Whether `v` has exactly the documented shape `o` (no missing or extra
/// keys, right types). Returns the path of the first difference.
pub fn conforms(v: &Value, o: &Out, path: &str) -> Result<(), String> {
    let fail = || Err(format!("{path}: {v} does not match {o:?}"));
    match (o, v) {
        (Out::Str, Value::String(_))
        | (Out::Int, Value::Number(_))
        | (Out::Bool, Value::Bool(_))
        | (Out::Num, Value::Number(_)) => {
            if matches!(o, Out::Int) && v.as_i64().is_none() {
                return fail();
            }
            Ok(())
        }
        (Out::Lit(l), Value::String(s)) if s == l => Ok(()),
        (Out::Map, Value::Object(m)) if m.values().all(Value::is_string) => Ok(()),
        (Out::Null(_), Value::Null) => Ok(()),
        (Out::Null(inner), _) | (Out::Opt(inner), _) => conforms(v, inner, path),
        (Out::Arr(inner), Value::Array(items)) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, x)| conforms(x, inner, &format!("{path}[{i}]"))),
        (Out::Obj(fields), Value::Object(m)) => {
            for (name, shape) in fields {
                match m.get(*name) {
                    Some(x) => conforms(x, shape, &format!("{path}.{name}"))?,
                    None if matches!(shape, Out::Opt(_)) => {}
                    None => return Err(format!("{path}.{name} is missing")),
                }
            }
            if let Some(extra) = m.keys().find(|k| !fields.iter().any(|(n, _)| n == k)) {
                return Err(format!("{path}.{extra} is not documented"));
            }
            Ok(())
        }
        (Out::Any(options), _) => {
            if options.iter().any(|x| conforms(v, x, path).is_ok()) {
                Ok(())
            } else {
                fail()
            }
        }
        (Out::Ref(name), _) => {
            let shape = components()
                .into_iter()
                .find(|(n, _)| n == name)
                .map(|(_, s)| s)
                .ok_or(format!("unknown component {name}"))?;
            conforms(v, &shape, path)
        }
        _ => fail(),
    }
}

/// Sets `key` on a JSON object (a no-op on anything else).
pub(crate) fn set(v: &mut Value, key: &str, x: Value) {
    if let Value::Object(m) = v {
        m.insert(key.to_string(), x);
    }
}

fn out_schema(o: &Out) -> Value {
    match o {
        Out::Str => json!({"type": "string"}),
        Out::Int => json!({"type": "integer"}),
        Out::Bool => json!({"type": "boolean"}),
        Out::Num => json!({"type": "number"}),
        Out::Lit(l) => json!({"type": "string", "const": l}),
        Out::Map => json!({"type": "object", "additionalProperties": {"type": "string"}}),
        Out::Null(inner) => json!({"anyOf": [out_schema(inner), {"type": "null"}]}),
        Out::Opt(inner) => out_schema(inner),
        Out::Arr(inner) => json!({"type": "array", "items": out_schema(inner)}),
        Out::Any(options) => json!({"anyOf": options.iter().map(out_schema).collect::<Vec<_>>()}),
        Out::Ref(name) => json!({"$ref": format!("#/components/schemas/{name}")}),
        Out::Obj(fields) => {
            let props: Map<String, Value> = fields
                .iter()
                .map(|(n, s)| (n.to_string(), out_schema(s)))
                .collect();
            let required: Vec<&str> = fields
                .iter()
                .filter(|(_, s)| !matches!(s, Out::Opt(_)))
                .map(|(n, _)| *n)
                .collect();
            json!({"type": "object", "properties": props, "required": required})
        }
    }
}

fn response_content(r: &Resp) -> Value {
    match r {
        Resp::Object(c) => json!({"application/json": {"schema": out_schema(&Out::Ref(c))}}),
        Resp::List(c) => json!({"application/json": {"schema": out_schema(&list_of(c))}}),
        Resp::Search(c) => json!({"application/json": {"schema": out_schema(&search_of(c))}}),
        Resp::Image(mime) => json!({ *mime: {"schema": {"type": "string", "format": "binary"}} }),
    }
}

/// Query parameters of a GET or DELETE, one per top-level field.
fn query_parameters(kind: &schema::Kind) -> Vec<Value> {
    let schema::Kind::Obj(fields) = kind else {
        return Vec::new();
    };
    fields
        .iter()
        .map(|f| {
            // An array is sent as `name[]=a&name[]=b` (Stripe's bracket
            // notation); an object as `name[key]=v` (deepObject).
            let name = match f.kind {
                schema::Kind::Arr { .. } => format!("{}[]", f.name),
                _ => f.name.to_string(),
            };
            let mut p = json!({"name": name, "in": "query", "required": f.required, "description": f.doc, "schema": schema::json_schema(&f.kind)});
            match f.kind {
                schema::Kind::Obj(_) | schema::Kind::Map => {
                    set(&mut p, "style", json!("deepObject"));
                    set(&mut p, "explode", json!(true));
                }
                schema::Kind::Arr { .. } => {
                    set(&mut p, "style", json!("form"));
                    set(&mut p, "explode", json!(true));
                }
                _ => {}
            }
            p
        })
        .collect()
}

/// The whole document.
pub fn document(server_url: &str) -> Value {
    let mut paths = Map::new();
    for e in api::endpoints() {
        let mut op = json!({
            "operationId": e.operation,
            "summary": e.summary,
            "security": [{"bearerAuth": []}, {"basicAuth": []}],
            "responses": {
                "200": {"description": "Success", "content": response_content(&e.response)},
                "default": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/error"}}}},
            },
        });
        let mut params: Vec<Value> = e
            .path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string", "maxLength": 255}}))
            .collect();
        if e.method == axum::http::Method::POST {
            let body = schema::json_schema(&e.params);
            set(
                &mut op,
                "requestBody",
                json!({"content": {
                    "application/x-www-form-urlencoded": {"schema": body},
                    "application/json": {"schema": body},
                }}),
            );
            params.push(json!({"name": "Idempotency-Key", "in": "header", "required": false, "description": "A key of 1 to 255 visible ASCII characters: a retry with the same key and parameters gets the first answer again, for 24 hours.", "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]{1,255}$"}}));
        } else {
            params.extend(query_parameters(&e.params));
        }
        set(&mut op, "parameters", Value::Array(params));
        let entry = paths.entry(e.path.to_string()).or_insert_with(|| json!({}));
        set(entry, &e.method.as_str().to_ascii_lowercase(), op);
    }
    let schemas: Map<String, Value> = components()
        .iter()
        .map(|(n, o)| (n.to_string(), out_schema(o)))
        .collect();
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "paylink API",
            "version": crate::STRIPE_VERSION,
            "description": "The subset of Stripe's API that paylink implements. Generated from the server's own endpoint table.",
        },
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "basicAuth": {"type": "http", "scheme": "basic"},
            },
        },
    })
}
