//! Every filterable / sortable finding attribute path (spec §2.2), its value kind and how to read
//! it from a finding. This one table serves criteria parsing, the in-memory evaluator and the
//! store's indexes.
use crate::criteria::AttrValue;
use crate::model::Finding;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrKind {
    Str,
    /// Compared numerically (ints, longs, doubles).
    Num,
    Bool,
    /// ISO string in the finding, epoch milliseconds in criteria.
    Time,
}

pub struct Attribute {
    /// Canonical path, e.g. `service.action.awsApiCallAction.errorCode`.
    pub path: &'static str,
    pub kind: AttrKind,
    /// True when a finding may hold several values (e.g. `…securityGroups.groupId`).
    pub list: bool,
    /// `equals` compares `floor(value)` (severity: `["7","8"]` selects High).
    pub floor_equals: bool,
    /// Pushes the finding's values of this attribute (none when absent).
    pub extract: fn(&Finding, &mut Vec<AttrValue>),
}

impl std::fmt::Debug for Attribute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.path)
    }
}

impl PartialEq for Attribute {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path
    }
}

/// All attributes, canonical paths only.
pub fn all() -> &'static [Attribute] {
    todo!("domain helper")
}

/// By path, accepting the documented spelling aliases.
pub fn lookup(_path: &str) -> Option<&'static Attribute> {
    todo!("domain helper")
}

/// Every (attribute, value) pair of a finding, for indexing.
pub fn extract_all(_finding: &Finding) -> Vec<(&'static Attribute, AttrValue)> {
    todo!("domain helper")
}
