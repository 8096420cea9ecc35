ALTER TABLE "customers" ADD COLUMN "loyalty_points" integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
CREATE VIEW "customer_order_counts" AS SELECT c.id, c.email, count(o.id) AS orders FROM customers c LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id, c.email;
