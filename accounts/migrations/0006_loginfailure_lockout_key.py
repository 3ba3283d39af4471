from django.db import migrations, models

# Existing failures keep counting: each gets the key the new log-in computes
# for its email (the account it finds, else the email as PostgreSQL folds it).
FILL_KEYS = """
UPDATE accounts_loginfailure AS f
SET lockout_key = COALESCE(
    'user:' || (
        SELECT u.id FROM accounts_user AS u
        WHERE upper(u.email) = upper(f.email)
        ORDER BY u.id LIMIT 1
    ),
    'email:' || upper(f.email)
)
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_user_admin_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="loginfailure",
            name="lockout_key",
            field=models.TextField(default=""),
            preserve_default=False,
        ),
        migrations.RunSQL(FILL_KEYS, reverse_sql=migrations.RunSQL.noop),
        migrations.RemoveIndex(
            model_name="loginfailure",
            name="loginfailure_email_idx",
        ),
        migrations.AddIndex(
            model_name="loginfailure",
            index=models.Index(fields=["lockout_key", "-created_at"], name="loginfailure_key_idx"),
        ),
    ]
