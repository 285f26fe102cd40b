//! Model constraints (required, length, range, enum) checked server-side: SDKs validate
//! client-side, but a raw HTTP client or an old SDK does not, and GuardDuty rejects them with 400.

/// A model path such as `findingCriteria.criterion.severity.gte`.
pub fn join(path: &str, member: &str) -> String {
    if path.is_empty() { member.to_string() } else { format!("{path}.{member}") }
}

/// One broken constraint, phrased the way AWS's validation layer phrases it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub path: String,
    pub constraint: String,
}

#[derive(Debug, Default)]
pub struct Violations(pub Vec<Violation>);

impl Violations {
    fn push(&mut self, path: &str, constraint: String) {
        self.0.push(Violation { path: path.to_string(), constraint });
    }
    pub fn missing(&mut self, path: &str) {
        self.push(path, "Member must not be null".into());
    }
    pub fn length(&mut self, path: &str, len: usize, min: Option<i64>, max: Option<i64>) {
        if let Some(min) = min.filter(|m| (len as i64) < *m) {
            self.push(path, format!("Member must have length greater than or equal to {min}"));
        }
        if let Some(max) = max.filter(|m| (len as i64) > *m) {
            self.push(path, format!("Member must have length less than or equal to {max}"));
        }
    }
    pub fn range(&mut self, path: &str, value: i64, min: Option<i64>, max: Option<i64>) {
        if let Some(min) = min.filter(|m| value < *m) {
            self.push(path, format!("Member must have value greater than or equal to {min}"));
        }
        if let Some(max) = max.filter(|m| value > *m) {
            self.push(path, format!("Member must have value less than or equal to {max}"));
        }
    }
    pub fn one_of(&mut self, path: &str, value: &str, allowed: &[&str]) {
        if !allowed.contains(&value) {
            self.push(path, format!("Member must satisfy enum value set: [{}]", allowed.join(", ")));
        }
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// `1 validation error detected: Value at 'maxResults' failed to satisfy constraint: ...`
    pub fn message(&self) -> String {
        let n = self.0.len();
        let parts: Vec<String> = self.0.iter().map(|v| format!("Value at '{}' failed to satisfy constraint: {}", v.path, v.constraint)).collect();
        format!("{n} validation error{} detected: {}", if n == 1 { "" } else { "s" }, parts.join("; "))
    }
}

/// Implemented by every generated input shape.
pub trait Validate {
    fn validate(&self, path: &str, v: &mut Violations);

    fn violations(&self) -> Violations {
        let mut v = Violations::default();
        self.validate("", &mut v);
        v
    }
}
