-- The publisher's state (mercador_core::store::SqlStore).
--
-- The same file runs on SQLite and on PostgreSQL, so it uses portable SQL only:
-- TEXT and BIGINT columns (no BOOLEAN: sqlx's Any driver cannot decode SQLite
-- booleans; flags are BIGINT 0/1), JSON as TEXT, timestamps as BIGINT
-- nanoseconds since the Unix epoch (UTC; they sort and compare the same
-- everywhere, whatever the database's collation), ids as TEXT.

CREATE TABLE vregions (
    id          TEXT NOT NULL PRIMARY KEY,
    name        TEXT NOT NULL,
    -- the VRegionSpec as JSON (its name is also in `name`, the unique key)
    spec        TEXT NOT NULL,
    state       TEXT NOT NULL,
    domain_id   TEXT,
    -- written by every place reservation, so that reservations of one
    -- vregion take the row's (PostgreSQL) or the database's (SQLite) write
    -- lock first and run one at a time
    places_seq  BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    CONSTRAINT vregions_name_unique UNIQUE (name)
);

CREATE TABLE partners (
    id          TEXT NOT NULL PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT NOT NULL,
    state       TEXT NOT NULL,
    project_id  TEXT,
    user_id     TEXT,
    -- Vec<CreatedObject> as JSON
    objects     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    CONSTRAINT partners_name_unique UNIQUE (name)
);

-- A Keystone project identifies at most one partner (NULLs do not collide).
CREATE UNIQUE INDEX partners_project_id_unique ON partners (project_id);

CREATE TABLE subscriptions (
    id                      TEXT NOT NULL PRIMARY KEY,
    vregion_id              TEXT NOT NULL REFERENCES vregions (id),
    vregion                 TEXT NOT NULL,
    partner_id              TEXT NOT NULL REFERENCES partners (id),
    partner                 TEXT NOT NULL,
    state                   TEXT NOT NULL,
    entity_id               TEXT NOT NULL,
    metadata                TEXT NOT NULL,
    subscriber_keystone_url TEXT,
    step                    TEXT,
    error                   TEXT,
    -- Vec<CreatedObject> as JSON
    objects                 TEXT NOT NULL,
    admin_password_sealed   TEXT,
    credentials_delivered   BIGINT NOT NULL,
    purge                   BIGINT NOT NULL,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL,
    version                 BIGINT NOT NULL
);

-- Place counting (reserve_place) and listings by vregion.
CREATE INDEX subscriptions_vregion_state ON subscriptions (vregion_id, state);
-- Listings by partner, partner deletion.
CREATE INDEX subscriptions_partner ON subscriptions (partner_id);

-- Leases serialising work across publisher replicas (acquire_lease).
CREATE TABLE leases (
    name        TEXT NOT NULL PRIMARY KEY,
    holder      TEXT NOT NULL,
    -- nanoseconds since the Unix epoch
    expires_at  BIGINT NOT NULL
);
