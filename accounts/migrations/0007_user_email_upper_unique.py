import django.db.models.functions.text
from django.db import migrations, models


class Migration(migrations.Migration):
    # Fails, naming the email, if two accounts already share UPPER(email): they
    # could not log in (the lookup found both); merge or rename one first.
    dependencies = [
        ("accounts", "0006_loginfailure_lockout_key"),
    ]

    operations = [
        migrations.AddConstraint(
            model_name="user",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Upper("email"),
                name="accounts_user_email_upper_unique",
                violation_error_message="A user with this email already exists.",
            ),
        ),
    ]
