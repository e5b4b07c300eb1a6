import { fileURLToPath } from 'node:url';

/** drizzle-kit's migrations of every table in schema/ (the app's and the engine's). */
export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../drizzle', import.meta.url));
