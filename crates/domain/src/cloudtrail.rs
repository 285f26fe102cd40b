//! CloudTrail records as CloudTrail writes them, borrowed from the input buffer: only the fields
//! detection and the finding mapping read (docs/logs.md#cloudtrail).
//!
//! Parsing is tolerant: third-party and hand-written records carry numbers where strings belong,
//! `null`s, typos and missing members. A string field that holds a number or boolean reads as its
//! JSON text; one that holds an object or array, or an empty string, reads as absent; an object
//! member that is not an object reads as empty. Only malformed JSON fails a record.
//!
//! `requestParameters` / `responseElements` stay raw ([`LazyValue`]) and are parsed only by the
//! rules that need them (policy documents arrive as objects or as escaped JSON strings).
//! [`LazyValue`] needs the sonic-rs deserializer: parse records with [`parse_record`].
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
pub use sonic_rs::LazyValue;

/// Parses one CloudTrail record (a JSON object) borrowing from `json`.
pub fn parse_record(json: &[u8]) -> Result<CloudTrailRecord<'_>, sonic_rs::Error> {
    // serde would read a JSON array as a struct's fields in order: a record is an object.
    if json.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(<sonic_rs::Error as de::Error>::custom("a CloudTrail record must be a JSON object"));
    }
    // sonic-rs does not check the raw text it keeps for lazily parsed members: it must be UTF-8.
    if std::str::from_utf8(json).is_err() {
        return Err(<sonic_rs::Error as de::Error>::custom("a CloudTrail record must be UTF-8"));
    }
    sonic_rs::from_slice(json)
}

/// One CloudTrail event record.
#[derive(Debug, Default, serde::Deserialize)]
pub struct CloudTrailRecord<'a> {
    #[serde(rename = "eventTime", borrow, default)]
    pub event_time: Text<'a>,
    #[serde(rename = "eventSource", borrow, default)]
    pub event_source: Text<'a>,
    #[serde(rename = "eventName", borrow, default)]
    pub event_name: Text<'a>,
    #[serde(rename = "awsRegion", borrow, default)]
    pub aws_region: Text<'a>,
    #[serde(rename = "sourceIPAddress", borrow, default)]
    pub source_ip_address: Text<'a>,
    #[serde(rename = "userAgent", borrow, default)]
    pub user_agent: Text<'a>,
    /// Present only when the call failed.
    #[serde(rename = "errorCode", borrow, default)]
    pub error_code: Text<'a>,
    #[serde(rename = "eventID", borrow, default)]
    pub event_id: Text<'a>,
    /// `AwsApiCall`, `AwsConsoleSignIn`, `AwsServiceEvent`, `AwsCloudTrailInsight`, ...
    #[serde(rename = "eventType", borrow, default)]
    pub event_type: Text<'a>,
    /// `Management`, `Data`, `Insight`, `NetworkActivity`.
    #[serde(rename = "eventCategory", borrow, default)]
    pub event_category: Text<'a>,
    #[serde(rename = "managementEvent", default)]
    pub management_event: Flag,
    #[serde(rename = "recipientAccountId", borrow, default)]
    pub recipient_account_id: Text<'a>,
    #[serde(rename = "userIdentity", borrow, default)]
    pub user_identity: Obj<UserIdentity<'a>>,
    #[serde(rename = "requestParameters", borrow, default)]
    pub request_parameters: Option<LazyValue<'a>>,
    #[serde(rename = "responseElements", borrow, default)]
    pub response_elements: Option<LazyValue<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct UserIdentity<'a> {
    /// `Root`, `IAMUser`, `AssumedRole`, `FederatedUser`, `AWSAccount`, `AWSService`, ...
    #[serde(rename = "type", borrow, default)]
    pub identity_type: Text<'a>,
    #[serde(rename = "principalId", borrow, default)]
    pub principal_id: Text<'a>,
    #[serde(rename = "arn", borrow, default)]
    pub arn: Text<'a>,
    #[serde(rename = "accountId", borrow, default)]
    pub account_id: Text<'a>,
    #[serde(rename = "accessKeyId", borrow, default)]
    pub access_key_id: Text<'a>,
    #[serde(rename = "userName", borrow, default)]
    pub user_name: Text<'a>,
    /// The AWS service that made the call on the identity's behalf.
    #[serde(rename = "invokedBy", borrow, default)]
    pub invoked_by: Text<'a>,
    #[serde(rename = "sessionContext", borrow, default)]
    pub session_context: Obj<SessionContext<'a>>,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct SessionContext<'a> {
    #[serde(rename = "sessionIssuer", borrow, default)]
    pub session_issuer: Obj<SessionIssuer<'a>>,
    /// Present (`1.0` / `2.0`, the IMDS version) when EC2 delivered the session's credentials to
    /// an instance through its instance profile.
    #[serde(rename = "ec2RoleDelivery", borrow, default)]
    pub ec2_role_delivery: Text<'a>,
}

#[derive(Debug, Default, serde::Deserialize)]
pub struct SessionIssuer<'a> {
    #[serde(rename = "userName", borrow, default)]
    pub user_name: Text<'a>,
}

impl<'a> CloudTrailRecord<'a> {
    pub fn identity_type(&self) -> Option<&str> {
        self.user_identity.0.identity_type.get()
    }

    /// `userIdentity.userName`, else the role name of an assumed-role session (decision in docs/logs.md#cloudtrail).
    pub fn user_name(&self) -> Option<&str> {
        let identity = &self.user_identity.0;
        identity.user_name.get().or_else(|| identity.session_context.0.session_issuer.0.user_name.get())
    }

    pub fn failed(&self) -> bool {
        self.error_code.get().is_some()
    }

    /// Raw `requestParameters` JSON, when present and not `null`.
    pub fn request_parameters_json(&self) -> Option<&str> {
        raw_json(&self.request_parameters)
    }

    pub fn response_elements_json(&self) -> Option<&str> {
        raw_json(&self.response_elements)
    }
}

fn raw_json<'v>(value: &'v Option<LazyValue<'_>>) -> Option<&'v str> {
    let raw = value.as_ref()?.as_raw_str();
    (raw != "null").then_some(raw)
}

/// A string member, tolerant of odd types (see the module doc). Empty means absent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Text<'a>(pub Cow<'a, str>);

impl<'a> Text<'a> {
    pub fn get(&self) -> Option<&str> {
        (!self.0.is_empty()).then_some(&*self.0)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(s: &'a str) -> Self {
        Text(Cow::Borrowed(s))
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor<'a>(PhantomData<&'a ()>);

        impl<'de: 'a, 'a> Visitor<'de> for TextVisitor<'a> {
            type Value = Text<'a>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(if v { "true" } else { "false" })))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Text::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Text::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text::default())
            }
        }

        deserializer.deserialize_any(TextVisitor(PhantomData))
    }
}

/// An object member; anything else (null, a string, an array...) reads as `T::default()`.
#[derive(Debug, Default)]
pub struct Obj<T>(pub T);

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjVisitor<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de> + Default> Visitor<'de> for ObjVisitor<T> {
            type Value = Obj<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Obj)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Obj(T::default()))
            }
            fn visit_borrowed_str<E: de::Error>(self, _: &'de str) -> Result<Self::Value, E> {
                Ok(Obj(T::default()))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Obj(T::default()))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Obj(T::default()))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Obj(T::default()))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Obj(T::default()))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Obj(T::default()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Obj(T::default()))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Obj(T::default()))
            }
        }

        deserializer.deserialize_any(ObjVisitor(PhantomData))
    }
}

/// A boolean member; `true`/`false` or their string forms. Anything else reads as unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flag(pub Option<bool>);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FlagVisitor;

        impl<'de> Visitor<'de> for FlagVisitor {
            type Value = Flag;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Flag, E> {
                Ok(Flag(Some(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Flag, E> {
                Ok(Flag(parse_bool(v)))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Flag, E> {
                Ok(Flag(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Flag, E> {
                Ok(Flag(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Flag, E> {
                Ok(Flag(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Flag, E> {
                Ok(Flag(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<Flag, E> {
                Ok(Flag(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Flag, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Flag(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Flag, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Flag(None))
            }
        }

        deserializer.deserialize_any(FlagVisitor)
    }
}

/// `true` / `false` in any case, as S3 and IAM echo them in request parameters.
pub fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_mapped_fields_borrowing_from_the_input() {
        let json = br#"{"eventVersion":"1.08","eventTime":"2024-01-02T03:04:05Z","eventSource":"iam.amazonaws.com",
            "eventName":"GetUser","awsRegion":"us-east-1","sourceIPAddress":"198.51.100.7","userAgent":"aws-cli/2",
            "errorCode":"AccessDenied","eventID":"e-1","eventType":"AwsApiCall","managementEvent":true,
            "recipientAccountId":"111122223333",
            "userIdentity":{"type":"AssumedRole","principalId":"AROA:me","accountId":"444455556666",
              "accessKeyId":"ASIAX","sessionContext":{"sessionIssuer":{"userName":"deployer"}}},
            "requestParameters":{"userName":"a\"b"},"responseElements":null}"#;
        let r = parse_record(json).unwrap();
        assert_eq!(r.event_name.get(), Some("GetUser"));
        assert!(matches!(r.event_name.0, Cow::Borrowed(_)));
        assert_eq!(r.error_code.get(), Some("AccessDenied"));
        assert_eq!(r.identity_type(), Some("AssumedRole"));
        assert_eq!(r.user_name(), Some("deployer"), "falls back to the session issuer");
        assert_eq!(r.management_event, Flag(Some(true)));
        assert_eq!(r.request_parameters_json(), Some(r#"{"userName":"a\"b"}"#));
        assert_eq!(r.response_elements_json(), None);
    }

    #[test]
    fn tolerates_odd_types_and_missing_members() {
        let json = br#"{"eventName":"ConsoleLogin","recipientAccountId":123456789012,"userAgent":null,
            "errorCode":"","userIdentity":"weird","managementEvent":"TRUE","eventID":["x"],
            "awsRegion":{"a":[1,2]}}"#;
        let r = parse_record(json).unwrap();
        assert_eq!(r.recipient_account_id.get(), Some("123456789012"));
        assert_eq!(r.user_agent.get(), None);
        assert!(!r.failed(), "an empty errorCode is no error");
        assert_eq!(r.identity_type(), None);
        assert_eq!(r.management_event, Flag(Some(true)));
        assert_eq!(r.event_id.get(), None);
        assert_eq!(r.aws_region.get(), None);
        assert_eq!(r.event_time.get(), None);
    }

    #[test]
    fn escaped_strings_are_unescaped() {
        let r = parse_record(br#"{"userAgent":"a\u0041\"b"}"#).unwrap();
        assert_eq!(r.user_agent.get(), Some("aA\"b"));
    }

    #[test]
    fn malformed_json_is_an_error() {
        assert!(parse_record(br#"{"eventName":"x""#).is_err());
        assert!(parse_record(b"[1,2]").is_err());
    }
}
