#!/usr/bin/env node
// The package ships TypeScript sources (no build step), so the command loads them through tsx.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv.slice(2));
