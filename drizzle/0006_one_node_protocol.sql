CREATE TABLE "node_attempts" (
	"run_id" uuid NOT NULL,
	"asset_key" text NOT NULL,
	"partition_key" text DEFAULT '' NOT NULL,
	"attempt" integer NOT NULL,
	"status" text NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone,
	"duration_ms" integer,
	"error" text,
	"error_cause" text,
	CONSTRAINT "pk_node_attempts" PRIMARY KEY("run_id","asset_key","partition_key","attempt"),
	CONSTRAINT "ck_node_attempts_status" CHECK ("node_attempts"."status" in ('succeeded', 'failed', 'canceled'))
);
--> statement-breakpoint
ALTER TABLE "run_nodes" DROP CONSTRAINT "ck_run_nodes_status";--> statement-breakpoint
ALTER TABLE "runs" DROP CONSTRAINT "ck_runs_trigger";--> statement-breakpoint
ALTER TABLE "run_nodes" ADD COLUMN "downstream" integer[] DEFAULT '{}'::int[] NOT NULL;--> statement-breakpoint
ALTER TABLE "run_nodes" ADD COLUMN "waiting" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "run_key" text;--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "lease_until" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "node_attempts" ADD CONSTRAINT "fk_node_attempts_run" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_run_nodes_unfinished" ON "run_nodes" USING btree ("run_id","status") WHERE "run_nodes"."status" <> 'succeeded';--> statement-breakpoint
CREATE INDEX "idx_runs_lease" ON "runs" USING btree ("lease_until") WHERE "runs"."lease_until" is not null;--> statement-breakpoint
-- Existing runs under the one node protocol (hand-written). Nodes recorded before positions
-- existed all sit at 0: number them in their plan order.
UPDATE "run_nodes" n SET "position" = o.rn FROM (
  SELECT "run_id", "asset_key", "partition_key",
    (row_number() OVER (PARTITION BY "run_id" ORDER BY "position", "started_at" NULLS LAST, "asset_key", "partition_key") - 1)::int AS rn
  FROM "run_nodes") o
WHERE n."run_id" = o."run_id" AND n."asset_key" = o."asset_key" AND n."partition_key" = o."partition_key"
  AND n."run_id" IN (SELECT "run_id" FROM "run_nodes" GROUP BY "run_id" HAVING count(DISTINCT "position") < count(*));--> statement-breakpoint
-- A failed node used to skip its downstream; now downstream waits, pending, for a re-execution.
UPDATE "run_nodes" SET "status" = 'pending', "error" = NULL, "finished_at" = NULL WHERE "status" = 'skipped';--> statement-breakpoint
UPDATE "run_nodes" n SET
  "downstream" = coalesce((SELECT array_agg(d."position" ORDER BY d."position") FROM "run_nodes" d
    WHERE d."run_id" = n."run_id" AND (CASE WHEN n."partition_key" = '' THEN n."asset_key" ELSE n."asset_key" || '[' || n."partition_key" || ']' END) = ANY (d."upstream")), '{}'),
  "waiting" = (SELECT count(*) FROM unnest(n."upstream") AS u(id) WHERE NOT EXISTS (
    SELECT 1 FROM "run_nodes" m WHERE m."run_id" = n."run_id" AND m."status" = 'succeeded'
      AND u.id = (CASE WHEN m."partition_key" = '' THEN m."asset_key" ELSE m."asset_key" || '[' || m."partition_key" || ']' END)));--> statement-breakpoint
INSERT INTO "node_attempts" ("run_id", "asset_key", "partition_key", "attempt", "status", "started_at", "finished_at", "duration_ms", "error", "error_cause")
SELECT "run_id", "asset_key", "partition_key", "attempts",
  CASE WHEN "status" IN ('succeeded', 'failed') THEN "status" ELSE 'failed' END,
  "started_at", coalesce("finished_at", "started_at"), "duration_ms", "error", "error_cause"
FROM "run_nodes" WHERE "attempts" > 0 AND "started_at" IS NOT NULL AND "status" IN ('succeeded', 'failed', 'queued');--> statement-breakpoint
-- In-process runs left running by a CLI of an earlier version have no lease: the next look fails them.
UPDATE "runs" SET "lease_until" = now() WHERE "executor" = 'in-process' AND "status" IN ('queued', 'running');--> statement-breakpoint
-- Runs started by a scheduler tick keep answering for that tick.
UPDATE "runs" SET "run_key" = 'schedule:' || ("config"->>'tickId') WHERE "trigger" = 'schedule' AND "config" ? 'tickId';--> statement-breakpoint
ALTER TABLE "run_nodes" ADD CONSTRAINT "uk_run_nodes_position" UNIQUE("run_id","position");--> statement-breakpoint
ALTER TABLE "runs" ADD CONSTRAINT "uk_runs_run_key" UNIQUE("run_key");--> statement-breakpoint
ALTER TABLE "run_nodes" ADD CONSTRAINT "ck_run_nodes_status" CHECK ("run_nodes"."status" in ('pending', 'queued', 'running', 'succeeded', 'failed', 'canceled'));