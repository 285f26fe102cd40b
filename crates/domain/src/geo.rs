//! Where an IP address is and who runs it, as a GeoIP/ASN database says: the source of
//! `remoteIpDetails.{city, country, geoLocation, organization}` and of the console-login velocity
//! rule. The lookup itself (MaxMind-format files) lives with the code that reads files; detection
//! only sees [`GeoLookup`]. Members a database does not give stay `None`: they are omitted from
//! findings, never invented.
use std::net::IpAddr;

use crate::model;

/// What the databases say about one address.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GeoInfo {
    pub city_name: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country_code: Option<String>,
    pub country_name: Option<String>,
    /// Degrees.
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// How far from `lat`/`lon` the address may really be (MaxMind's `accuracy_radius`), km.
    pub accuracy_km: Option<f64>,
    pub asn: Option<u32>,
    pub asn_org: Option<String>,
    pub isp: Option<String>,
    pub org: Option<String>,
}

impl GeoInfo {
    pub fn is_empty(&self) -> bool {
        *self == GeoInfo::default()
    }

    /// Both coordinates, when the database has them.
    pub fn position(&self) -> Option<(f64, f64)> {
        Some((self.lat?, self.lon?)).filter(|(lat, lon)| lat.is_finite() && lon.is_finite())
    }

    /// `City, Country` (whichever parts are known) for descriptions.
    pub fn place(&self) -> Option<String> {
        let country = self.country_name.as_deref().or(self.country_code.as_deref());
        match (self.city_name.as_deref(), country) {
            (Some(city), Some(country)) => Some(format!("{city}, {country}")),
            (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
            (None, None) => None,
        }
    }

    /// Fills the enrichment members of `details` that this information has.
    pub fn enrich(&self, details: &mut model::RemoteIpDetails) {
        if let Some(city) = &self.city_name {
            details.city = Some(model::City { city_name: Some(city.clone()) });
        }
        if self.country_code.is_some() || self.country_name.is_some() {
            details.country = Some(model::Country { country_code: self.country_code.clone(), country_name: self.country_name.clone() });
        }
        if let Some((lat, lon)) = self.position() {
            details.geo_location = Some(model::GeoLocation { lat: Some(lat), lon: Some(lon) });
        }
        if self.asn.is_some() || self.asn_org.is_some() || self.isp.is_some() || self.org.is_some() {
            details.organization = Some(model::Organization {
                // The model carries the AS number as a string.
                asn: self.asn.map(|n| n.to_string()),
                asn_org: self.asn_org.clone(),
                isp: self.isp.clone(),
                org: self.org.clone(),
            });
        }
    }
}

/// A GeoIP/ASN database (or several) answering per address.
pub trait GeoLookup: Send + Sync {
    /// What is known of `ip`; an empty [`GeoInfo`] when nothing is.
    fn lookup(&self, ip: IpAddr) -> GeoInfo;
}

/// Mean Earth radius (IUGG), km.
pub const EARTH_RADIUS_KM: f64 = 6_371.0;

/// Great-circle distance in km between two (lat, lon) points in degrees (haversine formula).
pub fn haversine_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn haversine_matches_known_distances() {
        let paris = (48.8566, 2.3522);
        let new_york = (40.7128, -74.0060);
        let d = haversine_km(paris, new_york);
        assert!((d - 5_837.0).abs() < 10.0, "Paris-New York is about 5,837 km, got {d}");
        assert_eq!(haversine_km(paris, paris), 0.0);
        let antipode = haversine_km((0.0, 0.0), (0.0, 180.0));
        assert!((antipode - std::f64::consts::PI * EARTH_RADIUS_KM).abs() < 1e-6);
    }

    #[test]
    fn enrich_fills_only_what_is_known() {
        let mut details = model::RemoteIpDetails { ip_address_v4: Some("81.2.69.142".into()), ..Default::default() };
        GeoInfo { country_code: Some("GB".into()), asn: Some(20712), ..Default::default() }.enrich(&mut details);
        assert_eq!(details.city, None);
        assert_eq!(details.geo_location, None);
        assert_eq!(details.country.as_ref().unwrap().country_code.as_deref(), Some("GB"));
        assert_eq!(details.country.as_ref().unwrap().country_name, None);
        let org = details.organization.as_ref().unwrap();
        assert_eq!((org.asn.as_deref(), org.asn_org.as_deref(), org.isp.as_deref()), (Some("20712"), None, None));

        let mut untouched = model::RemoteIpDetails::default();
        GeoInfo::default().enrich(&mut untouched);
        assert_eq!(untouched, model::RemoteIpDetails::default());
    }
}
