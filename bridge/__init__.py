"""The bundled bridge: holds the bot's Session identity and speaks the bridge protocol."""
