"""The read side: one ``eventsourcing.projection`` read model per folder, their runtime, and
async queries over them. See ``README.md`` here for the interface.

This package imports ``cases`` (events, values) and never ``api`` or ``tequio``.
"""
