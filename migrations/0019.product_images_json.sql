-- A product's images as JSON, written once for every query that answers products (the list's
-- page, the detail, the recommendations): [{id, url, alt, position}] in display order, one
-- probe of product_images_product_position_key per product.
-- depends: 0018.variants

CREATE FUNCTION product_images_json(wanted_product_id bigint) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(
               json_agg(
                   json_build_object('id', i.id, 'url', i.url, 'alt', i.alt,
                                     'position', i.position)
                   ORDER BY i.position
               ),
               '[]'
           )
      FROM product_images i
     WHERE i.product_id = wanted_product_id
$$;
