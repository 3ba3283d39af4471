import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

application = get_wsgi_application()

# Import the URL configuration (and with it every view module) now, at worker
# boot, in one thread. Left to the first request, a fresh gthread worker's
# concurrent first requests raced on half-imported modules ("cannot import name
# ... from partially initialized module" -> 500) and the first requests were slow.
get_resolver().url_patterns  # noqa: B018
