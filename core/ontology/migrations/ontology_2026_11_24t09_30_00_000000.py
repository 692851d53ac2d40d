"""The six dimensions (groups, people, things, connections, events, knowledge), plus
API tokens so the API can say who is acting.

Raw DDL because Piccolo's column types cannot express pgvector, a generated tsvector,
partial unique indexes or HNSW; Piccolo still runs and records the migration.
"""

from core.migrations import sql_migration

ID = "2026-11-24T09:30:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "ontology: groups, people, memberships, things, connections, events, knowledge"

STATEMENTS = [
    "CREATE EXTENSION IF NOT EXISTS vector",
    """
    CREATE TABLE groups (
        id uuid PRIMARY KEY,
        parent_id uuid REFERENCES groups (id) ON DELETE RESTRICT,
        slug text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
        name text NOT NULL,
        kind text NOT NULL DEFAULT 'organization',
        settings jsonb NOT NULL DEFAULT '{}',
        created_at timestamptz NOT NULL DEFAULT now()
    )""",
    # Slugs are unique among siblings; top-level slugs are unique platform-wide.
    """CREATE UNIQUE INDEX groups_slug_uq
        ON groups (COALESCE(parent_id, '00000000-0000-0000-0000-000000000000'), slug)""",
    "CREATE INDEX groups_parent_idx ON groups (parent_id)",
    """
    CREATE TABLE people (
        id uuid PRIMARY KEY,
        email text NOT NULL,
        name text NOT NULL DEFAULT '',
        password_hash text,
        platform_role text,
        created_at timestamptz NOT NULL DEFAULT now()
    )""",
    "CREATE UNIQUE INDEX people_email_uq ON people (lower(email))",
    """
    CREATE TABLE memberships (
        group_id uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
        person_id uuid NOT NULL REFERENCES people (id) ON DELETE CASCADE,
        role text NOT NULL CHECK (role IN ('org_owner', 'org_user', 'customer')),
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (group_id, person_id)
    )""",
    "CREATE INDEX memberships_person_idx ON memberships (person_id)",
    """
    CREATE TABLE api_tokens (
        id uuid PRIMARY KEY,
        person_id uuid NOT NULL REFERENCES people (id) ON DELETE CASCADE,
        name text NOT NULL,
        token_hash text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
    )""",
    "CREATE INDEX api_tokens_person_idx ON api_tokens (person_id)",
    """
    CREATE TABLE things (
        id uuid NOT NULL,
        group_id uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
        type text NOT NULL,
        name text NOT NULL,
        status text NOT NULL,
        properties jsonb NOT NULL DEFAULT '{}',
        version integer NOT NULL DEFAULT 1,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        deleted_at timestamptz,
        PRIMARY KEY (group_id, id)
    )""",
    "CREATE UNIQUE INDEX things_id_uq ON things (id)",
    """CREATE INDEX things_group_type_status_idx ON things (group_id, type, status, id DESC)
        WHERE deleted_at IS NULL""",
    "CREATE INDEX things_group_id_idx ON things (group_id, id DESC) WHERE deleted_at IS NULL",
    "CREATE INDEX things_properties_gin ON things USING gin (properties jsonb_path_ops)",
    """
    CREATE TABLE connections (
        id uuid NOT NULL,
        group_id uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
        type text NOT NULL,
        from_id uuid NOT NULL,
        to_id uuid NOT NULL,
        metadata jsonb NOT NULL DEFAULT '{}',
        is_unique boolean NOT NULL DEFAULT true,
        created_at timestamptz NOT NULL DEFAULT now(),
        valid_to timestamptz,
        PRIMARY KEY (group_id, id),
        FOREIGN KEY (group_id, from_id) REFERENCES things (group_id, id) ON DELETE CASCADE,
        FOREIGN KEY (group_id, to_id) REFERENCES things (group_id, id) ON DELETE CASCADE
    )""",
    """CREATE UNIQUE INDEX connections_unique_live ON connections (group_id, type, from_id, to_id)
        WHERE valid_to IS NULL AND is_unique""",
    "CREATE INDEX connections_from_idx ON connections (group_id, from_id, type)",
    "CREATE INDEX connections_to_idx ON connections (group_id, to_id, type)",
    """
    CREATE TABLE events (
        id uuid NOT NULL,
        group_id uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
        type text NOT NULL,
        actor_id uuid,
        target_id uuid,
        payload jsonb NOT NULL DEFAULT '{}',
        occurred_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (group_id, id)
    )""",
    "CREATE INDEX events_group_occurred_idx ON events (group_id, occurred_at)",
    "CREATE INDEX events_group_type_idx ON events (group_id, type, id DESC)",
    "CREATE INDEX events_group_target_idx ON events (group_id, target_id)",
    """
    CREATE TABLE knowledge (
        id uuid NOT NULL,
        group_id uuid NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
        kind text NOT NULL CHECK (kind IN ('chunk', 'label', 'document')),
        text text NOT NULL,
        -- Dimension-free so a deployment can change models; the model and dimension are
        -- recorded per row and each dimension in use gets its own partial HNSW index.
        embedding vector,
        embedding_model text,
        embedding_dim integer,
        metadata jsonb NOT NULL DEFAULT '{}',
        tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', text)) STORED,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (group_id, id),
        CHECK (embedding IS NULL OR vector_dims(embedding) = embedding_dim)
    )""",
    """CREATE INDEX knowledge_embedding_384_hnsw ON knowledge
        USING hnsw ((embedding::vector(384)) vector_cosine_ops) WHERE embedding_dim = 384""",
    "CREATE INDEX knowledge_tsv_gin ON knowledge USING gin (tsv)",
    "CREATE INDEX knowledge_group_kind_idx ON knowledge (group_id, kind, id DESC)",
    """
    CREATE TABLE thing_knowledge (
        group_id uuid NOT NULL,
        thing_id uuid NOT NULL,
        knowledge_id uuid NOT NULL,
        role text NOT NULL DEFAULT 'source',
        metadata jsonb NOT NULL DEFAULT '{}',
        PRIMARY KEY (group_id, thing_id, knowledge_id),
        FOREIGN KEY (group_id, thing_id) REFERENCES things (group_id, id) ON DELETE CASCADE,
        FOREIGN KEY (group_id, knowledge_id) REFERENCES knowledge (group_id, id)
            ON DELETE CASCADE
    )""",
    "CREATE INDEX thing_knowledge_knowledge_idx ON thing_knowledge (group_id, knowledge_id)",
]


forwards = sql_migration(ID, "ontology", DESCRIPTION, STATEMENTS)
