-- 0006_retrieval: documents for RAG and an embeddings cache.
--
-- pgvector is not packaged for Debian bookworm, so embeddings are real[]
-- (float4, like pgvector's own storage; these are similarity scores, not
-- money). Candidate documents are narrowed first (symbols, source, time,
-- full-text), then ranked by cosine similarity: in C by the retrieval
-- service, or in SQL with retrieval.cosine_similarity() for small sets.

CREATE TABLE retrieval.documents (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Shared documents (news, filings) have no owner; a user's private notes
    -- carry user_id.
    user_id         uuid,
    source          text        NOT NULL,
    source_id       text,
    title           text,
    content         text        NOT NULL,
    -- sha256 of content (UTF-8), set by trigger: finds duplicates across sources.
    content_hash    bytea       NOT NULL,
    symbols         text[]      NOT NULL DEFAULT '{}',
    embedding       real[],
    embedding_model text,
    embedding_dims  integer     GENERATED ALWAYS AS (array_length(embedding, 1)) STORED,
    metadata        jsonb       NOT NULL DEFAULT '{}',
    tsv             tsvector    GENERATED ALWAYS AS (
                        to_tsvector('english'::regconfig,
                                    coalesce(title, '') || ' ' || content)) STORED,
    published_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),

    CONSTRAINT documents_source_check CHECK (source ~ '^[a-z][a-z0-9_]{0,31}$'),
    CONSTRAINT documents_content_present CHECK (length(content) > 0),
    CONSTRAINT documents_embedding_vector
        CHECK (embedding IS NULL
               OR (array_ndims(embedding) = 1 AND array_length(embedding, 1) <= 16000
                   AND array_position(embedding, NULL) IS NULL)),
    CONSTRAINT documents_embedding_has_model
        CHECK (embedding IS NULL OR embedding_model IS NOT NULL),
    CONSTRAINT documents_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
);

CREATE UNIQUE INDEX documents_source_id_key
    ON retrieval.documents (source, source_id) WHERE source_id IS NOT NULL;
CREATE INDEX documents_user_idx
    ON retrieval.documents (user_id, created_at DESC) WHERE user_id IS NOT NULL;
CREATE INDEX documents_symbols_idx ON retrieval.documents USING gin (symbols);
CREATE INDEX documents_tsv_idx ON retrieval.documents USING gin (tsv);
CREATE INDEX documents_created_idx ON retrieval.documents (created_at DESC);
CREATE INDEX documents_content_hash_idx ON retrieval.documents (content_hash);
-- Documents still waiting for an embedding.
CREATE INDEX documents_unembedded_idx
    ON retrieval.documents (created_at) WHERE embedding IS NULL;

CREATE TRIGGER documents_touch_updated_at
    BEFORE UPDATE ON retrieval.documents
    FOR EACH ROW EXECUTE FUNCTION public.kx_touch_updated_at();

-- convert_to() is only STABLE, so content_hash cannot be a generated column.
CREATE FUNCTION retrieval.documents_set_content_hash()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.content_hash := sha256(convert_to(NEW.content, 'UTF8'));
    RETURN NEW;
END;
$$;

CREATE TRIGGER documents_content_hash
    BEFORE INSERT OR UPDATE OF content ON retrieval.documents
    FOR EACH ROW EXECUTE FUNCTION retrieval.documents_set_content_hash();

-- Embedding of a text by a model, keyed by sha256(model input): the same text
-- embedded by two models gives two rows.
CREATE TABLE retrieval.embeddings_cache (
    text_hash     bytea       NOT NULL,
    model         text        NOT NULL,
    embedding     real[]      NOT NULL,
    dims          integer     GENERATED ALWAYS AS (array_length(embedding, 1)) STORED,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz NOT NULL DEFAULT now(),

    PRIMARY KEY (text_hash, model),
    CONSTRAINT embeddings_cache_hash_len CHECK (length(text_hash) = 32),
    CONSTRAINT embeddings_cache_vector
        CHECK (array_ndims(embedding) = 1 AND array_length(embedding, 1) <= 16000
               AND array_position(embedding, NULL) IS NULL)
);

-- Eviction of entries not used for a while.
CREATE INDEX embeddings_cache_last_used_idx
    ON retrieval.embeddings_cache (last_used_at);

-- Cosine similarity of two vectors of equal length; NULL when the lengths
-- differ or either vector is zero.
CREATE FUNCTION retrieval.cosine_similarity(a real[], b real[])
RETURNS double precision
LANGUAGE sql
IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT CASE WHEN na = 0 OR nb = 0 THEN NULL
                ELSE dot / sqrt(na * nb) END
      FROM (SELECT sum(x::float8 * y) AS dot,
                   sum(x::float8 * x) AS na,
                   sum(y::float8 * y) AS nb
              FROM unnest(a, b) AS u(x, y)
             WHERE array_length(a, 1) = array_length(b, 1)) s
$$;
