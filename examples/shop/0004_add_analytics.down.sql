DROP VIEW "customer_order_counts";
--> statement-breakpoint
ALTER TABLE "customers" DROP COLUMN "loyalty_points";
