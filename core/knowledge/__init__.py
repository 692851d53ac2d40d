"""Knowledge: turning text into searchable chunks with embeddings (core's, so every plugin
can ground itself in a group's content)."""
