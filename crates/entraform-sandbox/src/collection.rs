//! A collection of Graph objects by object id (the paging order), with an index on every
//! property a `$filter` or a key segment looks objects up by, and a note of which ids changed
//! since the journal last took them (see [`crate::state`]).
//!
//! The indexes live inside the collection and every way to change an entry goes through it
//! ([`Collection::insert`], [`Collection::remove`], [`Collection::retain`], and
//! [`Collection::get_mut`]'s guard, which re-indexes its entry when dropped), so they cannot
//! drift from the objects: not on a write, a delete or restore, nor on load (deserialising
//! builds them).
//!
//! An index only narrows: it answers "which ids may match", a superset, and the filter is still
//! evaluated on each candidate, so an indexed query answers exactly what a scan would.
//!
//! Entries and indexes are persistent maps (`imbl`), each entry behind an `Arc`: a clone of a
//! collection shares everything with the original and a change copies only the path to what it
//! changed (and the entry itself, when a clone still holds it). The replica keeps a clone of the
//! tenant per write (see [`crate::replica`]), so that costs O(log n) per write, not O(n).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

use imbl::{OrdMap, OrdSet};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::odata::{Cmp, Filter, Lit, collect_or_leaves};
use crate::state::Entry;

/// No ids from another collection.
pub(crate) fn no_extra(_: &str, _: &str) -> Option<BTreeSet<String>> {
    None
}

/// The properties indexed, in whichever collection holds them: the keys and filters Graph
/// supports and clients use (`uniqueName`, `appId`, `id`, `principalId`, `clientId`,
/// `resourceId`, `tags/any`).
pub(crate) const INDEXED: &[&str] = &[
    "id",
    "appId",
    "uniqueName",
    "principalId",
    "clientId",
    "resourceId",
    "tags",
];

/// How an index spells a value: Graph compares these case-insensitively (ASCII), as `$filter`'s
/// evaluation does.
pub(crate) fn index_key(value: &str) -> String {
    value.to_ascii_lowercase()
}

/// Property → value (lower-case) → ids.
type Index = HashMap<&'static str, OrdMap<String, OrdSet<String>>>;

#[derive(Debug, Clone, Default)]
pub(crate) struct Collection {
    entries: OrdMap<String, Arc<Entry>>,
    index: Index,
    /// Ids inserted, changed or removed since [`Collection::take_changed`].
    changed: BTreeSet<String>,
}

/// The index keys of one entry: `(property, value)`.
fn keys_of(entry: &Entry) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    for prop in INDEXED {
        match entry.object.get(*prop) {
            Some(Value::String(s)) => out.push((*prop, index_key(s))),
            Some(Value::Array(items)) => out.extend(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(|s| (*prop, index_key(s))),
            ),
            _ => {}
        }
    }
    out
}

impl Collection {
    fn add_keys(&mut self, id: &str, keys: Vec<(&'static str, String)>) {
        for (prop, value) in keys {
            self.index
                .entry(prop)
                .or_default()
                .entry(value)
                .or_default()
                .insert(id.to_owned());
        }
    }

    fn drop_keys(&mut self, id: &str, keys: Vec<(&'static str, String)>) {
        for (prop, value) in keys {
            let Some(values) = self.index.get_mut(prop) else {
                continue;
            };
            if let Some(ids) = values.get_mut(&value) {
                ids.remove(id);
                if ids.is_empty() {
                    values.remove(&value);
                }
            }
            if values.is_empty() {
                self.index.remove(prop);
            }
        }
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Entry> {
        self.entries.get(id).map(|e| &**e)
    }

    /// The entry to change; its index keys are brought up to date when the guard drops.
    pub(crate) fn get_mut(&mut self, id: &str) -> Option<EntryMut<'_>> {
        let (key, entry) = self.entries.get_key_value(id)?;
        let (id, before) = (key.clone(), keys_of(entry));
        Some(EntryMut {
            coll: self,
            id,
            before,
        })
    }

    pub(crate) fn insert(&mut self, id: String, entry: Entry) -> Option<Entry> {
        let old = self.remove(&id);
        self.add_keys(&id, keys_of(&entry));
        self.changed.insert(id.clone());
        self.entries.insert(id, Arc::new(entry));
        old
    }

    pub(crate) fn remove(&mut self, id: &str) -> Option<Entry> {
        let (id, old) = self.entries.remove_with_key(id)?;
        self.drop_keys(&id, keys_of(&old));
        self.changed.insert(id);
        Some(Arc::unwrap_or_clone(old))
    }

    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&String, &Entry) -> bool) {
        let gone: Vec<String> = self
            .entries
            .iter()
            .filter(|(id, e)| !keep(id, e))
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            self.remove(&id);
        }
    }

    /// Applies `change` to every entry `matches` (only those are copied and noted as changed).
    pub(crate) fn update_where(
        &mut self,
        matches: impl Fn(&Entry) -> bool,
        mut change: impl FnMut(&mut Entry),
    ) {
        let ids: Vec<String> = self
            .entries
            .iter()
            .filter(|(_, e)| matches(e))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            change(&mut self.get_mut(&id).expect("listed above"));
        }
    }

    pub(crate) fn contains_key(&self, id: &str) -> bool {
        self.entries.contains_key(id)
    }

    pub(crate) fn values(&self) -> impl DoubleEndedIterator<Item = &Entry> {
        self.entries.values().map(|e| &**e)
    }

    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &Entry)> {
        self.entries.iter().map(|(id, e)| (id, &**e))
    }

    /// The ids whose `prop` is `value` (case-insensitively), or for an array property, holds
    /// it, in order; `None` when `prop` is not indexed.
    pub(crate) fn lookup(
        &self,
        prop: &str,
        value: &str,
    ) -> Option<impl Iterator<Item = &String> + '_> {
        if !INDEXED.contains(&prop) {
            return None;
        }
        let ids = self
            .index
            .get(prop)
            .and_then(|values| values.get(&index_key(value)));
        Some(ids.into_iter().flat_map(OrdSet::iter))
    }

    /// The entries whose `prop` is `value` (case-insensitively, or an array holding it), in id
    /// order: what `values().filter(|e| e.str(prop).eq_ignore_ascii_case(value))` finds.
    pub(crate) fn find_by<'a>(
        &'a self,
        prop: &str,
        value: &str,
    ) -> impl Iterator<Item = &'a Entry> + 'a {
        let ids = self.lookup(prop, value).expect("an indexed property");
        ids.filter_map(|id| self.get(id))
    }

    /// The entries a filter may match, in id order: those the indexes name when the filter
    /// narrows by an indexed property, else all of them. A superset of the answer: evaluate
    /// the filter on each. `extra` adds ids an index of another collection knows of (a
    /// service principal's tags include its application's).
    pub(crate) fn candidates<'a>(
        &'a self,
        filter: Option<&Filter>,
        extra: &dyn Fn(&str, &str) -> Option<BTreeSet<String>>,
    ) -> Box<dyn Iterator<Item = &'a Entry> + 'a> {
        match filter.and_then(|f| self.narrow(f, extra)) {
            Some(ids) => Box::new(ids.into_iter().filter_map(|id| self.get(&id))),
            None => Box::new(self.values()),
        }
    }

    /// The ids `f` may match, or `None` when its indexes cannot say.
    fn narrow(
        &self,
        f: &Filter,
        extra: &dyn Fn(&str, &str) -> Option<BTreeSet<String>>,
    ) -> Option<BTreeSet<String>> {
        let one = |prop: &str, lit: &Lit| -> Option<BTreeSet<String>> {
            let Lit::Str(value) = lit else {
                return None;
            };
            let mut ids: BTreeSet<String> = self.lookup(prop, value)?.cloned().collect();
            if let Some(more) = extra(prop, value) {
                ids.extend(more);
            }
            Some(ids)
        };
        let union = |sets: Vec<Option<BTreeSet<String>>>| {
            sets.into_iter().try_fold(BTreeSet::new(), |mut all, s| {
                all.extend(s?);
                Some(all)
            })
        };
        match f {
            Filter::Cmp(prop, Cmp::Eq, lit) => one(prop, lit),
            Filter::In(prop, lits) => union(lits.iter().map(|l| one(prop, l)).collect()),
            Filter::Any(prop, inner) => {
                let mut leaves = Vec::new();
                collect_or_leaves(inner, &mut leaves);
                union(
                    leaves
                        .into_iter()
                        .map(|leaf| match leaf {
                            Filter::Cmp(it, Cmp::Eq, lit) if it == "$it" => one(prop, lit),
                            _ => None,
                        })
                        .collect(),
                )
            }
            Filter::And(a, b) => match (self.narrow(a, extra), self.narrow(b, extra)) {
                (Some(a), Some(b)) => Some(a.intersection(&b).cloned().collect()),
                (Some(one), None) | (None, Some(one)) => Some(one),
                (None, None) => None,
            },
            Filter::Or(a, b) => union(vec![self.narrow(a, extra), self.narrow(b, extra)]),
            _ => None,
        }
    }

    /// Ids changed since the last call, forgotten.
    pub(crate) fn take_changed(&mut self) -> BTreeSet<String> {
        std::mem::take(&mut self.changed)
    }

    /// Sets an entry without noting it as changed (replaying the journal).
    pub(crate) fn restore(&mut self, id: String, entry: Option<Entry>) {
        match entry {
            Some(e) => {
                self.insert(id.clone(), e);
            }
            None => {
                self.remove(&id);
            }
        }
        self.changed.remove(&id);
    }

    #[cfg(test)]
    pub(crate) fn index_of(&self) -> &Index {
        &self.index
    }

    /// Builds the indexes from scratch (what they should be).
    #[cfg(test)]
    pub(crate) fn rebuilt(&self) -> Index {
        let mut fresh = Collection::default();
        for (id, e) in &self.entries {
            fresh.add_keys(id, keys_of(e));
        }
        fresh.index
    }
}

impl std::ops::Index<&str> for Collection {
    type Output = Entry;

    fn index(&self, id: &str) -> &Entry {
        self.get(id).expect("an entry of the collection")
    }
}

impl std::ops::Index<&String> for Collection {
    type Output = Entry;

    fn index(&self, id: &String) -> &Entry {
        &self[id.as_str()]
    }
}

impl FromIterator<(String, Entry)> for Collection {
    fn from_iter<I: IntoIterator<Item = (String, Entry)>>(iter: I) -> Self {
        let mut coll = Collection::default();
        for (id, e) in iter {
            coll.insert(id, e);
        }
        coll.changed.clear();
        coll
    }
}

impl Serialize for Collection {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.entries.iter().map(|(id, e)| (id, &**e)))
    }
}

impl<'de> Deserialize<'de> for Collection {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(BTreeMap::<String, Entry>::deserialize(d)?
            .into_iter()
            .collect())
    }
}

/// An entry being changed; re-indexed (and noted as changed) when dropped.
pub(crate) struct EntryMut<'a> {
    coll: &'a mut Collection,
    id: String,
    before: Vec<(&'static str, String)>,
}

impl Deref for EntryMut<'_> {
    type Target = Entry;

    fn deref(&self) -> &Entry {
        &self.coll[&self.id]
    }
}

impl DerefMut for EntryMut<'_> {
    fn deref_mut(&mut self) -> &mut Entry {
        // Copies the entry only if a snapshot still shares it.
        Arc::make_mut(self.coll.entries.get_mut(&self.id).expect("held"))
    }
}

impl Drop for EntryMut<'_> {
    fn drop(&mut self) {
        let after = keys_of(&self.coll[&self.id]);
        if after != self.before {
            let id = self.id.clone();
            self.coll.drop_keys(&id, std::mem::take(&mut self.before));
            self.coll.add_keys(&id, after);
        }
        self.coll.changed.insert(self.id.clone());
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::odata;

    const VALUES: &[&str] = &["a", "A", "b", "B-x", "c", "b-X"];
    const PROPS: &[&str] = &[
        "id",
        "appId",
        "uniqueName",
        "principalId",
        "tags",
        "displayName",
    ];

    fn entry(id: usize, fields: &[(usize, usize)], tags: &[usize]) -> (String, Entry) {
        let mut o = serde_json::Map::new();
        o.insert("id".into(), json!(format!("id-{id}")));
        for (prop, value) in fields {
            o.insert(
                PROPS[1 + prop % 3].into(),
                json!(VALUES[value % VALUES.len()]),
            );
        }
        o.insert(
            "tags".into(),
            json!(
                tags.iter()
                    .map(|t| VALUES[t % VALUES.len()])
                    .collect::<Vec<_>>()
            ),
        );
        (format!("id-{id}"), Entry::new(o, 0))
    }

    fn leaf() -> impl Strategy<Value = Filter> {
        let value = (0..VALUES.len()).prop_map(|v| VALUES[v].to_string());
        let prop = (0..PROPS.len()).prop_map(|p| PROPS[p].to_string());
        prop_oneof![
            (prop.clone(), value.clone()).prop_map(|(p, v)| Filter::Cmp(p, Cmp::Eq, Lit::Str(v))),
            (prop.clone(), value.clone()).prop_map(|(p, v)| Filter::Cmp(p, Cmp::Ne, Lit::Str(v))),
            prop.clone()
                .prop_map(|p| Filter::Cmp(p, Cmp::Eq, Lit::Null)),
            (prop.clone(), proptest::collection::vec(value.clone(), 1..4))
                .prop_map(|(p, vs)| { Filter::In(p, vs.into_iter().map(Lit::Str).collect()) }),
            (prop.clone(), value.clone()).prop_map(|(p, v)| Filter::StartsWith(p, v)),
            (prop, proptest::collection::vec(value, 1..3)).prop_map(|(p, vs)| {
                let inner = vs
                    .into_iter()
                    .map(|v| Filter::Cmp("$it".into(), Cmp::Eq, Lit::Str(v)))
                    .reduce(|a, b| Filter::Or(Box::new(a), Box::new(b)))
                    .expect("one");
                Filter::Any(p, Box::new(inner))
            }),
        ]
    }

    fn filter() -> impl Strategy<Value = Filter> {
        leaf().prop_recursive(3, 12, 2, |inner| {
            prop_oneof![
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Filter::And(Box::new(a), Box::new(b))),
                (inner.clone(), inner.clone())
                    .prop_map(|(a, b)| Filter::Or(Box::new(a), Box::new(b))),
                inner.prop_map(|a| Filter::Not(Box::new(a))),
            ]
        })
    }

    type Fields = Vec<(usize, usize)>;

    fn document() -> impl Strategy<Value = Vec<(Fields, Vec<usize>)>> {
        proptest::collection::vec(
            (
                proptest::collection::vec((0..3usize, 0..6usize), 0..4),
                proptest::collection::vec(0..6usize, 0..3),
            ),
            0..24,
        )
    }

    fn ids<'a>(entries: impl Iterator<Item = &'a Entry>, f: &Filter) -> Vec<String> {
        entries
            .filter(|e| odata::eval(f, &e.object, &|_, _| 0))
            .map(|e| e.str("id").to_owned())
            .collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// What the indexes narrow a filter to, filtered, is what a scan finds, in the same order.
        #[test]
        fn an_indexed_answer_is_the_scanned_answer(doc in document(), f in filter()) {
            let coll: Collection = doc
                .iter()
                .enumerate()
                .map(|(i, (fields, tags))| entry(i, fields, tags))
                .collect();
            let scanned = ids(coll.values(), &f);
            let indexed = ids(coll.candidates(Some(&f), &no_extra), &f);
            prop_assert_eq!(indexed, scanned);
        }

        /// Inserts, changes through `get_mut`, removals and `retain` keep the indexes what a
        /// rebuild would make, and note every id they touched.
        #[test]
        fn indexes_follow_every_change(
            doc in document(),
            changes in proptest::collection::vec((0..4usize, 0..24usize, 0..6usize), 0..20),
        ) {
            let mut coll: Collection = doc
                .iter()
                .enumerate()
                .map(|(i, (fields, tags))| entry(i, fields, tags))
                .collect();
            prop_assert!(coll.take_changed().is_empty(), "a load changes nothing");
            let mut touched = BTreeSet::new();
            for (op, i, v) in changes {
                let id = format!("id-{i}");
                match op {
                    0 => {
                        coll.insert(id.clone(), entry(i, &[(0, v), (1, v + 1)], &[v]).1);
                        touched.insert(id);
                    }
                    1 => {
                        if let Some(mut e) = coll.get_mut(&id) {
                            e.object.insert("appId".into(), json!(VALUES[v]));
                            e.object.insert("tags".into(), json!([VALUES[(v + 1) % 6]]));
                            touched.insert(id);
                        }
                    }
                    2 => {
                        if coll.remove(&id).is_some() {
                            touched.insert(id);
                        }
                    }
                    _ => {
                        let before: BTreeSet<String> = coll.iter().map(|(id, _)| id.clone()).collect();
                        coll.retain(|_, e| e.str("appId") != VALUES[v]);
                        touched.extend(before.into_iter().filter(|id| !coll.contains_key(id)));
                    }
                }
            }
            prop_assert_eq!(coll.index_of(), &coll.rebuilt());
            prop_assert_eq!(coll.take_changed(), touched);
        }
    }
}
