from django.db import migrations


def create_clerk(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.get_or_create(name="clerk")


def remove_clerk(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="clerk").delete()


class Migration(migrations.Migration):
    dependencies = [("org", "0003_alter_staff_employee_number")]

    operations = [migrations.RunPython(create_clerk, remove_clerk)]
