//! [`SubscriberStore`] on [`SqlStore`]: the same design as the publisher's
//! tables (see [`super::sql`]): one code path for SQLite and PostgreSQL,
//! optimistic updates, JSON as TEXT, timestamps as BIGINT nanoseconds.

use async_trait::async_trait;
use sqlx::any::AnyRow;

use super::sql::{from_json, get, name, nanos, placeholders, time, to_json};
use super::subscriber::{BindingFilter, BindingRecord, PublisherRecord, SubscriberStore};
use super::{SqlStore, StoreError, StoreResult};
use crate::model::{CreatedObject, SubscriptionState};
use crate::publisher::OfferedService;

const PUBLISHER_COLUMNS: &str =
    "id, name, keystone_url, exchange_url, credential_id, credential_secret_sealed, created_at, updated_at, version";
const BINDING_COLUMNS: &str = "id, alias, publisher_id, publisher, vregion, state, remote_subscription_id, \
     remote_region, sp_auth_url, sp_url, services, admin_password_sealed, step, error, objects, created_at, \
     updated_at, version";

impl SqlStore {
    async fn fetch_sub_publisher(&self, column: &str, value: &str) -> StoreResult<Option<PublisherRecord>> {
        let sql = format!("SELECT {PUBLISHER_COLUMNS} FROM sub_publishers WHERE {column} = $1");
        let row = sqlx::query(&sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.database("reading publisher", e))?;
        row.as_ref().map(publisher_from_row).transpose()
    }
}

/// Binds a binding's columns from `alias` to `updated_at`, in the order of
/// [`BINDING_COLUMNS`] (the insert binds `id` before, both bind `version` after).
fn bind_binding_fields<'q>(
    query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    record: &'q BindingRecord,
) -> StoreResult<sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>> {
    Ok(query
        .bind(record.alias.as_str())
        .bind(&record.publisher_id)
        .bind(record.publisher.as_str())
        .bind(record.vregion.as_str())
        .bind(record.state.as_str())
        .bind(record.remote_subscription_id.as_deref())
        .bind(record.remote_region.as_deref())
        .bind(record.sp_auth_url.as_deref())
        .bind(record.sp_url.as_deref())
        .bind(to_json(&record.services)?)
        .bind(record.admin_password_sealed.as_deref())
        .bind(record.step.as_deref())
        .bind(record.error.as_deref())
        .bind(to_json(&record.objects)?)
        .bind(nanos(record.created_at)?)
        .bind(nanos(record.updated_at)?))
}

/// The key a binding's unique violation is about.
fn binding_key(record: &BindingRecord, constraint: &str) -> String {
    if constraint.contains("vregion") {
        format!("vregion {} of {}", record.vregion, record.publisher)
    } else if constraint.contains("alias") {
        record.alias.to_string()
    } else {
        record.id.clone()
    }
}

#[async_trait]
impl SubscriberStore for SqlStore {
    async fn insert_publisher(&self, record: &PublisherRecord) -> StoreResult<()> {
        let sql =
            format!("INSERT INTO sub_publishers ({PUBLISHER_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
        sqlx::query(&sql)
            .bind(&record.id)
            .bind(record.name.as_str())
            .bind(&record.keystone_url)
            .bind(record.exchange_url.as_deref())
            .bind(&record.credential_id)
            .bind(&record.credential_secret_sealed)
            .bind(nanos(record.created_at)?)
            .bind(nanos(record.updated_at)?)
            .bind(record.version)
            .execute(&self.pool)
            .await
            .map_err(|e| {
                self.write_error("publisher", e, |c| {
                    if c.contains("name") { record.name.to_string() } else { record.id.clone() }
                })
            })?;
        Ok(())
    }

    async fn get_publisher(&self, name: &crate::model::Name) -> StoreResult<Option<PublisherRecord>> {
        self.fetch_sub_publisher("name", name.as_str()).await
    }

    async fn get_publisher_by_id(&self, id: &str) -> StoreResult<Option<PublisherRecord>> {
        self.fetch_sub_publisher("id", id).await
    }

    async fn list_publishers(&self) -> StoreResult<Vec<PublisherRecord>> {
        let rows = sqlx::query(&format!("SELECT {PUBLISHER_COLUMNS} FROM sub_publishers"))
            .fetch_all(&self.pool)
            .await
            .map_err(|e| self.database("listing publishers", e))?;
        let mut records = rows.iter().map(publisher_from_row).collect::<StoreResult<Vec<_>>>()?;
        records.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
        Ok(records)
    }

    async fn update_publisher(&self, record: &PublisherRecord) -> StoreResult<PublisherRecord> {
        let done = sqlx::query(
            "UPDATE sub_publishers SET name = $1, keystone_url = $2, credential_id = $3, \
             credential_secret_sealed = $4, created_at = $5, updated_at = $6, exchange_url = $7, \
             version = version + 1 WHERE id = $8 AND version = $9",
        )
        .bind(record.name.as_str())
        .bind(&record.keystone_url)
        .bind(&record.credential_id)
        .bind(&record.credential_secret_sealed)
        .bind(nanos(record.created_at)?)
        .bind(nanos(record.updated_at)?)
        .bind(record.exchange_url.as_deref())
        .bind(&record.id)
        .bind(record.version)
        .execute(&self.pool)
        .await
        .map_err(|e| self.write_error("publisher", e, |_| record.name.to_string()))?;
        if done.rows_affected() == 0 {
            return Err(self.stale_or_missing("sub_publishers", "publisher", &record.id).await);
        }
        Ok(PublisherRecord { version: record.version + 1, ..record.clone() })
    }

    async fn delete_publisher(&self, id: &str) -> StoreResult<bool> {
        let deleted = self
            .retry_busy(|| async {
                let mut tx = self.begin_write().await?;
                sqlx::query("DELETE FROM bindings WHERE publisher_id = $1").bind(id).execute(&mut *tx).await?;
                let rows = sqlx::query("DELETE FROM sub_publishers WHERE id = $1").bind(id).execute(&mut *tx).await?;
                tx.commit().await?;
                Ok(rows.rows_affected())
            })
            .await
            .map_err(|e| self.database("deleting publisher", e))?;
        Ok(deleted > 0)
    }

    async fn insert_binding(&self, record: &BindingRecord) -> StoreResult<()> {
        let sql = format!(
            "INSERT INTO bindings ({BINDING_COLUMNS}) VALUES \
             ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
        );
        bind_binding_fields(sqlx::query(&sql).bind(&record.id), record)?
            .bind(record.version)
            .execute(&self.pool)
            .await
            .map_err(|e| self.write_error("binding", e, |c| binding_key(record, c)))?;
        Ok(())
    }

    async fn get_binding(&self, id: &str) -> StoreResult<Option<BindingRecord>> {
        let row = sqlx::query(&format!("SELECT {BINDING_COLUMNS} FROM bindings WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| self.database("reading binding", e))?;
        row.as_ref().map(binding_from_row).transpose()
    }

    async fn list_bindings(&self, filter: &BindingFilter) -> StoreResult<Vec<BindingRecord>> {
        let mut sql = format!("SELECT {BINDING_COLUMNS} FROM bindings WHERE 1 = 1");
        let mut args: Vec<&str> = Vec::new();
        if let Some(publisher_id) = &filter.publisher_id {
            args.push(publisher_id);
            sql.push_str(&format!(" AND publisher_id = ${}", args.len()));
        }
        if let Some(alias) = &filter.alias {
            args.push(alias);
            sql.push_str(&format!(" AND alias = ${}", args.len()));
        }
        if !filter.states.is_empty() {
            sql.push_str(&format!(" AND state IN ({})", placeholders(args.len() + 1, filter.states.len())));
            args.extend(filter.states.iter().map(|s| s.as_str()));
        }
        let mut query = sqlx::query(&sql);
        for arg in args {
            query = query.bind(arg);
        }
        let rows = query.fetch_all(&self.pool).await.map_err(|e| self.database("listing bindings", e))?;
        let mut records = rows.iter().map(binding_from_row).collect::<StoreResult<Vec<_>>>()?;
        records.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(records)
    }

    async fn update_binding(&self, record: &BindingRecord) -> StoreResult<BindingRecord> {
        let query = sqlx::query(
            "UPDATE bindings SET alias = $1, publisher_id = $2, publisher = $3, vregion = $4, state = $5, \
             remote_subscription_id = $6, remote_region = $7, sp_auth_url = $8, sp_url = $9, services = $10, \
             admin_password_sealed = $11, step = $12, error = $13, objects = $14, created_at = $15, \
             updated_at = $16, version = version + 1 WHERE id = $17 AND version = $18",
        );
        let done = bind_binding_fields(query, record)?
            .bind(&record.id)
            .bind(record.version)
            .execute(&self.pool)
            .await
            .map_err(|e| self.write_error("binding", e, |c| binding_key(record, c)))?;
        if done.rows_affected() == 0 {
            return Err(self.stale_or_missing("bindings", "binding", &record.id).await);
        }
        Ok(BindingRecord { version: record.version + 1, ..record.clone() })
    }

    async fn delete_binding(&self, id: &str) -> StoreResult<bool> {
        let done = sqlx::query("DELETE FROM bindings WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| self.database("deleting binding", e))?;
        Ok(done.rows_affected() > 0)
    }
}

fn publisher_from_row(row: &AnyRow) -> StoreResult<PublisherRecord> {
    Ok(PublisherRecord {
        id: get(row, "id")?,
        name: name(row, "name")?,
        keystone_url: get(row, "keystone_url")?,
        exchange_url: get(row, "exchange_url")?,
        credential_id: get(row, "credential_id")?,
        credential_secret_sealed: get(row, "credential_secret_sealed")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
        version: get(row, "version")?,
    })
}

fn binding_from_row(row: &AnyRow) -> StoreResult<BindingRecord> {
    let state: String = get(row, "state")?;
    Ok(BindingRecord {
        id: get(row, "id")?,
        alias: name(row, "alias")?,
        publisher_id: get(row, "publisher_id")?,
        publisher: name(row, "publisher")?,
        vregion: name(row, "vregion")?,
        state: SubscriptionState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("bindings.state: unknown state {state:?}")))?,
        remote_subscription_id: get(row, "remote_subscription_id")?,
        remote_region: get(row, "remote_region")?,
        sp_auth_url: get(row, "sp_auth_url")?,
        sp_url: get(row, "sp_url")?,
        services: from_json::<Vec<OfferedService>>("bindings.services", &get::<String>(row, "services")?)?,
        admin_password_sealed: get(row, "admin_password_sealed")?,
        step: get(row, "step")?,
        error: get(row, "error")?,
        objects: from_json::<Vec<CreatedObject>>("bindings.objects", &get::<String>(row, "objects")?)?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
        version: get(row, "version")?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::model::Name;

    fn n(s: &str) -> Name {
        Name::parse("name", s).unwrap()
    }

    fn binding(id: &str, alias: &str, publisher_id: &str, vregion: &str) -> BindingRecord {
        let now = chrono::Utc::now();
        BindingRecord {
            id: id.into(),
            alias: n(alias),
            publisher_id: publisher_id.into(),
            publisher: n("b"),
            vregion: n(vregion),
            state: SubscriptionState::Requested,
            remote_subscription_id: None,
            remote_region: None,
            sp_auth_url: None,
            sp_url: None,
            services: Vec::new(),
            admin_password_sealed: None,
            step: None,
            error: None,
            objects: Vec::new(),
            created_at: now,
            updated_at: now,
            version: 0,
        }
    }

    #[tokio::test]
    async fn publishers_and_bindings_round_trip_with_live_uniqueness() {
        let store = SqlStore::connect("sqlite::memory:").await.unwrap();
        let now = chrono::Utc::now();
        let p = PublisherRecord {
            id: "p1".into(),
            name: n("b"),
            keystone_url: "http://b/v3".into(),
            exchange_url: None,
            credential_id: "c".into(),
            credential_secret_sealed: "sealed".into(),
            created_at: now,
            updated_at: now,
            version: 0,
        };
        store.insert_publisher(&p).await.unwrap();
        assert!(matches!(store.insert_publisher(&p).await, Err(StoreError::Duplicate { .. })));
        assert_eq!(store.get_publisher(&n("b")).await.unwrap().unwrap(), p);
        let p2 = store.update_publisher(&p).await.unwrap();
        assert!(matches!(store.update_publisher(&p).await, Err(StoreError::Stale { .. })));
        assert_eq!(p2.version, 1);

        let b1 = binding("1", "lisbon", "p1", "vr1");
        store.insert_binding(&b1).await.unwrap();
        let same_alias = binding("2", "lisbon", "p1", "vr2");
        assert!(matches!(store.insert_binding(&same_alias).await, Err(StoreError::Duplicate { .. })));
        let same_vregion = binding("3", "porto", "p1", "vr1");
        assert!(matches!(store.insert_binding(&same_vregion).await, Err(StoreError::Duplicate { .. })));
        // Once finished, the alias and the vregion are free again.
        let mut done = store.get_binding("1").await.unwrap().unwrap();
        done.state = SubscriptionState::Cancelled;
        store.update_binding(&done).await.unwrap();
        store.insert_binding(&same_alias).await.unwrap();
        store.insert_binding(&same_vregion).await.unwrap();
        let filter = BindingFilter { alias: Some("lisbon".into()), ..Default::default() };
        assert_eq!(store.list_bindings(&filter).await.unwrap().len(), 2);
        let live = BindingFilter { states: vec![SubscriptionState::Requested], ..Default::default() };
        assert_eq!(store.list_bindings(&live).await.unwrap().len(), 2);
        assert!(store.delete_publisher("p1").await.unwrap());
        assert!(store.list_bindings(&BindingFilter::default()).await.unwrap().is_empty());
    }
}
