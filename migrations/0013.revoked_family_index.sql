-- Every authenticated request asks whether its access token's login family was revoked
-- (refresh-token reuse). Only revoked rows are indexed: the index stays small, and a family
-- that was never revoked is answered without reading its (possibly many) used tokens.
-- depends: 0011.drop_redundant_index

CREATE INDEX refresh_tokens_revoked_family_idx ON refresh_tokens (family_id)
    WHERE revoked_at IS NOT NULL;
