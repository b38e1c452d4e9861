//! Integration tests of [`SqlStore`], the publisher's SQL store, on both of
//! its databases: SQLite (a file in a temporary directory) and the testbed's
//! real PostgreSQL (`MERCADOR_POSTGRES_URL` of `testbed/testbed.sh start`).
//!
//! Every test body runs once per database (the `on_both!` macro makes a
//! `sqlite::` and a `postgres::` test of it), each on a database of its own:
//! a new SQLite file, or a new PostgreSQL database `mercador_test_<time>_<random>`
//! dropped at the end (ones left behind by crashed runs are dropped after an
//! hour). Without the testbed's PostgreSQL the `postgres::` tests fail and say
//! how to start it; they never skip.
//!
//! The races run several `SqlStore`s (separate pools, as publisher replicas
//! have) against one database and check that places are never over-booked.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // failing loudly is the point

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use mercador_core::model::{
    CreatedObject, Name, ObjectKind, Quota, SubscriptionState, VRegionSpec, VRegionState, Visibility, VisibilityRule,
};
use mercador_core::store::{
    LeaseStore, PartnerRecord, PartnerState, PublisherStore, Reservation, SqlStore, StoreError, SubscriptionFilter,
    SubscriptionRecord, VRegionRecord,
};
use mercador_tests::Testbed;
use sqlx::{Connection, Executor, PgConnection};
use tokio::sync::Barrier;

// ------------------------------------------------------------------ databases

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Sqlite,
    Postgres,
}

/// A database of one test.
struct TestDb {
    kind: Kind,
    url: String,
    /// SQLite: the directory holding the file (deleted on drop).
    _dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the database to drop at the end.
    pg_name: Option<String>,
}

const PG_PREFIX: &str = "mercador_test_";

impl TestDb {
    async fn new(kind: Kind) -> TestDb {
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}", dir.path().join("publisher.db").display());
                TestDb { kind, url, _dir: Some(dir), pg_name: None }
            }
            Kind::Postgres => {
                let base = Testbed::get().postgres_url();
                let mut admin = pg_admin(base).await;
                drop_stale_databases(&mut admin).await;
                let name = format!(
                    "{PG_PREFIX}{}_{}",
                    Utc::now().timestamp(),
                    &uuid::Uuid::new_v4().simple().to_string()[..12]
                );
                admin.execute(format!("CREATE DATABASE {name}").as_str()).await.expect("create a test database");
                admin.close().await.ok();
                let mut url = url::Url::parse(base).expect("MERCADOR_POSTGRES_URL is a URL");
                url.set_path(&name);
                TestDb { kind, url: url.to_string(), _dir: None, pg_name: Some(name) }
            }
        }
    }

    async fn store(&self) -> SqlStore {
        SqlStore::connect(&self.url).await.unwrap_or_else(|e| {
            panic!(
                "cannot open the {:?} store: {e} (PostgreSQL: is the testbed up? `testbed/testbed.sh start`)",
                self.kind
            )
        })
    }

    /// Drops the PostgreSQL database (also done on drop, for tests that
    /// panicked). Only a cleanup: when it keeps failing the test still
    /// passes, and a later run drops the leftover.
    async fn finish(mut self) {
        if let Some(name) = self.pg_name.take() {
            drop_database(&name).await;
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        // A test that panicked never reached `finish`: drop its database from
        // a thread of its own (the test's runtime may be unwinding).
        if let Some(name) = self.pg_name.take() {
            let cleanup = std::thread::spawn(move || {
                if let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() {
                    runtime.block_on(drop_database(&name));
                }
            });
            let _ = cleanup.join();
        }
    }
}

async fn drop_database(name: &str) {
    let Ok(mut admin) = PgConnection::connect(Testbed::get().postgres_url()).await else {
        eprintln!("warning: could not connect to drop the test database {name}");
        return;
    };
    for attempt in 1..=5 {
        match admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await {
            Ok(_) => break,
            Err(e) if attempt == 5 => eprintln!("warning: could not drop the test database {name}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200 * attempt)).await,
        }
    }
    admin.close().await.ok();
}

async fn pg_admin(url: &str) -> PgConnection {
    PgConnection::connect(url).await.unwrap_or_else(|e| {
        panic!(
            "cannot reach the testbed's PostgreSQL ({e}). Run `testbed/testbed.sh start` \
             (it starts only PostgreSQL when the Keystones already run)"
        )
    })
}

/// Drops test databases older than an hour (left by runs that crashed).
async fn drop_stale_databases(admin: &mut PgConnection) {
    let names: Vec<String> = sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'mercador_test_%'")
        .fetch_all(&mut *admin)
        .await
        .expect("list databases");
    let hour_ago = Utc::now().timestamp() - 3600;
    for name in names {
        let created =
            name.strip_prefix(PG_PREFIX).and_then(|rest| rest.split('_').next()).and_then(|t| t.parse::<i64>().ok());
        if created.is_some_and(|t| t < hour_ago) {
            // Another run may drop it at the same time: errors do not matter.
            admin.execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str()).await.ok();
        }
    }
}

/// Makes a `sqlite::` and a `postgres::` test of each async fn `(db: &TestDb)`.
macro_rules! on_both {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let db = crate::TestDb::new(crate::Kind::Sqlite).await;
                    crate::$test(&db).await;
                    db.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    let db = crate::TestDb::new(crate::Kind::Postgres).await;
                    crate::$test(&db).await;
                    db.finish().await;
                }
            )*
        }
    };
}

on_both!(
    opens_and_migrates_again,
    vregions_round_trip,
    partners_round_trip,
    subscriptions_round_trip,
    duplicates,
    stale_and_missing,
    list_subscriptions_filters_and_order,
    deletes_cascade_to_subscriptions,
    leases,
    lease_renewals,
    places_are_counted_and_freed,
    race_for_the_last_place,
    race_for_three_places,
    race_of_one_partner,
);

// ------------------------------------------------------------------ fixtures

fn name(s: &str) -> Name {
    Name::parse("name", s).unwrap()
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A time with nanoseconds, to check that nothing is rounded.
fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_790_000_000 + seconds, 123_456_789).unwrap()
}

fn vregion(n: &str) -> VRegionRecord {
    VRegionRecord {
        id: new_id(),
        spec: VRegionSpec {
            name: name(n),
            description: "Lisbon, \"tier 3\" — ünïcode".into(),
            region: "RegionTwo".into(),
            domain: Some(format!("vr-{n}")),
            service_types: vec!["compute".into(), "image".into()],
            roles: vec!["member".into(), "reader".into()],
            quotas: vec![
                Quota { resource: "servers".into(), limit: 10 },
                Quota { resource: "class:VCPU".into(), limit: -1 },
            ],
            visibility: Visibility {
                images: VisibilityRule::Listed { ids: vec!["img-1".into(), "img-2".into()] },
                networks: VisibilityRule::Public,
                volumes: VisibilityRule::Own,
            },
            metadata: BTreeMap::from([("country".into(), "PT".into()), ("sla".into(), "99.9".into())]),
            max_subscriptions: 3,
            partners: vec![name("acme"), name("globex")],
        },
        state: VRegionState::Published,
        domain_id: Some(new_id()),
        created_at: at(0),
        updated_at: at(5),
        version: 1,
    }
}

fn partner(n: &str) -> PartnerRecord {
    PartnerRecord {
        id: new_id(),
        name: name(n),
        description: format!("partner {n}"),
        state: PartnerState::Active,
        project_id: Some(new_id()),
        user_id: Some(new_id()),
        objects: vec![
            CreatedObject { kind: ObjectKind::Project, id: new_id(), parent: None, adopted: false },
            CreatedObject { kind: ObjectKind::RoleAssignment, id: "r:u:p".into(), parent: None, adopted: true },
        ],
        created_at: at(1),
        updated_at: at(2),
        version: 1,
    }
}

fn subscription(v: &VRegionRecord, p: &PartnerRecord) -> SubscriptionRecord {
    SubscriptionRecord {
        id: new_id(),
        vregion_id: v.id.clone(),
        vregion: v.spec.name.clone(),
        partner_id: p.id.clone(),
        partner: p.name.clone(),
        state: SubscriptionState::Requested,
        entity_id: "http://127.0.0.1:5001/v3/OS-FEDERATION/saml2/idp".into(),
        metadata: "<md:EntityDescriptor entityID='x'>'quoted' \"xml\"</md:EntityDescriptor>".into(),
        subscriber_keystone_url: Some("http://127.0.0.1:5001/v3".into()),
        step: Some("identity_provider".into()),
        error: Some("Keystone said: no".into()),
        objects: vec![
            CreatedObject { kind: ObjectKind::IdentityProvider, id: "idp-a".into(), parent: None, adopted: false },
            CreatedObject {
                kind: ObjectKind::Protocol,
                id: "saml2".into(),
                parent: Some("idp-a".into()),
                adopted: false,
            },
        ],
        admin_password_sealed: Some("v1.key1.c2VhbGVk".into()),
        credentials_delivered: true,
        purge: true,
        created_at: at(10),
        updated_at: at(11),
        version: 1,
    }
}

/// Inserts a vregion and `n` partners.
async fn seed(store: &SqlStore, vregion_name: &str, max: u32, n: usize) -> (VRegionRecord, Vec<PartnerRecord>) {
    let mut v = vregion(vregion_name);
    v.spec.max_subscriptions = max;
    store.insert_vregion(&v).await.unwrap();
    let mut partners = Vec::new();
    for i in 0..n {
        let p = partner(&format!("{vregion_name}-p{i}"));
        store.insert_partner(&p).await.unwrap();
        partners.push(p);
    }
    (v, partners)
}

async fn reserve(store: &SqlStore, record: &SubscriptionRecord, max: u32) -> Reservation {
    store.reserve_place(record, max).await.unwrap()
}

// ------------------------------------------------------------------ tests

async fn opens_and_migrates_again(db: &TestDb) {
    let store = db.store().await;
    let expected = match db.kind {
        Kind::Sqlite => "sqlite",
        Kind::Postgres => "postgresql",
    };
    assert_eq!(store.backend(), expected);
    let v = vregion("kept");
    store.insert_vregion(&v).await.unwrap();
    store.close().await;
    // A second open finds the schema migrated and the data there.
    let again = db.store().await;
    assert_eq!(again.get_vregion(&v.spec.name).await.unwrap(), Some(v));
    // Debug never shows the URL's password.
    let shown = format!("{again:?}");
    if let Some(password) = url::Url::parse(&db.url).unwrap().password() {
        assert!(!shown.contains(password), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }
    assert!(shown.contains(expected), "{shown}");
}

async fn vregions_round_trip(db: &TestDb) {
    let store = db.store().await;
    assert_eq!(store.get_vregion(&name("nowhere")).await.unwrap(), None);
    assert_eq!(store.get_vregion_by_id("nope").await.unwrap(), None);
    assert!(store.list_vregions().await.unwrap().is_empty());

    let v = vregion("lisbon-1");
    store.insert_vregion(&v).await.unwrap();
    assert_eq!(store.get_vregion(&v.spec.name).await.unwrap().as_ref(), Some(&v));
    assert_eq!(store.get_vregion_by_id(&v.id).await.unwrap().as_ref(), Some(&v));

    // Every Option empty, every list empty.
    let mut bare = vregion("bare");
    bare.spec.domain = None;
    bare.spec.quotas.clear();
    bare.spec.metadata.clear();
    bare.spec.partners.clear();
    bare.spec.visibility = Visibility::default();
    bare.domain_id = None;
    bare.state = VRegionState::Draft;
    store.insert_vregion(&bare).await.unwrap();
    assert_eq!(store.get_vregion_by_id(&bare.id).await.unwrap().as_ref(), Some(&bare));

    // Sorted by name in byte order ('-' before letters), whatever the database's collation.
    for n in ["b-1", "ab", "a-b", "a"] {
        store.insert_vregion(&vregion(n)).await.unwrap();
    }
    let names: Vec<String> =
        store.list_vregions().await.unwrap().into_iter().map(|v| v.spec.name.to_string()).collect();
    assert_eq!(names, ["a", "a-b", "ab", "b-1", "bare", "lisbon-1"]);

    // Update: every field, returned and stored with the next version.
    let mut changed = v.clone();
    changed.spec.description = "changed".into();
    changed.spec.max_subscriptions = 7;
    changed.state = VRegionState::Withdrawn;
    changed.domain_id = None;
    changed.updated_at = at(100);
    let updated = store.update_vregion(&changed).await.unwrap();
    assert_eq!(updated, VRegionRecord { version: 2, ..changed.clone() });
    assert_eq!(store.get_vregion_by_id(&v.id).await.unwrap(), Some(updated.clone()));

    // A rename moves the unique key.
    let mut renamed = updated.clone();
    renamed.spec.name = name("porto-1");
    let renamed = store.update_vregion(&renamed).await.unwrap();
    assert_eq!(renamed.version, 3);
    assert_eq!(store.get_vregion(&name("lisbon-1")).await.unwrap(), None);
    assert_eq!(store.get_vregion(&name("porto-1")).await.unwrap(), Some(renamed));
}

async fn partners_round_trip(db: &TestDb) {
    let store = db.store().await;
    assert_eq!(store.get_partner(&name("acme")).await.unwrap(), None);
    assert_eq!(store.get_partner_by_project("nope").await.unwrap(), None);

    let p = partner("acme");
    store.insert_partner(&p).await.unwrap();
    assert_eq!(store.get_partner(&p.name).await.unwrap().as_ref(), Some(&p));
    let project = p.project_id.clone().unwrap();
    assert_eq!(store.get_partner_by_project(&project).await.unwrap().as_ref(), Some(&p));

    // Partners without a project yet do not collide with each other.
    let mut onboarding = Vec::new();
    for n in ["zeta", "beta-2", "beta"] {
        let mut q = partner(n);
        q.state = PartnerState::Onboarding;
        q.project_id = None;
        q.user_id = None;
        q.objects.clear();
        q.description.clear();
        store.insert_partner(&q).await.unwrap();
        onboarding.push(q);
    }
    assert_eq!(store.get_partner(&name("zeta")).await.unwrap().as_ref(), Some(&onboarding[0]));
    let names: Vec<String> = store.list_partners().await.unwrap().into_iter().map(|p| p.name.to_string()).collect();
    assert_eq!(names, ["acme", "beta", "beta-2", "zeta"]);

    let mut changed = p.clone();
    changed.state = PartnerState::Removing;
    changed.description = "leaving".into();
    changed.project_id = None;
    changed.user_id = None;
    changed.objects.push(CreatedObject {
        kind: ObjectKind::User,
        id: new_id(),
        parent: Some("parent".into()),
        adopted: false,
    });
    changed.updated_at = at(50);
    let updated = store.update_partner(&changed).await.unwrap();
    assert_eq!(updated, PartnerRecord { version: 2, ..changed });
    assert_eq!(store.get_partner(&p.name).await.unwrap(), Some(updated));
    assert_eq!(store.get_partner_by_project(&project).await.unwrap(), None);
}

async fn subscriptions_round_trip(db: &TestDb) {
    let store = db.store().await;
    let (v, ps) = seed(&store, "sub-rt", 3, 2).await;
    assert_eq!(store.get_subscription("nope").await.unwrap(), None);

    let s = subscription(&v, &ps[0]);
    assert_eq!(reserve(&store, &s, 3).await, Reservation::Reserved(s.clone()));
    assert_eq!(store.get_subscription(&s.id).await.unwrap().as_ref(), Some(&s));

    // Options empty, flags false.
    let mut bare = subscription(&v, &ps[1]);
    bare.subscriber_keystone_url = None;
    bare.step = None;
    bare.error = None;
    bare.objects.clear();
    bare.admin_password_sealed = None;
    bare.credentials_delivered = false;
    bare.purge = false;
    assert_eq!(reserve(&store, &bare, 3).await, Reservation::Reserved(bare.clone()));
    assert_eq!(store.get_subscription(&bare.id).await.unwrap().as_ref(), Some(&bare));

    // Update every mutable field, both ways.
    let mut changed = s.clone();
    changed.state = SubscriptionState::Active;
    changed.entity_id = "https://other/idp".into();
    changed.metadata = "<other/>".into();
    changed.subscriber_keystone_url = None;
    changed.step = None;
    changed.error = None;
    changed.objects = vec![CreatedObject {
        kind: ObjectKind::SamlTrust,
        id: "https://other/idp".into(),
        parent: None,
        adopted: true,
    }];
    changed.admin_password_sealed = None;
    changed.credentials_delivered = false;
    changed.purge = false;
    changed.updated_at = at(99);
    let updated = store.update_subscription(&changed).await.unwrap();
    assert_eq!(updated, SubscriptionRecord { version: 2, ..changed });
    assert_eq!(store.get_subscription(&s.id).await.unwrap().as_ref(), Some(&updated));

    let mut back = bare.clone();
    back.subscriber_keystone_url = Some("http://a/v3".into());
    back.step = Some("trust".into());
    back.error = Some("boom".into());
    back.admin_password_sealed = Some("sealed".into());
    back.credentials_delivered = true;
    back.purge = true;
    let back = store.update_subscription(&back).await.unwrap();
    assert_eq!(store.get_subscription(&bare.id).await.unwrap(), Some(back));
}

async fn duplicates(db: &TestDb) {
    let store = db.store().await;
    let v = vregion("dup");
    store.insert_vregion(&v).await.unwrap();
    let mut same_name = vregion("dup");
    same_name.id = new_id();
    match store.insert_vregion(&same_name).await {
        Err(StoreError::Duplicate { what: "vregion", key }) => assert_eq!(key, "dup"),
        other => panic!("expected Duplicate, got {other:?}"),
    }
    let mut same_id = vregion("other");
    same_id.id = v.id.clone();
    assert!(matches!(store.insert_vregion(&same_id).await, Err(StoreError::Duplicate { what: "vregion", .. })));
    // Renaming onto a taken name.
    let other = vregion("other");
    store.insert_vregion(&other).await.unwrap();
    let mut onto = other.clone();
    onto.spec.name = name("dup");
    match store.update_vregion(&onto).await {
        Err(StoreError::Duplicate { what: "vregion", key }) => assert_eq!(key, "dup"),
        other => panic!("expected Duplicate, got {other:?}"),
    }
    assert_eq!(store.get_vregion_by_id(&other.id).await.unwrap(), Some(other));

    let p = partner("acme");
    store.insert_partner(&p).await.unwrap();
    let mut same_name = partner("acme");
    same_name.id = new_id();
    match store.insert_partner(&same_name).await {
        Err(StoreError::Duplicate { what: "partner", key }) => assert_eq!(key, "acme"),
        other => panic!("expected Duplicate, got {other:?}"),
    }
    let mut same_project = partner("globex");
    same_project.project_id = p.project_id.clone();
    match store.insert_partner(&same_project).await {
        Err(StoreError::Duplicate { what: "partner", key }) => {
            assert!(key.contains(p.project_id.as_deref().unwrap()), "{key}")
        }
        other => panic!("expected Duplicate, got {other:?}"),
    }

    // The same subscription id twice (another partner, so not `Existing`).
    let q = partner("initech");
    store.insert_partner(&q).await.unwrap();
    let s = subscription(&v, &p);
    assert!(matches!(reserve(&store, &s, 5).await, Reservation::Reserved(_)));
    let mut again = s.clone();
    again.partner_id = q.id.clone();
    again.partner = q.name.clone();
    match store.reserve_place(&again, 5).await {
        Err(StoreError::Duplicate { what: "subscription", key }) => assert_eq!(key, s.id),
        other => panic!("expected Duplicate, got {other:?}"),
    }
}

async fn stale_and_missing(db: &TestDb) {
    let store = db.store().await;
    let (v, ps) = seed(&store, "stale", 3, 1).await;
    let p = ps[0].clone();
    let s = subscription(&v, &p);
    reserve(&store, &s, 3).await;

    // vregion
    let v2 = store.update_vregion(&v).await.unwrap();
    assert_eq!(v2.version, 2);
    assert!(matches!(store.update_vregion(&v).await, Err(StoreError::Stale { what: "vregion", .. })));
    let v3 = store.update_vregion(&v2).await.unwrap();
    assert_eq!(v3.version, 3);
    let ghost = vregion("ghost");
    match store.update_vregion(&ghost).await {
        Err(StoreError::Missing { what: "vregion", key }) => assert_eq!(key, ghost.id),
        other => panic!("expected Missing, got {other:?}"),
    }
    // partner
    let p2 = store.update_partner(&p).await.unwrap();
    assert_eq!(p2.version, 2);
    assert!(matches!(store.update_partner(&p).await, Err(StoreError::Stale { what: "partner", .. })));
    assert!(matches!(store.update_partner(&partner("ghost")).await, Err(StoreError::Missing { what: "partner", .. })));
    // subscription
    let s2 = store.update_subscription(&s).await.unwrap();
    assert_eq!(s2.version, 2);
    match store.update_subscription(&s).await {
        Err(StoreError::Stale { what: "subscription", key }) => assert_eq!(key, s.id),
        other => panic!("expected Stale, got {other:?}"),
    }
    let ghost = subscription(&v, &p);
    assert!(matches!(store.update_subscription(&ghost).await, Err(StoreError::Missing { what: "subscription", .. })));
    // The losers changed nothing.
    assert_eq!(store.get_subscription(&s.id).await.unwrap(), Some(s2));
    assert_eq!(store.get_vregion_by_id(&v.id).await.unwrap(), Some(v3));
}

async fn list_subscriptions_filters_and_order(db: &TestDb) {
    use SubscriptionState::*;
    let store = db.store().await;
    let (v1, ps) = seed(&store, "list-a", 100, 3).await;
    let (v2, _) = seed(&store, "list-b", 100, 0).await;
    // (vregion, partner, state, created_at offset, id)
    let plan = [
        (&v1, 0, Active, 30, "c1"),
        (&v1, 1, Requested, 10, "c2"),
        (&v2, 0, Cancelled, 20, "c3"),
        (&v2, 2, Provisioning, 10, "a4"), // same time as c2: ordered by id
        (&v1, 2, Revoked, 40, "c5"),
        (&v2, 1, Active, 5, "c6"),
    ];
    let mut all = Vec::new();
    for (v, p, state, t, id) in plan {
        let mut s = subscription(v, &ps[p]);
        s.id = format!("{id}-{}", new_id());
        s.state = state;
        s.created_at = at(t);
        assert!(matches!(reserve(&store, &s, 100).await, Reservation::Reserved(_)));
        all.push(s);
    }
    let ids = |filter: SubscriptionFilter| {
        let store = store.clone();
        async move {
            store
                .list_subscriptions(&filter)
                .await
                .unwrap()
                .into_iter()
                .map(|s| s.id.split('-').next().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(ids(SubscriptionFilter::default()).await, ["c6", "a4", "c2", "c3", "c1", "c5"]);
    let listed = store.list_subscriptions(&SubscriptionFilter::default()).await.unwrap();
    assert_eq!(listed.iter().find(|s| s.id == all[0].id), Some(&all[0]));

    let by_partner = SubscriptionFilter { partner_id: Some(ps[0].id.clone()), ..Default::default() };
    assert_eq!(ids(by_partner).await, ["c3", "c1"]);
    let by_vregion = SubscriptionFilter { vregion_id: Some(v2.id.clone()), ..Default::default() };
    assert_eq!(ids(by_vregion).await, ["c6", "a4", "c3"]);
    let by_states = SubscriptionFilter { states: vec![Active, Provisioning], ..Default::default() };
    assert_eq!(ids(by_states).await, ["c6", "a4", "c1"]);
    let all_three = SubscriptionFilter {
        partner_id: Some(ps[1].id.clone()),
        vregion_id: Some(v1.id.clone()),
        states: vec![Requested],
    };
    assert_eq!(ids(all_three).await, ["c2"]);
    let none = SubscriptionFilter { vregion_id: Some(v2.id.clone()), states: vec![Revoked], ..Default::default() };
    assert!(ids(none).await.is_empty());
    let unknown = SubscriptionFilter { partner_id: Some("nobody".into()), ..Default::default() };
    assert!(ids(unknown).await.is_empty());
}

async fn deletes_cascade_to_subscriptions(db: &TestDb) {
    let store = db.store().await;
    let (v1, ps) = seed(&store, "del-a", 10, 2).await;
    let (v2, _) = seed(&store, "del-b", 10, 0).await;
    let s11 = subscription(&v1, &ps[0]);
    let s12 = subscription(&v1, &ps[1]);
    let s21 = subscription(&v2, &ps[0]);
    let s22 = subscription(&v2, &ps[1]);
    for s in [&s11, &s12, &s21, &s22] {
        reserve(&store, s, 10).await;
    }

    assert!(store.delete_vregion(&v1.id).await.unwrap());
    assert_eq!(store.get_vregion_by_id(&v1.id).await.unwrap(), None);
    assert_eq!(store.get_subscription(&s11.id).await.unwrap(), None);
    assert_eq!(store.get_subscription(&s12.id).await.unwrap(), None);
    assert!(store.get_subscription(&s21.id).await.unwrap().is_some());
    assert_eq!(store.list_partners().await.unwrap().len(), 2, "partners stay");
    assert!(!store.delete_vregion(&v1.id).await.unwrap(), "second delete: nothing there");

    assert!(store.delete_partner(&ps[0].id).await.unwrap());
    assert_eq!(store.get_partner(&ps[0].name).await.unwrap(), None);
    assert_eq!(store.get_subscription(&s21.id).await.unwrap(), None);
    assert_eq!(store.get_subscription(&s22.id).await.unwrap().map(|s| s.id), Some(s22.id.clone()));
    assert!(!store.delete_partner(&ps[0].id).await.unwrap());
    assert_eq!(store.list_subscriptions(&SubscriptionFilter::default()).await.unwrap().len(), 1);
}

async fn leases(db: &TestDb) {
    let store = db.store().await;
    let other_replica = db.store().await;
    let long = Duration::from_secs(60);
    assert!(store.acquire_lease("partner:acme", "replica-a", long).await.unwrap());
    assert!(!other_replica.acquire_lease("partner:acme", "replica-b", long).await.unwrap(), "held by a");
    assert!(store.acquire_lease("partner:acme", "replica-a", long).await.unwrap(), "renewed by its holder");
    assert!(other_replica.acquire_lease("partner:globex", "replica-b", long).await.unwrap(), "another key");

    // Only the holder releases.
    other_replica.release_lease("partner:acme", "replica-b").await.unwrap();
    assert!(!other_replica.acquire_lease("partner:acme", "replica-b", long).await.unwrap());
    store.release_lease("partner:acme", "replica-a").await.unwrap();
    assert!(other_replica.acquire_lease("partner:acme", "replica-b", long).await.unwrap(), "free after release");
    assert!(!store.acquire_lease("partner:acme", "replica-a", long).await.unwrap());
    store.release_lease("never-taken", "replica-a").await.unwrap();

    // Expiry: a lease not renewed in time goes to whoever asks.
    assert!(store.acquire_lease("partner:initech", "replica-a", Duration::from_millis(200)).await.unwrap());
    assert!(!other_replica.acquire_lease("partner:initech", "replica-b", long).await.unwrap());
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(other_replica.acquire_lease("partner:initech", "replica-b", long).await.unwrap(), "expired");
    assert!(!store.acquire_lease("partner:initech", "replica-a", long).await.unwrap(), "taken over");
}

/// `renew_lease`: extends the holder's own lease only, expired or not, and
/// never takes one that is free or another holder's (a renewal racing the
/// release cannot bring the lease back).
async fn lease_renewals(db: &TestDb) {
    let store = db.store().await;
    let other_replica = db.store().await;
    let short = Duration::from_millis(300);
    let long = Duration::from_secs(60);
    assert!(!store.renew_lease("binding:x", "replica-a", long).await.unwrap(), "never taken");
    assert!(other_replica.acquire_lease("binding:x", "replica-b", short).await.unwrap(), "not taken by the renewal");
    other_replica.release_lease("binding:x", "replica-b").await.unwrap();

    // Renewed in time, it outlives its first TTL.
    assert!(store.acquire_lease("binding:x", "replica-a", short).await.unwrap());
    for _ in 0..4 {
        tokio::time::sleep(short / 3).await;
        assert!(store.renew_lease("binding:x", "replica-a", short).await.unwrap());
    }
    assert!(!other_replica.acquire_lease("binding:x", "replica-b", long).await.unwrap(), "still a's");
    assert!(!other_replica.renew_lease("binding:x", "replica-b", long).await.unwrap(), "only by its holder");

    // Expired but nobody took it: still the holder's to renew.
    tokio::time::sleep(short * 2).await;
    assert!(store.renew_lease("binding:x", "replica-a", long).await.unwrap());
    assert!(!other_replica.acquire_lease("binding:x", "replica-b", long).await.unwrap());

    // Released, or taken over after an expiry: lost for good.
    store.release_lease("binding:x", "replica-a").await.unwrap();
    assert!(!store.renew_lease("binding:x", "replica-a", long).await.unwrap(), "released");
    assert!(store.acquire_lease("binding:y", "replica-a", short).await.unwrap());
    tokio::time::sleep(short * 2).await;
    assert!(other_replica.acquire_lease("binding:y", "replica-b", long).await.unwrap(), "expired");
    assert!(!store.renew_lease("binding:y", "replica-a", long).await.unwrap(), "taken over");
    other_replica.release_lease("binding:y", "replica-b").await.unwrap();
    assert!(!store.renew_lease("binding:y", "replica-a", long).await.unwrap(), "free, not taken back");
}

async fn places_are_counted_and_freed(db: &TestDb) {
    let store = db.store().await;
    let (v, ps) = seed(&store, "places", 1, 2).await;

    let a = subscription(&v, &ps[0]);
    assert_eq!(reserve(&store, &a, 1).await, Reservation::Reserved(a.clone()));
    // The same partner again: its subscription, nothing inserted.
    let mut a_again = subscription(&v, &ps[0]);
    a_again.created_at = at(500);
    assert_eq!(reserve(&store, &a_again, 1).await, Reservation::Existing(a.clone()));
    assert_eq!(store.get_subscription(&a_again.id).await.unwrap(), None);
    // Another partner: full.
    let b = subscription(&v, &ps[1]);
    assert_eq!(reserve(&store, &b, 1).await, Reservation::Full { taken: 1 });
    assert_eq!(store.get_subscription(&b.id).await.unwrap(), None);
    assert_eq!(reserve(&store, &b, 0).await, Reservation::Full { taken: 1 });

    // Every state that holds a place holds it; the final states free it.
    let mut current = a.clone();
    for state in SubscriptionState::ALL {
        current.state = state;
        current = store.update_subscription(&current).await.unwrap();
        let candidate = subscription(&v, &ps[1]);
        let got = reserve(&store, &candidate, 1).await;
        if state.holds_a_place() {
            assert_eq!(got, Reservation::Full { taken: 1 }, "a is {state}");
        } else {
            assert_eq!(got, Reservation::Reserved(candidate.clone()), "a is {state}");
            // Give the place back for the next state.
            let cancelled = SubscriptionRecord { state: SubscriptionState::Cancelled, ..candidate };
            store.update_subscription(&cancelled).await.unwrap();
        }
    }
    // After a's cancellation its partner may subscribe anew.
    let a_new = subscription(&v, &ps[0]);
    assert_eq!(reserve(&store, &a_new, 1).await, Reservation::Reserved(a_new.clone()));

    // A vregion or partner that does not exist.
    let mut lost = subscription(&v, &ps[1]);
    lost.vregion_id = "no-such-vregion".into();
    match store.reserve_place(&lost, 5).await {
        Err(StoreError::Missing { what: "vregion", key }) => assert_eq!(key, "no-such-vregion"),
        other => panic!("expected Missing vregion, got {other:?}"),
    }
    let mut orphan = subscription(&v, &ps[1]);
    orphan.partner_id = "no-such-partner".into();
    match store.reserve_place(&orphan, 5).await {
        Err(StoreError::Missing { what: "partner", key }) => assert_eq!(key, "no-such-partner"),
        other => panic!("expected Missing partner, got {other:?}"),
    }
}

/// `racers` replicas (each its own `SqlStore`, so its own pool) reserve at
/// the same moment; returns what each got.
async fn race(db: &TestDb, records: Vec<SubscriptionRecord>, max: u32) -> Vec<Reservation> {
    // Open the replicas at the same time too (concurrent migration checks).
    let stores = futures::future::join_all(records.iter().map(|_| db.store())).await;
    let barrier = Arc::new(Barrier::new(records.len()));
    let tasks: Vec<_> = stores
        .into_iter()
        .zip(records)
        .map(|(store, record)| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let got = store.reserve_place(&record, max).await;
                store.close().await;
                got
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("racer panicked").expect("reserve_place failed"));
    }
    results
}

fn tally(results: &[Reservation]) -> (usize, usize, usize) {
    let reserved = results.iter().filter(|r| matches!(r, Reservation::Reserved(_))).count();
    let existing = results.iter().filter(|r| matches!(r, Reservation::Existing(_))).count();
    let full = results.iter().filter(|r| matches!(r, Reservation::Full { .. })).count();
    (reserved, existing, full)
}

async fn holders(store: &SqlStore, v: &VRegionRecord) -> usize {
    let filter = SubscriptionFilter { vregion_id: Some(v.id.clone()), ..Default::default() };
    store.list_subscriptions(&filter).await.unwrap().len()
}

async fn race_for_the_last_place(db: &TestDb) {
    let store = db.store().await;
    for round in 0..4 {
        let (v, ps) = seed(&store, &format!("last-{round}"), 1, 8).await;
        let records: Vec<_> = ps.iter().map(|p| subscription(&v, p)).collect();
        let results = race(db, records, 1).await;
        assert_eq!(tally(&results), (1, 0, 7), "round {round}: {results:?}");
        assert!(results.iter().all(|r| matches!(r, Reservation::Reserved(_) | Reservation::Full { taken: 1 })));
        assert_eq!(holders(&store, &v).await, 1, "round {round}");
    }
}

async fn race_for_three_places(db: &TestDb) {
    let store = db.store().await;
    for round in 0..3 {
        let (v, ps) = seed(&store, &format!("three-{round}"), 3, 10).await;
        let records: Vec<_> = ps.iter().map(|p| subscription(&v, p)).collect();
        let results = race(db, records, 3).await;
        assert_eq!(tally(&results), (3, 0, 7), "round {round}: {results:?}");
        assert!(results.iter().all(|r| matches!(r, Reservation::Reserved(_) | Reservation::Full { taken: 3 })));
        assert_eq!(holders(&store, &v).await, 3, "round {round}");
    }
}

async fn race_of_one_partner(db: &TestDb) {
    let store = db.store().await;
    for round in 0..3 {
        let (v, ps) = seed(&store, &format!("twice-{round}"), 10, 1).await;
        let records: Vec<_> = (0..4).map(|_| subscription(&v, &ps[0])).collect();
        let results = race(db, records, 10).await;
        assert_eq!(tally(&results), (1, 3, 0), "round {round}: {results:?}");
        let Some(Reservation::Reserved(winner)) = results.iter().find(|r| matches!(r, Reservation::Reserved(_))) else {
            unreachable!()
        };
        for r in &results {
            if let Reservation::Existing(s) = r {
                assert_eq!(s, winner);
            }
        }
        assert_eq!(holders(&store, &v).await, 1, "round {round}");
    }
}
