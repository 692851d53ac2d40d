"""Who is acting: people, API tokens, memberships, and the permission check."""
