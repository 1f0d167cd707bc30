-- The ledger kept in the database (team mode): entries appended inside the
-- write transaction that made the change, so several processes or servers
-- on one database produce one totally ordered, gap-free log.
CREATE TABLE ledger_entries (
    idx        INTEGER PRIMARY KEY NOT NULL,
    leaf_hash  TEXT NOT NULL,
    body       TEXT NOT NULL
);

-- The tree's right edge (complete-subtree roots, hex, largest first), so an
-- append costs O(log n) and never rereads the log.
CREATE TABLE ledger_state (
    id        INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    size      INTEGER NOT NULL,
    frontier  TEXT NOT NULL
);

-- Signed C2SP checkpoints, in signing order.
CREATE TABLE ledger_checkpoints (
    seq   INTEGER PRIMARY KEY AUTOINCREMENT,
    size  INTEGER NOT NULL,
    note  TEXT NOT NULL
);

-- The team's ledger public key (a hint for new members; verification
-- always uses the key in the member's own home).
CREATE TABLE ledger_meta (
    key    TEXT PRIMARY KEY NOT NULL,
    value  TEXT NOT NULL
);
