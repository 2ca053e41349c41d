#!/usr/bin/env node
// Entry point of the trino-sentinel operator CLI: runs cli/main.ts through tsx (TypeScript, no build step).
import { register } from 'tsx/esm/api';

register();
await import('../cli/main.ts');
