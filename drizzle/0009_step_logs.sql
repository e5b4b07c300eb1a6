CREATE TABLE "node_logs" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" uuid NOT NULL,
	"asset_key" text NOT NULL,
	"partition_key" text DEFAULT '' NOT NULL,
	"attempt" integer NOT NULL,
	"seq" integer NOT NULL,
	"logged_at" timestamp with time zone NOT NULL,
	"level" text NOT NULL,
	"message" text NOT NULL,
	"fields" jsonb,
	CONSTRAINT "uk_node_logs_line" UNIQUE("run_id","asset_key","partition_key","attempt","seq"),
	CONSTRAINT "ck_node_logs_level" CHECK ("node_logs"."level" in ('trace', 'debug', 'info', 'warn', 'error', 'fatal'))
);
--> statement-breakpoint
ALTER TABLE "node_attempts" ADD COLUMN "worker" text;--> statement-breakpoint
ALTER TABLE "run_nodes" ADD COLUMN "worker" text;--> statement-breakpoint
ALTER TABLE "node_logs" ADD CONSTRAINT "fk_node_logs_run" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;