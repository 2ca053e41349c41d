/**
 * Test helper: the CloudFormation resources serverless.yml declares, read from the files it includes. serverless.yml's
 * `resources` is a list whose entries are objects or `${file(<path>)}` fragments (serverless/<capability>.yml), merged
 * by osls; this reads them the same way, without resolving `${…}` variables inside (the values stay as written).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import * as z from 'zod';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

/** One resource as written (Type and Properties; other attributes kept). */
const ResourceSchema = z
  .object({ Type: z.string(), Properties: z.record(z.string(), z.unknown()).optional() })
  .loose();

/** A `resources` fragment: Resources and Outputs (and, in serverless.yml itself, Parameters and Conditions). */
const FragmentSchema = z.object({ Resources: z.record(z.string(), ResourceSchema).optional() }).loose();

const ServerlessSchema = z.object({ resources: z.array(z.union([z.string(), FragmentSchema])) }).loose();

function readYaml(file: string): unknown {
  return parse(readFileSync(path.join(REPO_ROOT, file), 'utf8'), { merge: true });
}

/**
 * Every resource of serverless.yml's `resources` list, by logical id.
 * @throws Error when an entry is a string other than `${file(<path>)}`, or a logical id is declared twice.
 */
export function serverlessResources(): Record<string, z.infer<typeof ResourceSchema>> {
  const resources: Record<string, z.infer<typeof ResourceSchema>> = {};
  for (const entry of ServerlessSchema.parse(readYaml('serverless.yml')).resources) {
    let fragment: z.infer<typeof FragmentSchema>;
    if (typeof entry === 'string') {
      const file = /^\$\{file\(([^)]+)\)\}$/.exec(entry)?.[1];
      if (file === undefined) throw new Error(`serverless.yml resources: unexpected entry ${entry}`);
      fragment = FragmentSchema.parse(readYaml(file));
    } else {
      fragment = entry;
    }
    for (const [logicalId, resource] of Object.entries(fragment.Resources ?? {})) {
      if (logicalId in resources) throw new Error(`resource ${logicalId} is declared twice`);
      resources[logicalId] = resource;
    }
  }
  return resources;
}
