/**
 * Test infrastructure for the local cloud: reads systemd service units as systemd does (the parts the AMI's units
 * and the boot path use), so an instance runs its image's units as their files say. Pure parsing and planning; the
 * in-namespace runner (instance-runner.ts) executes them.
 *
 * Source: systemd.syntax(7) (sections, `Key=Value`, comments, line continuation, empty assignment resets a list),
 * systemd.unit(5) (drop-ins `<unit>.d/*.conf` in lexical order, Requires/Wants/After/Before, ConditionPathExists,
 * StartLimitIntervalSec/Burst, specifiers), systemd.service(5) (Type, RemainAfterExit, Exec* prefixes `-` `+` `!`
 * `:` `@`, Restart, RestartSec, TimeoutStartSec/TimeoutStopSec, SuccessExitStatus, command-line quoting and
 * `$VAR`/`${VAR}` expansion), systemd.exec(5) (User, Group, WorkingDirectory, Environment, EnvironmentFile with `-`,
 * StandardOutput/StandardError, LimitNOFILE/LimitNPROC), systemd.kill(5) (KillMode, KillSignal),
 * systemd.time(7) (time spans).
 *
 * @module
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Settings of one section in file order (a key may repeat; values keep their order). */
export type Section = ReadonlyMap<string, readonly string[]>;

/** A parsed unit file: section name → settings. */
export type UnitFileSections = ReadonlyMap<string, Section>;

/**
 * Parses unit-file text (systemd.syntax(7)): `[Section]` headers, `Key=Value` (whitespace around `=` ignored),
 * comments (`#`, `;`), a trailing backslash joins the next line (replaced by a space); an empty value (`Key=`) is
 * kept as `''` so {@link mergeSections} can reset lists.
 * @returns Sections with their settings in order.
 */
export function parseUnitText(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = (lines[i] ?? '').trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) {
      line = `${line.slice(0, -1)} `;
      i++;
      const next = (lines[i] ?? '').trim();
      if (next.startsWith('#') || next.startsWith(';')) continue;
      line += next;
    }
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header?.[1]) {
      current = sections.get(header[1]) ?? new Map<string, string[]>();
      sections.set(header[1], current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0 || !current) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    current.set(key, [...(current.get(key) ?? []), value]);
  }
  return sections;
}

/**
 * Applies drop-ins over a unit's settings: list settings append, an empty assignment clears what came before.
 * @returns The merged sections.
 */
export function mergeSections(
  base: Map<string, Map<string, string[]>>,
  dropIn: Map<string, Map<string, string[]>>,
): Map<string, Map<string, string[]>> {
  const merged = new Map<string, Map<string, string[]>>();
  for (const [name, settings] of base) merged.set(name, new Map([...settings].map(([k, v]) => [k, [...v]])));
  for (const [name, settings] of dropIn) {
    const target = merged.get(name) ?? new Map<string, string[]>();
    merged.set(name, target);
    for (const [key, values] of settings) target.set(key, [...(target.get(key) ?? []), ...values]);
  }
  return merged;
}

/** The effective values of a list setting: everything after the last empty assignment, empties dropped. */
export function listValues(section: Section | undefined, key: string): string[] {
  const values = section?.get(key) ?? [];
  const lastReset = values.lastIndexOf('');
  return values.slice(lastReset + 1);
}

/** The last assignment of a single-valued setting (undefined when unset or reset). */
export function lastValue(section: Section | undefined, key: string): string | undefined {
  const values = section?.get(key) ?? [];
  const last = values[values.length - 1];
  return last === undefined || last === '' ? undefined : last;
}

const TIME_UNITS: Record<string, number> = {
  us: 0.001,
  usec: 0.001,
  ms: 1,
  msec: 1,
  s: 1000,
  sec: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
};

/**
 * Parses a systemd time span (`90`, `5min 30s`, `100ms`, `infinity`) into milliseconds; a bare number is seconds.
 * @returns Milliseconds, or undefined for `infinity` (and for `0`, which systemd also reads as "no timeout" for
 *   TimeoutStartSec/TimeoutStopSec).
 * @throws Error on a malformed span.
 */
export function parseTimeSpanMs(text: string): number | undefined {
  const value = text.trim();
  if (value === 'infinity') return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000 || undefined;
  let total = 0;
  const re = /(\d+(?:\.\d+)?)\s*([a-z]+)/g;
  let consumed = '';
  for (let match = re.exec(value); match; match = re.exec(value)) {
    const unit = TIME_UNITS[match[2] ?? ''];
    if (unit === undefined) throw new Error(`bad time unit in '${text}'`);
    total += Number(match[1]) * unit;
    consumed += match[0];
  }
  if (consumed.replace(/\s/g, '') !== value.replace(/\s/g, '')) throw new Error(`bad time span '${text}'`);
  return total || undefined;
}

/**
 * Splits a systemd command line or an `Environment=` value into words: whitespace separates words, `"…"` and `'…'`
 * group (the quotes are removed), backslash escapes (`\n`, `\t`, `\\`, `\"`, `\'`, `\ `) are decoded.
 * @throws Error on an unterminated quote.
 */
export function splitWords(text: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  const escapes: Record<string, string> = {
    n: '\n',
    t: '\t',
    r: '\r',
    '\\': '\\',
    '"': '"',
    "'": "'",
    ' ': ' ',
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] ?? '';
    if (ch === '\\' && i + 1 < text.length) {
      const next = text[++i] ?? '';
      word += escapes[next] ?? next;
      inWord = true;
      continue;
    }
    if (quote) {
      if (ch === quote) quote = undefined;
      else word += ch;
      continue;
    }
    if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
      continue;
    }
    if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    word += ch;
    inWord = true;
  }
  if (quote) throw new Error(`unterminated quote in: ${text}`);
  if (inWord) words.push(word);
  return words;
}

/** One `Exec*=` line. */
export interface ExecCommand {
  /** The line as written (after the prefixes). */
  readonly command: string;
  /** `-`: a failure (non-zero exit, signal) is recorded but ignored. */
  readonly ignoreFailure: boolean;
  /** `+` or `!`: runs with full privileges (User=/Group= not applied). */
  readonly privileged: boolean;
  /** `:`: no environment variable substitution. */
  readonly noExpansion: boolean;
}

/** Parses the prefixes (`-`, `+`, `!`, `!!`, `:`, `@`) of an `Exec*=` value. */
export function parseExecLine(value: string): ExecCommand {
  let rest = value.trim();
  let ignoreFailure = false;
  let privileged = false;
  let noExpansion = false;
  for (;;) {
    const ch = rest[0];
    if (ch === '-') ignoreFailure = true;
    else if (ch === '+' || ch === '!') privileged = true;
    else if (ch === ':') noExpansion = true;
    else if (ch !== '@') break;
    rest = rest.slice(1);
  }
  return { command: rest, ignoreFailure, privileged, noExpansion };
}

/**
 * Expands a command line into argv as systemd does: specifiers (`%n` unit name, `%N` without suffix, `%p` prefix,
 * `%i` instance, `%H` host name, `%%`), then `${VAR}` (inside a word, exact value, one argument) and a word that is
 * exactly `$VAR` (value split at whitespace, zero or more arguments); `$$` is a literal `$`.
 * @param env - The unit's environment.
 * @returns argv (argv[0] is the executable as written).
 * @throws Error on an empty command or bad quoting.
 */
export function expandCommand(
  exec: ExecCommand,
  env: Readonly<Record<string, string>>,
  specifiers: { unit: string; hostname: string },
): string[] {
  const base = specifiers.unit.replace(/\.[^.]+$/, '');
  const [unitPrefix, instance = ''] = base.split('@');
  const spec: Record<string, string> = {
    n: specifiers.unit,
    N: base,
    p: unitPrefix ?? base,
    i: instance,
    H: specifiers.hostname,
    '%': '%',
  };
  const withSpecifiers = exec.command.replace(/%([nNpiH%])/g, (_, s: string) => spec[s] ?? '');
  const raw = splitWords(withSpecifiers);
  if (exec.noExpansion) {
    if (raw.length === 0) throw new Error('empty command');
    return raw;
  }
  const argv: string[] = [];
  for (const word of raw) {
    const whole = /^\$([A-Za-z_][A-Za-z0-9_]*)$/.exec(word);
    if (whole?.[1]) {
      argv.push(...(env[whole[1]] ?? '').split(/\s+/).filter((w) => w.length > 0));
      continue;
    }
    argv.push(
      word.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string | undefined) =>
        name === undefined ? '$' : (env[name] ?? ''),
      ),
    );
  }
  if (argv.length === 0) throw new Error(`empty command after expansion: ${exec.command}`);
  return argv;
}

/**
 * Parses an environment file as systemd reads `EnvironmentFile=`: `KEY=VALUE` lines, `#`/`;` comments, values in
 * `"…"` or `'…'` unquoted, backslash continuation; other lines are ignored.
 * @returns Assignments in file order.
 */
export function parseEnvironmentFile(text: string): [string, string][] {
  const out: [string, string][] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = (lines[i] ?? '').trim();
    while (line.endsWith('\\') && i + 1 < lines.length) line = line.slice(0, -1) + (lines[++i] ?? '').trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m?.[1]) continue;
    let value = m[2] ?? '';
    const q = value[0];
    if ((q === '"' || q === "'") && value.endsWith(q) && value.length >= 2) {
      value = value.slice(1, -1);
      if (q === '"') value = value.replace(/\\(["\\$`])/g, '$1');
    }
    out.push([m[1], value]);
  }
  return out;
}

/** Where a unit's stdout/stderr go (StandardOutput=/StandardError=). */
export type OutputTarget =
  | { readonly kind: 'journal' }
  | { readonly kind: 'inherit' }
  | { readonly kind: 'null' }
  | { readonly kind: 'file'; readonly path: string; readonly mode: 'append' | 'truncate' | 'file' };

function parseOutput(value: string | undefined, fallback: OutputTarget): OutputTarget {
  if (value === undefined) return fallback;
  const m = /^(append|truncate|file):(.+)$/.exec(value);
  if (m?.[2])
    return {
      kind: 'file',
      path: m[2],
      mode: m[1] === 'append' ? 'append' : m[1] === 'truncate' ? 'truncate' : 'file',
    };
  if (value === 'null') return { kind: 'null' };
  if (value === 'inherit') return { kind: 'inherit' };
  return { kind: 'journal' }; // journal, journal+console, kmsg, tty, socket: the instance journal file
}

/** `Restart=` values. */
export type RestartPolicy =
  | 'no'
  | 'always'
  | 'on-success'
  | 'on-failure'
  | 'on-abnormal'
  | 'on-abort'
  | 'on-watchdog';

/** A service unit as the runner executes it. */
export interface ServiceUnit {
  readonly name: string;
  readonly description: string;
  /** simple, exec, oneshot (forking, notify, dbus, idle are refused at start: see instance-runner.ts). */
  readonly type: string;
  readonly remainAfterExit: boolean;
  readonly user?: string;
  readonly group?: string;
  readonly workingDirectory?: string;
  /** `Environment=` assignments in order. */
  readonly environment: readonly (readonly [string, string])[];
  readonly environmentFiles: readonly { readonly path: string; readonly optional: boolean }[];
  readonly execStartPre: readonly ExecCommand[];
  readonly execStart: readonly ExecCommand[];
  readonly execStartPost: readonly ExecCommand[];
  readonly execStop: readonly ExecCommand[];
  readonly execStopPost: readonly ExecCommand[];
  /** undefined = no timeout (`infinity`, or the oneshot default). */
  readonly timeoutStartMs: number | undefined;
  readonly timeoutStopMs: number | undefined;
  readonly killSignal: NodeJS.Signals;
  readonly killMode: 'control-group' | 'mixed' | 'process' | 'none';
  readonly restart: RestartPolicy;
  readonly restartMs: number;
  readonly startLimitIntervalMs: number;
  readonly startLimitBurst: number;
  readonly successExitStatus: readonly number[];
  readonly standardOutput: OutputTarget;
  readonly standardError: OutputTarget;
  readonly conditionPathExists: readonly { readonly path: string; readonly negate: boolean }[];
  readonly requires: readonly string[];
  readonly wants: readonly string[];
  readonly after: readonly string[];
  readonly before: readonly string[];
  readonly limitNofile?: string;
  readonly limitNproc?: string;
  /** Files read, main first then drop-ins (for logs). */
  readonly sources: readonly string[];
}

const DEFAULT_TIMEOUT_MS = 90_000; // DefaultTimeoutStartSec / DefaultTimeoutStopSec

function words(section: Section | undefined, key: string): string[] {
  return listValues(section, key).flatMap((v) => v.split(/\s+/).filter((w) => w.length > 0));
}

function signalName(value: string | undefined): NodeJS.Signals {
  if (!value) return 'SIGTERM';
  const name = value.startsWith('SIG') ? value : `SIG${value}`;
  const known: readonly NodeJS.Signals[] = [
    'SIGTERM',
    'SIGINT',
    'SIGHUP',
    'SIGQUIT',
    'SIGKILL',
    'SIGUSR1',
    'SIGUSR2',
    'SIGCONT',
  ];
  const found = known.find((s) => s === name);
  if (!found) throw new Error(`unsupported KillSignal=${value}`);
  return found;
}

/**
 * Loads a service unit from a unit directory: `<dir>/<name>` then `<dir>/<name>.d/*.conf` in lexical order.
 * @param unitDir - e.g. `/etc/systemd/system` (as the instance sees it).
 * @returns The unit, or undefined when `<dir>/<name>` does not exist.
 * @throws Error on an unsupported value (e.g. a KillSignal this runner does not know, a bad time span).
 */
export function loadServiceUnit(unitDir: string, name: string): ServiceUnit | undefined {
  const main = path.join(unitDir, name);
  if (!existsSync(main)) return undefined;
  const sources = [main];
  let sections = parseUnitText(readFileSync(main, 'utf8'));
  const dropDir = `${main}.d`;
  if (existsSync(dropDir)) {
    for (const file of readdirSync(dropDir)
      .filter((f) => f.endsWith('.conf'))
      .sort()) {
      sources.push(path.join(dropDir, file));
      sections = mergeSections(sections, parseUnitText(readFileSync(path.join(dropDir, file), 'utf8')));
    }
  }
  return interpretService(name, sections, sources);
}

/**
 * Interprets parsed sections as a service unit (defaults as systemd's).
 * @throws Error on an unsupported value.
 */
export function interpretService(
  name: string,
  sections: Map<string, Map<string, string[]>>,
  sources: readonly string[] = [],
): ServiceUnit {
  const unit = sections.get('Unit');
  const service = sections.get('Service');
  const type =
    lastValue(service, 'Type') ?? (listValues(service, 'ExecStart').length === 0 ? 'oneshot' : 'simple');
  const timeout = lastValue(service, 'TimeoutSec');
  const startText = lastValue(service, 'TimeoutStartSec') ?? timeout;
  const stopText = lastValue(service, 'TimeoutStopSec') ?? timeout;
  const standardOutput = parseOutput(lastValue(service, 'StandardOutput'), { kind: 'journal' });
  const restart = lastValue(service, 'Restart') ?? 'no';
  const restarts: readonly RestartPolicy[] = [
    'no',
    'always',
    'on-success',
    'on-failure',
    'on-abnormal',
    'on-abort',
    'on-watchdog',
  ];
  const restartPolicy = restarts.find((r) => r === restart);
  if (!restartPolicy) throw new Error(`${name}: unsupported Restart=${restart}`);
  const killMode = lastValue(service, 'KillMode') ?? 'control-group';
  if (killMode !== 'control-group' && killMode !== 'mixed' && killMode !== 'process' && killMode !== 'none')
    throw new Error(`${name}: unsupported KillMode=${killMode}`);
  const user = lastValue(service, 'User');
  const group = lastValue(service, 'Group');
  const workingDirectory = lastValue(service, 'WorkingDirectory');
  const limitNofile = lastValue(service, 'LimitNOFILE');
  const limitNproc = lastValue(service, 'LimitNPROC');
  return {
    name,
    description: lastValue(unit, 'Description') ?? name,
    type,
    remainAfterExit: /^(yes|true|1|on)$/i.test(lastValue(service, 'RemainAfterExit') ?? 'no'),
    ...(user ? { user } : {}),
    ...(group ? { group } : {}),
    ...(workingDirectory ? { workingDirectory } : {}),
    environment: listValues(service, 'Environment').flatMap((value) =>
      splitWords(value).flatMap((assignment): [string, string][] => {
        const eq = assignment.indexOf('=');
        return eq > 0 ? [[assignment.slice(0, eq), assignment.slice(eq + 1)]] : [];
      }),
    ),
    environmentFiles: listValues(service, 'EnvironmentFile').map((value) =>
      value.startsWith('-') ? { path: value.slice(1), optional: true } : { path: value, optional: false },
    ),
    execStartPre: listValues(service, 'ExecStartPre').map(parseExecLine),
    execStart: listValues(service, 'ExecStart').map(parseExecLine),
    execStartPost: listValues(service, 'ExecStartPost').map(parseExecLine),
    execStop: listValues(service, 'ExecStop').map(parseExecLine),
    execStopPost: listValues(service, 'ExecStopPost').map(parseExecLine),
    timeoutStartMs:
      startText === undefined
        ? type === 'oneshot'
          ? undefined
          : DEFAULT_TIMEOUT_MS
        : parseTimeSpanMs(startText),
    timeoutStopMs: stopText === undefined ? DEFAULT_TIMEOUT_MS : parseTimeSpanMs(stopText),
    killSignal: signalName(lastValue(service, 'KillSignal')),
    killMode,
    restart: restartPolicy,
    restartMs: parseTimeSpanMs(lastValue(service, 'RestartSec') ?? '100ms') ?? 0,
    startLimitIntervalMs: parseTimeSpanMs(lastValue(unit, 'StartLimitIntervalSec') ?? '10s') ?? 0,
    startLimitBurst: Number(lastValue(unit, 'StartLimitBurst') ?? '5'),
    successExitStatus: words(service, 'SuccessExitStatus')
      .filter((w) => /^\d+$/.test(w))
      .map(Number),
    standardOutput,
    standardError: parseOutput(lastValue(service, 'StandardError'), { kind: 'inherit' }),
    conditionPathExists: listValues(unit, 'ConditionPathExists').map((value) =>
      value.startsWith('!') ? { path: value.slice(1), negate: true } : { path: value, negate: false },
    ),
    requires: words(unit, 'Requires'),
    wants: words(unit, 'Wants'),
    after: words(unit, 'After'),
    before: words(unit, 'Before'),
    ...(limitNofile ? { limitNofile } : {}),
    ...(limitNproc ? { limitNproc } : {}),
    sources,
  };
}

/**
 * The units a `.target.wants/` directory enables (as `systemctl enable` links them), e.g.
 * `/etc/systemd/system/multi-user.target.wants`.
 * @returns Unit names (sorted); empty when the directory is missing.
 */
export function enabledUnits(unitDir: string, target = 'multi-user.target'): string[] {
  const wants = path.join(unitDir, `${target}.wants`);
  if (!existsSync(wants)) return [];
  return readdirSync(wants)
    .filter((f) => f.endsWith('.service'))
    .sort();
}

/**
 * Plans a start transaction: the requested units plus what they Require/Want (when the unit exists), ordered by
 * After=/Before= between units of the transaction (ties by name). Units that do not exist are reported, not fatal.
 * @param load - Loads a unit by name (undefined when it has no file).
 * @returns Units in start order and the names that had no unit file.
 * @throws Error on an ordering cycle.
 */
export function planStart(
  requested: readonly string[],
  load: (name: string) => ServiceUnit | undefined,
): { order: ServiceUnit[]; missing: string[] } {
  const units = new Map<string, ServiceUnit>();
  const missing: string[] = [];
  const queue = [...requested];
  for (let guard = 0; queue.length > 0 && guard < 10_000; guard++) {
    const name = queue.shift() ?? '';
    if (units.has(name) || missing.includes(name)) continue;
    if (!name.endsWith('.service')) continue; // targets are synchronisation points only
    const unit = load(name);
    if (!unit) {
      missing.push(name);
      continue;
    }
    units.set(name, unit);
    queue.push(...unit.requires, ...unit.wants);
  }
  const edges = new Map<string, Set<string>>(); // name → names that must start before it
  for (const unit of units.values()) {
    const before = edges.get(unit.name) ?? new Set<string>();
    for (const dep of unit.after) if (units.has(dep)) before.add(dep);
    edges.set(unit.name, before);
    for (const later of unit.before) {
      if (!units.has(later)) continue;
      const set = edges.get(later) ?? new Set<string>();
      set.add(unit.name);
      edges.set(later, set);
    }
  }
  const order: ServiceUnit[] = [];
  const done = new Set<string>();
  while (order.length < units.size) {
    const ready = [...units.keys()]
      .filter((n) => !done.has(n) && [...(edges.get(n) ?? [])].every((d) => done.has(d)))
      .sort();
    const next = ready[0];
    if (next === undefined)
      throw new Error(`ordering cycle among ${[...units.keys()].filter((n) => !done.has(n)).join(', ')}`);
    done.add(next);
    const unit = units.get(next);
    if (unit) order.push(unit);
  }
  return { order, missing };
}
