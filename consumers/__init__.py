"""Accountability views: projections of the log into SQLite, and what is asked of them.

Data flows one way: log -> projection -> views -> queries, reports, HTTP API. Every
view is a pure function of the log (invariant 8): the sync core in
``consumers.projection`` applies decoded events to a ``sqlite3.Connection``; the async
shell (``consumers.projector``) only reads the log and runs the core on an aiosqlite
connection, committing each batch together with its source positions.
"""
