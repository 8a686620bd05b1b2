//! The system schema of a project's SQLite database, as versioned migrations. One schema, one
//! dialect, every runtime: the native tests, the Cloudflare Durable Object and Spin SQLite all
//! run exactly these statements through [`migrate`].

use edgewrite_core::ports::{Sql, Statement, StoreError, Value};

/// One schema step. Never edit a released migration; add a new one.
#[derive(Debug)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub statements: &'static [&'static str],
}

const LEDGER: &str = "CREATE TABLE IF NOT EXISTS _edgewrite_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at INTEGER NOT NULL
)";

/// Every migration, in order.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "project settings",
        statements: &["CREATE TABLE _edgewrite_settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at INTEGER NOT NULL
        )"],
    },
    // Runtimes without a blob store (Spin) keep file bytes here, in chunks that each fit one
    // SQLite row comfortably; the others never touch it.
    Migration {
        version: 2,
        name: "blob chunks",
        statements: &["CREATE TABLE _edgewrite_blob_chunks (
            key TEXT NOT NULL,
            idx INTEGER NOT NULL,
            data BLOB NOT NULL,
            PRIMARY KEY (key, idx)
        )"],
    },
    Migration {
        version: 3,
        name: "users, sessions and abuse counters",
        statements: &[
            // Times are unix milliseconds. `email` is stored lower-cased; NULL for anonymous users,
            // so the UNIQUE index allows many of them.
            "CREATE TABLE users (
                id TEXT PRIMARY KEY,
                email TEXT UNIQUE,
                phone TEXT UNIQUE,
                name TEXT NOT NULL DEFAULT '',
                password_hash TEXT,
                hash_algo TEXT NOT NULL DEFAULT 'argon2',
                hash_options TEXT NOT NULL DEFAULT '{}',
                password_updated_at INTEGER,
                status INTEGER NOT NULL DEFAULT 1,
                labels TEXT NOT NULL DEFAULT '[]',
                email_verification INTEGER NOT NULL DEFAULT 0,
                phone_verification INTEGER NOT NULL DEFAULT 0,
                mfa INTEGER NOT NULL DEFAULT 0,
                prefs TEXT NOT NULL DEFAULT '{}',
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                accessed_at INTEGER NOT NULL
            )",
            // Only a SHA-256 of each session secret is kept. No foreign keys: enforcement differs
            // between runtimes, so handlers delete dependants explicitly in the same batch.
            "CREATE TABLE sessions (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                secret_hash BLOB NOT NULL UNIQUE,
                provider TEXT NOT NULL,
                provider_uid TEXT NOT NULL DEFAULT '',
                factors TEXT NOT NULL DEFAULT '[]',
                ip TEXT NOT NULL DEFAULT '',
                user_agent TEXT NOT NULL DEFAULT '',
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                expire INTEGER NOT NULL,
                mfa_updated_at INTEGER
            )",
            "CREATE INDEX sessions_by_user ON sessions (user_id, created_at)",
            // Fixed-window abuse counters, keyed as Appwrite keys them (hashed).
            "CREATE TABLE abuse_counters (
                key TEXT PRIMARY KEY,
                window_start INTEGER NOT NULL,
                count INTEGER NOT NULL
            )",
        ],
    },
    Migration {
        version: 4,
        name: "password history",
        statements: &["ALTER TABLE users ADD COLUMN password_history TEXT NOT NULL DEFAULT '[]'"],
    },
    Migration {
        version: 5,
        name: "api keys, teams, memberships, tokens and targets",
        statements: &[
            // Only a SHA-256 of each key value is kept: the value is shown once, at creation.
            "CREATE TABLE api_keys (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                scopes TEXT NOT NULL DEFAULT '[]',
                secret_hash BLOB NOT NULL UNIQUE,
                expire INTEGER,
                sdks TEXT NOT NULL DEFAULT '[]',
                accessed_at INTEGER,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            )",
            // `total` is the number of confirmed members, kept in the batches that change it.
            "CREATE TABLE teams (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                total INTEGER NOT NULL DEFAULT 0,
                prefs TEXT NOT NULL DEFAULT '{}',
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            )",
            // `secret_hash` is the invitation secret's SHA-256, cleared once the invitee accepts.
            "CREATE TABLE memberships (
                id TEXT PRIMARY KEY,
                team_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                roles TEXT NOT NULL DEFAULT '[]',
                invited INTEGER NOT NULL,
                joined INTEGER,
                confirm INTEGER NOT NULL DEFAULT 0,
                secret_hash BLOB,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                UNIQUE (team_id, user_id)
            )",
            "CREATE INDEX memberships_by_user ON memberships (user_id, confirm)",
            // One-time login secrets (`POST /users/{id}/tokens`, magic URL, email and phone OTP).
            "CREATE TABLE tokens (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                secret_hash BLOB NOT NULL,
                expire INTEGER NOT NULL,
                created_at INTEGER NOT NULL
            )",
            "CREATE INDEX tokens_by_user ON tokens (user_id)",
            // Messaging targets; Appwrite keeps one target per identifier project-wide.
            "CREATE TABLE targets (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                provider_type TEXT NOT NULL,
                identifier TEXT NOT NULL UNIQUE,
                provider_id TEXT,
                name TEXT NOT NULL DEFAULT '',
                expired INTEGER NOT NULL DEFAULT 0,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            )",
            "CREATE INDEX targets_by_user ON targets (user_id)",
            // Users from before this migration get the email and phone targets new users get.
            "INSERT INTO targets (id, user_id, provider_type, identifier, created_at, updated_at)
             SELECT lower(hex(randomblob(10))), id, 'email', email, created_at, created_at
             FROM users WHERE email IS NOT NULL",
            "INSERT INTO targets (id, user_id, provider_type, identifier, created_at, updated_at)
             SELECT lower(hex(randomblob(10))), id, 'sms', phone, created_at, created_at
             FROM users WHERE phone IS NOT NULL",
        ],
    },
    Migration {
        version: 6,
        name: "multi-factor authentication",
        statements: &[
            // Recovery codes are shown again on request (`GET …/mfa/recovery-codes`), so they are
            // kept as issued, like TOTP secrets, which verification needs.
            "ALTER TABLE users ADD COLUMN mfa_recovery_codes TEXT NOT NULL DEFAULT '[]'",
            // `last_counter`: the TOTP time step last accepted, so a code works once.
            "CREATE TABLE mfa_authenticators (
                user_id TEXT NOT NULL,
                type TEXT NOT NULL,
                secret TEXT NOT NULL,
                verified INTEGER NOT NULL DEFAULT 0,
                last_counter INTEGER,
                created_at INTEGER NOT NULL,
                PRIMARY KEY (user_id, type)
            )",
            // The address or number a secret was sent to: it proves only that one, and stops
            // working when the user's address changes.
            "ALTER TABLE tokens ADD COLUMN destination TEXT",
            "ALTER TABLE memberships ADD COLUMN invited_email TEXT",
            // `code_hash` is the SHA-256 of an emailed or texted code; TOTP and recovery-code
            // challenges check against the authenticator or the codes instead.
            "CREATE TABLE mfa_challenges (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                type TEXT NOT NULL,
                code_hash BLOB,
                expire INTEGER NOT NULL,
                created_at INTEGER NOT NULL
            )",
            "CREATE INDEX mfa_challenges_by_user ON mfa_challenges (user_id)",
        ],
    },
    Migration {
        version: 7,
        name: "databases, collections, attributes and indexes",
        statements: &[
            // `seq` (the rowid) names the per-collection tables, so ids never reach SQL text.
            // `type` is the API that created the database: `legacy` (/databases) or `tablesdb`.
            "CREATE TABLE databases (
                seq INTEGER PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                enabled INTEGER NOT NULL DEFAULT 1,
                type TEXT NOT NULL DEFAULT 'legacy',
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            )",
            // A collection's documents live in `_db_docs_<seq>`, its document permissions in
            // `_db_perms_<seq>`.
            "CREATE TABLE collections (
                seq INTEGER PRIMARY KEY,
                database_seq INTEGER NOT NULL,
                id TEXT NOT NULL,
                name TEXT NOT NULL,
                permissions TEXT NOT NULL DEFAULT '[]',
                document_security INTEGER NOT NULL DEFAULT 0,
                enabled INTEGER NOT NULL DEFAULT 1,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                UNIQUE (database_seq, id)
            )",
            "CREATE TABLE attributes (
                collection_seq INTEGER NOT NULL,
                key TEXT NOT NULL,
                type TEXT NOT NULL,
                format TEXT NOT NULL DEFAULT '',
                size INTEGER NOT NULL DEFAULT 0,
                required INTEGER NOT NULL DEFAULT 0,
                array INTEGER NOT NULL DEFAULT 0,
                default_value TEXT,
                options TEXT NOT NULL DEFAULT '{}',
                status TEXT NOT NULL DEFAULT 'available',
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                PRIMARY KEY (collection_seq, key)
            )",
            "CREATE TABLE indexes (
                collection_seq INTEGER NOT NULL,
                key TEXT NOT NULL,
                type TEXT NOT NULL,
                attributes TEXT NOT NULL,
                orders TEXT NOT NULL DEFAULT '[]',
                lengths TEXT NOT NULL DEFAULT '[]',
                status TEXT NOT NULL DEFAULT 'available',
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                PRIMARY KEY (collection_seq, key)
            )",
        ],
    },
    Migration {
        version: 8,
        name: "database transactions",
        statements: &[
            // Staged operations (JSON), applied in one batch on commit. `owner` is who may use it.
            "CREATE TABLE _db_transactions (
                id TEXT PRIMARY KEY,
                owner TEXT NOT NULL,
                status TEXT NOT NULL,
                operations TEXT NOT NULL DEFAULT '[]',
                expires_at INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            )",
        ],
    },
    Migration {
        version: 9,
        name: "storage",
        statements: &[
            // AUTOINCREMENT: a deleted bucket's or file's seq is never handed to a new one, so a
            // request still holding it cannot reach its successor.
            "CREATE TABLE buckets (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                permissions TEXT NOT NULL DEFAULT '[]',
                file_security INTEGER NOT NULL DEFAULT 0,
                enabled INTEGER NOT NULL DEFAULT 1,
                maximum_file_size INTEGER NOT NULL,
                allowed_file_extensions TEXT NOT NULL DEFAULT '[]',
                compression TEXT NOT NULL DEFAULT 'none',
                encryption INTEGER NOT NULL DEFAULT 1,
                antivirus INTEGER NOT NULL DEFAULT 1,
                transformations INTEGER NOT NULL DEFAULT 1,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            )",
            // `blobs` names the file's chunks in the blob store (`<blobs>/<index>`): random per
            // upload, so a file deleted and created again never meets the old chunks.
            // `uploader` is who started the upload: only they may add its chunks.
            "CREATE TABLE files (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                bucket_seq INTEGER NOT NULL,
                id TEXT NOT NULL,
                uploader TEXT NOT NULL DEFAULT '',
                name TEXT NOT NULL,
                permissions TEXT NOT NULL DEFAULT '[]',
                mime_type TEXT NOT NULL DEFAULT '',
                signature TEXT NOT NULL DEFAULT '',
                size_original INTEGER NOT NULL,
                size_actual INTEGER NOT NULL DEFAULT 0,
                chunks_total INTEGER NOT NULL,
                chunks_uploaded INTEGER NOT NULL DEFAULT 0,
                compression TEXT NOT NULL DEFAULT 'none',
                encrypted INTEGER NOT NULL DEFAULT 0,
                blobs TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                UNIQUE (bucket_seq, id)
            )",
            "CREATE TABLE file_chunks (
                file_seq INTEGER NOT NULL,
                idx INTEGER NOT NULL,
                size INTEGER NOT NULL,
                stored_size INTEGER NOT NULL,
                md5 TEXT NOT NULL,
                PRIMARY KEY (file_seq, idx)
            )",
            "CREATE TABLE file_perms (
                file_seq INTEGER NOT NULL,
                action TEXT NOT NULL,
                role TEXT NOT NULL,
                PRIMARY KEY (file_seq, action, role)
            )",
            "CREATE INDEX file_perms_by_role ON file_perms (action, role, file_seq)",
        ],
    },
    Migration {
        version: 10,
        name: "file tokens",
        statements: &[
            // A token's secret is a JWT naming the token, signed with the project's storage key:
            // it is derived when shown, never stored.
            "CREATE TABLE file_tokens (
                id TEXT PRIMARY KEY,
                bucket_seq INTEGER NOT NULL,
                file_seq INTEGER NOT NULL,
                resource_id TEXT NOT NULL,
                expire INTEGER,
                accessed_at INTEGER,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            )",
            "CREATE INDEX file_tokens_by_file ON file_tokens (file_seq)",
        ],
    },
    Migration {
        version: 11,
        name: "commit sequence",
        statements: &[
            // Bumped inside every write that announces realtime events, so the project's object
            // can deliver them in the order their writes committed.
            "CREATE TABLE commit_seq (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)",
            "INSERT INTO commit_seq (id, n) VALUES (1, 0)",
        ],
    },
    Migration {
        version: 12,
        name: "functions",
        statements: &[
            // List-valued settings (execute roles, events, scopes) are JSON arrays; `settings`
            // keeps what edgewrite stores but does not act on (VCS fields, specifications).
            "CREATE TABLE functions (
                seq INTEGER PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                runtime TEXT NOT NULL,
                execute TEXT NOT NULL,
                events TEXT NOT NULL,
                schedule TEXT NOT NULL,
                timeout INTEGER NOT NULL,
                enabled INTEGER NOT NULL,
                logging INTEGER NOT NULL,
                entrypoint TEXT NOT NULL,
                commands TEXT NOT NULL,
                scopes TEXT NOT NULL,
                settings TEXT NOT NULL,
                deployment_id TEXT NOT NULL DEFAULT '',
                -- The minute (unix ms) the schedule last started an execution.
                schedule_last INTEGER,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            )",
            "CREATE TABLE function_variables (
                seq INTEGER PRIMARY KEY,
                function_seq INTEGER NOT NULL,
                id TEXT NOT NULL,
                key TEXT NOT NULL,
                value TEXT NOT NULL,
                secret INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                UNIQUE (function_seq, id),
                UNIQUE (function_seq, key)
            )",
            // A deployment's upload arrives in chunks (one blob each, `<blobs>/<idx>`); once
            // complete, its module is `<blobs>/module`.
            "CREATE TABLE deployments (
                seq INTEGER PRIMARY KEY,
                function_seq INTEGER NOT NULL,
                id TEXT NOT NULL UNIQUE,
                entrypoint TEXT NOT NULL,
                commands TEXT NOT NULL,
                activate INTEGER NOT NULL,
                status TEXT NOT NULL,
                build_logs TEXT NOT NULL,
                source_size INTEGER NOT NULL,
                build_size INTEGER NOT NULL,
                build_duration REAL NOT NULL,
                chunks_total INTEGER NOT NULL,
                uploader TEXT NOT NULL,
                blobs TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            )",
            "CREATE INDEX deployments_by_function ON deployments (function_seq, seq)",
            "CREATE TABLE deployment_chunks (
                deployment_seq INTEGER NOT NULL,
                idx INTEGER NOT NULL,
                size INTEGER NOT NULL,
                PRIMARY KEY (deployment_seq, idx)
            )",
            // `owner` is the role that may read an execution (`user:U`, or '' for none but
            // keys). The response body is never stored: only a synchronous caller sees it.
            "CREATE TABLE executions (
                seq INTEGER PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                function_seq INTEGER NOT NULL,
                function_id TEXT NOT NULL,
                deployment_id TEXT NOT NULL,
                trigger TEXT NOT NULL,
                status TEXT NOT NULL,
                request_method TEXT NOT NULL,
                request_path TEXT NOT NULL,
                request_headers TEXT NOT NULL,
                response_status INTEGER NOT NULL,
                response_headers TEXT NOT NULL,
                logs TEXT NOT NULL,
                errors TEXT NOT NULL,
                duration REAL NOT NULL,
                scheduled_at INTEGER,
                owner TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            )",
            "CREATE INDEX executions_by_function ON executions (function_seq, seq)",
            "CREATE INDEX executions_scheduled ON executions (status, scheduled_at)",
        ],
    },
    Migration {
        version: 13,
        name: "messaging",
        statements: &[
            // `settings` holds what may be shown (`credentials` without secrets, `options`);
            // `secrets` is the AES-256-GCM sealed JSON of the secret credentials.
            "CREATE TABLE providers (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                provider TEXT NOT NULL,
                type TEXT NOT NULL,
                enabled INTEGER NOT NULL,
                settings TEXT NOT NULL,
                secrets BLOB NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            )",
            "CREATE INDEX providers_by_type ON providers (type, enabled, created_at)",
            "CREATE TABLE topics (
                id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                subscribe TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            )",
            "CREATE TABLE subscribers (
                id TEXT PRIMARY KEY,
                topic_id TEXT NOT NULL,
                target_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                provider_type TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                UNIQUE (topic_id, target_id)
            )",
            "CREATE INDEX subscribers_by_target ON subscribers (target_id)",
            // A target that goes (deleted, or its user deleted) leaves every topic with it.
            "CREATE TRIGGER subscribers_of_deleted_targets AFTER DELETE ON targets
             BEGIN DELETE FROM subscribers WHERE target_id = OLD.id; END",
            // `lease` is when the run holding the message last showed it was alive: another
            // delivery of the same job leaves it alone until the lease runs out.
            // `resolved_at`: when its recipients were listed in `message_targets` (once).
            "CREATE TABLE messages (
                id TEXT PRIMARY KEY,
                provider_type TEXT NOT NULL,
                topics TEXT NOT NULL,
                users TEXT NOT NULL,
                targets TEXT NOT NULL,
                data TEXT NOT NULL,
                status TEXT NOT NULL,
                scheduled_at INTEGER,
                delivered_at INTEGER,
                delivery_errors TEXT NOT NULL DEFAULT '[]',
                delivered_total INTEGER NOT NULL DEFAULT 0,
                lease INTEGER,
                resolved_at INTEGER,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            )",
            "CREATE INDEX messages_due ON messages (status, scheduled_at)",
            // One row per resolved recipient of a message being (or once) delivered; a
            // `pending` one is tried again no sooner than `next_at`.
            "CREATE TABLE message_targets (
                message_id TEXT NOT NULL,
                target_id TEXT NOT NULL,
                state TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_at INTEGER NOT NULL DEFAULT 0,
                error TEXT NOT NULL DEFAULT '',
                updated_at INTEGER NOT NULL,
                PRIMARY KEY (message_id, target_id)
            )",
        ],
    },
    // Grants name principals by id (`user:ID`, `team:ID`) in documents, files, executions and
    // subscribers, and outlive the principal. Rather than rewrite every grant on a delete, the
    // id is retired: no new user or team may take it, whatever path inserts it.
    Migration {
        version: 14,
        name: "retired principal ids",
        statements: &[
            "CREATE TABLE retired_ids (
                kind TEXT NOT NULL,
                id TEXT NOT NULL,
                retired_at INTEGER NOT NULL,
                PRIMARY KEY (kind, id)
            )",
            "CREATE TRIGGER users_never_reuse_ids BEFORE INSERT ON users
             WHEN EXISTS (SELECT 1 FROM retired_ids WHERE kind = 'user' AND id = NEW.id)
             BEGIN SELECT RAISE(ABORT, 'UNIQUE constraint failed: users.id (a deleted user''s id)'); END",
            "CREATE TRIGGER teams_never_reuse_ids BEFORE INSERT ON teams
             WHEN EXISTS (SELECT 1 FROM retired_ids WHERE kind = 'team' AND id = NEW.id)
             BEGIN SELECT RAISE(ABORT, 'UNIQUE constraint failed: teams.id (a deleted team''s id)'); END",
        ],
    },
    // OAuth2 sign-in: users' provider identities, the flows under way (each state used once),
    // and the provider tokens of OAuth2 sessions. Provider tokens are stored sealed
    // (AES-256-GCM), never in clear.
    Migration {
        version: 15,
        name: "oauth2",
        statements: &[
            "CREATE TABLE identities (
                id TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                provider TEXT NOT NULL,
                provider_uid TEXT NOT NULL,
                provider_email TEXT NOT NULL DEFAULT '',
                provider_tokens BLOB,
                access_token_expiry INTEGER,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                UNIQUE (provider, provider_uid)
            )",
            "CREATE INDEX identities_by_user ON identities (user_id)",
            "CREATE TABLE oauth2_states (
                id_hash BLOB PRIMARY KEY,
                provider TEXT NOT NULL,
                token_flow INTEGER NOT NULL,
                success TEXT NOT NULL,
                failure TEXT NOT NULL,
                verifier TEXT NOT NULL,
                nonce TEXT NOT NULL,
                browser_hash BLOB NOT NULL,
                user_id TEXT,
                expire INTEGER NOT NULL
            )",
            "CREATE INDEX oauth2_states_by_expiry ON oauth2_states (expire)",
            "ALTER TABLE sessions ADD COLUMN provider_tokens BLOB",
            "ALTER TABLE sessions ADD COLUMN provider_access_token_expiry INTEGER",
        ],
    },
    // OAuth2 provider settings the project API (`/v1/project/oauth2…`) stores; a row here
    // wins over the deployment's EDGEWRITE_OAUTH2_PROVIDERS. The secret is sealed.
    Migration {
        version: 16,
        name: "oauth2 provider settings",
        statements: &["CREATE TABLE oauth2_providers (
                provider TEXT PRIMARY KEY,
                enabled INTEGER NOT NULL,
                app_id TEXT NOT NULL,
                secret BLOB NOT NULL,
                updated_at INTEGER NOT NULL
            )"],
    },
    // The country a session was created from (Appwrite's session `countryCode`).
    Migration {
        version: 17,
        name: "session country",
        statements: &["ALTER TABLE sessions ADD COLUMN country_code TEXT NOT NULL DEFAULT '--'"],
    },
    // Users who may act as other users (`PATCH /users/{id}/impersonator`).
    Migration {
        version: 18,
        name: "user impersonator",
        statements: &["ALTER TABLE users ADD COLUMN impersonator INTEGER NOT NULL DEFAULT 0"],
    },
    // Grants name memberships (`member:ID`) and outlive them, and a migration may now choose a
    // membership's id (`PATCH /teams/{id}/system-fields`): an id a membership had is never
    // taken again, as users' and teams' are not (migration 14).
    Migration {
        version: 19,
        name: "membership ids never reused",
        statements: &[
            "CREATE TRIGGER memberships_retire_deleted_ids AFTER DELETE ON memberships
             BEGIN INSERT OR IGNORE INTO retired_ids (kind, id, retired_at)
                   VALUES ('member', OLD.id, CAST(strftime('%s', 'now') AS INTEGER) * 1000); END",
            "CREATE TRIGGER memberships_retire_replaced_ids AFTER UPDATE OF id ON memberships
             WHEN OLD.id != NEW.id
             BEGIN INSERT OR IGNORE INTO retired_ids (kind, id, retired_at)
                   VALUES ('member', OLD.id, CAST(strftime('%s', 'now') AS INTEGER) * 1000); END",
            "CREATE TRIGGER memberships_never_reuse_ids BEFORE INSERT ON memberships
             WHEN EXISTS (SELECT 1 FROM retired_ids WHERE kind = 'member' AND id = NEW.id)
             BEGIN SELECT RAISE(ABORT, 'UNIQUE constraint failed: memberships.id (a former membership''s id)'); END",
            "CREATE TRIGGER memberships_never_take_retired_ids BEFORE UPDATE OF id ON memberships
             WHEN OLD.id != NEW.id AND EXISTS (SELECT 1 FROM retired_ids WHERE kind = 'member' AND id = NEW.id)
             BEGIN SELECT RAISE(ABORT, 'UNIQUE constraint failed: memberships.id (a former membership''s id)'); END",
        ],
    },
    // Webhooks (`/v1/webhooks`) and their outbox: a committed write's deliveries wait here, in
    // commit order, until a run sends them (one run per webhook at a time, held by `lease_until`).
    // Presences (`/v1/presences`): one per user, hidden once `expires_at` is past.
    Migration {
        version: 20,
        name: "webhooks and presences",
        statements: &[
            "CREATE TABLE webhooks (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                name TEXT NOT NULL,
                url TEXT NOT NULL,
                events TEXT NOT NULL,
                tls INTEGER NOT NULL,
                auth_username TEXT NOT NULL,
                auth_password TEXT NOT NULL,
                secret TEXT NOT NULL,
                enabled INTEGER NOT NULL,
                logs TEXT NOT NULL DEFAULT '',
                attempts INTEGER NOT NULL DEFAULT 0,
                lease_until INTEGER NOT NULL DEFAULT 0,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            )",
            "CREATE TABLE webhook_deliveries (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                webhook_id TEXT NOT NULL,
                events TEXT NOT NULL,
                payload TEXT NOT NULL,
                user_id TEXT NOT NULL,
                tries INTEGER NOT NULL DEFAULT 0,
                next_at INTEGER NOT NULL,
                created_at INTEGER NOT NULL
            )",
            "CREATE INDEX webhook_deliveries_in_order ON webhook_deliveries (webhook_id, seq)",
            "CREATE TABLE presences (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                id TEXT NOT NULL UNIQUE,
                user_id TEXT NOT NULL UNIQUE,
                status TEXT,
                source TEXT NOT NULL,
                metadata TEXT NOT NULL,
                permissions TEXT NOT NULL,
                expires_at INTEGER NOT NULL,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL
            )",
            "CREATE INDEX presences_by_expiry ON presences (expires_at)",
        ],
    },
];

/// The newest schema version this build knows.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

async fn applied_versions(sql: &dyn Sql) -> Result<Vec<i64>, StoreError> {
    match sql.query(Statement::new("SELECT version FROM _edgewrite_migrations", vec![])).await {
        Ok(rows) => Ok(rows.rows.iter().filter_map(|r| r.first()?.as_i64()).collect()),
        Err(StoreError::Invalid(msg)) if msg.contains("no such table") => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Applies every pending migration, each in one atomic batch together with its ledger row.
/// Idempotent and safe against a concurrent runner: the ledger's primary key lets one win and
/// the other skip. Returns how many migrations this call applied.
pub async fn migrate(sql: &dyn Sql, now_ms: i64) -> Result<usize, StoreError> {
    let done = applied_versions(sql).await?;
    let mut applied = 0;
    for migration in MIGRATIONS.iter().filter(|m| !done.contains(&m.version)) {
        let mut batch = vec![Statement::new(LEDGER, vec![])];
        batch.extend(migration.statements.iter().map(|s| Statement::new(*s, vec![])));
        batch.push(Statement::new(
            "INSERT INTO _edgewrite_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            vec![Value::Integer(migration.version), migration.name.into(), Value::Integer(now_ms)],
        ));
        match sql.batch(batch).await {
            Ok(_) => {
                applied += 1;
                tracing::info!(version = migration.version, name = migration.name, "migration applied");
            }
            Err(_) if applied_versions(sql).await?.contains(&migration.version) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(applied)
}
