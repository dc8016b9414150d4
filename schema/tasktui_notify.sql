-- tasktui's change feed: pushes every visible change to authentik's task tables to the
-- consoles that watch, with LISTEN/NOTIFY. Installed by `tasktui trigger install`; removed by
-- `tasktui trigger uninstall`. It never touches authentik's own triggers or functions.
--
-- Why it is gated: every transaction that calls NOTIFY takes one cluster-wide lock through its
-- commit flush, whether or not anyone listens (8 writers fell from ~9,100 to ~2,300 commits/s).
-- So the trigger sends nothing unless a console has registered in tasktui_console with a recent
-- heartbeat; a console that crashed stops counting after @stale_after@. Updates that change no
-- column a viewer sees are filtered out by the triggers' WHEN clauses, before any function runs.
--
-- Who may do what (version 2). PUBLIC has no right on tasktui_console nor on the trigger
-- function, and nobody but the installer writes the table directly: consoles register,
-- heartbeat and unregister through the three functions below, which run as the installer
-- (SECURITY DEFINER, with a fixed search_path and schema-qualified names) and
--   * let a role register only when it may SELECT the task table (the role the session acts as:
--     SET ROLE counts, membership counts as Postgres counts it);
--   * set the heartbeat to the server's clock, never to a value the caller gives;
--   * touch only the caller's own rows, and at most @max_consoles@ live ones per role.
-- EXECUTE on these three is left to PUBLIC on purpose: they check the caller on every call, so a
-- role granted SELECT on the task table later can watch without a reinstall, and one whose grant
-- was revoked stops at its next heartbeat.
-- Each console gets a channel of its own, `<prefix>_<32 random hex digits>`, which the register
-- function LISTENs to itself (the name never appears in a query text): Postgres lets any role
-- LISTEN on any channel whose name it knows, so a shared, well-known channel would stream every
-- change to anyone with a login.
-- The trigger function runs as the installer too: authentik's writers need no right on
-- tasktui's objects. It names every function, operator and type by its schema (pg_catalog.*,
-- OPERATOR(pg_catalog.=)), so that no writer's search_path can redirect what it calls, rather
-- than fixing its search_path with SET: a SET is a configuration change on every call, and this
-- function runs for every row authentik writes (+6 µs a row, measured: bench/trigger_check.py).
-- The registration functions, called every few seconds, simply SET it.
--
-- Placeholders filled in by tasktui.core.trigger: @schema@ (quoted schema of the task tables),
-- @schema_literal@, @task_table@ and @console_table@ (the same, and the tables' qualified names,
-- as string literals; @changes_table@ likewise), @stale_after@ and @retention@ (interval literals),
-- @max_consoles@, @tidy_batch@, @version@, @task_when@, @tasklog_when@, @workerstatus_when@.
-- Payloads carry ids, states and levels only (never log text, attributes or blobs), so they
-- stay far below NOTIFY's 8000-byte limit whatever a row holds.
--
-- Two ways to hand a change on (version 3). While the rate is low the trigger NOTIFYs each
-- watching console's channel: the lowest latency, and the commit lock costs nothing measurable
-- when commits rarely overlap. When a console sees the rate climb it asks, through
-- tasktui_mode(), for *drain* mode: the trigger then records each change as a row of the UNLOGGED
-- table tasktui_changes (no WAL, no NOTIFY, so no cluster-wide lock) and every console reads the
-- new rows on a short timer through tasktui_drain(). The trigger never guesses: it follows the
-- wishes of the consoles with a recent heartbeat, and the most demanding wins (drain while any
-- live console asks for it); a crashed console's wish lapses with its heartbeat, and with no live
-- console the trigger writes nothing at all, so the table cannot grow while nobody drains.
--
-- Draining in commit order. A change row carries its transaction's id (xid8). A drain reads, in
-- one statement, the rows that were not visible in the snapshot the console's previous drain
-- returned — rows of transactions that were still running then (its xip list) or began after it
-- (xid >= its xmax) — and returns its own snapshot for the next call. A transaction's rows
-- appear all at once when it commits, so every committed change is read exactly once, whatever
-- order ids were assigned or transactions committed in; a long transaction costs one index
-- probe per drain until it ends. Rows are dropped @retention@ after they were written, by
-- whoever drains (a console that stalls that long has lapsed and re-checks its window anyway).

CREATE TABLE IF NOT EXISTS @schema@.tasktui_console (
    console_id uuid PRIMARY KEY,
    -- Only tasktui's own channels: a console can never make the trigger speak on authentik's.
    channel text NOT NULL CONSTRAINT tasktui_console_channel_check
        CHECK (channel ~ '^tasktui[A-Za-z0-9_.-]{0,56}$'),
    heartbeat timestamptz NOT NULL,
    started timestamptz NOT NULL,
    username text NOT NULL,
    hostname text NOT NULL,
    backend_pid integer NOT NULL
);
COMMENT ON TABLE @schema@.tasktui_console IS
    'tasktui: consoles watching the task tables; the notify trigger is silent while none is recent';
-- Version 3: what each console asks the trigger for ('notify' or 'drain') and since when.
ALTER TABLE @schema@.tasktui_console ADD COLUMN IF NOT EXISTS wants text NOT NULL DEFAULT 'notify'
    CONSTRAINT tasktui_console_wants_check CHECK (wants IN ('notify', 'drain'));
ALTER TABLE @schema@.tasktui_console ADD COLUMN IF NOT EXISTS wants_since timestamptz;

-- Changes recorded in drain mode. UNLOGGED: nothing of it goes through the WAL (a crash empties
-- it, and consoles reload after a crash anyway); one btree on the transaction id, which is how
-- drains find new rows.
CREATE UNLOGGED TABLE IF NOT EXISTS @schema@.tasktui_changes (
    xid xid8 NOT NULL,
    written timestamptz NOT NULL,
    kind text NOT NULL,
    op text NOT NULL,
    row_id uuid NOT NULL,
    task_id uuid
);
CREATE INDEX IF NOT EXISTS tasktui_changes_xid ON @schema@.tasktui_changes (xid);
COMMENT ON TABLE @schema@.tasktui_changes IS
    'tasktui: changes to the task tables recorded while a console asked for drain mode';

-- Version 1 left the table writable by anyone: a heartbeat set in the future by hand would keep
-- the trigger speaking for ever. Such rows go; every other row expires on its own.
DELETE FROM @schema@.tasktui_console WHERE heartbeat > now() + interval '1 minute';

CREATE OR REPLACE FUNCTION @schema@.tasktui_notify() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $fn$
DECLARE
    channels pg_catalog.text[];
    drain pg_catalog.bool;
    channel pg_catalog.text;
    payload pg_catalog.text;
    r record;
BEGIN
    SELECT pg_catalog.array_agg(DISTINCT c.channel), pg_catalog.bool_or(c.wants OPERATOR(pg_catalog.=) 'drain')
    INTO channels, drain
    FROM @schema@.tasktui_console AS c
    WHERE c.heartbeat OPERATOR(pg_catalog.>)
        (pg_catalog.now() OPERATOR(pg_catalog.-) '@stale_after@'::pg_catalog.interval);
    IF channels IS NULL THEN
        RETURN NULL;
    END IF;

    IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;

    IF drain THEN
        -- No NOTIFY in this transaction: no commit lock. Ids only, as in the payloads.
        IF TG_ARGV[0] OPERATOR(pg_catalog.=) 'task' THEN
            INSERT INTO @schema@.tasktui_changes (xid, written, kind, op, row_id)
            VALUES (pg_catalog.pg_current_xact_id(), pg_catalog.clock_timestamp(), 'task', TG_OP, r.message_id);
        ELSIF TG_ARGV[0] OPERATOR(pg_catalog.=) 'tasklog' THEN
            INSERT INTO @schema@.tasktui_changes (xid, written, kind, op, row_id, task_id)
            VALUES (pg_catalog.pg_current_xact_id(), pg_catalog.clock_timestamp(), 'tasklog', TG_OP, r.id, r.task_id);
        ELSE
            INSERT INTO @schema@.tasktui_changes (xid, written, kind, op, row_id)
            VALUES (pg_catalog.pg_current_xact_id(), pg_catalog.clock_timestamp(), 'workerstatus', TG_OP, r.id);
        END IF;
        RETURN NULL;
    END IF;

    IF TG_ARGV[0] OPERATOR(pg_catalog.=) 'task' THEN
        payload := pg_catalog.json_build_object(
            'table', 'task', 'op', TG_OP, 'id', r.message_id::pg_catalog.text,
            'state', pg_catalog.left(r.state, 40), 'status', pg_catalog.left(r.aggregated_status, 40),
            'queue', pg_catalog.left(r.queue_name, 100),
            'ts', pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()))::pg_catalog.text;
    ELSIF TG_ARGV[0] OPERATOR(pg_catalog.=) 'tasklog' THEN
        payload := pg_catalog.json_build_object(
            'table', 'tasklog', 'op', TG_OP, 'id', r.id::pg_catalog.text, 'task_id', r.task_id::pg_catalog.text,
            'level', pg_catalog.left(r.log_level, 40), 'previous', r.previous,
            'ts', pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()))::pg_catalog.text;
    ELSE
        payload := pg_catalog.json_build_object(
            'table', 'workerstatus', 'op', TG_OP, 'id', r.id::pg_catalog.text,
            'ts', pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()))::pg_catalog.text;
    END IF;

    FOREACH channel IN ARRAY channels LOOP
        PERFORM pg_catalog.pg_notify(channel, payload);
    END LOOP;
    RETURN NULL;
END;
$fn$;
COMMENT ON FUNCTION @schema@.tasktui_notify() IS 'tasktui notify trigger, version @version@';

-- The role a registration is for: the one the session acts as (SET ROLE, else the login).
-- Inside these functions current_user is the installer; the `role` setting is not, and only a
-- member of a role can set it.
CREATE OR REPLACE FUNCTION @schema@.tasktui_caller() RETURNS name
LANGUAGE sql STABLE SECURITY INVOKER SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT COALESCE(NULLIF(current_setting('role'), 'none'), session_user)::name
$fn$;

CREATE OR REPLACE FUNCTION @schema@.tasktui_register(p_console_id uuid, p_prefix text, p_hostname text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    caller name := @schema@.tasktui_caller();
    new_channel text;
BEGIN
    IF NOT has_table_privilege(caller, @task_table@, 'SELECT') THEN
        RAISE EXCEPTION 'role "%" may not read the task table, so it may not watch it live', caller
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'GRANT SELECT ON authentik_tasks_task (and the log and worker tables) to it';
    END IF;
    IF p_prefix IS NULL OR p_prefix !~ '^tasktui[A-Za-z0-9_.-]{0,23}$' THEN
        RAISE EXCEPTION 'invalid channel prefix' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF (SELECT count(*) FROM @schema@.tasktui_console AS c
        WHERE c.username = caller AND c.heartbeat > now() - interval '@stale_after@') >= @max_consoles@ THEN
        RAISE EXCEPTION 'role "%" has @max_consoles@ consoles watching already', caller
            USING ERRCODE = 'program_limit_exceeded';
    END IF;
    -- Rows of consoles that crashed a day ago, whoever ran them: they count for nothing.
    DELETE FROM @schema@.tasktui_console AS c WHERE c.heartbeat < now() - interval '1 day';
    new_channel := p_prefix || '_' || replace(gen_random_uuid()::text, '-', '');
    INSERT INTO @schema@.tasktui_console (console_id, channel, heartbeat, started, username, hostname, backend_pid)
    VALUES (p_console_id, new_channel, now(), now(), caller, left(COALESCE(p_hostname, ''), 255), pg_backend_pid());
    EXECUTE format('LISTEN %I', new_channel);
    RETURN new_channel;
END;
$fn$;

-- NULL once the registration is gone (removed by its role or the installer): the console then
-- reconnects, as it would after a drop. Otherwise whether it had lapsed — the heartbeat came
-- after @stale_after@, so the trigger skipped this console meanwhile and it must re-check.
CREATE OR REPLACE FUNCTION @schema@.tasktui_heartbeat(p_console_id uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    caller name := @schema@.tasktui_caller();
    previous timestamptz;
BEGIN
    IF NOT has_table_privilege(caller, @task_table@, 'SELECT') THEN
        RAISE EXCEPTION 'role "%" may no longer read the task table, so it may not watch it live', caller
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    SELECT c.heartbeat INTO previous FROM @schema@.tasktui_console AS c
    WHERE c.console_id = p_console_id AND c.username = caller AND c.backend_pid = pg_backend_pid()
    FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE @schema@.tasktui_console AS c SET heartbeat = now() WHERE c.console_id = p_console_id;
    RETURN previous <= now() - interval '@stale_after@';
END;
$fn$;

-- What the trigger does now: 'drain' while any live console asks for it, else 'notify'.
CREATE OR REPLACE FUNCTION @schema@.tasktui_effective_mode() RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
    SELECT CASE WHEN bool_or(c.wants = 'drain') THEN 'drain' ELSE 'notify' END
    FROM @schema@.tasktui_console AS c WHERE c.heartbeat > now() - interval '@stale_after@'
$fn$;

-- A console's wish (NULL: none, only ask) and the mode the trigger follows now. When the wish
-- changes that mode, every live console hears it on its channel at once (one NOTIFY per switch,
-- delivered after every change notified before it). NULL once the registration is gone.
CREATE OR REPLACE FUNCTION @schema@.tasktui_mode(p_console_id uuid, p_wants text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    caller name := @schema@.tasktui_caller();
    before text;
    after text;
    live_channel text;
BEGIN
    IF NOT has_table_privilege(caller, @task_table@, 'SELECT') THEN
        RAISE EXCEPTION 'role "%" may no longer read the task table, so it may not watch it live', caller
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_wants IS NOT NULL AND p_wants NOT IN ('notify', 'drain') THEN
        RAISE EXCEPTION 'invalid mode: % (notify or drain)', left(p_wants, 20) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM 1 FROM @schema@.tasktui_console AS c WHERE c.console_id = p_console_id AND c.username = caller;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    before := @schema@.tasktui_effective_mode();
    IF p_wants IS NOT NULL THEN
        UPDATE @schema@.tasktui_console AS c SET wants = p_wants, wants_since = now()
        WHERE c.console_id = p_console_id AND c.wants IS DISTINCT FROM p_wants;
    END IF;
    after := @schema@.tasktui_effective_mode();
    IF after IS DISTINCT FROM before THEN
        FOR live_channel IN
            SELECT DISTINCT c.channel FROM @schema@.tasktui_console AS c
            WHERE c.heartbeat > now() - interval '@stale_after@'
        LOOP
            PERFORM pg_notify(live_channel, json_build_object('table', 'mode', 'mode', after)::text);
        END LOOP;
    END IF;
    RETURN after;
END;
$fn$;

-- The changes a console has not read yet: rows of the transactions that were not visible in
-- `p_since` (the snapshot its previous drain returned; NULL: none, only start from now), read in
-- one statement with the snapshot returned for the next call (see the header). Each row carries
-- that snapshot; with nothing to read, one row with the snapshot only. Now and then (`p_tidy`) it
-- drops rows older than @retention@, oldest transactions first, a bounded number per call.
CREATE OR REPLACE FUNCTION @schema@.tasktui_drain(p_console_id uuid, p_since pg_snapshot, p_tidy boolean)
RETURNS TABLE (snapshot pg_snapshot, xid xid8, kind text, op text, row_id uuid, task_id uuid)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
    caller name := @schema@.tasktui_caller();
BEGIN
    IF NOT has_table_privilege(caller, @task_table@, 'SELECT') THEN
        RAISE EXCEPTION 'role "%" may no longer read the task table, so it may not watch it live', caller
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    PERFORM 1 FROM @schema@.tasktui_console AS c WHERE c.console_id = p_console_id AND c.username = caller;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'this console is not registered' USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF p_tidy THEN
        DELETE FROM @schema@.tasktui_changes AS d
        WHERE d.ctid = ANY (ARRAY(
            SELECT o.ctid FROM @schema@.tasktui_changes AS o ORDER BY o.xid LIMIT @tidy_batch@))
          AND d.written < clock_timestamp() - interval '@retention@';
    END IF;
    IF p_since IS NULL THEN
        RETURN QUERY SELECT pg_current_snapshot(), NULL::xid8, NULL::text, NULL::text, NULL::uuid, NULL::uuid;
        RETURN;
    END IF;
    -- One statement: the rows read and the snapshot returned are the same snapshot.
    RETURN QUERY
    SELECT s.now_snapshot, n.xid, n.kind, n.op, n.row_id, n.task_id
    FROM (SELECT pg_current_snapshot() AS now_snapshot) AS s
    LEFT JOIN LATERAL (
        SELECT ch.xid, ch.kind, ch.op, ch.row_id, ch.task_id
        FROM @schema@.tasktui_changes AS ch
        WHERE ch.xid >= pg_snapshot_xmax(p_since)
           OR ch.xid = ANY (ARRAY(SELECT pg_snapshot_xip(p_since)))
    ) AS n ON true;
END;
$fn$;

CREATE OR REPLACE FUNCTION @schema@.tasktui_unregister(p_console_id uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
    DELETE FROM @schema@.tasktui_console AS c
    WHERE c.console_id = p_console_id AND c.username = @schema@.tasktui_caller();
    RETURN FOUND;
END;
$fn$;

-- Nobody but the installer holds a right on the table or the trigger function, whatever
-- version 1 granted or the schema's default privileges (ALTER DEFAULT PRIVILEGES) handed out.
DO $revoke$
DECLARE
    grant_row record;
BEGIN
    FOR grant_row IN
        SELECT DISTINCT 'TABLE' AS kind, c.oid::regclass::text AS object, a.grantee
        FROM pg_catalog.pg_class AS c CROSS JOIN LATERAL pg_catalog.aclexplode(c.relacl) AS a
        WHERE c.oid IN (@console_table@::regclass, @changes_table@::regclass) AND a.grantee <> c.relowner
        UNION
        SELECT DISTINCT 'FUNCTION', p.oid::regprocedure::text, a.grantee
        FROM pg_catalog.pg_proc AS p CROSS JOIN LATERAL pg_catalog.aclexplode(p.proacl) AS a
        WHERE p.pronamespace = @schema_literal@::regnamespace AND p.proname LIKE 'tasktui\_%' AND a.grantee <> p.proowner
    LOOP
        EXECUTE format('REVOKE ALL ON %s %s FROM %s', grant_row.kind, grant_row.object,
            CASE WHEN grant_row.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(grant_row.grantee::regrole::text) END);
    END LOOP;
END;
$revoke$;
REVOKE ALL ON TABLE @schema@.tasktui_console FROM PUBLIC;
REVOKE ALL ON TABLE @schema@.tasktui_changes FROM PUBLIC;
REVOKE ALL ON FUNCTION @schema@.tasktui_notify() FROM PUBLIC;
REVOKE ALL ON FUNCTION @schema@.tasktui_caller() FROM PUBLIC;
REVOKE ALL ON FUNCTION @schema@.tasktui_effective_mode() FROM PUBLIC;
REVOKE ALL ON FUNCTION @schema@.tasktui_register(uuid, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @schema@.tasktui_heartbeat(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION @schema@.tasktui_mode(uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @schema@.tasktui_drain(uuid, pg_snapshot, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @schema@.tasktui_unregister(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @schema@.tasktui_register(uuid, text, text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION @schema@.tasktui_heartbeat(uuid) TO PUBLIC;
GRANT EXECUTE ON FUNCTION @schema@.tasktui_mode(uuid, text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION @schema@.tasktui_drain(uuid, pg_snapshot, boolean) TO PUBLIC;
GRANT EXECUTE ON FUNCTION @schema@.tasktui_unregister(uuid) TO PUBLIC;

CREATE TRIGGER tasktui_notify_task_insert_delete
    AFTER INSERT OR DELETE ON @schema@.authentik_tasks_task
    FOR EACH ROW EXECUTE FUNCTION @schema@.tasktui_notify('task');
CREATE TRIGGER tasktui_notify_task_update
    AFTER UPDATE ON @schema@.authentik_tasks_task
    FOR EACH ROW WHEN (@task_when@)
    EXECUTE FUNCTION @schema@.tasktui_notify('task');

-- @if tasklog
CREATE TRIGGER tasktui_notify_tasklog_insert_delete
    AFTER INSERT OR DELETE ON @schema@.authentik_tasks_tasklog
    FOR EACH ROW EXECUTE FUNCTION @schema@.tasktui_notify('tasklog');
CREATE TRIGGER tasktui_notify_tasklog_update
    AFTER UPDATE ON @schema@.authentik_tasks_tasklog
    FOR EACH ROW WHEN (@tasklog_when@)
    EXECUTE FUNCTION @schema@.tasktui_notify('tasklog');
-- @endif

CREATE TRIGGER tasktui_notify_workerstatus_insert_delete
    AFTER INSERT OR DELETE ON @schema@.authentik_tasks_workerstatus
    FOR EACH ROW EXECUTE FUNCTION @schema@.tasktui_notify('workerstatus');
CREATE TRIGGER tasktui_notify_workerstatus_update
    AFTER UPDATE ON @schema@.authentik_tasks_workerstatus
    FOR EACH ROW WHEN (@workerstatus_when@)
    EXECUTE FUNCTION @schema@.tasktui_notify('workerstatus');
