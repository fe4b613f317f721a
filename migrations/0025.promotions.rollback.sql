DROP TABLE promotion_redemptions;
DROP TABLE promotion_customer_uses;
DROP TABLE promotion_categories;
DROP TABLE promotion_products;
DROP TABLE promotions;
