DROP INDEX IF EXISTS "products_sku_idx";
--> statement-breakpoint
DROP TABLE IF EXISTS "products";
