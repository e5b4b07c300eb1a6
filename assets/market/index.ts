export { stockComparison } from './stock-comparison.ts';
export { stockPrices } from './stock-prices.ts';
