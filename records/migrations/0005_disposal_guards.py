"""On PostgreSQL, guard the ways round the retention triggers of 0004: a file becomes
destroyed or transferred only through an approved disposal batch (and never comes back),
a record's content is cleared only once its file is destroyed, and the 廃棄簿 is
append-only."""

from django.db import migrations

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION records_file_before_update() RETURNS trigger AS $$
BEGIN
    IF OLD.status IN ('destroyed', 'transferred') AND NEW.status IS DISTINCT FROM OLD.status THEN
        PERFORM records_refuse('records_recordfile ' || OLD.id
            || ' was destroyed or transferred: its status cannot change');
    END IF;
    IF NEW.status IN ('destroyed', 'transferred') AND OLD.status NOT IN ('destroyed', 'transferred')
       AND NOT EXISTS (
           SELECT 1 FROM records_disposalitem i
           JOIN records_disposalbatch b ON b.id = i.batch_id
           WHERE i.file_id = NEW.id AND b.status IN ('approved', 'executing', 'executed')) THEN
        PERFORM records_refuse('records_recordfile ' || NEW.id
            || ': destroyed or transferred only through an approved disposal batch');
    END IF;
    RETURN NEW;
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
    IF NEW.pdf IS DISTINCT FROM OLD.pdf AND NEW.pdf = ''
       AND NOT (NEW.file_id IS NOT NULL AND records_file_gone(NEW.file_id)) THEN
        PERFORM records_refuse('records_record ' || NEW.id
            || ': content is removed only when its file is destroyed');
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION records_register_refuse_change() RETURNS trigger AS $$
BEGIN
    PERFORM records_refuse('records_disposalregisterentry is append-only: '
        || TG_OP || ' refused');
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER IF EXISTS records_file_status ON records_recordfile;
CREATE TRIGGER records_file_status BEFORE UPDATE ON records_recordfile
    FOR EACH ROW EXECUTE FUNCTION records_file_before_update();
DROP TRIGGER IF EXISTS records_register_fixed ON records_disposalregisterentry;
CREATE TRIGGER records_register_fixed BEFORE UPDATE OR DELETE ON records_disposalregisterentry
    FOR EACH ROW EXECUTE FUNCTION records_register_refuse_change();
"""

DROP_SQL = """
DROP TRIGGER IF EXISTS records_file_status ON records_recordfile;
DROP TRIGGER IF EXISTS records_register_fixed ON records_disposalregisterentry;
DROP FUNCTION IF EXISTS records_file_before_update();
DROP FUNCTION IF EXISTS records_register_refuse_change();
"""


def add_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(TRIGGER_SQL)


def drop_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP_SQL)


class Migration(migrations.Migration):
    dependencies = [("records", "0004_retention_triggers")]

    operations = [migrations.RunPython(add_triggers, drop_triggers)]
