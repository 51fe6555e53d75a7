"""The SQLite schema before Alembic: each step was applied once, in order, in one transaction,
and their count kept in PRAGMA user_version. Frozen: a database from before the move to
SQLAlchemy is brought up to step 4 with these, then Alembic takes over from its baseline
(`0001`), which is the same schema."""

STEPS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE materials (
            key TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            unit TEXT NOT NULL,
            currency TEXT NOT NULL,
            aliases TEXT NOT NULL DEFAULT ''
        )""",
        """CREATE TABLE prices (
            id INTEGER PRIMARY KEY,
            material TEXT NOT NULL REFERENCES materials(key) ON DELETE CASCADE,
            at TEXT NOT NULL,
            price REAL NOT NULL CHECK (price > 0),
            source TEXT NOT NULL,
            UNIQUE (material, at, source)
        )""",
        "CREATE INDEX prices_by_material_time ON prices (material, at)",
        """CREATE TABLE inventory (
            material TEXT PRIMARY KEY REFERENCES materials(key) ON DELETE CASCADE,
            on_hand REAL NOT NULL CHECK (on_hand >= 0),
            unit TEXT NOT NULL,
            daily_consumption REAL NOT NULL CHECK (daily_consumption >= 0),
            minimum REAL NOT NULL CHECK (minimum >= 0),
            lead_time_days INTEGER NOT NULL CHECK (lead_time_days >= 0),
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE consumption (
            material TEXT NOT NULL REFERENCES materials(key) ON DELETE CASCADE,
            day TEXT NOT NULL,
            quantity REAL NOT NULL CHECK (quantity >= 0),
            PRIMARY KEY (material, day)
        )""",
        """CREATE TABLE vendor_quotes (
            id INTEGER PRIMARY KEY,
            vendor TEXT NOT NULL,
            material TEXT NOT NULL REFERENCES materials(key) ON DELETE CASCADE,
            price REAL NOT NULL CHECK (price > 0),
            currency TEXT NOT NULL,
            rating REAL NOT NULL CHECK (rating BETWEEN 0 AND 5),
            delivery_days INTEGER NOT NULL CHECK (delivery_days >= 0),
            min_order_qty REAL,
            valid_until TEXT,
            UNIQUE (vendor, material)
        )""",
        """CREATE TABLE alerts (
            id INTEGER PRIMARY KEY,
            type TEXT NOT NULL
                CHECK (type IN ('PRICE_DROP', 'PRICE_INCREASE', 'LOW_INVENTORY', 'BUY_SIGNAL')),
            severity TEXT NOT NULL CHECK (severity IN ('CRITICAL', 'WARNING', 'INFO')),
            material TEXT REFERENCES materials(key) ON DELETE CASCADE,
            message TEXT NOT NULL,
            created_at TEXT NOT NULL,
            dedup_key TEXT NOT NULL
        )""",
        "CREATE INDEX alerts_by_time ON alerts (created_at)",
        "CREATE INDEX alerts_by_condition ON alerts (dedup_key, created_at)",
        """CREATE TABLE users (
            user_id INTEGER PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('admin', 'buyer')),
            name TEXT,
            added_by INTEGER,
            added_at TEXT NOT NULL
        )""",
        """CREATE TABLE subscriptions (
            channel TEXT NOT NULL CHECK (channel IN ('telegram', 'whatsapp')),
            address TEXT NOT NULL,
            added_by INTEGER,
            created_at TEXT NOT NULL,
            disabled_reason TEXT,
            PRIMARY KEY (channel, address)
        )""",
    ),
    # 2: the delivery outbox, the structured parts of an alert, and small job state.
    (
        "ALTER TABLE alerts ADD COLUMN magnitude REAL",
        "ALTER TABLE alerts ADD COLUMN facts TEXT",
        """CREATE TABLE deliveries (
            id INTEGER PRIMARY KEY,
            alert_id INTEGER NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
            channel TEXT NOT NULL CHECK (channel IN ('telegram', 'whatsapp')),
            address TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sending', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
            next_attempt_at TEXT NOT NULL,
            claimed_by TEXT,
            sent_at TEXT,
            detail TEXT NOT NULL DEFAULT '',
            UNIQUE (alert_id, channel, address)
        )""",
        """CREATE INDEX deliveries_due ON deliveries (channel, next_attempt_at, id)
            WHERE status = 'pending'""",
        "CREATE INDEX deliveries_in_flight ON deliveries (claimed_by) WHERE status = 'sending'",
        "CREATE INDEX deliveries_by_address ON deliveries (channel, address, status)",
        """CREATE TABLE job_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
    ),
    # 3: one-time invites; only a hash of each code is stored.
    (
        """CREATE TABLE invites (
            code_hash TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('admin', 'buyer')),
            created_by INTEGER,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            used_by INTEGER,
            used_at TEXT
        )""",
    ),
    # 4: forecasts. Each model run is kept (runs calibrate later retrains), and each forecast
    # with its values at the horizon, so its accuracy can be checked once the day has come.
    # Forecasts train on each day's last price: triggers keep that per day as prices come and
    # go, so a retrain reads one row a day instead of grouping every poll ever stored.
    (
        """CREATE TABLE daily_closes (
            material TEXT NOT NULL REFERENCES materials(key) ON DELETE CASCADE,
            day TEXT NOT NULL,
            at TEXT NOT NULL,
            price REAL NOT NULL,
            PRIMARY KEY (material, day)
        )""",
        """INSERT INTO daily_closes (material, day, at, price)
           SELECT material, substr(at, 1, 10), max(at), price FROM prices
           GROUP BY material, substr(at, 1, 10)""",
        """CREATE TRIGGER daily_close_on_insert AFTER INSERT ON prices BEGIN
               INSERT INTO daily_closes (material, day, at, price)
               VALUES (new.material, substr(new.at, 1, 10), new.at, new.price)
               ON CONFLICT (material, day) DO UPDATE
               SET at = excluded.at, price = excluded.price WHERE excluded.at >= daily_closes.at;
           END""",
        """CREATE TRIGGER daily_close_on_delete AFTER DELETE ON prices BEGIN
               DELETE FROM daily_closes
               WHERE material = old.material AND day = substr(old.at, 1, 10);
               INSERT INTO daily_closes (material, day, at, price)
               SELECT material, substr(at, 1, 10), at, price FROM prices
               WHERE material = old.material
                 AND at >= substr(old.at, 1, 10) AND at < substr(old.at, 1, 10) || 'U'
               ORDER BY at DESC, id DESC LIMIT 1;
           END""",
        """CREATE TABLE model_runs (
            material TEXT NOT NULL REFERENCES materials(key) ON DELETE CASCADE,
            horizon INTEGER NOT NULL CHECK (horizon > 0),
            origin TEXT NOT NULL,
            run TEXT NOT NULL,
            made_at TEXT NOT NULL,
            PRIMARY KEY (material, horizon, origin)
        )""",
        """CREATE TABLE forecasts (
            material TEXT NOT NULL REFERENCES materials(key) ON DELETE CASCADE,
            horizon INTEGER NOT NULL CHECK (horizon > 0),
            origin TEXT NOT NULL,
            made_at TEXT NOT NULL,
            backfilled INTEGER NOT NULL CHECK (backfilled IN (0, 1)),
            price REAL NOT NULL CHECK (price > 0),
            lower REAL NOT NULL,
            upper REAL NOT NULL,
            forecast TEXT NOT NULL,
            PRIMARY KEY (material, horizon, origin)
        )""",
    ),
)
