/**
 * Every ASL file in statemachines/: valid (asl-validator); its `${Placeholder}`s are exactly its own state machine's
 * `DefinitionSubstitutions` in serverless.yml's resources (serverless/<capability>.yml; both directions); every Catch
 * keeps its input (ResultPath); every error name in Retry/Catch is a States./Lambda./Sandbox. name or one of our
 * error classes (lib/errors.ts); every Choice literal belongs to the enum its variable holds; the failover's Task
 * states are exactly the task registry, and every Task retries the timeouts a Lambda can end with (all our tasks are
 * idempotent).
 */
import { readdirSync, readFileSync } from 'node:fs';
import validator from 'asl-validator';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import {
  ATTACH_STEPS,
  DETACH_STEPS,
  FAILOVER_ACTIONS,
  SERVING_STEPS,
} from '../../functions/coordinator-failover/decide.ts';
import { FAILOVER_TASKS } from '../../functions/coordinator-failover/registry.ts';
import { FAILOVER_TASK_NAMES } from '../../functions/coordinator-failover/schemas.ts';
import * as errors from '../../lib/errors.ts';
import { serverlessResources } from '../helpers/serverless-config.ts';

const files = readdirSync('statemachines').filter((f) => f.endsWith('.asl.json'));
const ourErrorNames = new Set(Object.values(errors).map((cls) => cls.name));

/** The state machines serverless.yml declares: definition file → its DefinitionSubstitutions keys. */
const substitutionsOf = new Map(
  Object.values(serverlessResources())
    .filter((r) => r.Type === 'AWS::StepFunctions::StateMachine')
    .map((r) => {
      const definition = String(r.Properties?.Definition ?? '');
      const file = /statemachines\/([^)]+)\)/.exec(definition)?.[1] ?? definition;
      const substitutions = z
        .record(z.string(), z.unknown())
        .parse(r.Properties?.DefinitionSubstitutions ?? {});
      return [file, Object.keys(substitutions).sort()] as const;
    }),
);

/** The enum each Choice variable compares against. */
const CHOICE_ENUMS: Readonly<Record<string, readonly string[]>> = {
  '$.plan.action': FAILOVER_ACTIONS,
  '$.detach.step': DETACH_STEPS,
  '$.attach.step': ATTACH_STEPS,
  '$.serving.step': SERVING_STEPS,
};

const TIMEOUTS = ['Sandbox.Timedout', 'Lambda.Unknown', 'HandlerTimeoutError', 'States.Timeout'];

interface StateLike {
  readonly Type: string;
  readonly Resource?: string;
  readonly Parameters?: Record<string, unknown>;
  readonly Choices?: readonly { readonly Variable?: string; readonly StringEquals?: string }[];
  readonly Retry?: readonly { readonly ErrorEquals: readonly string[] }[];
  readonly Catch?: readonly { readonly ErrorEquals: readonly string[]; readonly ResultPath?: string }[];
}

describe.each(files)('%s', (file) => {
  const text = readFileSync(`statemachines/${file}`, 'utf8');
  const placeholders = [
    ...new Set([...text.matchAll(/\$\{([A-Za-z0-9]+)\}/g)].map((m) => m[1] ?? '')),
  ].sort();
  const definition: { States: Record<string, StateLike> } = JSON.parse(
    text.replace(
      /\$\{([A-Za-z0-9]+)\}/g,
      (_, name: string) => `arn:aws:lambda:us-east-1:123456789012:function:${name}`,
    ),
  );
  const states = Object.entries(definition.States);

  it('is a valid Amazon States Language definition', () => {
    const result = validator(definition);
    expect(result.errorsText()).toBe('');
    expect(result.isValid).toBe(true);
  });

  it("has exactly the placeholders its own state machine's DefinitionSubstitutions fill, both ways", () => {
    expect(placeholders.length).toBeGreaterThan(0);
    expect(substitutionsOf.get(file)).toEqual(placeholders);
  });

  it('keeps the input on every Catch and matches only known error names', () => {
    for (const [name, state] of states) {
      for (const catcher of state.Catch ?? []) {
        expect(catcher.ResultPath, `${name} Catch`).toMatch(/^\$\./);
      }
      for (const rule of [...(state.Retry ?? []), ...(state.Catch ?? [])]) {
        for (const errorName of rule.ErrorEquals) {
          const known =
            errorName.startsWith('States.') ||
            errorName.startsWith('Lambda.') ||
            errorName.startsWith('Sandbox.') ||
            ourErrorNames.has(errorName);
          expect(known, `${name}: ${errorName}`).toBe(true);
        }
      }
    }
  });

  it('retries every Task on the timeouts a Lambda invocation can end with', () => {
    for (const [name, state] of states.filter(([, s]) => s.Type === 'Task')) {
      const retried = (state.Retry ?? []).flatMap((r) => r.ErrorEquals);
      for (const timeout of TIMEOUTS) expect(retried, `${name} retries ${timeout}`).toContain(timeout);
    }
  });

  it('compares each Choice variable only with values of the enum it holds', () => {
    for (const [name, state] of states.filter(([, s]) => s.Type === 'Choice')) {
      for (const choice of state.Choices ?? []) {
        if (choice.StringEquals === undefined || choice.Variable === undefined) continue;
        const allowed = CHOICE_ENUMS[choice.Variable];
        expect(allowed, `${name}: no enum declared for ${choice.Variable}`).toBeDefined();
        expect(allowed, `${name}: ${choice.Variable} == ${choice.StringEquals}`).toContain(
          choice.StringEquals,
        );
      }
    }
  });
});

describe('coordinator-failover.asl.json and the task registry', () => {
  const definition: { States: Record<string, StateLike> } = JSON.parse(
    readFileSync('statemachines/coordinator-failover.asl.json', 'utf8'),
  );
  const tasks = Object.entries(definition.States).filter(([, s]) => s.Type === 'Task');

  it('sends every Task state to the one failover function as {task: <its own name>, state: $}, and the execution to the two that hold the lock', () => {
    const lockHolders = ['PlanFailover', 'NotifyFailure'];
    for (const [name, state] of tasks) {
      expect(state.Resource).toBe(['$', '{FailoverTaskFunctionArn}'].join(''));
      expect(state.Parameters).toEqual({
        task: name,
        'state.$': '$',
        ...(lockHolders.includes(name)
          ? { execution: { 'id.$': '$$.Execution.Id', 'startTime.$': '$$.Execution.StartTime' } }
          : {}),
      });
    }
  });

  it('has exactly the registry’s tasks, each once', () => {
    expect(tasks.map(([name]) => name).sort()).toEqual([...FAILOVER_TASK_NAMES].sort());
    expect(Object.keys(FAILOVER_TASKS).sort()).toEqual([...FAILOVER_TASK_NAMES].sort());
  });
});
