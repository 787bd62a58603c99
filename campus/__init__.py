"""Domain and storage: settings, database, models, migrations and services."""
