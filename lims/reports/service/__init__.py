"""The reports: each module one report (what it asks for, its columns, its rows); ``generation`` what they share."""
