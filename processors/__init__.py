"""Stream processors: revocation enforcement and governance findings.

Pure rules (``engine``, ``revocation``, ``findings``, ``state``, ``standards``, ``ids``)
turn ``(state, event)`` into ``(state, new events)`` with no I/O; hosts run them:
``runner.EmbeddedRunner`` in-process on any log, ``faust_app`` as faust agents on
Kafka. Both rebuild their state from the log on start (``host.ProcessorHost``).
"""
