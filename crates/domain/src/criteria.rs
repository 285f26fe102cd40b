//! FindingCriteria and SortCriteria, parsed and typed. The store compiles `Criteria` into its own
//! query language; `Criteria::matches` evaluates it in memory (suppression filters, tests).
use std::cmp::Ordering;

pub use crate::attributes::AttrValue;
use crate::attributes::{self, AttrKind, Attribute};
use crate::model;

#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// Matches when the attribute equals any value (any element, for list-valued attributes).
    Equals(Vec<AttrValue>),
    /// Matches when the attribute equals none of the values (no element, for lists).
    NotEquals(Vec<AttrValue>),
    Gt(f64),
    Gte(f64),
    Lt(f64),
    Lte(f64),
    /// Matches when any element matches any `*` wildcard pattern (case-sensitive; filters only).
    Matches(Vec<String>),
    /// Matches when no element matches any pattern (so an absent attribute matches).
    NotMatches(Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Criterion {
    pub attribute: &'static Attribute,
    /// All tests must hold (several operators in one Condition are ANDed).
    pub tests: Vec<Test>,
}

/// Distinct attributes are ANDed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Criteria {
    pub criteria: Vec<Criterion>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sort {
    pub attribute: &'static Attribute,
    pub descending: bool,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CriteriaError {
    #[error("The request is rejected because the criterion attribute {0} is not supported.")]
    UnknownAttribute(String),
    #[error("The request is rejected because an invalid or out-of-range value is specified as an input parameter: {0}")]
    InvalidValue(String),
}

/// Up to 50 attributes per filter [UG].
pub const MAX_ATTRIBUTES: usize = 50;
/// Up to 50 values per `equals` / `notEquals` list [model].
pub const MAX_EQUALS_VALUES: usize = 50;
/// Up to 5 patterns of 1..512 characters per `matches` / `notMatches` [model].
pub const MAX_PATTERNS: usize = 5;
pub const MAX_PATTERN_CHARS: usize = 512;

pub fn parse_criteria(c: Option<&model::FindingCriteria>) -> Result<Criteria, CriteriaError> {
    let Some(conditions) = c.and_then(|c| c.criterion.as_ref()) else {
        return Ok(Criteria::default());
    };
    if conditions.len() > MAX_ATTRIBUTES {
        return Err(CriteriaError::InvalidValue(format!(
            "findingCriteria has {} attributes; at most {MAX_ATTRIBUTES} are allowed",
            conditions.len()
        )));
    }
    let criteria = conditions
        .iter()
        .map(|(path, condition)| {
            let attribute = attributes::lookup(path).ok_or_else(|| CriteriaError::UnknownAttribute(path.clone()))?;
            Ok(Criterion { attribute, tests: parse_condition(attribute, path, condition)? })
        })
        .collect::<Result<_, _>>()?;
    Ok(Criteria { criteria })
}

fn invalid(path: &str, why: impl std::fmt::Display) -> CriteriaError {
    CriteriaError::InvalidValue(format!("{path}: {why}"))
}

/// Legacy (`eq`, `gt`…) and current (`equals`, `greaterThan`…) spellings are merged; several
/// operators in one condition are ANDed (decision in docs/criteria.md#operators).
fn parse_condition(attribute: &'static Attribute, path: &str, c: &model::Condition) -> Result<Vec<Test>, CriteriaError> {
    let mut tests = Vec::new();

    let equals = merge_lists(path, "equals", [&c.eq, &c.equals], MAX_EQUALS_VALUES)?;
    if let Some(values) = equals {
        tests.push(Test::Equals(typed_values(attribute, path, values)?));
    }
    let not_equals = merge_lists(path, "notEquals", [&c.neq, &c.not_equals], MAX_EQUALS_VALUES)?;
    if let Some(values) = not_equals {
        tests.push(Test::NotEquals(typed_values(attribute, path, values)?));
    }

    type Range = (Option<i64>, fn(f64) -> Test);
    let ranges: [Range; 8] = [
        (c.gt, Test::Gt),
        (c.greater_than, Test::Gt),
        (c.gte, Test::Gte),
        (c.greater_than_or_equal, Test::Gte),
        (c.lt, Test::Lt),
        (c.less_than, Test::Lt),
        (c.lte, Test::Lte),
        (c.less_than_or_equal, Test::Lte),
    ];
    for (bound, test) in ranges {
        if let Some(bound) = bound {
            if !matches!(attribute.kind, AttrKind::Num | AttrKind::Time) {
                return Err(invalid(path, "range operators apply to numeric and time attributes only"));
            }
            tests.push(test(bound as f64));
        }
    }

    for (name, patterns, test) in
        [("matches", &c.matches, Test::Matches as fn(Vec<String>) -> Test), ("notMatches", &c.not_matches, Test::NotMatches)]
    {
        if let Some(patterns) = merge_lists(path, name, [patterns, &None], MAX_PATTERNS)? {
            if attribute.kind != AttrKind::Str {
                return Err(invalid(path, format!("{name} applies to string attributes only")));
            }
            if let Some(p) = patterns.iter().find(|p| p.is_empty() || p.chars().count() > MAX_PATTERN_CHARS) {
                return Err(invalid(path, format!("{name} pattern of {} characters; 1 to {MAX_PATTERN_CHARS} allowed", p.chars().count())));
            }
            tests.push(test(patterns));
        }
    }

    if tests.is_empty() {
        return Err(invalid(path, "the condition has no operator"));
    }
    Ok(tests)
}

/// Concatenates the lists given under an operator's spellings; `None` when none was given.
fn merge_lists(path: &str, name: &str, lists: [&Option<Vec<String>>; 2], max: usize) -> Result<Option<Vec<String>>, CriteriaError> {
    let mut merged: Option<Vec<String>> = None;
    for list in lists.into_iter().flatten() {
        merged.get_or_insert_with(Vec::new).extend(list.iter().cloned());
    }
    match &merged {
        Some(values) if values.is_empty() => Err(invalid(path, format!("{name} needs at least one value"))),
        Some(values) if values.len() > max => Err(invalid(path, format!("{name} has {} values; at most {max} allowed", values.len()))),
        _ => Ok(merged),
    }
}

/// `equals` values all arrive as strings; they are typed by the attribute's kind.
fn typed_values(attribute: &Attribute, path: &str, values: Vec<String>) -> Result<Vec<AttrValue>, CriteriaError> {
    values
        .into_iter()
        .map(|v| match attribute.kind {
            AttrKind::Str => Ok(AttrValue::Str(v)),
            AttrKind::Num | AttrKind::Time => match v.trim().parse::<f64>() {
                Ok(n) if n.is_finite() => Ok(AttrValue::Num(n)),
                _ => Err(invalid(path, format!("{v:?} is not a number"))),
            },
            AttrKind::Bool => match v.as_str() {
                "true" => Ok(AttrValue::Bool(true)),
                "false" => Ok(AttrValue::Bool(false)),
                _ => Err(invalid(path, format!("{v:?} is not true or false"))),
            },
        })
        .collect()
}

/// Absent ⇒ `updatedAt` DESC; `attributeName` without `orderBy` ⇒ ASC (decisions in docs/criteria.md#sorting).
pub fn parse_sort(s: Option<&model::SortCriteria>) -> Result<Sort, CriteriaError> {
    let updated_at = || attributes::lookup("updatedAt").expect("updatedAt is in the attribute table");
    let Some(s) = s.filter(|s| s.attribute_name.is_some() || s.order_by.is_some()) else {
        return Ok(Sort { attribute: updated_at(), descending: true });
    };
    let attribute = match &s.attribute_name {
        None => updated_at(),
        Some(name) => match attributes::lookup(name) {
            Some(a) if !a.list => a,
            _ => return Err(CriteriaError::UnknownAttribute(name.clone())),
        },
    };
    let descending = match s.order_by.as_deref() {
        None | Some("ASC") => false,
        Some("DESC") => true,
        Some(other) => return Err(CriteriaError::InvalidValue(format!("orderBy {other:?}; expected ASC or DESC"))),
    };
    Ok(Sort { attribute, descending })
}

impl Criteria {
    pub fn matches(&self, finding: &model::Finding) -> bool {
        let mut values = Vec::new();
        self.criteria.iter().all(|criterion| {
            values.clear();
            (criterion.attribute.extract)(finding, &mut values);
            criterion.tests.iter().all(|test| test_holds(criterion.attribute, test, &values))
        })
    }

    pub fn is_empty(&self) -> bool {
        self.criteria.is_empty()
    }
}

/// One test over the attribute's values in a finding (empty = attribute absent).
pub fn test_holds(attribute: &Attribute, test: &Test, values: &[AttrValue]) -> bool {
    let any_equal = |wanted: &[AttrValue]| values.iter().any(|v| wanted.iter().any(|w| values_equal(attribute, v, w)));
    let any_num = |pred: &dyn Fn(f64) -> bool| values.iter().any(|v| matches!(v, AttrValue::Num(n) if pred(*n)));
    let any_glob = |patterns: &[String]| values.iter().any(|v| matches!(v, AttrValue::Str(s) if patterns.iter().any(|p| glob_matches(p, s))));
    match test {
        Test::Equals(wanted) => any_equal(wanted),
        Test::NotEquals(unwanted) => !any_equal(unwanted),
        Test::Gt(x) => any_num(&|n| n > *x),
        Test::Gte(x) => any_num(&|n| n >= *x),
        Test::Lt(x) => any_num(&|n| n < *x),
        Test::Lte(x) => any_num(&|n| n <= *x),
        Test::Matches(patterns) => any_glob(patterns),
        Test::NotMatches(patterns) => !any_glob(patterns),
    }
}

/// `equals` between a finding's value and a criterion value. On `floor_equals` attributes
/// (severity) the finding's value also equals its floor, so `["7","8"]` selects High
/// (7.0–8.9) while an exact `"5.5"` still selects 5.5.
pub fn values_equal(attribute: &Attribute, value: &AttrValue, wanted: &AttrValue) -> bool {
    match (value, wanted) {
        (AttrValue::Num(v), AttrValue::Num(w)) => v == w || (attribute.floor_equals && v.floor() == *w),
        _ => value == wanted,
    }
}

/// GuardDuty's `matches` wildcard: `*` stands for any run of characters (possibly empty);
/// every other character, `?` included, matches itself, case-sensitively.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    // Position of the last `*` seen and the text position it currently absorbs up to.
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((star, absorbed)) = backtrack {
            pi = star + 1;
            ti = absorbed + 1;
            backtrack = Some((star, absorbed + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// The order ListFindings/GetFindings return: by the sort attribute (absent first in ASC, last
/// in DESC), ties broken by finding id ascending in both directions. The store reproduces it.
pub fn compare_for_sort(a: &model::Finding, b: &model::Finding, sort: &Sort) -> Ordering {
    let first = |f: &model::Finding| {
        let mut values = Vec::with_capacity(1);
        (sort.attribute.extract)(f, &mut values);
        values.into_iter().next()
    };
    let by_value = compare_values(first(a).as_ref(), first(b).as_ref());
    let by_value = if sort.descending { by_value.reverse() } else { by_value };
    by_value.then_with(|| a.id.cmp(&b.id))
}

/// Absent < present; strings by bytes (as SQLite's BINARY collation), numbers numerically,
/// false < true.
pub fn compare_values(a: Option<&AttrValue>, b: Option<&AttrValue>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(AttrValue::Str(x)), Some(AttrValue::Str(y))) => x.as_bytes().cmp(y.as_bytes()),
        (Some(AttrValue::Num(x)), Some(AttrValue::Num(y))) => x.total_cmp(y),
        (Some(AttrValue::Bool(x)), Some(AttrValue::Bool(y))) => x.cmp(y),
        // One attribute always yields one kind; order kinds arbitrarily but consistently.
        (Some(x), Some(y)) => kind_rank(x).cmp(&kind_rank(y)),
    }
}

fn kind_rank(v: &AttrValue) -> u8 {
    match v {
        AttrValue::Bool(_) => 0,
        AttrValue::Num(_) => 1,
        AttrValue::Str(_) => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob() {
        assert!(glob_matches("*", ""));
        assert!(glob_matches("*", "anything"));
        assert!(glob_matches("Recon:*", "Recon:IAMUser/TorIPCaller"));
        assert!(glob_matches("*TorIPCaller", "Recon:IAMUser/TorIPCaller"));
        assert!(glob_matches("*IAMUser*", "Recon:IAMUser/TorIPCaller"));
        assert!(glob_matches("a*b*c", "aXXbYYbZc"));
        assert!(glob_matches("a**c", "ac"));
        assert!(!glob_matches("a*b*c", "aXXbYY"));
        assert!(!glob_matches("recon:*", "Recon:IAMUser/TorIPCaller"));
        assert!(!glob_matches("a?c", "abc"));
        assert!(glob_matches("a?c", "a?c"));
        assert!(!glob_matches("abc", "abcd"));
        assert!(glob_matches("ab*", "ab"));
        assert!(glob_matches("*é", "café"));
    }
}
