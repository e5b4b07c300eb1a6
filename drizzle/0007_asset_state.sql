DROP INDEX "idx_materializations_asset";--> statement-breakpoint
ALTER TABLE "materializations" ADD COLUMN "data_version" text;--> statement-breakpoint
ALTER TABLE "materializations" ADD COLUMN "code_version" text;--> statement-breakpoint
ALTER TABLE "materializations" ADD COLUMN "inputs" jsonb;--> statement-breakpoint
ALTER TABLE "materializations" ADD COLUMN "source" jsonb;--> statement-breakpoint
CREATE INDEX "idx_run_nodes_partition_unsettled" ON "run_nodes" USING btree ("asset_key","partition_key","started_at" DESC NULLS LAST) WHERE "run_nodes"."status" in ('running', 'failed');--> statement-breakpoint
CREATE INDEX "idx_materializations_asset" ON "materializations" USING btree ("asset_key","partition_key","materialized_at" DESC NULLS LAST,"id" DESC NULLS LAST);