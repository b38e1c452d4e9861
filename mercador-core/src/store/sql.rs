//! [`SqlStore`]: the publisher's state in SQLite or PostgreSQL, through sqlx.
//!
//! # Design
//!
//! - **One code path for both databases.** The store talks to sqlx's `Any`
//!   driver, which picks SQLite or PostgreSQL from the URL at run time. Every
//!   statement is written once, with `$1`-style placeholders (PostgreSQL's
//!   syntax, which SQLite also accepts), and the migrations
//!   (`mercador-core/migrations/`, run on connect) are the same files for
//!   both. So the SQL sticks to what both understand: `TEXT` and `BIGINT`
//!   columns only. JSON (specs, object lists) is stored as `TEXT`; flags as
//!   `BIGINT` 0/1 (the `Any` driver cannot decode SQLite booleans);
//!   timestamps as `BIGINT` nanoseconds since the Unix epoch, UTC (exact
//!   round trips of `DateTime<Utc>`, years 1677 to 2262, and they compare and
//!   sort the same on both databases whatever the collation). Names are
//!   sorted in Rust (byte order) for the same reason.
//! - **Optimistic concurrency.** `update_*` runs `UPDATE ... SET ...,
//!   version = version + 1 WHERE id = $ AND version = $`. When no row
//!   changed, a second look tells [`StoreError::Missing`] (the row is gone)
//!   from [`StoreError::Stale`] (its version moved on).
//! - **Places, race-free.** [`PublisherStore::reserve_place`] runs in one
//!   transaction whose *first* statement writes the vregion's row
//!   (`UPDATE vregions SET places_seq = places_seq + 1`). On PostgreSQL that
//!   write takes the row lock, so reservations of one vregion queue behind
//!   each other until the holder commits, and in `READ COMMITTED` each
//!   statement after it sees what the previous holder committed. On SQLite the
//!   transaction starts with `BEGIN IMMEDIATE`, which takes the database's
//!   write lock (waiting up to the busy timeout) before anything is read, so
//!   the count cannot be stale either. Only then does it look for the
//!   partner's existing place-holding subscription, count the places taken
//!   (states whose [`SubscriptionState::holds_a_place`] is true) and insert.
//!   This holds across separate pools and processes (publisher replicas
//!   sharing one database): the lock is the database's, not the process's.
//!   A write transaction that SQLite still refuses with "database is locked"
//!   is retried a few times.
//! - **Leases** are rows `(name, holder, expires_at)`, taken with one
//!   `INSERT ... ON CONFLICT (name) DO UPDATE ... WHERE` the lease is the
//!   caller's own or has expired (SQLite ≥ 3.24 and PostgreSQL): it is taken
//!   exactly when the statement touched a row. Expiry uses this process's
//!   clock, so replicas' clocks should agree to well within a lease's TTL.
//!   A renewal is an `UPDATE` of the holder's own row only, so it never
//!   takes a lease back once another holder had it or it was released.
//! - **SQLite connections**: the file is created when missing, put in WAL
//!   mode (readers do not block the writer), with `busy_timeout` 5 s and
//!   `foreign_keys` on. `sqlite::memory:` works too, on a single connection
//!   (each connection would otherwise get its own empty database).
//! - **Secrets**: [`fmt::Debug`] and every error show the URL without its
//!   password.
//!
//! `sqlx::migrate!` embeds the migration files at build time: a changed file
//! triggers a rebuild, a *new* file is only picked up once this crate
//! recompiles for another reason (touch this file).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::error::DatabaseError;
use sqlx::{Any, AnyPool, Executor, Row, Transaction};

use super::{
    LeaseStore, PartnerRecord, PartnerState, PublisherStore, Reservation, StoreError, StoreResult, SubscriptionFilter,
    SubscriptionRecord, VRegionRecord,
};
use crate::model::{CreatedObject, Name, SubscriptionState, VRegionSpec, VRegionState};
use crate::outage::OutageKind;

/// The migrations, embedded at build time (`mercador-core/migrations/`).
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// How long an SQLite connection waits for another writer before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// How many times a write transaction refused with "database is locked" is
/// tried again (SQLite only; PostgreSQL waits for row locks).
const BUSY_RETRIES: u32 = 5;
/// How long a query waits for a connection of the pool by default (see
/// [`SqlStore::connect_with`]).
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections per pool (file databases and PostgreSQL).
const MAX_CONNECTIONS: u32 = 8;

const VREGION_COLUMNS: &str = "id, spec, state, domain_id, created_at, updated_at, version";
const PARTNER_COLUMNS: &str =
    "id, name, description, state, project_id, user_id, objects, created_at, updated_at, version";
const SUBSCRIPTION_COLUMNS: &str = "id, vregion_id, vregion, partner_id, partner, state, entity_id, metadata, \
     subscriber_keystone_url, step, error, objects, admin_password_sealed, credentials_delivered, purge, \
     created_at, updated_at, version";

/// The database behind a [`SqlStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// The publisher's store in SQLite or PostgreSQL (see the [module](self)
/// documentation for the design).
///
/// Cloning is cheap and shares the connection pool.
#[derive(Clone)]
pub struct SqlStore {
    pub(super) pool: AnyPool,
    backend: Backend,
    /// The URL without its password, for `Debug` and messages.
    redacted_url: String,
    /// The URL's password, only to scrub it from error messages.
    password: Option<String>,
}

impl fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("backend", &self.backend())
            .field("url", &self.redacted_url)
            .finish_non_exhaustive()
    }
}

impl SqlStore {
    /// Opens (SQLite: creating the file when missing) and migrates the
    /// database at `url`:
    ///
    /// - `sqlite:///absolute/path.db`, `sqlite://relative/path.db` (or
    ///   `sqlite:path.db`), `sqlite::memory:`;
    /// - `postgres://user:password@host:port/database` (or `postgresql://`),
    ///   with sqlx's query parameters (`options=-c search_path=...`, ...).
    ///
    /// Several stores (in one or several processes) may share one database.
    pub async fn connect(url: &str) -> StoreResult<SqlStore> {
        Self::connect_with(url, DEFAULT_ACQUIRE_TIMEOUT).await
    }

    /// [`Self::connect`] with the pool's acquire timeout: how long a query
    /// waits for a connection (a new one to a database that does not
    /// answer, or a free one of a busy pool) before failing with
    /// [`StoreError::Unavailable`] (default [`DEFAULT_ACQUIRE_TIMEOUT`]).
    /// An in-memory SQLite database has one connection, shared by every
    /// query, and always waits up to 30 s for it.
    pub async fn connect_with(url: &str, acquire_timeout: Duration) -> StoreResult<SqlStore> {
        sqlx::any::install_default_drivers();
        let (redacted_url, password) = redact_url(url);
        let scrub = |message: String| scrub(message, password.as_deref());
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            return Err(StoreError::Database(format!(
                "unsupported database URL {redacted_url:?}: use sqlite:///path/to/file.db or \
                 postgres://user:password@host:port/database"
            )));
        };

        let mut options = AnyPoolOptions::new().acquire_timeout(acquire_timeout.max(Duration::from_millis(100)));
        let mut connect_url = url.to_owned();
        if backend == Backend::Sqlite {
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            if in_memory {
                // One connection, kept forever: it is the database.
                options = options
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
                    .acquire_timeout(Duration::from_secs(30));
            } else {
                options = options.max_connections(MAX_CONNECTIONS);
                if !has_query_param(url, "mode") {
                    connect_url.push(if url.contains('?') { '&' } else { '?' });
                    connect_url.push_str("mode=rwc");
                }
            }
            // sqlx's defaults, but stated: they are part of the design.
            options = options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    conn.execute(format!("PRAGMA busy_timeout = {}", SQLITE_BUSY_TIMEOUT.as_millis()).as_str()).await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    Ok(())
                })
            });
        } else {
            options = options.max_connections(MAX_CONNECTIONS);
        }

        let pool = options
            .connect(&connect_url)
            .await
            .map_err(|e| StoreError::Database(scrub(format!("cannot open {redacted_url}: {e}"))))?;
        let store = SqlStore { pool, backend, redacted_url, password };

        if backend == Backend::Sqlite {
            // WAL is a property of the file: set once, it stays. Changing the
            // journal mode needs an exclusive lock that busy_timeout does not
            // wait for, hence the retries (several stores opening a new file).
            store
                .retry_busy(|| async { sqlx::query("PRAGMA journal_mode = WAL").fetch_optional(&store.pool).await })
                .await
                .map_err(|e| store.database("setting WAL mode", e))?;
        }
        store.migrate().await?;
        Ok(store)
    }

    /// `sqlite` or `postgresql`.
    pub fn backend(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgresql",
        }
    }

    /// Closes every connection of the pool (waits for those in use). The
    /// store (and its clones) can no longer be used afterwards.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Runs the migrations not applied yet. PostgreSQL serialises concurrent
    /// runs (advisory lock); on SQLite a run racing another one fails and is
    /// retried, then finds the migration applied.
    async fn migrate(&self) -> StoreResult<()> {
        let mut attempt = 0;
        loop {
            match MIGRATOR.run(&self.pool).await {
                Ok(()) => return Ok(()),
                Err(e) if attempt < BUSY_RETRIES && self.backend == Backend::Sqlite => {
                    tracing::debug!(error = %e, attempt, "migration failed (concurrent migration?); retrying");
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(e) => {
                    return Err(StoreError::Database(self.scrub(format!("cannot migrate {}: {e}", self.redacted_url))));
                }
            }
        }
    }

    /// Runs `op` again while SQLite answers "database is locked".
    pub(super) async fn retry_busy<T, F, Fut>(&self, mut op: F) -> Result<T, sqlx::Error>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, sqlx::Error>>,
    {
        let mut attempt = 0;
        loop {
            match op().await {
                Err(e) if attempt < BUSY_RETRIES && self.backend == Backend::Sqlite && is_busy(&e) => {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "SQLite is busy; retrying");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                other => return other,
            }
        }
    }

    /// A transaction that will write: on SQLite `BEGIN IMMEDIATE` takes the
    /// write lock at once (waiting up to the busy timeout), so no read inside
    /// can be invalidated by another writer; on PostgreSQL a plain `BEGIN`
    /// (the first write takes the row lock).
    pub(super) async fn begin_write(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        }
    }

    fn scrub(&self, message: String) -> String {
        scrub(message, self.password.as_deref())
    }

    /// A database error while doing `what`.
    ///
    /// Failures to reach the database (a stopped server, a refused or broken
    /// connection, no connection within the acquire timeout, a server
    /// shutting down) are [`StoreError::Unavailable`]: an outage, not a
    /// failure of the request.
    pub(super) fn database(&self, what: &str, e: sqlx::Error) -> StoreError {
        match outage_of(&e) {
            Some(kind) => StoreError::Unavailable { kind, message: self.scrub(format!("{what}: {e}")) },
            None => StoreError::Database(self.scrub(format!("{what}: {e}"))),
        }
    }

    /// Maps a failed insert or update: unique violations become
    /// [`StoreError::Duplicate`] (of `what`, with the key `key_of` gives for
    /// the violated constraint), the rest [`StoreError::Database`].
    pub(super) fn write_error(
        &self,
        what: &'static str,
        e: sqlx::Error,
        key_of: impl Fn(&str) -> String,
    ) -> StoreError {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return StoreError::Duplicate { what, key: key_of(&constraint(db.as_ref())) };
        }
        self.database(&format!("writing {what}"), e)
    }

    /// After an optimistic update changed no row: `Stale` when the row is
    /// still there (its version moved on), `Missing` when it is gone.
    pub(super) async fn stale_or_missing(&self, table: &str, what: &'static str, id: &str) -> StoreError {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE id = $1");
        match sqlx::query_scalar::<_, i64>(&sql).bind(id).fetch_one(&self.pool).await {
            Ok(0) => StoreError::Missing { what, key: id.to_owned() },
            Ok(_) => StoreError::Stale { what, key: id.to_owned() },
            Err(e) => self.database(&format!("reading {what}"), e),
        }
    }

    /// Deletes the row `id` of `table` and the subscriptions whose `column`
    /// is `id`, in one transaction. A vregion's row is first locked as a
    /// reservation locks it, so that a reservation running meanwhile either
    /// finished before (and its subscription is deleted too) or finds the
    /// vregion gone.
    async fn delete_with_subscriptions(&self, table: &str, column: &str, what: &str, id: &str) -> StoreResult<bool> {
        let deleted = self
            .retry_busy(|| async {
                let mut tx = self.begin_write().await?;
                if table == "vregions" {
                    sqlx::query("UPDATE vregions SET places_seq = places_seq + 1 WHERE id = $1")
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query(&format!("DELETE FROM subscriptions WHERE {column} = $1"))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                let rows =
                    sqlx::query(&format!("DELETE FROM {table} WHERE id = $1")).bind(id).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(rows.rows_affected())
            })
            .await
            .map_err(|e| self.database(&format!("deleting {what}"), e))?;
        Ok(deleted > 0)
    }

    async fn fetch_vregion(&self, column: &str, value: &str) -> StoreResult<Option<VRegionRecord>> {
        let sql = format!("SELECT {VREGION_COLUMNS} FROM vregions WHERE {column} = $1");
        let row = sqlx::query(&sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.database("reading vregion", e))?;
        row.as_ref().map(vregion_from_row).transpose()
    }

    async fn fetch_partner(&self, column: &str, value: &str) -> StoreResult<Option<PartnerRecord>> {
        let sql = format!("SELECT {PARTNER_COLUMNS} FROM partners WHERE {column} = $1");
        let row = sqlx::query(&sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.database("reading partner", e))?;
        row.as_ref().map(partner_from_row).transpose()
    }

    /// One attempt of [`PublisherStore::reserve_place`]: `None` when the
    /// vregion does not exist.
    async fn try_reserve(&self, record: &SubscriptionRecord, max: u32) -> Result<Option<Reservation>, ReserveError> {
        let mut tx = self.begin_write().await?;
        // First statement: a write on the vregion's row. It takes the lock
        // that serialises reservations of this vregion (see the module doc).
        let locked = sqlx::query("UPDATE vregions SET places_seq = places_seq + 1 WHERE id = $1")
            .bind(&record.vregion_id)
            .execute(&mut *tx)
            .await?;
        if locked.rows_affected() == 0 {
            tx.rollback().await?;
            return Ok(None);
        }

        let holding: Vec<&'static str> =
            SubscriptionState::ALL.into_iter().filter(|s| s.holds_a_place()).map(SubscriptionState::as_str).collect();
        let existing_sql = format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE vregion_id = $1 AND partner_id = $2 \
             AND state IN ({}) ORDER BY created_at, id LIMIT 1",
            placeholders(3, holding.len())
        );
        let mut existing = sqlx::query(&existing_sql).bind(&record.vregion_id).bind(&record.partner_id);
        for state in &holding {
            existing = existing.bind(*state);
        }
        if let Some(row) = existing.fetch_optional(&mut *tx).await? {
            tx.rollback().await?;
            return Ok(Some(Reservation::Existing(subscription_from_row(&row)?)));
        }

        let count_sql = format!(
            "SELECT COUNT(*) FROM subscriptions WHERE vregion_id = $1 AND state IN ({})",
            placeholders(2, holding.len())
        );
        let mut count = sqlx::query_scalar::<_, i64>(&count_sql).bind(&record.vregion_id);
        for state in &holding {
            count = count.bind(*state);
        }
        let taken = count.fetch_one(&mut *tx).await?;
        if taken >= i64::from(max) {
            tx.rollback().await?;
            return Ok(Some(Reservation::Full { taken: u32::try_from(taken).unwrap_or(u32::MAX) }));
        }

        let row = SubscriptionRow::new(record)?;
        let insert = format!(
            "INSERT INTO subscriptions ({SUBSCRIPTION_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
        );
        sqlx::query(&insert)
            .bind(&record.id)
            .bind(&record.vregion_id)
            .bind(record.vregion.as_str())
            .bind(&record.partner_id)
            .bind(record.partner.as_str())
            .bind(record.state.as_str())
            .bind(&record.entity_id)
            .bind(&record.metadata)
            .bind(record.subscriber_keystone_url.as_deref())
            .bind(record.step.as_deref())
            .bind(record.error.as_deref())
            .bind(&row.objects)
            .bind(record.admin_password_sealed.as_deref())
            .bind(i64::from(record.credentials_delivered))
            .bind(i64::from(record.purge))
            .bind(row.created_at)
            .bind(row.updated_at)
            .bind(record.version)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(Reservation::Reserved(record.clone())))
    }
}

/// Why one attempt of a reservation failed.
enum ReserveError {
    Sql(sqlx::Error),
    Store(StoreError),
}

impl From<sqlx::Error> for ReserveError {
    fn from(e: sqlx::Error) -> Self {
        Self::Sql(e)
    }
}

impl From<StoreError> for ReserveError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

#[async_trait]
impl PublisherStore for SqlStore {
    async fn insert_vregion(&self, record: &VRegionRecord) -> StoreResult<()> {
        let spec = to_json(&record.spec)?;
        let (created_at, updated_at) = (nanos(record.created_at)?, nanos(record.updated_at)?);
        sqlx::query(
            "INSERT INTO vregions (id, name, spec, state, domain_id, places_seq, created_at, updated_at, version) \
             VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8)",
        )
        .bind(&record.id)
        .bind(record.spec.name.as_str())
        .bind(&spec)
        .bind(record.state.as_str())
        .bind(record.domain_id.as_deref())
        .bind(created_at)
        .bind(updated_at)
        .bind(record.version)
        .execute(&self.pool)
        .await
        .map_err(|e| {
            self.write_error("vregion", e, |c| {
                if c.contains("name") { record.spec.name.to_string() } else { record.id.clone() }
            })
        })?;
        Ok(())
    }

    async fn get_vregion(&self, name: &Name) -> StoreResult<Option<VRegionRecord>> {
        self.fetch_vregion("name", name.as_str()).await
    }

    async fn get_vregion_by_id(&self, id: &str) -> StoreResult<Option<VRegionRecord>> {
        self.fetch_vregion("id", id).await
    }

    async fn list_vregions(&self) -> StoreResult<Vec<VRegionRecord>> {
        let rows = sqlx::query(&format!("SELECT {VREGION_COLUMNS} FROM vregions"))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.database("listing vregions", e))?;
        let mut records = rows.iter().map(vregion_from_row).collect::<StoreResult<Vec<_>>>()?;
        records.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
        Ok(records)
    }

    async fn update_vregion(&self, record: &VRegionRecord) -> StoreResult<VRegionRecord> {
        let spec = to_json(&record.spec)?;
        let (created_at, updated_at) = (nanos(record.created_at)?, nanos(record.updated_at)?);
        let done = sqlx::query(
            "UPDATE vregions SET name = $1, spec = $2, state = $3, domain_id = $4, created_at = $5, updated_at = $6, \
             version = version + 1 WHERE id = $7 AND version = $8",
        )
        .bind(record.spec.name.as_str())
        .bind(&spec)
        .bind(record.state.as_str())
        .bind(record.domain_id.as_deref())
        .bind(created_at)
        .bind(updated_at)
        .bind(&record.id)
        .bind(record.version)
        .execute(&self.pool)
        .await
        .map_err(|e| self.write_error("vregion", e, |_| record.spec.name.to_string()))?;
        if done.rows_affected() == 0 {
            return Err(self.stale_or_missing("vregions", "vregion", &record.id).await);
        }
        Ok(VRegionRecord { version: record.version + 1, ..record.clone() })
    }

    async fn delete_vregion(&self, id: &str) -> StoreResult<bool> {
        self.delete_with_subscriptions("vregions", "vregion_id", "vregion", id).await
    }

    async fn insert_partner(&self, record: &PartnerRecord) -> StoreResult<()> {
        let objects = to_json(&record.objects)?;
        let (created_at, updated_at) = (nanos(record.created_at)?, nanos(record.updated_at)?);
        sqlx::query(&format!(
            "INSERT INTO partners ({PARTNER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ))
        .bind(&record.id)
        .bind(record.name.as_str())
        .bind(&record.description)
        .bind(record.state.as_str())
        .bind(record.project_id.as_deref())
        .bind(record.user_id.as_deref())
        .bind(&objects)
        .bind(created_at)
        .bind(updated_at)
        .bind(record.version)
        .execute(&self.pool)
        .await
        .map_err(|e| self.write_error("partner", e, |c| partner_key(record, c)))?;
        Ok(())
    }

    async fn get_partner(&self, name: &Name) -> StoreResult<Option<PartnerRecord>> {
        self.fetch_partner("name", name.as_str()).await
    }

    async fn get_partner_by_project(&self, project_id: &str) -> StoreResult<Option<PartnerRecord>> {
        self.fetch_partner("project_id", project_id).await
    }

    async fn list_partners(&self) -> StoreResult<Vec<PartnerRecord>> {
        let rows = sqlx::query(&format!("SELECT {PARTNER_COLUMNS} FROM partners"))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.database("listing partners", e))?;
        let mut records = rows.iter().map(partner_from_row).collect::<StoreResult<Vec<_>>>()?;
        records.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(records)
    }

    async fn update_partner(&self, record: &PartnerRecord) -> StoreResult<PartnerRecord> {
        let objects = to_json(&record.objects)?;
        let (created_at, updated_at) = (nanos(record.created_at)?, nanos(record.updated_at)?);
        let done = sqlx::query(
            "UPDATE partners SET name = $1, description = $2, state = $3, project_id = $4, user_id = $5, \
             objects = $6, created_at = $7, updated_at = $8, version = version + 1 WHERE id = $9 AND version = $10",
        )
        .bind(record.name.as_str())
        .bind(&record.description)
        .bind(record.state.as_str())
        .bind(record.project_id.as_deref())
        .bind(record.user_id.as_deref())
        .bind(&objects)
        .bind(created_at)
        .bind(updated_at)
        .bind(&record.id)
        .bind(record.version)
        .execute(&self.pool)
        .await
        .map_err(|e| self.write_error("partner", e, |c| partner_key(record, c)))?;
        if done.rows_affected() == 0 {
            return Err(self.stale_or_missing("partners", "partner", &record.id).await);
        }
        Ok(PartnerRecord { version: record.version + 1, ..record.clone() })
    }

    async fn delete_partner(&self, id: &str) -> StoreResult<bool> {
        self.delete_with_subscriptions("partners", "partner_id", "partner", id).await
    }

    async fn reserve_place(&self, record: &SubscriptionRecord, max: u32) -> StoreResult<Reservation> {
        let mut attempt = 0;
        loop {
            match self.try_reserve(record, max).await {
                Ok(Some(reservation)) => return Ok(reservation),
                Ok(None) => return Err(StoreError::Missing { what: "vregion", key: record.vregion_id.clone() }),
                Err(ReserveError::Store(e)) => return Err(e),
                Err(ReserveError::Sql(e))
                    if attempt < BUSY_RETRIES && self.backend == Backend::Sqlite && is_busy(&e) =>
                {
                    attempt += 1;
                    tracing::debug!(error = %e, attempt, "SQLite is busy; retrying the reservation");
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Err(ReserveError::Sql(sqlx::Error::Database(db))) if db.is_foreign_key_violation() => {
                    // The vregion's row exists (it was locked): the partner is missing.
                    return Err(StoreError::Missing { what: "partner", key: record.partner_id.clone() });
                }
                Err(ReserveError::Sql(e)) => {
                    return Err(self.write_error("subscription", e, |_| record.id.clone()));
                }
            }
        }
    }

    async fn get_subscription(&self, id: &str) -> StoreResult<Option<SubscriptionRecord>> {
        let row = sqlx::query(&format!("SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.database("reading subscription", e))?;
        row.as_ref().map(subscription_from_row).transpose()
    }

    async fn list_subscriptions(&self, filter: &SubscriptionFilter) -> StoreResult<Vec<SubscriptionRecord>> {
        let mut sql = format!("SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE 1 = 1");
        let mut args: Vec<&str> = Vec::new();
        if let Some(partner_id) = &filter.partner_id {
            args.push(partner_id);
            sql.push_str(&format!(" AND partner_id = ${}", args.len()));
        }
        if let Some(vregion_id) = &filter.vregion_id {
            args.push(vregion_id);
            sql.push_str(&format!(" AND vregion_id = ${}", args.len()));
        }
        if !filter.states.is_empty() {
            sql.push_str(&format!(" AND state IN ({})", placeholders(args.len() + 1, filter.states.len())));
            args.extend(filter.states.iter().map(|s| s.as_str()));
        }
        sql.push_str(" ORDER BY created_at, id");
        let mut query = sqlx::query(&sql);
        for arg in args {
            query = query.bind(arg);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(|e| self.database("listing subscriptions", e))?;
        let mut records = rows.iter().map(subscription_from_row).collect::<StoreResult<Vec<_>>>()?;
        // The database's collation may order ids differently: settle ties in byte order.
        records.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(records)
    }

    async fn update_subscription(&self, record: &SubscriptionRecord) -> StoreResult<SubscriptionRecord> {
        let row = SubscriptionRow::new(record)?;
        let done = sqlx::query(
            "UPDATE subscriptions SET vregion_id = $1, vregion = $2, partner_id = $3, partner = $4, state = $5, \
             entity_id = $6, metadata = $7, subscriber_keystone_url = $8, step = $9, error = $10, objects = $11, \
             admin_password_sealed = $12, credentials_delivered = $13, purge = $14, created_at = $15, \
             updated_at = $16, version = version + 1 WHERE id = $17 AND version = $18",
        )
        .bind(&record.vregion_id)
        .bind(record.vregion.as_str())
        .bind(&record.partner_id)
        .bind(record.partner.as_str())
        .bind(record.state.as_str())
        .bind(&record.entity_id)
        .bind(&record.metadata)
        .bind(record.subscriber_keystone_url.as_deref())
        .bind(record.step.as_deref())
        .bind(record.error.as_deref())
        .bind(&row.objects)
        .bind(record.admin_password_sealed.as_deref())
        .bind(i64::from(record.credentials_delivered))
        .bind(i64::from(record.purge))
        .bind(row.created_at)
        .bind(row.updated_at)
        .bind(&record.id)
        .bind(record.version)
        .execute(&self.pool)
        .await
        .map_err(|e| self.write_error("subscription", e, |_| record.id.clone()))?;
        if done.rows_affected() == 0 {
            return Err(self.stale_or_missing("subscriptions", "subscription", &record.id).await);
        }
        Ok(SubscriptionRecord { version: record.version + 1, ..record.clone() })
    }
}

#[async_trait]
impl LeaseStore for SqlStore {
    async fn acquire_lease(&self, key: &str, holder: &str, ttl: Duration) -> StoreResult<bool> {
        let now = nanos(Utc::now())?;
        let ttl = i64::try_from(ttl.as_nanos()).unwrap_or(i64::MAX);
        let expires_at = now.saturating_add(ttl);
        let done = self
            .retry_busy(|| async {
                sqlx::query(
                    "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at \
                     WHERE leases.holder = excluded.holder OR leases.expires_at < $4",
                )
                .bind(key)
                .bind(holder)
                .bind(expires_at)
                .bind(now)
                .execute(&self.pool)
                .await
            })
            .await
            .map_err(|e| self.database("taking lease", e))?;
        Ok(done.rows_affected() > 0)
    }

    async fn renew_lease(&self, key: &str, holder: &str, ttl: Duration) -> StoreResult<bool> {
        let now = nanos(Utc::now())?;
        let ttl = i64::try_from(ttl.as_nanos()).unwrap_or(i64::MAX);
        let expires_at = now.saturating_add(ttl);
        let done = self
            .retry_busy(|| async {
                sqlx::query("UPDATE leases SET expires_at = $3 WHERE name = $1 AND holder = $2")
                    .bind(key)
                    .bind(holder)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await
            })
            .await
            .map_err(|e| self.database("renewing lease", e))?;
        Ok(done.rows_affected() > 0)
    }

    async fn release_lease(&self, key: &str, holder: &str) -> StoreResult<()> {
        self.retry_busy(|| async {
            sqlx::query("DELETE FROM leases WHERE name = $1 AND holder = $2")
                .bind(key)
                .bind(holder)
                .execute(&self.pool)
                .await
        })
        .await
        .map_err(|e| self.database("releasing lease", e))?;
        Ok(())
    }
}

/// The encoded columns of a subscription.
struct SubscriptionRow {
    objects: String,
    created_at: i64,
    updated_at: i64,
}

impl SubscriptionRow {
    fn new(record: &SubscriptionRecord) -> StoreResult<Self> {
        Ok(Self {
            objects: to_json(&record.objects)?,
            created_at: nanos(record.created_at)?,
            updated_at: nanos(record.updated_at)?,
        })
    }
}

/// The key a partner's unique violation is about.
fn partner_key(record: &PartnerRecord, constraint: &str) -> String {
    if constraint.contains("project_id") {
        format!("project {}", record.project_id.as_deref().unwrap_or_default())
    } else if constraint.contains("name") {
        record.name.to_string()
    } else {
        record.id.clone()
    }
}

/// The violated constraint (PostgreSQL), or the message naming the columns
/// (SQLite: `UNIQUE constraint failed: vregions.name`).
fn constraint(db: &dyn DatabaseError) -> String {
    db.constraint().map_or_else(|| db.message().to_owned(), str::to_owned)
}

/// True for SQLite's "database is locked" / "database table is locked".
/// The outage a driver error stands for, if any: no connection in time
/// (too slow); I/O, TLS, a closed pool or a dead worker (unreachable);
/// PostgreSQL's connection exceptions (SQLSTATE class 08) and "shutting
/// down / starting up" (57P01..57P03) (refusing).
fn outage_of(e: &sqlx::Error) -> Option<OutageKind> {
    match e {
        sqlx::Error::PoolTimedOut => Some(OutageKind::TooSlow),
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
            Some(OutageKind::Unreachable)
        }
        sqlx::Error::Protocol(m) if m.contains("closed") || m.contains("EOF") => Some(OutageKind::Unreachable),
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            (code.starts_with("08") || matches!(code.as_ref(), "57P01" | "57P02" | "57P03"))
                .then_some(OutageKind::Refusing)
        }
        _ => None,
    }
}

fn is_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            // SQLITE_BUSY (5) and SQLITE_LOCKED (6), with their extended codes.
            let primary = db.code().and_then(|c| c.parse::<i32>().ok()).map(|c| c & 0xff);
            matches!(primary, Some(5 | 6)) || db.message().contains("is locked")
        }
        _ => false,
    }
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(20 * u64::from(attempt * attempt))
}

/// `$start, $start+1, ...` (`n` of them).
pub(super) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// Nanoseconds since the Unix epoch.
pub(super) fn nanos(t: DateTime<Utc>) -> StoreResult<i64> {
    t.timestamp_nanos_opt()
        .ok_or_else(|| StoreError::Database(format!("timestamp {t} cannot be stored (years 1677 to 2262 only)")))
}

pub(super) fn to_json<T: serde::Serialize>(value: &T) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Database(format!("cannot encode a record as JSON: {e}")))
}

pub(super) fn from_json<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

pub(super) fn get<'r, T>(row: &'r AnyRow, column: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    row.try_get(column).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

pub(super) fn time(row: &AnyRow, column: &str) -> StoreResult<DateTime<Utc>> {
    Ok(DateTime::from_timestamp_nanos(get::<i64>(row, column)?))
}

pub(super) fn name(row: &AnyRow, column: &str) -> StoreResult<Name> {
    let text: String = get(row, column)?;
    Name::parse(column, &text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn flag(row: &AnyRow, column: &str) -> StoreResult<bool> {
    Ok(get::<i64>(row, column)? != 0)
}

fn vregion_from_row(row: &AnyRow) -> StoreResult<VRegionRecord> {
    let state: String = get(row, "state")?;
    Ok(VRegionRecord {
        id: get(row, "id")?,
        spec: from_json::<VRegionSpec>("vregions.spec", &get::<String>(row, "spec")?)?,
        state: VRegionState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("vregions.state: unknown state {state:?}")))?,
        domain_id: get(row, "domain_id")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
        version: get(row, "version")?,
    })
}

fn partner_from_row(row: &AnyRow) -> StoreResult<PartnerRecord> {
    let state: String = get(row, "state")?;
    Ok(PartnerRecord {
        id: get(row, "id")?,
        name: name(row, "name")?,
        description: get(row, "description")?,
        state: parse_partner_state(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("partners.state: unknown state {state:?}")))?,
        project_id: get(row, "project_id")?,
        user_id: get(row, "user_id")?,
        objects: from_json::<Vec<CreatedObject>>("partners.objects", &get::<String>(row, "objects")?)?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
        version: get(row, "version")?,
    })
}

fn parse_partner_state(s: &str) -> Option<PartnerState> {
    [PartnerState::Onboarding, PartnerState::Active, PartnerState::Removing].into_iter().find(|p| p.as_str() == s)
}

fn subscription_from_row(row: &AnyRow) -> StoreResult<SubscriptionRecord> {
    let state: String = get(row, "state")?;
    Ok(SubscriptionRecord {
        id: get(row, "id")?,
        vregion_id: get(row, "vregion_id")?,
        vregion: name(row, "vregion")?,
        partner_id: get(row, "partner_id")?,
        partner: name(row, "partner")?,
        state: SubscriptionState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("subscriptions.state: unknown state {state:?}")))?,
        entity_id: get(row, "entity_id")?,
        metadata: get(row, "metadata")?,
        subscriber_keystone_url: get(row, "subscriber_keystone_url")?,
        step: get(row, "step")?,
        error: get(row, "error")?,
        objects: from_json::<Vec<CreatedObject>>("subscriptions.objects", &get::<String>(row, "objects")?)?,
        admin_password_sealed: get(row, "admin_password_sealed")?,
        credentials_delivered: flag(row, "credentials_delivered")?,
        purge: flag(row, "purge")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
        version: get(row, "version")?,
    })
}

/// True when the URL's query has the parameter `key`.
fn has_query_param(url: &str, key: &str) -> bool {
    url.split_once('?').is_some_and(|(_, query)| url::form_urlencoded::parse(query.as_bytes()).any(|(k, _)| k == key))
}

/// The URL with its password (user info, or a `password` query parameter)
/// replaced by `***`, and that password.
fn redact_url(url: &str) -> (String, Option<String>) {
    let Ok(mut parsed) = url::Url::parse(url) else {
        // Not a URL we can take apart: show only its scheme.
        let scheme = url.split_once(':').map_or("", |(s, _)| s);
        return (format!("{scheme}:<unparsable URL>"), None);
    };
    let mut password =
        parsed.password().map(|p| percent_encoding::percent_decode_str(p).decode_utf8_lossy().into_owned());
    if password.is_some() {
        // Only fails for URLs that cannot have a password, which this has.
        let _ = parsed.set_password(Some("***"));
    }
    if parsed.query_pairs().any(|(k, _)| k == "password") {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                if k == "password" {
                    password.get_or_insert_with(|| v.clone().into_owned());
                    (k.into_owned(), "***".to_owned())
                } else {
                    (k.into_owned(), v.into_owned())
                }
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    (parsed.to_string(), password.filter(|p| !p.is_empty()))
}

/// `message` with every occurrence of `password` replaced by `***`.
fn scrub(message: String, password: Option<&str>) -> String {
    match password {
        Some(p) if message.contains(p) => message.replace(p, "***"),
        _ => message,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn urls_are_redacted() {
        let (shown, password) = redact_url("postgres://mercador:s3cr%40t@127.0.0.1:5003/mercador");
        assert_eq!(shown, "postgres://mercador:***@127.0.0.1:5003/mercador");
        assert_eq!(password.as_deref(), Some("s3cr@t"));
        let (shown, password) = redact_url("postgres://u@h/db?password=hunter2&sslmode=disable");
        assert!(!shown.contains("hunter2") && shown.contains("sslmode=disable"), "{shown}");
        assert_eq!(password.as_deref(), Some("hunter2"));
        let (shown, password) = redact_url("sqlite:///tmp/x.db");
        assert_eq!((shown.as_str(), password), ("sqlite:///tmp/x.db", None));
        assert_eq!(scrub("bad s3cr@t here".into(), Some("s3cr@t")), "bad *** here");
    }

    #[test]
    fn helpers() {
        assert_eq!(placeholders(3, 2), "$3, $4");
        assert!(has_query_param("sqlite://a.db?mode=ro", "mode"));
        assert!(!has_query_param("sqlite://a.db", "mode"));
        let t = DateTime::from_timestamp_nanos(1_700_000_000_123_456_789);
        assert_eq!(DateTime::from_timestamp_nanos(nanos(t).unwrap()), t);
        assert!(parse_partner_state("removing") == Some(PartnerState::Removing) && parse_partner_state("x").is_none());
        assert!(backoff(1) < backoff(2));
    }

    #[tokio::test]
    async fn unsupported_urls_are_refused_without_their_password() {
        let e = SqlStore::connect("mysql://root:topsecret@localhost/db").await.unwrap_err();
        let text = e.to_string();
        assert!(text.contains("unsupported") && !text.contains("topsecret"), "{text}");
    }

    #[tokio::test]
    async fn in_memory_sqlite_migrates_and_leases() {
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        assert_eq!(store.backend(), "sqlite");
        assert!(format!("{store:?}").contains("sqlite"));
        assert!(store.acquire_lease("k", "a", Duration::from_secs(60)).await.unwrap());
        assert!(!store.acquire_lease("k", "b", Duration::from_secs(60)).await.unwrap());
        store.release_lease("k", "a").await.unwrap();
        assert!(store.acquire_lease("k", "b", Duration::from_secs(60)).await.unwrap());
        assert!(store.list_vregions().await.unwrap().is_empty());
    }
}
