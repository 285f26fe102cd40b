//! Is a bucket made public? Evaluates the bucket policy or ACL sent in a request, following S3's
//! own definition of "public" (S3 user guide, "The meaning of public"):
//!
//! * a policy statement that allows `Principal: "*"` / `{"AWS": "*"}` (or uses `NotPrincipal`)
//!   is public unless a condition pins the caller to fixed values of `aws:SourceIp` (not
//!   `0.0.0.0/0`), `aws:SourceArn`, `aws:SourceVpc`, `aws:SourceVpce`, `aws:SourceOwner`,
//!   `aws:SourceAccount`, `aws:userid`, `aws:PrincipalOrgID`, `aws:PrincipalAccount`,
//!   `aws:PrincipalArn`, `aws:PrincipalOrgPaths`, `s3:DataAccessPointArn`,
//!   `s3:DataAccessPointAccount` or `s3:x-amz-server-side-encryption-aws-kms-key-id` ("fixed":
//!   no wildcard, no policy variable, a positive operator without `IfExists`);
//! * an unconditional `Deny` of every principal covering all the allowed actions cancels it
//!   (GuardDuty: never when an explicit deny-all exists);
//! * an ACL grant (or canned ACL) to `AllUsers` is anonymous access; to `AuthenticatedUsers`
//!   (every AWS account holder) it is public access.
use serde_json::Value;

use super::json_or_embedded;

/// How far a bucket is opened, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exposure {
    NotPublic,
    /// Every authenticated AWS principal (ACL `AuthenticatedUsers`).
    AuthenticatedUsers,
    /// Anyone on the internet (`Principal: "*"`, ACL `AllUsers`).
    Anonymous,
}

/// Condition keys that, with fixed values, keep a `"*"` principal from being public.
const LIMITING_KEYS: &[&str] = &[
    "aws:sourceip",
    "aws:sourcearn",
    "aws:sourcevpc",
    "aws:sourcevpce",
    "aws:sourceowner",
    "aws:sourceaccount",
    "aws:userid",
    "aws:principalorgid",
    "aws:principalaccount",
    "aws:principalarn",
    "aws:principalorgpaths",
    "s3:dataaccesspointarn",
    "s3:dataaccesspointaccount",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
];

/// Members of one JSON value that may be a single item or a list.
fn items(value: Option<&Value>) -> Vec<&Value> {
    match value {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(Value::Null) | None => Vec::new(),
        Some(one) => vec![one],
    }
}

/// Case-insensitive member lookup: hand-written records vary the case of policy keys.
pub(super) fn get_ci<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    let map = value.as_object()?;
    map.get(key).or_else(|| map.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v))
}

fn principal_is_everyone(principal: Option<&Value>) -> bool {
    match principal {
        Some(Value::String(s)) => s == "*",
        Some(Value::Object(map)) => {
            map.iter().filter(|(k, _)| k.eq_ignore_ascii_case("AWS")).any(|(_, v)| items(Some(v)).iter().any(|p| p.as_str() == Some("*")))
        }
        _ => false,
    }
}

fn is_fixed(value: &str, key: &str) -> bool {
    if value.is_empty() || value.contains(['*', '?']) || value.contains("${") {
        return false;
    }
    !(key == "aws:sourceip" && (value.ends_with("/0")))
}

/// True when the statement's conditions pin the caller down (see the module doc).
fn condition_limits(condition: Option<&Value>) -> bool {
    let Some(Value::Object(operators)) = condition else { return false };
    operators.iter().any(|(operator, keys)| {
        let op = operator.to_ascii_lowercase();
        let op = op.rsplit(':').next().unwrap_or_default(); // drop ForAnyValue: / ForAllValues:
        let positive = !op.contains("not") && !op.ends_with("ifexists") && op != "null" && !op.starts_with("bool");
        positive
            && keys.as_object().is_some_and(|keys| {
                keys.iter().any(|(key, values)| {
                    let key = key.to_ascii_lowercase();
                    let values = items(Some(values));
                    LIMITING_KEYS.contains(&key.as_str())
                        && !values.is_empty()
                        && values.iter().all(|v| v.as_str().is_some_and(|s| is_fixed(s, &key)))
                })
            })
    })
}

/// `pattern` (IAM action glob, `*` and `?`) matches `action`, ignoring case.
fn glob_matches(pattern: &str, action: &str) -> bool {
    fn go(p: &[u8], a: &[u8]) -> bool {
        match (p.first(), a.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], a) || (!a.is_empty() && go(p, &a[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &a[1..]),
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => go(&p[1..], &a[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), action.as_bytes())
}

/// Allowed actions of a statement; `NotAction` allows (nearly) everything: read as `*`.
fn actions(statement: &Value) -> Vec<String> {
    if get_ci(statement, "NotAction").is_some() {
        return vec!["*".into()];
    }
    items(get_ci(statement, "Action")).iter().filter_map(|a| a.as_str().map(str::to_owned)).collect()
}

fn effect_is(statement: &Value, effect: &str) -> bool {
    get_ci(statement, "Effect").and_then(|e| e.as_str()).is_some_and(|e| e.eq_ignore_ascii_case(effect))
}

/// Evaluates a bucket policy document (an object, or the same as an escaped JSON string).
pub fn evaluate_bucket_policy(policy: &Value) -> Exposure {
    let Some(policy) = json_or_embedded(policy) else { return Exposure::NotPublic };
    let statements = items(get_ci(&policy, "Statement"));
    let deny_all: Vec<String> = statements
        .iter()
        .filter(|s| effect_is(s, "Deny") && get_ci(s, "Condition").is_none() && get_ci(s, "NotPrincipal").is_none())
        .filter(|s| principal_is_everyone(get_ci(s, "Principal")))
        .flat_map(|s| actions(s))
        .collect();
    let public = statements.iter().any(|s| {
        effect_is(s, "Allow")
            && (get_ci(s, "NotPrincipal").is_some() || principal_is_everyone(get_ci(s, "Principal")))
            && !condition_limits(get_ci(s, "Condition"))
            && {
                let allowed = actions(s);
                allowed.is_empty() || !allowed.iter().all(|a| deny_all.iter().any(|d| glob_matches(d, a)))
            }
    });
    if public { Exposure::Anonymous } else { Exposure::NotPublic }
}

const ALL_USERS: &str = "acs.amazonaws.com/groups/global/AllUsers";
const AUTHENTICATED_USERS: &str = "acs.amazonaws.com/groups/global/AuthenticatedUsers";

fn exposure_of_text(text: &str) -> Exposure {
    if text.contains(ALL_USERS) {
        Exposure::Anonymous
    } else if text.contains(AUTHENTICATED_USERS) {
        Exposure::AuthenticatedUsers
    } else {
        Exposure::NotPublic
    }
}

/// Evaluates the ACL of a `PutBucketAcl` / `CreateBucket` request: the `AccessControlPolicy`
/// body, the canned `x-amz-acl` header and the `x-amz-grant-*` headers.
pub fn evaluate_acl(params: &Value) -> Exposure {
    let mut exposure = Exposure::NotPublic;
    for canned in items(get_ci(params, "x-amz-acl")) {
        exposure = exposure.max(match canned.as_str().unwrap_or_default() {
            "public-read" | "public-read-write" => Exposure::Anonymous,
            "authenticated-read" => Exposure::AuthenticatedUsers,
            _ => Exposure::NotPublic,
        });
    }
    if let Some(map) = params.as_object() {
        for (key, value) in map {
            if key.to_ascii_lowercase().starts_with("x-amz-grant-") {
                for grant in items(Some(value)) {
                    exposure = exposure.max(exposure_of_text(grant.as_str().unwrap_or_default()));
                }
            }
        }
    }
    let policy = get_ci(params, "AccessControlPolicy").and_then(json_or_embedded);
    let list = policy.as_deref().and_then(|p| get_ci(p, "AccessControlList"));
    for grant in items(list.and_then(|l| get_ci(l, "Grant"))) {
        let uri = get_ci(grant, "Grantee").and_then(|g| get_ci(g, "URI")).and_then(|u| u.as_str());
        exposure = exposure.max(uri.map(exposure_of_text).unwrap_or(Exposure::NotPublic));
    }
    exposure
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(statement: Value) -> Value {
        json!({"Version": "2012-10-17", "Statement": statement})
    }

    #[test]
    fn star_principal_without_condition_is_anonymous() {
        let allow = json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"});
        assert_eq!(evaluate_bucket_policy(&policy(json!([allow]))), Exposure::Anonymous);
        let aws_star = json!({"Effect": "Allow", "Principal": {"AWS": ["*"]}, "Action": ["s3:GetObject"]});
        assert_eq!(evaluate_bucket_policy(&policy(aws_star)), Exposure::Anonymous, "single statement object");
        let escaped = Value::String(policy(json!([allow])).to_string());
        assert_eq!(evaluate_bucket_policy(&escaped), Exposure::Anonymous, "policy as escaped JSON text");
    }

    #[test]
    fn fixed_limiting_conditions_keep_it_private() {
        let org = json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abc"}}});
        assert_eq!(evaluate_bucket_policy(&policy(json!([org]))), Exposure::NotPublic);
        let ip = json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Condition": {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}}});
        assert_eq!(evaluate_bucket_policy(&policy(json!([ip]))), Exposure::NotPublic);
    }

    #[test]
    fn non_limiting_conditions_do_not() {
        for condition in [
            json!({"Bool": {"aws:SecureTransport": "true"}}),
            json!({"StringLike": {"aws:SourceVpc": "vpc-*"}}),
            json!({"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}}),
            json!({"StringNotEquals": {"aws:PrincipalOrgID": "o-abc"}}),
            json!({"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}}),
        ] {
            let s = json!({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Condition": condition});
            assert_eq!(evaluate_bucket_policy(&policy(json!([s]))), Exposure::Anonymous, "{condition}");
        }
    }

    #[test]
    fn named_principals_and_deny_all_are_not_public() {
        let named = json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "s3:*"});
        assert_eq!(evaluate_bucket_policy(&policy(json!([named]))), Exposure::NotPublic);
        let service = json!({"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject"});
        assert_eq!(evaluate_bucket_policy(&policy(json!([service]))), Exposure::NotPublic);
        let allow = json!({"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:ListBucket"]});
        let deny = json!({"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]});
        assert_eq!(evaluate_bucket_policy(&policy(json!([allow, deny]))), Exposure::NotPublic);
        let partial_deny = json!({"Effect": "Deny", "Principal": "*", "Action": "s3:ListBucket"});
        assert_eq!(evaluate_bucket_policy(&policy(json!([allow, partial_deny]))), Exposure::Anonymous);
        assert_eq!(evaluate_bucket_policy(&json!("not json")), Exposure::NotPublic);
    }

    #[test]
    fn acl_grants() {
        let grant = |uri: &str| {
            json!({"AccessControlPolicy": {"AccessControlList": {"Grant": [
            {"Grantee": {"xsi:type": "CanonicalUser", "ID": "abc"}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"xsi:type": "Group", "URI": uri}, "Permission": "READ"}]}}})
        };
        assert_eq!(evaluate_acl(&grant("http://acs.amazonaws.com/groups/global/AllUsers")), Exposure::Anonymous);
        assert_eq!(evaluate_acl(&grant("http://acs.amazonaws.com/groups/global/AuthenticatedUsers")), Exposure::AuthenticatedUsers);
        assert_eq!(evaluate_acl(&grant("http://acs.amazonaws.com/groups/s3/LogDelivery")), Exposure::NotPublic);
        assert_eq!(evaluate_acl(&json!({"x-amz-acl": ["public-read"]})), Exposure::Anonymous);
        assert_eq!(evaluate_acl(&json!({"x-amz-acl": "authenticated-read"})), Exposure::AuthenticatedUsers);
        assert_eq!(evaluate_acl(&json!({"x-amz-acl": ["private"]})), Exposure::NotPublic);
        assert_eq!(evaluate_acl(&json!({"x-amz-grant-read": "uri=\"http://acs.amazonaws.com/groups/global/AllUsers\""})), Exposure::Anonymous);
    }
}
