import type { AssetDefinition } from '../engine/asset.ts';
import {
  consistentlyActiveTopCustomers,
  customerMonthRevenue,
  customerRevenueCategories,
  customersRevenueByPeriod,
  descriptiveStatistics,
  industryExposure,
  industryExposureExtended,
  segmentChanges,
  segmentDistribution,
  topCustomers,
  trafficValueCounts,
} from './analytics/index.ts';
import type { PipelineConfig } from './config.ts';
import { channels, customerSnapshots, customers, traffic } from './ingest/index.ts';
import { stockComparison, stockPrices } from './market/index.ts';

/**
 * The one registry of the pipeline's assets, validated as a graph when the CLI, a worker or the
 * dashboard loads it.
 */
export const assets: AssetDefinition<PipelineConfig>[] = [
  channels,
  customerSnapshots,
  customers,
  traffic,
  customerMonthRevenue,
  trafficValueCounts,
  customersRevenueByPeriod,
  industryExposure,
  segmentDistribution,
  segmentChanges,
  topCustomers,
  consistentlyActiveTopCustomers,
  customerRevenueCategories,
  industryExposureExtended,
  descriptiveStatistics,
  stockPrices,
  stockComparison,
];
