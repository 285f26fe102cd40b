//! What only the SQLite store has: its query plans (`SqliteStore::explain_list_findings`). The
//! behaviour every backend shares is the conformance suite's (`tests/conformance.rs`).
use vedette_domain::attributes;
use vedette_domain::criteria::{AttrValue, Criteria, Criterion, Sort, Test};
use vedette_domain::{DetectorConfig, Scope};
use vedette_store::{Resource, SqliteStore, Store, StoreError};

fn sort(path: &str, descending: bool) -> Sort {
    Sort { attribute: attributes::lookup(path).unwrap(), descending }
}

fn criterion(path: &str, test: Test) -> Criteria {
    Criteria { criteria: vec![Criterion { attribute: attributes::lookup(path).unwrap(), tests: vec![test] }] }
}

#[test]
fn the_console_listings_are_served_by_an_index_without_sorting() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).unwrap();
    let scope = Scope::new("111122223333", "us-east-1");
    let d = store.create_detector(&scope, DetectorConfig::default(), Default::default(), None).unwrap().id;
    let listings = [
        ("newest first", Criteria::default(), sort("updatedAt", true)),
        ("high severity, most severe first", criterion("severity", Test::Gte(7.0)), sort("severity", true)),
        (
            "one type, newest first",
            criterion("type", Test::Equals(vec![AttrValue::Str("Recon:EC2/PortProbeUnprotectedPort".into())])),
            sort("updatedAt", true),
        ),
    ];
    for (name, criteria, sort) in &listings {
        let plans = store.explain_list_findings(&d, criteria, sort, 50, None).unwrap();
        // One statement for the findings with the sort attribute, one for those without.
        assert_eq!(plans.len(), 2, "{name}: {plans:?}");
        for plan in &plans {
            assert!(plan.contains("SEARCH f USING COVERING INDEX"), "{name}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{name}: sorted outside the index: {plan}");
        }
    }
    let unknown = store.explain_list_findings("0123456789abcdef0123456789abcdef", &Criteria::default(), &sort("updatedAt", true), 50, None);
    assert!(matches!(unknown, Err(StoreError::NotFound(Resource::Detector))), "{unknown:?}");
}
