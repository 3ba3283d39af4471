"""Django's PostgreSQL backend, counting the commits a unit of work attempted (base.py)."""
