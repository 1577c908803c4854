"""Tequio talking to other systems on its own initiative (webhooks).

This layer may import ``projections`` and ``cases``; neither of them imports it.
"""
