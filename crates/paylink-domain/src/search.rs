//! Stripe's search query language (`GET /v1/{products,…}/search?query=`),
//! for the fields paylink searches: clauses `field:value` (exact),
//! `field~value` (substring, at least 3 characters), `field>value`,
//! `>=`, `<`, `<=` (numbers), `metadata["key"]:value`, a leading `-` to
//! negate, joined by spaces or `AND`, or by `OR` (not both in one query,
//! as Stripe), at most 10 clauses. Matching is case-insensitive for text,
//! exact for metadata values.

/// A comparison of a clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Contains,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A clause's value as written: quoted text, or a bare number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    Text(String),
    Number(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    /// The field, or `metadata` with `key` set.
    pub field: String,
    pub key: Option<String>,
    pub op: Op,
    pub value: Literal,
    pub negated: bool,
}

/// A parsed query: every clause must match, or any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Query {
    All(Vec<Clause>),
    Any(Vec<Clause>),
}

/// What an object holds in a searchable field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValue<'a> {
    Text(Option<&'a str>),
    Number(i64),
    Bool(bool),
}

/// The kind of a searchable field of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Number,
    Bool,
    /// Text matched exactly only (ids, codes, statuses).
    Token,
    Metadata,
}

/// A query that can't be run, with Stripe's kind of message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchError(pub String);

const MAX_CLAUSES: usize = 10;

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
}

impl Parser<'_> {
    fn skip_spaces(&mut self) -> bool {
        let start = self.at;
        while self.s.get(self.at).is_some_and(|b| b.is_ascii_whitespace()) {
            self.at += 1;
        }
        self.at > start
    }
    fn eat(&mut self, text: &str) -> bool {
        if self
            .s
            .get(self.at..)
            .is_some_and(|rest| rest.starts_with(text.as_bytes()))
        {
            self.at += text.len();
            true
        } else {
            false
        }
    }
    fn error(&self, what: &str) -> SearchError {
        SearchError(format!(
            "Invalid query: {what} at position {} of the query.",
            self.at
        ))
    }
    /// Text in double or single quotes (Stripe's documentation writes
    /// both: `name:"Mug"`, `name:'Mug'`), a backslash escaping the next
    /// character.
    fn quoted(&mut self) -> Result<String, SearchError> {
        let quote = match self.s.get(self.at) {
            Some(q @ (b'"' | b'\'')) => *q,
            _ => return Err(self.error("expected a quoted value")),
        };
        self.at += 1;
        let mut out = Vec::new();
        loop {
            match self.s.get(self.at) {
                None => return Err(self.error("unterminated quoted value")),
                Some(q) if *q == quote => {
                    self.at += 1;
                    break;
                }
                Some(b'\\') if self.s.get(self.at + 1).is_some() => {
                    out.extend(self.s.get(self.at + 1));
                    self.at += 2;
                }
                Some(b) => {
                    out.push(*b);
                    self.at += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| self.error("invalid text"))
    }
    fn ident(&mut self) -> Result<String, SearchError> {
        let start = self.at;
        while self
            .s
            .get(self.at)
            .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
        {
            self.at += 1;
        }
        if self.at == start {
            return Err(self.error("expected a field name"));
        }
        Ok(String::from_utf8_lossy(self.s.get(start..self.at).unwrap_or_default()).into_owned())
    }
    fn number(&mut self) -> Result<i64, SearchError> {
        let start = self.at;
        if self.s.get(self.at) == Some(&b'-') {
            self.at += 1;
        }
        while self.s.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        self.s
            .get(start..self.at)
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|t| t.parse().ok())
            .ok_or_else(|| self.error("expected a quoted value or a number"))
    }
    fn clause(&mut self) -> Result<Clause, SearchError> {
        let negated = self.eat("-");
        let field = self.ident()?;
        let key = if field == "metadata" {
            if !self.eat("[") {
                return Err(self.error("expected metadata[\"key\"]"));
            }
            let k = self.quoted()?;
            if !self.eat("]") {
                return Err(self.error("expected ] after the metadata key"));
            }
            Some(k)
        } else {
            None
        };
        let op = if self.eat(">=") {
            Op::Ge
        } else if self.eat("<=") {
            Op::Le
        } else if self.eat(">") {
            Op::Gt
        } else if self.eat("<") {
            Op::Lt
        } else if self.eat(":") {
            Op::Eq
        } else if self.eat("~") {
            Op::Contains
        } else {
            return Err(self.error("expected one of : ~ > >= < <="));
        };
        let value = if matches!(self.s.get(self.at), Some(b'"' | b'\'')) {
            Literal::Text(self.quoted()?)
        } else {
            Literal::Number(self.number()?)
        };
        Ok(Clause {
            field,
            key,
            op,
            value,
            negated,
        })
    }
}

/// Parses a query.
pub fn parse(query: &str) -> Result<Query, SearchError> {
    let mut p = Parser {
        s: query.as_bytes(),
        at: 0,
    };
    p.skip_spaces();
    if p.at == p.s.len() {
        return Err(SearchError("The query can't be empty.".into()));
    }
    let mut clauses = vec![p.clause()?];
    let (mut and, mut or) = (false, false);
    loop {
        let spaced = p.skip_spaces();
        if p.at == p.s.len() {
            break;
        }
        if p.eat("AND ") {
            and = true;
        } else if p.eat("OR ") {
            or = true;
        } else if spaced {
            and = true;
        } else {
            return Err(p.error("expected a space, AND or OR between clauses"));
        }
        if and && or {
            return Err(SearchError(
                "Invalid query: AND and OR can't be combined in one query.".into(),
            ));
        }
        p.skip_spaces();
        clauses.push(p.clause()?);
        if clauses.len() > MAX_CLAUSES {
            return Err(SearchError(format!(
                "Invalid query: a query can have at most {MAX_CLAUSES} clauses."
            )));
        }
    }
    Ok(if or {
        Query::Any(clauses)
    } else {
        Query::All(clauses)
    })
}

impl Query {
    pub fn clauses(&self) -> &[Clause] {
        match self {
            Query::All(c) | Query::Any(c) => c,
        }
    }

    /// Checks every clause against the fields `resource` offers (`kind_of`).
    pub fn check(
        &self,
        resource: &str,
        kind_of: impl Fn(&str) -> Option<FieldKind>,
    ) -> Result<(), SearchError> {
        for c in self.clauses() {
            let kind = kind_of(&c.field).ok_or_else(|| {
                SearchError(format!(
                    "Field `{}` is an unsupported search field for resource `{resource}`.",
                    c.field
                ))
            })?;
            let text = matches!(c.value, Literal::Text(_));
            let ok = match (kind, c.op) {
                (FieldKind::Number, Op::Contains) => false,
                (FieldKind::Number, _) => match &c.value {
                    Literal::Number(_) => true,
                    Literal::Text(t) => t.parse::<i64>().is_ok(),
                },
                (FieldKind::Text, Op::Eq | Op::Contains) => text,
                (FieldKind::Bool, Op::Eq) => match &c.value {
                    Literal::Text(t) => {
                        t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false")
                    }
                    Literal::Number(_) => false,
                },
                (FieldKind::Token | FieldKind::Metadata, Op::Eq) => text,
                _ => false,
            };
            if !ok {
                return Err(SearchError(format!(
                    "Field `{}` can't be searched that way: text fields take field:\"value\" (or field~\"value\" for a substring), numbers field:123, field>123 and the like.",
                    c.field
                )));
            }
            if let (Op::Contains, Literal::Text(t)) = (c.op, &c.value) {
                if t.chars().count() < 3 {
                    return Err(SearchError(
                        "A substring search (~) needs at least 3 characters.".into(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether an object matches: `field` gives a field's value, `meta`
    /// a metadata value.
    pub fn matches<'a>(
        &self,
        field: impl Fn(&str) -> Option<FieldValue<'a>>,
        meta: impl Fn(&str) -> Option<&'a str>,
    ) -> bool {
        let one = |c: &Clause| {
            let hit = match &c.key {
                Some(k) => match &c.value {
                    Literal::Text(t) => meta(k) == Some(t.as_str()),
                    Literal::Number(_) => false,
                },
                None => field(&c.field).is_some_and(|v| clause_holds(c, v)),
            };
            hit != c.negated
        };
        match self {
            Query::All(cs) => cs.iter().all(one),
            Query::Any(cs) => cs.iter().any(one),
        }
    }
}

fn clause_holds(c: &Clause, v: FieldValue<'_>) -> bool {
    match (v, &c.value) {
        (FieldValue::Number(n), Literal::Number(x)) => match c.op {
            Op::Eq => n == *x,
            Op::Gt => n > *x,
            Op::Ge => n >= *x,
            Op::Lt => n < *x,
            Op::Le => n <= *x,
            Op::Contains => false,
        },
        (FieldValue::Number(n), Literal::Text(t)) => t.parse::<i64>().is_ok_and(|x| {
            clause_holds(
                &Clause {
                    value: Literal::Number(x),
                    ..c.clone()
                },
                FieldValue::Number(n),
            )
        }),
        (FieldValue::Bool(b), Literal::Text(t)) => {
            t.eq_ignore_ascii_case(if b { "true" } else { "false" })
        }
        (FieldValue::Text(Some(s)), Literal::Text(t)) => match c.op {
            Op::Eq => s.to_lowercase() == t.to_lowercase(),
            Op::Contains => s.to_lowercase().contains(&t.to_lowercase()),
            _ => false,
        },
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stripes_examples() -> Result<(), SearchError> {
        let q = parse(r#"active:"true" AND metadata["order_id"]:"6735""#)?;
        assert!(matches!(&q, Query::All(c) if c.len() == 2));
        assert_eq!(
            q.clauses().get(1).and_then(|c| c.key.as_deref()),
            Some("order_id")
        );
        let mixed = parse(r#"name~"shirt" OR -status:"succeeded" created>1609459200"#);
        assert!(mixed.is_err(), "AND (space) and OR mixed");
        assert!(matches!(
            parse(r#"email:"a@b.example" OR name:"Ann""#)?,
            Query::Any(_)
        ));
        // Single quotes, as Stripe's API reference writes them.
        let single = parse(r"name:'Alpha' AND metadata['tag']:'x' AND name:'It\'s'")?;
        let texts: Vec<_> = single
            .clauses()
            .iter()
            .map(|c| (c.key.clone(), c.value.clone()))
            .collect();
        assert_eq!(
            texts,
            vec![
                (None, Literal::Text("Alpha".into())),
                (Some("tag".into()), Literal::Text("x".into())),
                (None, Literal::Text("It's".into())),
            ]
        );
        assert!(parse(r#"name:'mixed""#).is_err());
        assert!(parse("").is_err());
        assert!(parse("name").is_err());
        assert!(parse(r#"name:"open"#).is_err());
        assert!(parse(r#"name:"a"name:"b""#).is_err());
        let many = (0..11)
            .map(|i| format!("amount>{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        assert!(parse(&many).is_err());
        Ok(())
    }

    #[test]
    fn matches_fields_and_metadata() -> Result<(), SearchError> {
        let q = parse(r#"name~"SHIRT" -active:"false" amount>=100 metadata["k"]:"v""#)?;
        let field = |f: &str| match f {
            "name" => Some(FieldValue::Text(Some("Blue shirt"))),
            "active" => Some(FieldValue::Bool(true)),
            "amount" => Some(FieldValue::Number(100)),
            _ => None,
        };
        assert!(q.matches(field, |k| (k == "k").then_some("v")));
        assert!(!q.matches(field, |_| None));
        assert!(!parse("amount>100")?.matches(field, |_| None));
        Ok(())
    }
}
