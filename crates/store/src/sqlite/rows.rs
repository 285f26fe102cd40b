//! How a finding maps onto its row: hot attributes as columns, everything else in `finding_attrs`.
//! All values come from `attributes::extract_all`, the same reader `Criteria::matches` uses, so
//! SQL filters see exactly what the in-memory evaluator sees.
use std::collections::HashMap;

use rusqlite::ToSql;
use rusqlite::types::{ToSqlOutput, Value};
use vedette_domain::attributes;
use vedette_domain::criteria::AttrValue;
use vedette_domain::model::Finding;

/// Attribute path → column of `findings`. Every one is a scalar attribute. `id` is the finding's
/// own id (NOT NULL), the rest are NULL when the attribute is absent.
pub(super) const HOT: &[(&str, &str)] = &[
    ("id", "id"),
    ("type", "type"),
    ("severity", "severity"),
    ("createdAt", "created_at_ms"),
    ("updatedAt", "updated_at_ms"),
    ("accountId", "account_id"),
    ("region", "region"),
    ("resource.resourceType", "resource_type"),
    ("service.archived", "archived"),
    ("service.count", "count"),
    ("service.eventFirstSeen", "event_first_seen_ms"),
    ("service.eventLastSeen", "event_last_seen_ms"),
    ("service.action.awsApiCallAction.errorCode", "error_code"),
];

/// Index into `HOT` of the columns `FindingRow::hot` fills (all but `id`).
const FIRST_VALUE_COLUMN: usize = 1;

pub(super) fn hot_column(path: &str) -> Option<&'static str> {
    HOT.iter().find(|(p, _)| *p == path).map(|(_, c)| *c)
}

/// Attribute path → its small integer in `attr_paths`.
pub(super) type PathIds = HashMap<&'static str, i64>;

/// A typed SQL value with a total order, so a finding's side rows can be deduplicated and diffed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(super) enum SideValue {
    Int(i64),
    /// f64 bits; only for values that are not whole numbers.
    Real(u64),
    Text(String),
}

impl ToSql for SideValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            SideValue::Int(i) => ToSqlOutput::from(*i),
            SideValue::Real(bits) => ToSqlOutput::from(f64::from_bits(*bits)),
            SideValue::Text(s) => ToSqlOutput::from(s.as_str()),
        })
    }
}

/// Whole numbers become SQL integers (compact, and SQLite compares integers and reals by value).
pub(super) fn sql_value(value: &AttrValue) -> Value {
    match value {
        AttrValue::Str(s) => Value::Text(s.clone()),
        AttrValue::Bool(b) => Value::Integer(*b as i64),
        AttrValue::Num(x) => match whole(*x) {
            Some(i) => Value::Integer(i),
            None => Value::Real(*x),
        },
    }
}

fn whole(x: f64) -> Option<i64> {
    // 2^53: beyond it not every integer is representable, keep the double as it is.
    if x.fract() == 0.0 && x.abs() <= 9_007_199_254_740_992.0 { Some(x as i64) } else { None }
}

fn side_value(value: &AttrValue) -> SideValue {
    match sql_value(value) {
        Value::Integer(i) => SideValue::Int(i),
        Value::Real(x) => SideValue::Real(x.to_bits()),
        Value::Text(s) => SideValue::Text(s),
        Value::Null | Value::Blob(_) => unreachable!("sql_value never yields these"),
    }
}

/// A finding as stored.
pub(super) struct FindingRow {
    /// Values of `HOT[FIRST_VALUE_COLUMN..]`, in that order; `Null` when absent.
    pub hot: Vec<Value>,
    pub resource_id: Option<String>,
    /// (path id, value), sorted and without duplicates.
    pub side: Vec<(i64, SideValue)>,
}

impl FindingRow {
    pub fn of(finding: &Finding, paths: &PathIds) -> FindingRow {
        let mut hot = vec![Value::Null; HOT.len() - FIRST_VALUE_COLUMN];
        let mut side = Vec::new();
        for (attribute, value) in attributes::extract_all(finding) {
            match HOT.iter().position(|(p, _)| *p == attribute.path) {
                Some(0) => {} // the id column comes from `finding.id` itself
                Some(i) => {
                    let slot = &mut hot[i - FIRST_VALUE_COLUMN];
                    if *slot == Value::Null {
                        *slot = sql_value(&value);
                    }
                }
                None => {
                    if let Some(&path_id) = paths.get(attribute.path) {
                        side.push((path_id, side_value(&value)));
                    }
                }
            }
        }
        side.sort();
        side.dedup();
        FindingRow { hot, resource_id: resource_id(finding), side }
    }

    /// Column names of `hot`, in order.
    pub fn hot_columns() -> impl Iterator<Item = &'static str> {
        HOT[FIRST_VALUE_COLUMN..].iter().map(|(_, c)| *c)
    }
}

/// The resource a finding is about, as GetFindingsStatistics' RESOURCE grouping names it.
fn resource_id(finding: &Finding) -> Option<String> {
    let resource = finding.resource.as_ref()?;
    match resource.resource_type.as_deref()? {
        "AccessKey" => resource.access_key_details.as_ref()?.access_key_id.clone(),
        "Instance" => resource.instance_details.as_ref()?.instance_id.clone(),
        "S3Bucket" | "S3Object" => resource.s3_bucket_details.as_ref()?.iter().find_map(|b| b.name.clone()),
        _ => None,
    }
}

/// One side-table row: (path id, value).
pub(super) type SideRow = (i64, SideValue);

/// Side rows to delete and to insert to go from `old` to `new` (both sorted, deduplicated).
pub(super) fn diff<'a>(old: &'a [SideRow], new: &'a [SideRow]) -> (Vec<&'a SideRow>, Vec<&'a SideRow>) {
    let (mut removed, mut added) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                removed.push(a);
                i += 1;
            }
            (Some(_), Some(b)) => {
                added.push(b);
                j += 1;
            }
            (Some(a), None) => {
                removed.push(a);
                i += 1;
            }
            (None, Some(b)) => {
                added.push(b);
                j += 1;
            }
            (None, None) => break,
        }
    }
    (removed, added)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_finds_removed_and_added_rows() {
        let t = |s: &str| SideValue::Text(s.into());
        let old = vec![(1, t("a")), (1, t("b")), (2, SideValue::Int(3))];
        let new = vec![(1, t("b")), (1, t("c")), (3, SideValue::Int(3))];
        let (removed, added) = diff(&old, &new);
        assert_eq!(removed, vec![&(1, t("a")), &(2, SideValue::Int(3))]);
        assert_eq!(added, vec![&(1, t("c")), &(3, SideValue::Int(3))]);
    }

    #[test]
    fn hot_columns_hold_scalar_attributes() {
        for (path, _) in HOT {
            let attribute = attributes::lookup(path).unwrap_or_else(|| panic!("{path} is not an attribute"));
            assert_eq!(attribute.path, *path, "columns are keyed by canonical path");
            assert!(!attribute.list, "{path} may hold several values: it needs the side table");
        }
    }

    #[test]
    fn whole_numbers_become_integers() {
        assert_eq!(sql_value(&AttrValue::Num(8.0)), Value::Integer(8));
        assert_eq!(sql_value(&AttrValue::Num(7.5)), Value::Real(7.5));
        assert_eq!(sql_value(&AttrValue::Bool(true)), Value::Integer(1));
        assert_eq!(sql_value(&AttrValue::Num(1e300)), Value::Real(1e300));
    }
}
