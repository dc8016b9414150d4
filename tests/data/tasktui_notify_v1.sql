-- tasktui_notify.sql as released in trigger version 1 (main at cf343e5), kept verbatim so that
-- tests/test_registration.py can upgrade a real v1 installation. Never edit: it is history.
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
-- Placeholders filled in by tasktui.core.trigger: @schema@ (quoted schema of the task tables),
-- @stale_after@ (interval literal), @version@, @task_when@, @tasklog_when@, @workerstatus_when@.
-- Payloads carry ids, states and levels only (never log text, attributes or blobs), so they
-- stay far below NOTIFY's 8000-byte limit whatever a row holds.

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

CREATE OR REPLACE FUNCTION @schema@.tasktui_notify() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
    channels text[];
    channel text;
    payload text;
    r record;
BEGIN
    SELECT array_agg(DISTINCT c.channel) INTO channels
    FROM @schema@.tasktui_console AS c
    WHERE c.heartbeat > now() - interval '@stale_after@';
    IF channels IS NULL THEN
        RETURN NULL;
    END IF;

    IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;

    IF TG_ARGV[0] = 'task' THEN
        payload := json_build_object(
            'table', 'task', 'op', TG_OP, 'id', r.message_id::text,
            'state', left(r.state, 40), 'status', left(r.aggregated_status, 40),
            'queue', left(r.queue_name, 100),
            'ts', extract(epoch FROM clock_timestamp()))::text;
    ELSIF TG_ARGV[0] = 'tasklog' THEN
        payload := json_build_object(
            'table', 'tasklog', 'op', TG_OP, 'id', r.id::text, 'task_id', r.task_id::text,
            'level', left(r.log_level, 40), 'previous', r.previous,
            'ts', extract(epoch FROM clock_timestamp()))::text;
    ELSE
        payload := json_build_object(
            'table', 'workerstatus', 'op', TG_OP, 'id', r.id::text,
            'ts', extract(epoch FROM clock_timestamp()))::text;
    END IF;

    FOREACH channel IN ARRAY channels LOOP
        PERFORM pg_notify(channel, payload);
    END LOOP;
    RETURN NULL;
END;
$fn$;
COMMENT ON FUNCTION @schema@.tasktui_notify() IS 'tasktui notify trigger, version @version@';

GRANT SELECT, INSERT, UPDATE, DELETE ON @schema@.tasktui_console TO PUBLIC;

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
