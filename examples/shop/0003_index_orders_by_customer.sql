-- kubemigrate:no-transaction
CREATE INDEX CONCURRENTLY IF NOT EXISTS "orders_customer_id_idx" ON "orders" USING btree ("customer_id");
