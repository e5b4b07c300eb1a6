CREATE TABLE "consistently_active_top_customers" (
	"period" date NOT NULL,
	"customer_id" integer NOT NULL,
	"customer_name" varchar(255) NOT NULL,
	"revenue_eur" numeric(14, 2) NOT NULL,
	"revenue_rank" integer NOT NULL,
	"min_month_revenue_eur" numeric(14, 2) NOT NULL,
	CONSTRAINT "pk_consistently_active_top_customers" PRIMARY KEY("period","customer_id")
);
--> statement-breakpoint
CREATE TABLE "customer_revenue_categories" (
	"period" date NOT NULL,
	"customer_id" integer NOT NULL,
	"revenue_eur" numeric(14, 2) NOT NULL,
	"revenue_category" varchar(4) NOT NULL,
	CONSTRAINT "pk_customer_revenue_categories" PRIMARY KEY("period","customer_id"),
	CONSTRAINT "ck_customer_revenue_categories_category" CHECK ("customer_revenue_categories"."revenue_category" in ('Low', 'Mid', 'High'))
);
--> statement-breakpoint
CREATE TABLE "descriptive_statistics" (
	"period" date NOT NULL,
	"table_name" text NOT NULL,
	"column_name" text NOT NULL,
	"n" bigint NOT NULL,
	"min" double precision,
	"max" double precision,
	"mean" double precision,
	"median" double precision,
	"stddev" double precision,
	"q1" double precision,
	"q3" double precision,
	CONSTRAINT "pk_descriptive_statistics" PRIMARY KEY("period","table_name","column_name")
);
--> statement-breakpoint
CREATE TABLE "industry_exposure" (
	"period" date NOT NULL,
	"industry" varchar(100) NOT NULL,
	"revenue_eur" numeric(14, 2) NOT NULL,
	"customer_count" integer NOT NULL,
	"active_customer_count" integer NOT NULL,
	"revenue_share_pct" numeric(6, 2) NOT NULL,
	"revenue_rank" integer NOT NULL,
	CONSTRAINT "pk_industry_exposure" PRIMARY KEY("period","industry")
);
--> statement-breakpoint
CREATE TABLE "industry_exposure_extended" (
	"period" date NOT NULL,
	"industry" varchar(100) NOT NULL,
	"revenue_eur" numeric(14, 2) NOT NULL,
	"customer_count" integer NOT NULL,
	"revenue_category" varchar(4) NOT NULL,
	"customer_count_category" varchar(4) NOT NULL,
	CONSTRAINT "pk_industry_exposure_extended" PRIMARY KEY("period","industry"),
	CONSTRAINT "ck_industry_exposure_extended_revenue_category" CHECK ("industry_exposure_extended"."revenue_category" in ('Low', 'Mid', 'High')),
	CONSTRAINT "ck_industry_exposure_extended_count_category" CHECK ("industry_exposure_extended"."customer_count_category" in ('Low', 'Mid', 'High'))
);
--> statement-breakpoint
CREATE TABLE "segment_changes" (
	"period" date NOT NULL,
	"customer_id" integer NOT NULL,
	"changed_month" date NOT NULL,
	"previous_segment" varchar(50) NOT NULL,
	"new_segment" varchar(50) NOT NULL,
	"customer_name" varchar(255) NOT NULL,
	CONSTRAINT "pk_segment_changes" PRIMARY KEY("period","customer_id","changed_month")
);
--> statement-breakpoint
CREATE TABLE "segment_distribution" (
	"period" date NOT NULL,
	"segment" varchar(50) NOT NULL,
	"customer_count" integer NOT NULL,
	"customer_pct" numeric(6, 2) NOT NULL,
	CONSTRAINT "pk_segment_distribution" PRIMARY KEY("period","segment")
);
--> statement-breakpoint
CREATE TABLE "top_customers" (
	"period" date NOT NULL,
	"revenue_rank" integer NOT NULL,
	"customer_id" integer NOT NULL,
	"customer_name" varchar(255) NOT NULL,
	"industry" varchar(100) NOT NULL,
	"segment" varchar(50) NOT NULL,
	"country" varchar(100) NOT NULL,
	"revenue_eur" numeric(14, 2) NOT NULL,
	CONSTRAINT "pk_top_customers" PRIMARY KEY("period","revenue_rank"),
	CONSTRAINT "ck_top_customers_rank" CHECK ("top_customers"."revenue_rank" between 1 and 20)
);
--> statement-breakpoint
CREATE TABLE "channels" (
	"channel_id" integer PRIMARY KEY NOT NULL,
	"channel_name" varchar(100) NOT NULL,
	"channel_type" varchar(50) NOT NULL,
	"unit_price_eur" numeric(10, 4) NOT NULL,
	CONSTRAINT "uk_channels_channel_name" UNIQUE("channel_name"),
	CONSTRAINT "ck_channels_unit_price_nonnegative" CHECK ("channels"."unit_price_eur" >= 0)
);
--> statement-breakpoint
CREATE TABLE "customer_snapshots" (
	"snapshot_month" date NOT NULL,
	"customer_id" integer NOT NULL,
	"account_id" integer NOT NULL,
	"customer_name" varchar(255) NOT NULL,
	"segment" varchar(50) NOT NULL,
	"industry" varchar(100) NOT NULL,
	"country" varchar(100) NOT NULL,
	"created_date" date NOT NULL,
	CONSTRAINT "pk_customer_snapshots" PRIMARY KEY("snapshot_month","customer_id"),
	CONSTRAINT "uk_customer_snapshots_account" UNIQUE("snapshot_month","account_id")
);
--> statement-breakpoint
CREATE TABLE "customers" (
	"customer_id" integer PRIMARY KEY NOT NULL,
	"account_id" integer NOT NULL,
	"customer_name" varchar(255) NOT NULL,
	"segment" varchar(50) NOT NULL,
	"industry" varchar(100) NOT NULL,
	"country" varchar(100) NOT NULL,
	"created_date" date NOT NULL,
	CONSTRAINT "uk_customers_account_id" UNIQUE("account_id")
);
--> statement-breakpoint
CREATE TABLE "customers_revenue_by_period" (
	"customer_id" integer PRIMARY KEY NOT NULL,
	"revenue_last_month" numeric(14, 2) NOT NULL,
	"revenue_last_quarter" numeric(14, 2) NOT NULL,
	"revenue_mtd" numeric(14, 2) NOT NULL,
	"revenue_ytd" numeric(14, 2) NOT NULL,
	"revenue_increase_pct_qoq" numeric(12, 2),
	"as_of_date" date NOT NULL,
	"last_updated" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "traffic" (
	"traffic_id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "traffic_traffic_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"send_date" date NOT NULL,
	"account_id" integer NOT NULL,
	"customer_id" integer NOT NULL,
	"channel_id" integer NOT NULL,
	"interactions_count" integer NOT NULL,
	"revenue_eur" numeric(12, 2) NOT NULL,
	CONSTRAINT "uk_traffic_unique" UNIQUE("send_date","account_id","customer_id","channel_id"),
	CONSTRAINT "ck_traffic_interactions_count_nonnegative" CHECK ("traffic"."interactions_count" >= 0),
	CONSTRAINT "ck_traffic_revenue_nonnegative" CHECK ("traffic"."revenue_eur" >= 0)
);
--> statement-breakpoint
CREATE TABLE "check_results" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" uuid NOT NULL,
	"asset_key" text NOT NULL,
	"partition_key" text DEFAULT '' NOT NULL,
	"check_name" text NOT NULL,
	"severity" text NOT NULL,
	"passed" boolean NOT NULL,
	"message" text,
	"metadata" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ck_check_results_severity" CHECK ("check_results"."severity" in ('error', 'warn'))
);
--> statement-breakpoint
CREATE TABLE "materializations" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" uuid NOT NULL,
	"asset_key" text NOT NULL,
	"partition_key" text DEFAULT '' NOT NULL,
	"materialized_at" timestamp with time zone DEFAULT now() NOT NULL,
	"duration_ms" integer NOT NULL,
	"metadata" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rejected_rows" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"run_id" uuid,
	"asset" text NOT NULL,
	"partition" text DEFAULT '' NOT NULL,
	"file" text NOT NULL,
	"line" integer NOT NULL,
	"reason" text NOT NULL,
	"raw" text NOT NULL,
	"rejected_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "run_nodes" (
	"run_id" uuid NOT NULL,
	"asset_key" text NOT NULL,
	"partition_key" text DEFAULT '' NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"upstream" text[] DEFAULT '{}'::text[] NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"duration_ms" integer,
	"metadata" jsonb,
	"error" text,
	"error_cause" text,
	CONSTRAINT "pk_run_nodes" PRIMARY KEY("run_id","asset_key","partition_key"),
	CONSTRAINT "ck_run_nodes_status" CHECK ("run_nodes"."status" in ('pending', 'queued', 'running', 'succeeded', 'failed', 'skipped'))
);
--> statement-breakpoint
CREATE TABLE "runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"trigger" text NOT NULL,
	"selection" text NOT NULL,
	"partition_from" text,
	"partition_to" text,
	"status" text DEFAULT 'queued' NOT NULL,
	"executor" text NOT NULL,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	CONSTRAINT "ck_runs_trigger" CHECK ("runs"."trigger" in ('cli', 'schedule', 'dashboard', 'demo')),
	CONSTRAINT "ck_runs_status" CHECK ("runs"."status" in ('queued', 'running', 'succeeded', 'failed', 'canceled'))
);
--> statement-breakpoint
ALTER TABLE "customers_revenue_by_period" ADD CONSTRAINT "fk_customers_revenue_by_period_customer" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("customer_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "traffic" ADD CONSTRAINT "fk_traffic_customer" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("customer_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "traffic" ADD CONSTRAINT "fk_traffic_channel" FOREIGN KEY ("channel_id") REFERENCES "public"."channels"("channel_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "check_results" ADD CONSTRAINT "fk_check_results_run" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "materializations" ADD CONSTRAINT "fk_materializations_run" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "run_nodes" ADD CONSTRAINT "fk_run_nodes_run" FOREIGN KEY ("run_id") REFERENCES "public"."runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_customer_snapshots_customer" ON "customer_snapshots" USING btree ("customer_id","snapshot_month");--> statement-breakpoint
CREATE INDEX "idx_traffic_send_date" ON "traffic" USING btree ("send_date");--> statement-breakpoint
CREATE INDEX "idx_traffic_account_id" ON "traffic" USING btree ("account_id");--> statement-breakpoint
CREATE INDEX "idx_check_results_run" ON "check_results" USING btree ("run_id");--> statement-breakpoint
CREATE INDEX "idx_check_results_asset" ON "check_results" USING btree ("asset_key","partition_key","created_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "idx_materializations_asset" ON "materializations" USING btree ("asset_key","partition_key","materialized_at" DESC NULLS LAST);--> statement-breakpoint
CREATE INDEX "idx_materializations_run" ON "materializations" USING btree ("run_id");--> statement-breakpoint
CREATE INDEX "idx_rejected_rows_asset" ON "rejected_rows" USING btree ("asset","partition");--> statement-breakpoint
CREATE INDEX "idx_runs_created_at" ON "runs" USING btree ("created_at" DESC NULLS LAST);