"""Domain services: every read and write of the database goes through these."""
