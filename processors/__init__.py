"""Stream processors: revocation enforcement and governance findings.

Pure rules (``engine``, ``revocation``, ``findings``, ``state``, ``standards``, ``ids``)
turn ``(state, event)`` into ``(state, new events)`` with no I/O; hosts run them, one
processor per lifecycle partition over the shared registry (``host.ProcessorHost``):
``runner.EmbeddedRunner`` in-process on any log, owning every partition, with
snapshots (``snapshot``); ``faust_app`` as faust workers on Kafka, each owning the
partitions faust assigns to it. A host rebuilds a partition from the log whenever it
takes it over.
"""
