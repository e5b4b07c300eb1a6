import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { startProcess } from '../support/cli.ts';

// package.json's allowScripts names every dependency that has an install script: allowed (true)
// or denied (false), so `npm ci` runs exactly the reviewed ones and warns about none
// (docs/operations.md, "Install scripts").
const require = createRequire(import.meta.url);

describe('install scripts', () => {
  it('every dependency with an install script is allowed or denied in allowScripts', async () => {
    const child = startProcess('npm', ['install-scripts', 'ls']);
    const { code } = await child.exited;
    expect(code, child.stderr()).toBe(0);
    expect(child.stdout().trim()).toBe('No packages with unreviewed install scripts.');
  });

  it("the denied ones are not needed: esbuild's and msgpackr's native code come from their platform packages", () => {
    // esbuild's JS API (tsx, vite) runs the binary of @esbuild/<platform>; its postinstall only checks
    // that binary, downloads one when that package is missing, and rewrites the bin/esbuild CLI shim.
    const esbuild = require('esbuild') as typeof import('esbuild');
    expect(esbuild.transformSync('const n: number = 1', { loader: 'ts' }).code).toBe('const n = 1;\n');
    // msgpackr-extract (BullMQ's msgpackr accelerator) loads a prebuilt addon from
    // @msgpackr-extract/msgpackr-extract-<platform>; its install script only compiles one with
    // node-gyp when none fits. Without either, msgpackr still works, in JavaScript.
    const msgpackr = require('msgpackr') as { isNativeAccelerationEnabled: boolean };
    expect(msgpackr.isNativeAccelerationEnabled).toBe(true);
    const addons = Object.keys(require.cache).filter((path) => path.endsWith('.node'));
    expect(addons.some((path) => path.includes('/@msgpackr-extract/msgpackr-extract-'))).toBe(true);
  });
});
