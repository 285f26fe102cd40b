//! FindingCriteria and SortCriteria, as ListFindings receives them.
use std::cmp::Ordering;

use vedette_domain::criteria::{compare_for_sort, parse_criteria, parse_sort};
use vedette_model as model;

use crate::fixtures::findings;

/// `data` is a ListFindings request body (`findingCriteria`, `sortCriteria`, ...). Properties,
/// besides not crashing: a criterion and its negation (`equals` / `notEquals` of the same values,
/// `matches` / `notMatches` of the same patterns) select complementary sets; the sort is a total
/// order (antisymmetric, consistent with equality of ids), so every sort of the findings agrees.
pub fn criteria(data: &[u8]) {
    let Ok(request) = model::bind::json_body::<model::ListFindingsRequest>(data) else { return };
    let _ = vedette_service::validate(&request);
    let findings = findings();

    if let Ok(criteria) = parse_criteria(request.finding_criteria.as_ref()) {
        let selected: Vec<bool> = findings.iter().map(|f| criteria.matches(f)).collect();
        // Negating a single-attribute, single-test criterion flips exactly the findings it selects.
        if let [criterion] = criteria.criteria.as_slice()
            && let [test] = criterion.tests.as_slice()
            && let Some(negated) = negate(test)
        {
            let mut flipped = criteria.clone();
            flipped.criteria[0].tests = vec![negated];
            for (finding, was) in findings.iter().zip(&selected) {
                assert_ne!(flipped.matches(finding), *was, "{test:?} and its negation agree on {:?}", finding.id);
            }
        }
    }

    if let Ok(sort) = parse_sort(request.sort_criteria.as_ref()) {
        // Pairs of a spread-out subset: every pair of every finding would dominate the run time.
        for a in findings.iter().step_by(4) {
            for b in findings.iter().step_by(3) {
                let (ab, ba) = (compare_for_sort(a, b, &sort), compare_for_sort(b, a, &sort));
                assert_eq!(ab, ba.reverse(), "sort by {sort:?} is not antisymmetric");
                assert_eq!(ab == Ordering::Equal, a.id == b.id, "sort by {sort:?}: distinct findings tie");
            }
        }
        let mut forward: Vec<&model::Finding> = findings.iter().collect();
        forward.sort_by(|a, b| compare_for_sort(a, b, &sort));
        let mut backward: Vec<&model::Finding> = findings.iter().rev().collect();
        backward.sort_by(|a, b| compare_for_sort(a, b, &sort));
        assert!(forward.iter().zip(&backward).all(|(a, b)| a.id == b.id), "sort by {sort:?} depends on input order");
    }
}

fn negate(test: &vedette_domain::criteria::Test) -> Option<vedette_domain::criteria::Test> {
    use vedette_domain::criteria::Test;
    Some(match test {
        Test::Equals(v) => Test::NotEquals(v.clone()),
        Test::NotEquals(v) => Test::Equals(v.clone()),
        Test::Matches(p) => Test::NotMatches(p.clone()),
        Test::NotMatches(p) => Test::Matches(p.clone()),
        _ => return None,
    })
}
