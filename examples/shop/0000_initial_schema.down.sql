DROP TYPE "public"."order_status";
--> statement-breakpoint
DROP TABLE IF EXISTS "customers";
