-- mlsecops registry schema, PostgreSQL dialect. Digests are 'sha256:<hex>' text;
-- times are Unix milliseconds; JSON is stored as text.
CREATE TABLE artifacts (
    digest      TEXT PRIMARY KEY NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('dataset', 'model', 'code', 'other')),
    name        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    size        BIGINT NOT NULL,
    files       BIGINT NOT NULL,
    media_type  TEXT,
    source      TEXT,
    metadata    TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL,
    UNIQUE (name, version)
);
CREATE INDEX artifacts_kind ON artifacts (kind, name);

CREATE TABLE tags (
    name        TEXT NOT NULL,
    tag         TEXT NOT NULL,
    digest      TEXT NOT NULL REFERENCES artifacts (digest),
    updated_at  BIGINT NOT NULL,
    updated_by  TEXT NOT NULL,
    PRIMARY KEY (name, tag)
);
CREATE INDEX tags_digest ON tags (digest);

CREATE TABLE runs (
    id           TEXT PRIMARY KEY NOT NULL,
    name         TEXT,
    source       TEXT NOT NULL,
    external_id  TEXT,
    code_commit  TEXT,
    parameters   TEXT NOT NULL DEFAULT '{}',
    environment  TEXT NOT NULL DEFAULT '{}',
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL
);
CREATE UNIQUE INDEX runs_external ON runs (source, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE edges (
    parent      TEXT NOT NULL REFERENCES artifacts (digest),
    child       TEXT NOT NULL REFERENCES artifacts (digest),
    relation    TEXT NOT NULL,
    run_id      TEXT REFERENCES runs (id),
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (parent, child, relation),
    CHECK (parent <> child)
);
CREATE INDEX edges_child ON edges (child, parent);

CREATE TABLE attachments (
    id          TEXT PRIMARY KEY NOT NULL,
    subject     TEXT NOT NULL REFERENCES artifacts (digest),
    kind        TEXT NOT NULL,
    blob        TEXT,
    summary     TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL
);
CREATE INDEX attachments_subject ON attachments (subject);

CREATE TABLE approvals (
    id          TEXT PRIMARY KEY NOT NULL,
    subject     TEXT NOT NULL REFERENCES artifacts (digest),
    stage       TEXT NOT NULL,
    decision    TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
    comment     TEXT,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL
);
CREATE INDEX approvals_subject ON approvals (subject);

CREATE TABLE deployments (
    id           TEXT PRIMARY KEY NOT NULL,
    subject      TEXT NOT NULL REFERENCES artifacts (digest),
    environment  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    created_by   TEXT NOT NULL
);
CREATE INDEX deployments_subject ON deployments (subject);

CREATE TABLE revocations (
    digest      TEXT PRIMARY KEY NOT NULL REFERENCES artifacts (digest),
    reason      TEXT NOT NULL,
    cause       TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    created_by  TEXT NOT NULL
);

-- Every state change, in commit order; mirrored into the ledger
-- (ledger_index is set once the entry is appended and acknowledged).
CREATE TABLE events (
    seq           BIGSERIAL PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    kind          TEXT NOT NULL,
    body          TEXT NOT NULL,
    ledger_index  BIGINT
);
CREATE INDEX events_pending ON events (seq) WHERE ledger_index IS NULL;
