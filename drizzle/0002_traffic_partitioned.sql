-- Hand-written (drizzle-kit cannot declare partitioning): traffic becomes a table partitioned by
-- send_date, one partition per month (traffic_YYYY_MM), created by the ingest asset, which loads a
-- month into a fresh table, indexes it in bulk and attaches it; constraints, FKs and
-- uk_traffic_unique stay enforced on every partition. No default partition on purpose: attaching
-- a month would lock it exclusively and stall every reader of traffic that cannot prune it.
-- idx_traffic_send_date goes: uk_traffic_unique starts with send_date and serves the same scans.
ALTER TABLE "traffic" RENAME TO "traffic_unpartitioned";--> statement-breakpoint
ALTER TABLE "traffic_unpartitioned" DROP CONSTRAINT "traffic_pkey";--> statement-breakpoint
ALTER TABLE "traffic_unpartitioned" DROP CONSTRAINT "uk_traffic_unique";--> statement-breakpoint
ALTER TABLE "traffic_unpartitioned" DROP CONSTRAINT "fk_traffic_customer";--> statement-breakpoint
ALTER TABLE "traffic_unpartitioned" DROP CONSTRAINT "fk_traffic_channel";--> statement-breakpoint
DROP INDEX "idx_traffic_send_date";--> statement-breakpoint
DROP INDEX "idx_traffic_account_id";--> statement-breakpoint
ALTER TABLE "traffic_unpartitioned" ALTER COLUMN "traffic_id" DROP IDENTITY;--> statement-breakpoint
CREATE TABLE "traffic" (
	"traffic_id" bigserial NOT NULL,
	"send_date" date NOT NULL,
	"account_id" integer NOT NULL,
	"customer_id" integer NOT NULL,
	"channel_id" integer NOT NULL,
	"interactions_count" integer NOT NULL,
	"revenue_eur" numeric(12, 2) NOT NULL,
	CONSTRAINT "traffic_pkey" PRIMARY KEY("traffic_id","send_date"),
	CONSTRAINT "uk_traffic_unique" UNIQUE("send_date","account_id","customer_id","channel_id"),
	CONSTRAINT "ck_traffic_interactions_count_nonnegative" CHECK ("traffic"."interactions_count" >= 0),
	CONSTRAINT "ck_traffic_revenue_nonnegative" CHECK ("traffic"."revenue_eur" >= 0)
) PARTITION BY RANGE ("send_date");--> statement-breakpoint
ALTER TABLE "traffic" ADD CONSTRAINT "fk_traffic_customer" FOREIGN KEY ("customer_id") REFERENCES "public"."customers"("customer_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "traffic" ADD CONSTRAINT "fk_traffic_channel" FOREIGN KEY ("channel_id") REFERENCES "public"."channels"("channel_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_traffic_account_id" ON "traffic" USING btree ("account_id");--> statement-breakpoint
DO $$
DECLARE
  month date;
BEGIN
  FOR month IN SELECT DISTINCT date_trunc('month', send_date)::date FROM "traffic_unpartitioned" LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF "traffic" FOR VALUES FROM (%L) TO (%L)',
      'traffic_' || to_char(month, 'YYYY_MM'), month, (month + interval '1 month')::date);
  END LOOP;
END
$$;--> statement-breakpoint
INSERT INTO "traffic" SELECT * FROM "traffic_unpartitioned";--> statement-breakpoint
SELECT setval('traffic_traffic_id_seq', coalesce((SELECT max("traffic_id") FROM "traffic"), 0) + 1, false);--> statement-breakpoint
DROP TABLE "traffic_unpartitioned";
