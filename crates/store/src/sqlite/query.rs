//! `Criteria` and `Sort` compiled to SQL over `findings f`, and the opaque keyset cursor.
//!
//! The SQL must select exactly the findings `Criteria::matches` accepts. Each test is compiled on
//! its own (a criterion's tests are ANDed); for list-valued attributes "equals" means some value
//! equals, "notEquals" means no value equals, so side-table tests are EXISTS / NOT EXISTS. An
//! absent attribute is a NULL column or no side row: it fails equals, ranges and matches, and
//! passes notEquals and notMatches.
use base64::Engine;
use rusqlite::types::Value;
use sha2::{Digest, Sha256};
use vedette_domain::criteria::{AttrValue, Criteria, Sort, Test};

use super::rows::{PathIds, hot_column, sql_value};
use crate::{Result, StoreError};

/// A SQL fragment with its positional (`?`) parameters, in order.
#[derive(Debug, Default)]
pub(super) struct Sql {
    pub text: String,
    pub params: Vec<Value>,
}

impl Sql {
    pub fn push(&mut self, text: &str) {
        self.text.push_str(text);
    }

    pub fn bind(&mut self, value: Value) {
        self.text.push('?');
        self.params.push(value);
    }

    pub fn append(&mut self, other: &Sql) {
        self.text.push_str(&other.text);
        self.params.extend(other.params.iter().cloned());
    }

    fn bind_list(&mut self, values: impl IntoIterator<Item = Value>) {
        self.text.push('(');
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(v);
        }
        self.text.push(')');
    }
}

/// Where an attribute lives: a `findings` column, or rows of `finding_attrs` under a path id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    Column(&'static str),
    Side(i64),
}

pub(super) fn place(path: &'static str, paths: &PathIds) -> Place {
    match hot_column(path) {
        Some(column) => Place::Column(column),
        // A path the database has never seen has no values anywhere: -1 matches no side row.
        None => Place::Side(paths.get(path).copied().unwrap_or(-1)),
    }
}

/// Appends ` AND <test>` for every test of every criterion.
pub(super) fn compile_criteria(criteria: &Criteria, paths: &PathIds, sql: &mut Sql) {
    for criterion in &criteria.criteria {
        let place = place(criterion.attribute.path, paths);
        let floor = criterion.attribute.floor_equals;
        for test in &criterion.tests {
            sql.push(" AND ");
            compile_test(place, floor, test, sql);
        }
    }
}

fn compile_test(place: Place, floor: bool, test: &Test, sql: &mut Sql) {
    // Each test is "some value satisfies P" (positive) or "no value satisfies P" (negative).
    let (negative, predicate): (bool, Predicate) = match test {
        Test::Equals(values) => (false, equals_predicate(values, floor)),
        Test::NotEquals(values) => (true, equals_predicate(values, floor)),
        Test::Gt(x) => (false, range_predicate(">", *x)),
        Test::Gte(x) => (false, range_predicate(">=", *x)),
        Test::Lt(x) => (false, range_predicate("<", *x)),
        Test::Lte(x) => (false, range_predicate("<=", *x)),
        Test::Matches(patterns) => (false, glob_predicate(patterns)),
        Test::NotMatches(patterns) => (true, glob_predicate(patterns)),
    };
    match place {
        Place::Column(column) => {
            let column = format!("f.{column}");
            if negative {
                // NULL (absent) passes a negative test.
                sql.push(&format!("({column} IS NULL OR NOT "));
                predicate(&column, sql);
                sql.push(")");
            } else {
                predicate(&column, sql);
            }
        }
        Place::Side(path_id) => {
            sql.push(if negative { "NOT EXISTS" } else { "EXISTS" });
            sql.push(&format!(" (SELECT 1 FROM finding_attrs a WHERE a.fid = f.fid AND a.path_id = {path_id} AND "));
            predicate("a.v", sql);
            sql.push(")");
        }
    }
}

type Predicate = Box<dyn Fn(&str, &mut Sql)>;

/// `value = any of values`. With `floor` (severity), a whole criterion value `n` also selects
/// every value whose floor is `n` (`values_equal`): `n ≤ x < n + 1`, which includes `x = n`.
fn equals_predicate(values: &[AttrValue], floor: bool) -> Predicate {
    let values = values.to_vec();
    Box::new(move |operand, sql| {
        if values.is_empty() {
            sql.push("0");
            return;
        }
        let (bands, exact): (Vec<&AttrValue>, Vec<&AttrValue>) =
            values.iter().partition(|v| floor && matches!(v, AttrValue::Num(n) if n.fract() == 0.0));
        sql.push("(");
        let mut first = true;
        for n in bands {
            let AttrValue::Num(n) = n else { unreachable!("partitioned on Num") };
            if !first {
                sql.push(" OR ");
            }
            first = false;
            sql.push(&format!("({operand} >= "));
            sql.bind(sql_value(&AttrValue::Num(*n)));
            sql.push(&format!(" AND {operand} < "));
            sql.bind(sql_value(&AttrValue::Num(n + 1.0)));
            sql.push(")");
        }
        if !exact.is_empty() {
            if !first {
                sql.push(" OR ");
            }
            sql.push(&format!("{operand} IN "));
            sql.bind_list(exact.into_iter().map(sql_value));
        }
        sql.push(")");
    })
}

fn range_predicate(op: &'static str, bound: f64) -> Predicate {
    Box::new(move |operand, sql| {
        // Only numbers are ordered against a numeric bound (SQLite would rank any text above it).
        sql.push(&format!("({operand} {op} "));
        sql.bind(sql_value(&AttrValue::Num(bound)));
        sql.push(&format!(" AND typeof({operand}) IN ('integer', 'real'))"));
    })
}

fn glob_predicate(patterns: &[String]) -> Predicate {
    let patterns: Vec<String> = patterns.iter().map(|p| to_sqlite_glob(p)).collect();
    Box::new(move |operand, sql| {
        if patterns.is_empty() {
            sql.push("0");
            return;
        }
        sql.push("(");
        for (i, p) in patterns.iter().enumerate() {
            if i > 0 {
                sql.push(" OR ");
            }
            // Only text is matched against a pattern.
            sql.push(&format!("(typeof({operand}) = 'text' AND {operand} GLOB "));
            sql.bind(Value::Text(p.clone()));
            sql.push(")");
        }
        sql.push(")");
    })
}

/// Criteria patterns know one wildcard, `*`. SQLite's GLOB also treats `?` and `[` specially;
/// a one-character class makes them literal.
pub(super) fn to_sqlite_glob(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        match c {
            '?' => out.push_str("[?]"),
            '[' => out.push_str("[[]"),
            c => out.push(c),
        }
    }
    out
}

/// Hot columns that lead an index after `did`, so that a predicate on them is an index range.
const INDEXED_COLUMNS: &[&str] = &["id", "type", "severity", "updated_at_ms", "archived", "error_code"];

/// Two-column indexes: (pinned by equality, then ranged) column pairs.
const PAIR_INDEXES: &[(&str, &str, &str)] = &[
    ("findings_by_type_severity", "type", "severity"),
    ("findings_by_type", "type", "updated_at_ms"),
    ("findings_by_archived_updated", "archived", "updated_at_ms"),
    ("findings_by_error_updated", "error_code", "updated_at_ms"),
];

/// The columns a two-column index candidate covers (pinned, ranged).
pub(super) fn pair_columns(index: &str) -> Option<(&'static str, &'static str)> {
    PAIR_INDEXES.iter().find(|(i, _, _)| *i == index).map(|(_, p, r)| (*p, *r))
}

/// A query yielding the fids of the findings passing some of the criteria (so a superset of the
/// listing's findings), answered by one index range: what a listing can start from.
pub(super) struct Candidate {
    pub sql: Sql,
    /// The index (two-column candidates) or column (one-test candidates) it ranges over.
    pub over: &'static str,
}

impl Candidate {
    pub fn is_pair(&self) -> bool {
        pair_columns(self.over).is_some()
    }
}

/// The candidates the criteria offer: each equals or range test on an indexed column or in the
/// side table, and each equality + ranges pair a two-column index answers at once.
pub(super) fn candidate_drivers(criteria: &Criteria, paths: &PathIds, did: i64) -> Vec<Candidate> {
    let mut out = Vec::new();
    let positive = |test: &Test, floor: bool| -> Option<Predicate> {
        Some(match test {
            Test::Equals(values) => equals_predicate(values, floor),
            Test::Gt(x) => range_predicate(">", *x),
            Test::Gte(x) => range_predicate(">=", *x),
            Test::Lt(x) => range_predicate("<", *x),
            Test::Lte(x) => range_predicate("<=", *x),
            Test::NotEquals(_) | Test::Matches(_) | Test::NotMatches(_) => return None,
        })
    };
    for criterion in &criteria.criteria {
        let floor = criterion.attribute.floor_equals;
        for test in &criterion.tests {
            let Some(predicate) = positive(test, floor) else { continue };
            let mut sql = Sql::default();
            let over = match place(criterion.attribute.path, paths) {
                Place::Column(column) if INDEXED_COLUMNS.contains(&column) => {
                    sql.push("SELECT x.fid FROM findings x WHERE x.did = ");
                    sql.bind(Value::Integer(did));
                    sql.push(" AND ");
                    predicate(&format!("x.{column}"), &mut sql);
                    column
                }
                Place::Column(_) => continue,
                Place::Side(path_id) => {
                    // A list attribute may match twice in one finding.
                    sql.push(&format!("SELECT DISTINCT x.fid FROM finding_attrs x WHERE x.path_id = {path_id} AND "));
                    predicate("x.v", &mut sql);
                    "finding_attrs"
                }
            };
            out.push(Candidate { sql, over });
        }
    }
    for (index, pinned, ranged) in PAIR_INDEXES {
        let tests_on = |column: &'static str| {
            criteria.criteria.iter().filter(move |c| hot_column(c.attribute.path) == Some(column)).flat_map(|c| c.tests.iter())
        };
        let Some(Test::Equals(values)) = tests_on(pinned).find(|t| matches!(t, Test::Equals(_))) else { continue };
        // Only plain ranges: every entry the index range visits is then a candidate.
        let ranges: Vec<&Test> = tests_on(ranged).filter(|t| matches!(t, Test::Gt(_) | Test::Gte(_) | Test::Lt(_) | Test::Lte(_))).collect();
        if ranges.is_empty() {
            continue;
        }
        let mut sql = Sql::default();
        sql.push(&format!("SELECT x.fid FROM findings x INDEXED BY {index} WHERE x.did = "));
        sql.bind(Value::Integer(did));
        sql.push(" AND ");
        equals_predicate(values, false)(&format!("x.{pinned}"), &mut sql);
        for test in ranges {
            sql.push(" AND ");
            positive(test, false).expect("a range")(&format!("x.{ranged}"), &mut sql);
        }
        out.push(Candidate { sql, over: index });
    }
    out
}

/// A single-value `equals` on `path`, if the criteria hold one (it pins an index's prefix).
pub(super) fn single_equality(criteria: &Criteria, path: &str) -> bool {
    criteria
        .criteria
        .iter()
        .filter(|c| c.attribute.path == path && !c.attribute.floor_equals)
        .any(|c| c.tests.iter().any(|t| matches!(t, Test::Equals(values) if values.len() == 1)))
}

/// The SQL expression a listing sorts on (NULL when the finding has no such attribute).
pub(super) fn sort_expression(sort: &Sort, paths: &PathIds) -> String {
    match place(sort.attribute.path, paths) {
        Place::Column(column) => format!("f.{column}"),
        Place::Side(path_id) => {
            format!("(SELECT MIN(a.v) FROM finding_attrs a WHERE a.fid = f.fid AND a.path_id = {path_id})")
        }
    }
}

/// Where the previous page ended: the last finding's sort value (None = absent) and id, plus a
/// digest of the query so that a token cannot be replayed against another query.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(super) struct Cursor {
    #[serde(rename = "q")]
    pub query: String,
    #[serde(rename = "v", default, skip_serializing_if = "Option::is_none")]
    pub value: Option<CursorValue>,
    #[serde(rename = "i")]
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub(super) enum CursorValue {
    Int(i64),
    Real(f64),
    Text(String),
}

impl CursorValue {
    pub fn from_sql(value: Value) -> Option<CursorValue> {
        match value {
            Value::Integer(i) => Some(CursorValue::Int(i)),
            Value::Real(x) => Some(CursorValue::Real(x)),
            Value::Text(s) => Some(CursorValue::Text(s)),
            Value::Null | Value::Blob(_) => None,
        }
    }

    pub fn to_sql(&self) -> Value {
        match self {
            CursorValue::Int(i) => Value::Integer(*i),
            CursorValue::Real(x) => Value::Real(*x),
            CursorValue::Text(s) => Value::Text(s.clone()),
        }
    }
}

const TOKEN_ENGINE: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

impl Cursor {
    pub fn encode(&self) -> String {
        TOKEN_ENGINE.encode(serde_json::to_vec(self).expect("a cursor always serializes"))
    }

    /// `Invalid` for anything that is not a token this query issued.
    pub fn decode(token: &str, query: &str) -> Result<Cursor> {
        let invalid = || StoreError::BadToken;
        let bytes = TOKEN_ENGINE.decode(token).map_err(|_| invalid())?;
        let cursor: Cursor = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if cursor.query != query {
            return Err(invalid());
        }
        Ok(cursor)
    }
}

/// A short digest naming one listing query (detector, criteria, sort).
pub(super) fn query_key(detector_id: &str, criteria: &Criteria, sort: &Sort) -> String {
    // Debug output is deterministic for these types (attributes print as their path).
    let mut hasher = Sha256::new();
    hasher.update(format!("findings\n{detector_id}\n{criteria:?}\n{sort:?}").as_bytes());
    hex::encode(&hasher.finalize()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_escapes_sqlite_wildcards_other_than_star() {
        assert_eq!(to_sqlite_glob("a*b?c[d]"), "a*b[?]c[[]d]");
    }

    #[test]
    fn cursor_round_trips_and_rejects_foreign_tokens() {
        let cursor = Cursor { query: "q1".into(), value: Some(CursorValue::Real(7.5)), id: "abc".into() };
        let token = cursor.encode();
        assert_eq!(Cursor::decode(&token, "q1").unwrap(), cursor);
        assert!(matches!(Cursor::decode(&token, "q2"), Err(StoreError::BadToken)));
        assert!(matches!(Cursor::decode("not a token!", "q1"), Err(StoreError::BadToken)));
        assert!(matches!(Cursor::decode("", "q1"), Err(StoreError::BadToken)));
        let whole = Cursor { query: "q".into(), value: Some(CursorValue::Int(1_606_403_892_611)), id: "x".into() };
        assert_eq!(Cursor::decode(&whole.encode(), "q").unwrap(), whole);
        let absent = Cursor { query: "q".into(), value: None, id: "x".into() };
        assert_eq!(Cursor::decode(&absent.encode(), "q").unwrap(), absent);
    }
}
