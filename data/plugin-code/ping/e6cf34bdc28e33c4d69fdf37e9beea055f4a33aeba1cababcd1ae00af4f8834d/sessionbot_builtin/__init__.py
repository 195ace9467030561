"""Built-in plugins; they use only the public API in plugins.api."""
