//! Questions a payment link asks the buyer (custom fields).

use serde::{Deserialize, Serialize};

use super::{RuleError, MAX_CUSTOM_FIELDS};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomFieldLabel {
    #[serde(rename = "type")]
    pub kind: String,
    pub custom: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DropdownOption {
    pub label: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dropdown {
    pub default_value: Option<String>,
    pub options: Vec<DropdownOption>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextBounds {
    pub default_value: Option<String>,
    pub maximum_length: Option<i64>,
    pub minimum_length: Option<i64>,
}

/// A question the checkout page asks the buyer (Stripe's `custom_fields`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomField {
    pub key: String,
    pub label: CustomFieldLabel,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub optional: bool,
    pub dropdown: Option<Dropdown>,
    pub numeric: Option<TextBounds>,
    pub text: Option<TextBounds>,
}

impl CustomField {
    /// Checks the cross-field rules of the custom field at `index`.
    // Long: a list of Stripe's cross-field rules for a custom field, one check
    // after another, each naming its parameter: a list, not a flow.
    pub fn check(&self, index: usize) -> Result<(), RuleError> {
        let p = |f: &str| format!("custom_fields[{index}][{f}]");
        if self.key.is_empty()
            || self.key.len() > 200
            || !self.key.chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(RuleError::new(
                p("key"),
                "key must be 1 to 200 alphanumeric characters.",
            ));
        }
        if self.label.custom.is_empty() || self.label.custom.chars().count() > 50 {
            return Err(RuleError::new(
                format!("custom_fields[{index}][label][custom]"),
                "label must be 1 to 50 characters.",
            ));
        }
        match self.kind.as_str() {
            "dropdown" => {
                let d = self.dropdown.as_ref().ok_or_else(|| {
                    RuleError::new(p("dropdown"), "dropdown is required when type is dropdown.")
                })?;
                if d.options.is_empty() || d.options.len() > 200 {
                    return Err(RuleError::new(
                        format!("custom_fields[{index}][dropdown][options]"),
                        "A dropdown needs 1 to 200 options.",
                    ));
                }
                for (j, o) in d.options.iter().enumerate() {
                    if o.value.is_empty()
                        || o.value.len() > 100
                        || !o.value.chars().all(|c| c.is_ascii_alphanumeric())
                    {
                        return Err(RuleError::new(
                            format!("custom_fields[{index}][dropdown][options][{j}][value]"),
                            "value must be 1 to 100 alphanumeric characters.",
                        ));
                    }
                    if o.label.is_empty() || o.label.chars().count() > 100 {
                        return Err(RuleError::new(
                            format!("custom_fields[{index}][dropdown][options][{j}][label]"),
                            "label must be 1 to 100 characters.",
                        ));
                    }
                }
                if let Some(dv) = &d.default_value {
                    if !d.options.iter().any(|o| &o.value == dv) {
                        return Err(RuleError::new(
                            format!("custom_fields[{index}][dropdown][default_value]"),
                            "default_value must be one of the options' values.",
                        ));
                    }
                }
                if self.text.is_some() || self.numeric.is_some() {
                    return Err(RuleError::new(
                        p("type"),
                        "Only the options of the field's own type may be set.",
                    ));
                }
            }
            "text" | "numeric" => {
                let bounds = if self.kind == "text" {
                    &self.text
                } else {
                    &self.numeric
                };
                if self.dropdown.is_some()
                    || (self.kind == "text" && self.numeric.is_some())
                    || (self.kind == "numeric" && self.text.is_some())
                {
                    return Err(RuleError::new(
                        p("type"),
                        "Only the options of the field's own type may be set.",
                    ));
                }
                if let Some(b) = bounds {
                    let bp = |f: &str| format!("custom_fields[{index}][{}][{f}]", self.kind);
                    for (name, v) in [
                        ("minimum_length", b.minimum_length),
                        ("maximum_length", b.maximum_length),
                    ] {
                        if v.is_some_and(|v| !(1..=255).contains(&v)) {
                            return Err(RuleError::new(
                                bp(name),
                                format!("{name} must be between 1 and 255."),
                            ));
                        }
                    }
                    if let (Some(min), Some(max)) = (b.minimum_length, b.maximum_length) {
                        if min > max {
                            return Err(RuleError::new(
                                bp("maximum_length"),
                                "maximum_length must be greater than or equal to minimum_length.",
                            ));
                        }
                    }
                    if let Some(dv) = &b.default_value {
                        let n = i64::try_from(dv.chars().count()).unwrap_or(i64::MAX);
                        if n > 255
                            || b.maximum_length.is_some_and(|m| n > m)
                            || (self.kind == "numeric" && !dv.chars().all(|c| c.is_ascii_digit()))
                        {
                            return Err(RuleError::new(
                                bp("default_value"),
                                "default_value does not fit the field's limits.",
                            ));
                        }
                    }
                }
            }
            _ => {
                return Err(RuleError::new(
                    p("type"),
                    "type must be one of dropdown, numeric or text.",
                ))
            }
        }
        Ok(())
    }
}

/// Checks the list of custom fields: at most 3, keys unique.
pub fn check_custom_fields(fields: &[CustomField]) -> Result<(), RuleError> {
    if fields.len() > MAX_CUSTOM_FIELDS {
        return Err(RuleError::new(
            "custom_fields",
            format!("A payment link can have at most {MAX_CUSTOM_FIELDS} custom fields."),
        ));
    }
    for (i, f) in fields.iter().enumerate() {
        f.check(i)?;
        if fields.iter().take(i).any(|g| g.key == f.key) {
            return Err(RuleError::new(
                format!("custom_fields[{i}][key]"),
                "Custom field keys must be unique.",
            ));
        }
    }
    Ok(())
}
