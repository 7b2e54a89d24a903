-- 008_embeddings.sql — vectors of chunks from an embeddings endpoint
-- (DESIGN §10; written by lib/embed.c in the supervisor, never by workers).
--
-- One row per (document, model, chunk ordinal). A vector is real[]: Debian
-- 12 has no pgvector, and real[] works on every server. Keyed by
-- document_id first, like hopper.chunks, so both shard the same way.
CREATE TABLE hopper.embeddings (
	document_id bigint NOT NULL REFERENCES hopper.documents (id) ON DELETE CASCADE,
	model       text NOT NULL,
	ordinal     int NOT NULL,
	vector      real[] NOT NULL,
	created_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (document_id, model, ordinal)
);

-- Where each document stands for each model, so a restart resumes where it
-- stopped and several daemons never embed one document twice at once: a
-- claim takes a lease (owner = node), as jobs do.
CREATE TABLE hopper.embed_state (
	document_id bigint NOT NULL REFERENCES hopper.documents (id) ON DELETE CASCADE,
	model       text NOT NULL,
	state       text NOT NULL CHECK (state IN ('running', 'retry', 'done', 'failed')),
	attempts    int NOT NULL DEFAULT 0,
	not_before  timestamptz,
	lease_owner text,
	lease_until timestamptz,
	error       text,
	updated_at  timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (document_id, model)
);
CREATE INDEX embed_state_retry ON hopper.embed_state (model, not_before) WHERE state = 'retry';
CREATE INDEX embed_state_running ON hopper.embed_state (model, lease_until) WHERE state = 'running';
