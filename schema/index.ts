export * from './analytics.ts';
export * from './core.ts';
export * from './engine.ts';
export * from './market.ts';
export * from './quarantine.ts';
export * from './rollups.ts';
