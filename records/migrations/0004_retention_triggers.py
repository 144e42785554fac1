"""On PostgreSQL, refuse in the database what the models refuse: deleting a record, a
record version or a file still under retention (its file not destroyed or transferred),
changing a record version, and changing a record's sha256 without a version for it.

The triggers stop changes made around the application (psql, another program). TRUNCATE
is left to table privileges, as for the audit chain (audit 0003): the test runner empties
tables with TRUNCATE, and the production role should not own the tables.
"""

from django.db import migrations

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION records_refuse(msg text) RETURNS void AS $$
BEGIN
    RAISE EXCEPTION '%%', msg USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION records_file_gone(fid bigint) RETURNS boolean AS $$
    SELECT EXISTS (SELECT 1 FROM records_recordfile
                   WHERE id = fid AND status IN ('destroyed', 'transferred'));
$$ LANGUAGE sql STABLE;

CREATE OR REPLACE FUNCTION records_file_before_delete() RETURNS trigger AS $$
BEGIN
    IF OLD.status NOT IN ('destroyed', 'transferred') THEN
        PERFORM records_refuse(
            'records_recordfile ' || OLD.id || ' is under retention: DELETE refused');
    END IF;
    RETURN OLD;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION records_record_before_delete() RETURNS trigger AS $$
BEGIN
    IF OLD.file_id IS NULL OR NOT records_file_gone(OLD.file_id) THEN
        PERFORM records_refuse(
            'records_record ' || OLD.id || ' is under retention: DELETE refused');
    END IF;
    RETURN OLD;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION records_version_before_delete() RETURNS trigger AS $$
DECLARE fid bigint;
BEGIN
    SELECT file_id INTO fid FROM records_record WHERE id = OLD.record_id;
    IF fid IS NULL OR NOT records_file_gone(fid) THEN
        PERFORM records_refuse(
            'records_recordversion ' || OLD.id || ' is under retention: DELETE refused');
    END IF;
    RETURN OLD;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION records_version_before_update() RETURNS trigger AS $$
BEGIN
    PERFORM records_refuse('records_recordversion is append-only: UPDATE refused');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION records_record_before_update() RETURNS trigger AS $$
BEGIN
    IF NEW.sha256 IS DISTINCT FROM OLD.sha256
       AND NOT (NEW.file_id IS NOT NULL AND records_file_gone(NEW.file_id))
       AND NOT EXISTS (SELECT 1 FROM records_recordversion
                       WHERE record_id = NEW.id AND sha256 = NEW.sha256) THEN
        PERFORM records_refuse('records_record ' || NEW.id
            || ': sha256 changes only with a records_recordversion for the new content');
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS records_file_keep ON records_recordfile;
CREATE TRIGGER records_file_keep BEFORE DELETE ON records_recordfile
    FOR EACH ROW EXECUTE FUNCTION records_file_before_delete();
DROP TRIGGER IF EXISTS records_record_keep ON records_record;
CREATE TRIGGER records_record_keep BEFORE DELETE ON records_record
    FOR EACH ROW EXECUTE FUNCTION records_record_before_delete();
DROP TRIGGER IF EXISTS records_record_content ON records_record;
CREATE TRIGGER records_record_content BEFORE UPDATE ON records_record
    FOR EACH ROW EXECUTE FUNCTION records_record_before_update();
DROP TRIGGER IF EXISTS records_version_keep ON records_recordversion;
CREATE TRIGGER records_version_keep BEFORE DELETE ON records_recordversion
    FOR EACH ROW EXECUTE FUNCTION records_version_before_delete();
DROP TRIGGER IF EXISTS records_version_fixed ON records_recordversion;
CREATE TRIGGER records_version_fixed BEFORE UPDATE ON records_recordversion
    FOR EACH ROW EXECUTE FUNCTION records_version_before_update();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS records_file_keep ON records_recordfile;
DROP TRIGGER IF EXISTS records_record_keep ON records_record;
DROP TRIGGER IF EXISTS records_record_content ON records_record;
DROP TRIGGER IF EXISTS records_version_keep ON records_recordversion;
DROP TRIGGER IF EXISTS records_version_fixed ON records_recordversion;
DROP FUNCTION IF EXISTS records_file_before_delete();
DROP FUNCTION IF EXISTS records_record_before_delete();
DROP FUNCTION IF EXISTS records_version_before_delete();
DROP FUNCTION IF EXISTS records_version_before_update();
DROP FUNCTION IF EXISTS records_record_before_update();
DROP FUNCTION IF EXISTS records_file_gone(bigint);
DROP FUNCTION IF EXISTS records_refuse(text);
"""


def add_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER_SQL)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


class Migration(migrations.Migration):
    dependencies = [("records", "0003_files_retention_counters")]

    operations = [migrations.RunPython(add_triggers, drop_triggers)]
