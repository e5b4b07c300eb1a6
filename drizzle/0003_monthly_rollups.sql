CREATE TABLE "customer_month_revenue" (
	"month" date NOT NULL,
	"customer_id" integer NOT NULL,
	"revenue_eur" numeric(14, 2) NOT NULL,
	"traffic_rows" integer NOT NULL,
	CONSTRAINT "pk_customer_month_revenue" PRIMARY KEY("month","customer_id")
);
--> statement-breakpoint
CREATE TABLE "traffic_value_counts" (
	"month" date NOT NULL,
	"column_name" text NOT NULL,
	"value" numeric NOT NULL,
	"rows" bigint NOT NULL,
	CONSTRAINT "pk_traffic_value_counts" PRIMARY KEY("month","column_name","value")
);
