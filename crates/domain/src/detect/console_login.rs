//! UnauthorizedAccess:IAMUser/ConsoleLoginSuccess.B: successful console sign-ins of one user from
//! places too far apart to travel between in the time between them (docs/findings.md#cloudtrail-access-key-types, class H).
//!
//! GuardDuty's thresholds are not published; ours, named below:
//!
//! * Two logins are an impossible journey when their distance, less both locations' GeoIP
//!   accuracy radii, is at least [`MIN_DISTANCE_KM`] and would need more than
//!   [`MAX_TRAVEL_SPEED_KMH`] to cover in the time between them. Both locations come from the
//!   GeoIP database; without one (or without coordinates for an address) the rule stays silent.
//! * State: per user, the successful logins of the last [`WINDOW_MS`] (at most
//!   [`MAX_REMEMBERED`]), kept by the ingester in the store ([`STATE_PREFIX`] keys) in the same
//!   transaction as the findings, so it survives file boundaries and restarts.
//!
//! Order: a new login is compared with its neighbours IN EVENT TIME (the latest login before it
//! and the earliest after it), not with the login that happened to arrive before it. Logins
//! ingested out of order therefore meet the same pairs as in order, except that a login arriving
//! late between two already-compared logins cannot retract that earlier comparison (the one
//! unavoidable difference: a possible extra occurrence). A journey is always reported as an
//! occurrence of its LATER login (its time, IP and event id), whichever record revealed it.
use serde::{Deserialize, Serialize};

use crate::cloudtrail::CloudTrailRecord;
use crate::finding_types as ft;
use crate::geo::{GeoInfo, haversine_km};
use crate::time::iso_ms;
use crate::{Occurrence, model};

use super::{DetectContext, Hit, ResourceKey, Rule, event_time_ms};

/// Rule id (evidence) and state namespace.
pub const RULE_ID: &str = "console-login-impossible-travel";
pub const STATE_PREFIX: &str = "console-login:";

/// Fastest plausible journey between two sign-ins: a long-haul airliner's cruise speed (km/h).
pub const MAX_TRAVEL_SPEED_KMH: f64 = 1_000.0;
/// Shorter distances never count (km): city-level GeoIP error, mobile networks and VPN exits
/// routinely move a user this far without travelling.
pub const MIN_DISTANCE_KM: f64 = 500.0;
/// Logins older than this are forgotten: at [`MAX_TRAVEL_SPEED_KMH`] half the globe (about
/// 20,000 km) takes 20 hours, so an older login can never make a journey impossible.
pub const WINDOW_MS: i64 = 24 * 3_600_000;
/// Logins remembered per user (the latest).
pub const MAX_REMEMBERED: usize = 32;

/// One successful sign-in with where it came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Login {
    #[serde(rename = "t")]
    pub time_ms: i64,
    #[serde(rename = "id")]
    pub event_id: String,
    pub ip: String,
    pub lat: f64,
    pub lon: f64,
    /// GeoIP accuracy radius (km), 0 when unknown.
    #[serde(rename = "acc", default)]
    pub accuracy_km: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<String>,
}

impl Login {
    fn order_key(&self) -> (i64, &str) {
        (self.time_ms, &self.event_id)
    }
}

/// A journey between two logins that cannot have been travelled (`from` before `to`).
#[derive(Debug, Clone, PartialEq)]
pub struct Journey {
    pub from: Login,
    pub to: Login,
    pub distance_km: f64,
    /// `None` when both logins happened at the same instant.
    pub speed_kmh: Option<f64>,
}

/// A user's recent logins, ordered by (time, event id).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoginHistory {
    pub logins: Vec<Login>,
}

impl LoginHistory {
    /// From the stored JSON; unreadable state starts afresh (it is only a cache of the past).
    pub fn from_json(json: &str) -> Self {
        serde_json::from_str(json).unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// True when `login` (same time and event id) is already held.
    pub fn contains(&self, login: &Login) -> bool {
        self.logins.binary_search_by(|l| l.order_key().cmp(&login.order_key())).is_ok()
    }

    /// Adds `login` and returns the impossible journeys between it and its neighbours in time.
    /// A login already held (same time and event id) changes nothing and reveals nothing.
    pub fn add(&mut self, login: Login) -> Vec<Journey> {
        let index = match self.logins.binary_search_by(|l| l.order_key().cmp(&login.order_key())) {
            Ok(_) => return Vec::new(),
            Err(i) => i,
        };
        let mut journeys = Vec::new();
        if let Some(before) = index.checked_sub(1).map(|i| &self.logins[i])
            && let Some(j) = journey(before, &login)
        {
            journeys.push(j);
        }
        if let Some(after) = self.logins.get(index)
            && let Some(j) = journey(&login, after)
        {
            journeys.push(j);
        }
        self.logins.insert(index, login);
        self.forget_old();
        journeys
    }

    /// Drops logins outside the window of the newest, and the oldest beyond the cap.
    fn forget_old(&mut self) {
        let Some(newest) = self.logins.last().map(|l| l.time_ms) else { return };
        self.logins.retain(|l| newest - l.time_ms <= WINDOW_MS);
        let excess = self.logins.len().saturating_sub(MAX_REMEMBERED);
        self.logins.drain(..excess);
    }
}

/// The journey from `a` to `b` (a not after b) if it is impossible.
pub fn journey(a: &Login, b: &Login) -> Option<Journey> {
    let distance_km = haversine_km((a.lat, a.lon), (b.lat, b.lon));
    let apart_km = distance_km - a.accuracy_km - b.accuracy_km;
    if apart_km < MIN_DISTANCE_KM {
        return None;
    }
    let hours = (b.time_ms - a.time_ms).abs() as f64 / 3_600_000.0;
    let speed_kmh = (hours > 0.0).then(|| apart_km / hours);
    if speed_kmh.is_some_and(|s| s <= MAX_TRAVEL_SPEED_KMH) {
        return None;
    }
    Some(Journey { from: a.clone(), to: b.clone(), distance_km, speed_kmh })
}

/// A successful console sign-in: `ConsoleLogin` with `responseElements.ConsoleLogin: "Success"`.
pub fn is_successful_login(record: &CloudTrailRecord<'_>) -> bool {
    if record.event_name.as_str() != "ConsoleLogin" || record.failed() {
        return false;
    }
    #[derive(Deserialize)]
    struct Response<'a> {
        #[serde(rename = "ConsoleLogin", borrow)]
        console_login: Option<std::borrow::Cow<'a, str>>,
    }
    record
        .response_elements_json()
        .and_then(|json| serde_json::from_str::<Response<'_>>(json).ok())
        .and_then(|r| r.console_login)
        .is_some_and(|status| status == "Success")
}

/// The state key of the user who signed in: the identity's ARN, else its principal id.
pub fn user_key(record: &CloudTrailRecord<'_>) -> Option<String> {
    let identity = &record.user_identity.0;
    let who = identity.arn.get().or_else(|| identity.principal_id.get())?;
    Some(format!("{STATE_PREFIX}{who}"))
}

/// The login `record` is, located by `geo`: None unless it is a successful sign-in from an IP
/// the database places.
pub fn login_of(record: &CloudTrailRecord<'_>, geo: &GeoInfo) -> Option<Login> {
    let (lat, lon) = geo.position()?;
    Some(Login {
        time_ms: event_time_ms(record)?,
        event_id: record.event_id.as_str().to_owned(),
        ip: record.source_ip_address.get()?.to_owned(),
        lat,
        lon,
        accuracy_km: geo.accuracy_km.unwrap_or(0.0).max(0.0),
        place: geo.place(),
    })
}

fn describe(login: &Login) -> String {
    match &login.place {
        Some(place) => format!("{place} ({})", login.ip),
        None => login.ip.clone(),
    }
}

pub(super) fn hit(journey: &Journey) -> Hit {
    let speed = match journey.speed_kmh {
        Some(s) => format!("{:.0} km/h", s),
        None => "at the same instant".to_owned(),
    };
    let detail = format!(
        "Signed in from {} at {} and from {} at {}: {:.0} km apart ({speed}).",
        describe(&journey.from),
        iso_ms(journey.from.time_ms),
        describe(&journey.to),
        iso_ms(journey.to.time_ms),
        journey.distance_km,
    );
    Hit { detail: Some(detail), ..Hit::new(ft::CONSOLE_LOGIN_SUCCESS_B, ResourceKey::Caller) }
}

/// The occurrence for `journey`, found while analysing `record` (one of its two logins). It is
/// an occurrence of the journey's later login: when `record` is the earlier one (it arrived out
/// of order), its time, event id and remote IP are those of the later login.
pub fn occurrence(record: &CloudTrailRecord<'_>, ctx: &DetectContext<'_>, journey: &Journey) -> Option<Occurrence> {
    let later = &journey.to;
    let later_ip: std::net::IpAddr = later.ip.parse().ok()?;
    // The trusted list is judged on the later login's IP: the finding is about that sign-in.
    if ctx.intel.trusts(later_ip) {
        return None;
    }
    let mut occ = super::build_occurrence(record, ctx, rule(), hit(journey))?;
    if later.event_id == record.event_id.as_str() && Some(later.time_ms) == event_time_ms(record) {
        return Some(occ);
    }
    occ.event_time_ms = later.time_ms;
    occ.evidence.event_ids = vec![later.event_id.clone()];
    occ.evidence.event_times_ms = vec![later.time_ms];
    let seen = iso_ms(later.time_ms);
    let service = occ.finding.service.get_or_insert_with(Default::default);
    service.event_first_seen = Some(seen.clone());
    service.event_last_seen = Some(seen);
    if let Some(api) = service.action.as_mut().and_then(|a| a.aws_api_call_action.as_mut()) {
        api.remote_ip_details = Some(super::remote_ip_details(later_ip, &ctx.intel));
        api.caller_type = Some("Remote IP".into());
        api.domain_details = None::<model::DomainDetails>;
    }
    occ.sync_evidence();
    Some(occ)
}

/// This rule's row of [`super::RULES`].
pub fn rule() -> &'static Rule {
    super::RULES.iter().find(|r| r.id == RULE_ID).expect("the console-login rule is in RULES")
}
