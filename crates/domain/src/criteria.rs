//! FindingCriteria and SortCriteria, parsed and typed. The store compiles `Criteria` into its own
//! query language; `Criteria::matches` evaluates it in memory (suppression filters, tests).
use crate::attributes::{self, AttrKind, Attribute};
use crate::model;

/// A typed attribute value. Times are epoch milliseconds (`Num`), as GuardDuty compares them.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Str(String),
    Num(f64),
    Bool(bool),
}

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
    /// `*` wildcard patterns (filters only).
    Matches(Vec<String>),
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

pub fn parse_criteria(_c: Option<&model::FindingCriteria>) -> Result<Criteria, CriteriaError> {
    todo!("domain helper")
}

/// Absent ⇒ `updatedAt` DESC; `attributeName` without `orderBy` ⇒ ASC (spec §2.3 decisions).
pub fn parse_sort(_s: Option<&model::SortCriteria>) -> Result<Sort, CriteriaError> {
    todo!("domain helper")
}

impl Criteria {
    pub fn matches(&self, _finding: &model::Finding) -> bool {
        todo!("domain helper")
    }
}

#[allow(unused)]
fn _uses(_: AttrKind) {
    let _ = attributes::lookup;
}
