-- name: list_categories
-- The whole tree, parents before children: clients build it from parent_id.
SELECT id, name, slug, parent_id, description
  FROM categories
 ORDER BY parent_id NULLS FIRST, name, id;

-- name: get_category^
SELECT id, name, slug, parent_id, description
  FROM categories
 WHERE id = :id;

-- name: free_category_slug$
-- Category slugs are what `?category=` takes, so they stay short: the base slug, else the
-- parent's slug before it ("women-shoes" beside "shoes"), else "<base>-<n>".
SELECT candidates.slug
  FROM (SELECT :base::text AS slug, 0 AS n
        UNION ALL
        SELECT :parent_slug::text || '-' || :base::text, 1 WHERE :parent_slug::text IS NOT NULL
        UNION ALL
        SELECT :base::text || '-' || n, n FROM generate_series(2, 1000) AS n) AS candidates
 WHERE NOT EXISTS (SELECT 1 FROM categories c WHERE c.slug = candidates.slug)
 ORDER BY candidates.n
 LIMIT 1;

-- name: insert_category^
-- categories_parent_name_key (0004) answers for a name its siblings already use,
-- categories_slug_key for a slug taken in a race, categories_parent_id_fkey for a bad parent.
INSERT INTO categories (name, slug, parent_id, description)
VALUES (:name, :slug, :parent_id, :description)
RETURNING id, name, slug, parent_id, description;
