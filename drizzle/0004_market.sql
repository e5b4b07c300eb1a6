CREATE TABLE "stock_comparison" (
	"symbol" varchar(12) PRIMARY KEY NOT NULL,
	"first_date" date NOT NULL,
	"last_date" date NOT NULL,
	"first_close" numeric(16, 4) NOT NULL,
	"last_close" numeric(16, 4) NOT NULL,
	"trading_days" integer NOT NULL,
	"total_return_pct" double precision NOT NULL,
	"annualized_volatility_pct" double precision,
	"max_drawdown_pct" double precision NOT NULL
);
--> statement-breakpoint
CREATE TABLE "stock_correlations" (
	"symbol_a" varchar(12) NOT NULL,
	"symbol_b" varchar(12) NOT NULL,
	"correlation" double precision,
	"common_days" integer NOT NULL,
	CONSTRAINT "pk_stock_correlations" PRIMARY KEY("symbol_a","symbol_b")
);
--> statement-breakpoint
CREATE TABLE "stock_prices" (
	"symbol" varchar(12) NOT NULL,
	"trade_date" date NOT NULL,
	"open" numeric(16, 4) NOT NULL,
	"high" numeric(16, 4) NOT NULL,
	"low" numeric(16, 4) NOT NULL,
	"close" numeric(16, 4) NOT NULL,
	"volume" bigint NOT NULL,
	CONSTRAINT "pk_stock_prices" PRIMARY KEY("symbol","trade_date")
);
