-- Account names are one name whatever their case: 'Admin' and 'admin' are
-- the same account. Names that clash already keep the oldest as it is; the
-- others get their id's first eight characters appended, so nobody loses an
-- account (a Global Administrator can rename them afterwards).
UPDATE accounts
SET username = username || '-' || substr(id, 1, 8)
WHERE EXISTS (
    SELECT 1 FROM accounts older
    WHERE lower(older.username) = lower(accounts.username)
      AND (older.created_at < accounts.created_at
           OR (older.created_at = accounts.created_at AND older.id < accounts.id))
);
CREATE UNIQUE INDEX accounts_by_lower_name ON accounts (lower(username));
