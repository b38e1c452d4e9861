-- The subscriber's state (mercador_core::store::SubscriberStore on SqlStore).
--
-- Portable SQL only, as 0001: TEXT and BIGINT columns, JSON as TEXT,
-- timestamps as BIGINT nanoseconds since the Unix epoch (UTC), flags 0/1.
-- A subscriber and a publisher may share one database; leases (0001) are
-- shared too (keys `binding:<alias>`).

CREATE TABLE sub_publishers (
    id                       TEXT NOT NULL PRIMARY KEY,
    name                     TEXT NOT NULL,
    keystone_url             TEXT NOT NULL,
    -- the exchange API's URL when given at registration (else: the catalog)
    exchange_url             TEXT,
    credential_id            TEXT NOT NULL,
    -- the application credential secret, sealed (mercador_core::secrets)
    credential_secret_sealed TEXT NOT NULL,
    created_at               BIGINT NOT NULL,
    updated_at               BIGINT NOT NULL,
    version                  BIGINT NOT NULL,
    CONSTRAINT sub_publishers_name_unique UNIQUE (name)
);

CREATE TABLE bindings (
    id                     TEXT NOT NULL PRIMARY KEY,
    alias                  TEXT NOT NULL,
    publisher_id           TEXT NOT NULL REFERENCES sub_publishers (id),
    publisher              TEXT NOT NULL,
    vregion                TEXT NOT NULL,
    state                  TEXT NOT NULL,
    remote_subscription_id TEXT,
    remote_region          TEXT,
    sp_auth_url            TEXT,
    sp_url                 TEXT,
    -- Vec<OfferedService> as JSON: the services the publisher last returned
    services               TEXT NOT NULL,
    admin_password_sealed  TEXT,
    step                   TEXT,
    error                  TEXT,
    -- Vec<CreatedObject> as JSON
    objects                TEXT NOT NULL,
    created_at             BIGINT NOT NULL,
    updated_at             BIGINT NOT NULL,
    version                BIGINT NOT NULL
);

-- One live binding per alias (the region id on Keystone A), and one per
-- vregion of a publisher (a partner holds one subscription per vregion).
-- Finished bindings stay as history.
CREATE UNIQUE INDEX bindings_alias_live ON bindings (alias)
    WHERE state NOT IN ('cancelled', 'revoked', 'failed');
CREATE UNIQUE INDEX bindings_vregion_live ON bindings (publisher_id, vregion)
    WHERE state NOT IN ('cancelled', 'revoked', 'failed');
CREATE INDEX bindings_publisher ON bindings (publisher_id);
