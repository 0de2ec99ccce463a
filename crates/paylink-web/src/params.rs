//! Request parameters: Stripe's form encoding with bracket notation
//! (`line_items[0][price]=…`, `metadata[k]=v`, `expand[]=…`) or a JSON
//! body, both turned into one JSON value tree for the schema to check.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// Most nesting Stripe uses is 4 levels; anything deeper is refused.
const MAX_DEPTH: usize = 6;
/// Most parameters one request may carry.
const MAX_PARAMS: usize = 2000;

/// Parses `application/x-www-form-urlencoded` text (a body or a query).
pub fn parse_form(input: &[u8]) -> Result<Value, ApiError> {
    let mut root = Value::Object(Map::new());
    let mut count = 0usize;
    for (key, value) in form_pairs(input)? {
        count += 1;
        if count > MAX_PARAMS {
            return Err(ApiError::invalid(
                None,
                format!("Too many parameters: at most {MAX_PARAMS} are accepted."),
            ));
        }
        let path = split_key(&key)?;
        insert(&mut root, &path, &key, Value::String(value))?;
    }
    Ok(arrays_from_indexes(root))
}

/// The `key=value` pairs of a form body, percent-decoded (`+` is a space).
/// A value is `None` when it, or its key, is not UTF-8 once decoded (the
/// key is then shown lossily): the caller refuses it rather than store
/// replacement characters.
pub fn decoded_pairs(input: &[u8]) -> Vec<(String, Option<String>)> {
    let decode = |part: &[u8]| -> Result<String, String> {
        let plus: Vec<u8> = part
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        let bytes: Vec<u8> = percent_encoding::percent_decode(&plus).collect();
        String::from_utf8(bytes).map_err(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    };
    input
        .split(|&b| b == b'&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = match pair.iter().position(|&b| b == b'=') {
                Some(i) => {
                    let (k, rest) = pair.split_at(i);
                    (k, rest.get(1..).unwrap_or_default())
                }
                None => (pair, &[][..]),
            };
            match decode(k) {
                Ok(key) => (key, decode(v).ok()),
                Err(lossy) => (lossy, None),
            }
        })
        .collect()
}

/// [`decoded_pairs`], refusing the first value that is not UTF-8.
fn form_pairs(input: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    decoded_pairs(input)
        .into_iter()
        .map(|(key, value)| {
            value.map(|v| (key.clone(), v)).ok_or_else(|| {
                let name: String = key.chars().take(200).collect();
                ApiError::invalid(
                    Some(name.clone()),
                    format!("Invalid {name}: the value is not valid UTF-8."),
                )
            })
        })
        .collect()
}

/// Splits `a[b][0][]` into `["a", "b", "0", ""]`.
fn split_key(key: &str) -> Result<Vec<String>, ApiError> {
    let bad = || {
        ApiError::invalid(
            Some(key.chars().take(200).collect()),
            format!(
                "Invalid parameter name: {}",
                key.chars().take(200).collect::<String>()
            ),
        )
    };
    let (head, mut rest) = match key.find('[') {
        Some(i) => (key.get(..i).unwrap_or(""), key.get(i..).unwrap_or("")),
        None => (key, ""),
    };
    if head.is_empty() {
        return Err(bad());
    }
    let mut parts = vec![head.to_string()];
    while !rest.is_empty() {
        let inner_end = rest.find(']').ok_or_else(bad)?;
        if !rest.starts_with('[') {
            return Err(bad());
        }
        let seg = rest.get(1..inner_end).ok_or_else(bad)?;
        if seg.contains('[') {
            return Err(bad());
        }
        parts.push(seg.to_string());
        rest = rest.get(inner_end + 1..).unwrap_or("");
    }
    if parts.len() > MAX_DEPTH {
        return Err(bad());
    }
    Ok(parts)
}

fn insert(node: &mut Value, path: &[String], full: &str, value: Value) -> Result<(), ApiError> {
    let conflict = || {
        ApiError::invalid(
            Some(display_param(full)),
            format!("Conflicting values for parameter {}.", display_param(full)),
        )
    };
    let Some((first, rest)) = path.split_first() else {
        return Err(conflict());
    };
    let Value::Object(map) = node else {
        return Err(conflict());
    };
    // `a[]=x` appends: give it the next free numeric index.
    let key = if first.is_empty() {
        let n = map.keys().filter(|k| k.parse::<usize>().is_ok()).count();
        n.to_string()
    } else {
        first.clone()
    };
    if rest.is_empty() {
        if map.contains_key(&key) {
            return Err(conflict());
        }
        map.insert(key, value);
        return Ok(());
    }
    let child = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !child.is_object() {
        return Err(conflict());
    }
    insert(child, rest, full, value)
}

fn display_param(full: &str) -> String {
    full.chars().take(200).collect()
}

/// Turns objects whose keys are all indexes (`{"0":…,"1":…}`) into arrays,
/// ordered by index.
fn arrays_from_indexes(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let all_indexes = !map.is_empty()
                && map.keys().all(|k| {
                    !k.is_empty() && k.len() <= 4 && k.bytes().all(|b| b.is_ascii_digit())
                });
            if all_indexes {
                let mut items: Vec<(usize, Value)> = map
                    .into_iter()
                    .map(|(k, v)| (k.parse().unwrap_or(usize::MAX), arrays_from_indexes(v)))
                    .collect();
                items.sort_by_key(|(i, _)| *i);
                Value::Array(items.into_iter().map(|(_, v)| v).collect())
            } else {
                Value::Object(
                    map.into_iter()
                        .map(|(k, v)| (k, arrays_from_indexes(v)))
                        .collect(),
                )
            }
        }
        other => other,
    }
}

/// Parses a JSON body; it must be an object.
pub fn parse_json(input: &[u8]) -> Result<Value, ApiError> {
    if input.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    let v: Value = serde_json::from_slice(input)
        .map_err(|e| ApiError::invalid(None, format!("Invalid JSON body: {e}")))?;
    if !v.is_object() {
        return Err(ApiError::invalid(None, "The JSON body must be an object."));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn brackets_become_a_tree() -> Result<(), ApiError> {
        let v = parse_form(b"name=T%20shirt&metadata[a]=1&line_items[0][price]=p1&line_items[1][price]=p2&line_items[0][quantity]=2&expand[]=x&expand[]=y")?;
        assert_eq!(
            v,
            json!({"name":"T shirt","metadata":{"a":"1"},"line_items":[{"price":"p1","quantity":"2"},{"price":"p2"}],"expand":["x","y"]})
        );
        Ok(())
    }

    #[test]
    fn conflicts_and_bad_names_are_refused() {
        assert!(parse_form(b"a=1&a=2").is_err());
        assert!(parse_form(b"a=1&a[b]=2").is_err());
        assert!(parse_form(b"a[b=1").is_err());
        assert!(parse_form(b"[a]=1").is_err());
        assert!(parse_form(b"a[b][c][d][e][f][g]=1").is_err());
        assert!(parse_json(b"[1]").is_err());
        assert!(parse_json(b"{").is_err());
    }

    #[test]
    fn empty_value_is_kept_for_unset() -> Result<(), ApiError> {
        assert_eq!(parse_form(b"description=")?, json!({"description": ""}));
        Ok(())
    }
}
