/** The reference data and the knobs of the generated world. */

export type Channel = { id: number; name: string; type: string; unitPriceEur: number };

/** The seed's eight channels and prices (EUR per interaction). */
export const CHANNELS: readonly Channel[] = [
  { id: 1, name: 'SMS', type: 'SMS', unitPriceEur: 0.05 },
  { id: 2, name: 'Email', type: 'Email', unitPriceEur: 0.01 },
  { id: 3, name: 'Push Notification', type: 'Push', unitPriceEur: 0.02 },
  { id: 4, name: 'Voice Call', type: 'Voice', unitPriceEur: 0.15 },
  { id: 5, name: 'WhatsApp', type: 'WhatsApp', unitPriceEur: 0.08 },
  { id: 6, name: 'Viber', type: 'Viber', unitPriceEur: 0.06 },
  { id: 7, name: 'Telegram', type: 'Telegram', unitPriceEur: 0.04 },
  { id: 8, name: 'Facebook Messenger', type: 'Messenger', unitPriceEur: 0.07 },
];

/** How popular each channel is when a customer picks the channels it uses (by CHANNELS index). */
export const CHANNEL_POPULARITY: readonly number[] = [10, 7, 5, 2, 6, 2, 2, 3];

export const SEGMENTS = ['Enterprise', 'Mid-Market', 'SMB', 'Startup'] as const;
export type Segment = (typeof SEGMENTS)[number];

export type SegmentProfile = {
  share: number; // of new customers
  dailyInteractions: number; // median interactions per active day, all channels together
  channels: [min: number, max: number];
  activeDayProbability: number;
};

export const SEGMENT_PROFILES: Readonly<Record<Segment, SegmentProfile>> = {
  Enterprise: { share: 0.08, dailyInteractions: 40_000, channels: [3, 6], activeDayProbability: 0.97 },
  'Mid-Market': { share: 0.22, dailyInteractions: 4_000, channels: [2, 5], activeDayProbability: 0.9 },
  SMB: { share: 0.4, dailyInteractions: 500, channels: [1, 4], activeDayProbability: 0.75 },
  Startup: { share: 0.3, dailyInteractions: 60, channels: [1, 3], activeDayProbability: 0.55 },
};

/** Where a segment change goes: customers grow or shrink by one step. */
export const SEGMENT_MOVES: Readonly<Record<Segment, readonly Segment[]>> = {
  Enterprise: ['Mid-Market'],
  'Mid-Market': ['Enterprise', 'SMB'],
  SMB: ['Mid-Market', 'Startup'],
  Startup: ['SMB'],
};

export const INDUSTRIES = [
  'Education',
  'Energy',
  'Finance',
  'Government',
  'Healthcare',
  'Manufacturing',
  'Media',
  'Retail',
  'Technology',
  'Telecommunications',
] as const;

/** Industry weights: most customers are in retail, finance and tech; few in government. */
export const INDUSTRY_WEIGHTS: readonly (readonly [string, number])[] = [
  ['Education', 5],
  ['Energy', 4],
  ['Finance', 14],
  ['Government', 3],
  ['Healthcare', 9],
  ['Manufacturing', 10],
  ['Media', 8],
  ['Retail', 18],
  ['Technology', 17],
  ['Telecommunications', 12],
];

/** Countries with weights and the faker locale their company names come from. */
export const COUNTRIES: readonly { name: string; weight: number; locale: string }[] = [
  { name: 'United States', weight: 18, locale: 'en_US' },
  { name: 'United Kingdom', weight: 11, locale: 'en_GB' },
  { name: 'Germany', weight: 11, locale: 'de' },
  { name: 'Brazil', weight: 9, locale: 'pt_BR' },
  { name: 'India', weight: 9, locale: 'en_IN' },
  { name: 'Croatia', weight: 7, locale: 'hr' },
  { name: 'France', weight: 7, locale: 'fr' },
  { name: 'Spain', weight: 6, locale: 'es' },
  { name: 'Italy', weight: 6, locale: 'it' },
  { name: 'Poland', weight: 5, locale: 'pl' },
  { name: 'Sweden', weight: 4, locale: 'sv' },
];

/** Month-of-year traffic multipliers (January first): a summer dip and a year-end peak. */
export const SEASONALITY: readonly number[] = [
  0.92, 0.9, 0.97, 0.98, 1.0, 0.95, 0.86, 0.84, 1.0, 1.04, 1.16, 1.3,
];

/** Traffic multiplier by day of week (Sunday first). */
export const WEEKDAY_FACTOR: readonly number[] = [0.55, 1.05, 1.08, 1.08, 1.06, 1.02, 0.62];

export const WORLD = {
  /** Share of customers that already exist before the first generated month. */
  existingShare: 0.6,
  /** Monthly probabilities per customer. */
  segmentChange: 0.01,
  churn: 0.004,
  rename: 0.002,
  /** Share of customers that now and then skip a whole month, and how often they do. */
  irregularShare: 0.3,
  irregularSkip: [0.04, 0.2] as const,
  /** Probability that a customer uses one of its channels on an active day. */
  channelDayProbability: 0.85,
  /** Revenue = interactions × unit price × a jitter in this range (contract discounts, surcharges). */
  priceJitter: [0.92, 1.08] as const,
  /** Traffic growth per month. */
  monthlyGrowth: 0.008,
};
