"""Plugin sources: classify (spec), allow (policy), fetch (fetch) and read (pluginfile).

The modules other than :mod:`plugins.sources.active` import no Django.
"""
