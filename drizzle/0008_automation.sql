CREATE TABLE "schedulers" (
	"id" text PRIMARY KEY NOT NULL,
	"repeat" jsonb NOT NULL,
	"paused" boolean DEFAULT false NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ticks" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"scheduler_id" text NOT NULL,
	"job_id" text NOT NULL,
	"fired_at" timestamp with time zone NOT NULL,
	"ticked_at" timestamp with time zone DEFAULT now() NOT NULL,
	"outcome" text NOT NULL,
	"message" text NOT NULL,
	"files_seen" integer,
	"files" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"run_id" uuid,
	CONSTRAINT "uk_ticks_job" UNIQUE("scheduler_id","job_id"),
	CONSTRAINT "ck_ticks_outcome" CHECK ("ticks"."outcome" in ('started', 'current', 'waiting', 'refused', 'paused'))
);
--> statement-breakpoint
ALTER TABLE "node_attempts" DROP CONSTRAINT "ck_node_attempts_status";--> statement-breakpoint
ALTER TABLE "run_nodes" DROP CONSTRAINT "ck_run_nodes_status";--> statement-breakpoint
DROP INDEX "idx_run_nodes_unfinished";--> statement-breakpoint
ALTER TABLE "runs" ADD COLUMN "skip_current" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "ticks" ADD CONSTRAINT "fk_ticks_run" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_ticks_ticked_at" ON "ticks" USING btree ("ticked_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "idx_runs_sensor" ON "runs" USING btree ("created_at" DESC NULLS LAST) WHERE "runs"."trigger" = 'sensor';--> statement-breakpoint
CREATE INDEX "idx_run_nodes_unfinished" ON "run_nodes" USING btree ("run_id","status") WHERE "run_nodes"."status" not in ('succeeded', 'skipped');--> statement-breakpoint
ALTER TABLE "node_attempts" ADD CONSTRAINT "ck_node_attempts_status" CHECK ("node_attempts"."status" in ('succeeded', 'skipped', 'failed', 'canceled'));--> statement-breakpoint
ALTER TABLE "run_nodes" ADD CONSTRAINT "ck_run_nodes_status" CHECK ("run_nodes"."status" in ('pending', 'queued', 'running', 'succeeded', 'skipped', 'failed', 'canceled'));