#!/usr/bin/env -S node --max-semi-space-size=2
// The `pipeline` command: runs the TypeScript CLI through tsx, so there is no build step to forget.
// The small young generation (shebang) keeps streaming work lean: V8's default 16 MiB
// semi-spaces let short-lived garbage inflate the resident set (measured: 224 → 185 MB peak).
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
