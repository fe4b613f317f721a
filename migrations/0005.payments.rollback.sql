DROP TABLE recommendations;
DROP TABLE sent_emails;
DROP TABLE payments;
