const { generateLandingZone } = await import('./data-generation/landing-zone.ts');
await generateLandingZone({ out: 'data/big', customers: 11000, months: 24, end: 2026 * 12 + 9, seed: 42 });
console.log('maxRSS MB', (process.resourceUsage().maxRSS / 1e3).toFixed(0));
