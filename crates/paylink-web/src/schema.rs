//! The parameter schema of every endpoint. One description serves three
//! purposes: it checks and coerces input (naming the parameter at fault, and
//! refusing unknown ones as Stripe does), it is what handlers deserialize
//! from, and it generates the OpenAPI document. Documentation therefore
//! can't drift from what is accepted.

use serde_json::{json, Map, Value};

use crate::error::ApiError;

#[derive(Debug, Clone)]
pub enum Kind {
    /// A string of at most `max` characters, optionally one of `allowed`.
    Str {
        max: usize,
        allowed: Option<&'static [&'static str]>,
    },
    /// An integer in `min..=max` (form strings are parsed).
    Int {
        min: i64,
        max: i64,
    },
    Bool,
    /// A decimal number kept as its exact text (e.g. `percent_off`).
    Decimal,
    /// A closed object: unknown keys are refused.
    Obj(Vec<Field>),
    /// String keys to string values (metadata).
    Map,
    /// A path of a response that `expand` may name: one of these (none
    /// at all where an answer expands nothing).
    Expandable(&'static [&'static str]),
    /// A list of up to `max` items.
    Arr {
        items: Box<Kind>,
        max: usize,
    },
}

#[derive(Debug, Clone)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
    /// Whether an empty string (or JSON null) may be sent to unset it.
    pub emptiable: bool,
    pub doc: &'static str,
}

/// Shorthands for writing schemas.
pub fn f(name: &'static str, kind: Kind, doc: &'static str) -> Field {
    Field {
        name,
        kind,
        required: false,
        emptiable: false,
        doc,
    }
}
pub fn req(name: &'static str, kind: Kind, doc: &'static str) -> Field {
    Field {
        name,
        kind,
        required: true,
        emptiable: false,
        doc,
    }
}
impl Field {
    /// May be set to `""` to unset.
    pub fn unsettable(mut self) -> Self {
        self.emptiable = true;
        self
    }
}
pub fn string(max: usize) -> Kind {
    Kind::Str { max, allowed: None }
}
pub fn one_of(allowed: &'static [&'static str]) -> Kind {
    Kind::Str {
        max: 100,
        allowed: Some(allowed),
    }
}
pub fn int(min: i64, max: i64) -> Kind {
    Kind::Int { min, max }
}
pub fn obj(fields: Vec<Field>) -> Kind {
    Kind::Obj(fields)
}
pub fn arr(items: Kind, max: usize) -> Kind {
    Kind::Arr {
        items: Box::new(items),
        max,
    }
}
pub fn metadata() -> Field {
    f("metadata", Kind::Map, "Set of key-value pairs (up to 50 keys; keys up to 40 characters, values up to 500). An empty value unsets a key; an empty `metadata` unsets all.").unsettable()
}
/// `expand` of an answer that expands nothing.
pub fn expand() -> Field {
    expand_of(&[])
}
/// `expand` of an answer that can expand these paths (and only these: the
/// document enumerates them, and any other is refused as Stripe does).
pub fn expand_of(paths: &'static [&'static str]) -> Field {
    f(
        "expand",
        arr(Kind::Expandable(paths), 20),
        "Fields to expand in the response.",
    )
}
/// What `expand` asks for: the schema has checked each path already.
pub fn expanded(expand: &Option<Vec<String>>) -> Vec<String> {
    expand.clone().unwrap_or_default()
}
/// The pagination parameters of every list.
pub fn list_params(extra: Vec<Field>) -> Kind {
    list_params_expanding(&[], extra)
}
/// Stripe's `created` filter of a list: `created[gt|gte|lt|lte]`.
pub fn created_filter() -> Field {
    let t = || int(0, 253_402_300_799);
    f(
        "created",
        obj(vec![
            f("gt", t(), "Created after this Unix time."),
            f("gte", t(), "Created at or after this Unix time."),
            f("lt", t(), "Created before this Unix time."),
            f("lte", t(), "Created at or before this Unix time."),
        ]),
        "Only objects created in this range.",
    )
}
/// The pagination parameters of a list whose answer can expand `paths`
/// (a list of objects: with Stripe's `created` filter).
pub fn list_params_expanding(paths: &'static [&'static str], mut extra: Vec<Field>) -> Kind {
    let mut fields = page_fields(paths);
    fields.push(created_filter());
    fields.append(&mut extra);
    Kind::Obj(fields)
}
/// The pagination parameters alone (a list held in its object, such as
/// line items, has no `created`).
pub fn page_params(paths: &'static [&'static str]) -> Kind {
    Kind::Obj(page_fields(paths))
}
fn page_fields(paths: &'static [&'static str]) -> Vec<Field> {
    vec![
        f(
            "limit",
            int(1, 100),
            "Number of objects to return, 1 to 100 (default 10).",
        ),
        f(
            "starting_after",
            string(255),
            "Cursor: the id of the object after which the page starts.",
        ),
        f(
            "ending_before",
            string(255),
            "Cursor: the id of the object before which the page ends.",
        ),
        expand_of(paths),
    ]
}

fn path_of(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}[{name}]")
    }
}

fn type_error(param: &str, what: &str, v: &Value) -> ApiError {
    let shown = match v {
        Value::String(s) => s.chars().take(50).collect::<String>(),
        Value::Object(_) => "an object".into(),
        Value::Array(_) => "an array".into(),
        other => other.to_string(),
    };
    let message = format!("Invalid {what}: {shown}");
    match what {
        "integer" => {
            ApiError::invalid_code("parameter_invalid_integer", Some(param.into()), message)
        }
        _ => ApiError::invalid(Some(param.to_string()), message),
    }
}

/// Stripe's answer to a required parameter left out (or sent empty).
fn missing(param: &str) -> ApiError {
    ApiError::invalid_code(
        "parameter_missing",
        Some(param.into()),
        format!("Missing required param: {param}."),
    )
}

/// Checks `value` against the object `fields` and returns it coerced
/// (integers and booleans typed, unset values as null).
pub fn validate_root(fields: &Kind, value: Value) -> Result<Value, ApiError> {
    validate(fields, value, "")
}

// Long: one match over the parameter kinds, a few lines per arm; split per
// kind, the one recursive walk would be spread over many functions.
fn validate(kind: &Kind, value: Value, param: &str) -> Result<Value, ApiError> {
    match kind {
        Kind::Str { max, allowed } => {
            let Value::String(s) = value else {
                return Err(type_error(param, "string", &value));
            };
            check_text(param, &s)?;
            if s.chars().count() > *max {
                return Err(ApiError::invalid(
                    Some(param.into()),
                    format!("{param} is too long: it can be at most {max} characters."),
                ));
            }
            if let Some(allowed) = allowed {
                if !allowed.contains(&s.as_str()) {
                    return Err(ApiError::invalid(
                        Some(param.into()),
                        format!("Invalid {param}: must be one of {}", allowed.join(", ")),
                    ));
                }
            }
            Ok(Value::String(s))
        }
        Kind::Expandable(paths) => {
            let Value::String(s) = value else {
                return Err(type_error(param, "string", &value));
            };
            if !paths.contains(&s.as_str()) {
                return Err(ApiError::invalid(
                    Some(param.into()),
                    format!(
                        "This property cannot be expanded ({}).",
                        s.chars().take(100).collect::<String>()
                    ),
                ));
            }
            Ok(Value::String(s))
        }
        Kind::Int { min, max } => {
            let n = match &value {
                // JSON's 70.0 is the integer 70 (as JSON Schema's `integer`
                // says); 70.5 is not an integer.
                Value::Number(n) => n.as_i64().or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                        .map(|f| f as i64)
                }),
                Value::String(s) => {
                    let t = s.strip_prefix('-').unwrap_or(s);
                    if !t.is_empty() && t.len() <= 19 && t.bytes().all(|b| b.is_ascii_digit()) {
                        s.parse::<i64>().ok()
                    } else {
                        None
                    }
                }
                _ => None,
            };
            let n = n.ok_or_else(|| type_error(param, "integer", &value))?;
            if n < *min || n > *max {
                return Err(ApiError::invalid(
                    Some(param.into()),
                    format!("{param} must be between {min} and {max}."),
                ));
            }
            Ok(Value::from(n))
        }
        Kind::Bool => match &value {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::String(s) if s == "true" => Ok(Value::Bool(true)),
            Value::String(s) if s == "false" => Ok(Value::Bool(false)),
            _ => Err(type_error(param, "boolean", &value)),
        },
        Kind::Decimal => match &value {
            Value::Number(n) => Ok(Value::String(n.to_string())),
            Value::String(s)
                if !s.is_empty()
                    && s.len() <= 32
                    && s.bytes()
                        .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') =>
            {
                Ok(Value::String(s.clone()))
            }
            _ => Err(type_error(param, "decimal", &value)),
        },
        Kind::Map => {
            let Value::Object(map) = value else {
                return Err(type_error(param, "object", &value));
            };
            let mut out = Map::new();
            for (k, v) in map {
                let p = path_of(param, &k);
                check_text(&p, &k)?;
                let s = match v {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    other => return Err(type_error(&p, "string", &other)),
                };
                check_text(&p, &s)?;
                out.insert(k, Value::String(s));
            }
            Ok(Value::Object(out))
        }
        Kind::Arr { items, max } => {
            let Value::Array(list) = value else {
                return Err(type_error(param, "array", &value));
            };
            if list.len() > *max {
                return Err(ApiError::invalid(
                    Some(param.into()),
                    format!("{param} can have at most {max} items."),
                ));
            }
            let out = list
                .into_iter()
                .enumerate()
                .map(|(i, v)| validate(items, v, &format!("{param}[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Value::Array(out))
        }
        Kind::Obj(fields) => {
            let Value::Object(mut map) = value else {
                return Err(type_error(param, "object", &value));
            };
            if let Some(unknown) = map
                .keys()
                .find(|k| !fields.iter().any(|f| f.name == k.as_str()))
            {
                // A name as long as the body could be: shown cut short.
                let mut p = path_of(param, unknown);
                if p.chars().count() > 200 {
                    p = format!("{}…", p.chars().take(200).collect::<String>());
                }
                return Err(ApiError::invalid_code(
                    "parameter_unknown",
                    Some(p.clone()),
                    format!("Received unknown parameter: {p}"),
                ));
            }
            let mut out = Map::new();
            for field in fields {
                let p = path_of(param, field.name);
                match map.remove(field.name) {
                    None => {
                        if field.required {
                            return Err(missing(&p));
                        }
                    }
                    Some(v) if is_unset(&v) => {
                        if field.required {
                            return Err(missing(&p));
                        }
                        if !field.emptiable {
                            return Err(ApiError::invalid_code(
                                "parameter_invalid_empty",
                                Some(p.clone()),
                                format!("You passed an empty string for '{p}'. We assume empty values are an attempt to unset a parameter; however '{p}' cannot be unset. You should remove '{p}' from your request or supply a non-empty value."),
                            ));
                        }
                        out.insert(field.name.to_string(), Value::Null);
                    }
                    Some(v) => {
                        out.insert(field.name.to_string(), validate(&field.kind, v, &p)?);
                    }
                }
            }
            Ok(Value::Object(out))
        }
    }
}

/// Text may not carry NUL: no database stores it faithfully, and it has
/// no place in any parameter.
fn check_text(param: &str, s: &str) -> Result<(), ApiError> {
    if s.contains('\0') {
        return Err(ApiError::invalid(
            Some(param.to_string()),
            format!("Invalid {param}: text may not contain NUL characters."),
        ));
    }
    Ok(())
}

fn is_unset(v: &Value) -> bool {
    matches!(v, Value::Null) || v.as_str() == Some("")
}

/// The JSON Schema (OpenAPI 3.1) of a parameter kind.
pub fn json_schema(kind: &Kind) -> Value {
    match kind {
        // An empty string is never a value: it unsets an unsettable
        // parameter (the anyOf below) and is refused anywhere else.
        Kind::Str { max, allowed } => match allowed {
            Some(a) => json!({"type": "string", "enum": a}),
            None => json!({"type": "string", "minLength": 1, "maxLength": max}),
        },
        Kind::Int { min, max } => json!({"type": "integer", "minimum": min, "maximum": max}),
        Kind::Bool => json!({"type": "boolean"}),
        Kind::Decimal => json!({"type": "string", "format": "decimal"}),
        Kind::Map => {
            json!({"type": "object", "additionalProperties": {"type": "string", "maxLength": 500}, "maxProperties": 50})
        }
        Kind::Expandable(paths) => json!({"type": "string", "enum": paths}),
        // Nothing to expand: only an empty list is accepted.
        Kind::Arr { items, .. } if matches!(**items, Kind::Expandable(p) if p.is_empty()) => {
            json!({"type": "array", "maxItems": 0})
        }
        Kind::Arr { items, max } => {
            json!({"type": "array", "items": json_schema(items), "maxItems": max})
        }
        Kind::Obj(fields) => {
            let mut props = Map::new();
            let mut required = Vec::new();
            for field in fields {
                let mut s = json_schema(&field.kind);
                if let Value::Object(m) = &mut s {
                    m.insert("description".into(), Value::String(field.doc.into()));
                }
                if field.emptiable {
                    // Unset by an empty string (forms) or null (JSON).
                    s = json!({"anyOf": [s, {"type": "string", "enum": [""]}, {"type": "null"}], "description": field.doc});
                }
                props.insert(field.name.into(), s);
                if field.required {
                    required.push(Value::String(field.name.into()));
                }
            }
            let mut o =
                json!({"type": "object", "properties": props, "additionalProperties": false});
            if !required.is_empty() {
                if let Value::Object(m) = &mut o {
                    m.insert("required".into(), Value::Array(required));
                }
            }
            o
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Kind {
        obj(vec![
            req("name", string(5), "n"),
            f("count", int(1, 10), "c"),
            f("on", Kind::Bool, "b"),
            f("desc", string(10), "d").unsettable(),
            metadata(),
            f(
                "items",
                arr(obj(vec![req("price", string(20), "p")]), 2),
                "i",
            ),
        ])
    }

    fn err_param(r: Result<Value, ApiError>) -> Option<String> {
        r.err().and_then(|e| e.param().map(str::to_string))
    }

    #[test]
    // Long: a test: one table of cases.
    fn coerces_and_names_params() -> Result<(), ApiError> {
        let v = validate_root(
            &schema(),
            json!({"name":"ab","count":"3","on":"true","desc":"","items":[{"price":"x"}]}),
        )?;
        assert_eq!(
            v,
            json!({"name":"ab","count":3,"on":true,"desc":null,"items":[{"price":"x"}]})
        );
        assert_eq!(
            err_param(validate_root(&schema(), json!({}))),
            Some("name".into())
        );
        assert_eq!(
            err_param(validate_root(&schema(), json!({"name":"a","zzz":"1"}))),
            Some("zzz".into())
        );
        assert_eq!(
            err_param(validate_root(&schema(), json!({"name":"abcdef"}))),
            Some("name".into())
        );
        assert_eq!(
            err_param(validate_root(&schema(), json!({"name":"a","count":"11"}))),
            Some("count".into())
        );
        assert_eq!(
            err_param(validate_root(&schema(), json!({"name":"a","count":"1.5"}))),
            Some("count".into())
        );
        assert_eq!(
            err_param(validate_root(&schema(), json!({"name":"a","on":"yes"}))),
            Some("on".into())
        );
        assert_eq!(
            err_param(validate_root(
                &schema(),
                json!({"name":"a","items":[{"price":"x"},{}]})
            )),
            Some("items[1][price]".into())
        );
        assert_eq!(
            err_param(validate_root(
                &schema(),
                json!({"name":"a","items":[{"price":"x","q":1}]})
            )),
            Some("items[0][q]".into())
        );
        assert_eq!(
            err_param(validate_root(
                &schema(),
                json!({"name":"a","items":[{"price":"x"},{"price":"x"},{"price":"x"}]})
            )),
            Some("items".into())
        );
        assert_eq!(
            err_param(validate_root(&schema(), json!({"name":""}))),
            Some("name".into())
        );
        assert_eq!(
            err_param(validate_root(&schema(), json!({"name":"a\u{0}"}))),
            Some("name".into())
        );
        assert_eq!(
            err_param(validate_root(
                &schema(),
                json!({"name":"a","metadata":{"k":"\u{0}"}})
            )),
            Some("metadata[k]".into())
        );
        assert_eq!(
            err_param(validate_root(&schema(), json!({"name":"a","count":""}))),
            Some("count".into())
        );
        Ok(())
    }
}
