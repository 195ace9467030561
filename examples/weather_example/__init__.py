"""An example plugin: weather from bundled offline data. Read docs/plugins.md alongside."""
