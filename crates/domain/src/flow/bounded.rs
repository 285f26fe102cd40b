//! Bounded tables: what every table of flow detection does when it is full.
use std::collections::BTreeMap;

/// Frees room in a full table: drops entries last seen before `expired_before`, then, if that
/// was not enough, the least recently seen tenth in one go (so a stream of new keys costs
/// O(log n) each on average, not a scan per key). Ties break on the key: deterministic.
pub(crate) fn make_room<K: Ord + Clone, T>(table: &mut BTreeMap<K, T>, max: usize, expired_before: i64, last_ms: impl Fn(&T) -> i64) {
    table.retain(|_, v| last_ms(v) >= expired_before);
    if table.len() < max {
        return;
    }
    let mut ages: Vec<(i64, K)> = table.iter().map(|(k, v)| (last_ms(v), k.clone())).collect();
    let drop = (max / 10).max(1).min(ages.len());
    ages.select_nth_unstable(drop - 1);
    for (_, key) in &ages[..drop] {
        table.remove(key);
    }
}
