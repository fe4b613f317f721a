DROP TABLE reviews;
DROP TABLE products;
DROP TABLE categories;
