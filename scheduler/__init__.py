"""The clock (APScheduler) and the jobs it triggers; the database holds what is due."""
