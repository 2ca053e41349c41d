/**
 * Every ASL file in statemachines/: valid (asl-validator), every `${Placeholder}` is one serverless.yml
 * substitutes, every Catch keeps its input (ResultPath), and every error name in Retry/Catch is a States./Lambda.
 * name or the name of one of our error classes (lib/errors.ts), so a rename can never silently break matching.
 */
import { readdirSync, readFileSync } from 'node:fs';
import validator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import * as errors from '../../lib/errors.ts';

const files = readdirSync('statemachines').filter((f) => f.endsWith('.asl.json'));
const ourErrorNames = new Set(Object.values(errors).map((cls) => cls.name));
const serverless = readFileSync('serverless.yml', 'utf8');

interface StateLike {
  readonly Retry?: readonly { readonly ErrorEquals: readonly string[] }[];
  readonly Catch?: readonly { readonly ErrorEquals: readonly string[]; readonly ResultPath?: string }[];
}

describe.each(files)('%s', (file) => {
  const text = readFileSync(`statemachines/${file}`, 'utf8');
  const placeholders = [...new Set([...text.matchAll(/\$\{([A-Za-z0-9]+)\}/g)].map((m) => m[1] ?? ''))];
  const definition: { States: Record<string, StateLike> } = JSON.parse(
    text.replace(
      /\$\{([A-Za-z0-9]+)\}/g,
      (_, name: string) => `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
    ),
  );

  it('is a valid Amazon States Language definition', () => {
    const result = validator(definition);
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
  });

  it('has only placeholders that serverless.yml substitutes', () => {
    expect(placeholders.length).toBeGreaterThan(0);
    for (const name of placeholders) expect(serverless).toContain(name);
  });

  it('keeps the input on every Catch and matches only known error names', () => {
    for (const [name, state] of Object.entries(definition.States)) {
      for (const catcher of state.Catch ?? []) {
        expect(catcher.ResultPath, `${name} Catch`).toMatch(/^\$\./);
      }
      for (const rule of [...(state.Retry ?? []), ...(state.Catch ?? [])]) {
        for (const errorName of rule.ErrorEquals) {
          const known =
            errorName.startsWith('States.') ||
            errorName.startsWith('Lambda.') ||
            ourErrorNames.has(errorName);
          expect(known, `${name}: ${errorName}`).toBe(true);
        }
      }
    }
  });
});
