export {
  consistentlyActiveTopCustomers,
  industryExposure,
  segmentChanges,
  segmentDistribution,
  topCustomers,
} from './business.ts';
export { customerMonthRevenue, trafficValueCounts } from './rollups.ts';
export { customersRevenueByPeriod } from './serving.ts';
export { customerRevenueCategories, descriptiveStatistics, industryExposureExtended } from './statistics.ts';
