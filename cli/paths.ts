import { fileURLToPath } from 'node:url';

/** The repository's git-ignored folder for local state (the demo's database and data). */
export const REPO_DATA_DIR = fileURLToPath(new URL('../.data', import.meta.url));
